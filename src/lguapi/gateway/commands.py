"""REST commands: the allow-list of :class:`lguapi.Client` methods, argument checks, error mapping.

``POST /v1/extensions/{exten}/{method}`` calls ``method`` on that extension's logged-in
client with the JSON body as keyword arguments. :data:`METHODS` names exactly the Client's
public call-control, message/settings and query coroutines; the module checks at import that
each exists, so a renamed Client method fails loudly here instead of answering 404.
Arguments are checked against the method's signature before anything is sent (400);
:mod:`lguapi.errors` become 409 (the server refused: CMDERROR/RES:ERR, or no current call),
503 (extension offline) and 504 (no answer in time).
"""
from __future__ import annotations

import asyncio
import inspect
from typing import Any

from ..client import Client
from ..errors import CommandError, CommandTimeout, ConnectionLost
from .errors import ApiError
from .jsonable import to_jsonable

__all__ = ["METHODS", "CALL_CONTROL", "MESSAGES", "QUERIES", "run_command", "signature_of"]

#: call control (each takes ``wait``: false answers once the command is written)
CALL_CONTROL = (
    "click2call", "answer", "hold", "unhold", "pickup", "hangup", "hangup_dst", "hangup_channel",
    "start_record", "stop_record", "transfer", "atxfer", "atxfer_cid", "redirect_conference",
    "invite_conference", "join_conference", "call_with_conference", "remove_conference", "send_sip_command",
)
#: messages and settings
MESSAGES = ("send_sms", "send_peer_msg", "set_forward", "set_user_info", "address_book")
#: queries
QUERIES = (
    "get_peer_info", "get_call_history", "get_status_peers", "get_recv_sms_list", "get_var_info",
    "get_queue_status", "get_record_list", "get_conference_members",
)
#: every method the REST route accepts
METHODS = CALL_CONTROL + MESSAGES + QUERIES


def _signatures() -> dict[str, inspect.Signature]:
    out = {}
    for name in METHODS:
        fn = getattr(Client, name, None)
        if fn is None or not inspect.iscoroutinefunction(fn):
            raise ImportError(f"lguapi.gateway.commands: Client.{name} is not a coroutine method any more")
        out[name] = inspect.signature(fn)
    return out


_SIGNATURES = _signatures()


def signature_of(method: str) -> list[dict]:
    """``[{"name", "required", "default"}]`` of a method's keyword arguments (for OpenAPI)."""
    out = []
    for p in list(_SIGNATURES[method].parameters.values())[1:]:
        if p.kind is p.VAR_KEYWORD:
            continue
        required = p.default is p.empty
        out.append({"name": p.name, "required": required, "default": None if required else p.default})
    return out


def _check_value(method: str, key: str, value: Any) -> None:
    if key == "wait":
        if not isinstance(value, bool):
            raise ApiError(400, None, f"{method}: 'wait' must be true or false")
        return
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return
    if isinstance(value, list) and all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        return
    raise ApiError(400, None, f"{method}: argument {key!r} must be a string, a number or a list of them")


def check_arguments(method: str, kwargs: dict) -> None:
    """Raise a 400 :class:`ApiError` unless ``kwargs`` fit the method's signature."""
    params = list(_SIGNATURES[method].parameters.values())[1:]
    named = {p.name: p for p in params if p.kind is not p.VAR_KEYWORD}
    open_kw = any(p.kind is p.VAR_KEYWORD for p in params)
    unknown = [k for k in kwargs if k not in named]
    if unknown and not open_kw:
        takes = ", ".join(named) or "no arguments"
        raise ApiError(400, None, f"{method}: unknown argument(s) {', '.join(map(repr, unknown))} (takes: {takes})")
    missing = [n for n, p in named.items() if p.default is p.empty and n not in kwargs]
    if missing:
        raise ApiError(400, None, f"{method}: missing required argument(s) {', '.join(map(repr, missing))}")
    for k, v in kwargs.items():
        _check_value(method, k, v)


async def run_command(client: Any, exten: str, method: str, kwargs: dict, *, deny=frozenset(),
                      timeout: float = 15.0) -> Any:
    """Call ``client.<method>(**kwargs)`` and return its result as JSON data."""
    if method not in _SIGNATURES or method in deny:
        raise ApiError(404, None, f"unknown method {method!r}; methods: {', '.join(m for m in METHODS if m not in deny)}")
    check_arguments(method, kwargs)
    if client is None or not client.is_logged_in:
        raise ApiError(503, "extension_offline", f"extension {exten} is offline (not logged in)",
                       headers={"Retry-After": "5"})
    try:
        result = await asyncio.wait_for(getattr(client, method)(**kwargs), timeout)
    except CommandTimeout as e:
        raise ApiError(504, None, str(e)) from None
    except asyncio.TimeoutError:
        raise ApiError(504, None, f"{method}: no answer within {timeout:g} s") from None
    except CommandError as e:  # CMDERROR, RES:ERR, no current call
        raise ApiError(409, None, e.msg or str(e)) from None
    except ConnectionLost as e:
        raise ApiError(503, "extension_offline", f"extension {exten}: {e}", headers={"Retry-After": "5"}) from None
    except (ValueError, TypeError) as e:  # the Client refused an argument before sending
        raise ApiError(400, None, f"{method}: {e}") from None
    return to_jsonable(result)
