"""What each event means to the calls: one function per event kind, found by :data:`HANDLERS`.

Each handler takes the tracker's :class:`~lguapi.calls.book.Book`, the event and the list
of updates to append to. The call-progress events (RINGEVENT, CHANNELLIST, CHANNELOUT)
are here; conferences, CDRs, holds and connection states are in
:mod:`lguapi.calls.handlers_more`.
"""
from __future__ import annotations

from lguapi.channels import channel_peer, normalize_channel, normalize_unique_id, own_channel
from lguapi.events import ChannelListEvent, ChannelOutEvent, RingEvent

# the parts of the compiled twin import each other on one line each (relatively inside the
# package): setup.py joins them into one module, lguapi.calls._c.core, and drops these lines
from .index import out_keys
from .book import Book
from .state import LIVE_LEG, CallState, Leg, is_xfer, new_leg

__all__ = ["on_ring", "on_list", "on_out", "adopt_orphans"]


def on_ring(b: Book, ev: RingEvent, out: list) -> None:
    # every event field is read once (an event's attributes live in its __dict__)
    exten = ev.exten
    if not exten:
        if ev.agent:
            b.note_exten(ev.agent)
        exten = b.exten_of(ev)
    ch = normalize_channel(ev.channel)
    rch = normalize_channel(ev.remote_channel)
    uid = normalize_unique_id(ev.unique_id)
    is_dial = ev.is_dial
    number = ev.caller_id
    ts = ev.ts
    st: CallState | None = None
    created = looked = False
    if ch is not None and ch == rch and is_dial is False and number and uid not in b.idx:
        # an originated ring (CHANNEL = RECHANNEL) from an extension in a conference: an invitation
        st = b.conference_of(number)
    if st is None:
        atxfer = ev.atxfer
        if atxfer:
            link = normalize_channel(atxfer) if "/" in atxfer else normalize_unique_id(atxfer)
            st = b.start(ev, (ch, rch), (uid, link, ch, rch), (uid,), out, uid)
        else:
            st = b.start(ev, (ch, rch), (uid, ch, rch), (uid,), out, uid)
        if st is None:
            return
        created = b.created
        looked = True
    call = st.call
    st.last_seen = ts
    st.touched = b.now
    if not created:
        st.snap()
    own = own_channel(exten, ch, rch)
    if own is None:
        own = rch if is_dial else ch
        if own is None:
            own = ch or rch
    remote = rch if own == ch else ch
    if remote == own:
        remote = None
    known_own = False if created else (own is not None and st.has_channel(own))
    new_keys = b.index(st, (ch, rch), (uid,), looked)
    if own is not None:
        _ring_leg(b, st, exten, own, remote, ts, is_dial, known_own, created or ev.atxfer)
    inbound = ev.inbound_number
    if inbound and call.dialled_number is None:
        call.dialled_number = inbound
    if is_dial is False:
        st.rung = True
    if call.answer_at is None:
        _ring_parties(b, st, exten, remote, is_dial, number, inbound)
    b.settle(st, created, ev, out)
    if new_keys and b.orphans.maybe and b.orphans:
        adopt_orphans(b, st, new_keys, out)


def _ring_leg(b: Book, st: CallState, exten: str, own: str, remote: str | None, ts: float, is_dial: bool | None,
              known_own: bool, atxfer: object) -> None:
    leg = st.leg(exten, own) if st.legs else None
    if leg is None:
        leg = new_leg(exten, own, remote, "ringing", ts, b.now, is_dial)
        b.add_leg(st, leg)
        if st.is_dead(own):
            st.set_status(leg, "ended")
        else:
            if st.call.answer_at is not None and (not known_own or atxfer):
                st.set_transfer(leg, True)
            st.pending = None
    elif remote is not None and leg.status in LIVE_LEG:
        leg.add_remote(remote)


def _ring_parties(b: Book, st: CallState, exten: str, remote: str | None, is_dial: bool | None,
                  number: str | None, inbound: str | None) -> None:
    call = st.call
    if is_dial is False:
        orig = b.party(remote, number)
        if inbound and (orig is None or remote is None or remote.startswith("Local/")):
            orig = True
        st.evidence(1, orig, False)
        if call.caller is None:
            call.caller = number
        if call.callee is None:
            call.callee = exten or None
    elif is_dial is True:
        st.evidence(1, False, b.party(remote, number))
        if call.caller is None:
            call.caller = exten or None
        if call.callee is None:
            call.callee = number
    elif st.hint is None:
        st.hint = number


