"""``lguapi serve`` as a subprocess: the ready line, a raw client, OAM over HTTPS, admin, SIGTERM;
and :class:`EmulatorStack` in-process."""
from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import ssl
import sys

import pytest

from kit.httpraw import request
from kit.rawclient import RawClient
from kit.wait import eventually
from lguapi.server import Directory
from lguapi.server.cli import EmulatorStack, run_all
from lguapi.server.traffic import TrafficConfig

READY = re.compile(r"^lguapi-emulator ready port=(\d+) admin=(\d+) oam=(\d+)$")
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


async def _spawn(*args: str, module: str = "lguapi.server.cli"):
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)


async def _ready(proc) -> tuple[int, int, int]:
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    m = READY.match(line.decode().rstrip("\n"))
    if m is None:
        err = await proc.stderr.read()
        raise AssertionError(f"no ready line: {line!r}; stderr: {err[-2000:]!r}")
    return int(m[1]), int(m[2]), int(m[3])


async def _stop(proc, sig=signal.SIGTERM) -> tuple[int, bytes, bytes]:
    proc.send_signal(sig)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode, out, err


@pytest.mark.timeout(90)
async def test_serve_subprocess_ready_login_oam_admin_and_sigterm(tmp_path):
    proc = await _spawn("--extensions", "3001-3005", "--port", "0", "--admin-port", "0", "--oam-port", "0",
                        "--state-dir", str(tmp_path), "--seed", "3", "--log-level", "info")
    try:
        port, admin, oam = await _ready(proc)
        assert port and admin and oam and len({port, admin, oam}) == 3
        async with RawClient.connect("127.0.0.1", port, cipher="seed") as c:
            assert (await c.login("07012343001", "secret-3001")).startswith("LOGINRESULT|STATUS:1|EXTEN:3001|")
            r = await request(admin, "POST", "/calls", {"from": "01012345678", "to": "3001"})
            assert r.status == 201
            assert (await c.expect("RINGEVENT")).startswith("RINGEVENT|ISDIAL:0|")
            assert (await request(admin, "GET", "/health")).json()["sessions"] == 1
        ctx = ssl.create_default_context(cafile=str(tmp_path / "oam-ca.pem"))
        r = await request(oam, "POST", "/oam/serverinfo", form={"id": "07012343001"}, ssl=ctx)
        assert r.text == f"SERVERINFO|ADDR:127.0.0.1:{port}|BACKUPADDR:127.0.0.1:{port}|BACKADDR2:127.0.0.1:{port}"
    finally:
        rc, out, err = await _stop(proc)
    assert rc == 0, err[-2000:]
    assert out == b""  # the ready line was the only stdout line
    assert b"stopping" in err and b"secret-3001" not in err
    assert f"CA file to trust: {tmp_path / 'oam-ca.pem'}".encode() in err


async def _json(reply):
    return (await reply).json()


@pytest.mark.timeout(90)
async def test_lguapi_serve_with_traffic_firehose_tls_and_sigint():
    proc = await _spawn("serve", "--extensions", "3001-3004", "--port", "0", "--admin-port", "0", "--oam-port", "0",
                        "--oam-http", "--tls", "--traffic", "50", "--ring-time", "0.05", "--talk-time", "0.05",
                        "--firehose", "500", "--seed", "1", "--byteorder", "little", module="lguapi")
    try:
        port, admin, oam = await _ready(proc)
        # --tls without --cert: the generated certificate; verification is the client's business here
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        async with RawClient.connect("127.0.0.1", port, cipher="basic", byteorder="little", ssl=ctx) as c:
            assert (await c.login("07012343002", "secret-3002")).startswith("LOGINRESULT|STATUS:1|")
            await c.expect("CDREVENT", timeout=10)   # firehose and traffic events arrive
            await eventually(lambda: _json(request(admin, "GET", "/stats")),
                             lambda s: s["traffic"]["arrived"] > 0 and s["firehose"]["delivered"] > 0,
                             "traffic and firehose in the admin stats")
        r = await request(oam, "POST", "/oam/serverinfo", form={"id": "nobody"})
        assert r.text == "SERVERINFO|ERROR:-1"
    finally:
        rc, out, err = await _stop(proc, signal.SIGINT)
    assert rc == 0, err[-2000:]


