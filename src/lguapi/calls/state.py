"""The tracker's own bookkeeping of one call: its legs, its keys, the evidence for its direction.

Nothing here is public: :class:`~lguapi.calls.model.Call` is what users see, and it reads
this state only through the methods below. Few containers per call: one dict of strings to
numbers for every key (unique ids, live and dead channels), a list of legs, tuples of
extensions; the conference containers exist only for calls that met a conference, the
indexes by extension only for calls of :data:`BIG` legs or more.

``state.pxd`` types it for the compiled twin: :class:`Leg` and :class:`CallState` are then
final extension types with C attributes and C methods, and not tracked by the garbage
collector (``no_gc``: neither can be part of a reference cycle). The pure twin's are plain
``__slots__`` classes, which the collector does track (the price of one source for both).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

try:
    import cython
except ModuleNotFoundError:  # no Cython installed (a pure install): its decorators used here, as no-ops
    from lguapi.calls import _nocython as cython

if TYPE_CHECKING:
    from lguapi.calls.model import Call

__all__ = ["Leg", "CallState", "new_leg", "open_state", "UID", "LIVE", "DEAD", "GONE", "LIVE_LEG", "BIG", "is_xfer",
           "channels_of", "unique_ids_of", "active_extens_of", "leg_counts"]

# What a key is to its call (values of CallState.keys):
UID = 0   #: a unique id of the call
LIVE = 1  #: a channel of the call, alive
DEAD = 2  #: a channel of the call that went out (its name may be reused by a new call)
GONE = 3  #: a channel that went out while named by this call, never one of its channels

#: leg statuses that count as "on the call"
LIVE_LEG = ("ringing", "connected")

if not cython.compiled:
    def untrack(obj: object) -> None:
        """Take ``obj`` out of the cyclic garbage collector's sight (compiled twin; C's
        ``PyObject_GC_UnTrack``): only for a container that can be in no reference cycle."""


def new_legs() -> list[Leg]:
    """An empty list of a call's legs, untracked by the collector in the compiled twin: it holds
    legs, which hold strings and numbers, so it can be in no cycle, and a list (unlike a tuple
    of such) stays tracked otherwise -- an object per call for every full collection to scan."""
    legs: list[Leg] = []
    untrack(legs)
    return legs


#: legs (or extensions) of one call from which it also keeps them by extension (in a dict, or
#: a set): a call ringing hundreds of agents then costs per event what a call of a few does;
#: below, a search in order is as fast and costs no container
BIG = 16


def is_xfer(ch: str | None) -> bool:
    """An attended-transfer consultation channel (``Local/<exten>@xfercontext-…``)."""
    return ch is not None and ch.startswith("Local/") and "@xfercontext" in ch


def open_state(call: Call, seq: int, ts: float, now: float) -> CallState:
    """The state of a new call; the event that made it shows it in the call's views (by the
    book's ``settle`` or ``finish``, once, after its legs and keys are in)."""
    st = CallState.__new__(CallState)
    st.call = call
    st.seq = seq
    st.last_seen = ts
    st.touched = now
    st.extens = ()
    st.handled = ()
    st.legs = new_legs()
    st.by_exten = st.by_own = st.by_pair = st.ext_set = st.handled_set = None
    st.n_ringing = st.n_connected = st.n_held = st.n_xfer = st.n_transfer = 0
    st.keys = {}
    st.orig_strength = 0
    st.orig = None
    st.dest_strength = 0
    st.dest = None
    st.rung = False
    st.hint = None
    st.conf_start = False
    st.pending = None
    st.last_cause = None
    st.conf = None
    st.conf_chans = None
    st.shown = False
    # what snap() would note of a new Call(id, ring_at): its defaults, no parties (no reads)
    st.s_state = st.c_state = "ringing"
    st.s_direction = st.c_direction = "internal"
    st.s_answered = st.s_remote = st.s_dialled = st.s_room = st.c_remote = None
    st.s_parties = 0
    return st


def channels_of(keys: dict[str, int]) -> list[str]:
    """The channel names (live or dead) among a call's keys, sorted."""
    return sorted([k for k, v in keys.items() if v == LIVE or v == DEAD])


def unique_ids_of(keys: dict[str, int]) -> list[str]:
    """The unique ids among a call's keys, sorted."""
    return sorted([k for k, v in keys.items() if v == UID])