def on_list(b: Book, ev: ChannelListEvent, out: list) -> None:
    exten = ev.exten or b.exten_of(ev)
    c1 = normalize_channel(ev.channel1)
    c2 = normalize_channel(ev.channel2)
    u1 = normalize_unique_id(ev.unique_id1)
    u2 = normalize_unique_id(ev.unique_id2)
    st = b.start(ev, (c1, c2), (u1, u2, c1, c2), (u1, u2), out, u1 or u2)
    if st is None:
        return
    created = b.created
    call = st.call
    ts = ev.ts
    st.last_seen = ts
    st.touched = b.now
    if not created:
        st.snap()
    mine = st.legs_of(exten) if st.legs else []
    own = own_channel(exten, c1, c2)
    by_peer = own is not None
    if own is None:
        own = _own_by_layout(mine, c1, c2)
    remote = c2 if own == c1 else c1
    if remote == own:
        remote = None
    xfer_list = is_xfer(remote)
    new_keys = b.index(st, (c1, c2), (u1, u2), True)
    joined = False  # this CHANNELLIST connected a leg of the extension to a party (not a repeat)
    if own is not None:
        joined = _list_leg(b, st, exten, own, remote, mine, xfer_list, ts)
        st.add_handled(exten)
    inbound = ev.inbound_number
    if inbound and call.dialled_number is None:
        call.dialled_number = inbound
    if call.answer_at is None and not xfer_list:
        _answer(b, st, exten, own, c1, c2, by_peer, ev, ts, inbound)
    elif joined and call.answered_by is None and own == c2 and exten and not xfer_list:
        # an outbound call answered outside and transferred: the first extension that answered
        call.answered_by = exten
    b.settle(st, created, ev, out)
    if new_keys and b.orphans.maybe and b.orphans:
        adopt_orphans(b, st, new_keys, out)


def _own_by_layout(mine: list, c1: str | None, c2: str | None) -> str | None:
    """No peer names the extension: its own channel by the layout its rings had (``ISDIAL:0``: it
    was called, CHANNEL2; ``ISDIAL:1``: it dialled, CHANNEL1)."""
    dialled = False
    for m in mine:
        if m.dial is False:
            return c2
        if m.dial:
            dialled = True
    return c1 if dialled else (c2 or c1)


def _list_leg(b: Book, st: CallState, exten: str, own: str, remote: str | None, mine: list,
              xfer_list: bool, ts: float) -> bool:
    """The extension's leg on ``own`` after a CHANNELLIST; True when this connected it to a party:
    a new leg, its ring answered, or a party new to it (a transfer completed) -- not a repeat."""
    leg = st.leg(exten, own)
    if leg is None:
        leg = new_leg(exten, own, remote, "connected", ts, b.now, None)
        if xfer_list and any(m.status == "connected" for m in mine):
            leg.xfer = True  # a consultation leg next to the call being transferred
        b.add_leg(st, leg)
        if st.is_dead(own):
            st.set_status(leg, "ended")
        else:
            st.pending = None  # a leg joined within the grace: the call goes on
        _retire_rings(st, mine, None)  # this extension's ring was answered (by a new channel)
        return leg.status == "connected"
    if leg.status == "ringing":
        st.set_status(leg, "connected")
        leg.since = ts
        leg.remotes = (remote,) if remote else ()
        _retire_rings(st, mine, leg)
        return True
    if leg.status != "connected" or remote is None:
        return False
    joined = remote not in leg.remotes
    leg.add_remote(remote)
    if xfer_list:
        st.set_xfer(leg, True)
    elif leg.xfer:  # the consultation is over: back with (or joined to) the other party
        st.set_xfer(leg, False)
        leg.remotes = tuple([r for r in leg.remotes if not is_xfer(r)])
    return joined


def _retire_rings(st: CallState, mine: list, keep: Leg | None) -> None:
    for m in mine:
        if m is not keep and m.status == "ringing":
            st.set_status(m, "retired")
            st.mark_dead(m.own)


def _answer(b: Book, st: CallState, exten: str, own: str | None, c1: str | None, c2: str | None,
            by_peer: bool, ev: ChannelListEvent, ts: float, inbound: str | None) -> None:
    """The first CHANNELLIST of a call: its answer time, parties and direction evidence."""
    call = st.call
    call.answer_at = ts
    n1 = ev.caller1_id
    n2 = ev.caller2_id
    o = b.party(c1, n1)
    d = b.party(c2, n2)
    if by_peer:
        if own == c1:
            o = False
        else:
            d = False
    if inbound and o is None:
        o = True
    st.evidence(2, o, d)
    if own == c2 and exten:
        st.rung = True
    if call.caller is None:
        call.caller = exten if (own == c1 and by_peer) else n1
    if call.callee is None:
        call.callee = exten if (own == c2 and by_peer) else n2
    if st.dest:
        call.answered_by = None  # the far end answered an outbound call
    elif own == c2 and exten:
        call.answered_by = exten
    else:
        call.answered_by = n2 or (channel_peer(c2) if c2 else None)


