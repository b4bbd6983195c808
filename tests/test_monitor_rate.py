"""The status line's events/s is the rate of the last few seconds, not the average since the start."""
from __future__ import annotations

import time
import types

from lguapi import monitor as monitor_module
from lguapi.accounts import Directory
from lguapi.monitor import Monitor
from lguapi.server.emulator import Emulator
from lguapi.tui import plain_line

from kit.wait import until


async def test_events_per_second_is_recent(monkeypatch):
    directory = Directory.generate("3001-3002")
    async with Emulator(directory, port=0) as emu:
        async with Monitor("127.0.0.1", emu.port, accounts=directory) as m:
            for _ in range(5):  # a burst of events
                call = emu.pbx.external_call("01012345678", directory.by_exten("3001").callerid)
                emu.pbx.external_hangup(call)
            await until(lambda: m.snapshot(calls=0)["events"]["total"] >= 10, "the burst of events")
            busy = m.snapshot(calls=0)["events"]
            assert busy["per_second"] > 0
            # ten quiet seconds later (the monitor's clock moved; nothing arrived meanwhile)
            skew = types.SimpleNamespace(**{k: getattr(time, k) for k in ("monotonic", "perf_counter")},
                                         time=lambda: time.time() + 10.0)
            monkeypatch.setattr(monitor_module, "time", skew)
            quiet = m.snapshot(calls=0)
            assert quiet["events"]["total"] == busy["total"]
            assert quiet["events"]["per_second"] == 0.0
            assert quiet["events"]["average_per_second"] > 0
            assert f"events {busy['total']} (0.0/s)" in plain_line(quiet)
