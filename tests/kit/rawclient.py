"""A minimal raw LGUBaseOpenApi test client built ONLY on lgucore.

It exists so the emulator's tests do not depend on the lguapi client (the two must not be
able to hide each other's mistakes). It speaks frames and texts, nothing more: no call
tracking, no typed events, no reconnects.

Example::

    from kit.rawclient import RawClient

    async with RawClient.connect("127.0.0.1", port, cipher="seed", byteorder="big") as c:
        assert (await c.login("07012343321", "secret-3321")).startswith("LOGINRESULT|STATUS:1|")
        await c.send("CMD CLICKCALL AGENT=3321 EXTEN=01012345678 CID= CONTEXT=")
        ring = await c.expect("RINGEVENT", timeout=5)   # skips other events (kept in c.received)
        text = await c.recv(timeout=5)                  # the next event text, whatever it is
        await c.heartbeat(b"tok")
        assert await c.recv_ack() == b"tok"
        await c.send_frame(b"\\x00\\x42\\x00\\x00")      # raw bytes, e.g. an unknown frame type

API summary (all timeouts in seconds; a timeout raises ``TimeoutError`` naming what arrived):

* ``RawClient.connect(host, port, *, cipher="seed", byteorder="big", ssl=None, charset="cp949",
  seed_key=..., basic_key=..., auto_pong=True)`` — awaitable, or an ``async with`` context
  manager that closes the client at the end.
* ``await c.login(id, pwd, timeout=5) -> str`` — sends ``CMD LOGIN ID=<id> PWD=<pwd> `` (the
  vendor's text, trailing space included) and returns the LOGINRESULT text.
* ``await c.send(text, cipher=None)`` — one text frame under the client's cipher (or the given one).
* ``await c.send_frame(raw)`` — raw bytes as they are (any framing, garbage included).
* ``await c.heartbeat(token=b"")`` / ``await c.recv_ack(timeout=5) -> bytes``.
* ``await c.recv(timeout=5) -> str`` — next event text; raises ``ConnectionError`` once the
  server closed the connection and every earlier event was read, and re-raises a
  ``lgucore.ProtocolError`` if the server sent something undecodable.
* ``await c.expect(name, timeout=5) -> str`` — next event whose name is ``name`` (or, when
  ``name`` contains ``|``, whose text starts with ``name``); others are skipped.
* ``await c.wait_closed(timeout=5)`` — until the server closes the connection.
* ``c.received`` (every event text, in order, PINGs included), ``c.frames`` (every frame as
  ``lgucore.Frame``), ``c.acks`` (heartbeat-ack bodies), ``c.closed`` (bool),
  ``c.pause_reading()`` / ``c.resume_reading()`` (to play a client that stops reading).
* A ``PING`` from the server is answered ``CMD|PONG`` at once and recorded in ``received``
  but not returned by ``recv`` (``auto_pong=False`` returns it like any event instead).
"""
from __future__ import annotations

import asyncio
from collections import deque

import lgucore
from lgucore import HEARTBEAT_ACK, CIPHERS, DEFAULT_BASIC_KEY, DEFAULT_SEED_KEY, FrameDecoder, ProtocolError, TextCodec

__all__ = ["RawClient"]

_CLOSED = object()


def event_name(text: str) -> str:
    """The event name of ``text``: what precedes the first ``|`` (or space, legacy form)."""
    cut = len(text)
    for sep in ("|", " "):
        i = text.find(sep)
        if 0 <= i < cut:
            cut = i
    return text[:cut]


def _tail(texts: list, n: int = 10) -> str:
    more = f"{len(texts) - n} more, then " if len(texts) > n else ""
    return more + repr(texts[-n:])


class _Protocol(asyncio.Protocol):
    def __init__(self, client: RawClient) -> None:
        self.client = client

    def connection_made(self, transport) -> None:
        self.client._transport = transport

    def data_received(self, data: bytes) -> None:
        self.client._feed(data)

    def eof_received(self):
        return False  # close our side too

    def connection_lost(self, exc) -> None:
        self.client._lost(exc)

    def pause_writing(self) -> None:
        self.client._can_write.clear()

    def resume_writing(self) -> None:
        self.client._can_write.set()


