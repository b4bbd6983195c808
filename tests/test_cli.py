"""The ``lguapi`` command as a subprocess against an emulator in the test's loop (127.0.0.1, port 0)."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from lguapi import cli
from lguapi.server.accounts import Directory
from lguapi.server.emulator import Emulator

from kit.clients import dead_port
from kit.wait import until

ROOT = Path(__file__).resolve().parents[1]
SECRET_ENV = "LGUAPI_TEST_PASSWORD"


def child_env(**extra: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.pop(SECRET_ENV, None)
    env.update(extra)
    return env


async def lguapi(*args: str, env: dict | None = None, stdin=asyncio.subprocess.DEVNULL):
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lguapi", *args, stdin=stdin, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env or child_env(), cwd=str(ROOT))


async def finish(proc, timeout: float = 30.0) -> tuple[int, str, str]:
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        raise AssertionError(f"lguapi did not finish in {timeout} s; stderr: {err.decode()[-2000:]}")
    return proc.returncode, out.decode(), err.decode()


async def test_events_prints_typed_events_as_json_lines():
    directory = Directory.generate("3001-3002")
    user = directory.by_exten("3001")
    async with Emulator(directory, port=0) as emu:
        proc = await lguapi("events", "--port", str(emu.port), "--id", user.id, "--password-env", SECRET_ENV,
                            "--count", "6", "--duration", "20", env=child_env(**{SECRET_ENV: user.password}))
        first = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
        lines = [first]
        while lines[-1]["event"] != "LoggedIn":
            lines.append(json.loads(await asyncio.wait_for(proc.stdout.readline(), 20)))
        call_id = emu.pbx.external_call("01012345678", user.callerid)
        emu.pbx.phone_answer("3001")
        emu.pbx.external_hangup(call_id)
        rc, out, err = await finish(proc)
    lines += [json.loads(x) for x in out.splitlines()]
    assert rc == 0, err
    names = [x["event"] for x in lines]
    assert names[:3] == ["Connected", "LoginResultEvent", "LoggedIn"]
    assert "RingEvent" in names and "ChannelListEvent" in names and "ChannelOutEvent" in names
    ring = next(x for x in lines if x["event"] == "RingEvent")
    assert ring["exten"] == "3001" and ring["is_dial"] is False and ring["raw"].startswith("RINGEVENT|")
    assert len(lines) == 6  # --count
    assert user.password not in out + err


async def test_events_filters_by_name():
    directory = Directory.generate("3001")
    user = directory.by_exten("3001")
    async with Emulator(directory, port=0) as emu:
        proc = await lguapi("events", "--port", str(emu.port), "--id", user.id, "--password-env", SECRET_ENV,
                            "--only", "RINGEVENT,ChannelOutEvent", "--count", "2", "--duration", "20",
                            env=child_env(**{SECRET_ENV: user.password}))
        # wait until the session is logged in, then ring and hang up
        await until(lambda: emu.online("3001"), "lguapi events to log in")
        call_id = emu.pbx.external_call("01012345678", user.callerid)
        emu.pbx.external_hangup(call_id)
        rc, out, err = await finish(proc)
    assert rc == 0, err
    assert [json.loads(x)["event"] for x in out.splitlines()] == ["RingEvent", "ChannelOutEvent"]


async def test_events_without_a_password_fails_clearly():
    proc = await lguapi("events", "--port", "1", "--id", "07012343001", "--password-env", SECRET_ENV)
    rc, out, err = await finish(proc)
    assert rc != 0 and out == ""
    assert SECRET_ENV in err and "password" in err


async def test_events_wrong_password_is_an_error_without_the_password():
    directory = Directory.generate("3001")
    user = directory.by_exten("3001")
    async with Emulator(directory, port=0) as emu:
        proc = await lguapi("events", "--port", str(emu.port), "--id", user.id, "--password-env", SECRET_ENV,
                            env=child_env(**{SECRET_ENV: "not-the-password"}))
        rc, out, err = await finish(proc)
    assert rc == 3 and "login refused" in err
    assert "not-the-password" not in out + err


async def test_call_waits_for_answer_and_prints_a_summary():
    directory = Directory.generate("3001-3002")
    user = directory.by_exten("3001")
    async with Emulator(directory, port=0, auto_answer=0.2) as emu:
        proc = await lguapi("call", "--port", str(emu.port), "--id", user.id, "--password-env", SECRET_ENV,
                            "--to", "01098765432", "--hangup-after", "0.3", "--json",
                            env=child_env(**{SECRET_ENV: user.password}))
        rc, out, err = await finish(proc)
        history = emu.pbx.snapshot()["history"]
    assert rc == 0, err
    summary = json.loads(out)
    assert summary["direction"] == "outbound" and summary["state"] == "ended"
    assert summary["answer_at"] is not None and summary["talk_seconds"] > 0
    assert summary["remote_number"] == "01098765432"  # data the user asked for: in full
    assert "01098765432" not in err  # the progress lines are logs: masked
    (row,) = history
    assert row["answered"] and row["direction"] == "outbound"
    assert row["id"] == summary["id"] or row["id"] in summary["unique_ids"]


async def test_call_not_answered_exits_6_after_the_timeout():
    directory = Directory.generate("3001")
    user = directory.by_exten("3001")
    async with Emulator(directory, port=0) as emu:  # outside numbers ring until told
        proc = await lguapi("call", "--port", str(emu.port), "--id", user.id, "--password-env", SECRET_ENV,
                            "--to", "01098765432", "--timeout", "0.5",
                            env=child_env(**{SECRET_ENV: user.password}))
        rc, out, err = await finish(proc)
        history = emu.pbx.snapshot()["history"]
    assert rc == 6, err
    assert "not answered" in out
    assert len(history) == 1 and not history[0]["answered"]


async def test_monitor_plain_lines_without_a_terminal(tmp_path):
    directory = Directory.generate("3001-3005")
    snap_file = tmp_path / "snap.json"
    async with Emulator(directory, port=0) as emu:
        proc = await lguapi("monitor", "--port", str(emu.port), "--extensions", "3001-3005", "--interval", "0.2",
                            "--snapshot", str(snap_file))
        await until(lambda: len(emu.sessions()) >= 5, "lguapi monitor to log in")
        call_id = emu.pbx.external_call("01012345678", directory.by_exten("3003").callerid)
        line = ""
        while "ringing 1" not in line:
            line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
            assert line, "monitor output ended"
        emu.pbx.external_hangup(call_id)
        proc.send_signal(signal.SIGINT)
        rc, out, err = await finish(proc)
    assert rc == 0, err
    assert "online 5/5" in line and "logged in: 5/5" not in line
    snap = json.loads(snap_file.read_text())
    assert snap["logins"]["total"] == 5 and set(snap["extensions"]) == {f"300{i}" for i in range(1, 6)}
    assert "secret-" not in out + err + snap_file.read_text()


async def test_serve_is_the_emulator():
    proc = await lguapi("serve", "--port", "0", "--admin-port", "0", "--oam-port", "0", "--oam-http",
                        "--extensions", "3001-3002")
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    assert line.startswith("lguapi-emulator ready port=")
    port = int(line.split("port=")[1].split()[0])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()
    await writer.wait_closed()
    proc.send_signal(signal.SIGINT)
    rc, out, err = await finish(proc)
    assert rc == 0, err


def test_no_subcommand_prints_usage(capsys):
    assert cli.main([]) == 2
    assert "usage: lguapi" in capsys.readouterr().err


def test_every_subcommand_has_help(capsys):
    for sub in ("serve", "monitor", "events", "call", "demo"):
        with pytest.raises(SystemExit) as e:
            cli.main([sub, "--help"])
        assert e.value.code == 0
        assert f"lguapi {sub}" in capsys.readouterr().out


def test_passwords_are_never_taken_from_argv():
    parser = cli.build_parser()
    for sub in ("events", "call", "monitor"):
        with pytest.raises(SystemExit):
            parser.parse_args([sub, "--id", "x", "--password", "y", "--to", "1", "--extensions", "1"])


def test_wallboard_falls_back_to_plain_lines(monkeypatch, capsys):
    args = cli.build_parser().parse_args(["monitor", "--extensions", "3001"])
    # not a terminal (CI, pipes): plain lines, silently
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    assert cli._want_tui(args) is False
    assert capsys.readouterr().err == ""
    # a terminal but no rich: plain lines and a note saying how to get the wallboard
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setitem(sys.modules, "rich", None)
    assert cli._want_tui(args) is False
    assert "pip install 'lguapi[cli]'" in capsys.readouterr().err
    monkeypatch.delitem(sys.modules, "rich")
    assert cli._want_tui(args) is True
    args = cli.build_parser().parse_args(["monitor", "--extensions", "3001", "--no-tui"])
    assert cli._want_tui(args) is False


async def test_monitor_stops_when_every_login_fails():
    proc = await lguapi("monitor", "--port", str(dead_port()), "--extensions", "3001-3002")
    rc, out, err = await finish(proc)
    assert rc == 4
    assert "logged in: 0/2 (2 failed)" in out
    assert "every login failed (2)" in err and "secret-" not in out + err
