"""Call tracker benchmark: µs of CPU per event of ``CallTracker.feed`` over realistic traffic.

Scenario: the emulator's own PBX model (the firehose's private PBX, a manual clock) drives
inbound, outbound and internal calls among pairs of extensions; each pair's events are
parsed once into typed events (compiled core), then the pairs are interleaved one event at
a time, so hundreds of calls are up at once, as in a Monitor with many connections. The
timed body feeds every event to a fresh tracker whose clock advances 1 ms per event (ends
wait for the 2 s grace of a multi-extension tracker, expiry sweeps run). Parsing is outside
the timed body. Run alone with ``python bench/bench_calls.py`` (or ``bench/run.py --only calls``).

Second scenario, **one call on many extensions**: a queue rings N agents at once (one unique
id, each agent's own channel, each ring received by that agent's connection), one answers,
the other rings go out, the agent hangs up; 10 such calls one after the other. µs per event
at N = 10, 300 and 2,000: a call of many legs should cost per event what a call of few does.
"""
from __future__ import annotations

import gc
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent / "src") not in sys.path:
    sys.path.append(str(HERE.parent / "src"))  # after PYTHONPATH: a checkout without an install


class _Clock:
    """The tracker's clock: advanced by the feeding loop, not by the wall."""

    __slots__ = ("t",)

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def build_traffic(pairs: int, calls_per_pair: int, seed: int = 7) -> list:
    """Typed events of ``calls_per_pair`` calls on each of ``pairs`` extension pairs, interleaved."""
    from lgucore import tokenize
    from lguapi.events import parse_event
    from lguapi.server import Directory
    from lguapi.server.firehose import _Clock as PbxClock, generate_calls
    from lguapi.server.pbx import Pbx

    directory = Directory.generate(f"3001-{3000 + 2 * pairs}")
    rng = random.Random(seed)
    streams: list[list] = []
    clock = PbxClock()
    clock.now = 1_700_000_000.0  # the same unique ids on every run
    events: list = []
    pbx = Pbx(directory, deliver=lambda e, t: events.append((e, t)), ring_timeout=0, clock=clock,
              rng=rng, online=lambda e: True, history_limit=1)
    users = directory.users()
    for i in range(0, 2 * pairs, 2):
        events.clear()
        generate_calls(pbx, clock, users[i:i + 2], calls_per_pair, rng, events)
        streams.append([(e, t.encode("cp949", "replace")) for e, t in events])
    pbx.close()
    out = []
    ts = 1_700_000_000.0
    longest = max(len(s) for s in streams)
    for k in range(longest):
        for s in streams:
            if k < len(s):
                exten, raw = s[k]
                ts += 0.001
                out.append(parse_event(tokenize(raw), exten=exten, ts=ts))
    return out


def feed_all(events: list) -> int:
    """Feed ``events`` to a fresh tracker; returns how many calls ended."""
    from lguapi.calls import CallTracker

    clock = _Clock(events[0].ts if events else 0.0)
    tracker = CallTracker(clock=clock)
    feed = tracker.feed
    for ev in events:
        clock.t = ev.ts
        feed(ev)
    clock.t += 3600.0
    tracker.expire()
    return tracker.stats["calls"]


def measure(events: list, repeat: int = 5) -> float:
    """Median µs of CPU per event over ``repeat`` runs.

    The prepared events are moved out of the collector's sight first (``gc.freeze``): in a
    live Monitor each event is gone once handled, so full collections scanning 100,000 kept
    events would measure the benchmark's setup, not the tracker. The collector stays on."""
    feed_all(events[:100])  # imports and first-call costs outside the timed runs
    gc.collect()
    gc.freeze()
    runs = []
    for _ in range(repeat):
        t0 = time.process_time()
        feed_all(events)
        runs.append(time.process_time() - t0)
    runs.sort()
    return runs[len(runs) // 2] / len(events) * 1e6


def ring_all_traffic(agents: int, calls: int = 10) -> list:
    """Typed events of ``calls`` calls, each rung on ``agents`` agents at once (see the module)."""
    from lgucore import tokenize
    from lguapi.events import parse_event

    names = [str(40000 + i) for i in range(agents)]
    trunk = "SIP/gw2.eicn-0000abcd"
    out: list = []
    t = 1000.0
    for c in range(calls):
        uid = f"1700000000.{c}"
        answering = names[(c * 7919) % agents]
        lines = [(a, f"RINGEVENT|ISDIAL:0|CHANNEL:SIP/{a}-{c:04d}{a}|RECHANNEL:{trunk}|INEXTEN:07012340000"
                     f"|AGENT:{a}|CALLERID:01012345678|UNIQUEID:{uid}") for a in names]
        lines.append((answering, f"CHANNELLIST|CHANNEL1:{trunk}|CHANNEL2:SIP/{answering}-{c:04d}{answering}"
                                 f"|CALLER1ID:01012345678|CALLER2ID:{answering}|INEXTEN:07012340000"
                                 f"|UNIQUEID1:{uid}|UNIQUEID2:1700000001.{c}"))
        lines += [(a, f"CHANNELOUT|CHANNEL:SIP/{a}-{c:04d}{a}|RECHANNEL:{trunk}|UNIQUEID:1700000002.{c}{a}"
                      f"|SRCUNIQUEID:{uid}|HCAUSE:26") for a in names if a != answering]
        lines.append((answering, f"CHANNELOUT|CHANNEL:SIP/{answering}-{c:04d}{answering}|RECHANNEL:{trunk}"
                                 f"|UNIQUEID:1700000001.{c}|SRCUNIQUEID:{uid}|HCAUSE:16"))
        for exten, text in lines:
            t += 0.001
            out.append(parse_event(tokenize(text.encode()), exten=exten, ts=t, raw=text))
        t += 10.0  # past the grace: the next call starts after this one ended
    return out


def run(report) -> None:
    pairs, per_pair = (20, 5) if report.quick else (500, 40)
    events = build_traffic(pairs, per_pair)
    us = measure(events, repeat=2 if report.quick else 5)
    report.add(f"tracker feed ({len(events):,} events, {pairs} pairs)", "compiled core", us,
               "µs/event", baseline=True, higher_is_better=False)
    for agents in ((10, 300) if report.quick else (10, 300, 2000)):
        us = measure(ring_all_traffic(agents, 3 if report.quick else 10), repeat=2 if report.quick else 5)
        report.add("tracker: one call rung on many agents at once", f"{agents:,} agents", us, "µs/event",
                   baseline=agents == 10, higher_is_better=False)


if __name__ == "__main__":
    evs = build_traffic(500, 40)
    print(f"{len(evs)} events: {measure(evs):.2f} µs/event")
