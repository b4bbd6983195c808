"""The emulator's command parser, accounts and login guard, tested directly (no sockets)."""
from __future__ import annotations

import pytest

from lguapi.server import Command, CommandSyntaxError, Directory, LoginGuard, User, parse_command
from lguapi.server.accounts import generated_id, generated_password

# -- parse_command ----------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("CMD LOGIN ID=07012343321 PWD=secret ", Command("LOGIN", {"ID": "07012343321", "PWD": "secret"}, [])),
    ("CMD LOGIN ID=a PWD=b", Command("LOGIN", {"ID": "a", "PWD": "b"}, [])),
    ("CMD CLICKCALL AGENT=3321 EXTEN=01012345678 CID= CONTEXT=",
     Command("CLICKCALL", {"AGENT": "3321", "EXTEN": "01012345678", "CID": "", "CONTEXT": ""}, [])),
    ("CMD PONG", Command("PONG", {}, [])),
    ("CMD PONG ", Command("PONG", {}, [])),
    ("CMD HANGUP AGENT=101t4004 CHANNEL=Local/3321@xfercontext-1a2b;2",
     Command("HANGUP", {"AGENT": "101t4004", "CHANNEL": "Local/3321@xfercontext-1a2b;2"}, [])),
    ("CMD|HANGUP|SIP/3584-09fb3350", Command("HANGUP", {}, ["SIP/3584-09fb3350"])),
    ("CMD|PONG", Command("PONG", {}, [])),
    ("CMD|LOGIN|07012343321|pw", Command("LOGIN", {}, ["07012343321", "pw"])),
    ("CMD|X1|||a b", Command("X1", {}, ["", "", "a b"])),
    # free text MSG of SENDSMS / SENDPEERMSG runs to the end: spaces, '=', '|' and trailing space kept
    ("CMD SENDSMS AGENT=3321 TYPE=0 INFO= PEERS=01012345678 MSG=hello world a=b ",
     Command("SENDSMS", {"AGENT": "3321", "TYPE": "0", "INFO": "", "PEERS": "01012345678",
                         "MSG": "hello world a=b "}, [])),
    ("CMD SENDPEERMSG AGENT=3321 TYPE=0 INFO= PEERS=ALLDOMAIN MSG=안녕 | ok",
     Command("SENDPEERMSG", {"AGENT": "3321", "TYPE": "0", "INFO": "", "PEERS": "ALLDOMAIN", "MSG": "안녕 | ok"}, [])),
    ("CMD SENDPEERMSG AGENT=3321 MSG=", Command("SENDPEERMSG", {"AGENT": "3321", "MSG": ""}, [])),
])
def test_parse_command_accepts_both_forms(text, expected):
    assert parse_command(text) == expected


@pytest.mark.parametrize("text, name, reason", [
    ("", "?", "not a command"),
    ("HELLO", "HELLO", "not a command"),
    ("hello world", "?", "not a command"),
    ("\x00\x01garbage", "?", "not a command"),
    ("CMD", "?", "missing command name"),
    ("CMD ", "?", "missing command name"),
    ("CMD|", "?", "bad command name"),
    ("CMD clickcall AGENT=1", "?", "bad command name"),
    ("CMD|hangup|x", "?", "bad command name"),
    ("CMD  LOGIN", "?", "bad command name"),
    ("CMD CLICKCALL AGENT=1  EXTEN=2", "CLICKCALL", "empty word"),
    ("CMD CLICKCALL AGENT=1  ", "CLICKCALL", "empty word"),
    ("CMD CLICKCALL AGENT", "CLICKCALL", "is not ARG=VALUE"),
    ("CMD CLICKCALL agent=1", "CLICKCALL", "bad argument name"),
    ("CMD CLICKCALL =1", "CLICKCALL", "bad argument name"),
    ("CMD CLICKCALL AGENT=1 AGENT=2", "CLICKCALL", "given twice"),
    ("CMD CLICKCALL AGENT=1|2", "CLICKCALL", "contains a pipe"),
    ("CMD CLICKCALL AGENT=1\r\n", "CLICKCALL", "contains a pipe, CR or LF"),
    ("CMD HOLD MSG=a b", "HOLD", "is not ARG=VALUE"),  # MSG is free text only for SENDSMS/SENDPEERMSG
    ("CMD SENDSMS AGENT=1 MSG=line1\nline2", "SENDSMS", "CR or LF inside MSG"),
    ("CMD|HANGUP|a\nb", "HANGUP", "CR or LF"),
])
def test_parse_command_rejects_malformed(text, name, reason):
    with pytest.raises(CommandSyntaxError) as ei:
        parse_command(text)
    assert ei.value.name == name
    assert reason in ei.value.reason
    assert isinstance(ei.value, ValueError)
    assert "|" not in ei.value.name


def test_parse_command_error_excerpt_is_bounded():
    with pytest.raises(CommandSyntaxError) as ei:
        parse_command("X" * 10_000)
    assert len(ei.value.reason) < 200
    assert ei.value.name == "?"  # a 10,000-letter word is not shown as a command name


# -- accounts ---------------------------------------------------------------------------

ACCOUNTS = """
# two domains
[[domain]]
name = "ipcctest.com"
[[domain.user]]
id = "07012340321"
password = "secret-0321"   # a comment
exten = "3321"
callerid = "07012340321"
[[domain.user]]
id = 'tmpid9211@tel110.net'
password = "p\\"w"
exten = "101t4004"
callerid = "07012349211"
name = "Kim"
pickup_group = "sales"

[[domain]]
name = "premium_c_12.lgdacom.net"
[[domain.user]]
id = "3700"
password = "x"
exten = 3700
"""


