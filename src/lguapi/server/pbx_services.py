"""The PBX's messaging and settings commands: SENDSMS, SENDPEERMSG, SETFORWARD, SETUSERINFO, MAGADDRLIST.

Handlers have the signature of :mod:`.pbx_commands`; answers are CMDRESULT texts given to ``reply``.
"""
from __future__ import annotations

import re
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

from .pbx_args import MAX_PEERS, arg, check_agent, date_bound, free_text, int_arg, number, peer_list, required
from .pbx_model import PbxCommandError, Forward
from .pbx_text import cmd_result

if TYPE_CHECKING:  # pragma: no cover
    from .accounts import User
    from .pbx import Pbx

__all__ = ["ServiceEngine", "SERVICE_COMMANDS", "SMS_NUMBER"]

#: a number an SMS can go to
SMS_NUMBER = re.compile(r"\+?\d{3,20}\Z")
_STAMP = re.compile(r"\d{14}\Z")
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}\Z")
_BOOK_FIELDS = ("GNAME", "PNAME", "TEL1", "TEL2", "TEL3", "TEL4", "TEL5", "DEF", "MEMO")


def cmd_sendsms(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    """SENDSMS: one field per peer, ``<peer>:RES:sms Send SUCCESS(<peer>)`` (manual §3.19), or
    ``... FAIL(<peer>)`` for a number an SMS cannot go to. TYPE=1 reserves for INFO's time
    (``Reserve SUCCESS``). An SMS to one of the emulator's own 070 numbers arrives there as RECVSMS."""
    check_agent(user, args)
    kind = int_arg(args, "TYPE", 0)
    info = arg(args, "INFO")
    if kind == 1 and not _STAMP.match(info):
        raise PbxCommandError("malformed argument INFO (TYPE=1 reserves for INFO=YYYYMMDDHHMMSS)")
    raw = required(args, "PEERS")
    peers = list(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip()))
    if not peers:
        raise PbxCommandError("missing argument PEERS")
    if len(peers) > MAX_PEERS:
        raise PbxCommandError(f"PEERS lists more than {MAX_PEERS} entries")
    text = free_text(args)
    verb = "Reserve" if kind == 1 else "Send"
    fields = []
    now = pbx.clock()
    sender = user.callerid or user.exten
    for p in peers:
        if "|" in p or ":" in p:
            raise PbxCommandError("malformed argument PEERS")
        if not SMS_NUMBER.match(p):
            fields.append(f"{p}:RES:sms {verb} FAIL({p})")
            continue
        fields.append(f"{p}:RES:sms {verb} SUCCESS({p})")
        pbx.sent_sms.append({"time": now, "from": user.exten, "to": p, "type": kind, "info": info, "text": text})
        if kind != 1 and pbx.directory.by_callerid(p) is not None:
            pbx.inbound_sms(sender, p, text)
    reply(cmd_result("SENDSMS", *fields))


