"""The test kit: the helpers the test files share, written once.

* :mod:`kit.wait` — ``until`` (await a condition), ``eventually`` (await an async fetch until its
  result fits) and ``wait_until`` (the same from a thread);
* :mod:`kit.clock` — ``Clock``, a hand-driven clock to inject where code reads the time;
* :mod:`kit.text` — ``fields``/``name_of`` (an event text's fields and name) and ``ev`` (a typed
  event from a text);
* :mod:`kit.manual` — the vendor manual's §5/§6.1 traces, read from ``tests/core/manual_vectors.json``;
* :mod:`kit.scrambled` — scrambled event sequences for the call tracker, and ``Rules``, what no
  sequence may make it do (also checked by ``fuzz/fuzz_tracker.py``);
* :mod:`kit.rawclient`, :mod:`kit.httpraw` — raw clients built only on lgucore and asyncio;
* :mod:`kit.faultserver` — a server that misbehaves on purpose, for the client's tests;
* :mod:`kit.clients` — emulators, logged-in ``lguapi.Client``s and their event ``Recorder``;
* :mod:`kit.pbx` — the PBX tests' accounts, scripted rng, emulator and logged-in raw phones;
* :mod:`kit.compat` — the compat facade's emulator stack thread and program runner;
* :mod:`kit.gateway`, :mod:`kit.admin`, :mod:`kit.browser`, :mod:`kit.webhook_receiver` — the
  gateway's stack and SSE reader, the emulator's admin calls, headless Chromium (and the
  wallboard's tile helpers), a webhook receiver;
* :mod:`kit.cluster`, :mod:`kit.cluster_scenarios`, :mod:`kit.redisserver` — cluster members as
  processes and ownership checks, every fault scenario as one run (shared with
  ``bench/bench_cluster.py --scenarios``), a real redis-server;
* :mod:`kit.locks` — a lock for tests that build inside the checkout (two xdist workers).

Test files import what they use, e.g. ``from kit.wait import until``.
"""
