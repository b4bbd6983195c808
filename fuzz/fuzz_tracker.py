"""Fuzz target: ``CallTracker.feed`` on event sequences built from fuzz bytes (names, ids and
channels from small pools so that legs meet, plus free text), with a fuzzed clock. Besides an
exception, a break of the rules of a call (``tests/kit/scrambled.py``: ``Rules``) is a finding."""
from __future__ import annotations

import os
import sys

import atheris

from _harness import instrumented, run

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests"))

with instrumented():
    from lgucore import tokenize
    from lguapi.calls import CallTracker
    from lguapi.events import parse_event
from kit.scrambled import FIELDS, Rules  # noqa: E402 (the tests' kit, on the path above)

EXTENS = ("3321", "3322", "3323")
CHANNELS = ("SIP/3321-00000001", "SIP/3322-00000002", "SIP/3323-00000003", "SIP/trunk-00000004",
            "Local/3321@ctx-00000005;1", "Local/3322@ctx-00000005;2", "SIP/3321-00000001<ZOMBIE>", "")
IDS = ("100.1", "100.2", "100.3", "101.1", "101.2", "null", "")
NUMBERS = ("3321", "3322", "01012345678", "07012343321", "")
KEYS = FIELDS
NAMES = tuple(KEYS)


def value(fdp: atheris.FuzzedDataProvider, key: str) -> str:
    pick = fdp.ConsumeIntInRange(0, 7)
    if pick == 0:
        return fdp.ConsumeUnicodeNoSurrogates(12).replace("|", "/")
    if "CHANNEL" in key or key == "MEMBER":
        return fdp.PickValueInList(list(CHANNELS))
    if "UNIQUEID" in key:
        return fdp.PickValueInList(list(IDS))
    if key in ("ISDIAL", "HCAUSE", "COUNT", "DURATION", "BILLSEC"):
        return str(fdp.ConsumeIntInRange(-1, 40))
    if key == "CMD":
        return fdp.PickValueInList(list(("JOIN", "LEAVE", "GETSTATUSPEERS", "HOLD", "")))
    return fdp.PickValueInList(list(NUMBERS))


def event_text(fdp: atheris.FuzzedDataProvider) -> str:
    name = fdp.PickValueInList(list(NAMES))
    keys = KEYS[name]
    chosen = [k for k in keys if fdp.ConsumeIntInRange(0, 4)]   # most keys, some left out
    return "|".join([name] + [f"{k}:{value(fdp, k)}" for k in chosen])


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    now = [1_000.0]
    # small memories too, so that the tombstones' and orphans' generations rotate (and, in the
    # compiled twin, their C tables grow, recycle and remove keys) within one input
    tracker = CallTracker(clock=lambda: now[0], ring_expiry=30.0, call_expiry=600.0,
                          end_grace=fdp.PickValueInList(list((None, 0.0, 2.0))),
                          max_tombstones=fdp.PickValueInList([2, 8, 200_000]),
                          tombstone_ttl=fdp.PickValueInList([20.0, 600.0]),
                          max_orphans=fdp.PickValueInList([2, 8, 10_000]))
    rules = Rules()
    for _ in range(fdp.ConsumeIntInRange(1, 40)):
        now[0] += fdp.ConsumeIntInRange(0, 90) / 3
        text = event_text(fdp)
        exten = fdp.PickValueInList(list(EXTENS))
        rules.see(tracker.feed(parse_event(tokenize(text.encode("utf-8")), exten=exten, ts=now[0])))
        if fdp.remaining_bytes() == 0:
            break
    now[0] += 7_200.0  # past every expiry: call_expiry 600 s, ring_expiry 30 s
    rules.see(tracker.expire(now[0]))
    for call in tracker.calls(include_ended=True):
        call.to_dict()
    broken = rules.finish(tracker)
    if broken:
        raise AssertionError("the rules of a call: " + "; ".join(broken[:3]))


if __name__ == "__main__":
    run(test_one_input)
