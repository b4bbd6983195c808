"""Scrambled event sequences for the call tracker, the same for a given seed in every process.

Each case is a few extensions, small pools of channels, unique ids and numbers (so that legs
meet, calls merge and transfers chain), tracker options that make its bounded memories rotate
within the case, and up to ``MAX_EVENTS`` events: the call-progress events most of the time,
now and then a conference, CDR or command result, a dropped connection, a reconnection with a
status report, an expiry run, and a clock that stands still, creeps or jumps.

:func:`run_cases` feeds every case to a fresh :class:`~lguapi.calls.CallTracker` and returns one
digest per case (every update, the stats, every call kept): two twins that agree on every
digest turned the same events into the same calls. :class:`Rules` watches a tracker's updates
for what no sequence of events may make, and :func:`broken_rules` runs a case under it.
"""
from __future__ import annotations

import hashlib
import json
import random
from typing import Any

from lgucore import tokenize
from lguapi.calls import CallTracker
from lguapi.events import Disconnected, Event, Reconciled, Reconnected, parse_event

MAX_EVENTS = 60

#: the fields each event name may carry (the fuzz target of the tracker draws from them too)
FIELDS = {
    "RINGEVENT": ("ISDIAL", "CHANNEL", "RECHANNEL", "INEXTEN", "AGENT", "ATXFER", "CALLERID", "UNIQUEID"),
    "CHANNELLIST": ("CHANNEL1", "CHANNEL2", "CALLER1ID", "CALLER2ID", "INEXTEN", "UNIQUEID1", "UNIQUEID2"),
    "CHANNELOUT": ("CHANNEL", "RECHANNEL", "UNIQUEID", "SRCUNIQUEID", "HCAUSE"),
    "CONFERENCEEVENT": ("CMD", "CONFNAME", "CHANNEL", "UNIQUEID", "COUNT", "MEMBER"),
    "CDREVENT": ("CHANNEL", "UNIQUEID", "SRC", "DST", "DISPOSITION", "DURATION", "BILLSEC"),
    "CMDRESULT": ("CMD", "RES"),
}
#: how often each event name is drawn (the call-progress events dominate, as on a real line)
_WEIGHTS = {"RINGEVENT": 30, "CHANNELLIST": 25, "CHANNELOUT": 30, "CONFERENCEEVENT": 5, "CDREVENT": 4,
            "CMDRESULT": 3}
_STEPS = (0.0, 0.0, 0.0, 0.05, 0.5, 1.0, 3.0, 30.0, 400.0)


class _Pools:
    """The names one case draws from."""

    def __init__(self, rng: random.Random) -> None:
        self.extens = [str(3300 + i) for i in rng.sample(range(40), rng.randint(1, 4))]
        trunk = [f"SIP/gw{k}.eicn-{rng.randrange(16 ** 8):08x}" for k in range(rng.randint(1, 3))]
        own = [f"SIP/{e}-{rng.randrange(16 ** 8):08x}" for e in self.extens for _ in range(rng.randint(1, 2))]
        local = [f"Local/{e}@ctx-{rng.randrange(16 ** 4):04x};{n}" for e in self.extens[:2] for n in (1, 2)]
        self.channels = own + trunk + local + [own[0] + "<ZOMBIE>", "Parked/" + own[-1], ""]
        base = 1_700_000_000 + rng.randrange(1000)
        self.ids = [f"{base}.{rng.randrange(50)}" for _ in range(rng.randint(2, 6))] + ["null", ""]
        self.numbers = self.extens + ["01012345678", "0212345678", "07012343300", "", "anonymous"]
        self.rooms = ["8001", "8002"]


