"""win32com semantics of lguapi.compat: class names and com_error, apartments and pumps, lifetime, options, gaps.

Against the real emulator stack on 127.0.0.1 (see kit.compat.StackThread).
"""
from __future__ import annotations

import gc
import threading
import time

import pytest

from kit.clients import creds
from kit.compat import WAIT, Events, module_stack
from kit.wait import wait_until
from lguapi import compat
from lguapi.compat import LGUBaseOpenApi, com_error
from lguapi.compat import standins

PROGID = "LGUBaseOpenApi.LGUBaseOpenApiCtrl.1"


stack = module_stack(extens="3001-3010")


def io_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name in ("lguapi-io", "lguapi-events"))


# --- class names ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "LGUBaseOpenApi.LGUBaseOpenApiCtrl.1", "lgubaseopenapi.lgubaseopenapictrl.1", "LGUBASEOPENAPILib.LGUBaseOpenApi",
    "LGUBASEOPENAPILIB.LGUBASEOPENAPI", "{86019F2F-2899-4C4C-A6FE-24CFF7CD6D4C}", "{86019f2f-2899-4c4c-a6fe-24cff7cd6d4c}",
])
def test_control_names_in_any_case(name):
    with compat.Dispatch(name) as api:
        assert isinstance(api, LGUBaseOpenApi) and api.readyState == 4
    assert api.readyState == 0


@pytest.mark.parametrize("name", ["Excel.Application", "LGUBaseOpenApi.LGUBaseOpenApiCtrl.2", "86019F2F-2899-4C4C-A6FE-24CFF7CD6D4C",
                                  "", " LGUBaseOpenApi.LGUBaseOpenApiCtrl.1", None])
def test_other_names_raise_com_error_like_win32com(name):
    for make in (lambda: compat.Dispatch(name), lambda: compat.DispatchWithEvents(name, Events),
                 lambda: standins.DispatchWithEvents(name, Events)):
        with pytest.raises(com_error) as info:
            make()
        e = info.value
        assert e.args == (-2147221005, "Invalid class string", None, None)
        assert (e.hresult, e.strerror, e.excepinfo, e.argerror) == e.args


def test_stand_in_modules_take_an_iid_and_name_what_they_lack():
    mods = standins.build()
    iid = mods["pywintypes"].IID("{86019F2F-2899-4C4C-A6FE-24CFF7CD6D4C}")
    with mods["win32com.client"].Dispatch(iid) as api:
        assert api.readyState == 4
    with pytest.raises(AttributeError, match="win32com.client.GetObject is not provided"):
        mods["win32com.client"].GetObject


def test_events_class_init_is_called_inherited_or_not():
    class Base:
        def __init__(self):
            self.base_ran = threading.current_thread().name

    class Inherited(Base):
        def OnSendRingEvent(self, text):
            pass

    for cls in (Base, Inherited, Events):
        with compat.DispatchWithEvents(PROGID, cls) as api:
            assert isinstance(api, cls) and api.readyState == 4
            if issubclass(cls, Base):
                assert api.base_ran == threading.current_thread().name
            else:
                assert api.seen == []


# --- options, OAM defaults and small gaps ------------------------------------------------------

def test_options_of_dispatch_with_events_reach_login(stack):
    uid, pw = creds("3001")
    api = compat.DispatchWithEvents(PROGID, Events, oam=stack.oam, oam_ca=stack.stack.ca_file, cipher="seed",
                                    heartbeat=5, auto_reconnect=2)
    try:
        assert api.LoginServer(uid, pw, "") is True  # oam= is the built-in OAM address
        assert api.wait("login")[1].startswith("LOGINRESULT|STATUS:1|EXTEN:3001|")
        assert "cipher=seed" in repr(api)
        assert api.ConnectServer("127.0.0.1", str(stack.stack.port), uid, pw) is True  # no TypeError
        m = len(api.seen)
        api.GetCallHistory("1", "", "20000101", "20991231", "9")  # empty INOUT: both directions
        assert api.wait("result", m)[1].startswith("CMDRESULT|CMD:GETCALLHISTORY|")
        assert not [e for e in api.seen[m:] if e[0] == "cmderror"]
    finally:
        api.close()


