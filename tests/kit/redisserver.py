"""A real redis-server for tests: started on a free loopback port in a temp dir, stopped after.

:class:`RedisServer` runs Debian's ``redis-server`` (or ``$LGUAPI_REDIS_SERVER``) with no
persistence unless asked (``persist=True`` turns on the append-only file, so a restart keeps
the keys). :func:`find_redis_server` says where the binary is, or why there is none:
as root on a machine without it the cluster tests FAIL (``make services`` installs it);
as another user they skip with that reason.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

from kit.clients import free_port

__all__ = ["RedisServer", "find_redis_server", "free_port"]


def find_redis_server() -> str | None:
    """The redis-server executable, or None."""
    explicit = os.environ.get("LGUAPI_REDIS_SERVER")
    if explicit:
        return explicit
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)


class RedisServer:
    """One redis-server process on 127.0.0.1: :meth:`start`, :meth:`stop`, :meth:`restart`."""

    def __init__(self, *, port: int | None = None, persist: bool = False, executable: str | None = None) -> None:
        exe = executable or find_redis_server()
        if exe is None:
            raise FileNotFoundError("redis-server not found (install Debian's redis-server: `make services`)")
        self.executable = exe
        self.port = port or free_port()
        self.persist = persist
        self.dir = tempfile.mkdtemp(prefix="lguapi-redis-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0) -> None:
        """Start the server and wait until it answers PING."""
        args = [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--save", "", "--appendonly", "yes" if self.persist else "no", "--protected-mode", "no",
                "--daemonize", "no", "--logfile", os.path.join(self.dir, "redis.log")]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}: {self._log_tail()}")
            if self._ping():
                return
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"redis-server on port {self.port} did not answer within {timeout}s")

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def _log_tail(self) -> str:
        try:
            with open(os.path.join(self.dir, "redis.log"), encoding="utf-8", errors="replace") as f:
                return f.read()[-800:]
        except OSError:
            return "(no log)"

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server (SIGKILL with ``kill=True``: no shutdown save)."""
        p, self.proc = self.proc, None
        if p is None or p.poll() is not None:
            return
        if kill:
            p.kill()
        else:
            p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)

    def restart(self, *, down_for: float = 0.0) -> None:
        """Stop, stay down ``down_for`` seconds, start again on the same port."""
        self.stop()
        if down_for:
            time.sleep(down_for)
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