def leg_counts(legs: Iterable[Leg]) -> tuple[int, int, int, int, int]:
    """What a call's counts of its legs must be (:attr:`CallState.n_ringing` ...): ringing,
    connected, connected and held, connected and consulting, ringing as a transfer."""
    counts = [0, 0, 0, 0, 0]
    for leg in legs:
        if leg.status == "ringing":
            counts[0] += 1
            counts[4] += leg.transfer
        elif leg.status == "connected":
            counts[1] += 1
            counts[2] += leg.held
            counts[3] += leg.xfer
    return counts[0], counts[1], counts[2], counts[3], counts[4]


def active_extens_of(legs: Iterable[Leg]) -> dict[str, str]:
    """``{extension: "ringing"|"connected"|"held"}`` of the live legs."""
    out: dict[str, str] = {}
    for leg in legs:
        if leg.status == "connected":
            st = "held" if leg.held else "connected"
            if out.get(leg.exten) != "connected":
                out[leg.exten] = st
        elif leg.status == "ringing" and leg.exten not in out:
            out[leg.exten] = "ringing"
    out.pop("", None)
    return out


@cython.final
@cython.no_gc
@cython.cclass
class Leg:
    """One extension's presence in a call: its own channel, who it talks to, its status.

    Holds strings, numbers and a tuple of strings, so it can be part of no reference cycle
    (the compiled twin's is not tracked by the garbage collector). Made by :func:`new_leg`
    (``Leg.__new__`` and C stores in the compiled twin, no ``__init__`` call). Once a call
    holds it, its status, ``held``, ``xfer`` and ``transfer`` change only through that
    call's ``set_*`` methods, which keep the call's counts of its legs."""

    exten: str
    own: str
    remotes: tuple[str, ...]
    status: str  # ringing | connected | ended | retired
    since: float
    clock: float
    dial: bool | None
    transfer: bool  # a ring that joined an already answered call
    xfer: bool  # this extension is consulting an attended-transfer target
    held: bool
    cause: int | None

    __slots__ = ("exten", "own", "remotes", "status", "since", "clock", "dial", "transfer", "xfer", "held",
                 "cause")

    @property
    def live(self) -> bool:
        return self.status in LIVE_LEG

    def add_remote(self, remote: str) -> None:
        if remote not in self.remotes:
            self.remotes = (*self.remotes, remote)

    def drop_remote(self, remote: str) -> None:
        if remote in self.remotes:
            self.remotes = tuple([r for r in self.remotes if r != remote])


def new_leg(exten: str, own: str, remote: str | None, status: str, since: float, clock: float,
            dial: bool | None) -> Leg:
    """A leg talking to ``remote`` (when known)."""
    leg = Leg.__new__(Leg)
    leg.exten = exten
    leg.own = own
    leg.remotes = (remote,) if remote else ()
    leg.status = status
    leg.since = since
    leg.clock = clock
    leg.dial = dial
    leg.transfer = False
    leg.xfer = False
    leg.held = False
    leg.cause = None
    return leg