def test_oam_from_environment_and_host_port_servers(stack, monkeypatch):
    uid, pw = creds("3002")
    monkeypatch.setenv("LGUAPI_OAM", stack.oam)
    monkeypatch.setenv("LGUAPI_OAM_CA", stack.stack.ca_file)
    with compat.DispatchWithEvents(PROGID, Events) as api:
        assert api.LoginServer(uid, pw, "") is True
        assert api.LoginServer(uid, pw, f"127.0.0.1:{stack.stack.port}") is True
        m = len(api.seen)
        assert api.LoginServer(uid, pw, "127.0.0.1:notaport") is False
        assert api.wait("cmderror", m)[1] == "Connect"
    monkeypatch.delenv("LGUAPI_OAM")
    with compat.DispatchWithEvents(PROGID, Events) as api:
        assert api.LoginServer(uid, pw, "") is False
        err = api.wait("cmderror")
        assert err[1] == "Connect" and "LGUAPI_OAM" in err[2]
        with pytest.raises(ValueError):
            LGUBaseOpenApi(host="127.0.0.1")
        with pytest.raises(ValueError):
            LGUBaseOpenApi(events="sometimes")
        with pytest.raises(ValueError, match="login_timeout"):
            LGUBaseOpenApi(login_timeout=0)


# --- apartments: events inside the pump of the creating thread --------------------------------

def test_pump_delivery_runs_handlers_only_inside_the_pump(stack):
    uid, pw = creds("3003")
    api = compat.DispatchWithEvents(PROGID, Events, events="pump", oam=stack.oam, oam_ca=stack.stack.ca_file)
    try:
        assert api.events_mode == "pump"
        assert api.LoginServer(uid, pw, "") is True
        time.sleep(0.2)
        assert api.seen == []  # nothing runs until this thread pumps
        assert wait_until(lambda: api.seen, pump=compat.PumpWaitingMessages)
        stack.admin("/calls", {"from": "01055556666", "to": uid})
        assert wait_until(lambda: any(e[0] == "ring" for e in api.seen), pump=compat.PumpWaitingMessages)
        assert api.threads == {threading.current_thread().name}
        assert io_threads() >= 1 and not [t for t in threading.enumerate() if t.name == "lguapi-events"]
        api.HangUp()
        assert api.wait_events()  # on the home thread it pumps while it waits
        assert wait_until(lambda: any(e[0] == "channelout" for e in api.seen), "the CHANNELOUT",
                          pump=compat.PumpWaitingMessages)
    finally:
        api.close()


def test_pump_waiting_messages_returns_at_once(monkeypatch):
    from lguapi.compat import delivery

    slept: list[float] = []
    real_sleep = delivery.time.sleep
    monkeypatch.setattr(delivery.time, "sleep", lambda s: (slept.append(s), real_sleep(0))[1])
    for _ in range(200):
        assert compat.PumpWaitingMessages() == 0
    # the old stand-in slept 50 ms per call; now it may only yield the GIL (sleep(0))
    assert all(s == 0 for s in slept)


def test_pump_messages_until_quit_from_a_handler_or_another_thread(stack):
    uid, pw = creds("3004")
    api = compat.DispatchWithEvents(PROGID, Events, events="pump", oam=stack.oam, oam_ca=stack.stack.ca_file)
    try:
        api.OnSendLoginResultEvent = lambda text: (api.seen.append(("login", text)), compat.PostQuitMessage(0))
        assert api.LoginServer(uid, pw, "") is True
        compat.PumpMessages()  # returns once the handler posted the quit message
        assert api.seen and api.seen[0][0] == "login"
        assert compat.PumpWaitingMessages() == 0  # the quit message was taken

        home = threading.get_ident()
        mods = standins.build()
        timer = threading.Timer(0.2, mods["win32api"].PostThreadMessage, (home, mods["win32con"].WM_QUIT, 0, 0))
        timer.start()
        mods["pythoncom"].PumpMessages()
        timer.join()
        compat.PostQuitMessage(3)
        assert compat.PumpWaitingMessages() == 1
    finally:
        api.close()


def test_multithreaded_apartment_delivers_on_a_thread(stack):
    mods = standins.build()
    result = {}

    def worker():
        mods["pythoncom"].CoInitializeEx(mods["pythoncom"].COINIT_MULTITHREADED)
        api = mods["win32com.client"].DispatchWithEvents(PROGID, Events, oam=stack.oam, oam_ca=stack.stack.ca_file)
        result["mode"] = api.events_mode
        api.close()
        mods["pythoncom"].CoUninitialize()
        mods["pythoncom"].CoInitialize()
        api = mods["win32com.client"].DispatchWithEvents(PROGID, Events)
        result["sta"] = api.events_mode
        api.close()

    t = threading.Thread(target=worker)
    t.start()
    t.join(WAIT)
    assert result == {"mode": "thread", "sta": "pump"}


