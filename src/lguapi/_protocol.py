"""One client connection as an :class:`asyncio.Protocol`: frames in and out, heartbeat, dead detection.

It knows frames and ciphers (through :mod:`lgucore`), never commands or events: every
decoded text goes to the owner's ``_on_text(session, plain)``, the end of each turn (the
texts of one read, or of one bounded part of it) to ``_on_turn_end(session)``, every frame
it cannot use to ``_on_bad_frame(session, kind, detail)``, the end of the connection to
``_on_lost(session, reason)``. One ``loop.call_later`` timer per connection drives both
the heartbeat and the dead-connection check, so thousands of connections cost no task each.

Liveness counts complete frames, not bytes: only a text frame that deciphers or a
HEARTBEAT_ACK proves the peer alive, so a peer that trickles bytes (or sends only
garbage) is declared dead after :func:`dead_after` seconds like a silent one.

Fair scheduling: one read can bring a thousand frames, and thousands of connections can be
ready in the same loop iteration. A session handles at most ``frames_per_turn`` frames per
iteration; the rest wait in its backlog (reading stays paused meanwhile) and continue on the
next iteration, after timers and every other connection had their turn. A connection whose
frames wait in its own backlog is alive, and a timer that fires late because the process was
busy looks again once the loop has read, so no connection is declared dead for our own delay.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Sequence

from lgucore import HEARTBEAT, HEARTBEAT_ACK, CipherError, FrameDecoder, FrameError, TextCodec

__all__ = ["Session", "dead_after", "FRAMES_PER_TURN", "READ_SIZE"]

#: default bound of frames one connection handles per loop iteration
FRAMES_PER_TURN = 64
#: default bound of bytes one connection takes from its socket per read (about 50 SEED events: one turn)
READ_SIZE = 12 * 1024

_NO_FRAMES: tuple = ()  # the empty backlog
_buffers = threading.local()  # one receive buffer per thread (per event loop), per size

log = logging.getLogger("lguapi.client")


def dead_after(interval: float) -> float:
    """Seconds without a complete frame after which a connection is declared dead (docs/protocol.md §6)."""
    return 2 * interval + 5


def _read_buffer(size: int) -> memoryview:
    """The receive buffer every session of this thread shares: a read is decoded (whole frames
    copied out, a partial one held by the decoder) before the loop makes the next read."""
    bufs = getattr(_buffers, "by_size", None)
    if bufs is None:
        bufs = _buffers.by_size = {}
    buf = bufs.get(size)
    if buf is None:
        buf = bufs[size] = memoryview(bytearray(size))
    return buf


class Session(asyncio.BufferedProtocol):
    """The transport of one login; created by ``loop.create_connection``.

    ``owner`` must provide ``_on_text(session, plain: bytes)``, ``_on_turn_end(session)``
    (after the last text of a turn, even when the owner raised),
    ``_on_bad_frame(session, kind: str, detail: str)`` and ``_on_lost(session, reason: str)``.
    ``heartbeat`` 0/None sends none and never declares the connection dead. ``read_size``
    bounds the bytes taken from the socket per read (into a buffer all sessions of the thread
    share): what a saturated connection sends beyond it waits in the kernel, not in this
    process, so thousands of busy connections hold no backlog of decoded frames.
    """

    def __init__(self, owner: Any, codec: TextCodec, *, heartbeat: float | None, address: str,
                 max_body: int = 65535, frames_per_turn: int = FRAMES_PER_TURN, capture: Any = None,
                 read_size: int = READ_SIZE) -> None:
        if frames_per_turn < 1:
            raise ValueError("frames_per_turn must be at least 1")
        if read_size < 1:
            raise ValueError("read_size must be at least 1")
        self._rbuf = _read_buffer(read_size)
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
        self.frames_per_turn = frames_per_turn
        self._backlog: Sequence = _NO_FRAMES  # frames read but not handled yet (fair scheduling)
        self._next = 0  # index of the next frame of the backlog
        self._error: FrameError | None = None  # a framing error found behind the backlog
        self._turn: asyncio.Handle | None = None
        self._reading_off = False  # transport.pause_reading() was called and not undone yet
        self._due = 0.0  # when the timer was meant to fire
        #: ``(CaptureWriter, connection id)`` when frames are recorded (lguapi.capture)
        self.capture = capture

    # --- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        now = self.loop.time()
        self.last_rx = now
        if self.heartbeat > 0:
            self.next_hb = now + self.heartbeat
            self._schedule(now)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._rbuf

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._rbuf[:nbytes])

    def data_received(self, data) -> None:
        try:
            frames = self.decoder.feed(data)
            error = None
        except FrameError as e:
            frames = e.frames
            error = e
        if self._next < len(self._backlog):  # never overtake frames still waiting
            self._backlog = [*self._backlog[self._next:], *frames]
            self._next = 0
            if error is not None:
                self._error = error
            return
        self._backlog = frames if type(frames) is list else list(frames)
        self._next = 0
        self._error = error
        self._run()

    def _run(self, final: bool = False) -> None:
        """Handle up to ``frames_per_turn`` frames of the backlog; the rest on the next turn.

        ``final``: the peer has closed; handle everything that arrived before it did."""
        self._turn = None
        if self.paused and not final:
            return  # resume() schedules the rest
        try:
            self._handle(final)
        finally:
            self.owner._on_turn_end(self)  # the owner hands the turn's events on at once

    def _handle(self, final: bool) -> None:
        """The body of one turn: open, deliver and account for the frames of the backlog."""
        frames = self._backlog
        i = self._next
        end = len(frames) if final else min(len(frames), i + self.frames_per_turn)
        on_text = self.owner._on_text
        open_text = self.codec.open
        capture = self.capture
        transport = self.transport
        alive = False  # a complete frame proved the peer alive during this turn
        while i < end:
            ftype, body = frames[i]
            i += 1
            if ftype == HEARTBEAT_ACK:
                alive = True
                if capture is not None:
                    capture[0].received(capture[1], ftype, body)
                continue
            if not final and (transport is None or transport.is_closing()):
                self._backlog = _NO_FRAMES  # we are closing it (BYE, abort): what follows is not read
                self._next = 0
                return
            try:
                plain = open_text(ftype, body)
            except CipherError as e:
                if capture is not None:
                    capture[0].received(capture[1], ftype, body)
                self._bad("undecodable", f"undecodable frame dropped ({e})")
                continue
            except FrameError:
                if ftype != HEARTBEAT:
                    self._bad("unknown-type", f"frame of unknown type 0x{ftype:04x} ({len(body)} bytes) ignored")
                continue
            alive = True
            on_text(self, plain)
            if self.paused and not final:
                break  # the owner stopped reading (its consumers are behind): stop here too
        if alive:
            self.last_rx = self.loop.time()  # once per turn: the frames of one turn arrived together
        self._next = i
        if final:
            self._backlog = _NO_FRAMES
            self._next = 0
            return
        if i < len(frames):
            if not self.paused and transport is not None:
                if not self._reading_off:
                    self._reading_off = True
                    transport.pause_reading()  # read nothing more until the backlog is handled
                self._turn = self.loop.call_soon(self._run)
            return  # when paused by the owner, resume() picks the backlog up
        self._backlog = _NO_FRAMES  # not a new list per read: that would be one more object for the collector
        self._next = 0
        if self._error is not None:
            error, self._error = self._error, None
            self.abort(f"framing error: {error}")
        elif self._reading_off and not self.paused and transport is not None and not transport.is_closing():
            self._reading_off = False  # the common case (a read handled at once) costs no call here
            transport.resume_reading()

    @property
    def backlog(self) -> int:
        """Frames read but not handled yet."""
        return len(self._backlog) - self._next

    def _bad(self, kind: str, detail: str) -> None:
        self.bad_frames += 1
        self.owner._on_bad_frame(self, kind, detail)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self._turn is not None:
            self._turn.cancel()
            self._turn = None
        if self.reason is None and self._next < len(self._backlog):
            self._run(final=True)  # the peer closed: what it sent before that is still delivered
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
        when = max(min(self.next_hb, self.last_rx + dead_after(self.heartbeat)), now + 0.001)
        self._due = when
        self.timer = self.loop.call_at(when, self._tick)

    def _tick(self) -> None:
        self.timer = None
        if self.transport is None or self.transport.is_closing():
            return
        now = self.loop.time()
        if self.paused or self._next < len(self._backlog):
            # we stopped reading ourselves, or frames wait for their turn: the silence is ours
            self.last_rx = now
        silent = now - self.last_rx
        if silent >= dead_after(self.heartbeat) and now - self._due > 1.0:
            # the loop was busy when this timer was due: what arrived meanwhile is unread yet,
            # so look again once the loop has read
            self._due = now + 0.25
            self.timer = self.loop.call_at(self._due, self._tick)
            return
        if silent >= dead_after(self.heartbeat):
            log.warning("%s: no complete frame received for %.1f s (heartbeat %g s): connection declared dead",
                        self.address, silent, self.heartbeat)
            self.abort(f"dead: nothing received (no complete frame) for {silent:.1f} s")
            return
        if now >= self.next_hb:
            self.transport.write(self.codec.heartbeat(b""))
            self.next_hb = now + self.heartbeat
            if self.capture is not None:
                self.capture[0].sent(self.capture[1], HEARTBEAT, b"")
        if self.capture is not None:
            self.capture[0].flush_if_due()
        self._schedule(now)

    # --- actions -----------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionError("the connection is closed")
        self.transport.write(data)

    def pause(self) -> None:
        if not self.paused and self.transport is not None:
            self.paused = True
            self._reading_off = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            self.last_rx = self.loop.time()
            if self._next < len(self._backlog):
                if self._turn is None:  # finish the backlog first; reading resumes after it
                    self._turn = self.loop.call_soon(self._run)
            elif self.transport is not None and not self.transport.is_closing():
                self._reading_off = False
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
