"""Firehose: replay generated call events to every logged-in session at a fixed total rate.

For load-testing clients far above what the PBX model simulates in real time. The
events are made by a private :class:`~lguapi.server.pbx.Pbx` (same directory, a manual
clock, no timers) driven through inbound, click-to-call-like and internal calls, so
every text, channel and unique id is exactly what the emulator's PBX would send, and
each extension gets only its own calls' events. They are encoded once per cipher into
frames (PERF_NOTES §Sockets: the expensive part, SEED above all, is paid once) and
written with :meth:`Session.send_raw`, which the emulator batches into one write per
session and loop iteration.

How the events are laid out: extensions are paired in directory order (within a
domain); each pair owns a *pool* of ``calls_per_group`` calls among the two phones and
outside numbers, built (generated and framed) within a CPU budget per round. Every
``tick`` seconds the firehose hands out ``rate * elapsed`` event deliveries round-robin
over the pairs that have a session logged in and a built pool, one event per visit, in
pool order, so each session sees its calls progress event by event. A new session starts
receiving at its pair's next call boundary (never in the middle of a call). When a pool
is used up it is regenerated with fresh unique ids if the round's budget allows, else
replayed as is (``stats()["replays"]``): at high rates a client may see a finished
call's unique ids again in a later, identical call.

>>> hose = Firehose(emulator, 50_000, rng=random.Random(7))   # doctest: +SKIP
>>> hose.start(); ...; hose.close()                          # doctest: +SKIP
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from typing import Any

from .._log import mask_text
from .accounts import User

__all__ = ["Firehose", "generate_calls"]

log: logging.Logger = logging.getLogger("lguapi.server.firehose")

_OUTSIDE = "010"


def _make_pbx(directory: Any, deliver: Any, clock: Any, rng: random.Random) -> Any:
    from .pbx import Pbx

    # history_limit=1: the private PBX's finished calls are of no use to anyone
    return Pbx(directory, deliver=deliver, ring_timeout=0, auto_answer=None, clock=clock, rng=rng,
               online=lambda exten: True, history_limit=1)


class _Clock:
    """A manual clock for the private PBX (epoch seconds)."""

    __slots__ = ("now",)

    def __init__(self) -> None:
        self.now: float = time.time()

    def __call__(self) -> float:
        return self.now


def generate_calls(pbx: Any, clock: _Clock, users: list[User], n_calls: int, rng: random.Random,
                   events: list[Any]) -> list[int]:
    """Drive ``n_calls`` calls among ``users`` (1 or 2) through ``pbx``; its deliver callback
    appends ``(exten, text)`` to ``events``. Returns the index in ``events`` where each call starts.

    Scenarios: inbound answered (either side hangs up), inbound abandoned, outbound to an
    outside number answered or not, and with two users internal calls either way. A call
    the PBX refuses half-way (it should not happen) is dropped with its events, logged, and
    its phones are put back on hook, so every call in ``events`` is complete.
    """
    starts = []
    for _ in range(n_calls):
        mark = len(events)
        a = rng.choice(users)
        other = users[1] if len(users) == 2 and a is users[0] else users[0]
        outside = _OUTSIDE + f"{rng.randrange(10 ** 8):08d}"
        kind = rng.random()
        answered = rng.random() < 0.85
        ring = rng.uniform(1.0, 8.0)
        talk = rng.uniform(3.0, 120.0)
        hang_a = rng.random() < 0.5
        clock.now += rng.uniform(1.0, 20.0)
        try:
            _one_call(pbx, clock, a, other, outside, kind if len(users) == 2 or kind < 0.8 else 0.6, answered,
                      ring, talk, hang_a)
        except (KeyError, ValueError) as exc:
            log.error("firehose: the PBX refused a generated call (%s); dropping it", mask_text(str(exc)))
            del events[mark:]
            _on_hook(pbx, users)
            continue
        if len(events) > mark:
            starts.append(mark)
    return starts


def _one_call(pbx: Any, clock: _Clock, a: User, other: User, outside: str, kind: float, answered: bool,
              ring: float, talk: float, hang_a: bool) -> None:
    if kind < 0.5:                                   # inbound
        call = pbx.external_call(outside, a.callerid or a.exten)
        clock.now += ring
        if answered:
            pbx.phone_answer(a.exten)
            clock.now += talk
            if hang_a:
                pbx.phone_hangup(a.exten)
            else:
                pbx.external_hangup(call)
        else:
            pbx.external_hangup(call)
    elif kind < 0.8:                                 # outbound (what CLICKCALL produces)
        call = pbx.phone_dial(a.exten, outside)
        clock.now += ring
        if answered:
            pbx.external_answer(call)
            clock.now += talk
            if hang_a:
                pbx.phone_hangup(a.exten)
            else:
                pbx.external_hangup(call)
        else:
            pbx.phone_hangup(a.exten)
    else:                                            # internal
        pbx.phone_dial(a.exten, other.exten)
        clock.now += ring
        if answered:
            pbx.phone_answer(other.exten)
            clock.now += talk
            pbx.phone_hangup(a.exten if hang_a else other.exten)
        else:
            pbx.phone_hangup(a.exten)


def _on_hook(pbx: Any, users: list[User]) -> None:
    """Hang up whatever the private PBX still has on ``users``' phones."""
    for u in users:
        for _ in range(8):
            if pbx.phone_state(u.exten) == "idle":
                break
            try:
                pbx.phone_hangup(u.exten)
            except (KeyError, ValueError):
                break


