"""Handlers of the rarer events: conferences, CDRs, hold results and connection states.

Same shape as :mod:`lguapi.calls.handlers`: ``handler(book, event, updates)``.
"""
from __future__ import annotations

import logging

from lguapi.calls.model import CallUpdate
from lguapi.channels import normalize_channel, normalize_unique_id, own_channel
from lguapi.events import (
    CdrEvent, CommandResultEvent, ConferenceEvent, Disconnected, LoggedIn, Reconciled, Reconnected,
)

# the parts of the compiled twin import each other on one line each (relatively inside the
# package): setup.py joins them into one module, lguapi.calls._c.core, and drops these lines
from .index import out_keys
from .book import ROOM, Book, looks_external
from .state import LIVE_LEG, CallState, Leg, new_leg

__all__ = ["on_conf", "on_cdr", "on_cmdresult", "on_reconciled", "on_disconnected", "on_session"]

log = logging.getLogger("lguapi.calls")

#: GETSTATUSPEERS states that mean "the extension has a call up" (compared lower-case)
UP_STATES = frozenset({"up", "ring", "ringing", "busy", "inuse", "in use", "onhold", "hold",
                       "dialing", "talking", "link"})


def on_conf(b: Book, ev: ConferenceEvent, out: list) -> None:
    exten = ev.exten or b.exten_of(ev)
    c = normalize_channel(ev.channel)
    u = normalize_unique_id(ev.unique_id)
    room = ev.conf_name
    add = (ev.action or "").upper() != "CONFMEMBERDEL"
    link = ROOM + room if room else None
    if add:
        st = b.start(ev, (c,), (u, link, c), (u,), out, u)
        created = b.created
    else:
        st, created = b.find((u, link, c), ev, out), False
    if st is None:
        return
    call = st.call
    b.begin(st, created, ev.ts)
    b.index(st, (c,), (u,), True)  # find() / start() looked c up
    if room and call.room is None and b.idx.get(ROOM + room) in (None, st):
        call.room = room
        b.idx[ROOM + room] = st
    member = ev.member
    mine = bool(exten) and c is not None and (member == exten or own_channel(exten, c, None) == c)
    if add:
        _conf_add(b, st, exten, c, member, mine, created, ev.ts)
    else:
        _conf_del(b, st, c, ev, out)
    b.settle(st, created, ev, out)


def _conf_add(b: Book, st: CallState, exten: str, c: str | None, member: str | None, mine: bool,
              created: bool, ts: float) -> None:
    call = st.call
    if c is not None and not st.is_dead(c):
        st.conf_add(c, member)
    if mine:
        leg = st.leg(exten, c)  # type: ignore[arg-type]
        if leg is None:
            leg = new_leg(exten, c, None, "connected", ts, b.now, None)  # type: ignore[arg-type]
            b.add_leg(st, leg)
            if st.is_dead(c):  # type: ignore[arg-type]
                st.set_status(leg, "ended")
            else:
                st.pending = None  # a leg joined within the grace: the call goes on
        elif leg.status == "ringing":
            st.set_status(leg, "connected")
        st.add_handled(exten)
    if created:
        # a call that starts in a conference (CALLWITHCONF): its first member called the others
        st.conf_start = True
        call.caller = member or exten or None
        st.evidence(1, False, None)
    if member and member != call.caller:
        if st.hint is None:
            st.hint = member
        if st.conf_start and looks_external(member):
            st.evidence(1, False, True)
    if call.answer_at is None and (not st.conf_start or (member and member != call.caller)):
        # a conference call is answered when a second member joins
        call.answer_at = ts
        if st.conf_start:
            call.callee = member
            call.answered_by = None if member is None or looks_external(member) else member


def _conf_del(b: Book, st: CallState, c: str | None, ev: ConferenceEvent, out: list) -> None:
    if c is not None:
        if st.conf is not None:
            st.conf.pop(c, None)
        st.mark_dead(c)
    everyone = ev.count == 0
    if everyone:
        gone = [leg for leg in st.legs if leg.status in LIVE_LEG and (leg.own == c or st.in_conf_chans(leg.own))]
    else:  # one member left: the legs on its channel (by the index in a call of many legs)
        gone = [leg for leg in st.legs_on(c) if leg.status in LIVE_LEG] if c is not None else []
    if everyone and st.conf is not None:
        st.conf.clear()
    for leg in gone:
        st.set_status(leg, "ended")
        st.mark_dead(leg.own)
    if gone and not st.has_live():
        # the leaving channel's CHANNELOUT (with the cause) normally follows at once
        b.schedule_end(st, ev.ts, st.last_cause, ev, out, min_grace=1.0)


