"""The emulator plays a capture back: each login found in it receives its recorded events again.

``lguapi serve --replay CAPTURE [--speed N]`` turns a field problem into a local test. The
capture (docs/capture.md) says, for every connection a client had, which login it used and
every text frame the server sent it, with the time. When a client logs in to the emulator
with one of those IDs, the frames that login received are delivered to it again, spaced as
they were recorded (divided by ``speed``), starting from its login. The login answer itself
is the emulator's own; everything after it comes from the capture. A client that disconnects
stops its playback; logging in again starts it over.

The accounts come from the capture (its login IDs and extensions, with one password for all,
``--replay-password``, default ``replay``) unless an accounts file or range is given.

>>> playback = CapturePlayback(emulator, ["captures/"], speed=10)   # doctest: +SKIP
>>> playback.start(); ...; await playback.close()                  # doctest: +SKIP
"""
from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from typing import Any

from lgucore import TEXT

from ..capture import read_capture
from .accounts import DEFAULT_DOMAIN, Directory, User

__all__ = ["CapturePlayback", "Timeline", "load_timelines"]

log: logging.Logger = logging.getLogger("lguapi.server.playback")

#: what the emulator answers itself instead of replaying
_OWN = ("LOGINRESULT",)


class Timeline:
    """What one login received: ``(seconds after the first frame, text)`` in order."""

    __slots__ = ("login", "exten", "domain", "callerid", "frames")

    def __init__(self, login: str, exten: str) -> None:
        self.login: str = login
        self.exten: str = exten
        self.domain: str = DEFAULT_DOMAIN
        self.callerid: str = ""
        self.frames: list[tuple[float, str]] = []


def load_timelines(paths: Iterable[str | os.PathLike[str]]) -> dict[str, Timeline]:
    """Every login of the captures at ``paths`` with the text frames it received, by extension."""
    conns: dict[int, tuple[str | None, str | None, str]] = {}  # conn -> (login, exten, charset)
    by_login: dict[str, Timeline] = {}
    starts: dict[str, float] = {}
    for rec in read_capture(*paths):
        if rec.kind == "open":
            info = rec.info or {}
            conns[rec.conn] = (info.get("login"), info.get("exten"), info.get("charset") or "cp949")
            continue
        if rec.kind != "rx" or rec.ftype != TEXT or rec.conn not in conns:
            continue
        login, exten, charset = conns[rec.conn]
        if not login:
            continue
        body = rec.body or b""
        text = body.decode("ascii") if body.isascii() else body.decode(charset, "replace")
        name = text.split("|", 1)[0].split(" ", 1)[0]
        tl = by_login.get(login)
        if name == "LOGINRESULT":
            fields = dict(p.split(":", 1) for p in text.split("|")[1:] if ":" in p)
            exten = fields.get("EXTEN") or exten or login
            if tl is None:
                tl = by_login[login] = Timeline(login, exten)
            tl.domain = fields.get("DOMAIN") or tl.domain
            tl.callerid = fields.get("CALLERID") or tl.callerid
        if name in _OWN:
            continue
        if tl is None:
            tl = by_login[login] = Timeline(login, exten or login)
        start = starts.setdefault(login, rec.ts)
        tl.frames.append((max(0.0, rec.ts - start), text))
    return {tl.exten: tl for tl in by_login.values()}


class CapturePlayback:
    """Deliver each captured login's frames to the emulator session that logs in with it.

    ``speed`` divides the recorded spacing (``10``: ten times faster); ``poll`` is how often
    new logins are looked for, in seconds.
    """

    def __init__(self, emulator: Any, paths: Iterable[str | os.PathLike[str]], *, speed: float = 1.0,
                 poll: float = 0.05) -> None:
        if not speed > 0:
            raise ValueError("speed must be > 0")
        if not poll > 0:
            raise ValueError("poll must be > 0 seconds")
        self.emulator = emulator
        self.speed: float = float(speed)
        self.poll: float = float(poll)
        self.timelines: dict[str, Timeline] = load_timelines(paths)
        self.played: int = 0
        self.started: int = 0
        self._playing: dict[str, asyncio.Task] = {}
        self._finished: set[str] = set()  # played to the end during the current login
        self._watch: asyncio.Task | None = None

    def directory(self, password: str = "replay") -> Directory:
        """Accounts for every login of the capture, all with ``password``."""
        return Directory(User(id=tl.login, password=password, exten=tl.exten, callerid=tl.callerid,
                              domain=tl.domain) for tl in self.timelines.values())

    def start(self) -> None:
        """Begin watching for logins (call on the emulator's running loop)."""
        if self._watch is None:
            self._watch = asyncio.get_running_loop().create_task(self._run(), name="lguapi-playback")

    async def close(self) -> None:
        """Stop watching and every playback under way."""
        tasks = [t for t in (self._watch, *self._playing.values()) if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._watch = None
        self._playing.clear()

    async def _run(self) -> None:
        emu = self.emulator
        while True:
            for exten, tl in self.timelines.items():
                task = self._playing.get(exten)
                online = emu.online(exten)
                if online and (task is None or task.done()) and exten not in self._finished:
                    self.started += 1
                    self._playing[exten] = asyncio.get_running_loop().create_task(self._play(tl))
                elif not online:
                    self._finished.discard(exten)  # the next login plays it again
                    if task is not None and not task.done():
                        task.cancel()
            await asyncio.sleep(self.poll)

    async def _play(self, tl: Timeline) -> None:
        loop = asyncio.get_running_loop()
        emu = self.emulator
        t0 = loop.time()
        for offset, text in tl.frames:
            delay = t0 + offset / self.speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if not emu.online(tl.exten):
                return
            emu.deliver(tl.exten, text)
            self.played += 1
        self._finished.add(tl.exten)
        log.info("playback: %d frames delivered to %s", len(tl.frames), tl.exten)