def on_out(b: Book, ev: ChannelOutEvent, out: list) -> None:
    exten = ev.exten or b.exten_of(ev)
    keys = out_keys(ev)
    c, u, rc, su = keys
    st = _call_of_out(b, c, u, rc, su)
    if st is None:
        ids = [x for x in (u, su) if x is not None]
        if b.tomb.first(ids if ids else (c, rc), b.now) is not None:
            b.stats["stale"] += 1  # an ended call's CHANNELOUT again (its names may live on)
        else:  # a call not (yet) known: remember it, create nothing
            b.stats["orphans"] += 1
            dropped = b.orphans.keep(ev, keys, b.now)
            if dropped:
                b.stats["orphans_dropped"] += dropped
        return
    ts = ev.ts
    st.last_seen = ts
    st.touched = b.now
    st.snap()
    cause = ev.hangup_cause
    ended: list[Leg] = []
    leg = st.leg(exten, c) if c is not None else None
    if leg is not None:
        if leg.status in LIVE_LEG:
            ended.append(leg)
        elif leg.cause is None and cause is not None and _late_cause(b, st, leg, ev, out):
            return
    else:
        _out_legs(st, exten, c, ended)
    if c is not None:
        st.mark_dead(c)
    b.index(st, (c, rc), (u, su))
    for m in ended:
        st.set_status(m, "ended")
        st.mark_dead(m.own)
        m.cause = cause
    if ended:
        st.last_cause = cause
        if not st.has_live():
            b.schedule_end(st, ts, cause, ev, out)
            if st.c_state == "ended":
                return
    b.settle(st, False, ev, out)


def _call_of_out(b: Book, c: str | None, u: str | None, rc: str | None, su: str | None) -> CallState | None:
    """The active call a CHANNELOUT belongs to. Ids decide; only when they are unknown does a
    live channel name (its own, then the other party's) join it; a name that another ended
    call's ids claim is stale, never a reason to end a new call that reuses it."""
    idx = b.idx
    for k in (u, su):
        if k is not None:
            st = idx.get(k)
            if st is not None:
                return st
    if (u is not None or su is not None) and b.tomb.first((u, su), b.now) is not None:
        return None
    for k in (c, rc):
        if k is not None:
            st = idx.get(k)
            if st is not None and not st.is_dead(k):
                return st
    return idx.get(c) if c is not None else None  # a channel already out: a duplicate


def _late_cause(b: Book, st: CallState, leg: Leg, ev: ChannelOutEvent, out: list) -> bool:
    """The leg left already (a conference DEL); the server now gives the cause. True when
    that confirmed the call's end."""
    cause = ev.hangup_cause
    leg.cause = st.last_cause = cause
    p = st.pending
    if p is not None:
        st.pending = (p[0], p[1], cause)
        if b.grace() <= 0:  # it only waited for this cause
            b.finish(st, p[1], cause, None, ev, out)
            return True
    return False


def _out_legs(st: CallState, exten: str, c: str | None, ended: list) -> None:
    """Legs of ``exten`` a CHANNELOUT of a channel that is none of its legs' own ends."""
    mine = st.legs_of(exten)
    matched = False
    for m in mine:
        if c is not None and c in m.remotes:
            matched = True
            if m.status in LIVE_LEG:
                m.drop_remote(c)
                if m.status == "ringing" or not m.remotes:
                    ended.append(m)
                elif m.xfer and not any(is_xfer(r) for r in m.remotes):
                    st.set_xfer(m, False)  # the transfer target left: back to the call
    if not matched and (c is None or not st.has_channel(c) or own_channel(exten, c, None) == c):
        # the server says this extension's part is over (a channel we had not seen)
        ended.extend(m for m in mine if m.status in LIVE_LEG)


def adopt_orphans(b: Book, st: CallState, keys: list, out: list) -> None:
    """Replay kept CHANNELOUTs that arrived before the events that made their call known."""
    now = b.now
    orphans = b.orphans
    todo = orphans.for_call(keys, st.has_uid, now)
    for e in todo:
        orphans.take(e, now)
    for e in todo:
        on_out(b, e, out)
