"""The call tracker's books: which key belongs to which active call, and a call's life cycle
(created, joined, merged, ended, remembered), shared by the per-event handlers.

Every lookup is a dict access by a normalised channel or unique id; nothing scans all
calls except the periodic sweep. The rules are those of ``docs/calls.md`` ("How legs are
joined"); the handlers in :mod:`lguapi.calls.handlers` decide what each event means.
"""
from __future__ import annotations

import logging
from collections import deque
from typing import Callable

from lguapi.calls.model import Call, CallUpdate
from lguapi._log import WarningLimiter
from lguapi._recent import hashed_dict
from lguapi.channels import channel_peer
from lguapi.events import Event

# the parts of the compiled twin import each other on one line each (relatively inside the
# package): setup.py joins them into one module, lguapi.calls._c.core, and drops these lines
from .index import Memory, Orphans
from .timers import Deadlines
from .state import DEAD, GONE, LIVE, LIVE_LEG, UID, CallState, Leg, open_state

__all__ = ["Book", "DEFAULT_END_GRACE", "ROOM", "looks_external"]

log = logging.getLogger("lguapi.calls")

#: seconds a call whose last leg went out waits for a leg on another connection (auto mode)
DEFAULT_END_GRACE = 2.0
ROOM = "\x00room:"  #: index prefix of conference room names
#: legs of the kept call times legs of the absorbed one up to which a merge searches the kept
#: legs for each absorbed leg (beyond, it sets them aside first)
_SCAN_LEGS = 256
_ID = "\x00id:"  #: tombstone prefix of ended calls' ids
_new_update = tuple.__new__  # CallUpdate(...) without the keyword machinery (a hot path)
_UNANSWERED = {17: "busy", 19: "no-answer", 21: "rejected", 16: "cancelled"}


def looks_external(number: str) -> bool:
    """A PSTN number (``010...``, ``02...``, ``070...``, ``+82...``) rather than an extension."""
    return number.startswith("+") or (len(number) >= 8 and number[0] == "0")


