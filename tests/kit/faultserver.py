"""A scriptable fault server for the client tests: real asyncio TCP on 127.0.0.1, lgucore's codecs, one script per connection.

The emulator (``lguapi.server``) behaves; this server misbehaves on purpose, one scenario at
a time, so each client defect the hardening tests name has a reproducible case. It speaks the wire
protocol of docs/protocol.md with the same ``lgucore`` codecs as the client (frames, SEED/basic,
heartbeat acks) and reads commands with the emulator's own ``parse_command``.

Each accepted connection runs one *script*: ``async def script(conn: FaultConn)``. The
n-th connection runs ``scripts[n]`` (the last one again for every later connection)::

    async def drop_second_answer(conn):
        await conn.login()
        await conn.serve({"GETVARINFO": ["ok", "drop"]})   # answers per plan until closed

    async with FaultServer(drop_second_answer) as srv:
        client = Client("127.0.0.1", srv.port, ...)

``FaultConn`` offers the building blocks: ``login`` (answer the LOGIN), ``next_command``,
``send`` (a text frame in the client's cipher), ``send_raw`` (any bytes), ``serve`` (answer
every command following a *plan*: ``"ok"``, ``"drop"``, ``("delay", s)``, ``"dup"``,
``"hold"`` — sent after the next answer, i.e. reordered), ``trickle`` (one byte at a time),
``cut`` (half a frame, then close), ``flood``, ``endless_result`` and ``bye``. Heartbeats are
acknowledged unless ``conn.ack_heartbeats`` is False; PONGs are counted, not queued.

``HostileOam`` is the same for OAM discovery: a plain-HTTP server whose answer is
written by a script (``async def respond(writer)``), e.g. a chunk size of ``ffffffff``.

Every loop here is bounded in count or time, and every task is ended at ``close()``.
"""
from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Awaitable, Callable, Iterable, Sequence

from lgucore import HEARTBEAT, FrameDecoder, FrameError, ProtocolError, TextCodec, cipher_of
from lguapi.commands import LIST_COMMANDS
from lguapi.server import Command, parse_command

__all__ = ["FaultServer", "FaultConn", "HostileOam", "answer_for", "Script"]

Script = Callable[["FaultConn"], Awaitable[None]]
Action = Any  # "ok" | "drop" | "dup" | "hold" | ("delay", seconds)


def answer_for(cmd: Command) -> list[str]:
    """The well-behaved answer texts of ``cmd``: every argument but AGENT echoed back, ``RES:OK``.

    The echo lets a test see which request an answer belongs to. GETVARINFO also gets
    ``VALUE:value-of-<NAME>``; GETSTATUSPEERS one ``<peer>:IDLE:`` field per peer; the list
    commands one row and CMDRESULTEND.
    """
    name = cmd.name
    if name == "GETSTATUSPEERS":
        peers = [p for p in cmd.args.get("PEERS", "").split(",") if p]
        return ["CMDRESULT|CMD:GETSTATUSPEERS|" + "|".join(f"{p}:IDLE:" for p in peers)]
    if name in LIST_COMMANDS:
        return [f"CMDRESULT|CMD:{name}|RES:row-1", f"CMDRESULTEND|CMD:{name}"]
    fields = [f"{k}:{v}" for k, v in cmd.args.items() if k != "AGENT"]
    if name == "GETVARINFO":
        fields.append(f"VALUE:value-of-{cmd.args.get('NAME', '')}")
    return ["|".join([f"CMDRESULT|CMD:{name}", *fields, "RES:OK"])]