def cmd_sendpeermsg(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    """SENDPEERMSG: ``<peer>:OK`` when the extension (same domain) has an API session and got
    RECVPEERMSG, ``<peer>:NOT`` otherwise. ``PEERS=ALLDOMAIN`` reaches every other extension
    of the domain and is answered with one field, ``ALLDOMAIN:OK`` (someone got it) or ``ALLDOMAIN:NOT``."""
    check_agent(user, args)
    int_arg(args, "TYPE", 0)
    raw = required(args, "PEERS")
    text = free_text(args)
    event = f"RECVPEERMSG|FROM:{user.exten}|MSG:{text}"
    online = pbx.online
    if raw == "ALLDOMAIN":
        n = 0
        for u in pbx.directory.in_domain(user.domain):
            if u.exten != user.exten and online(u.exten):
                pbx.emit(u.exten, event)
                n += 1
        reply(cmd_result("SENDPEERMSG", f"ALLDOMAIN:{'OK' if n else 'NOT'}"))
        return
    fields = []
    for p in peer_list(raw):
        peer = pbx.directory.by_exten(p)
        if peer is not None and peer.domain == user.domain and online(p):
            pbx.emit(p, event)
            fields.append(f"{p}:OK")
        else:
            fields.append(f"{p}:NOT")
    reply(cmd_result("SENDPEERMSG", *fields))


def cmd_setforward(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    """SETFORWARD (manual §3.21): USE=1 sets TYPE 0 (always) / 1 (no answer) / 2 (busy) /
    3 (ring both) to NUMBER between START and END; USE=0 clears it. Answers
    ``RES:IFW userid:(<id>)-(<domain>)-(<number>)`` and ``RES:DFW userid:(<id>)-()``."""
    check_agent(user, args)
    use = int_arg(args, "USE", allowed=(0, 1))
    if use == 0:
        pbx.forwards.pop(user.exten, None)
        reply(cmd_result("SETFORWARD", f"RES:DFW userid:({user.id})-()"))
        return
    kind = int_arg(args, "TYPE", allowed=(0, 1, 2, 3))
    target = number(required(args, "NUMBER"), "NUMBER")
    u = pbx.user_of(target)
    if u is not None and u.exten == user.exten:
        raise PbxCommandError("cannot forward to the own extension")
    start = date_bound(args, "START", end=False)
    end = date_bound(args, "END", end=True)
    if start and end and end < start:
        raise PbxCommandError("END is before START")
    pbx.forwards[user.exten] = Forward(kind, target, start, end)
    reply(cmd_result("SETFORWARD", f"RES:IFW userid:({user.id})-({user.domain})-({target})"))


def cmd_setuserinfo(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    """SETUSERINFO KEY= VAL=: stores a variable of the user (GETVARINFO reads it back)."""
    check_agent(user, args)
    key = required(args, "KEY")
    if not _KEY.match(key):
        raise PbxCommandError("malformed argument KEY")
    key, value = key.upper(), arg(args, "VAL")
    mine = pbx.uservars.setdefault(user.exten, {})
    size = sum(_utf8_len(k) + _utf8_len(v) for k, v in mine.items() if k != key) + _utf8_len(key) + _utf8_len(value)
    if size > pbx.max_userinfo_bytes:
        raise PbxCommandError(f"variables of {user.exten} would take {size} bytes "
                           f"(max_userinfo_bytes={pbx.max_userinfo_bytes})")
    mine[key] = value
    reply(cmd_result("SETUSERINFO", "RES:OK"))


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "replace"))


def cmd_magaddrlist(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    """MAGADDRLIST: the domain's address book. TYPE=0 adds an entry (PNAME or TEL1 needed),
    TYPE=1 updates and TYPE=2 deletes entry KEYIDX; RES:ERR when KEYIDX does not exist."""
    check_agent(user, args)
    kind = int_arg(args, "TYPE", allowed=(0, 1, 2))
    book = pbx.addressbook.setdefault(user.domain, {})
    entry = {k: arg(args, k) for k in _BOOK_FIELDS}
    if kind == 0:
        if not entry["PNAME"] and not entry["TEL1"]:
            raise PbxCommandError("missing argument PNAME or TEL1")
        if len(book) >= pbx.max_addressbook:
            raise PbxCommandError(f"address book of {user.domain} is full (max_addressbook={pbx.max_addressbook})")
        key = pbx.addressbook_next.get(user.domain, 1)   # O(1): no scan of the book
        pbx.addressbook_next[user.domain] = key + 1
        book[key] = {"KEYIDX": str(key), **entry, "OWNER": user.exten}
        reply(cmd_result("MAGADDRLIST", "RES:OK"))
        return
    key = int_arg(args, "KEYIDX")
    if key not in book:
        reply(cmd_result("MAGADDRLIST", "RES:ERR"))
        return
    if kind == 1:
        book[key].update({k: v for k, v in entry.items() if k in args})
    else:
        del book[key]
    reply(cmd_result("MAGADDRLIST", "RES:OK"))


class ServiceEngine:
    """The messaging and settings state of the PBX, each part bounded, and its command table.

    ``inbox`` (exten -> received SMS as ``(time, from, text, delivered)``), ``sent_sms``,
    ``addressbook`` (domain -> KEYIDX -> entry) with ``addressbook_next`` (domain -> the next
    KEYIDX, never reused) and ``uservars`` (exten -> SETUSERINFO variables).
    """

    def __init__(self, *, history_limit: int, max_userinfo_bytes: int, max_addressbook: int) -> None:
        if max_userinfo_bytes < 0 or max_addressbook < 0:
            raise ValueError("max_userinfo_bytes and max_addressbook must be >= 0")
        self.inbox: dict[str, deque[Any]] = {}
        self.sent_sms: deque[dict[str, Any]] = deque(maxlen=history_limit)
        self.addressbook: dict[str, dict[int, dict[str, Any]]] = {}
        self.addressbook_next: dict[str, int] = {}
        self.uservars: dict[str, dict[str, str]] = {}
        self.max_userinfo_bytes = max_userinfo_bytes
        self.max_addressbook = max_addressbook
        self.commands: dict[str, Callable[..., Any]] = dict(SERVICE_COMMANDS)


SERVICE_COMMANDS: dict[str, Callable[..., Any]] = {
    "SENDSMS": cmd_sendsms,
    "SENDPEERMSG": cmd_sendpeermsg,
    "SETFORWARD": cmd_setforward,
    "SETUSERINFO": cmd_setuserinfo,
    "MAGADDRLIST": cmd_magaddrlist,
}
