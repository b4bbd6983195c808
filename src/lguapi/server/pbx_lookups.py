"""The PBX's query commands: GETPEERINFO, GETSTATUSPEERS, GETCALLHISTORY, GETRECVSMSLIST,
GETRECORDLIST, GETQSTATUS, GETVARINFO.

Row results (call history, received SMS, recordings) are split results (docs/protocol.md §7):
CMDRESULT pieces of at most ``pbx.max_plain`` characters, then CMDRESULTEND.
"""
from __future__ import annotations

import time
from typing import Any, TYPE_CHECKING, Callable

from .pbx_args import MAX_PEERS, arg, check_agent, date_bound, int_arg, peer_list, required
from .pbx_history import local14
from .pbx_model import PbxCommandError, Leg
from .pbx_text import cmd_result, split_result

if TYPE_CHECKING:  # pragma: no cover
    from .accounts import User
    from .pbx import Pbx

__all__ = ["LookupEngine", "LOOKUP_COMMANDS", "status_of", "SMS_PAGE"]

#: rows per GETRECVSMSLIST page
SMS_PAGE = 10
_MOBILE = ("010", "011", "016", "017", "018", "019")


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _category(pbx: Pbx, num: str) -> int:
    """GETCALLHISTORY SEARCH category of a number: 0 internal, 1 local/long distance, 2 mobile, 5 international."""
    if pbx.directory.by_exten(num) is not None:
        return 0
    if num.startswith(("00", "+")):
        return 5
    if num.startswith(_MOBILE):
        return 2
    return 1


def status_of(pbx: Pbx, exten: str) -> str:
    """``<state>:<application>`` of an extension as GETSTATUSPEERS reports it (manual §3.24)."""
    leg = pbx.active_leg(exten)
    if leg is None:
        return "Down:"
    return _leg_status(pbx, leg)


def _leg_status(pbx: Pbx, leg: Leg) -> str:
    st = leg.state
    call = leg.call
    if st == "ring":
        return "Ringing:AppDial((Outgoing Line))"
    if st == "dial":
        return f"Ring:{call.dial_app}"
    if leg.room is not None:
        return f"Up:MeetMe({leg.room.room})"
    other = pbx.other_side(leg)
    if st == "hold":
        return f"Up:Hold({other.name if other is not None else ''})"
    if leg is call.caller and call.dial_app and call.kind == "call":
        return f"Up:{call.dial_app}"
    return f"Up:Link_Channel({other.name if other is not None else ''})"


