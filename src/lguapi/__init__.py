"""lguapi: a Python SDK for the LG U+ advanced-Centrex OpenAPI (LGUBaseOpenApi)."""
from __future__ import annotations

__version__ = "0.1.0"

from .events import *  # noqa: F401,F403
from .events import __all__ as _events_all

__all__ = list(_events_all)


def __getattr__(name):
    # heavy or optional parts load on first use
    if name in ("Client", "connect"):
        from . import client

        return getattr(client, name)
    if name in ("LguapiError", "LoginError", "CommandError", "NoCurrentCall", "CommandTimeout", "ConnectionLost",
                "ConnectFailed", "DiscoveryError"):
        from . import errors

        return getattr(errors, name)
    if name in ("CallTracker", "Call"):
        from . import calls

        return getattr(calls, name)
    if name == "Monitor":
        from . import monitor

        return monitor.Monitor
    raise AttributeError(f"module 'lguapi' has no attribute {name!r}")