def _value(rng: random.Random, p: _Pools, key: str) -> str:
    if rng.random() < 0.03:  # now and then something no field expects
        return rng.choice(("", "-1", "null", "가나다", "x" * 40, "SIP/", "/", "0x10", "1e3"))
    if "CHANNEL" in key or key == "MEMBER" or key == "ATXFER":
        return rng.choice(p.channels if key != "ATXFER" or rng.random() < 0.5 else p.ids)
    if "UNIQUEID" in key:
        return rng.choice(p.ids)
    if key == "ISDIAL":
        return rng.choice(("0", "1", "1", "0", "2"))
    if key in ("HCAUSE", "COUNT", "DURATION", "BILLSEC"):
        return str(rng.choice((0, 1, 2, 16, 17, 19, 21, 127, rng.randint(0, 600))))
    if key == "CMD":
        return rng.choice(("JOIN", "LEAVE", "GETSTATUSPEERS", "HOLD", "UNHOLD", "TRANSFER", ""))
    if key == "CONFNAME":
        return rng.choice(p.rooms)
    if key == "DISPOSITION":
        return rng.choice(("ANSWERED", "NO ANSWER", "BUSY", "FAILED"))
    if key == "RES":
        return rng.choice(("0", "1", "-1"))
    if key == "AGENT":
        return rng.choice(p.extens + [""])
    return rng.choice(p.numbers)


def _event(rng: random.Random, p: _Pools, now: float) -> Event:
    exten = rng.choice(p.extens)
    draw = rng.random()
    if draw < 0.02:
        return Disconnected(exten=exten, ts=now, will_reconnect=rng.random() < 0.7, reason=rng.choice((None, "BYE")))
    if draw < 0.04:
        return Reconnected(exten=exten, ts=now, gap_possible=rng.random() < 0.8, downtime=rng.choice((None, 2.5)))
    if draw < 0.06:
        peers = tuple((f"SIP/{e}", rng.choice(("Up", "Down", "Ring", "Ringing", None)), rng.choice(("Dial", None)))
                      for e in rng.sample(p.extens, rng.randint(0, len(p.extens))))
        return Reconciled(exten=exten, ts=now, statuses=peers)
    name = rng.choices(list(_WEIGHTS), weights=list(_WEIGHTS.values()))[0]
    keys = [k for k in FIELDS[name] if rng.random() < 0.9]
    text = "|".join([name] + [f"{k}:{_value(rng, p, k)}" for k in keys])
    return parse_event(tokenize(text.encode("utf-8")), exten=exten, ts=now)


def case_events(seed: int, case: int) -> tuple[dict[str, Any], list[Event]]:
    """The tracker options and events of one case."""
    rng = random.Random(seed * 1_000_003 + case)
    p = _Pools(rng)
    options = {"ring_expiry": rng.choice((5.0, 300.0)), "call_expiry": rng.choice((60.0, 21600.0)),
               "end_grace": rng.choice((None, 0.0, 2.0)), "keep_ended": rng.choice((1, 3, 1000)),
               "max_tombstones": rng.choice((2, 8, 200_000)), "tombstone_ttl": rng.choice((20.0, 600.0)),
               "max_orphans": rng.choice((2, 8, 10_000)), "orphan_ttl": rng.choice((10.0, 120.0))}
    now = 1_000.0
    events = []
    for _ in range(rng.randint(1, MAX_EVENTS)):
        now += rng.choice(_STEPS)
        events.append(_event(rng, p, now))
    return options, events


def _shown(updates: list) -> list:
    return [[u.kind, u.state, u.call.to_dict(), u.call.active_extens] for u in updates]


def run_case(seed: int, case: int) -> list:
    """Everything one case makes: the updates of each step, the stats, every call kept."""
    options, events = case_events(seed, case)
    rng = random.Random(-(seed * 1_000_003 + case))  # how the events are handed over, and when expiry runs
    now = [events[0].ts]
    tracker = CallTracker(clock=lambda: now[0], **options)
    out: list = []
    i = 0
    while i < len(events):
        n = rng.choice((1, 1, 2, 5))
        batch = events[i:i + n]
        i += n
        now[0] = batch[-1].ts
        out.append(_shown(tracker.feed(batch[0]) if n == 1 else tracker.feed_many(batch)))
        if rng.random() < 0.1:
            out.append(_shown(tracker.expire(now[0] + rng.choice((0.0, 10.0, 1000.0)))))
    out.append(_shown(tracker.flush()))
    out.append(tracker.stats)
    out.append(sorted((c.to_dict() for c in tracker.calls(include_ended=True)), key=lambda d: d["id"]))
    return out


