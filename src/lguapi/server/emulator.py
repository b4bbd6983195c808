"""The emulator's TCP server: listens, owns the sessions and the PBX, routes events by extension.

>>> async def main():                                                   # doctest: +SKIP
...     async with Emulator(Directory.generate("3001-3010"), port=0) as emu:
...         print("listening on", emu.port)
...         await asyncio.Event().wait()
"""
from __future__ import annotations

import asyncio
import logging
import random
import ssl as _ssl
import time
from typing import TYPE_CHECKING, Callable, Iterable

from lgucore import CIPHERS, DEFAULT_BASIC_KEY, DEFAULT_SEED_KEY, MAX_BODY, TextCodec

from .accounts import Directory, User
from .session import Session

if TYPE_CHECKING:  # pragma: no cover
    from .pbx import Pbx

__all__ = ["Emulator", "LoginGuard"]

log: logging.Logger = logging.getLogger("lguapi.server")


class LoginGuard:
    """Failed-login bookkeeping: ``max_failures`` wrong passwords for one ID within ``window``
    seconds lock that ID for ``duration`` seconds (docs/protocol.md §6; STATUS -5).

    The attempt that reaches ``max_failures`` is still answered -2; later attempts, right
    password or not, get -5 until the lock expires. Attempts while locked neither extend
    the lock nor count. A successful login clears the ID's failures.
    """

    def __init__(self, max_failures: int = 5, window: float = 60.0, duration: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        if max_failures < 1 or window <= 0 or duration < 0:
            raise ValueError("lockout must be (max_failures >= 1, window > 0, duration >= 0)")
        self.max_failures = max_failures
        self.window = window
        self.duration = duration
        self.clock = clock
        self._failures: dict[str, list[float]] = {}
        self._locked_until: dict[str, float] = {}

    def locked(self, id: str) -> float:
        """Seconds until ``id`` may log in again (0 when it is not locked)."""
        until = self._locked_until.get(id)
        if until is None:
            return 0.0
        left = until - self.clock()
        if left <= 0:
            del self._locked_until[id]
            self._failures.pop(id, None)
            return 0.0
        return left

    def fail(self, id: str) -> bool:
        """Record a wrong password; True when this failure locks the ID."""
        now = self.clock()
        recent = [t for t in self._failures.get(id, ()) if now - t < self.window]
        recent.append(now)
        if len(recent) >= self.max_failures:
            self._failures.pop(id, None)
            self._locked_until[id] = now + self.duration
            return True
        self._failures[id] = recent
        return False

    def success(self, id: str) -> None:
        self._failures.pop(id, None)


class Emulator:
    """An LGUBaseOpenApi server for tests and demos, on top of the in-memory :class:`Pbx`.

    Keywords:
        host, port: where to listen (``port=0`` picks a free port; read :attr:`port`).
        ssl: an :class:`ssl.SSLContext` to serve TLS (docs/protocol.md §1), or None.
        byteorder: frame header byte order, ``"big"`` or ``"little"``.
        ciphers: the ciphers LOGIN may use; another one is refused with STATUS -4.
        seed_key, basic_key: cipher keys (the vendor's by default).
        charset: text charset (``cp949`` or ``utf-8``).
        idle_timeout: close a connection that completes no frame for this long; a logged-in
            one is sent ``PING`` after half of it (any complete frame, ``CMD|PONG`` included,
            counts as activity; bytes of an unfinished frame do not).
        frame_timeout: a frame must be complete this many seconds after its first byte
            arrived, else the connection is answered ``CMDERROR|CMD:FRAME`` and closed
            (default 30).
        max_connections: open connections in all (default 20000); one more is answered
            ``CMDERROR|CMD:CONNECT|MSG:too many connections ...`` and closed.
        max_connections_per_address: open connections from one IP address (default 10000),
            refused the same way.
        max_frames_per_turn: frames one connection may have handled per event-loop turn
            (default 200); the rest wait for the next turn with reading paused, so a burst
            on one connection never holds the loop for the others.
        max_bad_frames: close after this many undecodable text frames in a row.
        max_body: largest body a frame may claim; a longer claim closes the connection.
        max_send_buffer: bytes queued for a client that does not read before it is closed.
        ring_timeout, auto_answer, clock, rng: passed to the PBX.
        max_userinfo_bytes, max_addressbook: the PBX's bounds on per-user state (SETUSERINFO
            bytes per extension, address-book entries per domain); passed to the PBX.
        lockout: ``(max_failures, window_seconds, lock_seconds)``; ``clock`` times it.
        pbx_factory: build the PBX (``factory(directory, deliver=, online=, ...)``); the
            default is :class:`lguapi.server.pbx.Pbx`.
        close_grace: seconds a closed connection may still spend flushing before it is aborted.
    """

    def __init__(self, directory: Directory, *, host: str = "127.0.0.1", port: int = 8086,
                 ssl: _ssl.SSLContext | None = None, byteorder: str = "big",
                 ciphers: Iterable[str] = ("none", "basic", "seed"), seed_key: bytes = DEFAULT_SEED_KEY, basic_key: bytes = DEFAULT_BASIC_KEY,
                 charset: str = "cp949", idle_timeout: float = 90.0, max_bad_frames: int = 5,
                 max_body: int = MAX_BODY, max_send_buffer: int = 4 << 20, ring_timeout: float = 60.0,
                 auto_answer: float | None = None, lockout: tuple[int, float, float] = (5, 60.0, 60.0),
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None,
                 pbx_factory: Callable | None = None, close_grace: float = 5.0, frame_timeout: float = 30.0,
                 max_connections: int = 20000, max_connections_per_address: int = 10000,
                 max_userinfo_bytes: int = 64 * 1024, max_addressbook: int = 5000,
                 max_frames_per_turn: int = 200) -> None:
        ciphers = tuple(ciphers)
        if not ciphers or any(c not in CIPHERS for c in ciphers):
            raise ValueError(f"ciphers must be a non-empty subset of {sorted(CIPHERS)}, not {ciphers!r}")
        if byteorder not in ("big", "little"):
            raise ValueError(f"byteorder must be 'big' or 'little', not {byteorder!r}")
        "".encode(charset)  # LookupError for an unknown charset, now rather than per event
        if not idle_timeout > 0:
            raise ValueError("idle_timeout must be > 0")
        if max_bad_frames < 1:
            raise ValueError("max_bad_frames must be >= 1")
        if not 64 <= max_body <= MAX_BODY:
            raise ValueError(f"max_body must be within 64..{MAX_BODY}")
        if max_send_buffer < 1024:
            raise ValueError("max_send_buffer must be >= 1024")
        if not frame_timeout > 0:
            raise ValueError("frame_timeout must be > 0")
        if max_frames_per_turn < 1:
            raise ValueError("max_frames_per_turn must be >= 1")
        if max_connections < 1 or max_connections_per_address < 1:
            raise ValueError("max_connections and max_connections_per_address must be >= 1")
        self.directory = directory
        self.host = host
        self._port = port
        self.ssl = ssl
        self.byteorder = byteorder
        self.ciphers = ciphers
        self.charset = charset
        self.idle_timeout: float = float(idle_timeout)
        self.max_bad_frames = max_bad_frames
        self.max_body = max_body
        self.max_send_buffer = max_send_buffer
        self.close_grace = close_grace
        self.frame_timeout: float = float(frame_timeout)
        self.max_connections = max_connections
        self.max_connections_per_address = max_connections_per_address
        self.max_frames_per_turn = max_frames_per_turn
        #: BYEs sent to a session because the same ID logged in again elsewhere
        self.duplicate_login_byes: int = 0
        #: times a connection's frames were left for a later loop turn (max_frames_per_turn)
        self.deferred_turns = 0
        self._per_address: dict[object, int] = {}
        self._codecs = {c: TextCodec(c, seed_key=seed_key, basic_key=basic_key, byteorder=byteorder) for c in CIPHERS}
        self._guard = LoginGuard(*lockout, clock=clock)
        self._conns: set[Session] = set()
        #: BYEs sent because a second login of the same ID replaced the first
        self.duplicate_login_byes = 0
        self._by_id: dict[str, Session] = {}
        self._by_exten: dict[str, list[Session]] = {}
        self._dirty: list[Session] = []
        self._flush_handle: asyncio.Handle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        if pbx_factory is None:
            from .pbx import Pbx
            pbx_factory = Pbx
        self.pbx: Pbx = pbx_factory(directory, deliver=self.deliver, ring_timeout=ring_timeout, auto_answer=auto_answer,
                               clock=clock, rng=rng, online=self.online, max_userinfo_bytes=max_userinfo_bytes,
                               max_addressbook=max_addressbook)

    def __repr__(self) -> str:
        state = f"port={self.port}" if self._server is not None else "not started"
        return f"<Emulator {state} {len(self._conns)} connection(s) {len(self._by_id)} logged in>"

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen; returns once the port accepts connections."""
        if self._server is not None:
            raise RuntimeError("emulator already started")
        self._loop = asyncio.get_running_loop()
        self._server = await self._loop.create_server(lambda: Session(self), self.host, self._port,
                                                      ssl=self.ssl, backlog=4096)
        log.info("emulator listening on %s:%d (%s, ciphers %s%s)", self.host, self.port, self.byteorder,
                 ",".join(self.ciphers), ", TLS" if self.ssl else "")

    async def close(self) -> None:
        """Stop listening, close every connection, stop the PBX's timers."""
        if self._server is not None:
            self._server.close()
        conns = list(self._conns)
        for s in conns:
            s.close("emulator shutting down")
        pending = [s.closed for s in conns if not s.closed.done()]
        if pending:
            done, not_done = await asyncio.wait(pending, timeout=self.close_grace)
            for s in conns:
                if not s.closed.done() and s.transport is not None:
                    s.transport.abort()
            if not_done:
                await asyncio.wait(not_done, timeout=1.0)
        if self._server is not None:
            await self._server.wait_closed()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self.pbx.close()
        log.info("emulator closed")

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``port=0``); the configured one before :meth:`start`."""
        if self._server is not None and self._server.sockets:
            return self._server.sockets[0].getsockname()[1]
        return self._port

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the emulator runs on (``None`` before :meth:`start`)."""
        return self._loop

    @property
    def login_guard(self) -> LoginGuard:
        """The failed-login bookkeeping (lockouts) shared by every session."""
        return self._guard

    def codec(self, cipher: str) -> TextCodec:
        """The emulator's :class:`lgucore.TextCodec` of ``cipher`` (its keys and byte order)."""
        return self._codecs[cipher]

    # -- sessions and routing -------------------------------------------------------------
    def sessions(self) -> list[Session]:
        """The logged-in sessions."""
        return [s for lst in self._by_exten.values() for s in lst]

    @property
    def connection_count(self) -> int:
        """Open connections, logged in or not."""
        return len(self._conns)

    def deliver(self, exten: str, text: str) -> None:
        """Send event ``text`` to every session logged in for ``exten`` (the PBX's ``deliver``).

        An extension with no session logged in has no one to tell: the event is not sent.
        """
        lst = self._by_exten.get(exten)
        if not lst:
            return
        if len(lst) == 1:
            lst[0].send_text(text)
        else:
            for s in tuple(lst):
                s.send_text(text)

    def online(self, exten: str) -> bool:
        """Is an API session logged in for ``exten`` (the PBX's ``online``)."""
        return exten in self._by_exten

    def admit(self, s: Session) -> str | None:
        """Count a new connection in, or say why it is refused (a cap is reached)."""
        if len(self._conns) >= self.max_connections:
            return f"too many connections (max_connections={self.max_connections})"
        addr = s.peer[0] if s.peer else None
        if self._per_address.get(addr, 0) >= self.max_connections_per_address:
            return f"too many connections from {addr} (max_connections_per_address={self.max_connections_per_address})"
        self._conns.add(s)
        self._per_address[addr] = self._per_address.get(addr, 0) + 1
        return None

    def logged_in(self, s: Session, user: User) -> None:
        """Register ``s``, just logged in as ``user``; an older session of the same ID gets BYE and is closed."""
        old = self._by_id.get(user.id)
        if old is not None and old is not s:
            self.duplicate_login_byes += 1
            old.send_text("BYE|REASON:duplicate login")
            old.close("duplicate login")
        self._by_id[user.id] = s
        self._by_exten.setdefault(user.exten, []).append(s)

    def forget(self, s: Session) -> None:
        """Drop ``s`` from the connection counts and the routing tables (it is closing)."""
        if s in self._conns:
            self._conns.discard(s)
            addr = s.peer[0] if s.peer else None
            left = self._per_address.get(addr, 1) - 1
            if left > 0:
                self._per_address[addr] = left
            else:
                self._per_address.pop(addr, None)
        if s.user is None:
            return
        if self._by_id.get(s.user.id) is s:
            del self._by_id[s.user.id]
        if s.exten is None:
            return
        lst = self._by_exten.get(s.exten)
        if lst is not None and s in lst:
            lst.remove(s)
            if not lst:
                del self._by_exten[s.exten]

    def schedule_flush(self, s: Session) -> None:
        """Have ``s`` flushed at the end of this loop iteration, with every other session."""
        self._dirty.append(s)
        if self._flush_handle is None and self._loop is not None:
            self._flush_handle = self._loop.call_soon(self._flush_all)

    def _flush_all(self) -> None:
        self._flush_handle = None
        dirty, self._dirty = self._dirty, []
        for s in dirty:
            try:
                s.flush()
            except Exception:  # one broken transport must not starve the others
                log.exception("%r: flush failed", s)
                s.abort("flush failed")
