"""Commands for an extension another member owns: request/reply over Redis lists, answered as the owner's gateway would.

Every member serves ``<prefix>:cmd:<member>`` (:class:`CommandServer`): a request names the
extension, the Client method, its keyword arguments and a reply list; the owner runs it with
the gateway's own command code (:func:`lguapi.gateway.commands.run_command`) and pushes back
either the JSON result or the HTTP status, error code, message and headers it would have
answered. The asking gateway (:class:`RemoteClient`) re-raises that as the same
``ApiError``, so a routed command answers exactly like a local one; no reply within the
command timeout is a 504 on the asking side.
"""
from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from typing import Any, Callable

__all__ = ["CommandServer", "RemoteClient", "request", "command_key"]

log: logging.Logger = logging.getLogger("lguapi.cluster.routing")

_REPLY_TTL = 60  # seconds a reply list lives (the asker may have given up)


def command_key(prefix: str, member: str) -> str:
    """The request list a member serves."""
    return f"{prefix}:cmd:{member}"


async def request(redis: Any, blocking: Any, prefix: str, owner: str, exten: str, method: str, kwargs: dict,
                  timeout: float) -> Any:
    """Send one command to ``owner`` and wait up to ``timeout`` for its answer: the result's
    JSON data, or the owner's ``ApiError`` raised again here."""
    from ..gateway.errors import ApiError

    rid = secrets.token_hex(8)
    reply = f"{prefix}:reply:{rid}"
    body = json.dumps({"id": rid, "exten": exten, "method": method, "kwargs": kwargs, "timeout": timeout,
                       "reply": reply, "deadline": time.time() + timeout})
    await redis.rpush(command_key(prefix, owner), body)
    got = await blocking.blpop([reply], timeout=timeout)
    if got is None:
        raise ApiError(504, None, f"{method}: the owner of extension {exten} did not answer within {timeout:g} s")
    answer = json.loads(got[1])
    if answer.get("ok"):
        return answer.get("result")
    raise ApiError(int(answer.get("status") or 500), answer.get("code"), answer.get("message") or "error",
                   headers=answer.get("headers") or None)


class RemoteClient:
    """Stands in for the Client of an extension owned by ``owner``: any method call is routed."""

    is_logged_in = True

    def __init__(self, send: Callable[..., Any], owner: str, exten: str, timeout: float) -> None:
        self._send = send
        self.owner = owner
        self.exten = exten
        self._timeout = timeout

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)

        async def call(**kwargs: Any) -> Any:
            return await self._send(self.owner, self.exten, method, kwargs, self._timeout)

        return call

    def __repr__(self) -> str:
        return f"<RemoteClient exten={self.exten!r} owner={self.owner!r}>"


class CommandServer:
    """Serve this member's request list: ``client_of(exten)`` gives the local Client (or None
    when this member does not hold the extension). At most ``concurrency`` commands at once."""

    def __init__(self, redis: Any, blocking: Any, prefix: str, member: str,
                 client_of: Callable[[str], Any], *, concurrency: int = 100,
                 on_wake: Callable[[], Any] | None = None) -> None:
        self.redis = redis
        self.blocking = blocking
        self.key: str = command_key(prefix, member)
        self._client_of = client_of
        self._on_wake = on_wake
        self._sem = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task] = set()
        self.stats: dict[str, int] = {"served": 0, "expired": 0, "errors": 0}
        #: set to end :meth:`run` (within the 1 s BLPOP wait)
        self.stopping = False

    async def run(self) -> None:
        while not self.stopping:
            try:
                got = await self.blocking.blpop([self.key], timeout=1)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # Redis down: try again shortly
                log.debug("command server: %s", e)
                await asyncio.sleep(0.5)
                continue
            if got is None:
                continue
            if got[1] in (b"wake", "wake"):  # a member handed us shards: take them now
                if self._on_wake is not None:
                    self._on_wake()
                continue
            await self._sem.acquire()
            t = asyncio.create_task(self._serve(got[1]))
            self._tasks.add(t)
            t.add_done_callback(self._done)

    def _done(self, t: asyncio.Task) -> None:
        self._tasks.discard(t)
        self._sem.release()

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, raw: Any) -> None:
        try:
            req = json.loads(raw)
            reply, exten, method = req["reply"], req["exten"], req["method"]
        except (TypeError, ValueError, KeyError):
            self.stats["errors"] += 1
            log.error("command server: a request that is not one was dropped")
            return
        left = float(req.get("deadline", 0)) - time.time()
        if left <= 0:
            self.stats["expired"] += 1
            return
        answer = await self._execute(exten, method, req.get("kwargs") or {}, left)
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.rpush(reply, json.dumps(answer, ensure_ascii=False))
            pipe.expire(reply, _REPLY_TTL)
            await pipe.execute()
            self.stats["served"] += 1
        except Exception as e:
            self.stats["errors"] += 1
            log.warning("command server: could not send the reply of %s: %s", method, e)

    async def _execute(self, exten: str, method: str, kwargs: dict, timeout: float) -> dict:
        try:
            from ..gateway.commands import run_command
            from ..gateway.errors import ApiError
        except ImportError as e:
            return {"ok": False, "status": 503, "code": "unavailable",
                    "message": f"the owner of extension {exten} cannot run commands (no gateway extra: {e})"}
        try:
            result = await run_command(self._client_of(exten), exten, method, kwargs, timeout=timeout)
        except ApiError as e:
            return {"ok": False, "status": e.status, "code": e.code, "message": e.message,
                    "headers": dict(e.headers or {})}
        except Exception as e:
            log.exception("command server: %s on %s failed", method, exten)
            return {"ok": False, "status": 500, "code": None, "message": f"{method}: {type(e).__name__}"}
        return {"ok": True, "result": result}