def test_with_events_sends_to_a_separate_sink(stack):
    uid, pw = creds("3005")
    api = compat.Dispatch(PROGID, events="thread", oam=stack.oam, oam_ca=stack.stack.ca_file)
    try:
        sink = compat.WithEvents(api, Events)
        assert isinstance(sink, Events) and not isinstance(sink, LGUBaseOpenApi)
        assert api.LoginServer(uid, pw, "") is True
        assert sink.wait("login")[1].startswith("LOGINRESULT|STATUS:1|")
        api.unadvise(sink)
        m = len(sink.seen)
        api.DisconnectServer()
        assert api.wait_events()
        assert sink.seen[m:] == []
    finally:
        api.close()


# --- lifetime like COM -------------------------------------------------------------------------

@pytest.mark.parametrize("events", ["thread", "pump"])
def test_dropped_objects_log_out_and_leave_no_thread(stack, events):
    uid, pw = creds("3006")
    baseline = threading.active_count()
    for _ in range(5):
        api = compat.DispatchWithEvents(PROGID, Events, events=events, oam=stack.oam, oam_ca=stack.stack.ca_file)
        assert api.LoginServer(uid, pw, "") is True
        compat.PumpWaitingMessages()
        del api  # the last reference: logs out, joins its threads
    gc.collect()
    assert wait_until(lambda: threading.active_count() == baseline), [t.name for t in threading.enumerate()]
    assert io_threads() == 0
    # logged out: the extension shows no API connection any more
    with compat.DispatchWithEvents(PROGID, Events, oam=stack.oam, oam_ca=stack.stack.ca_file) as probe:
        assert probe.LoginServer(*creds("3007"), "")
        probe.GetPeerInfo("3006")
        assert probe.wait("result")[1] == "CMDRESULT|CMD:GETPEERINFO|3006:OK:NOT"
    assert wait_until(lambda: threading.active_count() == baseline)


def test_closed_object_refuses_commands():
    api = compat.DispatchWithEvents(PROGID, Events)
    api.close()
    api.close()  # twice is fine
    assert api.readyState == 0 and api.IsConnected() is False
    with pytest.raises(RuntimeError, match="closed"):
        api.ConnectServer("127.0.0.1", "8086", "x", "y")


def test_a_thread_that_never_pumps_hits_a_bound_not_unbounded_memory(stack, caplog):
    uid, pw = creds("3008")
    api = compat.DispatchWithEvents(PROGID, Events, events="pump", max_pending_events=3, oam=stack.oam,
                                    oam_ca=stack.stack.ca_file)
    try:
        assert api.LoginServer(uid, pw, "") is True
        with caplog.at_level("WARNING", logger="lguapi.compat"):
            for _ in range(5):
                api.GetPeerInfo("3008")
            assert wait_until(lambda: api.events_dropped == 3)
        assert len([r for r in caplog.records if "max_pending_events" in r.getMessage()]) == 1
        assert api.wait_events()
        assert [e[0] for e in api.seen] == ["login", "result", "result"]
        # room again: later events arrive
        m = len(api.seen)
        api.GetPeerInfo("3008")
        assert api.wait("result", m)
    finally:
        api.close()
    with pytest.raises(ValueError, match="max_pending_events"):
        LGUBaseOpenApi(max_pending_events=0)


def test_a_finalizer_that_runs_on_the_objects_own_loop_thread_still_cleans_up(stack):
    """The cyclic garbage collector may run a finalizer on any thread, the object's lguapi-io thread included."""
    uid, pw = creds("3009")
    baseline = threading.active_count()
    api = compat.DispatchWithEvents(PROGID, Events, oam=stack.oam, oam_ca=stack.stack.ca_file)
    assert api.LoginServer(uid, pw, "") is True
    engine = api._engine  # white-box: run its close where the collector could
    engine._loop.call_soon_threadsafe(engine.close)
    assert wait_until(lambda: engine.closed and not engine._thread.is_alive())
    api.close()
    assert wait_until(lambda: threading.active_count() == baseline)
    with compat.DispatchWithEvents(PROGID, Events, oam=stack.oam, oam_ca=stack.stack.ca_file) as probe:
        assert probe.LoginServer(*creds("3010"), "")
        probe.GetPeerInfo("3009")
        assert probe.wait("result")[1] == "CMDRESULT|CMD:GETPEERINFO|3009:OK:NOT"
