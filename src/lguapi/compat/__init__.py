"""lguapi.compat: the vendor's ActiveX control (LGUBaseOpenApi) for programs written against it, on any OS.

Two ways in:

* **Swap one import** -- ``from lguapi.compat import DispatchWithEvents`` instead of
  ``from win32com.client import DispatchWithEvents``. Events run on a background thread
  (``events="thread"``) unless ``events="pump"`` is given.
* **Zero edits** -- ``python -m lguapi.compat.run PROGRAM [ARGS...]`` runs the program with
  stand-in ``win32com``/``pythoncom`` modules; events run inside ``PumpWaitingMessages()`` /
  ``PumpMessages()`` on the thread that made the object, as under win32com.

The OAM address of ``LoginServer(id, pwd, "")`` comes from ``oam=``/``SetOamServerIP`` or
``$LGUAPI_OAM`` (``host:port``), its CA from ``oam_ca=`` or ``$LGUAPI_OAM_CA``. See
docs/compat.md (and docs/ko/ in Korean).
"""
from __future__ import annotations

from .com import (
    CLSID, COINIT_APARTMENTTHREADED, COINIT_MULTITHREADED, PROGIDS, CoInitialize, CoInitializeEx, CoUninitialize,
    Dispatch, DispatchWithEvents, WithEvents, com_error, is_control_class,
)
from .control import OAM_CA_ENV, OAM_ENV, READYSTATE_COMPLETE, LGUBaseOpenApi
from .delivery import PostQuitMessage, PumpMessages, PumpWaitingMessages
from .engine import EVENT_CALLBACKS

__all__ = [
    "LGUBaseOpenApi", "DispatchWithEvents", "Dispatch", "WithEvents", "PumpWaitingMessages", "PumpMessages",
    "PostQuitMessage", "CoInitialize", "CoInitializeEx", "CoUninitialize", "COINIT_APARTMENTTHREADED",
    "COINIT_MULTITHREADED", "com_error", "is_control_class", "CLSID", "PROGIDS", "EVENT_CALLBACKS",
    "READYSTATE_COMPLETE", "OAM_ENV", "OAM_CA_ENV",
]
