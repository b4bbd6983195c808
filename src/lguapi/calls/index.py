"""Bounded memories of the call tracker: ended calls' keys (tombstones) and orphan CHANNELOUTs.

Both are :class:`Memory`: two generations of dicts, so a key costs one dict entry and no
per-key deadline. The live index (key -> active call) is a dict in the tracker. All of them
store their keys' hashes (:func:`lguapi._recent.hashed_dict`): most questions asked of them
are about keys they do not hold, and those are then answered without reading the keys.
"""
from __future__ import annotations

from typing import Any, Iterable

from lguapi._recent import hashed_dict
from lguapi.channels import normalize_channel, normalize_unique_id
from lguapi.events import ChannelOutEvent

__all__ = ["Memory", "Orphans", "out_keys", "ORPHANS_PER_KEY"]

#: CHANNELOUTs kept under one key at most: a call's legs before it is known are a handful; a
#: server repeating CHANNELOUTs of one unknown id would otherwise grow one list without end
#: (and the check for a repeat, which reads the list, with it)
ORPHANS_PER_KEY = 64

try:
    import cython
except ModuleNotFoundError:  # no Cython installed (a pure install): its decorators used here, as no-ops
    from lguapi.calls import _nocython as cython

if not cython.compiled:  # the compiled twin's C tables (index.pxd): never called in the pure twin
    def _c_only(*args: Any) -> Any:
        raise RuntimeError("the compiled twin's C table, called in the pure twin")

    kt_put = kt_lookup2 = kt_pop = kt_dict = kt_recycle = kt_swap = kt_clear = _c_only


