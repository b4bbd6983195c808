"""One client connection as an :class:`asyncio.Protocol`: frames in and out, heartbeat, dead detection.

It knows frames and ciphers (through :mod:`lgucore`), never commands or events: every
decoded text goes to the owner's ``_on_text(session, plain)``, every frame it cannot use
to ``_on_bad_frame(session, kind, detail)``, the end of the connection to
``_on_lost(session, reason)``. One ``loop.call_later`` timer per connection drives both
the heartbeat and the dead-connection check, so thousands of connections cost no task each.

Liveness counts complete frames, not bytes: only a text frame that deciphers or a
HEARTBEAT_ACK proves the peer alive, so a peer that trickles bytes (or sends only
garbage) is declared dead after :func:`dead_after` seconds like a silent one.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from lgucore import HEARTBEAT, HEARTBEAT_ACK, CipherError, FrameDecoder, FrameError, TextCodec

__all__ = ["Session", "dead_after"]

log = logging.getLogger("lguapi.client")


def dead_after(interval: float) -> float:
    """Seconds without a complete frame after which a connection is declared dead (PROTOCOL.md §6)."""
    return 2 * interval + 5


class Session(asyncio.Protocol):
    """The transport of one login; created by ``loop.create_connection``.

    ``owner`` must provide ``_on_text(session, plain: bytes)``,
    ``_on_bad_frame(session, kind: str, detail: str)`` and ``_on_lost(session, reason: str)``.
    ``heartbeat`` 0/None sends none and never declares the connection dead.
    """

    def __init__(self, owner: Any, codec: TextCodec, *, heartbeat: float | None, address: str,
                 max_body: int = 65535) -> None:
        self.owner = owner
        self.codec = codec
        self.address = address
        self.transport: asyncio.Transport | None = None
        self.decoder = FrameDecoder(byteorder=codec.byteorder, max_body=max_body)
        self.heartbeat = heartbeat or 0.0
        self.loop = asyncio.get_running_loop()
        self.last_rx = self.loop.time()
        self.next_hb = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.closed = self.loop.create_future()
        self.reason: str | None = None  # why we are closing it, when we are
        self.paused = False
        self.bad_frames = 0

    # --- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        now = self.loop.time()
        self.last_rx = now
        if self.heartbeat > 0:
            self.next_hb = now + self.heartbeat
            self._schedule(now)

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.decoder.feed(data)
            error = None
        except FrameError as e:
            frames = e.frames
            error = e
        owner = self.owner
        codec = self.codec
        for ftype, body in frames:
            if ftype == HEARTBEAT_ACK:
                self.last_rx = self.loop.time()
                continue
            if self.transport is None or self.transport.is_closing():
                return
            try:
                plain = codec.open(ftype, body)
            except CipherError as e:
                self._bad("undecodable", f"undecodable frame dropped ({e})")
                continue
            except FrameError:
                if ftype != HEARTBEAT:
                    self._bad("unknown-type", f"frame of unknown type 0x{ftype:04x} ({len(body)} bytes) ignored")
                continue
            self.last_rx = self.loop.time()
            owner._on_text(self, plain)
        if error is not None:
            self.abort(f"framing error: {error}")

    def _bad(self, kind: str, detail: str) -> None:
        self.bad_frames += 1
        self.owner._on_bad_frame(self, kind, detail)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        reason = self.reason
        if reason is None:
            if exc is not None:
                reason = f"connection lost: {exc}"
            else:
                reason = "closed by the server"
        pending = self.decoder.pending
        if pending:
            try:
                self.decoder.eof()
            except FrameError as e:
                reason += f" (a partial frame of {pending} bytes was pending: {e})"
        self.transport = None
        if not self.closed.done():
            self.closed.set_result(None)
        self.owner._on_lost(self, reason)

    # --- timers ------------------------------------------------------------------------

    def _schedule(self, now: float) -> None:
        when = min(self.next_hb, self.last_rx + dead_after(self.heartbeat))
        self.timer = self.loop.call_at(max(when, now + 0.001), self._tick)

    def _tick(self) -> None:
        self.timer = None
        if self.transport is None or self.transport.is_closing():
            return
        now = self.loop.time()
        if self.paused:
            # we stopped reading ourselves: silence is ours, not the server's
            self.last_rx = now
        silent = now - self.last_rx
        if silent >= dead_after(self.heartbeat):
            log.warning("%s: no complete frame received for %.1f s (heartbeat %g s): connection declared dead",
                        self.address, silent, self.heartbeat)
            self.abort(f"dead: nothing received (no complete frame) for {silent:.1f} s")
            return
        if now >= self.next_hb:
            self.transport.write(self.codec.heartbeat(b""))
            self.next_hb = now + self.heartbeat
        self._schedule(now)

    # --- actions -----------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionError("the connection is closed")
        self.transport.write(data)

    def pause(self) -> None:
        if not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            self.last_rx = self.loop.time()
            if self.transport is not None and not self.transport.is_closing():
                self.transport.resume_reading()

    def close(self, reason: str) -> None:
        """Close after flushing what was written (``reason`` ends up in Disconnected)."""
        if self.transport is not None and not self.transport.is_closing():
            self.reason = reason
            self.transport.close()

    def abort(self, reason: str) -> None:
        if self.transport is not None:
            if self.reason is None:
                self.reason = reason
            self.transport.abort()
