"""``lguapi serve --replay``: a capture played back to a client that logs in with its ID."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

from lguapi import Client
from lguapi.capture import CaptureWriter
from lguapi.events import PeerMessageEvent, RingEvent
from lguapi.server.accounts import Directory
from lguapi.server.emulator import Emulator
from lguapi.server.playback import CapturePlayback, load_timelines


def _capture(path, n=20):
    with CaptureWriter(path) as w:
        c = w.open_connection(address="10.0.0.1:8086", login="07099990001", cipher="seed", ts=100.0)
        w.sent(c, 1, b"CMD LOGIN ID=07099990001 PWD=real ", ts=100.0)
        w.received(c, 1, b"LOGINRESULT|STATUS:1|EXTEN:101t4004|CALLERID:07099990001|DOMAIN:premium.example"
                          b"|MSG:101t4004,07099990001,07099990001", ts=100.1)
        w.set_exten(c, "101t4004")
        for i in range(n):
            w.received(c, 1, f"RECVPEERMSG|FROM:3002|MSG:m{i}".encode(), ts=100.2 + i * 0.1)
        w.received(c, 1, b"RINGEVENT|ISDIAL:0|CHANNEL:SIP/101t4004-00000001|AGENT:101t4004|UNIQUEID:1.1",
                   ts=100.2 + n * 0.1)


def test_timelines_keep_order_spacing_and_skip_the_login_answer(tmp_path):
    _capture(tmp_path)
    tl = load_timelines([tmp_path])["101t4004"]
    assert tl.login == "07099990001" and tl.domain == "premium.example"
    assert tl.frames[0] == (0.0, "RECVPEERMSG|FROM:3002|MSG:m0")
    assert [round(t, 3) for t, _ in tl.frames[:3]] == [0.0, 0.1, 0.2]
    assert not any(text.startswith("LOGINRESULT") for _, text in tl.frames)


async def test_a_client_logging_in_receives_the_captured_frames(tmp_path):
    _capture(tmp_path)
    playback = CapturePlayback(None, [tmp_path], speed=20, poll=0.01)
    directory = playback.directory("pw")
    async with Emulator(directory, port=0) as emu:
        playback.emulator = emu
        playback.start()
        got = []
        done = asyncio.Event()
        c = Client("127.0.0.1", emu.port, heartbeat=0, auto_reconnect=0)
        c.on(PeerMessageEvent, lambda ev: got.append(ev.message))
        c.on(RingEvent, lambda ev: done.set())
        await c.login("07099990001", "pw")
        assert c.exten == "101t4004"
        await asyncio.wait_for(done.wait(), 10)
        await c.close()
        await playback.close()
    assert got == [f"m{i}" for i in range(20)]
    assert playback.played == 21 and playback.started == 1


def test_serve_replay_from_the_command_line(tmp_path):
    _capture(tmp_path / "cap")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.abspath("src"), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "lguapi", "serve", "--replay", str(tmp_path / "cap"),
                             "--speed", "50", "--port", "0", "--admin-port", "0", "--oam-port", "0", "--oam-http"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert "port" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "replaying 1 login(s) at 50x" in err


def test_serve_replay_refuses_what_is_not_a_capture(tmp_path):
    bad = tmp_path / "x.lgcap"
    bad.write_bytes(b"nonsense")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.abspath("src"), os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run([sys.executable, "-m", "lguapi", "serve", "--replay", str(bad), "--port", "0"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and "--replay" in r.stderr and "Traceback" not in r.stderr
