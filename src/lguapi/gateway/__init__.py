"""``lguapi gateway``: the Monitor's HTTP face — REST commands, a live feed, webhooks, metrics, wallboard.

>>> from lguapi.gateway import Gateway, load_config                    # doctest: +SKIP
>>> gw = Gateway(load_config("gateway.toml")); await gw.start(); print(gw.url)

Needs the ``gateway`` extra (``pip install 'lguapi[gateway]'``: aiohttp, prometheus-client).
See ``docs/gateway.md``.
"""
from __future__ import annotations

from .app import ROUTES, Gateway
from .config import ConfigError, GatewayConfig, TokenConfig, hash_token, load_config
from .feed import FeedFilter, Hub

__all__ = ["Gateway", "GatewayConfig", "TokenConfig", "ConfigError", "load_config", "hash_token", "Hub",
           "FeedFilter", "ROUTES"]
