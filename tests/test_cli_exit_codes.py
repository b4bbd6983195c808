"""The ``lguapi`` command fails clearly: one line and status 2 for bad arguments, and the same
documented status for the same cause in every subcommand (real subprocesses, emulator on 127.0.0.1)."""
from __future__ import annotations

import asyncio
import json
import signal
import sys

import pytest

import lguapi
from lguapi.accounts import Directory
from lguapi.client import Client
from lguapi.runtime import (EXIT_BYE, EXIT_CANNOT_CONNECT, EXIT_LOGIN_REFUSED, EXIT_OK, EXIT_USAGE)
from lguapi.server.emulator import Emulator

from kit.clients import dead_port
from kit.wait import until
from test_cli import SECRET_ENV, child_env, finish, lguapi as run_lguapi


async def test_version_is_the_package_version():
    rc, out, err = await finish(await run_lguapi("--version"))
    assert rc == 0 and out.strip() == f"lguapi {lguapi.__version__}"
    from importlib.metadata import version  # the one source: pyproject reads lguapi._version

    assert lguapi.__version__ == lguapi._version.__version__
    assert version("lguapi").count(".") >= 2


BAD = [
    ("monitor", "--port", "99999", "--extensions", "3001-3002"),
    ("monitor", "--port", "0", "--extensions", "3001-3002"),
    ("monitor", "--extensions", "3001-29"),
    ("monitor", "--extensions", "abc"),
    ("monitor", "--accounts", "/no/such/accounts.toml"),
    ("monitor", "--extensions", "3001", "--interval", "0"),
    ("monitor", "--extensions", "3001", "--login-concurrency", "0"),
    ("monitor", "--extensions", "3001", "--sink", "/no/such/dir/calls.jsonl"),
    ("monitor", "--extensions", "3001", "--sink", "sqlite:///no/such/dir/calls.db"),
    ("monitor", "--extensions", "3001", "--snapshot", "/no/such/dir/snap.json"),
    ("events", "--port", "0", "--id", "07012343001"),
    ("events", "--port", "http", "--id", "07012343001"),
    ("events", "--id", "07012343001", "--count", "-1"),
    ("events", "--id", "07012343001"),  # no password anywhere
    ("call", "--id", "07012343001", "--to", "3002", "--timeout", "-5"),
    ("call", "--port", "70000", "--id", "07012343001", "--to", "3002"),
    ("serve", "--extensions", "3001-29"),
    ("serve", "--port", "99999", "--extensions", "3001"),
    ("serve", "--accounts", "/no/such/accounts.toml"),
    ("demo", "--extensions", "3001-29"),
    ("demo", "--port", "65536"),
    ("no-such-command",),
]


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
async def test_a_flag_that_must_be_positive_says_so_for_every_value_it_refuses(value):
    # (a negative value was refused as "expected a number >= 0", which 0 is)
    proc = await run_lguapi("serve", "--extensions", "3001", "--idle-timeout", value)
    rc, out, err = await finish(proc, timeout=20)
    assert rc == EXIT_USAGE and out == ""
    assert err.strip().endswith(f"argument --idle-timeout: expected a number > 0, not '{value}'"), err


@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a) for a in BAD])
async def test_bad_arguments_exit_2_at_once_with_one_line(argv):
    proc = await run_lguapi(*argv, env=child_env(LGUAPI_PASSWORD=""))
    rc, out, err = await finish(proc, timeout=20)
    assert rc == EXIT_USAGE, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lguapi") and "Traceback" not in err


@pytest.mark.parametrize("command", ["events", "call"])
async def test_cannot_connect_is_4_and_login_refused_is_3(command):
    extra = ("--to", "3002") if command == "call" else ()
    env = child_env(**{SECRET_ENV: "pw-not-this-one"})
    rc, out, err = await finish(await run_lguapi(command, "--port", str(dead_port()), "--id", "07012343001",
                                                 "--password-env", SECRET_ENV, *extra, env=env))
    assert rc == EXIT_CANNOT_CONNECT and "cannot connect" in err and "Traceback" not in err
    async with Emulator(Directory.generate("3001-3002"), port=0) as emu:
        rc, out, err = await finish(await run_lguapi(command, "--port", str(emu.port), "--id", "07012343001",
                                                     "--password-env", SECRET_ENV, *extra, env=env))
    assert rc == EXIT_LOGIN_REFUSED and "login refused" in err and "pw-not-this-one" not in err


