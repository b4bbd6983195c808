"""CallTracker on generated traffic: many concurrent calls of every kind, their events
interleaved across connections (each connection keeps its own order, connections drift
apart by up to JITTER seconds), some events delivered twice, ids written with commas and
Local halves with either separator. Every call must come out exactly once with the
expected direction, parties, cause and classification."""
from __future__ import annotations

import itertools
import random

import pytest

from lgucore import tokenize
from lguapi.calls import CallTracker
from lguapi.events import parse_event

from kit.clock import Clock

TRACKED = [f"30{i:02d}" for i in range(1, 9)]
UNTRACKED = "3999"
JITTER = 0.4
GRACE = 2.0


class Pbx:
    """Builds the events each extension receives for one call, by docs/protocol.md §4.5."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self._uid = itertools.count(100)
        self._hex = itertools.count(0x1000)
        self.events: list[tuple[float, str, str]] = []  # (true time, receiving extension, text)
        self.expected: dict[str, dict] = {}

    # names, rendered the way different servers write them
    def uid(self) -> str:
        return f"1700000000.{next(self._uid)}"

    def chan(self, peer: str) -> str:
        return f"SIP/{peer}-{next(self._hex):08x}"

    def number(self) -> str:
        return "010" + "".join(self.rng.choice("0123456789") for _ in range(8))

    def u(self, uid: str | None) -> str:
        if uid is None:
            return ""
        return uid.replace(".", ",") if self.rng.random() < 0.3 else uid

    def half(self, local: str, n: int) -> str:
        return f"{local}{self.rng.choice(';,')}{n}"

    def emit(self, t: float, exten: str, text: str) -> None:
        if exten != UNTRACKED:
            self.events.append((t, exten, text))

    def ring(self, t, exten, is_dial, ch, rch, inexten, caller, uid, atxfer=None):
        x = f"|ATXFER:{atxfer}" if atxfer else ""
        self.emit(t, exten, f"RINGEVENT|ISDIAL:{is_dial}|CHANNEL:{ch}|RECHANNEL:{rch}|INEXTEN:{inexten}"
                            f"|AGENT:{exten}{x}|CALLERID:{caller}|UNIQUEID:{self.u(uid)}")

    def lst(self, t, exten, c1, c2, id1, id2, inexten, u1, u2):
        self.emit(t, exten, f"CHANNELLIST|CHANNEL1:{c1}|CHANNEL2:{c2}|CALLER1ID:{id1}|CALLER2ID:{id2}"
                            f"|INEXTEN:{inexten}|UNIQUEID1:{self.u(u1)}|UNIQUEID2:{self.u(u2)}")

    def out(self, t, exten, ch, rch, uid, src, cause):
        parts = [f"CHANNEL:{ch}"]
        if rch:
            parts.append(f"RECHANNEL:{rch}")
        parts.append(f"UNIQUEID:{self.u(uid)}")
        if src:
            parts.append(f"SRCUNIQUEID:{self.u(src)}")
        parts.append(f"HCAUSE:{cause}")
        self.emit(t, exten, "CHANNELOUT|" + "|".join(parts))

    def expect(self, n, **kw):
        base = dict(missed=False, abandoned=False, hangup_cause=16, end_reason="hangup", answered_by=None)
        base.update(kw)
        base["exten"] = set(base["exten"]) - {UNTRACKED}
        base["handled"] = set(base["handled"]) - {UNTRACKED}
        self.expected[n] = base

    # -- call kinds ------------------------------------------------------------------------

    def inbound_answer_start(self, t0, e):
        """Ring at ``e`` from an external caller, answered by a new channel; returns the state."""
        r = self.rng
        n, n1, n2 = self.uid(), self.uid(), self.uid()
        x, ring, conn = self.chan("gw2.eicn"), self.chan(e), self.chan(e)
        caller, did = self.number(), "0701234" + e
        self.ring(t0, e, 0, ring, x, did, caller, n)
        ta = t0 + r.uniform(0.5, 8)
        self.lst(ta, e, x, conn, caller, e, did, n, n2)
        return dict(n=n, n1=n1, n2=n2, x=x, ring=ring, conn=conn, caller=caller, did=did, ta=ta)

    def inbound(self, t0, e):
        r = self.rng
        outcome = r.choice(["answered", "answered", 16, 19, 21])
        if outcome == "answered":
            s = self.inbound_answer_start(t0, e)
            if r.random() < 0.3:
                self.emit(s["ta"] + 0.5, e, "CMDRESULT|CMD:HOLD|RES:OK")
                self.emit(s["ta"] + 1.0, e, "CMDRESULT|CMD:UNHOLD|RES:OK")
            self.out(s["ta"] + r.uniform(1.5, 20), e, s["conn"], s["x"], s["n2"], s["n"], 16)
            self.expect(s["n"], direction="inbound", remote_number=s["caller"], dialled_number=s["did"],
                        answered_by=e, exten={e}, handled={e})
            return
        n, n1 = self.uid(), self.uid()
        x, ring, caller, did = self.chan("gw2.eicn"), self.chan(e), self.number(), "0701234" + e
        self.ring(t0, e, 0, ring, x, did, caller, n)
        if r.random() < 0.5:  # the ring ends naming only its own channel and id
            self.out(t0 + r.uniform(0.5, 10), e, ring, None, n1, None, outcome)
        else:
            self.out(t0 + r.uniform(0.5, 10), e, ring, x, n1, n, outcome)
        self.expect(n, direction="inbound", remote_number=caller, dialled_number=did, exten={e}, handled=set(),
                    hangup_cause=outcome, end_reason="abandoned" if outcome == 16 else "missed",
                    abandoned=outcome == 16, missed=outcome != 16)

    def outbound(self, t0, e):
        r = self.rng
        n, n1 = self.uid(), self.uid()
        trunk, own, number = self.chan("gw2.eicn"), self.chan(e), self.number()
        self.ring(t0, e, 1, trunk, own, "null", number, n)
        outcome = r.choice(["answered", "answered", 16, 17, 19, 21])
        t1 = t0 + r.uniform(0.5, 8)
        if outcome == "answered":
            self.lst(t1, e, own, trunk, "0701234" + e, number, "null", n, n1)
            self.out(t1 + r.uniform(1, 20), e, own, own, n, n, 16)
            self.expect(n, direction="outbound", remote_number=number, dialled_number=None, exten={e}, handled={e})
        elif outcome == 16:  # we gave up
            self.out(t1, e, own, own, n, n, 16)
            self.expect(n, direction="outbound", remote_number=number, dialled_number=None, exten={e},
                        handled=set(), end_reason="cancelled")
        else:  # the far end's ringing channel ends with its own id
            self.out(t1, e, trunk, None, n1, None, outcome)
            self.expect(n, direction="outbound", remote_number=number, dialled_number=None, exten={e},
                        handled=set(), hangup_cause=outcome,
                        end_reason={17: "busy", 19: "no-answer", 21: "rejected"}[outcome])

    def internal(self, t0, a, b):
        r = self.rng
        n, n1, n2 = self.uid(), self.uid(), self.uid()
        ach, bring, bconn = self.chan(a), self.chan(b), self.chan(b)
        self.ring(t0, a, 1, bring, ach, "null", b, n)
        self.ring(t0, b, 0, bring, ach, "null", a, n)
        outcome = r.choice(["answered", "answered", 16, 19, 21])
        t1 = t0 + r.uniform(0.5, 8)
        b_tracked = b != UNTRACKED
        remote = a if b_tracked else b
        if outcome == "answered":
            for x in (a, b):
                self.lst(t1, x, ach, bconn, a, b, "null", n, n2)
            t2 = t1 + r.uniform(1, 20)
            self.out(t2, b, bconn, ach, n2, n, 16)
            self.out(t2, a, ach, ach, n, n, 16)
            self.expect(n, direction="internal", remote_number=remote, dialled_number=None, answered_by=b,
                        exten={a, b}, handled={a, b})
        else:
            self.out(t1, b, bring, None, n1, None, outcome)
            self.out(t1, a, ach, ach, n, n, outcome)
            if b_tracked:
                reason, ab, mi = ("abandoned", True, False) if outcome == 16 else ("missed", False, True)
            else:
                reason, ab, mi = {16: "cancelled", 19: "no-answer", 21: "rejected"}[outcome], False, False
            self.expect(n, direction="internal", remote_number=remote, dialled_number=None, exten={a, b},
                        handled=set(), hangup_cause=outcome, end_reason=reason, abandoned=ab, missed=mi)

    def pickup(self, t0, e, p):
        r = self.rng
        n, n1, n3 = self.uid(), self.uid(), self.uid()
        x, ring, pconn, caller, did = self.chan("gw2.eicn"), self.chan(e), self.chan(p), self.number(), "0701234" + e
        self.ring(t0, e, 0, ring, x, did, caller, n)
        t1 = t0 + r.uniform(0.5, 8)
        self.lst(t1, p, x, pconn, caller, p, did, n, n3)
        self.out(t1 + 0.01, e, ring, x, n1, n, 16)
        self.out(t1 + r.uniform(1, 20), p, pconn, x, n3, n, 16)
        self.expect(n, direction="inbound", remote_number=caller, dialled_number=did, answered_by=p,
                    exten={e, p}, handled={p})

    def blind_transfer(self, t0, e, t):
        r = self.rng
        s = self.inbound_answer_start(t0, e)
        tx = s["ta"] + r.uniform(1, 10)
        tring, tconn, n4, n5 = self.chan(t), self.chan(t), self.uid(), self.uid()
        self.out(tx, e, s["conn"], s["x"], s["n2"], s["n"], 16)
        self.ring(tx + 0.05, t, 0, tring, s["x"], "null", s["caller"], s["n"])
        if r.random() < 0.75:
            ty = tx + r.uniform(0.5, 6)
            self.lst(ty, t, s["x"], tconn, s["caller"], t, "null", s["n"], n5)
            self.out(ty + r.uniform(1, 20), t, tconn, s["x"], n5, s["n"], 16)
            handled, cause = {e, t}, 16
        else:  # the target never answers
            self.out(tx + r.uniform(1, 10), t, tring, None, n4, None, 19)
            handled, cause = {e}, 19
        self.expect(s["n"], direction="inbound", remote_number=s["caller"], dialled_number=s["did"], answered_by=e,
                    exten={e, t}, handled=handled, hangup_cause=cause)

    def attended_transfer(self, t0, e, t):
        r = self.rng
        s = self.inbound_answer_start(t0, e)
        tx = s["ta"] + r.uniform(1, 10)
        local = f"Local/{t}@xfercontext-{next(self._hex):04x}"
        nl1, nl2, nt = self.uid(), self.uid(), self.uid()
        tring, tconn = self.chan(t), self.chan(t)
        self.lst(tx, e, s["conn"], self.half(local, 2), e, t, "null", s["n2"], nl2)
        self.ring(tx + 0.05, t, 0, tring, self.half(local, 1), "null", e, nl1, atxfer=e)
        ty = tx + r.uniform(0.5, 6)
        self.lst(ty, t, self.half(local, 1), tconn, e, t, "null", nl1, nt)
        self.out(ty + r.uniform(0.5, 3), e, s["conn"], s["x"], s["n2"], s["n"], 16)
        self.out(ty + r.uniform(4, 20), t, tconn, self.half(local, 1), nt, nl1, 16)
        self.expect(s["n"], direction="inbound", remote_number=s["caller"], dialled_number=s["did"], answered_by=e,
                    exten={e, t}, handled={e, t})

    def conference(self, t0, e):
        r = self.rng
        s = self.inbound_answer_start(t0, e)
        tc = s["ta"] + r.uniform(0.5, 5)
        room = "R" + s["n"].replace(".", "")
        conf = "CONFERENCEEVENT|CMD:{}|CONFNAME:" + room + "|CHANNEL:{}|UNIQUEID:{}|COUNT:{}|MEMBER:{}"
        self.emit(tc, e, conf.format("CONFMEMBERADD", s["conn"], self.u(s["n2"]), 1, e))
        self.emit(tc, e, conf.format("CONFMEMBERADD", s["x"], self.u(s["n"]), 2, s["caller"]))
        te = tc + r.uniform(1, 15)
        self.emit(te, e, conf.format("CONFMEMBERDEL", s["x"], self.u(s["n"]), 1, s["caller"]))
        # the last member leaves: CONFMEMBERDEL first, then its CHANNELOUT (the emulator's order)
        self.emit(te + 0.01, e, conf.format("CONFMEMBERDEL", s["conn"], self.u(s["n2"]), 0, e))
        self.out(te + 0.02, e, s["conn"], s["x"], s["n2"], s["n"], 16)
        self.expect(s["n"], direction="inbound", remote_number=s["caller"], dialled_number=s["did"], answered_by=e,
                    exten={e}, handled={e})


def generate(seed: int, calls: int, window: float):
    rng = random.Random(seed)
    pbx = Pbx(rng)
    kinds = ["inbound", "inbound", "outbound", "internal", "pickup", "blind", "attended", "conference"]
    for _ in range(calls):
        t0 = rng.uniform(0, window)
        e, f = rng.sample(TRACKED, 2)
        kind = rng.choice(kinds)
        if kind == "inbound":
            pbx.inbound(t0, e)
        elif kind == "outbound":
            pbx.outbound(t0, e)
        elif kind == "internal":
            pbx.internal(t0, e, f if rng.random() < 0.8 else UNTRACKED)
        elif kind == "pickup":
            pbx.pickup(t0, e, f)
        elif kind == "blind":
            pbx.blind_transfer(t0, e, f)
        elif kind == "attended":
            pbx.attended_transfer(t0, e, f)
        else:
            pbx.conference(t0, e)
    return pbx, deliver(pbx.events, rng)


def deliver(events, rng: random.Random, dup_rate: float = 0.08):
    """Per-connection order kept; connections drift apart by up to JITTER; some events are
    delivered twice, some of those long after the call ended."""
    by_conn: dict[str, list] = {}
    for i, (t, exten, text) in enumerate(events):
        by_conn.setdefault(exten, []).append((t, i, text))
    out = []
    k = itertools.count()  # ties keep each connection's order
    for exten, evs in by_conn.items():
        evs.sort()
        last = 0.0
        for t, i, text in evs:
            d = max(last, t + rng.uniform(0, JITTER))
            last = d
            out.append((d, next(k), exten, text))
            if rng.random() < dup_rate:
                late = rng.uniform(3, 10) if rng.random() < 0.3 else rng.uniform(0, 1.0)
                out.append((d + late, next(k), exten, text))
    out.sort()
    return [(d, exten, text) for d, _, exten, text in out]


def run(stream, grace=GRACE):
    clock = Clock(0.0)
    tracker = CallTracker(clock=clock, end_grace=grace, keep_ended=100_000)
    kinds = {"new": 0, "ended": 0, "merged": 0}
    for d, exten, text in stream:
        clock.t = d
        for u in tracker.feed(parse_event(tokenize(text.encode()), exten=exten, ts=d)):
            if u.kind == "ended" and u.call.end_reason == "merged":
                kinds["merged"] += 1
            elif u.kind in kinds:
                kinds[u.kind] += 1
    clock.t += 60
    for u in tracker.expire():
        kinds[u.kind] += 1
    return tracker, kinds


def check(tracker, kinds, expected):
    assert not tracker.active, list(tracker.active.values())
    ended = list(tracker.ended)
    ids = [c.id for c in ended]
    assert len(ids) == len(set(ids)), "a call came out twice"
    assert set(ids) == set(expected), (set(ids) ^ set(expected))
    # every announced call ended once; merged ones were withdrawn
    assert kinds["new"] == kinds["ended"] + kinds["merged"]
    for call in ended:
        exp = expected[call.id]
        got = dict(direction=call.direction, remote_number=call.remote_number,
                   dialled_number=call.dialled_number, answered_by=call.answered_by,
                   hangup_cause=call.hangup_cause, end_reason=call.end_reason, missed=call.missed,
                   abandoned=call.abandoned, exten=set(call.exten), handled=set(call.handled_by))
        want = {k: exp[k] for k in got}
        assert got == want, (call.id, call.to_dict())
        assert call.state == "ended"
        assert call.talk_seconds >= 0 and call.ring_seconds >= 0
        assert (call.answer_at is not None) == (exp["answered_by"] is not None or exp["direction"] == "outbound"
                                                and exp["end_reason"] == "hangup")


@pytest.mark.parametrize("seed", range(40))
def test_generated_interleavings(seed):
    pbx, stream = generate(seed, calls=30, window=40.0)
    tracker, kinds = run(stream)
    check(tracker, kinds, pbx.expected)


def test_generated_busy_hour():
    """Many overlapping calls per extension: 400 calls over two minutes on 8 extensions."""
    pbx, stream = generate(12345, calls=400, window=120.0)
    tracker, kinds = run(stream)
    check(tracker, kinds, pbx.expected)
    assert tracker.stats["stale"] > 0  # the duplicates were seen and dropped


def test_generated_in_order_needs_no_grace():
    """Without drift between connections and without duplicates, grace 0 is exact too for
    calls on one extension each (inbound/outbound/conference)."""
    rng = random.Random(7)
    pbx = Pbx(rng)
    for i in range(60):
        e = TRACKED[i % len(TRACKED)]
        getattr(pbx, rng.choice(["inbound", "outbound", "conference"]))(rng.uniform(0, 50), e)
    stream = sorted(pbx.events)
    tracker, kinds = run(stream, grace=0.0)
    check(tracker, kinds, pbx.expected)
