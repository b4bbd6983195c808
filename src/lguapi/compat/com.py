"""win32com's entry points for the control: class names, ``Dispatch``, ``DispatchWithEvents``, ``WithEvents``, ``com_error`` and apartments.

The control answers to its CLSID and ProgIDs, in any case; any other class name raises
:class:`com_error` with the HRESULT win32com gives for it ("Invalid class string").
``CoInitializeEx(COINIT_MULTITHREADED)`` on a thread makes the objects it creates deliver
their events on their own thread, as COM does in a multithreaded apartment; otherwise a
stand-in object delivers them in the creating thread's message pump (STA).
"""
from __future__ import annotations

import os
import sys
import threading
import weakref
from typing import Any

from ..errors import ComError
from .control import LGUBaseOpenApi

__all__ = [
    "CLSID", "PROGIDS", "com_error", "is_control_class", "Dispatch", "DispatchWithEvents", "WithEvents",
    "CoInitialize", "CoInitializeEx", "CoUninitialize", "COINIT_APARTMENTTHREADED", "COINIT_MULTITHREADED",
    "COINIT_DISABLE_OLE1DDE", "COINIT_SPEED_OVER_MEMORY", "EVENTS_ENV", "apartment_events",
    "HRESULT_INVALID_CLASS_STRING",
]

#: the control's class id (the ``CLASSID`` of the manual's §6 sample page)
CLSID = "{86019F2F-2899-4C4C-A6FE-24CFF7CD6D4C}"
#: the ProgIDs programs use for the control (compared case-insensitively)
PROGIDS = ("LGUBASEOPENAPILib.LGUBaseOpenApi", "LGUBaseOpenApi.LGUBaseOpenApiCtrl.1")
#: CO_E_CLASSSTRING, what CLSIDFromProgID answers for an unknown name
HRESULT_INVALID_CLASS_STRING = -2147221005

COINIT_MULTITHREADED = 0x0
COINIT_APARTMENTTHREADED = 0x2
COINIT_DISABLE_OLE1DDE = 0x4
COINIT_SPEED_OVER_MEMORY = 0x8

#: environment variable forcing where stand-in objects deliver events (``thread`` or ``pump``)
EVENTS_ENV = "LGUAPI_COMPAT_EVENTS"

#: pywin32's ``pywintypes.com_error``
com_error = ComError

_NAMES = frozenset(n.lower() for n in (CLSID, *PROGIDS))
_apartments = threading.local()
_event_classes: weakref.WeakKeyDictionary[type, type] = weakref.WeakKeyDictionary()


def is_control_class(name: object) -> bool:
    """True for the control's CLSID (``{...}``) or one of its ProgIDs, whatever the case."""
    return isinstance(name, str) and name.lower() in _NAMES


def Dispatch(dispatch: Any, userName: Any = None, resultCLSID: Any = None, typeinfo: Any = None,
             clsctx: Any = None, **options: Any) -> LGUBaseOpenApi:
    """The control without event handlers (add them with :func:`WithEvents`); an existing object is returned as is.

    ``options`` go to :class:`LGUBaseOpenApi` (``events=``, ``oam=``, ``oam_ca=``, ...).

    >>> Dispatch("Excel.Application")
    Traceback (most recent call last):
    ...
    lguapi.errors.ComError: (-2147221005, 'Invalid class string', None, None)
    """
    if isinstance(dispatch, LGUBaseOpenApi):
        return dispatch
    _check_class(dispatch)
    return LGUBaseOpenApi(**options)


def DispatchWithEvents(clsid: Any, user_event_class: Any = None, **options: Any) -> LGUBaseOpenApi:
    """The control whose events call ``user_event_class``'s ``On<EventName>`` methods on the same object.

    As in pywin32 the object is an instance of a class deriving from both, and
    ``user_event_class.__init__(obj)`` (its own or inherited) is called once the control is
    ready. ``options`` go to :class:`LGUBaseOpenApi`.
    """
    if isinstance(clsid, LGUBaseOpenApi):
        raise ValueError("DispatchWithEvents needs a class name; use WithEvents(obj, Events) for an existing object")
    _check_class(clsid)
    if user_event_class is None:
        return LGUBaseOpenApi(**options)
    cls: Any = _event_classes.get(user_event_class)
    if cls is None:
        cls = type(f"COMEventClass_{user_event_class.__name__}", (LGUBaseOpenApi, user_event_class), {})
        _event_classes[user_event_class] = cls
    obj = cls.__new__(cls)
    LGUBaseOpenApi.__init__(obj, **options)
    user_event_class.__init__(obj)
    return obj


def WithEvents(disp: Any, user_event_class: Any) -> Any:
    """An instance of ``user_event_class`` whose ``On<EventName>`` methods receive ``disp``'s events.

    ``disp`` is an object from :func:`Dispatch` (or a class name, dispatched first). Events
    stop when the returned object is dropped, as with pywin32.
    """
    api = Dispatch(disp)
    sink = user_event_class.__new__(user_event_class)
    user_event_class.__init__(sink)
    api.advise(sink)
    return sink


def CoInitialize() -> None:
    """Make the calling thread a single-threaded apartment (events in its pump)."""
    _apartments.mode = COINIT_APARTMENTTHREADED


def CoInitializeEx(flags: int = COINIT_APARTMENTTHREADED) -> None:
    """``COINIT_MULTITHREADED`` (0): objects made here deliver events on their own thread; else as CoInitialize."""
    _apartments.mode = COINIT_APARTMENTTHREADED if int(flags) & COINIT_APARTMENTTHREADED else COINIT_MULTITHREADED


def CoUninitialize() -> None:
    """Leave the apartment (existing objects keep working until released, as tolerant COM code expects)."""
    _apartments.mode = None


def apartment_events() -> str:
    """Where an object made now, on this thread, by a stand-in should deliver its events.

    ``$LGUAPI_COMPAT_EVENTS`` (``thread``/``pump``) wins; then the thread's apartment:
    multithreaded -> ``"thread"``, otherwise ``"pump"``. The main thread's apartment
    follows ``sys.coinit_flags`` as pywin32's does.
    """
    forced = os.environ.get(EVENTS_ENV, "").strip().lower()
    if forced:
        if forced not in ("thread", "pump"):
            raise ValueError(f"{EVENTS_ENV} must be 'thread' or 'pump', not {forced!r}")
        return forced
    mode = getattr(_apartments, "mode", None)
    if mode is None and threading.current_thread() is threading.main_thread():
        mode = getattr(sys, "coinit_flags", COINIT_APARTMENTTHREADED)
    return "thread" if mode is not None and not int(mode) & COINIT_APARTMENTTHREADED else "pump"


def _check_class(name: Any) -> None:
    if not is_control_class(name):
        raise com_error(HRESULT_INVALID_CLASS_STRING, "Invalid class string", None, None)
