"""The call-control commands of docs/protocol.md §4.3: read and check arguments, then drive the engine.

Each handler is ``handler(pbx, user, args, positional, reply)``; call events go out through
the engine's ``deliver``, CMDRESULT answers through ``reply``, and anything the PBX cannot
do raises :class:`~.pbx_model.PbxCommandError`.
"""
from __future__ import annotations

from typing import Any, TYPE_CHECKING, Callable

from .pbx_args import arg, check_agent, number, peer_list, required, room_name
from .pbx_model import NORMAL, REJECTED, PbxCommandError, Leg
from .pbx_text import cmd_result

if TYPE_CHECKING:  # pragma: no cover
    from .accounts import User
    from .pbx import Pbx

__all__ = ["CALL_COMMANDS", "agent_leg"]

CONNECTED = ("up", "hold")


def agent_leg(pbx: Pbx, user: User, channel: str, states: tuple[str, ...] = CONNECTED, what: str = "no current call") -> Leg:
    """The agent's leg a command acts on.

    ``channel`` (optional) names the agent's own channel or the other party's; an unknown
    name is an error. Without it, the agent's current leg in one of ``states``.
    """
    exten = user.exten
    if channel:
        leg = pbx.channels.get(channel)
        if leg is None:
            raise PbxCommandError(f"unknown channel {channel}")
        if leg.exten == exten:
            return leg
        call = leg.call
        for mine in pbx.phones.get(exten, ()):
            c = mine.call
            if c is call or c is call.parent or call is c.parent or (mine.room is not None and mine.room is leg.room):
                return mine
        raise PbxCommandError(f"channel {channel} is not in a call of {exten}")
    leg = pbx.active_leg(exten, states)
    if leg is None:
        raise PbxCommandError(what)
    return leg


def _connected(leg: Leg) -> Leg:
    if leg.state not in CONNECTED:
        raise PbxCommandError(f"no connected call on {leg.name} (it is {leg.state})")
    return leg