class RawClient:
    """One raw connection to an LGUBaseOpenApi server (see the module docstring)."""

    def __init__(self, *, cipher: str = "seed", byteorder: str = "big", charset: str = "cp949",
                 seed_key=DEFAULT_SEED_KEY, basic_key=DEFAULT_BASIC_KEY, auto_pong: bool = True) -> None:
        self.codec = TextCodec(cipher, seed_key=seed_key, basic_key=basic_key, byteorder=byteorder)
        self.cipher = cipher
        self.byteorder = byteorder
        self.charset = charset
        self.auto_pong = auto_pong
        self.received: list[str] = []
        self.frames: list[lgucore.Frame] = []
        self.acks: list[bytes] = []
        self.closed = False
        self.close_exc: BaseException | None = None
        self._decoder = FrameDecoder(byteorder=byteorder)
        self._texts: deque = deque()  # str, ProtocolError or _CLOSED
        self._ack_queue: deque = deque()
        self._wakeup: asyncio.Event = asyncio.Event()
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._lost_evt = asyncio.Event()
        self._transport: asyncio.Transport | None = None

    # -- connecting ---------------------------------------------------------------------
    @classmethod
    def connect(cls, host: str, port: int, *, ssl=None, server_hostname: str | None = None,
                **options) -> _Connecting:
        """Open a TCP (or TLS, with ``ssl=`` an SSLContext) connection.

        ``options`` are those of :class:`RawClient` (cipher, byteorder, charset, keys, auto_pong).
        Use as ``c = await RawClient.connect(...)`` or ``async with RawClient.connect(...) as c``.
        """
        return _Connecting(cls, host, port, ssl, server_hostname, options)

    async def _open(self, host: str, port: int, ssl, server_hostname) -> RawClient:
        loop = asyncio.get_running_loop()
        kw = {}
        if ssl is not None:
            kw["ssl"] = ssl
            kw["server_hostname"] = server_hostname or ""
        await loop.create_connection(lambda: _Protocol(self), host, port, **kw)
        return self

    # -- sending ------------------------------------------------------------------------
    async def send(self, text: str, *, cipher: str | None = None) -> None:
        """Send ``text`` as one text frame under the client's cipher (or ``cipher``)."""
        await self.send_frame(self.codec.encode(text.encode(self.charset), cipher))

    async def send_frame(self, raw: bytes) -> None:
        """Write ``raw`` bytes as they are (one or several frames, or garbage)."""
        if self._transport is None or self._transport.is_closing():
            raise ConnectionError("connection is closed")
        self._transport.write(raw)
        await self._can_write.wait()

    async def heartbeat(self, token: bytes = b"") -> None:
        """Send a HEARTBEAT frame carrying ``token`` (never enciphered)."""
        await self.send_frame(self.codec.heartbeat(token))

    async def login(self, id: str, pwd: str, *, timeout: float = 5.0) -> str:
        """Send the vendor's LOGIN text and return the LOGINRESULT text."""
        await self.send(f"CMD LOGIN ID={id} PWD={pwd} ")
        return await self.expect("LOGINRESULT", timeout=timeout)

    # -- receiving ----------------------------------------------------------------------
    def _feed(self, data: bytes) -> None:
        try:
            frames = self._decoder.feed(data)
        except ProtocolError as e:
            for f in e.frames:
                self._frame(f)
            self._texts.append(e)
            self._wakeup.set()
            if self._transport is not None:
                self._transport.abort()
            return
        for f in frames:
            self._frame(f)

    def _frame(self, frame: lgucore.Frame) -> None:
        self.frames.append(frame)
        if frame.type == HEARTBEAT_ACK:
            self.acks.append(frame.body)
            self._ack_queue.append(frame.body)
        elif frame.type in CIPHERS.values():
            try:
                text = self.codec.open(frame.type, frame.body).decode(self.charset, "replace")
            except ProtocolError as e:
                self._texts.append(e)
            else:
                self.received.append(text)
                if text == "PING" and self.auto_pong:
                    self._transport.write(self.codec.encode(b"CMD|PONG"))
                else:
                    self._texts.append(text)
        else:
            self._texts.append(ProtocolError(f"server sent a frame of unknown type 0x{frame.type:04x}"))
        self._wakeup.set()

    def _lost(self, exc) -> None:
        self.closed = True
        self.close_exc = exc
        try:
            self._decoder.eof()
        except ProtocolError as e:
            self._texts.append(e)
        self._texts.append(_CLOSED)
        self._wakeup.set()
        self._can_write.set()
        self._lost_evt.set()

    async def _next(self, queue: deque, timeout: float, what: str):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not queue:
            if self.closed and queue is self._ack_queue:
                raise ConnectionError(f"connection closed before {what}")
            self._wakeup.clear()
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"no {what} within {timeout}s; last texts: {self.received[-5:]!r}")
            try:
                await asyncio.wait_for(self._wakeup.wait(), left)
            except asyncio.TimeoutError:
                pass
        return queue[0]

    async def recv(self, timeout: float = 5.0) -> str:
        """The next event text (see the module docstring for errors)."""
        item = await self._next(self._texts, timeout, "event")
        if item is _CLOSED:
            raise ConnectionError("connection closed by the server")
        self._texts.popleft()
        if isinstance(item, ProtocolError):
            raise item
        return item

    async def expect(self, name: str, timeout: float = 5.0) -> str:
        """The next event named ``name`` (or starting with ``name`` when it contains ``|``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        skipped = []
        while True:
            left = deadline - loop.time()
            try:
                text = await self.recv(max(left, 0.0))
            except TimeoutError:
                raise TimeoutError(f"no {name} within {timeout}s; skipped {_tail(skipped)}") from None
            except ConnectionError:
                raise ConnectionError(f"connection closed before {name}; skipped {_tail(skipped)}") from None
            if (text.startswith(name) if "|" in name else event_name(text) == name):
                return text
            skipped.append(text)

    async def recv_ack(self, timeout: float = 5.0) -> bytes:
        """The body of the next HEARTBEAT_ACK."""
        await self._next(self._ack_queue, timeout, "HEARTBEAT_ACK")
        return self._ack_queue.popleft()

    async def wait_closed(self, timeout: float = 5.0) -> None:
        """Wait until the connection is closed (by the server, or by :meth:`close`)."""
        try:
            await asyncio.wait_for(self._lost_evt.wait(), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"connection still open after {timeout}s; last texts: {self.received[-5:]!r}") from None

    def pause_reading(self) -> None:
        """Stop reading from the socket (to play a slow client)."""
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    async def close(self) -> None:
        """Close the connection and wait until it is gone."""
        if self._transport is not None and not self.closed:
            self._transport.close()
            try:
                await asyncio.wait_for(self._lost_evt.wait(), 5.0)
            except asyncio.TimeoutError:
                self._transport.abort()
                await self._lost_evt.wait()

    def __repr__(self) -> str:
        return f"<RawClient cipher={self.cipher} byteorder={self.byteorder} closed={self.closed}>"


class _Connecting:
    """What :meth:`RawClient.connect` returns: awaitable, or an async context manager."""

    def __init__(self, cls, host, port, ssl, server_hostname, options) -> None:
        self._args = (host, port, ssl, server_hostname)
        self._cls = cls
        self._options = options
        self._client: RawClient | None = None

    async def _connect(self) -> RawClient:
        client = self._cls(**self._options)
        return await client._open(*self._args)

    def __await__(self):
        return self._connect().__await__()

    async def __aenter__(self) -> RawClient:
        self._client = await self._connect()
        return self._client

    async def __aexit__(self, *exc) -> None:
        await self._client.close()
