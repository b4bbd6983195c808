"""Stand-in ``win32com``, ``win32com.client``, ``pythoncom``, ``pywintypes``, ``win32api``, ``win32gui`` and ``win32con`` modules backed by lguapi.compat.

:func:`install` puts them in ``sys.modules`` so that a program written for pywin32 and the
vendor's control imports them unchanged; :mod:`lguapi.compat.run` does that before running
the program. Only what programs for this control use is there; anything else is an
``AttributeError`` that names the stand-in.

Objects made through the stand-ins deliver their events where win32com would: inside
``PumpWaitingMessages()``/``PumpMessages()`` on the thread that made them (see
:func:`lguapi.compat.com.apartment_events`).
"""
from __future__ import annotations

import sys
import threading
import time
import types
from typing import Any

from . import com, delivery

__all__ = ["install", "uninstall", "MODULES", "WM_QUIT"]

#: the names this module puts in ``sys.modules``
MODULES = ("pywintypes", "pythoncom", "win32com", "win32com.client", "win32com.client.gencache",
           "win32com.client.dynamic", "win32api", "win32gui", "win32con")

WM_QUIT = 0x0012


def Dispatch(dispatch: Any, userName: Any = None, resultCLSID: Any = None, typeinfo: Any = None,
             clsctx: Any = None, **options: Any) -> Any:
    """``win32com.client.Dispatch`` for the control (events in the creating thread's pump)."""
    options.setdefault("events", com.apartment_events())
    return com.Dispatch(dispatch, userName, resultCLSID, typeinfo, clsctx, **options)


def DispatchWithEvents(clsid: Any, user_event_class: type, **options: Any) -> Any:
    """``win32com.client.DispatchWithEvents`` for the control (events in the creating thread's pump)."""
    options.setdefault("events", com.apartment_events())
    return com.DispatchWithEvents(clsid, user_event_class, **options)


def PostThreadMessage(threadId: int, msg: int, wParam: int = 0, lParam: int = 0) -> None:
    """Only WM_QUIT is meaningful here: it ends that thread's ``PumpMessages``."""
    if int(msg) != WM_QUIT:
        return
    if not delivery.PostThreadQuit(int(threadId), int(wParam)):
        raise com.com_error(-2147023169, "Invalid thread identifier.", None, None)  # ERROR_INVALID_THREAD_ID


def GetCurrentThreadId() -> int:
    """The id ``PostThreadMessage`` takes (``threading.get_ident()`` here)."""
    return threading.get_ident()


def Sleep(milliseconds: int, alertable: int = 0) -> int:
    time.sleep(max(0, int(milliseconds)) / 1000)
    return 0


def IID(iid: str, is_bytes: bool = False) -> str:
    """``pywintypes.IID("{...}")``: the class id as text, which ``Dispatch`` takes as it is."""
    return str(iid)


def _module(name: str, doc: str, **attrs: Any) -> types.ModuleType:
    m = types.ModuleType(name, f"lguapi.compat stand-in for {name}: {doc}")
    m.__dict__.update(attrs)
    m.__dict__["__getattr__"] = _missing(name)
    return m


def _missing(modname: str):
    def __getattr__(attr: str) -> Any:
        raise AttributeError(f"{modname}.{attr} is not provided by lguapi.compat's stand-in (only what programs "
                             f"for the LGUBaseOpenApi control use is)")
    return __getattr__


def build() -> dict[str, types.ModuleType]:
    """Fresh stand-in modules, by name."""
    pump = dict(PumpWaitingMessages=delivery.PumpWaitingMessages, PumpMessages=delivery.PumpMessages)
    pywintypes = _module("pywintypes", "com_error and IID", com_error=com.com_error, error=com.com_error, IID=IID)
    pythoncom = _module(
        "pythoncom", "apartments and message pumps",
        com_error=com.com_error, CoInitialize=com.CoInitialize, CoInitializeEx=com.CoInitializeEx,
        CoUninitialize=com.CoUninitialize, COINIT_APARTMENTTHREADED=com.COINIT_APARTMENTTHREADED,
        COINIT_MULTITHREADED=com.COINIT_MULTITHREADED, COINIT_DISABLE_OLE1DDE=com.COINIT_DISABLE_OLE1DDE,
        COINIT_SPEED_OVER_MEMORY=com.COINIT_SPEED_OVER_MEMORY, **pump)
    client_attrs = dict(Dispatch=Dispatch, DispatchWithEvents=DispatchWithEvents, DispatchEx=Dispatch,
                        WithEvents=com.WithEvents)
    gencache = _module("win32com.client.gencache", "EnsureDispatch", EnsureDispatch=Dispatch)
    dynamic = _module("win32com.client.dynamic", "Dispatch", Dispatch=Dispatch, DumbDispatch=Dispatch)
    client = _module("win32com.client", "the control's Dispatch", gencache=gencache, dynamic=dynamic,
                     **client_attrs)
    client.__path__ = []  # a package, so "import win32com.client.gencache" works
    win32com = _module("win32com", "package", client=client)
    win32com.__path__ = []
    win32api = _module("win32api", "threads and quit messages", PostQuitMessage=delivery.PostQuitMessage,
                       PostThreadMessage=PostThreadMessage, GetCurrentThreadId=GetCurrentThreadId, Sleep=Sleep)
    win32gui = _module("win32gui", "message pumps", PostQuitMessage=delivery.PostQuitMessage,
                       PostThreadMessage=PostThreadMessage, **pump)
    win32con = _module("win32con", "constants", WM_QUIT=WM_QUIT)
    return {"pywintypes": pywintypes, "pythoncom": pythoncom, "win32com": win32com, "win32com.client": client,
            "win32com.client.gencache": gencache, "win32com.client.dynamic": dynamic, "win32api": win32api,
            "win32gui": win32gui, "win32con": win32con}


def install(*, replace: bool = True) -> dict[str, types.ModuleType]:
    """Put the stand-ins in ``sys.modules`` (over any real pywin32 already imported unless ``replace=False``)."""
    mods = build()
    for name, mod in mods.items():
        if replace or name not in sys.modules:
            sys.modules[name] = mod
    return mods


def uninstall() -> None:
    """Remove the stand-ins this module installed from ``sys.modules``."""
    for name in MODULES:
        mod = sys.modules.get(name)
        if mod is not None and (mod.__doc__ or "").startswith("lguapi.compat stand-in"):
            del sys.modules[name]