def cmd_clickcall(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    check_agent(user, args)
    target = number(required(args, "EXTEN"), "EXTEN")
    cid = arg(args, "CID")
    if cid:
        number(cid, "CID")
    if target in (user.exten, user.callerid):
        raise PbxCommandError("cannot call the own extension")
    if not pbx.is_free(user.exten):
        raise PbxCommandError(f"{user.exten} is busy")
    pbx.dial(user, target, cid)


def cmd_answer(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    """ANSWER: MYCHANNEL (own ringing channel) and CHANNEL (the caller's) are hints; without a
    match the oldest call ringing at the agent is answered."""
    check_agent(user, args)
    exten = user.exten
    ring = None
    mine = pbx.channels.get(arg(args, "MYCHANNEL"))
    if mine is not None and mine.exten == exten and mine.state == "ring":
        ring = mine
    other = pbx.channels.get(arg(args, "CHANNEL"))
    if ring is None and other is not None:
        for leg in pbx.phones.get(exten, ()):
            if leg.state == "ring" and leg.call is other.call:
                ring = leg
                break
    if ring is None:
        ring = pbx.ringing_at(exten)
    if ring is None:
        raise PbxCommandError("no ringing call to answer")
    pbx.answer(ring)


def _hold(name: str, on: bool):
    def handler(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
        check_agent(user, args)
        leg = agent_leg(pbx, user, arg(args, "CHANNEL"))
        ok = pbx.hold(leg) if on else pbx.unhold(leg)
        reply(cmd_result(name, "RES:OK" if ok else "RES:ERR"))
    handler.__name__ = f"cmd_{name.lower()}"
    return handler


def cmd_pickup(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    """PICKUP: EXTEN names the ringing phone (3-digit extensions may carry a leading 0,
    manual §3.5); empty EXTEN picks up in the agent's pickup group."""
    check_agent(user, args)
    if not pbx.is_free(user.exten):
        raise PbxCommandError(f"{user.exten} is busy")
    target = arg(args, "EXTEN")
    if target:
        u = pbx.directory.by_exten(target)
        if u is None and target.startswith("0"):
            u = pbx.directory.by_exten(target[1:])
        if u is None:
            raise PbxCommandError(f"unknown extension {target}")
        ring = pbx.ringing_at(u.exten)
        if ring is None:
            raise PbxCommandError(f"nothing is ringing at {u.exten}")
    else:
        if not user.pickup_group:
            raise PbxCommandError(f"{user.exten} has no pickup group")
        ring = pbx.ringing_in_group(user)
        if ring is None:
            raise PbxCommandError(f"nothing is ringing in pickup group {user.pickup_group}")
    pbx.answer(ring, by=user.exten)


def cmd_hangup(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    """HANGUP of the own, the other party's or any named channel. The pipe form
    ``CMD|HANGUP|<channel>`` (SendSIPCommand) is answered ``CMDRESULT|CMD:HANGUP|RES:OK``
    before the hang-up's events."""
    if pos:
        channel = pos[0]
        if not channel:
            raise PbxCommandError("missing channel")
        leg = pbx.channels.get(channel)
        if leg is None:
            raise PbxCommandError(f"unknown channel {channel}")
        reply(cmd_result("HANGUP", "RES:OK"))
        pbx.hangup(leg, REJECTED if leg.kind == "phone" else NORMAL)
        return
    check_agent(user, args)
    channel = arg(args, "CHANNEL")
    if channel:
        leg = pbx.channels.get(channel)
        if leg is None:
            raise PbxCommandError(f"unknown channel {channel}")
    else:
        leg = pbx.active_leg(user.exten)
        if leg is None:
            raise PbxCommandError("no current call")
    pbx.hangup(leg, REJECTED if leg.kind == "phone" else NORMAL)


def cmd_monitor(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    check_agent(user, args)
    act = required(args, "ACT").upper()
    if act not in ("START", "STOP"):
        raise PbxCommandError("malformed argument ACT (START or STOP)")
    leg = _connected(agent_leg(pbx, user, arg(args, "CHANNEL")))
    ok = pbx.start_record(leg) if act == "START" else pbx.stop_record(leg)
    reply(cmd_result("MONITOR", f"ACT:{act}", "RES:OK" if ok else "RES:ERR"))


def cmd_transfer(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    check_agent(user, args)
    target = number(required(args, "EXTEN"), "EXTEN")
    if target in (user.exten, user.callerid):
        raise PbxCommandError("cannot transfer to the own extension")
    leg = _connected(agent_leg(pbx, user, arg(args, "CHANNEL")))
    u = pbx.user_of(target)
    pbx.blind_transfer(leg, u, u.exten if u is not None else target)


def _atxfer(with_cid: bool):
    def handler(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
        check_agent(user, args)
        target = number(required(args, "EXTEN"), "EXTEN")
        cid = required(args, "CID") if with_cid else ""
        if cid:
            number(cid, "CID")
        u = pbx.user_of(target)
        if u is None:
            raise PbxCommandError(f"unknown extension {target} (attended transfer goes to an extension)")
        if u.exten == user.exten:
            raise PbxCommandError("cannot transfer to the own extension")
        leg = _connected(agent_leg(pbx, user, arg(args, "CHANNEL")))
        pbx.attended_transfer(leg, u, cid)
    handler.__name__ = "cmd_atxfercid" if with_cid else "cmd_atxfer"
    return handler


def cmd_redirectconf(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    check_agent(user, args)
    room = room_name(args)
    leg = _connected(agent_leg(pbx, user, arg(args, "CHANNEL")))
    dst = arg(args, "DSTCHANNEL")
    if dst:
        other = pbx.channels.get(dst)
        if other is None:
            raise PbxCommandError(f"unknown channel {dst}")
        if other.call is not leg.call:
            raise PbxCommandError(f"channel {dst} is not the other party of {leg.name}")
    pbx.redirect_conference(leg, user.domain, room)


def _member_leg(pbx: Pbx, user: User, room: str):
    conf = pbx.room(user.domain, room)
    if conf is None:
        raise PbxCommandError(f"no conference {room}")
    for leg in pbx.phones.get(user.exten, ()):
        if leg.room is conf:
            return conf, leg
    raise PbxCommandError(f"{user.exten} is not in conference {room}")


def cmd_inviteconf(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    """INVITECONF rings extensions into a room the agent is in (after REDIRECTCONF)."""
    check_agent(user, args)
    room = room_name(args)
    peers = peer_list(required(args, "PEERS"))
    if pbx.room(user.domain, room) is None:
        raise PbxCommandError(f"no conference {room} (INVITECONF comes after REDIRECTCONF)")
    conf, _ = _member_leg(pbx, user, room)
    users = []
    for p in peers:
        u = pbx.user_of(p)
        if u is None:
            raise PbxCommandError(f"unknown extension {p} (only extensions can be invited)")
        users.append(u)
    for u in users:
        if u.exten != user.exten:
            pbx.invite(conf, u, user.exten)


def cmd_joinconf(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    """JOINCONF (withdrawn by the vendor): the agent's connected call joins an existing room."""
    check_agent(user, args)
    room = room_name(args)
    leg = _connected(agent_leg(pbx, user, arg(args, "CHANNEL")))
    pbx.redirect_conference(leg, user.domain, room, must_exist=True)


def cmd_callwithconf(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    check_agent(user, args)
    room = room_name(args)
    peers = peer_list(required(args, "PEERS"))
    if not pbx.is_free(user.exten):
        raise PbxCommandError(f"{user.exten} is busy")
    resolved = []
    for p in peers:
        u = pbx.user_of(p)
        if u is not None and u.exten == user.exten:
            raise PbxCommandError("the own extension is in the conference already")
        resolved.append((u, u.exten if u is not None else p))
    pbx.call_with_conference(user, room, resolved)


def cmd_removeconf(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    check_agent(user, args)
    room = room_name(args)
    conf = pbx.room(user.domain, room)
    if conf is None:
        raise PbxCommandError(f"no conference {room}")
    names = [c for c in required(args, "CHANNELS").split(",") if c]
    legs = []
    for name in names:
        leg = pbx.channels.get(name)
        if leg is None or leg.room is not conf:
            raise PbxCommandError(f"channel {name} is not in conference {room}")
        legs.append(leg)
    pbx.remove_from_conference(conf, legs)


def cmd_getlistconfmember(pbx: Pbx, user: User, args: dict[str, Any], pos: list[Any], reply: Callable[[str], None]) -> None:
    check_agent(user, args)
    room = room_name(args)
    conf = pbx.room(user.domain, room)
    members = conf.members if conf is not None else ()
    reply(cmd_result("GETLISTCONFMEMBER", *(f"{m.exten or m.number}:{m.name}" for m in members)))


CALL_COMMANDS: dict[str, Callable[..., Any]] = {
    "CLICKCALL": cmd_clickcall,
    "ANSWER": cmd_answer,
    "HOLD": _hold("HOLD", True),
    "UNHOLD": _hold("UNHOLD", False),
    "PICKUP": cmd_pickup,
    "HANGUP": cmd_hangup,
    "MONITOR": cmd_monitor,
    "TRANSFER": cmd_transfer,
    "ATXFER": _atxfer(False),
    "ATXFERCID": _atxfer(True),
    "REDIRECTCONF": cmd_redirectconf,
    "INVITECONF": cmd_inviteconf,
    "JOINCONF": cmd_joinconf,
    "CALLWITHCONF": cmd_callwithconf,
    "REMOVECONF": cmd_removeconf,
    "GETLISTCONFMEMBER": cmd_getlistconfmember,
}