def test_directory_from_toml(tmp_path):
    path = tmp_path / "accounts.toml"
    path.write_text(ACCOUNTS, encoding="utf-8")
    d = Directory.from_toml(path)
    assert len(d) == 3
    assert d.domains() == ["ipcctest.com", "premium_c_12.lgdacom.net"]
    u = d.by_id("07012340321")
    assert u == User(id="07012340321", password="secret-0321", exten="3321", callerid="07012340321",
                     domain="ipcctest.com")
    k = d.by_exten("101t4004")
    assert (k.id, k.password, k.name, k.pickup_group) == ("tmpid9211@tel110.net", 'p"w', "Kim", "sales")
    assert d.by_callerid("07012349211") is k
    assert d.by_callerid("") is None
    assert d.by_exten("3700").callerid == ""
    assert [x.exten for x in d.in_domain("ipcctest.com")] == ["3321", "101t4004"]
    assert d.in_domain("nowhere") == []
    assert d.by_id("nobody") is None


def test_user_repr_hides_password():
    u = User(id="a", password="hunter2-secret", exten="1")
    assert "hunter2" not in repr(u)
    assert "hunter2" not in repr(Directory([u]))


@pytest.mark.parametrize("text, message", [
    ("", "no [[domain]]"),
    ('[[domain]]\n[[domain.user]]\nid="a"\npassword="b"\nexten="1"\n', "has no name"),
    ('[[domain]]\nname="d"\n[[domain.user]]\nid="a"\nexten="1"\n', "missing 'password'"),
    ('[[domain]]\nname="d"\n[[domain.user]]\nid="a"\npassword="b"\nexten="1"\ncolour="red"\n', "unknown key"),
    ('[[domain]]\nname="d"\n[[domain.user]]\nid="a"\npassword="b"\nexten="1"\n'
     '[[domain.user]]\nid="a"\npassword="c"\nexten="2"\n', "duplicate login id"),
    ('[[domain]]\nname="d"\n[[domain.user]]\nid="a"\npassword="b"\nexten="1"\n'
     '[[domain.user]]\nid="b"\npassword="c"\nexten="1"\n', "duplicate extension"),
    ('[[domain]]\nname="d"\n[[domain.user]]\nid="a"\npassword="b"\nexten="1 2"\n', "contains a space"),
    ('[[domain]]\nname="d"\n[[domain.user]]\nid="a|b"\npassword="b"\nexten="1"\n', "contains a space or one of"),
])
def test_directory_rejects_bad_files(tmp_path, text, message):
    path = tmp_path / "a.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as ei:
        Directory.from_toml(path)
    assert message in str(ei.value)


@pytest.mark.parametrize("text", [
    'password = secret-unquoted\n',
    '[[domain]]\npassword = "unterminated-secret\n',
    '[[domain]]\npassword: "colon-secret"\n',
    '[[domain]]\npassword = "a" trailing-secret\n',
])
def test_toml_errors_never_show_values(tmp_path, text):
    path = tmp_path / "a.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as ei:
        Directory.from_toml(path)
    assert "secret" not in str(ei.value)
    assert "bad TOML" in str(ei.value)


def test_generate_documented_ids_and_passwords():
    d = Directory.generate("3001-3003,3321, 7,12345")
    assert [u.exten for u in d] == ["3001", "3002", "3003", "3321", "7", "12345"]
    u = d.by_exten("3321")
    assert (u.id, u.callerid, u.password, u.domain, u.name, u.pickup_group) == (
        "07012343321", "07012343321", "secret-3321", "ipcctest.com", "user3321", "332x")
    assert d.by_exten("7").id == "07012340007"
    assert d.by_exten("12345").id == "07000012345"
    assert d.by_callerid("07012343001").exten == "3001"
    assert generated_id("3321") == "07012343321" and generated_password("3321") == "secret-3321"
    assert [u.exten for u in Directory.generate("0100-0102", domain="x.net")] == ["0100", "0101", "0102"]
    assert Directory.generate("0100-0102", domain="x.net").domains() == ["x.net"]


@pytest.mark.parametrize("spec", ["", "abc", "3001-", "3999-3001", "3001-3003,,3004", "123456789", "1-200000"])
def test_generate_rejects_bad_ranges(spec):
    with pytest.raises(ValueError):
        Directory.generate(spec)


def test_generate_rejects_overlaps():
    with pytest.raises(ValueError, match="duplicate"):
        Directory.generate("3001-3005,3003")


# -- login guard ------------------------------------------------------------------------

def test_login_guard_locks_after_failures_within_window_and_recovers():
    now = [1000.0]
    g = LoginGuard(5, 60.0, 60.0, clock=lambda: now[0])
    for i in range(4):
        assert g.fail("a") is False
        now[0] += 1
    assert g.locked("a") == 0
    assert g.fail("a") is True  # the fifth within 60 s locks
    assert g.locked("a") == pytest.approx(60.0)
    assert g.locked("b") == 0  # other IDs are not affected
    now[0] += 59.5
    assert g.locked("a") == pytest.approx(0.5)
    now[0] += 1
    assert g.locked("a") == 0
    assert g.fail("a") is False  # the failures were forgotten with the lock


def test_login_guard_forgets_old_failures_and_success_clears():
    now = [0.0]
    g = LoginGuard(3, 10.0, 5.0, clock=lambda: now[0])
    g.fail("a")
    g.fail("a")
    now[0] += 10.0  # both fall out of the window
    assert g.fail("a") is False
    assert g.fail("a") is False
    g.success("a")
    assert g.fail("a") is False
    assert g.fail("a") is False
    assert g.fail("a") is True


def test_login_guard_validates():
    with pytest.raises(ValueError):
        LoginGuard(0, 1, 1)