def digest(result: list) -> str:
    return hashlib.sha256(json.dumps(result, sort_keys=True, default=repr).encode()).hexdigest()[:16]


def run_cases(seed: int, count: int) -> list[str]:
    return [digest(run_case(seed, k)) for k in range(count)]


#: a clock step past every expiry a case's options allow
PAST_EVERY_EXPIRY = 10.0 ** 6


class Rules:
    """What no sequence of events may make a tracker do (docs/calls.md), checked on its updates:

    - a call's first update is ``new``; after its ``ended`` it gets no other update and never
      changes again (a sink may write it at any later time);
    - a call is never answered before it rang nor after it ended; no duration is negative;
    - missed, abandoned and answered exclude each other;
    - once every expiry has run (:meth:`finish`), no call is active and every call has ended.

    ``broken`` lists what was broken, in words.
    """

    def __init__(self) -> None:
        self.broken: list[str] = []
        self._last: dict[str, str] = {}  # call id -> kind of its latest update
        self._ended: dict[int, tuple[Any, dict]] = {}  # id(call) -> (the call, its fields when it ended)

    def see(self, updates: list) -> None:
        broken = self.broken
        for u in updates:
            call = u.call
            if call.id not in self._last and u.kind != "new":
                broken.append(f"{call.id}: first update {u.kind}")
            if id(call) in self._ended:
                broken.append(f"{call.id}: {u.kind} after it ended")
            self._last[call.id] = u.kind
            if u.kind != "ended":
                continue
            self._ended[id(call)] = (call, call.to_dict())
            if call.end_at is None or call.end_at < call.ring_at:
                broken.append(f"{call.id}: ended at {call.end_at}, rang at {call.ring_at}")
            if call.answer_at is not None and not call.ring_at <= call.answer_at <= call.end_at:
                broken.append(f"{call.id}: answered at {call.answer_at}, outside {call.ring_at}..{call.end_at}")
            if (call.ring_seconds or 0) < 0 or (call.talk_seconds or 0) < 0:
                broken.append(f"{call.id}: a negative duration")
            if call.missed + call.abandoned + (call.answer_at is not None) > 1:
                broken.append(f"{call.id}: missed {call.missed}, abandoned {call.abandoned}, "
                              f"answered {call.answer_at is not None}")

    def finish(self, tracker: CallTracker) -> list[str]:
        """After the tracker's last expiry: the rules on what is left. Returns :attr:`broken`."""
        if tracker.active:
            self.broken.append(f"active after every expiry: {sorted(tracker.active)}")
        self.broken += [f"{cid}: never ended" for cid, kind in self._last.items() if kind != "ended"]
        for call, then in self._ended.values():
            now = call.to_dict()
            if now != then:
                self.broken.append(f"{call.id}: {sorted(k for k, v in then.items() if now[k] != v)} changed after it ended")
        return self.broken


def broken_rules(options: dict[str, Any], events: list[Event]) -> list[str]:
    """What a tracker made with ``options`` breaks of :class:`Rules` on ``events`` (fed one at a
    time, the clock at each event's time), flushed and expired (empty: nothing)."""
    now = [events[0].ts]
    tracker = CallTracker(clock=lambda: now[0], **options)
    rules = Rules()
    for ev in events:
        now[0] = ev.ts
        rules.see(tracker.feed(ev))
    rules.see(tracker.flush())
    now[0] += PAST_EVERY_EXPIRY
    rules.see(tracker.expire(now[0]))
    return rules.finish(tracker)