class _Group:
    """One pair (or single) of extensions, its pool of events and its cursor."""

    __slots__ = ("key", "users", "extens", "texts", "targets", "starts", "frames", "pos", "sessions",
                 "pending", "epoch", "queued", "ready")

    def __init__(self, key: int, users: list[User]) -> None:
        self.key: int = key
        self.users: list[User] = users
        self.extens: tuple[str, ...] = tuple(u.exten for u in users)
        self.texts: list[bytes] = []              # encoded in the charset, not yet framed
        self.targets: list[str] = []              # exten of each event
        self.starts: frozenset[int] = frozenset()  # indexes where a call starts
        self.frames: dict[str, list[bytes]] = {}  # cipher -> framed events
        self.pos: int = 0
        self.sessions: dict[str, list] = {}       # exten -> sessions receiving now
        self.pending: dict[str, list] | None = None  # sessions to use from the next call boundary
        self.epoch: int = 0
        self.queued: bool = False                       # waiting in the build queue
        self.ready: bool = False                        # in the round-robin

    def codecs(self) -> dict[str, Any]:
        """cipher -> codec of every session receiving now or from the next call boundary."""
        out: dict[str, Any] = {}
        for group in (self.sessions, self.pending or {}):
            for lst in group.values():
                for sess in lst:
                    out.setdefault(sess.cipher, sess.codec)
        return out

    def framed(self) -> bool:
        """Has a pool framed for every cipher its sessions use."""
        if not self.texts:
            return False
        frames = self.frames
        return all(c in frames for c in self.codecs())