async def test_monitor_every_login_refused_is_3(tmp_path):
    accounts = tmp_path / "accounts.toml"
    accounts.write_text('[[domain]]\nname = "d"\n[[domain.user]]\nid = "07012343001"\npassword = "bad-pw"\n'
                        'exten = "3001"\n', encoding="utf-8")
    async with Emulator(Directory.generate("3001"), port=0) as emu:
        rc, out, err = await finish(await run_lguapi("monitor", "--port", str(emu.port), "--accounts", str(accounts)))
    assert rc == EXIT_LOGIN_REFUSED, err
    assert "bad-pw" not in out + err


async def wait_logged_in(emu: Emulator, n: int) -> None:
    await until(lambda: len(emu.sessions()) >= n, "the command to log in")


async def test_events_exits_5_when_the_session_ends_by_bye():
    directory = Directory.generate("3001")
    user = directory.by_exten("3001")
    async with Emulator(directory, port=0) as emu:
        proc = await run_lguapi("events", "--port", str(emu.port), "--id", user.id, "--password-env", SECRET_ENV,
                                env=child_env(**{SECRET_ENV: user.password}))
        await wait_logged_in(emu, 1)
        other = Client("127.0.0.1", emu.port, auto_reconnect=0)
        try:
            await other.login(user.id, user.password)  # the same ID elsewhere: the server says BYE to the first
            rc, out, err = await finish(proc, timeout=20)
        finally:
            await other.close()
    assert rc == EXIT_BYE, err
    last = json.loads(out.splitlines()[-1])
    assert last["event"] == "Disconnected" and last["reason"].startswith("BYE")
    assert "session ended" in err


async def test_monitor_shows_kicked_extensions_live_and_in_the_summary():
    directory = Directory.generate("3001-3002")
    user = directory.by_exten("3001")
    async with Emulator(directory, port=0) as emu:
        proc = await run_lguapi("monitor", "--port", str(emu.port), "--extensions", "3001-3002", "--interval", "0.2")
        await wait_logged_in(emu, 2)
        other = Client("127.0.0.1", emu.port, auto_reconnect=0)
        try:
            await other.login(user.id, user.password)
            line = ""
            while "kicked 1" not in line:
                line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
                assert line, "monitor output ended"
            proc.send_signal(signal.SIGINT)
            rc, out, err = await finish(proc)
        finally:
            await other.close()
    assert rc == EXIT_OK, err
    assert "kicked by a duplicate login (BYE): 1 extension(s): 3001" in err


async def test_events_data_is_full_unless_masked():
    directory = Directory.generate("3001")
    user = directory.by_exten("3001")
    async with Emulator(directory, port=0) as emu:
        outs = []
        for flags in ((), ("--mask",)):
            proc = await run_lguapi("events", "--port", str(emu.port), "--id", user.id, "--password-env",
                                    SECRET_ENV, "--only", "RingEvent", "--count", "1", *flags,
                                    env=child_env(**{SECRET_ENV: user.password}))
            await wait_logged_in(emu, 1)
            call_id = emu.pbx.external_call("01012345678", user.callerid)
            rc, out, err = await finish(proc)
            emu.pbx.external_hangup(call_id)
            assert rc == EXIT_OK, err
            outs.append(json.loads(out))
            await until(lambda: not emu.sessions(), "the session to close")
    assert outs[0]["caller_id"] == "01012345678" and "01012345678" in outs[0]["raw"]
    assert outs[1]["caller_id"] == "010****5678" and "01012345678" not in json.dumps(outs[1])


async def test_one_warning_line_per_cause():
    proc = await run_lguapi("--log-level", "warning", "monitor", "--port", str(dead_port()),
                            "--extensions", "3001-3008")
    rc, out, err = await finish(proc)
    assert rc == EXIT_CANNOT_CONNECT
    warnings = [x for x in err.splitlines() if " WARNING " in x]
    assert len(warnings) == 1, err


def test_exit_codes_are_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text(encoding="utf-8")
    for code, meaning in ((0, "ok"), (1, "runtime error"), (2, "usage"), (3, "login refused"),
                          (4, "cannot connect"), (5, "BYE")):
        assert f"| {code} |" in doc and meaning in doc
    assert sys.executable  # the table is the contract the subprocess tests above check