@cython.final
@cython.no_gc
@cython.cclass
class CallState:
    """Per-call state of the tracker (legs, keys, evidence), next to its public :class:`Call`.

    Holds the call (itself untracked), tuples of strings, a list of legs, a dict of strings
    to numbers and, after a conference or past :data:`BIG` legs, dicts, lists and sets of
    strings and legs; nothing it holds refers back to it (the call's views see its
    containers, never the state), so it can be part of no reference cycle (the compiled
    twin's is not tracked by the garbage collector). Made by :func:`open_state` (no
    ``__init__`` call); the containers change only through the methods below, and
    :meth:`show` shows new ones in the call's views."""

    call: Call
    seq: int
    last_seen: float
    touched: float  # tracker clock at the last event (for call_expiry)
    extens: tuple[str, ...]
    handled: tuple[str, ...]
    legs: list[Leg]  # (a list: a call ringing hundreds of agents adds each leg without a copy of the others)
    # past BIG legs or extensions: the legs by extension and by own channel (each in order), the
    # first leg of each (extension, own channel), and sets of the tuples' members
    by_exten: dict[str, list[Leg]] | None
    by_own: dict[str, list[Leg]] | None
    by_pair: dict[tuple[str, str], Leg] | None
    ext_set: set[str] | None
    handled_set: set[str] | None
    # the legs by status (leg_counts): what has_live and refresh ask, without a pass over the legs
    n_ringing: int
    n_connected: int
    n_held: int  # connected and held
    n_xfer: int  # connected and consulting an attended-transfer target
    n_transfer: int  # ringing as a transfer of an answered call
    keys: dict[str, int]  # unique id / channel -> UID | LIVE | DEAD | GONE
    orig_strength: int  # evidence that the caller is outside: (strength, verdict)
    orig: bool | None
    dest_strength: int
    dest: bool | None
    rung: bool  # a tracked extension was rung (ISDIAL:0)
    hint: str | None
    conf_start: bool  # the call began in a conference (CALLWITHCONF)
    pending: tuple[int, float, int | None] | None  # (token, end ts, cause)
    last_cause: int | None
    conf: dict[str, str | None] | None  # channel -> member, while in a room
    conf_chans: set[str] | None
    shown: bool  # the call's views show the current tuples
    s_state: str  # the call as snap() saw it (what changed() compares with)
    s_direction: str
    s_answered: str | None
    s_remote: str | None
    s_dialled: str | None
    s_room: str | None
    s_parties: int
    # the call's state, direction and remote number as last written (only refresh() and the
    # book's finish() write them): read and compared here without touching the call
    c_state: str
    c_direction: str
    c_remote: str | None

    __slots__ = ("call", "seq", "last_seen", "touched", "extens", "handled", "legs", "by_exten", "by_own", "by_pair", "ext_set",
                 "handled_set", "n_ringing", "n_connected", "n_held", "n_xfer", "n_transfer", "keys", "orig_strength",
                 "orig", "dest_strength", "dest", "rung", "hint", "conf_start", "pending", "last_cause", "conf",
                 "conf_chans", "shown", "s_state", "s_direction", "s_answered", "s_remote", "s_dialled", "s_room",
                 "s_parties", "c_state", "c_direction", "c_remote")

    def show(self) -> None:
        """Show the current tuples in the call's views (once per event, by the book's
        :meth:`~lguapi.calls.book.Book.settle` / ``finish``, whatever number of them changed)."""
        if not self.shown:
            self.call.bind(self.extens, self.handled, self.keys, self.legs)
            self.shown = True

    def withdraw(self) -> None:
        """Forget every key and leg (the call was folded into another): its views show none."""
        self.keys = {}
        self.legs = new_legs()
        self.by_exten = self.by_own = self.by_pair = None
        self.n_ringing = self.n_connected = self.n_held = self.n_xfer = self.n_transfer = 0
        self.shown = False
        self.show()

    # -- keys ------------------------------------------------------------------------

    def is_dead(self, key: str) -> bool:
        """Did channel ``key`` go out while this call named it?"""
        return self.keys.get(key, 0) >= DEAD

    def has_channel(self, key: str) -> bool:
        k = self.keys.get(key)
        return k == LIVE or k == DEAD

    def has_uid(self, key: str | None) -> bool:
        return key is not None and self.keys.get(key) == UID

    def mark_dead(self, ch: str) -> None:
        keys = self.keys
        k = keys.get(ch)
        if k is None:
            keys[ch] = GONE
        elif k == LIVE:
            keys[ch] = DEAD

    def own_keys(self) -> list[str]:
        """Every unique id and channel of the call (what the indexes and tombstones hold)."""
        return [k for k, v in self.keys.items() if v != GONE]

    def absorb_keys(self, other: CallState) -> None:
        """Union with ``other``'s keys (a merge): channels, ids and dead marks all carry over."""
        keys = self.keys
        for k, v in other.keys.items():
            mine = keys.get(k)
            if mine is None or mine == v:
                keys[k] = v
            elif mine == UID or v == UID:
                keys[k] = UID
            else:  # two channel kinds: ours if either has it, dead if either saw it go out
                ours = mine <= DEAD or v <= DEAD
                dead = mine >= DEAD or v >= DEAD
                keys[k] = (DEAD if dead else LIVE) if ours else GONE

    # -- legs and extensions ----------------------------------------------------------

    def indexed(self) -> bool:
        """Are the legs indexed (:attr:`by_exten`, :attr:`by_own`, :attr:`by_pair`)? Made here
        once the call has :data:`BIG` legs; below, its questions search the legs in order."""
        if self.by_exten is None:
            if len(self.legs) < BIG:
                return False
            self.index_legs()
        return True

    def leg(self, exten: str, own: str) -> Leg | None:
        """The first leg of ``exten`` on channel ``own``."""
        if self.indexed():
            return self.by_pair.get((exten, own))  # type: ignore[union-attr]
        for leg in self.legs:
            if leg.own == own and leg.exten == exten:
                return leg
        return None

    def legs_of(self, exten: str) -> list[Leg]:
        if not self.indexed():
            return [leg for leg in self.legs if leg.exten == exten]
        legs = self.by_exten.get(exten)  # type: ignore[union-attr]
        return [] if legs is None else list(legs)

    def legs_on(self, own: str) -> list[Leg]:
        """The legs on channel ``own``, in order."""
        if not self.indexed():
            return [leg for leg in self.legs if leg.own == own]
        legs = self.by_own.get(own)  # type: ignore[union-attr]
        return [] if legs is None else list(legs)

    def index_legs(self) -> dict[str, list[Leg]]:
        """:attr:`by_exten`, :attr:`by_own` and :attr:`by_pair`, made now (the call reached
        :data:`BIG` legs); kept by add_leg(s). Returns :attr:`by_exten`."""
        self.by_exten = {}
        self.by_own = {}
        self.by_pair = {}
        for leg in self.legs:
            self.index_leg(leg)
        return self.by_exten

    def index_leg(self, leg: Leg) -> None:
        """Put ``leg`` last in :attr:`by_exten` and :attr:`by_own`, and in :attr:`by_pair` unless an
        earlier leg has its extension and channel (all made). Their lists are untracked (see
        :func:`new_legs`), and so are the dicts: a call of thousands of legs adds no object for a
        full collection to scan."""
        legs = self.by_exten.get(leg.exten)  # type: ignore[union-attr]
        if legs is None:
            legs = self.by_exten[leg.exten] = new_legs()  # type: ignore[index]
            untrack(self.by_exten)  # (a dict takes itself back into the collector's sight for a list)
        legs.append(leg)
        legs = self.by_own.get(leg.own)  # type: ignore[union-attr]
        if legs is None:
            legs = self.by_own[leg.own] = new_legs()  # type: ignore[index]
            untrack(self.by_own)
        legs.append(leg)
        pair = (leg.exten, leg.own)
        if pair not in self.by_pair:  # type: ignore[operator]
            self.by_pair[pair] = leg  # type: ignore[index]
            untrack(self.by_pair)

    def has_live(self) -> bool:
        return self.n_ringing + self.n_connected > 0

    def has_live_of(self, exten: str) -> bool:
        for leg in self.by_exten.get(exten, ()) if self.indexed() else self.legs:  # type: ignore[union-attr]
            if leg.exten == exten and leg.status in LIVE_LEG:
                return True
        return False

    def add_leg(self, leg: Leg) -> None:
        self.legs.append(leg)
        self.tally(leg, 1)
        if self.by_exten is not None:
            self.index_leg(leg)
        self.shown = False

    def add_legs(self, legs: list[Leg]) -> None:
        """:meth:`add_leg` of each, in one new tuple."""
        if legs:
            self.legs.extend(legs)
            indexed = self.by_exten is not None
            for leg in legs:
                self.tally(leg, 1)
                if indexed:
                    self.index_leg(leg)
            self.shown = False

    def tally(self, leg: Leg, d: int) -> None:
        """Count ``leg`` in (``d`` 1) or out (-1) of the counts of legs by status."""
        status = leg.status
        if status == "connected":
            self.n_connected += d
            if leg.held:
                self.n_held += d
            if leg.xfer:
                self.n_xfer += d
        elif status == "ringing":
            self.n_ringing += d
            if leg.transfer:
                self.n_transfer += d

    def set_status(self, leg: Leg, status: str) -> None:
        """A leg of this call changes status (``ringing``, ``connected``, ``ended``, ``retired``)."""
        self.tally(leg, -1)
        leg.status = status
        self.tally(leg, 1)

    def set_held(self, leg: Leg, held: bool) -> None:
        self.tally(leg, -1)
        leg.held = held
        self.tally(leg, 1)

    def set_xfer(self, leg: Leg, xfer: bool) -> None:
        self.tally(leg, -1)
        leg.xfer = xfer
        self.tally(leg, 1)

    def set_transfer(self, leg: Leg, transfer: bool) -> None:
        self.tally(leg, -1)
        leg.transfer = transfer
        self.tally(leg, 1)

    def has_exten(self, exten: str) -> bool:
        members = self.ext_set
        if members is None:
            if len(self.extens) < BIG:
                return exten in self.extens
            members = self.ext_set = set(self.extens)
            untrack(members)  # (strings only)
        return exten in members

    def add_exten(self, exten: str) -> None:
        if not self.has_exten(exten):
            self.extens = self.extens + (exten,)
            if self.ext_set is not None:
                self.ext_set.add(exten)
            self.shown = False

    def has_handled(self, exten: str) -> bool:
        members = self.handled_set
        if members is None:
            if len(self.handled) < BIG:
                return exten in self.handled
            members = self.handled_set = set(self.handled)
            untrack(members)  # (strings only)
        return exten in members

    def add_handled(self, exten: str) -> None:
        if exten and not self.has_handled(exten):
            self.handled = self.handled + (exten,)
            if self.handled_set is not None:
                self.handled_set.add(exten)
            self.shown = False

    # -- conference ------------------------------------------------------------------

    def conf_add(self, ch: str, member: str | None) -> None:
        if self.conf is None:
            self.conf = {}
            self.conf_chans = set()
        self.conf[ch] = member
        self.conf_chans.add(ch)  # type: ignore[union-attr]

    def in_conf_chans(self, ch: str) -> bool:
        return self.conf_chans is not None and ch in self.conf_chans

    def absorb_conf(self, other: CallState) -> None:
        if other.conf:
            if self.conf is None:
                self.conf = {}
            self.conf.update(other.conf)
        if other.conf_chans:
            if self.conf_chans is None:
                self.conf_chans = set()
            self.conf_chans |= other.conf_chans

    # -- direction, state, change detection --------------------------------------------

    def evidence(self, strength: int, orig: bool | None, dest: bool | None) -> None:
        if orig is not None and self.orig_strength <= strength:
            self.orig_strength = strength
            self.orig = orig
        if dest is not None and self.dest_strength <= strength:
            self.dest_strength = strength
            self.dest = dest

    def snap(self) -> None:
        """Note what :meth:`changed` compares with, before an event changes the call (fields,
        not a tuple: nothing is allocated)."""
        c = self.call
        self.s_state = self.c_state
        self.s_direction = self.c_direction
        self.s_answered = c.answered_by
        self.s_remote = self.c_remote
        self.s_dialled = c.dialled_number
        self.s_room = c.room
        self.s_parties = len(self.extens) + 1000 * len(self.handled)

    def changed(self) -> bool:
        """Did the call's state, direction, parties, numbers or room change since :meth:`snap`?"""
        if (self.c_state != self.s_state or self.c_direction != self.s_direction or self.c_remote != self.s_remote
                or len(self.extens) + 1000 * len(self.handled) != self.s_parties):
            return True
        c = self.call
        return c.answered_by != self.s_answered or c.dialled_number != self.s_dialled or c.room != self.s_room

    def refresh(self) -> None:
        """Recompute the call's direction, remote number and state from what is known."""
        c = self.call
        if self.orig:
            direction = "inbound"
            remote = c.caller
        elif self.dest:
            direction = "outbound"
            remote = c.callee
        else:
            direction = "internal"
            remote = c.caller if self.rung else c.callee
        # the call is written only when a value changes (an attribute of the call costs a
        # generic attribute lookup; the state's mirrors are C fields in the compiled twin)
        if direction != self.c_direction:
            c.direction = self.c_direction = direction
        if not remote:
            remote = self.c_remote or self.hint  # keep the number shown, else the ring's hint
        if remote != self.c_remote:
            c.remote_number = self.c_remote = remote
        if self.c_state == "ended":
            return
        connected = self.n_connected > 0
        if connected or self.n_ringing > 0:  # no live leg: keep the last state until the end is confirmed
            state = ("conference" if self.conf else "transferring" if self.n_xfer > 0 or self.n_transfer > 0
                     else ("held" if self.n_held > 0 else "connected") if connected else "ringing")
            if state != self.c_state:
                c.state = self.c_state = state
