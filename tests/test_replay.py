"""A capture recorded by a live Monitor replays into the same records, call for call."""
from __future__ import annotations

import asyncio
import random

from lguapi.capture import CaptureWriter, read_capture, segments
from lguapi.monitor import Monitor
from lguapi.replay import replay
from lguapi.server.accounts import Directory
from lguapi.server.emulator import Emulator
from lguapi.server.traffic import TrafficConfig, TrafficGenerator
from lguapi.sinks import read_jsonl

from kit.wait import until

FAST = {"heartbeat": 1, "auto_reconnect": 0.2}


def _by_key(path):
    return {r["key"]: r for r in read_jsonl(path)}


async def test_a_capture_replays_into_the_live_runs_records(tmp_path):
    directory = Directory.generate("3001-3016")
    live, again, cap = tmp_path / "live.jsonl", tmp_path / "replayed.jsonl", tmp_path / "capture"
    async with Emulator(directory, port=0, rng=random.Random(7)) as emu:
        m = Monitor("127.0.0.1", emu.port, accounts=directory, sink=str(live), capture=str(cap),
                    client_options=FAST)
        await m.start()
        config = TrafficConfig(rate=12, max_calls=40, ring_mean=0.2, talk_mean=0.4, hold=0.2, hold_mean=0.1,
                               transfer=0.2, unanswered=0.3)
        gen = TrafficGenerator(emu.pbx, directory, config, rng=random.Random(4))
        gen.start()
        try:
            await asyncio.wait_for(gen.wait(), 60)
        finally:
            gen.close()
        await until(lambda: not emu.pbx.calls and not m.tracker.active, "every call to end, in the PBX and the tracker")
        await m.close()
    recorded = _by_key(live)
    assert sum(1 for r in recorded.values() if r["kind"] == "call") >= 20

    result = await replay([cap], sink=str(again))
    replayed = _by_key(again)
    assert result.truncated == 0 and result.connections == 16
    assert replayed.keys() == recorded.keys()
    for key, rec in recorded.items():
        assert replayed[key] == rec, key
    # nothing secret in the capture: the login passwords never reached it
    for r in read_capture(cap):
        if r.kind == "tx":
            assert b"secret-" not in (r.body or b"")


async def test_replay_twice_into_one_store_adds_nothing(tmp_path):
    directory = Directory.generate("3001-3004")
    cap, out = tmp_path / "capture", tmp_path / "out.jsonl"
    async with Emulator(directory, port=0) as emu:
        async with Monitor("127.0.0.1", emu.port, accounts=directory, capture=str(cap), client_options=FAST) as m:
            seen = m.events_seen
            emu.deliver("3001", "RECVPEERMSG|FROM:3002|MSG:hello")
            await until(lambda: m.events_seen > seen, "the message to reach the monitor")
    first = await replay([cap], sink=str(out))
    n = len(list(read_jsonl(out)))
    second = await replay([cap], sink=str(out))
    assert first.events == second.events > 0
    assert len(list(read_jsonl(out))) == n  # idempotent keys: the second pass wrote nothing new


async def test_monitor_capture_then_replay_from_the_command_line(tmp_path):
    from test_cli import finish, lguapi as run_lguapi

    directory = Directory.generate("3001-3003")
    cap, out = tmp_path / "cap", tmp_path / "out.jsonl"
    async with Emulator(directory, port=0) as emu:
        proc = await run_lguapi("monitor", "--port", str(emu.port), "--extensions", "3001-3003", "--no-tui",
                                "--duration", "2", "--capture", str(cap))
        rc, _, err = await finish(proc, 60)
    assert rc == 0, err
    proc = await run_lguapi("replay", str(cap), "--sink", f"jsonl:{out}", "--json")
    rc, stdout, err = await finish(proc, 60)
    assert rc == 0, err
    summary = __import__("json").loads(stdout)
    assert summary["connections"] == 3 and summary["events"] >= 6 and summary["truncated_bytes"] == 0
    assert len(list(read_jsonl(out))) == summary["events"]
    proc = await run_lguapi("replay", str(tmp_path / "missing"))
    rc, _, err = await finish(proc, 60)
    assert rc == 2 and "no capture" in err and "Traceback" not in err
    # batches of one event give the same replay; a batch of 0 is a usage error
    proc = await run_lguapi("replay", str(cap), "--batch", "1", "--json")
    rc, stdout, err = await finish(proc, 60)
    assert rc == 0, err
    again = __import__("json").loads(stdout)
    assert (again["events"], again["calls"], again["connections"]) == (summary["events"], summary["calls"], 3)
    proc = await run_lguapi("replay", str(cap), "--batch", "0")
    rc, _, err = await finish(proc, 60)
    assert rc == 2 and "--batch" in err and "Traceback" not in err


async def test_a_monitor_records_into_a_capture_writer_it_was_given_and_its_bounds_hold(tmp_path):
    """Monitor(capture=CaptureWriter(...)): the caller's segment size and count bound the disk the
    capture takes; the monitor flushes the writer at close but leaves it open (the caller's)."""
    directory = Directory.generate("3001-3004")
    cap = tmp_path / "cap"
    # (records reach a segment a buffer at a time: a small buffer, so segments end near their size)
    writer = CaptureWriter(cap, max_segment_bytes=1 << 16, max_segments=2, compress=False, buffer_bytes=4096)
    body = "x" * 3000
    async with Emulator(directory, port=0) as emu:
        async with Monitor("127.0.0.1", emu.port, accounts=directory, capture=writer, client_options=FAST) as m:
            seen = m.events_seen
            for i in range(120):  # about 360 KB of text: five or six segments of 64 KiB
                emu.deliver("3001", f"RECVPEERMSG|FROM:3002|MSG:{i}-{body}")
            await until(lambda: m.events_seen >= seen + 120, "every message to reach the monitor")
        assert m.capture is writer
    writer.received(1, 1, b"PING", ts=1.0)  # still the caller's to use
    writer.close()
    kept = [p.name for p in segments([cap])]
    assert len(kept) == 2 and kept[-1].endswith("-000006.lgcap"), kept  # the newest two of six
    messages = [r for r in read_capture(cap) if r.kind == "rx" and (r.body or b"").startswith(b"RECVPEERMSG")]
    assert messages and messages[-1].body.startswith(b"RECVPEERMSG|FROM:3002|MSG:119-")


async def test_the_monitor_cli_bounds_its_capture(tmp_path):
    from test_cli import finish, lguapi as run_lguapi

    directory = Directory.generate("3001-3002")
    cap = tmp_path / "cap"
    async with Emulator(directory, port=0) as emu:
        proc = await run_lguapi("monitor", "--port", str(emu.port), "--extensions", "3001-3002", "--no-tui",
                                "--duration", "6", "--capture", str(cap), "--capture-segment-mb", "1",
                                "--capture-max-segments", "1")
        await until(lambda: emu.online("3001"), "the monitor to log 3001 in", timeout=20)
        body = "y" * 8000
        for i in range(400):  # about 3.2 MB: three or four segments of 1 MiB
            emu.deliver("3001", f"RECVPEERMSG|FROM:3002|MSG:{i}-{body}")
        rc, _, err = await finish(proc, 60)
    assert rc == 0, err
    names = sorted(p.name for p in cap.iterdir())
    kept = segments([cap])
    assert len(kept) == 1 and not kept[0].name.endswith("-000001.lgcap.gz"), names  # the newest of several
    proc = await run_lguapi("monitor", "--extensions", "3001", "--capture", str(cap), "--capture-segment-mb", "0")
    rc, _, err = await finish(proc, 30)
    assert rc == 2 and "--capture-segment-mb" in err