async def test_serve_bad_options_and_busy_port(tmp_path):
    proc = await _spawn("--extensions", "3001-3002", "--accounts", "x.toml")
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and b"not allowed with argument" in err
    proc = await _spawn("--extensions", "9-1", "--port", "0")
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and b"ends before it starts" in err
    proc = await _spawn("--accounts", str(tmp_path / "missing.toml"))
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and b"missing.toml" in err
    for args, message in ((["--ciphers", "seed,rot13"], b"--ciphers"), (["--charset", "klingon"], b"--charset"),
                          (["--idle-timeout", "0"], b"--idle-timeout"), (["--traffic", "1", "--traffic-calls", "-1"],
                                                                         b"max_calls"),
                          (["--traffic", "1", "--traffic-mix", "outbound=1"], b"traffic mix"),
                          (["--oam-backup", "nohost"], b"HOST:PORT"), (["--cert", "c.pem"], b"--key")):
        proc = await _spawn("--extensions", "3001", *args)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 2 and message in err, (args, err)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        proc = await _spawn("--extensions", "3001", "--port", str(busy.getsockname()[1]), "--oam-http")
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1 and out == b"" and b"cannot start" in err


async def test_emulator_stack_in_process(tmp_path):
    d = Directory.generate("3001-3004")
    stack = EmulatorStack(d, port=0, admin_port=0, oam_port=0, state_dir=str(tmp_path), seed=5,
                          traffic=TrafficConfig(rate=20, ring_mean=0.02, talk_mean=0.02, max_calls=5),
                          firehose=200.0, emulator_options={"idle_timeout": 30})
    async with stack:
        assert READY.match(stack.ready_line())
        assert stack.ca_file == str(tmp_path / "oam-ca.pem") and stack.oam.ca_file == stack.ca_file
        assert stack.emulator.idle_timeout == 30 and stack.pbx is stack.emulator.pbx
        await asyncio.wait_for(stack.traffic.wait(), 10)
        assert len(stack.pbx.snapshot()["history"]) > 0
        r = await request(stack.admin_port, "GET", "/stats")
        assert set(r.json()) == {"traffic", "firehose"}
    assert stack.admin is None and stack.oam is None
    with pytest.raises(ValueError):
        EmulatorStack(d, cert_file="x.pem")

    # run_all: on_ready, then stop
    stop = asyncio.Event()
    seen = []

    def ready(s):
        seen.append(s.ready_line())
        stop.set()

    await asyncio.wait_for(run_all(d, stop=stop, on_ready=ready, port=0, admin_port=0, oam_port=0, oam_tls=False), 30)
    assert len(seen) == 1 and READY.match(seen[0])


async def test_stack_start_failure_closes_what_started():
    d = Directory.generate("3001")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        stack = EmulatorStack(d, port=0, admin_port=busy.getsockname()[1], oam_port=0, oam_tls=False)
        with pytest.raises(OSError):
            await stack.start()
    assert stack.oam is None and stack.admin is None
    assert stack.emulator is not None and stack.emulator.connection_count == 0


async def test_serve_options_build_the_stack(tmp_path):
    import argparse

    from lguapi.server import cli

    accounts = tmp_path / "accounts.toml"
    accounts.write_text('[[domain]]\nname = "lg.example"\n[[domain.user]]\nid = "07011112222"\n'
                        'password = "pw-1"\nexten = "101t4004"\ncallerid = "07011112222"\n')
    parser = argparse.ArgumentParser()
    cli.configure_parser(parser)
    args = parser.parse_args(["--accounts", str(accounts), "--port", "0", "--admin-port", "0", "--oam-port", "0",
                              "--oam-http", "--traffic", "2", "--traffic-mix", "internal=1,inbound=1",
                              "--ring-time", "1", "--talk-time", "2", "--unanswered", "0.5", "--hold", "0",
                              "--transfer", "0", "--traffic-calls", "3", "--byteorder", "little", "--ciphers", "seed",
                              "--oam-addr", "10.0.0.1:8086", "--firehose", "100", "--seed", "9"])
    stack = cli._build_stack(args)
    assert [u.exten for u in stack.directory.users()] == ["101t4004"]
    cfg = stack.traffic_config
    assert (cfg.rate, cfg.mix, cfg.ring_mean, cfg.talk_mean, cfg.unanswered, cfg.max_calls) == \
        (2.0, {"inbound": 1.0, "click": 0.0, "internal": 1.0}, 1.0, 2.0, 0.5, 3)
    assert stack.emulator_options["byteorder"] == "little" and stack.emulator_options["ciphers"] == ("seed",)
    assert stack.oam_addresses[0] == ("10.0.0.1", 8086) and stack.firehose_rate == 100 and stack.seed == 9
    async with stack:
        async with RawClient.connect("127.0.0.1", stack.port, cipher="seed", byteorder="little") as c:
            assert (await c.login("07011112222", "pw-1")).startswith("LOGINRESULT|STATUS:1|EXTEN:101t4004|")
        r = await request(stack.oam_port, "POST", "/oam/serverinfo", form={"id": "07011112222"})
        assert r.text.startswith("SERVERINFO|ADDR:10.0.0.1:8086|")