class Memory:
    """A bounded memory of keys in two generations.

    A key is kept for at least ``ttl/2`` seconds and ``maxlen/2`` later puts, at most
    ``ttl`` seconds and ``maxlen`` keys in all.

    The pure twin's generations are dicts (``new``, ``old``); the compiled twin's are C tables
    (``lgu_keytab.h``: a tag byte per slot beside the entries, so that the look-up of a key
    that is not there, and an insert, read no entry), which give the same answers. When the
    newer generation becomes the older one, the older one's arrays, emptied, hold the next
    generation: they are never given back while the memory lives.
    """

    __slots__ = ("new", "old", "t_new", "t_old", "half_len", "half_ttl", "rotate_at", "started")

    def __init__(self, maxlen: int, ttl: float):
        if not cython.compiled:
            self.new: dict[str, Any] = hashed_dict()
            self.old: dict[str, Any] = hashed_dict()
            self.t_new: Any = None  # (the compiled twin's C tables, index.pxd: never used here)
            self.t_old: Any = None
        self.half_len = max(1, maxlen // 2)
        self.half_ttl = ttl / 2
        self.rotate_at = 0.0  # when the new generation becomes the old one (once started)
        self.started = False  # a key was put

    def __dealloc__(self) -> None:  # (the compiled twin's: its tables' keys, values and arrays)
        kt_clear(cython.address(self.t_new))
        kt_clear(cython.address(self.t_old))

    def _rotate(self, now: float) -> None:
        keep = now < self.rotate_at + self.half_ttl
        if cython.compiled:
            kt_recycle(cython.address(self.t_old))
            if keep:
                kt_swap(cython.address(self.t_new), cython.address(self.t_old))
            else:
                kt_recycle(cython.address(self.t_new))
        else:
            self.old = self.new if keep else hashed_dict()
            self.new = hashed_dict()
        self.rotate_at = now + self.half_ttl

    def _due(self, now: float) -> bool:
        """Must the newer generation become the older one before a put at ``now``?"""
        if not self.started:
            self.started = True
            self.rotate_at = now + self.half_ttl
            return False
        held = self.t_new.used if cython.compiled else len(self.new)
        return now >= self.rotate_at or held >= self.half_len

    def put(self, key: str, value: Any, now: float) -> None:
        if self._due(now):
            self._rotate(now)
        if cython.compiled:
            kt_put(cython.address(self.t_new), key, hash(key), value)
        else:
            self.new[key] = value

    def put_many(self, keys: Iterable[str], value: Any, now: float) -> None:
        """:meth:`put` of each key (one rotation check for all)."""
        if self._due(now):
            self._rotate(now)
        if cython.compiled:
            for k in keys:
                kt_put(cython.address(self.t_new), k, hash(k), value)
        else:
            new = self.new
            for k in keys:
                new[k] = value

    def get(self, key: str, now: float) -> Any:
        if self.started and now >= self.rotate_at:
            self._rotate(now)
        if cython.compiled:  # (the newer generation's value, else the older one's, else None)
            return kt_lookup2(cython.address(self.t_new), cython.address(self.t_old), key, hash(key))
        v = self.new.get(key)
        return self.old.get(key) if v is None else v

    def first(self, keys: Iterable[str | None], now: float) -> Any:
        """The value of the first of ``keys`` (None ignored) that is remembered, else None."""
        if self.started and now >= self.rotate_at:
            self._rotate(now)
        if cython.compiled:
            if self.t_new.used == 0 and self.t_old.used == 0:
                return None
            for k in keys:
                if k is not None:
                    v = kt_lookup2(cython.address(self.t_new), cython.address(self.t_old), k, hash(k))
                    if v is not None:
                        return v
            return None
        new, old = self.new, self.old
        if not new and not old:
            return None
        for k in keys:
            if k is not None:
                v = new.get(k)
                if v is None:
                    v = old.get(k)
                if v is not None:
                    return v
        return None

    def pop(self, key: str) -> None:
        if cython.compiled:
            h = hash(key)
            kt_pop(cython.address(self.t_new), key, h)
            kt_pop(cython.address(self.t_old), key, h)
        else:
            self.new.pop(key, None)
            self.old.pop(key, None)

    def generations(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Copies of the newer and the older generation, as dicts (for tests and diagnostics)."""
        if cython.compiled:
            return kt_dict(cython.address(self.t_new)), kt_dict(cython.address(self.t_old))
        return dict(self.new), dict(self.old)

    def __len__(self) -> int:
        if cython.compiled:
            return self.t_new.used + self.t_old.used
        return len(self.new) + len(self.old)

    def __bool__(self) -> bool:
        if cython.compiled:
            return self.t_new.used > 0 or self.t_old.used > 0
        return bool(self.new) or bool(self.old)


def out_keys(ev: ChannelOutEvent) -> tuple[str | None, str | None, str | None, str | None]:
    """A CHANNELOUT's normalised (channel, unique id, remote channel, source unique id)."""
    return (normalize_channel(ev.channel), normalize_unique_id(ev.unique_id),
            normalize_channel(ev.remote_channel), normalize_unique_id(ev.src_unique_id))


class Orphans:
    """CHANNELOUTs of calls not (yet) known, by each of their keys (bounded by a :class:`Memory`)."""

    __slots__ = ("mem", "maybe")

    def __init__(self, maxlen: int, ttl: float):
        self.mem = Memory(maxlen, ttl)
        #: False when surely empty: a plain attribute, read for every new key of every call
        self.maybe = False

    def __bool__(self) -> bool:
        if self.maybe and not self.mem:
            self.maybe = False
        return self.maybe

    def __len__(self) -> int:
        return len(self.mem)

    def keep(self, ev: ChannelOutEvent, keys: Iterable[str | None], now: float) -> int:
        """Keep ``ev`` under each of its keys; returns how many older ones that pushed out
        (:data:`ORPHANS_PER_KEY` under a key at most: the oldest goes)."""
        mem = self.mem
        self.maybe = True
        dropped = 0
        for k in keys:
            if k is None:
                continue
            lst = mem.get(k, now)
            if lst is None:
                mem.put(k, [ev], now)
            elif not any(e is ev or (e.exten == ev.exten and e == ev) for e in lst):
                if len(lst) >= ORPHANS_PER_KEY:
                    del lst[0]
                    dropped += 1
                lst.append(ev)
        return dropped

    def get(self, key: str, now: float) -> list[ChannelOutEvent] | None:
        return self.mem.get(key, now)

    def take(self, ev: ChannelOutEvent, now: float) -> None:
        """Forget ``ev`` under every one of its keys."""
        mem = self.mem
        for k in out_keys(ev):
            if k is None:
                continue
            lst = mem.get(k, now)
            if lst is not None:
                lst[:] = [x for x in lst if x is not ev]
                if not lst:
                    mem.pop(k)

    def for_call(self, keys: Iterable[str], has_uid: Any, now: float) -> list[ChannelOutEvent]:
        """The kept CHANNELOUTs under ``keys`` that may join the call whose ids ``has_uid`` tells.

        Ids decide: one with unique ids joins only a call that has one of them (a reused
        channel name alone says nothing); one without ids joins by name."""
        todo: list[ChannelOutEvent] = []
        mem = self.mem
        for k in keys:
            evs = mem.get(k, now)
            if evs:
                for e in evs:
                    u = normalize_unique_id(e.unique_id)
                    su = normalize_unique_id(e.src_unique_id)
                    if (u is not None or su is not None) and not has_uid(u) and not has_uid(su):
                        continue
                    if not any(t is e for t in todo):
                        todo.append(e)
        return todo
