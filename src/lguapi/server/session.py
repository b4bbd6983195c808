"""One client connection of the emulator (docs/protocol.md §6): frames in, commands to the PBX, events out.

A :class:`Session` is an :class:`asyncio.Protocol` (no task per connection). It decodes
frames with :class:`lgucore.FrameDecoder`, opens text frames with the emulator's
:class:`lgucore.TextCodec`, parses commands with :func:`parse_command`, handles LOGIN, PONG
and heartbeats itself and hands every other command of a logged-in user to the PBX.
Outgoing frames are queued and written once per event-loop iteration for all sessions
together (one ``write()`` per session and iteration, however many events).
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections import deque
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from lgucore import HEARTBEAT, HEARTBEAT_ACK, CipherError, FrameDecoder, FrameError, TextCodec, cipher_of, encode_frame

from .pbx_model import PbxCommandError

if TYPE_CHECKING:  # pragma: no cover
    from .accounts import User
    from .emulator import Emulator

__all__ = ["Session", "Command", "CommandSyntaxError", "parse_command", "FREE_TEXT_COMMANDS"]

log: logging.Logger = logging.getLogger("lguapi.server")

#: commands whose ``MSG`` argument is free text running to the end of the body (docs/protocol.md §4.1)
FREE_TEXT_COMMANDS = frozenset({"SENDSMS", "SENDPEERMSG"})
_NAME = re.compile(r"[A-Z][A-Z0-9_]*\Z")
_ARG = re.compile(r"[A-Z][A-Z0-9_]*\Z")
_UNSAFE = re.compile(r"[|\r\n]")


class Command(NamedTuple):
    """A parsed command: ``name``, keyword ``args`` (space form) and ``positional`` values (pipe form)."""

    name: str
    args: dict
    positional: list


class CommandSyntaxError(ValueError):
    """A text that is not a well-formed command; answered ``CMDERROR|CMD:<name>|MSG:<reason>``.

    ``name`` is the command name when one could be read, else ``"?"``.
    """

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def parse_command(text: str) -> Command:
    """Parse one command text in either form of docs/protocol.md §4.1.

    >>> parse_command("CMD LOGIN ID=3321 PWD=x ")
    Command(name='LOGIN', args={'ID': '3321', 'PWD': 'x'}, positional=[])
    >>> parse_command("CMD|HANGUP|SIP/3584-09fb3350")
    Command(name='HANGUP', args={}, positional=['SIP/3584-09fb3350'])
    >>> parse_command("CMD SENDSMS AGENT=3321 TYPE=0 INFO= PEERS=010 MSG=a b=c").args["MSG"]
    'a b=c'

    Raises :class:`CommandSyntaxError` for anything else: no ``CMD`` prefix, a name or
    argument that is not upper-case ASCII, an empty word (two spaces), a word without
    ``=``, an argument given twice, ``|`` inside a value, or CR/LF anywhere.
    """
    if text.startswith("CMD|"):
        parts = text.split("|")
        name = parts[1]
        if not _NAME.match(name):
            raise CommandSyntaxError("?", f"bad command name {_excerpt(name)!r} (expected upper-case ASCII)")
        if "\r" in text or "\n" in text:
            raise CommandSyntaxError(name, "CR or LF inside a command")
        return Command(name, {}, parts[2:])
    if text.rstrip(" ") == "CMD":
        raise CommandSyntaxError("?", "missing command name")
    if not text.startswith("CMD "):
        word = text.split(" ", 1)[0].split("|", 1)[0]
        shown = word if _NAME.match(word) and len(word) <= 32 else "?"
        raise CommandSyntaxError(shown, f"not a command (expected CMD <NAME> ARG=VALUE... or the pipe form): {_excerpt(text)!r}")
    rest = text[4:]
    name, _, rest = rest.partition(" ")
    if not _NAME.match(name):
        raise CommandSyntaxError("?", f"bad command name {_excerpt(name)!r} (expected upper-case ASCII)")
    free = name in FREE_TEXT_COMMANDS
    args: dict[str, Any] = {}
    pos = 0
    n = len(rest)
    while pos < n:
        if free and rest.startswith("MSG=", pos):
            msg = rest[pos + 4 :]
            if "\r" in msg or "\n" in msg:
                raise CommandSyntaxError(name, "CR or LF inside MSG (write line breaks as @@)")
            if "MSG" in args:
                raise CommandSyntaxError(name, "argument MSG given twice")
            args["MSG"] = msg
            break
        end = rest.find(" ", pos)
        if end < 0:
            end = n
        word = rest[pos:end]
        if not word:
            raise CommandSyntaxError(name, f"empty word at offset {4 + len(name) + 1 + pos} (words are separated by one space)")
        key, eq, value = word.partition("=")
        if not eq:
            raise CommandSyntaxError(name, f"word {_excerpt(word)!r} is not ARG=VALUE")
        if not _ARG.match(key):
            raise CommandSyntaxError(name, f"bad argument name {_excerpt(key)!r} (expected upper-case ASCII)")
        if _UNSAFE.search(value):
            raise CommandSyntaxError(name, f"value of {key} contains a pipe, CR or LF")
        if key in args:
            raise CommandSyntaxError(name, f"argument {key} given twice")
        args[key] = value
        pos = end + 1
    return Command(name, args, [])


def _is_command(text: str) -> bool:
    """Does ``text`` parse as a command (see :func:`parse_command`)?"""
    try:
        parse_command(text)
    except CommandSyntaxError:
        return False
    return True


def _excerpt(s: str, n: int = 24) -> str:
    return s if len(s) <= n else s[:n] + "..."


def _field(text: str, limit: int = 160) -> str:
    """``text`` made safe as one event field value (``|`` -> ``/``, CR/LF -> space; bounded length)."""
    text = text.replace("|", "/").replace("\r", " ").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Session(asyncio.Protocol):
    """One client connection (see the module docstring).

    Public attributes: ``user`` and ``exten`` (``None`` until LOGIN succeeds), ``cipher``
    (``"none"`` until LOGIN; then the cipher of the LOGIN frame), ``codec`` (the
    :class:`lgucore.TextCodec` of that cipher, e.g. to pre-encode frames for
    :meth:`send_raw`), ``peer`` (the remote address), ``closed`` (a future done once the
    connection is gone).
    """

    def __init__(self, emulator: Emulator) -> None:
        self._emu = emulator
        self.user: User | None = None
        self.exten: str | None = None
        self.cipher: str = "none"
        self.codec: TextCodec = emulator.codec("none")
        self.peer: tuple[Any, ...] = ()
        self.transport: asyncio.Transport | None = None
        loop = emulator.loop
        if loop is None:
            raise RuntimeError("a session needs a started emulator")
        self._loop: asyncio.AbstractEventLoop = loop
        self._decoder = FrameDecoder(byteorder=emulator.byteorder, max_body=emulator.max_body,
                                     max_buffer=max(1 << 20, emulator.max_body + 4))
        self._out: list[Any] = []
        self._out_size = 0
        self._dirty = False
        self._closing = False
        self._bad_frames = 0
        self._last_rx = 0.0
        self._pinged_at = -1.0
        self._timer: asyncio.TimerHandle | None = None
        self._abort_timer: asyncio.TimerHandle | None = None
        self._frame_timer: asyncio.TimerHandle | None = None
        self._frame_start = -1  # stream offset of the partial frame the deadline is for
        self._backlog: deque = deque()  # complete frames left for a later loop turn
        self._drain_handle: asyncio.Handle | None = None
        self._reading_paused = False
        self._bad_stream: FrameError | None = None
        self.closed: asyncio.Future[None] = self._loop.create_future()

    def __repr__(self) -> str:
        who = f"exten={self.exten}" if self.exten else "not logged in"
        return f"<Session {who} cipher={self.cipher} peer={self.peer!r}{' closing' if self._closing else ''}>"

    # -- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream server's connection
        peer = transport.get_extra_info("peername")
        self.peer = tuple(peer) if isinstance(peer, (tuple, list)) else (peer,)
        self._last_rx = self._loop.time()
        refusal = self._emu.admit(self)
        if refusal is not None:
            log.warning("%s: refused: %s", self._who(), refusal)
            self._reply_error("CONNECT", refusal)
            self.close("refused")
            return
        self._timer = self._loop.call_at(self._last_rx + self._emu.idle_timeout, self._idle_check)

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        try:
            frames = self._decoder.feed(data)
        except FrameError as e:
            frames = e.frames
            self._bad_stream = e   # acted on once the frames before it are handled
        self._backlog.extend(frames)
        self._watch_partial_frame()
        if self._drain_handle is None:
            self._drain()

    def _drain(self) -> None:
        """Handle at most ``max_frames_per_turn`` frames, then leave the rest to the next loop turn.

        While frames wait, reading is paused: one connection's burst never holds the loop
        (and the other sessions' heartbeats) for long, and its frames keep their order.
        """
        self._drain_handle = None
        backlog = self._backlog
        budget = self._emu.max_frames_per_turn
        while backlog and budget and not self._closing:
            self._on_frame(backlog.popleft())
            budget -= 1
        if self._closing or self.transport is None:
            backlog.clear()
            return
        if backlog:
            self._emu.deferred_turns += 1
            if not self._reading_paused:
                self._reading_paused = True
                self.transport.pause_reading()
            self._drain_handle = self._loop.call_soon(self._drain)
            return
        if self._bad_stream is not None:
            e, self._bad_stream = self._bad_stream, None
            log.warning("%s: closing: %s", self._who(), e)
            self._reply_error("FRAME", f"{e.args[0]}; closing the connection")
            self.close("bad frame length")
            return
        if self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()

    def _watch_partial_frame(self) -> None:
        """Arm the frame-completion deadline for a partial frame, disarm it when none is held.

        Only complete frames prove the peer alive (the idle timer counts them); a frame
        whose bytes trickle in must still complete within ``frame_timeout`` of its start.
        """
        if self._closing:
            return
        dec = self._decoder
        if not dec.pending:
            if self._frame_timer is not None:
                self._frame_timer.cancel()
                self._frame_timer = None
            return
        if self._frame_timer is not None and self._frame_start == dec.offset:
            return  # the same frame is still arriving: its deadline stands
        if self._frame_timer is not None:
            self._frame_timer.cancel()
        self._frame_start = dec.offset
        self._frame_timer = self._loop.call_later(self._emu.frame_timeout, self._frame_late)

    def _frame_late(self) -> None:
        self._frame_timer = None
        if self._closing:
            return
        limit = self._emu.frame_timeout
        log.info("%s: closing: a frame was not completed within %g s", self._who(), limit)
        self._reply_error("FRAME", f"frame not completed within {limit:g} s (frame_timeout); closing the connection")
        self.close("frame timeout")

    def eof_received(self) -> bool | None:
        return False  # the client is done: close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        was_closing = self._closing
        self._closing = True
        self._cancel_timers(lost=True)
        self._backlog.clear()
        self._out = []
        self._out_size = 0
        self._emu.forget(self)
        if not was_closing:
            log.info("%s: connection lost%s", self._who(), f" ({exc})" if exc else "")
        if not self.closed.done():
            self.closed.set_result(None)

    # -- sending --------------------------------------------------------------------------
    def send_text(self, text: str) -> None:
        """Queue one event text, encoded in the emulator's charset under the session cipher.

        The frame is written at the end of the current event-loop iteration, batched with
        the session's other output. Raises :class:`lgucore.FrameError` when the text does
        not fit one frame (split it, docs/protocol.md §7). A session whose queue exceeds the
        emulator's ``max_send_buffer`` is closed (a slow reader), never silently thinned.
        After the session closed, the text is discarded: the connection is gone.
        """
        if self._closing:
            log.debug("%s: event after close discarded", self._who())
            return
        self._queue(self.codec.encode(text.encode(self._emu.charset, "replace")))

    def send_raw(self, frames: bytes) -> None:
        """Queue pre-encoded frames (e.g. the firehose's), under the same bound as :meth:`send_text`."""
        if self._closing:
            return
        self._queue(frames)

    def _queue(self, data: bytes) -> None:
        self._out.append(data)
        self._out_size += len(data)
        if not self._dirty:
            self._dirty = True
            self._emu.schedule_flush(self)
        if self._out_size > self._emu.max_send_buffer:
            self._slow_reader(self._out_size)

    def flush(self) -> None:
        """Write everything queued in one ``write()`` (the emulator calls it once per loop iteration)."""
        self._dirty = False
        if not self._out or self.transport is None:
            return
        out = self._out
        data = out[0] if len(out) == 1 else b"".join(out)
        self._out = []
        self._out_size = 0
        self.transport.write(data)
        if not self._closing:
            pending = self.transport.get_write_buffer_size()
            if pending > self._emu.max_send_buffer:
                self._slow_reader(pending)

    def _slow_reader(self, pending: int) -> None:
        log.warning("%s: closing: the client does not read (%d bytes queued, limit %d)",
                    self._who(), pending, self._emu.max_send_buffer)
        self.abort("slow reader")

    def _reply_error(self, name: str, reason: str, *, cipher: str | None = None) -> None:
        text = f"CMDERROR|CMD:{name}|MSG:{_field(reason)}"
        if cipher is not None and self.user is None and cipher != self.cipher:
            # before LOGIN, answer in the cipher the client used for this frame
            if not self._closing:
                self._queue(self._emu.codec(cipher).encode(text.encode(self._emu.charset, "replace")))
            return
        self.send_text(text)

    # -- closing --------------------------------------------------------------------------
    def close(self, reason: str = "") -> None:
        """Flush what is queued and close the connection (logged with ``reason``)."""
        if self._closing:
            return
        if self.transport is None:
            self._closing = True
            return
        self.flush()
        self._closing = True
        self._cancel_timers()
        self._emu.forget(self)
        log.info("%s: closed%s", self._who(), f": {reason}" if reason else "")
        self.transport.close()
        if self.transport.get_write_buffer_size():
            # a client that does not read must not keep the socket forever
            self._abort_timer = self._loop.call_later(self._emu.close_grace, self.transport.abort)

    def abort(self, reason: str) -> None:
        """Drop the connection at once, discarding queued output (logged)."""
        if self._closing:
            return
        self._closing = True
        self._cancel_timers()
        self._out = []
        self._out_size = 0
        self._emu.forget(self)
        log.info("%s: aborted: %s", self._who(), reason)
        if self.transport is not None:
            self.transport.abort()

    def _cancel_timers(self, *, lost: bool = False) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._frame_timer is not None:
            self._frame_timer.cancel()
            self._frame_timer = None
        if self._drain_handle is not None:
            self._drain_handle.cancel()
            self._drain_handle = None
        if lost and self._abort_timer is not None:
            self._abort_timer.cancel()
            self._abort_timer = None

    def _idle_check(self) -> None:
        """The one timer of a session: PING at half the idle timeout, close at the full one."""
        self._timer = None
        if self._closing:
            return
        now = self._loop.time()
        limit = self._emu.idle_timeout
        silent_since = self._last_rx
        if now - silent_since >= limit:
            log.info("%s: closing: silent for %.0f s", self._who(), now - silent_since)
            self.close("idle timeout")
            return
        ping_at = silent_since + limit / 2
        if self.user is not None and self._pinged_at != silent_since:
            if now >= ping_at:
                self._pinged_at = silent_since
                self.send_text("PING")
                nxt = silent_since + limit
            else:
                nxt = ping_at
        else:
            nxt = silent_since + limit
        self._timer = self._loop.call_at(nxt, self._idle_check)

    def _who(self) -> str:
        return f"session {self.exten}" if self.exten else f"connection {self.peer[0] if self.peer else '?'}:{self.peer[1] if len(self.peer) > 1 else ''}"

    # -- frames and commands --------------------------------------------------------------
    def _on_frame(self, frame) -> None:
        self._last_rx = self._loop.time()  # a complete frame: the peer is alive
        ftype = frame.type
        cipher = cipher_of(ftype)
        if cipher is not None:
            try:
                plain = self.codec.open(ftype, frame.body)
            except CipherError as e:
                self._bad_frame(frame, cipher, str(e))
                return
            text = plain.decode(self._emu.charset, "replace")
            if self.user is None and cipher != "none" and not _is_command(text):
                # before LOGIN an enciphered frame that opens to no command is answered
                # exactly like one that does not open: no padding oracle
                self._bad_frame(frame, cipher, "no command inside")
                return
            if self.user is not None:
                self._bad_frames = 0
            self._on_text(text, cipher)
        elif ftype == HEARTBEAT:
            self._queue(encode_frame(HEARTBEAT_ACK, frame.body, byteorder=self._emu.byteorder))
        elif ftype == HEARTBEAT_ACK:
            self._reply_error("FRAME", "unexpected frame type 0x0011 (HEARTBEAT_ACK is sent by servers only)")
        else:
            log.info("%s: unknown frame type 0x%04x", self._who(), ftype)
            self._reply_error("FRAME", f"unknown frame type 0x{ftype:04x}")

    def _bad_frame(self, frame, cipher: str, detail: str) -> None:
        """Count an undecodable text frame and answer it; close at ``max_bad_frames``.

        After LOGIN the count is of bad frames in a row (a good text frame resets it) and
        the answer names the cause. Before LOGIN nothing resets it and every answer is
        the same, whatever went wrong.
        """
        self._bad_frames += 1
        n, limit = self._bad_frames, self._emu.max_bad_frames
        log.warning("%s: undecodable %s frame (%d of %d): %s", self._who(), frame.type_name, n, limit, detail)
        reason = f"undecodable {frame.type_name} frame ({n} of {limit})"
        if self.user is not None:
            reason += f": {detail}"
        if n >= limit:
            reason += "; closing the connection"
        self._reply_error("FRAME", reason, cipher=cipher)
        if n >= limit:
            self.close(f"{n} undecodable frames")

    def _on_text(self, text: str, cipher: str) -> None:
        try:
            cmd = parse_command(text)
        except CommandSyntaxError as e:
            self._reply_error(e.name, e.reason, cipher=cipher)
            return
        name = cmd.name
        if name == "PONG":
            return
        if name == "LOGIN":
            self._login(cmd, cipher)
            return
        if self.user is None:
            self._reply_error(name, "not logged in", cipher=cipher)
            return
        try:
            self._emu.pbx.command(self.user, name, cmd.args, cmd.positional, self.send_text)
        except PbxCommandError as e:
            self._reply_error(name, str(getattr(e, "reason", e)))
        except Exception as e:  # a PBX bug must not take the session down
            log.exception("%s: command %s failed", self._who(), name)
            self._reply_error(name, f"internal error ({type(e).__name__})")

    def _login(self, cmd: Command, cipher: str) -> None:
        if self.user is not None:
            self._reply_error("LOGIN", f"already logged in as {self.exten} (one login per connection)", cipher=cipher)
            return
        emu = self._emu
        self.cipher = cipher
        self.codec = emu.codec(cipher)
        if cipher not in emu.ciphers:
            log.info("%s: login refused: cipher %s not accepted", self._who(), cipher)
            self._login_failed(-4, f"cipher {cipher} refused; accepted: {','.join(emu.ciphers)}")
            return
        if cmd.positional:
            uid = cmd.positional[0]
            pwd = cmd.positional[1] if len(cmd.positional) > 1 else None
        else:
            uid, pwd = cmd.args.get("ID"), cmd.args.get("PWD")
        if uid is None or pwd is None:
            self._reply_error("LOGIN", "missing argument " + ("ID" if uid is None else "PWD"))
            return
        user = emu.directory.by_id(uid)
        if user is None:
            log.info("%s: login refused: unknown ID", self._who())
            self._login_failed(-1, "unknown ID")
            return
        wait = emu.login_guard.locked(uid)
        if wait > 0:
            log.info("%s: login refused: user %s is locked out", self._who(), user.exten)
            self._login_failed(-5, f"locked after too many failed logins; retry in {wait:.0f} s")
            return
        if not hmac.compare_digest(pwd.encode("utf-8"), user.password.encode("utf-8")):
            locked = emu.login_guard.fail(uid)
            log.info("%s: login refused: wrong password for %s%s", self._who(), user.exten,
                     " (now locked out)" if locked else "")
            self._login_failed(-2, "wrong password")
            return
        emu.login_guard.success(uid)
        self.user = user
        self.exten = user.exten
        self.send_text(f"LOGINRESULT|STATUS:1|EXTEN:{user.exten}|CALLERID:{user.callerid}|DOMAIN:{user.domain}"
                       f"|MSG:{user.exten},{user.callerid},{user.id}")
        emu.logged_in(self, user)
        # from now on the timer first fires at PING time (half the idle timeout)
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(self._last_rx + emu.idle_timeout / 2, self._idle_check)
        log.info("%s: logged in (%s)", self._who(), cipher)

    def _login_failed(self, status: int, reason: str) -> None:
        self.send_text(f"LOGINRESULT|STATUS:{status}|EXTEN:|CALLERID:|MSG:{_field(reason)}")
        self.close(f"login failed ({status})")
