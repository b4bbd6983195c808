"""A load generator that costs almost nothing: pre-sealed frames replayed over loopback.

It plays the server for the ingest benchmark. Every connection's events are built and
sealed (SEED by default) before the clock starts: realistic call flows with unique ids and
channel names of their own per extension (inbound calls answered, rung and missed), the
same shapes the emulator sends (manual §5.2). On ``go`` each connection's block is written
in 256 KiB chunks as fast as the socket takes them, driven by ``pause_writing`` and
``resume_writing``, so the generator spends its time in the kernel's copy and the process
under test is the one that limits the rate.

Run as a child: ``python bench/loadgen.py --conns N --events E [--cipher seed]``. It prints
``port <P>`` when listening and ``built <frames> <bytes>`` when every block is sealed; it
reads commands on stdin: ``go`` (start sending), ``quit``. With ``--rate R`` the events are
paced instead: ``go T0`` (a ``time.monotonic()`` instant, shared by every process of the
machine) sends event ``m`` of connection ``i`` of ``n`` at ``T0 + (m * n + i) / R``, so a
consumer that knows the schedule measures each event's latency. Logins: any ID and password; the
extension is the ID's digits after the ``07012`` prefix (``070120020001`` logs in 20001) or,
for any other ID, the ID itself. Heartbeats are answered.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time

from lgucore import HEARTBEAT, TextCodec
from lgucore.frames import FrameDecoder

CHUNK = 256 << 10
ID_PREFIX = "07012"


def login_id(exten: str) -> str:
    """The login ID the generator maps to ``exten``."""
    return ID_PREFIX + exten


def call_flows(exten: str, events: int, seq0: int) -> list[bytes]:
    """``events`` event texts for ``exten``: inbound calls, two answered for one missed."""
    out: list[bytes] = []
    k = 0
    while len(out) < events:
        n = seq0 + 3 * k
        uid = lambda i: f"1700000000.{n + i}"  # noqa: E731
        trunk = f"SIP/gw2.eicn-{(n * 7919) & 0xFFFFFFFF:08x}"
        ring = f"SIP/{exten}-{(n * 104729 + 1) & 0xFFFFFFFF:08x}"
        conn = f"SIP/{exten}-{(n * 104729 + 2) & 0xFFFFFFFF:08x}"
        caller = f"010{(n * 31) % 100000000:08d}"
        out.append(f"RINGEVENT|ISDIAL:0|CHANNEL:{ring}|RECHANNEL:{trunk}|INEXTEN:null|AGENT:{exten}"
                   f"|CALLERID:{caller}|UNIQUEID:{uid(0)}".encode())
        if k % 3 == 2:  # nobody answers: the ringing leg alone goes out
            out.append(f"CHANNELOUT|CHANNEL:{ring}|RECHANNEL:{trunk}|UNIQUEID:{uid(1)}|SRCUNIQUEID:{uid(0)}"
                       f"|HCAUSE:19".encode())
        else:
            out.append(f"CHANNELLIST|CHANNEL1:{trunk}|CHANNEL2:{conn}|CALLER1ID:{caller}|CALLER2ID:{exten}"
                       f"|INEXTEN:0701234{exten}|UNIQUEID1:{uid(0)}|UNIQUEID2:{uid(2)}".encode())
            out.append(f"CHANNELOUT|CHANNEL:{conn}|RECHANNEL:{trunk}|UNIQUEID:{uid(2)}|SRCUNIQUEID:{uid(0)}"
                       f"|HCAUSE:16".encode())
        k += 1
    return out[:events]


class _Conn(asyncio.Protocol):
    def __init__(self, gen: Generator) -> None:
        self.gen = gen
        self.codec = TextCodec(gen.cipher)
        self.decoder = FrameDecoder()
        self.transport: asyncio.Transport | None = None
        self.block = b""
        self.offset = 0
        self.paused = False
        self.exten: str | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        transport = self.transport
        assert transport is not None, "data before connection_made"
        for ftype, body in self.decoder.feed(data):
            if ftype == HEARTBEAT:
                transport.write(self.codec.heartbeat_ack(body))
                continue
            text = self.codec.open(ftype, body).decode("utf-8", "replace")
            if text.startswith(("CMD LOGIN ", "CMD|LOGIN|")):
                words = dict(w.split("=", 1) for w in text.split() if "=" in w)
                ident = words.get("ID", "")
                exten = ident[len(ID_PREFIX):] if ident.startswith(ID_PREFIX) else ident
                self.exten = exten
                transport.write(self.codec.encode(
                    f"LOGINRESULT|STATUS:1|EXTEN:{exten}|CALLERID:0701234{exten}|DOMAIN:bench.test"
                    f"|MSG:{exten},0701234{exten},{ident}".encode()))
                self.gen.logged_in(self)

    def start(self, block: bytes) -> None:
        self.block = block
        self.offset = 0
        self.pump()

    def pump(self) -> None:
        t = self.transport
        while not self.paused and t is not None and not t.is_closing() and self.offset < len(self.block):
            t.write(self.block[self.offset:self.offset + CHUNK])
            self.offset += CHUNK

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self.pump()

    def connection_lost(self, exc) -> None:
        self.transport = None


class Generator:
    """Listen, log every connection in, and on :meth:`go` send each its sealed block."""

    def __init__(self, conns: int, events: int, cipher: str = "seed", rate: float = 0.0,
                 shared: bool = False) -> None:
        self.conns = conns
        self.shared = shared  # every connection on the same calls (one queue call rung on every agent)
        self.events = events
        self.cipher = cipher
        self.rate = rate
        self.clients: list[_Conn] = []
        self.blocks: dict[str, bytes] = {}
        self.frames: list[list[bytes]] = []  # paced mode: each connection's sealed frames
        self.extens: list[str] = []

    def build(self, extens: list[str]) -> tuple[int, int]:
        codec = TextCodec(self.cipher)
        frames = size = 0
        for i, exten in enumerate(extens):
            texts = call_flows(exten, self.events, seq0=1 if self.shared else 1 + i * 4 * self.events)
            sealed = [codec.encode(t) for t in texts]
            if self.rate > 0:
                self.frames.append(sealed)
                self.extens.append(exten)
            else:
                self.blocks[exten] = b"".join(sealed)
            frames += len(texts)
            size += sum(map(len, sealed))
        return frames, size

    def logged_in(self, conn: _Conn) -> None:
        self.clients.append(conn)

    def go(self) -> None:
        for c in self.clients:
            block = self.blocks.get(c.exten or "")
            if block:
                c.start(block)

    def go_paced(self, t0: float) -> None:
        """Send every event at its instant of the schedule (see the module's docstring)."""
        loop = asyncio.get_running_loop()
        by_exten = {c.exten: c for c in self.clients}
        conns = [by_exten.get(e) for e in self.extens]
        n = len(conns)
        total = n * self.events
        sent = [0]

        def tick() -> None:
            due = min(total, int((time.monotonic() - t0) * self.rate) + 1)
            for g in range(sent[0], due):
                c = conns[g % n]
                if c is not None and c.transport is not None and not c.transport.is_closing():
                    c.transport.write(self.frames[g % n][g // n])
            sent[0] = max(sent[0], due)
            if sent[0] < total:
                loop.call_later(0.001, tick)

        loop.call_at(loop.time() + max(0.0, t0 - time.monotonic()), tick)


async def _main(args: argparse.Namespace) -> None:
    gen = Generator(args.conns, args.events, args.cipher, args.rate, args.shared)
    extens = [str(args.first_exten + i) for i in range(args.conns)]
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Conn(gen), "127.0.0.1", args.port, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    print(f"port {port}", flush=True)
    frames, size = await loop.run_in_executor(None, gen.build, extens)
    print(f"built {frames} {size}", flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = (await reader.readline()).decode().strip()
        if line == "go":
            gen.go()
            print(f"going {len(gen.clients)}", flush=True)
        elif line.startswith("go "):
            gen.go_paced(float(line.split()[1]))
            print(f"going {len(gen.clients)}", flush=True)
        elif line in ("quit", ""):
            break
    server.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conns", type=int, required=True)
    ap.add_argument("--events", type=int, required=True, help="events per connection")
    ap.add_argument("--cipher", default="seed", choices=("seed", "basic", "none"))
    ap.add_argument("--first-exten", type=int, default=20001)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--rate", type=float, default=0.0, help="events/s in all, paced (0: as fast as possible)")
    ap.add_argument("--shared", action="store_true",
                    help="every connection's calls are the same calls (their unique ids): each call is rung on every"
                         " extension at once, as a queue ringing all its agents")
    args = ap.parse_args(argv)
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
