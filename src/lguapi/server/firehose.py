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
outside numbers. Every ``tick`` seconds the firehose hands out ``rate * tick`` event
deliveries round-robin over the pairs that have a session logged in, one event per
visit, in pool order, so each session sees its calls progress event by event. A new
session starts receiving at its pair's next call boundary (never in the middle of a
call). When a pool is used up it is regenerated with fresh unique ids if the tick's
CPU budget allows, else replayed as is (``stats()["replays"]``): at high rates a client
may see a finished call's unique ids again in a later, identical call.

>>> hose = Firehose(emulator, 50_000, rng=random.Random(7))   # doctest: +SKIP
>>> hose.start(); ...; hose.close()                          # doctest: +SKIP
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

from .accounts import User

__all__ = ["Firehose", "generate_calls"]

log = logging.getLogger("lguapi.server.firehose")

_OUTSIDE = "010"


def _make_pbx(directory: Any, deliver: Any, clock: Any, rng: random.Random) -> Any:
    from .pbx import Pbx

    return Pbx(directory, deliver=deliver, ring_timeout=0, auto_answer=None, clock=clock, rng=rng,
               online=lambda exten: True)


class _Clock:
    """A manual clock for the private PBX (epoch seconds)."""

    __slots__ = ("now",)

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def generate_calls(pbx: Any, clock: _Clock, users: list[User], n_calls: int, rng: random.Random,
                   events: list) -> list[int]:
    """Drive ``n_calls`` calls among ``users`` (1 or 2) through ``pbx``; its deliver callback
    appends ``(exten, text)`` to ``events``. Returns the index in ``events`` where each call starts.

    Scenarios: inbound answered (either side hangs up), inbound abandoned, outbound to an
    outside number answered or not, and with two users internal calls either way.
    """
    starts = []
    for _ in range(n_calls):
        starts.append(len(events))
        a = rng.choice(users)
        other = users[1] if len(users) == 2 and a is users[0] else users[0]
        outside = _OUTSIDE + f"{rng.randrange(10 ** 8):08d}"
        kind = rng.random()
        answered = rng.random() < 0.85
        ring = rng.uniform(1.0, 8.0)
        talk = rng.uniform(3.0, 120.0)
        clock.now += rng.uniform(1.0, 20.0)
        if kind < 0.5:                                   # inbound
            call = pbx.external_call(outside, a.callerid or a.exten)
            clock.now += ring
            if answered:
                pbx.phone_answer(a.exten)
                clock.now += talk
                if rng.random() < 0.5:
                    pbx.phone_hangup(a.exten)
                else:
                    pbx.external_hangup(call)
            else:
                pbx.external_hangup(call)
        elif kind < 0.8 or len(users) == 1:              # outbound (what CLICKCALL produces)
            call = pbx.phone_dial(a.exten, outside)
            clock.now += ring
            if answered:
                pbx.external_answer(call)
                clock.now += talk
                if rng.random() < 0.5:
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
                pbx.phone_hangup(a.exten if rng.random() < 0.5 else other.exten)
            else:
                pbx.phone_hangup(a.exten)
    return starts


class _Group:
    """One pair (or single) of extensions, its pool of events and its cursor."""

    __slots__ = ("key", "users", "extens", "texts", "targets", "starts", "frames", "pos", "next_start",
                 "sessions", "pending", "epoch")

    def __init__(self, key: int, users: list[User]) -> None:
        self.key = key
        self.users = users
        self.extens = tuple(u.exten for u in users)
        self.texts: list[bytes] = []            # encoded in the charset, not yet framed
        self.targets: list[str] = []            # exten of each event
        self.starts: frozenset[int] = frozenset()
        self.frames: dict[str, list[bytes]] = {}  # cipher -> framed events
        self.pos = 0
        self.sessions: dict[str, list] = {}     # exten -> sessions receiving now
        self.pending: dict[str, list] | None = None  # sessions to use from the next call boundary
        self.epoch = 0


