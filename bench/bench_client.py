"""Client benchmark: events/s through one lguapi.Client, from the emulator's socket to a callback.

Scenario: one logged-in client; the emulator writes pre-encoded frames of realistic call
events (the texts of manual §5, in the session's cipher) with ``Session.send_raw``; the
client decodes, deciphers, tokenizes, types and tracks each one and hands it to a sync
callback that counts. The clock runs from the first write to the last callback.

Each variant runs in its own process: the compiled core, and the pure twin
(``LGUCORE_NO_EXTENSIONS=1``); the pure twin is the baseline. Run alone with
``python bench/bench_client.py`` (or through ``bench/run.py --only client``).
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"

#: one inbound and one outbound call of manual §5 as extension 3001 sees them, plus CDR and DTMF
TEXTS = [
    "RINGEVENT|ISDIAL:0|CHANNEL:SIP/3001-09b2a738|RECHANNEL:SIP/gw2.eicn-09b559d8|INEXTEN:null|AGENT:3001"
    "|CALLERID:01923456789|UNIQUEID:1319339116.486",
    "CHANNELLIST|CHANNEL1:SIP/gw2.eicn-09b559d8|CHANNEL2:SIP/3001-09b25a90|CALLER1ID:01023450907|CALLER2ID:3001"
    "|INEXTEN:07012343001|UNIQUEID1:1319339116.486|UNIQUEID2:1319339122.488",
    "DTMFEVENT|CHANNEL:SIP/3001-09b25a90|UNIQUEID:1319339122.488|DIGIT:5",
    "CHANNELOUT|CHANNEL:SIP/3001-09b25a90|RECHANNEL:SIP/gw2.eicn-09b559d8|UNIQUEID:1319339122.488"
    "|SRCUNIQUEID:1319339116.486|HCAUSE:16",
    "CDREVENT|CHANNEL:SIP/gw2.eicn-09b559d8|UNIQUEID:1319339116.486|SRC:01023450907|DST:3001"
    "|DISPOSITION:ANSWERED|DURATION:36|BILLSEC:30",
    "RINGEVENT|ISDIAL:1|CHANNEL:SIP/gw2.eicn-09b25a90|RECHANNEL:SIP/3001-09b559d8|INEXTEN:null|AGENT:3001"
    "|CALLERID:01923456789|UNIQUEID:1319339029.484",
    "CHANNELLIST|CHANNEL1:SIP/3001-09b559d8|CHANNEL2:SIP/gw2.eicn-09b25a90|CALLER1ID:07012343001"
    "|CALLER2ID:01923456789|INEXTEN:null|UNIQUEID1:1319339029.484|UNIQUEID2:1319339029.485",
    "CHANNELOUT|CHANNEL:SIP/3001-09b559d8|RECHANNEL:SIP/3001-09b559d8|UNIQUEID:1319339029.484"
    "|SRCUNIQUEID:1319339029.484|HCAUSE:16",
]


async def _measure(cipher: str, n_events: int) -> float:
    import asyncio
    import time

    from lguapi.client import Client
    from lguapi.server import Directory, Emulator, generated_id, generated_password

    emu = Emulator(Directory.generate("3001-3002"), port=0, max_send_buffer=1 << 30, idle_timeout=600)
    await emu.start()
    client = Client("127.0.0.1", emu.port, cipher=cipher, heartbeat=0, auto_reconnect=0)
    try:
        await client.login(generated_id("3001"), generated_password("3001"))
        session = emu.sessions()[0]
        codec = session.codec
        one_round = b"".join(codec.encode(t.encode("cp949")) for t in TEXTS)
        rounds = max(1, n_events // len(TEXTS))
        total = rounds * len(TEXTS)
        chunk = one_round * max(1, 4096 // len(TEXTS))  # pre-encoded once; SEED cost is the server's, not timed
        per_chunk = max(1, 4096 // len(TEXTS)) * len(TEXTS)
        done = asyncio.get_running_loop().create_future()
        count = 0

        def on_event(ev) -> None:
            nonlocal count
            count += 1
            if count == total:
                done.set_result(time.perf_counter())

        client.on("RINGEVENT", on_event)
        client.on("CHANNELLIST", on_event)
        client.on("CHANNELOUT", on_event)
        client.on("DTMFEVENT", on_event)
        client.on("CDREVENT", on_event)
        t0 = time.perf_counter()
        sent = 0
        while sent + per_chunk <= total:
            session.send_raw(chunk)
            sent += per_chunk
            await asyncio.sleep(0)
        rest = (total - sent) // len(TEXTS)
        if rest:
            session.send_raw(one_round * rest)
        t1 = await asyncio.wait_for(done, 600)
        return total / (t1 - t0)
    finally:
        await client.close()
        await emu.close()


def _child(cipher: str, n_events: int) -> None:
    import asyncio

    import lgucore

    rate = asyncio.run(_measure(cipher, n_events))
    print(json.dumps({"rate": rate, "compiled": lgucore.HAS_EXTENSIONS}))


def _run_child(cipher: str, n_events: int, pure: bool) -> tuple[float, bool]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    if pure:
        env["LGUCORE_NO_EXTENSIONS"] = "1"
    else:
        env.pop("LGUCORE_NO_EXTENSIONS", None)
    out = subprocess.run([sys.executable, __file__, "--child", cipher, str(n_events)], env=env, check=True,
                         capture_output=True, text=True, timeout=900)
    d = json.loads(out.stdout.strip().splitlines()[-1])
    return d["rate"], d["compiled"]


def bench_client_events(report, cipher: str, n_events: int, repeat: int) -> None:
    """events/s from the emulator's socket through one client to a sync callback."""
    scenario = f"client events/s ({cipher} cipher)"
    pure = statistics.median(_run_child(cipher, n_events, True)[0] for _ in range(repeat))
    report.add(scenario, "pure twin", pure, "events/s", baseline=True)
    rate, compiled = _run_child(cipher, n_events, False)
    if compiled:
        rates = [rate] + [_run_child(cipher, n_events, False)[0] for _ in range(repeat - 1)]
        report.add(scenario, "compiled core", statistics.median(rates), "events/s")


def run(report) -> None:
    n = 4_000 if report.quick else 100_000
    repeat = 1 if report.quick else 3
    for cipher in ("seed", "none"):
        bench_client_events(report, cipher, n, repeat)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]))
    else:
        sys.path.insert(0, str(HERE))
        from _harness import Report

        r = Report(quick="--quick" in sys.argv)
        run(r)
        print(r.render_markdown())