class Book:
    """Active calls, their key index, the memories of ended calls and orphans, the deadlines."""

    __slots__ = ("active", "states", "ended", "idx", "ext", "tomb", "orphans", "deadlines", "tracked",
                 "stats", "now", "end_grace", "clients", "ring_expiry", "call_expiry", "created", "_seq",
                 "max_active", "max_keys", "max_call_keys", "overgrown", "_warnings", "_shed")

    def __init__(self, *, clock: Callable[[], float], end_grace: float | None, ring_expiry: float,
                 call_expiry: float, keep_ended: int, tombstone_ttl: float, max_tombstones: int,
                 max_orphans: int, orphan_ttl: float, max_active: int, max_keys: int, max_call_keys: int):
        self.now = clock()  # read once: after this, whoever feeds the book passes the time in
        self.end_grace = end_grace
        self.ring_expiry = ring_expiry
        self.call_expiry = call_expiry
        self.active: dict[str, Call] = hashed_dict()
        self.states: dict[str, CallState] = hashed_dict()  # call id -> its state (active calls)
        self.ended: deque[Call] = deque(maxlen=keep_ended)
        self.idx: dict[str, CallState] = hashed_dict()  # normalised channel / unique id / room -> active call
        self.ext: dict[str, dict[str, CallState]] = {}  # extension -> active calls it has legs in
        self.tomb = Memory(max_tombstones, tombstone_ttl)  # keys of ended calls -> call id
        self.orphans = Orphans(max_orphans, orphan_ttl)  # key -> [ChannelOutEvent] before their call
        self.deadlines = Deadlines(min(30.0, max(1.0, min(ring_expiry, call_expiry) / 10)), self.now)
        self.tracked: set[str] = set()
        self.clients = 0  # attached clients (for the automatic grace)
        self.created = False  # the last start() created its call
        self._seq = 0
        self.max_active = max_active  # calls in progress at most (evict() ends the oldest past it)
        self.max_keys = max_keys  # keys (channels, ids, rooms) of the calls in progress at most (the same)
        self.max_call_keys = max_call_keys  # keys of one call at most (end_overgrown() ends it past that)
        self.overgrown: list[CallState] | None = None  # calls past max_call_keys, ended after their event
        self._warnings = WarningLimiter(burst=3, interval=60.0)
        self._shed = 0  # calls evict() ended
        #: counters for diagnostics: calls, stale (late duplicates dropped), orphans, merges, ...
        self.stats: dict[str, int] = {"calls": 0, "stale": 0, "orphans": 0, "merged": 0,
                                      "expired": 0, "reconciled": 0, "refused": 0, "evicted": 0,
                                      "ended_early": 0, "orphans_dropped": 0}

    # -- small questions ---------------------------------------------------------------

    def grace(self) -> float:
        if self.end_grace is not None:
            return self.end_grace
        return DEFAULT_END_GRACE if len(self.tracked) > 1 or self.clients > 1 else 0.0

    def note_exten(self, exten: str | None) -> None:
        if exten and exten not in self.tracked:
            self.tracked.add(exten)

    def exten_of(self, ev: Event) -> str:
        """The receiving extension; for events fed without one, the only extension known."""
        if ev.exten:
            return ev.exten
        if len(self.tracked) == 1:
            for e in self.tracked:
                return e
        return ""

    def party(self, chan: str | None, number: str | None) -> bool | None:
        """Is the party on ``chan`` / with ``number`` outside the PBX? None when unknown."""
        local = chan is None or chan.startswith("Local/")
        if not local:
            peer = channel_peer(chan)  # type: ignore[arg-type]
            if "." in peer:
                return True  # trunk: SIP/gw2.eicn-..., SIP/112.223.25.10-...
            if peer in self.tracked:
                return False
        if number:
            if number in self.tracked:
                return False
            return looks_external(number)
        return False if not local else None

    def conference_of(self, exten: str) -> CallState | None:
        """The active call in which ``exten`` is in a conference room, if any."""
        for st in self.ext.get(exten, {}).values():
            if st.conf and st.has_live_of(exten):
                return st
        return None

    # -- finding and creating calls ------------------------------------------------------

    def find(self, keys: tuple, ev: Event, out: list) -> CallState | None:
        """The active call these keys belong to (ids and rooms first, then channels); several
        calls are merged into the oldest.

        Unique ids (and rooms) always link. A channel links only while it is alive in its
        call: servers reuse channel names (the manual's §5.1 and §5.3 share
        ``SIP/3321-09b559d8``), so a dead channel's name says nothing about a new event.
        """
        idx = self.idx
        found: CallState | None = None
        others: list[CallState] | None = None
        for k in keys:
            st = idx.get(k) if k is not None else None
            if st is None or st is found or st.keys.get(k, 0) >= DEAD:
                continue
            if found is None:
                found = st
            elif others is None:
                others = [st]
            elif st not in others:
                others.append(st)
        if found is not None and others:
            states = sorted([found, *others], key=lambda s: s.seq)
            found = states[0]
            for other in states[1:]:
                self.merge(found, other, ev, out)
        return found

    def start(self, ev: Event, chans: tuple, keys: tuple, ids: tuple, out: list,
              create_id: str | None) -> CallState | None:
        """Find or create the call of a RINGEVENT/CHANNELLIST/CONFERENCEEVENT (:attr:`created`
        then says which: no tuple per event).

        ``keys`` are the ids and links, then the channels, to look up; ``ids`` the unique ids."""
        self.created = False
        st = self.find(keys, ev, out)
        if st is not None:
            return st
        now = self.now
        tomb = self.tomb
        old = tomb.first(ids if ids.count(None) < len(ids) else chans, now)
        if old is not None:
            # an id of an ended call and no new channel: a late duplicate. A new channel next
            # to an ended call's id is a leg that joined after the grace: a call of its own.
            idx = self.idx
            if not any(c is not None and c not in idx and tomb.get(c, now) is None for c in chans):
                self.stats["stale"] += 1
                return None
            st = self.new_call(create_id, ev.ts)
            st.call.continued_from = old
            self.created = True
            return st
        if chans[0] is None and chans[1 if len(chans) > 1 else 0] is None:
            self.refuse(ev)
            return None
        self.created = True
        return self.new_call(create_id, ev.ts, create_id is not None and create_id in ids)

    def refuse(self, ev: Event) -> None:
        """An event that would start a call but names no channel: no leg could ever end it,
        so no call is created (counted in ``stats["refused"]``, logged once per 10,000)."""
        n = self.stats["refused"] = self.stats["refused"] + 1
        if n == 1 or n % 10000 == 0:
            log.warning("call tracker refused %d event(s) naming no channel (latest: %s); no call created",
                        n, getattr(ev, "name", type(ev).__name__))

    def new_call(self, call_id: str | None, ts: float, unseen: bool = False) -> CallState:
        """A new active call, its id ``call_id`` (else ``call-<n>``), suffixed ``#2``, ``#3``, ...
        while an active or remembered ended call has it.

        ``unseen``: :meth:`start` has just looked ``call_id`` up in the tombstones as a key and
        it was not there. An ended call's id is remembered under ``_ID + id`` and, in the same
        :meth:`Memory.put_many`, under the id itself (it is a key of its call, or is added as one
        by :meth:`forget`): both stay or go together, so an id unseen as a key was no ended
        call's, and its second look-up, a cache miss in a table of 100,000 keys, is skipped."""
        self._seq += 1
        cid = call_id or f"call-{self._seq}"
        now = self.now
        active = self.active
        tomb = self.tomb
        if cid in active or (not unseen and tomb.get(_ID + cid, now) is not None):
            n = 2
            while f"{cid}#{n}" in active or tomb.get(f"{_ID}{cid}#{n}", now) is not None:
                n += 1
            cid = f"{cid}#{n}"
        call = Call(cid, ts)
        st = open_state(call, self._seq, ts, now)
        active[cid] = call
        self.states[cid] = st
        self.stats["calls"] += 1
        return st

    def index(self, st: CallState, chans: tuple, uids: tuple, looked: bool = False) -> list[str] | None:
        """Index new keys of ``st``; returns the keys that were new (None when none was: no
        list is made for the usual event, which brings none).

        ``looked``: :meth:`find` (or :meth:`start`) gave ``st`` for this event after looking
        every one of ``chans`` up -- each was then unknown, ``st``'s own, or dead in another
        call (a live one would have been merged) -- and nothing changed the index since; the
        channels are then taken without a second lookup (each lookup in an index of tens of
        thousands of keys is a cache miss, the tracker's main cost)."""
        idx = self.idx
        keys = st.keys
        new: list[str] | None = None
        for c in chans:
            k = keys.get(c) if c is not None else LIVE
            if k == LIVE or k == DEAD:
                continue
            if not looked:
                other = idx.get(c)
                if other is not None and other is not st and other.keys.get(c, 0) < DEAD:
                    continue  # never take a live key from another call (only find() merges calls)
            keys[c] = LIVE if k is None else DEAD  # a dead channel's name may be reused by a new call
            idx[c] = st
            if new is None:
                new = [c]
            else:
                new.append(c)
        for u in uids:
            if u is None or u in keys:
                continue  # (an id already known: the common case)
            other = idx.get(u)
            if other is not None and other is not st:
                continue
            keys[u] = UID
            idx[u] = st
            if new is None:
                new = [u]
            else:
                new.append(u)
        if new is not None and len(keys) > self.max_call_keys:
            self.overgrow(st)
        return new

    def add_leg(self, st: CallState, leg: Leg) -> None:
        st.add_leg(leg)
        self.leg_exten(st, leg.exten)

    def leg_exten(self, st: CallState, exten: str) -> None:
        # an extension already in the call is in its ext entry too (both change only here, and
        # forget() drops the whole call): no second insert into a cold per-extension dict
        if exten and not st.has_exten(exten):
            st.add_exten(exten)
            calls = self.ext.get(exten)
            if calls is None:
                calls = self.ext[exten] = hashed_dict()
            calls[st.call.id] = st

    def begin(self, st: CallState, created: bool, ts: float) -> None:
        """Before an event changes ``st``: note the event's times and what :meth:`settle`
        compares with to tell whether the call changed."""
        st.last_seen = ts
        st.touched = self.now
        if not created:
            st.snap()

    # -- updates ---------------------------------------------------------------------

    def settle(self, st: CallState, created: bool, ev: Event | None, out: list) -> None:
        """Recompute the call's derived fields, then report a change (:meth:`changed`)."""
        if not st.shown:
            st.show()
        st.refresh()
        call = st.call
        state = st.c_state
        if state == "ended":
            return
        if created:
            out.append(_new_update(CallUpdate, (call, "new", ev, state)))
        elif st.changed():
            out.append(_new_update(CallUpdate, (call, "changed", ev, state)))

    # -- ends ------------------------------------------------------------------------

    def schedule_end(self, st: CallState, ts: float, cause: int | None, ev: Event | None, out: list,
                     min_grace: float = 0.0) -> None:
        grace = max(self.grace(), min_grace)
        if grace <= 0:
            self.finish(st, ts, cause, None, ev, out)
            return
        dl = self.deadlines
        token = dl.token()
        st.pending = (token, ts, cause)
        dl.push(self.now + grace, st.call.id, token, st)

    def close_legs(self, st: CallState, exten: str | None, reason: str, ev: Event | None, ts: float,
                   out: list) -> None:
        """Close the live legs of ``exten`` (all when None); end the call when none is left."""
        st.snap()
        for leg in st.legs:
            if leg.status in LIVE_LEG and (exten is None or leg.exten == exten):
                st.set_status(leg, "ended")
                st.mark_dead(leg.own)
        if not st.has_live():
            p = st.pending
            if p is not None:
                self.finish(st, p[1], p[2], None, ev, out)
            else:
                self.finish(st, max(ts, st.call.ring_at), None, reason, ev, out)
        else:
            self.settle(st, False, ev, out)

    def finish(self, st: CallState, ts: float, cause: int | None, reason: str | None, ev: Event | None,
               out: list) -> None:
        """The call is over: classify it, drop it from the indexes, remember its keys."""
        call = st.call
        st.pending = None
        for leg in st.legs:
            if leg.status in LIVE_LEG:
                st.set_status(leg, "ended")
        call.state = st.c_state = "ended"
        call.end_at = end = max(ts, call.ring_at)
        if call.answer_at is not None and call.answer_at > end:
            call.answer_at = end
        call.hangup_cause = cause = cause if cause is not None else st.last_cause
        st.show()
        st.refresh()
        if reason is not None:
            call.end_reason = reason
        elif call.answer_at is not None:
            call.end_reason = "hangup"
        elif st.rung and st.c_direction != "outbound":
            if cause == 16:
                call.abandoned = True
                call.end_reason = "abandoned"
            else:
                call.missed = True
                call.end_reason = "missed"
        else:
            call.end_reason = _UNANSWERED.get(cause, "unanswered")  # type: ignore[arg-type]
        self.forget(st)
        if reason != "merged":
            self.ended.append(call)
        out.append(_new_update(CallUpdate, (call, "ended", ev, "ended")))

    def forget(self, st: CallState) -> None:
        idx = self.idx
        call = st.call
        cid = call.id
        keys = st.own_keys()
        pop = idx.pop
        for k in keys:
            other = pop(k, None)  # one lookup: the key is almost always this call's
            if other is not st and other is not None:
                idx[k] = other
        if st.keys.get(cid, GONE) == GONE:
            keys.append(cid)  # (see new_call: an id's name is remembered with the id itself)
        keys.append(_ID + cid)
        self.tomb.put_many(keys, cid, self.now)
        if call.room is not None and idx.get(ROOM + call.room) is st:
            del idx[ROOM + call.room]
        ext = self.ext
        for e in st.extens:
            calls = ext.get(e)
            if calls is not None:
                calls.pop(cid, None)
                if not calls:
                    del ext[e]
        self.active.pop(cid, None)
        self.states.pop(cid, None)

    def merge(self, keep: CallState, gone: CallState, ev: Event, out: list) -> None:
        """``gone`` turned out to be part of ``keep`` (the older call): fold it in."""
        self.stats["merged"] += 1
        keep.snap()
        kc, gc = keep.call, gone.call
        if len(keep.legs) * len(gone.legs) <= _SCAN_LEGS:
            for leg in gone.legs:
                if keep.leg(leg.exten, leg.own) is None:
                    keep.add_leg(leg)
        else:  # two large calls: one pass over each (a search of the kept legs per leg took 0.1 s)
            have = {(leg.exten, leg.own) for leg in keep.legs}
            added = []
            for leg in gone.legs:
                pair = (leg.exten, leg.own)
                if pair not in have:
                    have.add(pair)
                    added.append(leg)
            keep.add_legs(added)
        idx = self.idx
        for k in gone.own_keys():
            idx[k] = keep
        keep.absorb_keys(gone)
        if len(keep.keys) > self.max_call_keys:
            self.overgrow(keep)
        for e in gone.extens:
            self.leg_exten(keep, e)
        for e in gone.handled:
            keep.add_handled(e)
        kc.ring_at = min(kc.ring_at, gc.ring_at)
        if gc.answer_at is not None and (kc.answer_at is None or gc.answer_at < kc.answer_at):
            kc.answer_at = gc.answer_at
            kc.answered_by = gc.answered_by
        for name in ("caller", "callee", "dialled_number", "room"):
            if getattr(kc, name) is None:
                setattr(kc, name, getattr(gc, name))
        if keep.hint is None:
            keep.hint = gone.hint
        if kc.room is not None:
            idx[ROOM + kc.room] = keep
        keep.absorb_conf(gone)
        keep.rung = keep.rung or gone.rung
        if keep.orig_strength < gone.orig_strength:
            keep.orig_strength, keep.orig = gone.orig_strength, gone.orig
        if keep.dest_strength < gone.dest_strength:
            keep.dest_strength, keep.dest = gone.dest_strength, gone.dest
        if keep.has_live():
            keep.pending = None
        # withdraw the absorbed call without remembering its keys as ended; a room of its own
        # (the kept call has another) no longer names any call: left in the index, it would
        # hand the ended call to the room's next event
        gone.withdraw()
        if gc.room is not None and gc.room != kc.room and idx.get(ROOM + gc.room) is gone:
            del idx[ROOM + gc.room]
        gc.room = None
        gc.merged_into = kc.id
        self.finish(gone, ev.ts, None, "merged", ev, out)
        self.settle(keep, False, ev, out)

    # -- deadlines -------------------------------------------------------------------

    def run_deadlines(self, now: float, out: list, sweep: bool, swept_at: float) -> None:
        """Confirm the ends due at ``now``; with ``sweep``, sweep too, the next sweep counted from
        ``swept_at`` (``now``, or the clock when an expiry was asked for ahead of it). The book
        never reads the clock itself: ``now`` is what its feeder read (or an event's time)."""
        dl = self.deadlines
        for entry in dl.pop_due_entries(now):
            st = entry[4]
            if st is None:  # (an entry pushed without its state)
                self._confirm(entry[2], entry[3], out)
            else:
                self._confirm_state(st, entry[3], out)
        if sweep:
            self.sweep(now, out, swept_at)
        dl.rearm()

    def _confirm(self, cid: str, token: int, out: list) -> None:
        st = self.states.get(cid)
        if st is not None:
            self._confirm_state(st, token, out)

    def _confirm_state(self, st: CallState, token: int, out: list) -> None:
        """Finish ``st`` if the end scheduled with ``token`` is still its pending one. A call
        that ended meanwhile (``finish`` clears ``pending`` first) or was rescheduled (tokens
        are never reused) is left alone: the same answer as looking its id up among the
        active calls, without the look-up."""
        p = st.pending
        if p is not None and p[0] == token:
            self.finish(st, p[1], p[2], None, None, out)

    def sweep(self, now: float, out: list, swept_at: float) -> None:
        """Every few seconds: expire rings and silent calls, prune the deadline heap."""
        self.deadlines.swept(swept_at)
        ring_limit = now - self.ring_expiry
        for st in list(self.states.values()):
            if st.pending is not None:
                continue
            if st.touched + self.call_expiry <= now:
                self.stats["expired"] += 1
                self.close_legs(st, None, "expired", None, st.last_seen, out)
                continue
            for leg in st.legs:
                if leg.status == "ringing" and leg.clock <= ring_limit:
                    self.expire_rings(st, ring_limit, out)
                    break
        self.deadlines.prune(self.states, len(self.states))

    def shed(self, out: list) -> None:
        """A bound on the calls in progress is passed (a call past ``max_call_keys``, more than
        ``max_active`` calls or ``max_keys`` keys; asked after every event): end the overgrown
        calls, then the oldest calls."""
        if self.overgrown is not None:
            self.end_overgrown(out)
        if len(self.states) > self.max_active or len(self.idx) > self.max_keys:
            self.evict(out)

    def overgrow(self, st: CallState) -> None:
        """``st`` holds more than ``max_call_keys`` keys: it is ended once its event is applied."""
        if self.overgrown is None:
            self.overgrown = [st]
        elif st not in self.overgrown:
            self.overgrown.append(st)

    def end_overgrown(self, out: list) -> None:
        """End the calls past ``max_call_keys`` (``end_reason "evicted"``, at the time of their
        last event; counted in ``stats["evicted"]``, logged at WARNING at most 3 times a minute):
        a server that names new channels under one call's ids without end would otherwise make
        every event of that call slower and the call ever larger."""
        states, self.overgrown = self.overgrown, None
        for st in states or ():
            if self.states.get(st.call.id) is not st:
                continue  # the event ended it, or folded it into another call
            self.stats["evicted"] += 1
            self._warnings.warning(log, "overgrown", "call tracker: call %s holds %d channels and ids, more than "
                                   "max_call_keys (%d); ended as evicted", st.call.id, len(st.keys),
                                   self.max_call_keys)
            self.close_legs(st, None, "evicted", None, st.last_seen, out)

    def evict(self, out: list) -> None:
        """More than ``max_active`` calls or ``max_keys`` keys are in progress: bring both down
        to a hundredth below their bound, so that a flood of new calls costs one such pass per
        that many calls.

        First the calls waiting for their end grace, longest waiting first: they end as they
        would have, only sooner (``stats["ended_early"]``; a fast but honest server has many
        of them, up to its rate of calls times the grace). Then the oldest calls (by creation)
        with ``end_reason "evicted"`` at the time of their last event (``stats["evicted"]``;
        logged at WARNING on the first pass, then every 10,000th call)."""
        states = self.states
        idx = self.idx
        calls_to = self.max_active - self.max_active // 100
        keys_to = self.max_keys - self.max_keys // 100
        dl = self.deadlines
        early = 0
        while len(states) > calls_to or len(idx) > keys_to:
            entry = dl.pop_next()
            if entry is None:
                break
            n = len(states)
            st = entry[4]
            if st is None:  # (an entry pushed without its state)
                self._confirm(entry[2], entry[3], out)
            else:
                self._confirm_state(st, entry[3], out)
            early += n - len(states)  # (a confirmed end leaves the active calls)
        if early:
            self.stats["ended_early"] += early
            dl.rearm()
        calls_over = len(states) - calls_to
        keys_over = len(idx) - keys_to
        oldest: list[CallState] = []
        for st in states.values():
            if calls_over <= 0 and keys_over <= 0:
                break
            oldest.append(st)
            calls_over -= 1
            keys_over -= len(st.keys)
        n = len(oldest)
        if n == 0:
            return
        self.stats["evicted"] += n
        before = self._shed
        self._shed = before + n
        if before == 0 or before // 10000 != (before + n) // 10000:
            log.warning("call tracker: more than %d calls or %d keys in progress; the %d oldest ended as evicted "
                        "(%d in all)", self.max_active, self.max_keys, n, before + n)
        for st in oldest:
            self.close_legs(st, None, "evicted", None, st.last_seen, out)

    def expire_rings(self, st: CallState, ring_limit: float, out: list) -> None:
        st.snap()
        for leg in st.legs:
            if leg.status == "ringing" and leg.clock <= ring_limit:
                st.set_status(leg, "ended")
                st.mark_dead(leg.own)
        self.stats["expired"] += 1
        if not st.has_live():
            self.finish(st, max(st.last_seen, st.call.ring_at), None, "expired", None, out)
        else:
            self.settle(st, False, None, out)

    def flush(self, out: list) -> None:
        """Confirm every pending end now."""
        for st in list(self.states.values()):
            p = st.pending
            if p is not None:
                self.finish(st, p[1], p[2], None, None, out)

    def calls_of(self, exten: str) -> list[Call]:
        calls: list[Call] = []
        for st in self.ext.get(exten, {}).values():
            if st.has_live_of(exten):
                calls.append(st.call)
        return calls
