"""The typed keys under which the gateway keeps itself on the app and the caller on a request."""
from __future__ import annotations

from typing import Any

from aiohttp import web

__all__ = ["GATEWAY", "PRINCIPAL"]

#: ``app[GATEWAY]`` is the running :class:`lguapi.gateway.Gateway`
GATEWAY: Any = web.AppKey("gateway", object)
#: ``request[PRINCIPAL]`` is the :class:`lguapi.gateway.auth.Principal` of the request
PRINCIPAL: Any = web.RequestKey("principal", object) if hasattr(web, "RequestKey") else "principal"