class Firehose:
    """Replays generated call events to logged-in sessions at ``rate`` events/s in total.

    Keywords: ``rng`` (seeded for a reproducible event stream), ``tick`` (seconds between
    rounds), ``calls_per_group`` (pool size per pair of extensions), ``refresh`` (seconds
    between looks at the logged-in sessions), ``build_share`` (fraction of a tick that may
    be spent generating and encoding pools -- of the time since the previous round, which
    is longer than ``tick`` under load; at least one pool is built per round).
    :meth:`stats` tells, among others, how many active groups are ``ready`` (built).
    """

    def __init__(self, emulator: Any, rate: float, *, rng: random.Random | None = None, tick: float = 0.01,
                 calls_per_group: int = 8, refresh: float = 0.25, build_share: float = 0.5) -> None:
        if not rate > 0:
            raise ValueError("firehose rate must be > 0 events/s")
        if not 0 < tick <= 1 or calls_per_group < 1 or not 0 < build_share <= 1 or not refresh > 0:
            raise ValueError("firehose: tick within (0, 1], calls_per_group >= 1, build_share within (0, 1]")
        self.emulator = emulator
        self.rate: float = float(rate)
        self.rng: random.Random = rng if rng is not None else random.Random()
        self.tick = tick
        self.calls_per_group = calls_per_group
        self.refresh = refresh
        self.build_share = build_share
        self.charset: Any | str = getattr(emulator, "charset", "cp949")
        self._clock = _Clock()
        self._events: list[Any] = []
        self._pbx = _make_pbx(emulator.directory, lambda exten, text: self._events.append((exten, text)),
                              self._clock, self.rng)
        self._groups: list[_Group] = []
        self._group_of: dict[str, _Group] = {}
        by_domain: dict[str, list[User]] = {}
        for u in emulator.directory.users():
            by_domain.setdefault(u.domain, []).append(u)
        for users in by_domain.values():
            for i in range(0, len(users), 2):
                g = _Group(len(self._groups), users[i:i + 2])
                self._groups.append(g)
                for e in g.extens:
                    self._group_of[e] = g
        self._active: list[_Group] = []     # groups with a session
        self._ready: list[_Group] = []      # active groups with a framed pool: the round-robin
        self._queue: deque[_Group] = deque()  # active groups waiting for a (re)build
        self._cursor = 0
        self._budget = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.Handle | None = None
        self._last = 0.0
        self._last_refresh = -1e9
        self._started_at = 0.0
        self._deadline = 0.0
        self._may_build = True
        self.delivered: int = 0
        self.replays: int = 0
        self.regenerated: int = 0
        self.built: int = 0
        self.build_errors: int = 0
        self.ticks: int = 0
        self.build_seconds: float = 0.0

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        if self._loop is not None:
            raise RuntimeError("firehose already started")
        self._loop = asyncio.get_running_loop()
        self._last = self._started_at = self._loop.time()
        log.info("firehose: %.0f events/s over %d extension groups", self.rate, len(self._groups))
        self._handle = self._loop.call_soon(self._round)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        try:
            self._pbx.close()
        except Exception:  # pragma: no cover - closing must not fail the caller
            log.exception("closing the firehose's private PBX failed")

    def stats(self) -> dict[str, Any]:
        elapsed = (self._loop.time() - self._started_at) if self._loop is not None else 0.0
        return {"rate": self.rate, "delivered": self.delivered, "replays": self.replays,
                "regenerated": self.regenerated, "built": self.built, "build_errors": self.build_errors, "active_groups": len(self._active),
                "ready_groups": len(self._ready), "elapsed": round(elapsed, 3),
                "build_seconds": round(self.build_seconds, 3)}

    # --- pools --------------------------------------------------------------------------

    def _generate(self, g: _Group) -> None:
        """(Re)fill ``g``'s pool with fresh calls (new unique ids); frames are dropped."""
        events = self._events
        events.clear()
        self._clock.now = time.time()
        starts = generate_calls(self._pbx, self._clock, g.users, self.calls_per_group, self.rng, events)
        charset = self.charset
        g.targets = [e for e, _ in events]
        g.texts = [t.encode(charset, "replace") for _, t in events]
        g.starts = frozenset(starts)
        g.frames = {}
        g.pos = 0
        g.epoch += 1
        events.clear()

    def _build(self, g: _Group, fresh: bool = False) -> None:
        """Give ``g`` a pool (a fresh one when ``fresh``) framed for its sessions' ciphers."""
        t = time.perf_counter()
        if fresh or not g.texts:
            self._generate(g)
        frames = g.frames
        for cipher, codec in g.codecs().items():
            if cipher not in frames:
                encode = codec.encode
                frames[cipher] = [encode(x) for x in g.texts]
        self.built += 1
        self.build_seconds += time.perf_counter() - t
        self._may_build = False

    def _can_build(self) -> bool:
        """Building is allowed once per round, and more while the round's build budget lasts."""
        return self._may_build or time.perf_counter() < self._deadline

    # --- sessions -----------------------------------------------------------------------

    def _refresh(self) -> None:
        by_group: dict[int, dict[str, list]] = {}
        for sess in self.emulator.sessions():
            g = self._group_of.get(sess.exten)
            if g is not None:
                by_group.setdefault(g.key, {}).setdefault(sess.exten, []).append(sess)
        active, ready = [], []
        for g in self._groups:
            now = by_group.get(g.key)
            if now is None:
                g.sessions = {}
                g.pending = None
                g.ready = False
                continue
            if g.sessions != now:
                if g.sessions:
                    # sessions that stay keep receiving; new ones wait for the next call
                    g.sessions = {e: [x for x in lst if x in now.get(e, ())] for e, lst in g.sessions.items()}
                g.pending = now
            active.append(g)
            g.ready = g.framed()
            if g.ready:
                ready.append(g)
            elif not g.queued:
                g.queued = True
                self._queue.append(g)
        self._active = active
        self._ready = ready
        if self._cursor >= len(ready):
            self._cursor = 0

    def _build_queued(self) -> None:
        queue = self._queue
        while queue and self._can_build():
            g = queue.popleft()
            g.queued = False
            if not (g.sessions or g.pending) or g.ready:
                continue
            try:
                self._build(g)
            except Exception:  # a bug: log it, leave the pair out until the next refresh
                self.build_errors += 1
                log.exception("firehose: building the pool of %s failed", "/".join(g.extens))
                continue
            g.ready = g.framed()
            if g.ready:
                self._ready.append(g)

    # --- the round ----------------------------------------------------------------------

    def _round(self) -> None:
        loop = self._loop
        if loop is None:  # closed meanwhile
            return
        self._handle = loop.call_later(self.tick, self._round)
        t_start = time.perf_counter()
        now = loop.time()
        elapsed = min(now - self._last, 0.25)   # a stalled loop does not cause a burst
        # building may take build_share of the time since the last round (rounds come late under load)
        self._deadline = t_start + max(self.tick, elapsed) * self.build_share
        self._may_build = True
        self._last = now
        self.ticks += 1
        try:
            if now - self._last_refresh >= self.refresh:
                self._last_refresh = now
                self._refresh()
            self._build_queued()
        except Exception:
            log.exception("firehose: preparing the round failed")
            return
        ready = self._ready
        if not ready:
            self._budget = 0.0
            return
        self._budget = min(self._budget + self.rate * elapsed, self.rate * 0.25)
        budget = int(self._budget)
        n = len(ready)
        cursor = self._cursor
        sent = 0
        visits = budget + n   # every visit delivers, or passes over a pool of a silent pair
        try:
            while sent < budget and visits > 0:
                visits -= 1
                if cursor >= n:
                    cursor = 0
                g = ready[cursor]
                cursor += 1
                sent += self.emit(g)
        except Exception:  # a bug: log it; the next round goes on
            log.exception("firehose: a round failed")
        self._cursor = cursor
        self._budget -= sent
        self.delivered += sent

    def emit(self, g: _Group) -> int:
        """Deliver ``g``'s next event that reaches a session; the number of sessions reached.

        Events for the pair's other extension while it has no session are passed over
        (at most one pool's worth per visit), so a visit costs budget only when it delivers.
        """
        texts_n = len(g.texts)
        for _ in range(texts_n):
            pos = g.pos
            if g.pending is not None and pos in g.starts and all(c in g.frames for c in g.codecs()):
                g.sessions = g.pending
                g.pending = None
            lst = g.sessions.get(g.targets[pos])
            sent = 0
            if lst:
                frames = g.frames
                for sess in lst:
                    sess.send_raw(frames[sess.cipher][pos])
                sent = len(lst)
            pos += 1
            if pos == texts_n:
                pos = 0
                if self._can_build():
                    g.pos = 0
                    try:
                        self._build(g, fresh=True)   # fresh unique ids
                    except Exception:  # a bug: log it and replay the old pool
                        self.build_errors += 1
                        log.exception("firehose: rebuilding the pool of %s failed", "/".join(g.extens))
                        return sent
                    self.regenerated += 1
                    if not g.framed():   # no call came out of it: the next refresh queues the pair
                        return sent
                else:
                    self.replays += 1
            g.pos = pos
            if sent:
                return sent
            texts_n = len(g.texts)
        return 0