class FaultConn:
    """One accepted connection, driven by a script (see the module docstring)."""

    def __init__(self, server: FaultServer, index: int, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.index = index
        self.codec = server.codec
        self.writer = writer
        self.ack_heartbeats = True
        self.commands: list[Command] = []  # every command received, in order
        self.heartbeats = 0
        self.pongs = 0
        self.bytes_sent = 0
        self.closed = asyncio.Event()
        self._reader = reader
        self._queue: asyncio.Queue[Command | None] = asyncio.Queue()
        self._cipher = server.codec.cipher
        self._held: list[str] = []
        self._tasks: set[asyncio.Task] = set()

    # --- reading ----------------------------------------------------------------------

    async def read_loop(self) -> None:
        """Decode frames until the client closes: queue commands, ack heartbeats."""
        decoder = FrameDecoder(byteorder=self.codec.byteorder)
        try:
            while True:
                data = await self._reader.read(65536)
                if not data:
                    break
                for frame in decoder.feed(data):
                    self._frame(frame.type, frame.body)
        except (ConnectionError, ProtocolError):
            pass
        finally:
            self.closed.set()
            self._queue.put_nowait(None)

    def _frame(self, ftype: int, body: bytes) -> None:
        if ftype == HEARTBEAT:
            self.heartbeats += 1
            if self.ack_heartbeats:
                self.write(self.codec.heartbeat_ack(body))
            return
        cipher = cipher_of(ftype)
        if cipher is None:
            return
        self._cipher = cipher
        text = self.codec.open(ftype, body).decode("cp949", "replace")
        if text == "CMD|PONG":
            self.pongs += 1
            return
        try:
            cmd = parse_command(text)
        except ValueError:
            cmd = Command("?", {"TEXT": text}, [])
        self.commands.append(cmd)
        self._queue.put_nowait(cmd)

    async def next_command(self, timeout: float = 10.0) -> Command | None:
        """The next command the client sent, or None once it closed the connection."""
        return await asyncio.wait_for(self._queue.get(), timeout)

    async def login(self, *, status: int = 1, exten: str | None = None) -> Command:
        """Wait for LOGIN and answer it (success by default) with the server's extension."""
        cmd = await self.next_command()
        if cmd is None or cmd.name != "LOGIN":
            raise AssertionError(f"expected LOGIN first, got {cmd!r}")
        ex = exten or self.server.exten
        if status > 0:
            self.send(f"LOGINRESULT|STATUS:{status}|EXTEN:{ex}|CALLERID:0701234{ex}|MSG:{ex},0701234{ex},x")
        else:
            self.send(f"LOGINRESULT|STATUS:{status}|MSG:refused")
        return cmd

    # --- writing ----------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.bytes_sent += len(data)
            self.writer.write(data)

    def send(self, text: str) -> None:
        """One text frame in the cipher the client last used."""
        self.write(self.codec.encode(text.encode("cp949"), self._cipher))

    def send_raw(self, data: bytes) -> None:
        self.write(data)

    async def drain(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()

    def answer(self, texts: Iterable[str]) -> None:
        """Send ``texts``, then whatever a ``"hold"`` kept back (so held answers come late)."""
        for t in texts:
            self.send(t)
        held, self._held = self._held, []
        for t in held:
            self.send(t)

    async def serve(self, plan: dict[str, Sequence[Action]] | None = None,
                    answers: Callable[[Command], list[str]] = answer_for) -> None:
        """Answer every command until the client closes; the n-th command of a name follows ``plan[name][n]``."""
        plan = plan or {}
        seen: dict[str, int] = {}
        while (cmd := await self.next_command(timeout=3600)) is not None:
            n = seen.get(cmd.name, 0)
            seen[cmd.name] = n + 1
            steps = plan.get(cmd.name, ())
            self.act(steps[n] if n < len(steps) else "ok", answers(cmd))

    def act(self, action: Action, texts: list[str]) -> None:
        if action == "ok":
            self.answer(texts)
        elif action == "dup":
            self.answer(texts + texts)
        elif action == "hold":
            self._held.extend(texts)
        elif isinstance(action, tuple) and action[0] == "delay":
            self.later(action[1], texts)
        elif action != "drop":
            raise ValueError(f"unknown action {action!r}")

    def later(self, seconds: float, texts: list[str]) -> None:
        async def send_later() -> None:
            await asyncio.sleep(seconds)
            self.answer(texts)

        self.spawn(send_later())

    def spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- connection-level faults ------------------------------------------------------

    async def trickle(self, data: bytes, interval: float) -> None:
        """Write ``data`` one byte every ``interval`` seconds (stops when the client leaves)."""
        for i in range(len(data)):
            if self.closed.is_set() or self.writer.is_closing():
                return
            self.write(data[i:i + 1])
            await self.drain()
            await asyncio.sleep(interval)

    def cut(self, text: str) -> None:
        """Write the first half of a text frame, then close."""
        frame = self.codec.encode(text.encode("cp949"), self._cipher)
        self.write(frame[: len(frame) // 2])
        self.close()

    async def flood(self, frames: Iterable[bytes]) -> None:
        """Write raw ``frames`` with flow control (a finite iterable)."""
        for f in frames:
            if self.closed.is_set():
                return
            self.write(f)
            await self.drain()

    async def endless_result(self, cmd: str, row: str, *, max_frames: int, stop: asyncio.Event | None = None) -> int:
        """CMDRESULT pieces of ``cmd`` that all end in LF (the result never ends); returns how many were sent."""
        frame = self.codec.encode(f"CMDRESULT|CMD:{cmd}|RES:{row}\n".encode("cp949"), self._cipher)
        sent = 0
        while sent < max_frames and not self.closed.is_set() and not (stop and stop.is_set()):
            self.write(frame)
            sent += 1
            if sent % 64 == 0:
                await self.drain()
                await asyncio.sleep(0)
        return sent

    def bye(self, reason: str = "duplicate login") -> None:
        """Say BYE and close, as a server does on a duplicate login."""
        self.send(f"BYE|REASON:{reason}")
        self.close()

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()

    async def stop(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


class _Listener:
    """A TCP server on 127.0.0.1 (ephemeral port) whose connection handlers end at ``close()``."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    async def _start(self, handler) -> None:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            me = asyncio.current_task()
            assert me is not None
            self._tasks.add(me)
            try:
                await handler(reader, writer)
            except asyncio.CancelledError:
                pass  # cancelled by close(): end quietly (asyncio's stream callback dislikes a cancelled task)
            finally:
                self._tasks.discard(me)

        self._server = await asyncio.start_server(tracked, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for t in list(self._tasks):
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None


class FaultServer(_Listener):
    """``async with FaultServer(*scripts, cipher="seed") as srv:`` — a misbehaving server on ``srv.port``."""

    def __init__(self, *scripts: Script, cipher: str = "seed", byteorder: str = "big", exten: str = "3001") -> None:
        if not scripts:
            raise ValueError("at least one script")
        super().__init__()
        self.scripts = scripts
        self.codec = TextCodec(cipher, byteorder=byteorder)
        self.exten = exten
        self.conns: list[FaultConn] = []
        self._changed = asyncio.Event()

    async def __aenter__(self) -> FaultServer:
        await self._start(self._accept)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = FaultConn(self, len(self.conns), reader, writer)
        self.conns.append(conn)
        self._changed.set()
        script = self.scripts[min(conn.index, len(self.scripts) - 1)]
        reading = asyncio.get_running_loop().create_task(conn.read_loop())
        try:
            await script(conn)
            await conn.closed.wait()  # the script is done: stay (silent) until the client leaves
        except (ConnectionError, asyncio.TimeoutError, FrameError):
            pass
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
            await conn.stop()

    async def wait_connections(self, n: int, timeout: float = 10.0) -> FaultConn:
        """Wait until ``n`` connections were accepted; returns the n-th."""
        async def reached() -> None:
            while len(self.conns) < n:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(reached(), timeout)
        return self.conns[n - 1]


class HostileOam(_Listener):
    """A plain-HTTP OAM server whose answer is written by ``respond(writer)`` (discover with ``http://``)."""

    def __init__(self, respond: Callable[[asyncio.StreamWriter], Awaitable[None]]) -> None:
        super().__init__()
        self.respond = respond
        self.requests = 0
        self.client_left = asyncio.Event()

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> HostileOam:
        await self._start(self._serve)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(ln.split(b":")[1]) for ln in head.split(b"\r\n")
                           if ln.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            self.requests += 1
            await self.respond(writer)
            await reader.read()  # until the client closes (or resets)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self.client_left.set()
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
