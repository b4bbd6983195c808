"""Command texts of docs/protocol.md §4.3 and the validation of their arguments.

Every builder checks its arguments *before* a text exists, raising :class:`ValueError`
with a message that names the argument (and never echoes a password), and returns a
:class:`Command`: the exact wire text plus how its answer is recognised.

>>> click2call("3321", "010-1234-5678").text
'CMD CLICKCALL AGENT=3321 EXTEN=01012345678 CID= CONTEXT='
>>> hold("3321", "SIP/3321-09b559d8").answer
'result'

Validation rules (docs/protocol.md is silent on most; these are our choices):

* A plain value never contains a space, ``=``, ``|``, a comma (lists are comma-separated),
  CR, LF or another control character (§4.1). Channel names may contain a comma (the
  ``Local/...,2`` form) but not the other characters.
* A dialled number is ``+`` at most once at the start, then digits, ``*`` and ``#``; a number
  written with hyphens (``010-1234-5678``) has them removed. Extensions and rooms may
  contain letters (``101t4004``): they follow the plain-value rule.
* SMS and peer-message text: 1-200 characters, no CR/LF (manual §3.19); spaces and ``=``
  are fine (``MSG`` runs to the end of the text), ``|`` is refused (it would split the
  receiver's RECVPEERMSG/RECVSMS event). Peer messages use ``@@`` for a line break.
* Dates: ``YYYYMMDD``, ``YYYYMMDDHH``, ``YYYYMMDDHHMMSS`` (checked to be a real date),
  ``YYYY-MM-DD[ HH[:MM[:SS]]]`` text, :class:`datetime.date` and :class:`datetime.datetime`;
  they travel as digits (§4.3). SETFORWARD takes hour precision (``YYYYMMDDHH``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Iterable, Union

from ._log import mask_text

__all__ = [
    "Command", "MAX_MESSAGE", "EVENT_ANSWERS", "LIST_COMMANDS", "value", "number", "extension",
    "peer_list", "channel", "message", "wire_date", "choice",
    "login", "pong", "click2call", "answer", "hold", "unhold", "pickup", "hangup", "monitor", "transfer",
    "atxfer", "atxfer_cid", "redirect_conference", "invite_conference", "join_conference",
    "call_with_conference", "remove_conference", "sip_command", "send_sms", "send_peer_msg",
    "set_forward", "get_peer_info", "get_call_history", "get_status_peers", "get_recv_sms_list",
    "get_var_info", "get_queue_status", "get_record_list", "get_conference_members", "address_book",
    "set_user_info",
]

#: longest SMS / peer-message text, in characters (manual §3.19)
MAX_MESSAGE = 200

#: commands answered by an event instead of a CMDRESULT: wire name -> confirming event names
EVENT_ANSWERS: dict[str, tuple[str, ...]] = {
    "CLICKCALL": ("RINGEVENT", "CHANNELLIST", "CHANNELOUT"),  # CHANNELOUT: the dial failed at once
    "ANSWER": ("CHANNELLIST",),
    "PICKUP": ("CHANNELLIST",),
    "HANGUP": ("CHANNELOUT",),
    "TRANSFER": ("CHANNELOUT",),
    "ATXFER": ("CHANNELLIST",),
    "ATXFERCID": ("CHANNELLIST",),
    "REDIRECTCONF": ("CONFERENCEEVENT",),
    "INVITECONF": ("CONFERENCEEVENT",),
    "JOINCONF": ("CONFERENCEEVENT",),
    "CALLWITHCONF": ("CONFERENCEEVENT",),
    "REMOVECONF": ("CONFERENCEEVENT",),
}

#: commands whose rows come as split CMDRESULTs always closed by CMDRESULTEND (§7)
LIST_COMMANDS = frozenset({"GETCALLHISTORY", "GETRECVSMSLIST", "GETRECORDLIST"})


#: what an argument may be given as: text, a number, a flag, a date/datetime (converted per argument)
Value = object
#: several peers or channels: ``"3456,3457"`` or an iterable of strings
Peers = Union[str, Iterable[str]]


@dataclass(frozen=True)
class Command:
    """One command ready for the wire.

    ``answer`` is ``"result"`` (one CMDRESULT of ``name``), ``"list"`` (split CMDRESULTs
    until CMDRESULTEND), ``"event"`` (the first of ``events`` after sending), ``"login"``
    (LOGINRESULT) or ``"none"``. The repr masks numbers and hides passwords.
    """

    name: str
    text: str = field(repr=False)
    answer: str = "result"
    events: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"Command({self.name}, {mask_text(self.text)!r}, answer={self.answer})"


_BAD_VALUE = re.compile(r"[\s=|,\x00-\x1f\x7f]")
_BAD_CHANNEL = re.compile(r"[\s=|\x00-\x1f\x7f]")
_NUMBER = re.compile(r"\+?[0-9*#]+")
_HYPHENATED = re.compile(r"[0-9]+(-[0-9]+)+")
_ALNUM_EXTEN = re.compile(r"[A-Za-z0-9]*[0-9][A-Za-z0-9]*")
_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


def _text_of(v: Value, what: str) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if not isinstance(v, str):
        raise ValueError(f"{what} must be a string, not {type(v).__name__}")
    return v


def _describe_bad(s: str, pattern: re.Pattern[str]) -> str:
    m = pattern.search(s)
    ch = m.group(0) if m else "?"
    return {" ": "a space", "=": "'='", "|": "'|'", ",": "a comma", "\r": "CR", "\n": "LF", "\t": "a tab"}.get(
        ch, f"the character {ch!r}")


def value(v: Value, what: str, *, required: bool = False, max_len: int = 256) -> str:
    """A plain argument value: no space, ``=``, ``|``, comma or control character.

    >>> value("3321", "AGENT")
    '3321'
    >>> value("a b", "ROOM")
    Traceback (most recent call last):
    ...
    ValueError: ROOM must not contain a space: 'a b'
    """
    s = _text_of(v if v is not None else "", what)
    if not s:
        if required:
            raise ValueError(f"{what} is required")
        return s
    if _BAD_VALUE.search(s):
        raise ValueError(f"{what} must not contain {_describe_bad(s, _BAD_VALUE)}: {mask_text(s)!r}")
    if len(s) > max_len:
        raise ValueError(f"{what} is too long ({len(s)} characters, at most {max_len})")
    return s


def extension(v: Value, what: str = "extension", *, required: bool = True) -> str:
    """An extension (``3321``, ``101t4004``) or any other plain value."""
    return value(v, what, required=required, max_len=64)


def number(v: Value, what: str = "number", *, required: bool = True, strict: bool = False) -> str:
    """A dialled number: optional leading ``+``, then digits, ``*``, ``#``.

    Hyphens of a written number are removed; unless ``strict``, an extension with
    letters and at least one digit (``101t4004``) is accepted too.

    >>> number("010-1234-5678")
    '01012345678'
    >>> number("101t4004")
    '101t4004'
    """
    s = _text_of(v if v is not None else "", what).strip()
    if not s:
        if required:
            raise ValueError(f"{what} is required")
        return s
    if _HYPHENATED.fullmatch(s):
        s = s.replace("-", "")
    if _NUMBER.fullmatch(s):
        if len(s) > 40:
            raise ValueError(f"{what} is too long ({len(s)} characters, at most 40)")
        return s
    if not strict and _ALNUM_EXTEN.fullmatch(s):
        return extension(s, what)
    raise ValueError(f"{what} must be digits (optionally a leading '+', '*', '#'"
                     f"{'' if strict else ', or an extension like 101t4004'}), not {mask_text(s)!r}")


def channel(v: Value, what: str = "channel", *, required: bool = True) -> str:
    """A channel name (``SIP/3321-09b559d8``, ``Local/3458@xfercontext-1b56;2`` or ``,2``)."""
    s = _text_of(v if v is not None else "", what)
    if not s:
        if required:
            raise ValueError(f"{what} is required")
        return s
    if _BAD_CHANNEL.search(s):
        raise ValueError(f"{what} must not contain {_describe_bad(s, _BAD_CHANNEL)}: {s!r}")
    if len(s) > 256:
        raise ValueError(f"{what} is too long ({len(s)} characters, at most 256)")
    return s


def peer_list(v: Peers | int | None, what: str = "peers", *, numbers: bool = False, allow_all: bool = False) -> str:
    """A non-empty comma-separated list, from a string (``"3456,3457"``) or an iterable.

    ``numbers=True`` checks each entry as a dialled number, else as an extension.
    ``allow_all`` accepts the single word ``ALLDOMAIN`` (SENDPEERMSG).

    >>> peer_list(["3456", "3457"])
    '3456,3457'
    """
    if v is None:
        raise ValueError(f"{what} is required")
    items: list[object]
    if isinstance(v, (str, int)):
        items = [p.strip() for p in str(v).split(",")]
    else:
        items = [str(p).strip() if isinstance(p, (str, int)) else p for p in v]
    if not items or items == [""]:
        raise ValueError(f"{what} is required (at least one entry)")
    out = []
    for i, p in enumerate(items):
        if not isinstance(p, str):
            raise ValueError(f"{what}[{i}] must be a string, not {type(p).__name__}")
        if not p:
            raise ValueError(f"{what} has an empty entry at position {i}")
        if allow_all and p == "ALLDOMAIN":
            out.append(p)
        else:
            out.append(number(p, f"{what}[{i}]", strict=True) if numbers else extension(p, f"{what}[{i}]"))
    if allow_all and "ALLDOMAIN" in out and len(out) > 1:
        raise ValueError(f"{what}: ALLDOMAIN must be the only entry")
    return ",".join(out)


def channel_list(v: Peers | None, what: str = "channels") -> str:
    """A non-empty comma-separated list of channel names (no comma inside a name)."""
    if v is None:
        raise ValueError(f"{what} is required")
    items: list[object] = list(v.split(",") if isinstance(v, str) else v)
    if not items or items == [""]:
        raise ValueError(f"{what} is required (at least one channel)")
    out = []
    for i, c in enumerate(items):
        c = channel(c, f"{what}[{i}]")
        if "," in c:
            raise ValueError(f"{what}[{i}] must not contain a comma in a list: {c!r}")
        out.append(c)
    return ",".join(out)


def message(v: Value, what: str = "text") -> str:
    """SMS / peer-message text: 1-200 characters, no CR or LF (manual §3.19)."""
    if not isinstance(v, str):
        raise ValueError(f"{what} must be a string, not {type(v).__name__}")
    if not v.strip():
        raise ValueError(f"{what} is required (empty message)")
    if "\r" in v or "\n" in v:
        raise ValueError(f"{what} must be one line: CR and LF are not allowed (a peer message may use '@@' "
                         f"for a line break)")
    if "|" in v:
        raise ValueError(f"{what} must not contain '|': it would split the receiver's RECVPEERMSG/RECVSMS event")
    if len(v) > MAX_MESSAGE:
        raise ValueError(f"{what} is {len(v)} characters long; at most {MAX_MESSAGE} are allowed")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in v):
        raise ValueError(f"{what} must not contain control characters")
    return v


def choice(v: Value, what: str, allowed: Iterable[str], *, required: bool = True) -> str:
    """One of ``allowed`` (ints are turned into text first)."""
    s = _text_of(v if v is not None else "", what).strip()
    allowed = tuple(allowed)
    if not s and not required:
        return s
    if s not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}, not {s!r}")
    return s


_DIGIT_DATE = {8: "%Y%m%d", 10: "%Y%m%d%H", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2})(?::(\d{2})(?::(\d{2}))?)?)?")


def wire_date(v: Value, what: str = "date", *, hours: bool = False, required: bool = False) -> str:
    """A date/time as the wire wants it (digits only).

    Digit strings pass unchanged once checked; ``datetime`` becomes ``YYYYMMDDHHMMSS``
    (``YYYYMMDDHH`` with ``hours=True``), ``date`` becomes ``YYYYMMDD``, and the vendor's
    ``YYYY-MM-DD HH:MM:SS`` text is converted like a datetime.

    >>> wire_date("2011-09-02 10:00:00")
    '20110902100000'
    >>> wire_date(datetime(2011, 9, 17, 13, 30), hours=True)
    '2011091713'
    """
    if v is None or v == "":
        if required:
            raise ValueError(f"{what} is required")
        return ""
    fmt_dt = "%Y%m%d%H" if hours else "%Y%m%d%H%M%S"
    if isinstance(v, datetime):
        return v.strftime(fmt_dt)
    if isinstance(v, date):
        return v.strftime("%Y%m%d")
    if not isinstance(v, str):
        raise ValueError(f"{what} must be a date, datetime or text, not {type(v).__name__}")
    s = v.strip()
    if s.isdigit() and len(s) in _DIGIT_DATE:
        try:
            datetime.strptime(s, _DIGIT_DATE[len(s)])
        except ValueError:
            raise ValueError(f"{what} {s!r} is not a real date/time") from None
        return s
    m = _ISO.fullmatch(s)
    if m:
        y, mo, d, hh, mi, ss = m.groups()
        try:
            dt = datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0))
        except ValueError:
            raise ValueError(f"{what} {s!r} is not a real date/time") from None
        if hh is None:
            return dt.strftime("%Y%m%d")
        return dt.strftime(fmt_dt)
    raise ValueError(f"{what} must be YYYYMMDD, YYYYMMDDHH, YYYYMMDDHHMMSS, 'YYYY-MM-DD HH:MM:SS', "
                     f"a date or a datetime, not {s!r}")


# --- builders ------------------------------------------------------------------------


def _cmd(name: str, args: list[tuple[str, str]], *, free: tuple[str, str] | None = None,
         answer: str | None = None, trailing: bool = False) -> Command:
    parts = ["CMD", name]
    parts.extend(f"{k}={v}" for k, v in args)
    if free is not None:
        parts.append(f"{free[0]}={free[1]}")
    text = " ".join(parts) + (" " if trailing else "")
    if answer is None:
        if name in EVENT_ANSWERS:
            answer = "event"
        elif name in LIST_COMMANDS:
            answer = "list"
        else:
            answer = "result"
    return Command(name, text, answer, EVENT_ANSWERS.get(name, ()) if answer == "event" else ())


def login(user_id: str, password: str) -> Command:
    """``CMD LOGIN ID=<id> PWD=<pwd> `` (with the vendor's trailing space)."""
    uid = value(user_id, "user_id", required=True)
    if not isinstance(password, str) or not password:
        raise ValueError("password is required (a non-empty string)")
    if _BAD_VALUE.search(password.replace(",", "")):
        raise ValueError("password must not contain spaces, '=', '|' or control characters "
                         "(it could not be sent); the password itself is not shown")
    return _cmd("LOGIN", [("ID", uid), ("PWD", password)], answer="login", trailing=True)


def pong() -> Command:
    """The answer to PING: ``CMD|PONG``."""
    return Command("PONG", "CMD|PONG", "none")


def click2call(agent: str, to: str, cid: str = "", context: str = "") -> Command:
    return _cmd("CLICKCALL", [("AGENT", extension(agent, "agent")), ("EXTEN", number(to, "number")),
                              ("CID", value(cid, "cid")), ("CONTEXT", value(context, "context"))])


def answer(agent: str, dst_channel: str, own_channel: str) -> Command:
    """``CMD ANSWER AGENT= CHANNEL=<other party> CONTEXT= MYCHANNEL=<own>`` (manual §3.2)."""
    return _cmd("ANSWER", [("AGENT", extension(agent, "agent")), ("CHANNEL", channel(dst_channel)),
                           ("CONTEXT", ""), ("MYCHANNEL", channel(own_channel, "own channel"))])


def hold(agent: str, own_channel: str) -> Command:
    return _cmd("HOLD", [("AGENT", extension(agent, "agent")), ("CHANNEL", channel(own_channel))])


def unhold(agent: str, own_channel: str) -> Command:
    return _cmd("UNHOLD", [("AGENT", extension(agent, "agent")), ("CHANNEL", channel(own_channel))])


def pickup(agent: str, exten: str = "") -> Command:
    """Empty ``exten``: pick up a ring of the own pickup group."""
    return _cmd("PICKUP", [("AGENT", extension(agent, "agent")), ("EXTEN", extension(exten, required=False))])


def hangup(agent: str, chan: str) -> Command:
    return _cmd("HANGUP", [("AGENT", extension(agent, "agent")), ("CHANNEL", channel(chan))])


def monitor(agent: str, own_channel: str, act: str) -> Command:
    """Recording: ``act`` is ``START`` or ``STOP``."""
    return _cmd("MONITOR", [("AGENT", extension(agent, "agent")), ("CHANNEL", channel(own_channel)),
                            ("ACT", choice(act, "act", ("START", "STOP")))])


def transfer(agent: str, own_channel: str, exten: str) -> Command:
    return _cmd("TRANSFER", [("AGENT", extension(agent, "agent")), ("CHANNEL", channel(own_channel)),
                             ("EXTEN", number(exten, "exten"))])


def atxfer(agent: str, own_channel: str, exten: str) -> Command:
    return _cmd("ATXFER", [("AGENT", extension(agent, "agent")), ("CHANNEL", channel(own_channel)),
                           ("EXTEN", number(exten, "exten"))])


def atxfer_cid(agent: str, own_channel: str, exten: str, cid: str) -> Command:
    return _cmd("ATXFERCID", [("AGENT", extension(agent, "agent")), ("CHANNEL", channel(own_channel)),
                              ("EXTEN", number(exten, "exten")), ("CID", value(cid, "cid", required=True))])


def redirect_conference(agent: str, room: str, own_channel: str, dst_channel: str) -> Command:
    return _cmd("REDIRECTCONF", [("AGENT", extension(agent, "agent")), ("ROOM", value(room, "room", required=True)),
                                 ("CHANNEL", channel(own_channel)), ("DSTCHANNEL", channel(dst_channel, "dst channel"))])


def invite_conference(agent: str, room: str, peers: Peers) -> Command:
    return _cmd("INVITECONF", [("AGENT", extension(agent, "agent")), ("ROOM", value(room, "room", required=True)),
                               ("PEERS", peer_list(peers))])


def join_conference(agent: str, room: str) -> Command:
    return _cmd("JOINCONF", [("AGENT", extension(agent, "agent")), ("ROOM", value(room, "room", required=True))])


def call_with_conference(agent: str, room: str, peers: Peers) -> Command:
    return _cmd("CALLWITHCONF", [("AGENT", extension(agent, "agent")),
                                 ("ROOM", value(room, "room", required=True)), ("PEERS", peer_list(peers))])


def remove_conference(agent: str, room: str, channels: Peers) -> Command:
    return _cmd("REMOVECONF", [("AGENT", extension(agent, "agent")), ("ROOM", value(room, "room", required=True)),
                               ("CHANNELS", channel_list(channels))])


def sip_command(text: str) -> Command:
    """The caller's own command text (SendSIPCommand), passed through after checks.

    It must start with ``CMD`` and a command name (``CMD|HANGUP|SIP/...`` or
    ``CMD HANGUP ...``), be one line, and carry no password. The answer is recognised
    like the named command's.

    >>> sip_command("CMD|HANGUP|SIP/3584-09fb3350").name
    'HANGUP'
    """
    if not isinstance(text, str):
        raise ValueError(f"command text must be a string, not {type(text).__name__}")
    if "\r" in text or "\n" in text:
        raise ValueError("command text must be one line (no CR/LF)")
    if any(ord(c) < 0x20 and c != "\t" for c in text):
        raise ValueError("command text must not contain control characters")
    m = re.match(r"CMD[ |]([A-Za-z][A-Za-z0-9_]*)(?:[ |]|$)", text)
    if not m:
        raise ValueError(f"command text must start with 'CMD|<NAME>' or 'CMD <NAME>', not {mask_text(text[:40])!r}")
    name = m.group(1).upper()
    if name == "LOGIN":
        raise ValueError("use login() to log in, not send_sip_command")
    if len(text) > 4096:
        raise ValueError(f"command text is too long ({len(text)} characters, at most 4096)")
    if name == "PONG":
        return Command(name, text, "none")
    answer = "event" if name in EVENT_ANSWERS else "list" if name in LIST_COMMANDS else "result"
    return Command(name, text, answer, EVENT_ANSWERS.get(name, ()))


def _send(name: str, agent: str, type: str, info: Value, peers: Peers, text: str, *, numbers: bool, allow_all: bool) -> Command:
    t = value(type, "type", required=True)
    if name == "SENDSMS" and t == "1":
        info_s = wire_date(info, "info (reservation time)", required=True)
        if len(info_s) != 14:
            raise ValueError("info (reservation time) of a reserved SMS must be YYYYMMDDHHMMSS or a datetime")
    else:
        info_s = value(info, "info")
    return _cmd(name, [("AGENT", extension(agent, "agent")), ("TYPE", t), ("INFO", info_s),
                       ("PEERS", peer_list(peers, numbers=numbers, allow_all=allow_all))],
                free=("MSG", message(text)))


def send_sms(agent: str, peers: Peers, text: str, *, type: str = "0", info: Value = "") -> Command:
    """``TYPE=0`` sends now; ``TYPE=1`` reserves it for ``info`` (a datetime or YYYYMMDDHHMMSS)."""
    return _send("SENDSMS", agent, type, info, peers, text, numbers=True, allow_all=False)


def send_peer_msg(agent: str, peers: Peers, text: str, *, type: str = "0", info: Value = "") -> Command:
    """``peers`` may be ``"ALLDOMAIN"`` (every extension of the sender's domain)."""
    return _send("SENDPEERMSG", agent, type, info, peers, text, numbers=False, allow_all=True)


def set_forward(agent: str, use: Value, type: Value = "", number_: str = "", start: Value = "", end: Value = "",
                etc: str = "") -> Command:
    """``use`` 1/True sets forwarding (``type`` 0 always, 1 no answer, 2 busy, 3 ring both; ``number_``
    required); 0/False clears it (the other values may stay empty)."""
    u = choice(use, "use", ("0", "1"))
    if u == "1":
        t = choice(type, "type", ("0", "1", "2", "3"))
        n = number(number_, "number")
    else:
        t = choice(type, "type", ("0", "1", "2", "3"), required=False)
        n = number(number_, "number", required=False)
    return _cmd("SETFORWARD", [("AGENT", extension(agent, "agent")), ("USE", u), ("TYPE", t), ("NUMBER", n),
                               ("START", wire_date(start, "start", hours=True)),
                               ("END", wire_date(end, "end", hours=True)), ("ETC", value(etc, "etc"))])


def get_peer_info(agent: str, peers: Peers) -> Command:
    return _cmd("GETPEERINFO", [("AGENT", extension(agent, "agent")), ("PEERS", peer_list(peers))])


def get_call_history(agent: str, cat: Value = "1", inout: Value = "0", start: Value = "", end: Value = "",
                     search: Value = "9") -> Command:
    """``cat`` 0 domain / 1 own; ``inout`` 0 received, 1 dialled, "" both, 9 count only; ``search`` 0 internal,
    1 local/long distance, 2 mobile, 5 international, 9 all."""
    return _cmd("GETCALLHISTORY", [("AGENT", extension(agent, "agent")), ("CAT", choice(cat, "cat", ("0", "1"))),
                                   ("INOUT", choice(inout, "inout", ("0", "1", "9"), required=False)),
                                   ("START", wire_date(start, "start")), ("END", wire_date(end, "end")),
                                   ("SEARCH", choice(search, "search", ("0", "1", "2", "5", "9")))])


def get_status_peers(agent: str, peers: Peers, room: str = "") -> Command:
    return _cmd("GETSTATUSPEERS", [("AGENT", extension(agent, "agent")), ("PEERS", peer_list(peers)),
                                   ("ROOM", value(room, "room"))])


def get_recv_sms_list(agent: str, page: Value = 1, cat: str = "") -> Command:
    p = _text_of(page, "page")
    if not p.isdigit() or int(p) < 1:
        raise ValueError(f"page must be a positive integer, not {p!r}")
    return _cmd("GETRECVSMSLIST", [("AGENT", extension(agent, "agent")), ("PAGE", p), ("CAT", value(cat, "cat"))])


def get_var_info(agent: str, name: str) -> Command:
    return _cmd("GETVARINFO", [("AGENT", extension(agent, "agent")), ("NAME", value(name, "name", required=True))])


def get_queue_status(agent: str, type: str = "", qname: str = "", member: str = "") -> Command:
    return _cmd("GETQSTATUS", [("AGENT", extension(agent, "agent")), ("TYPE", value(type, "type")),
                               ("QNAME", value(qname, "qname")), ("MEMBER", value(member, "member"))])


def get_record_list(agent: str, inout: Value = "", start: Value = "", end: Value = "", search: Value = "") -> Command:
    return _cmd("GETRECORDLIST", [("AGENT", extension(agent, "agent")), ("INOUT", value(inout, "inout")),
                                  ("START", wire_date(start, "start")), ("END", wire_date(end, "end")),
                                  ("SEARCH", value(search, "search"))])


def get_conference_members(agent: str, room: str) -> Command:
    return _cmd("GETLISTCONFMEMBER", [("AGENT", extension(agent, "agent")),
                                      ("ROOM", value(room, "room", required=True))])


def address_book(agent: str, type: str, *, keyidx: str = "", gname: str = "", pname: str = "",
                 tel1: str = "", tel2: str = "", tel3: str = "", tel4: str = "", tel5: str = "",
                 default: str = "", memo: str = "") -> Command:
    """``CMD MAGADDRLIST``: ``default`` is the wire's ``DEF``."""
    args = [("AGENT", extension(agent, "agent")), ("TYPE", value(type, "type", required=True)),
            ("KEYIDX", value(keyidx, "keyidx")), ("GNAME", value(gname, "gname")), ("PNAME", value(pname, "pname"))]
    for i, t in enumerate((tel1, tel2, tel3, tel4, tel5), 1):
        args.append((f"TEL{i}", number(t, f"tel{i}", required=False)))
    args += [("DEF", value(default, "default")), ("MEMO", value(memo, "memo"))]
    return _cmd("MAGADDRLIST", args)


def set_user_info(agent: str, key: str, val: str) -> Command:
    return _cmd("SETUSERINFO", [("AGENT", extension(agent, "agent")), ("KEY", value(key, "key", required=True)),
                                ("VAL", value(val, "value"))])
