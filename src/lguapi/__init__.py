"""lguapi: a Python SDK for the LG U+ advanced-Centrex OpenAPI (LGUBaseOpenApi).

The events are imported at once; the client, the call tracker, the monitor and the errors
load on first use (``lguapi.Client`` imports :mod:`lguapi.client`), and type checkers see
every name through the ``TYPE_CHECKING`` imports below.

>>> import lguapi
>>> lguapi.Client.__name__, lguapi.__version__ == lguapi._version.__version__
('Client', True)
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import _version
from ._version import __version__
from .events import *  # noqa: F401,F403
from .events import __all__ as _events_all

if TYPE_CHECKING:
    from .accounts import Account, Directory, load_accounts
    from .calls import Call, CallTracker
    from .client import Client, connect
    from .errors import (CommandError, CommandTimeout, ConnectFailed, ConnectionLost, DiscoveryError, LguapiError,
                         LoginError, NoCurrentCall)
    from .monitor import Monitor

#: name -> module of every name loaded on first use
_LAZY = {
    "Client": "client", "connect": "client",
    "Call": "calls", "CallTracker": "calls",
    "Monitor": "monitor",
    "Account": "accounts", "Directory": "accounts", "load_accounts": "accounts",
    "LguapiError": "errors", "LoginError": "errors", "CommandError": "errors", "NoCurrentCall": "errors",
    "CommandTimeout": "errors", "ConnectionLost": "errors", "ConnectFailed": "errors", "DiscoveryError": "errors",
}

__all__ = ["__version__", *_LAZY, *_events_all]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lguapi' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
