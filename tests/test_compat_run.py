"""A win32com console program runs unchanged through ``python -m lguapi.compat.run`` against the emulator.

The program (tests/compat_programs/console_phone.py) imports ``pythoncom`` and
``win32com.client``, uses ``DispatchWithEvents(ProgID, Events)`` and ``LoginServer(id, pwd, "")``
with only ``LGUAPI_OAM``/``LGUAPI_OAM_CA`` set, and pumps messages on its main thread.
"""
from __future__ import annotations

import subprocess
import sys

from kit.compat import (
    PROGRAMS, SRC, Program, StackThread, module_stack, phone_call_flow, program_env, restart_and_reconnect,
)
from lguapi.compat import LGUBaseOpenApi
from lguapi.server import generated_id, generated_password


stack = module_stack()


def test_console_program_unchanged_full_flow(stack):
    uid, pw = generated_id("3001"), generated_password("3001")
    p = Program("console_phone.py", uid, pw, env=program_env(stack))
    try:
        assert p.wait("COMERROR") == "COMERROR -2147221005 Invalid class string"
        assert p.wait("READY") == "READY 4"
        assert p.wait("LOGGEDIN") == "LOGGEDIN True True"
        assert "LOGINRESULT|STATUS:1|EXTEN:3001|" in p.wait("EVENT login")
        # events run in PumpWaitingMessages on the thread that made the object: the main thread
        assert p.wait("EVENT login").split()[2] == "MainThread"

        phone_call_flow(p, stack, uid, lambda action, *args: p.send(" ".join([action, *args])))

        m = p.mark()
        p.send("history")  # an empty INOUT: both directions
        p.wait("EVENT result", m, contains="CMD:GETCALLHISTORY")
        p.wait("EVENT etc", m, contains="CMDRESULTEND")
        assert not [line for line in p.lines[m:] if line.startswith("EVENT cmderror")]

        # a re-login leaves no thread behind
        m = p.mark()
        p.send("threads")
        before = int(p.wait("THREADS", m).split()[1])
        for _ in range(3):
            m = p.mark()
            p.send("relogin")
            assert p.wait("LOGGEDIN", m) == "LOGGEDIN True True"
        m = p.mark()
        p.send("threads")
        assert int(p.wait("THREADS", m).split()[1]) == before

        # a duplicate login elsewhere: BYE -> one SendNetworkErrorEvent, no reconnect
        m = p.mark()
        other = LGUBaseOpenApi(oam=stack.oam, oam_ca=stack.stack.ca_file)
        try:
            assert other.LoginServer(uid, pw, "")
            p.wait("EVENT neterror", m)
            p.send("connected")
            assert p.wait("CONNECTED", m) == "CONNECTED False"
        finally:
            other.close()
        m = p.mark()
        p.send("relogin")
        assert p.wait("LOGGEDIN", m) == "LOGGEDIN True True"

        restart_and_reconnect(p, stack)
        m = p.mark()
        p.send("connected")
        assert p.wait("CONNECTED", m) == "CONNECTED True", p.lines[m:]

        assert all(line.split()[2] == "MainThread" for line in p.lines if line.startswith("EVENT"))
        p.send("quit")
        p.wait("BYEBYE")
    finally:
        code, err = p.finish()
    assert code == 0, err
    assert "Traceback" not in err


def test_runner_usage_errors_and_argv(tmp_path):
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-m", "lguapi.compat.run"]
    r = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "no PROGRAM" in r.stderr
    r = subprocess.run([*run, str(tmp_path / "missing.py")], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "not a file" in r.stderr
    r = subprocess.run([*run, "--bogus", "x.py"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "unknown option" in r.stderr

    prog = tmp_path / "probe.py"
    prog.write_text(
        "import sys, os, pythoncom, pywintypes, win32api, win32con, win32com.client\n"
        "from win32com.client import gencache\n"
        "import helper\n"
        "print(__name__, sys.argv[1:], helper.X, os.path.basename(sys.argv[0]))\n"
        "print(pythoncom.COINIT_APARTMENTTHREADED, pythoncom.COINIT_MULTITHREADED, win32con.WM_QUIT)\n"
        "assert pythoncom.com_error is pywintypes.com_error\n"
        "try:\n"
        "    win32com.client.DispatchWithEvents('No.Such.Thing', object)\n"
        "except pythoncom.com_error as e:\n"
        "    print(e.hresult, e.strerror, e.excepinfo, e.argerror)\n"
        "sys.exit(7)\n", encoding="utf-8")
    (tmp_path / "helper.py").write_text("X = 'helper found'\n")
    r = subprocess.run([*run, str(prog), "a", "--b"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 7, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "__main__ ['a', '--b'] helper found probe.py"
    assert lines[1] == "2 0 18"
    assert lines[2] == "-2147221005 Invalid class string None None"

    crash = tmp_path / "crash.py"
    crash.write_text("raise RuntimeError('boom')\n")
    r = subprocess.run([*run, str(crash)], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "RuntimeError: boom" in r.stderr


def test_programs_are_plain_win32com_programs():
    """The programs in tests/compat_programs never mention lguapi: they are what users have."""
    for path in PROGRAMS.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import lguapi" not in text and "from lguapi" not in text, path.name
        assert "import win32com.client" in text and "import pythoncom" in text


def test_sample_page_port_of_the_korean_guide_runs_and_is_the_one_printed():
    """docs/ko/porting.md prints tests/compat_programs/sample_page.py verbatim; it runs unchanged through the runner."""
    program = (PROGRAMS / "sample_page.py").read_text(encoding="utf-8")
    guide = (SRC.parent / "docs" / "ko" / "porting.md").read_text(encoding="utf-8")
    block = guide.split("<!-- sample_page.py -->\n```python\n", 1)[1].split("```\n", 1)[0]
    assert block == program
    s = StackThread(emulator_options={"auto_answer": 1})
    try:
        uid, pw = generated_id("3001"), generated_password("3001")
        r = subprocess.run([sys.executable, "-m", "lguapi.compat.run", str(PROGRAMS / "sample_page.py"), uid, pw,
                            "01012345678"], env=program_env(s), capture_output=True, text=True, encoding="utf-8",
                           timeout=120)
    finally:
        s.close()
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    for expected in ("로그인성공:3001/07012343001", "연결상태 : True", "링: 발신 01012345678", "통화중:",
                     "CMDRESULT|CMD:HOLD|RES:OK", "CMDRESULT|CMD:UNHOLD|RES:OK", "통화종료: HCAUSE 16",
                     "CMD:SENDSMS", "CMD:GETPEERINFO|3001:OK:CONN", "CMD:GETCALLHISTORY", "CMD:SETFORWARD",
                     "CMD:GETRECVSMSLIST", "disconnected....."):
        assert expected in out, (expected, out)
    assert "CmdError" not in out and "Traceback" not in r.stderr