def cmd_getpeerinfo(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    """``<peer>:OK:CONN`` (phone registered, API session up), ``<peer>:OK:NOT`` (no session),
    ``<peer>:NOT:NOT`` (no such extension in the domain)."""
    check_agent(user, args)
    fields = []
    for p in peer_list(required(args, "PEERS")):
        u = pbx.directory.by_exten(p)
        if u is None or u.domain != user.domain:
            fields.append(f"{p}:NOT:NOT")
        else:
            fields.append(f"{p}:OK:{'CONN' if pbx.online(p) else 'NOT'}")
    reply(cmd_result("GETPEERINFO", *fields))


def cmd_getstatuspeers(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    """``<peer>:<Up|Down|Ring|Ringing>:<application>`` per peer; ROOM adds the room's members.
    An idle phone is ``Down:``, an unknown extension ``Down:Unknown``."""
    check_agent(user, args)
    peers = peer_list(args["PEERS"]) if args.get("PEERS") else []
    room = arg(args, "ROOM")
    if room:
        conf = pbx.room(user.domain, room)
        if conf is not None:
            peers.extend(m.exten for m in conf.members if m.exten is not None and m.exten not in peers)
    if not peers and not room:
        raise PbxCommandError("missing argument PEERS")
    if len(peers) > MAX_PEERS:
        raise PbxCommandError(f"more than {MAX_PEERS} peers to report")
    fields = []
    for p in peers:
        u = pbx.directory.by_exten(p)
        fields.append(f"{p}:{status_of(pbx, p) if u is not None else 'Down:Unknown'}")
    reply(cmd_result("GETSTATUSPEERS", *fields))


def cmd_getcallhistory(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    """Rows ``time^name(Base64)^exten^inbound|outbound^ring^talk^OK|NO-ANS|BUSY^0^0``, newest
    first. CAT 0 = domain, 1 = own; INOUT 0 = inbound, 1 = outbound, empty = both, 9 = the
    count of the domain's rows (``RES:<count>``); START/END bound the time; SEARCH 0 internal,
    1 local/long distance, 2 mobile, 5 international, 9 or empty all."""
    check_agent(user, args)
    cat = int_arg(args, "CAT", 1, allowed=(0, 1))
    inout = int_arg(args, "INOUT", -1, allowed=(-1, 0, 1, 9))
    start = date_bound(args, "START", end=False)
    end = date_bound(args, "END", end=True)
    search = int_arg(args, "SEARCH", 9, allowed=(0, 1, 2, 5, 9))
    domain = user.domain
    own = user.exten if cat == 1 and inout != 9 else None
    want = {0: "inbound", 1: "outbound"}.get(inout)
    out = []
    count = 0
    for row in reversed(pbx.rows):
        t, exten, dom, io, name, other, ring, talk, result = row
        if dom != domain or (own is not None and exten != own) or (want is not None and io != want):
            continue
        if start or end:
            stamp = local14(t)
            if (start and stamp < start) or (end and stamp > end):
                continue
        if search != 9 and _category(pbx, other) != search:
            continue
        if inout == 9:
            count += 1
        else:
            out.append(f"{_when(t)}^{name}^{exten}^{io}^{ring}^{talk}^{result}^0^0")
    rows = [str(count)] if inout == 9 else out
    for text in split_result("GETCALLHISTORY", rows, pbx.max_plain):
        reply(text)


def cmd_getrecvsmslist(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    """Page PAGE (from 1, 10 rows each, newest first) of the agent's received SMS:
    ``time^from^2^OK|NOT^message`` (OK: it reached an API session when it arrived)."""
    check_agent(user, args)
    page = int_arg(args, "PAGE", 1)
    if page < 1:
        raise PbxCommandError("malformed argument PAGE (pages start at 1)")
    inbox = pbx.inbox.get(user.exten, ())
    newest = list(reversed(inbox))[(page - 1) * SMS_PAGE: page * SMS_PAGE]
    rows = [f"{_when(t)}^{frm}^2^{'OK' if ok else 'NOT'}^{text}" for t, frm, text, ok in newest]
    for text in split_result("GETRECVSMSLIST", rows, pbx.max_plain):
        reply(text)


def cmd_getrecordlist(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    """The agent's recordings, newest first: ``time^exten^peer^seconds^file``; INOUT 0 inbound,
    1 outbound, empty/9 both; START/END and SEARCH as GETCALLHISTORY."""
    check_agent(user, args)
    inout = int_arg(args, "INOUT", 9, allowed=(0, 1, 9))
    start = date_bound(args, "START", end=False)
    end = date_bound(args, "END", end=True)
    search = int_arg(args, "SEARCH", 9, allowed=(0, 1, 2, 5, 9))
    want = {0: "inbound", 1: "outbound"}.get(inout)
    rows = []
    for rec in reversed(pbx.recordings):
        if rec["exten"] != user.exten or (want is not None and rec["inout"] != want):
            continue
        stamp = local14(rec["time"])
        if (start and stamp < start) or (end and stamp > end):
            continue
        if search != 9 and _category(pbx, rec["peer"]) != search:
            continue
        rows.append(f"{_when(rec['time'])}^{rec['exten']}^{rec['peer']}^{rec['seconds']}^{rec['file']}")
    for text in split_result("GETRECORDLIST", rows, pbx.max_plain):
        reply(text)


def cmd_getqstatus(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    """Queues are pickup groups: QNAME (empty: the agent's group) lists its members as
    ``<member>:<idle|ringing|talking|held>:<calls answered>``; MEMBER filters (comma list)."""
    check_agent(user, args)
    qname = arg(args, "QNAME") or user.pickup_group
    if qname:
        members = [u.exten for u in pbx.directory.in_domain(user.domain) if u.pickup_group == qname]
        if not members:
            raise PbxCommandError(f"unknown queue {qname}")
    else:
        members = [user.exten]
    only = arg(args, "MEMBER")
    if only:
        wanted = set(peer_list(only, "MEMBER"))
        members = [m for m in members if m in wanted]
    if len(members) > MAX_PEERS:
        raise PbxCommandError(f"queue {qname} has more than {MAX_PEERS} members: name them in MEMBER")
    answered = pbx.answered_calls
    reply(cmd_result("GETQSTATUS", *(f"{m}:{pbx.phone_state(m)}:{answered.get(m, 0)}" for m in members)))


def cmd_getvarinfo(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    """``NAME:<name>|VALUE:<value>``: EXTEN, CALLERID, DOMAIN, NAME, PICKUPGROUP, STATE,
    FORWARD (``<type>:<number>`` or empty), or anything SETUSERINFO stored (empty if unknown)."""
    check_agent(user, args)
    name = required(args, "NAME")
    key = name.upper()
    mine = pbx.uservars.get(user.exten, {})
    if key in mine:
        value = mine[key]
    else:
        fw = pbx.forwards.get(user.exten)
        value = {
            "EXTEN": user.exten, "CALLERID": user.callerid, "DOMAIN": user.domain, "NAME": user.name,
            "PICKUPGROUP": user.pickup_group, "STATE": pbx.phone_state(user.exten),
            "FORWARD": f"{fw.type}:{fw.number}" if fw is not None else "",
        }.get(key, "")
    reply(cmd_result("GETVARINFO", f"NAME:{name}", f"VALUE:{value}"))


class LookupEngine:
    """The read-only queries (status, history, SMS and recording lists, queues, variables):
    their split-result size ``max_plain`` and their command table."""

    def __init__(self, *, max_plain: int) -> None:
        if max_plain < 64:
            raise ValueError("max_plain must be >= 64")
        self.max_plain = max_plain
        self.commands: dict[str, Callable[..., Any]] = dict(LOOKUP_COMMANDS)


LOOKUP_COMMANDS: dict[str, Callable[..., Any]] = {
    "GETPEERINFO": cmd_getpeerinfo,
    "GETSTATUSPEERS": cmd_getstatuspeers,
    "GETCALLHISTORY": cmd_getcallhistory,
    "GETRECVSMSLIST": cmd_getrecvsmslist,
    "GETRECORDLIST": cmd_getrecordlist,
    "GETQSTATUS": cmd_getqstatus,
    "GETVARINFO": cmd_getvarinfo,
}
