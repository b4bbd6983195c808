"""Helpers for the lguapi.compat tests: an emulator stack in a background loop, and a win32com program run through the runner.

Everything is real: the emulator (TCP, HTTPS OAM, admin HTTP) on 127.0.0.1 with ephemeral
ports, and programs as subprocesses of ``python -m lguapi.compat.run``.
"""
from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from lguapi.server import Directory
from lguapi.server.cli import EmulatorStack

WAIT = 15.0
PROGRAMS = Path(__file__).resolve().parent.parent / "compat_programs"
SRC = Path(__file__).resolve().parents[2] / "src"


class StackThread:
    """An EmulatorStack on 127.0.0.1 in a background event loop; ``restart()`` brings it back on the same ports."""

    def __init__(self, extens: str = "3001-3005", **kw) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.extens = extens
        self.kw = kw
        self.state_dir = tempfile.mkdtemp(prefix="lguapi-compat-")
        self.stack = self._start(0, 0, 0)

    def _start(self, port: int, admin_port: int, oam_port: int) -> EmulatorStack:
        stack = EmulatorStack(Directory.generate(self.extens), port=port, admin_port=admin_port, oam_port=oam_port,
                              state_dir=self.state_dir, **self.kw)
        self.call(stack.start())
        return stack

    @property
    def oam(self) -> str:
        return f"127.0.0.1:{self.stack.oam_port}"

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def admin(self, path: str, body: dict | None = None, method: str = "POST"):
        data = json.dumps(body or {}).encode() if method == "POST" else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.stack.admin_port}{path}", data=data,
                                     method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"{}")

    def stop(self) -> None:
        self.call(self.stack.close())

    def restart(self) -> None:
        """Close the stack and start a new one on the same three ports."""
        ports = (self.stack.port, self.stack.admin_port, self.stack.oam_port)
        self.stop()
        deadline = time.monotonic() + WAIT
        while True:
            try:
                self.stack = self._start(*ports)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Events:
    """A win32com-style events class: On<EventName> methods with the vendor's signatures."""

    def __init__(self):
        self.seen = []
        self.threads = set()
        self.cond = threading.Condition()

    def _add(self, *item):
        with self.cond:
            self.seen.append(item)
            self.threads.add(threading.current_thread().name)
            self.cond.notify_all()

    def OnSendLoginResultEvent(self, text):
        self._add("login", text)

    def OnSendRingEvent(self, text):
        self._add("ring", text)

    def OnSendChannelListEvent(self, text):
        self._add("channellist", text)

    def OnSendChannelOutEvent(self, text):
        self._add("channelout", text)

    def OnSendCommandResultEvent(self, text):
        self._add("result", text)

    def OnSendEtcEvent(self, name, text):
        self._add("etc", name, text)

    def OnSendCmdErrorEvent(self, cmd, msg):
        self._add("cmderror", cmd, msg)

    def OnSendNetworkErrorEvent(self):
        self._add("neterror")

    def OnSendPeerMsgEvent(self, text):
        self._add("peermsg", text)

    def OnSendSMSEvent(self, text):
        self._add("sms", text)

    def OnSendDtmfEvent(self, text):
        self._add("dtmf", text)

    def wait(self, kind, start=0, timeout=WAIT):
        """The first event of ``kind`` at index >= start; fails with what did arrive.

        An object with ``events="pump"`` is pumped on this thread while waiting.
        """
        if getattr(self, "events_mode", "thread") == "pump":
            return self._pump_wait(kind, start, timeout)
        with self.cond:
            ok = self.cond.wait_for(lambda: any(e[0] == kind for e in self.seen[start:]), timeout)
            assert ok, f"no {kind} event; got {self.seen[start:]}"
            return next(e for e in self.seen[start:] if e[0] == kind)

    def _pump_wait(self, kind, start, timeout):
        from lguapi.compat import PumpWaitingMessages

        deadline = time.monotonic() + timeout
        while not any(e[0] == kind for e in self.seen[start:]):
            assert time.monotonic() < deadline, f"no {kind} event; got {self.seen[start:]}"
            PumpWaitingMessages()
            time.sleep(0.005)
        return next(e for e in self.seen[start:] if e[0] == kind)