class Firehose:
    """Replays generated call events to logged-in sessions at ``rate`` events/s in total.

    Keywords: ``rng`` (seeded for a reproducible event stream), ``tick`` (seconds between
    rounds), ``calls_per_group`` (pool size per pair of extensions), ``refresh`` (seconds
    between looks at the logged-in sessions), ``build_share`` (fraction of a tick that may
    be spent generating and encoding pools).
    """

    def __init__(self, emulator: Any, rate: float, *, rng: random.Random | None = None, tick: float = 0.01,
                 calls_per_group: int = 8, refresh: float = 0.25, build_share: float = 0.3) -> None:
        if not rate > 0:
            raise ValueError("firehose rate must be > 0 events/s")
        if not 0 < tick <= 1 or calls_per_group < 1 or not 0 < build_share <= 1 or not refresh > 0:
            raise ValueError("firehose: tick within (0, 1], calls_per_group >= 1, build_share within (0, 1]")
        self.emulator = emulator
        self.rate = float(rate)
        self.rng = rng if rng is not None else random.Random()
        self.tick = tick
        self.calls_per_group = calls_per_group
        self.refresh = refresh
        self.build_share = build_share
        self.charset = getattr(emulator, "charset", "cp949")
        self._clock = _Clock()
        self._events: list = []
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
        self._active: list[_Group] = []
        self._cursor = 0
        self._budget = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._last = 0.0
        self._last_refresh = -1e9
        self._started_at = 0.0
        self.delivered = 0
        self.replays = 0
        self.regenerated = 0
        self.ticks = 0
        self.build_seconds = 0.0
        self._may_build = True

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

    def stats(self) -> dict:
        elapsed = (self._loop.time() - self._started_at) if self._loop is not None else 0.0
        return {"rate": self.rate, "delivered": self.delivered, "replays": self.replays,
                "regenerated": self.regenerated, "active_groups": len(self._active),
                "elapsed": round(elapsed, 3), "build_seconds": round(self.build_seconds, 3)}

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

    def _encode(self, g: _Group, cipher: str, codec: Any) -> None:
        encode = codec.encode
        g.frames[cipher] = [encode(t) for t in g.texts]

    def _ready(self, g: _Group, deadline: float) -> bool:
        """Make sure ``g`` has a pool framed for its sessions' ciphers (within the build budget)."""
        if not g.texts:
            if not self._can_build(deadline):
                return False
            self._timed(self._generate, g)
        sessions = g.pending if g.pending is not None and g.pos in g.starts else g.sessions
        for lst in sessions.values():
            for s in lst:
                if s.cipher not in g.frames:
                    if not self._can_build(deadline):
                        return False
                    self._timed(self._encode, g, s.cipher, s.codec)
        return True

    def _can_build(self, deadline: float) -> bool:
        """Building is allowed once per round, and more while the round's build budget lasts."""
        return self._may_build or time.perf_counter() < deadline

    def _timed(self, fn, *args) -> None:
        t = time.perf_counter()
        fn(*args)
        self.build_seconds += time.perf_counter() - t
        self._may_build = False

    # --- sessions -----------------------------------------------------------------------

    def _refresh(self) -> None:
        by_group: dict[int, dict[str, list]] = {}
        for s in self.emulator.sessions():
            g = self._group_of.get(s.exten)
            if g is None:
                continue
            by_group.setdefault(g.key, {}).setdefault(s.exten, []).append(s)
        active = []
        for g in self._groups:
            now = by_group.get(g.key)
            if now is None:
                g.sessions = {}
                g.pending = None
                continue
            if g.sessions != now:
                if g.sessions:
                    # sessions that stay keep receiving; new ones wait for the next call
                    g.sessions = {e: [s for s in lst if s in now.get(e, ())] for e, lst in g.sessions.items()}
                    g.pending = now
                else:
                    g.pending = now
            active.append(g)
        self._active = active
        if self._cursor >= len(active):
            self._cursor = 0

    # --- the round ----------------------------------------------------------------------

    def _round(self) -> None:
        loop = self._loop
        self._handle = loop.call_later(self.tick, self._round)
        t_start = time.perf_counter()
        now = loop.time()
        elapsed = min(now - self._last, 0.25)   # a stalled loop does not cause a burst
        self._last = now
        self.ticks += 1
        if now - self._last_refresh >= self.refresh:
            self._last_refresh = now
            try:
                self._refresh()
            except Exception:
                log.exception("firehose: reading the sessions failed")
                return
        active = self._active
        if not active:
            self._budget = 0.0
            return
        self._budget = min(self._budget + self.rate * elapsed, self.rate * 0.25)
        budget = int(self._budget)
        if budget <= 0:
            return
        deadline = t_start + self.tick * self.build_share
        self._may_build = True
        n = len(active)
        cursor = self._cursor
        sent = 0
        idle_visits = 0
        while sent < budget and idle_visits < n:
            g = active[cursor]
            cursor += 1
            if cursor == n:
                cursor = 0
            got = self._emit(g, deadline)
            if got:
                sent += got
                idle_visits = 0
            else:
                idle_visits += 1
        self._cursor = cursor
        self._budget -= sent
        self.delivered += sent

    def _emit(self, g: _Group, deadline: float) -> int:
        """Deliver ``g``'s next event that reaches a session; the number of sessions reached.

        Events for the pair's other extension while it has no session are passed over
        (at most one pool's worth per visit), so a visit costs budget only when it delivers.
        """
        for _ in range(len(g.texts) or 1):
            pos = g.pos
            if g.pending is not None and (pos in g.starts or not g.texts):
                if not self._ready(g, deadline):
                    return 0
                g.sessions = g.pending
                g.pending = None
                pos = g.pos
            elif not self._ready(g, deadline):
                return 0
            lst = g.sessions.get(g.targets[pos])
            sent = 0
            if lst:
                frames = g.frames
                for s in lst:
                    s.send_raw(frames[s.cipher][pos])
                sent = len(lst)
            pos += 1
            if pos == len(g.texts):
                pos = 0
                if self._can_build(deadline):
                    self._timed(self._generate, g)   # fresh unique ids; framed lazily by _ready
                    self.regenerated += 1
                else:
                    self.replays += 1
            g.pos = pos
            if sent:
                return sent
        return 0