def on_cdr(b: Book, ev: CdrEvent, out: list) -> None:
    """A CDREVENT closes the books on a call. A call the tracker never saw start -- only
    its CHANNELOUT arrived, as for an internal call to a busy phone -- is recorded from
    the two; CDREVENTs of calls already known change nothing."""
    u = normalize_unique_id(ev.unique_id)
    if u is None or u in b.idx:
        return
    now = b.now
    if b.tomb.get(u, now) is not None:
        return
    c = normalize_channel(ev.channel)
    orphans = b.orphans
    outs = orphans.get(u, now) or (orphans.get(c, now) if c is not None else None)
    if not outs:
        return
    outs = list(outs)
    exten = ev.exten or b.exten_of(ev)
    end = outs[0].ts
    for o in outs:
        if o.ts > end:
            end = o.ts
    # the CDR's times, whatever it says: talk time at least 0, the whole call at least as long
    # (a call is never answered before it rang, nor after it ended)
    answered = (ev.disposition or "").upper() == "ANSWERED"
    billsec = max(0, ev.billsec or 0) if answered else 0
    span = max(0, ev.duration or 0, billsec)
    st = b.new_call(u, max(0.0, end - span))
    call = st.call
    for o in outs:
        keys = out_keys(o)
        b.index(st, (keys[0], keys[2]), (keys[1], keys[3]))
        orphans.take(o, now)
    if exten:
        b.leg_exten(st, exten)
    call.caller, call.callee = ev.src, ev.dst
    orig = False if ev.src and ev.src == exten else b.party(None, ev.src)
    dest = False if ev.dst and ev.dst == exten else b.party(None, ev.dst)
    st.evidence(1, orig, dest)
    st.rung = bool(exten) and ev.dst == exten
    if answered:
        call.answer_at = max(call.ring_at, end - billsec)
        call.answered_by = None if dest else ev.dst
    st.last_cause = outs[-1].hangup_cause
    st.last_seen = end
    st.refresh()
    out.append(CallUpdate(call, "new", ev, call.state))
    b.finish(st, end, st.last_cause, None, ev, out)


def on_cmdresult(b: Book, ev: CommandResultEvent, out: list) -> None:
    """A HOLD / UNHOLD that succeeded: the extension's latest connected leg is (un)held."""
    cmd = (ev.cmd or "").upper()
    if cmd not in ("HOLD", "UNHOLD") or not (ev.res or "").upper().startswith("OK"):
        return
    exten = ev.exten or b.exten_of(ev)
    calls = b.ext.get(exten)
    if not calls:
        return
    hold = cmd == "HOLD"
    best: tuple[Leg, CallState] | None = None
    for st in calls.values():
        for leg in st.legs_of(exten):
            if leg.status == "connected" and leg.held != hold:
                if best is None or leg.since > best[0].since:
                    best = (leg, st)
    if best is None:
        return
    leg, st = best
    b.begin(st, False, ev.ts)
    st.set_held(leg, hold)
    b.settle(st, False, ev, out)


def on_reconciled(b: Book, ev: Reconciled, out: list) -> None:
    exten = ev.exten
    if not exten:
        return
    up = False
    for item in ev.statuses:
        try:
            peer, state = item[0], item[1]
        except (TypeError, IndexError, KeyError):
            log.warning("malformed status in a Reconciled event: %r", item)
            continue
        if peer == exten and str(state).strip().lower() in UP_STATES:
            up = True
    if up:
        return  # the server says a call is up: keep what we know
    for st in list(b.ext.get(exten, {}).values()):
        if st.has_live_of(exten):
            b.stats["reconciled"] += 1
            b.close_legs(st, exten, "lost-after-reconnect", ev, ev.ts, out)


def on_disconnected(b: Book, ev: Disconnected, out: list) -> None:
    if ev.will_reconnect or not ev.exten:
        return
    for st in list(b.ext.get(ev.exten, {}).values()):
        if st.has_live_of(ev.exten):
            b.close_legs(st, ev.exten, "disconnected", ev, ev.ts, out)


def on_session(b: Book, ev: LoggedIn | Reconnected, out: list) -> None:
    """A client logged in (again): its extension is tracked."""
    b.note_exten(ev.exten)