def program_env(stack: StackThread, **extra: str) -> dict[str, str]:
    """The environment of a ported program: only LGUAPI_OAM/LGUAPI_OAM_CA set (plus PYTHONPATH to this tree)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LGUAPI_")}
    env.update(LGUAPI_OAM=stack.oam, LGUAPI_OAM_CA=stack.stack.ca_file, PYTHONPATH=str(SRC),
               PYTHONIOENCODING="utf-8", **extra)
    return env


class Program:
    """A program run unchanged through ``python -m lguapi.compat.run``; its stdout lines are collected."""

    def __init__(self, name: str, *args: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "lguapi.compat.run", str(PROGRAMS / name), *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, text=True, encoding="utf-8")
        self.lines: list[str] = []
        self._new: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self._new.put(None)
        self._new.put(None)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def mark(self) -> int:
        return len(self.lines)

    def wait(self, prefix: str, start: int = 0, contains: str = "", timeout: float = WAIT) -> str:
        """The first line at index >= start that starts with ``prefix`` and contains ``contains``."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines[start:]:
                if line.startswith(prefix) and contains in line:
                    return line
            left = deadline - time.monotonic()
            if left <= 0 or (self.proc.poll() is not None and self._new.empty()):
                raise AssertionError(f"no line {prefix!r} with {contains!r}; got {self.lines[start:]}\n"
                                     f"stderr: {self.stderr_now()}")
            try:
                self._new.get(timeout=min(left, 0.5))
            except queue.Empty:
                pass

    def stderr_now(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read() if self.proc.stderr else ""

    def finish(self, timeout: float = WAIT) -> tuple[int, str]:
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._reader.join(5)
        err = self.proc.stderr.read() if self.proc.stderr else ""
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        return self.proc.returncode, err


def module_stack(**kw):
    """A module-scoped ``stack`` fixture: one StackThread(**kw) for the test module."""
    @pytest.fixture(scope="module")
    def stack():
        s = StackThread(**kw)
        try:
            yield s
        finally:
            s.close()
    return stack


#: ``press(action, *args)``: how a test makes a phone program do ``action`` (its own commands or buttons)
SMS_TEXT = "안녕하세요, 회의는 3시입니다"


def phone_call_flow(p: Program, stack: StackThread, uid: str, press) -> None:
    """Ring, answer, hold, unhold, blind transfer to 3002, SMS in Korean, click-to-call and hang-up."""
    m = p.mark()
    stack.admin("/calls", {"from": "01012345678", "to": uid})
    ring = p.wait("EVENT ring", m)
    assert "ISDIAL:0" in ring and "CALLERID:01012345678" in ring
    press("answer")
    p.wait("EVENT channellist", m)
    for action in ("hold", "unhold"):
        m = p.mark()
        press(action)
        assert p.wait("EVENT result", m).endswith(f"CMDRESULT|CMD:{action.upper()}|RES:OK")
    m = p.mark()
    press("transfer", "3002")
    p.wait("EVENT channelout", m)  # a blind transfer answers with our leg leaving the call
    m = p.mark()
    press("sms", "01012345678", SMS_TEXT)
    assert "SUCCESS(01012345678)" in p.wait("EVENT result", m, contains="CMD:SENDSMS")
    m = p.mark()
    press("dial", "01012345678")
    assert "ISDIAL:1" in p.wait("EVENT ring", m)
    press("hangup")
    p.wait("EVENT channelout", m)


def restart_and_reconnect(p: Program, stack: StackThread) -> None:
    """The server restarts: one network error, then the control's auto-reconnect logs in again."""
    m = p.mark()
    stack.restart()
    lost = p.lines.index(p.wait("EVENT neterror", m), m)
    assert "STATUS:1" in p.wait("EVENT login", lost, timeout=30)
