"""``lguapi gateway``: the Monitor's HTTP face — REST commands, a live feed, webhooks, metrics, wallboard.

>>> from lguapi.gateway import Gateway, load_config                    # doctest: +SKIP
>>> gw = Gateway(load_config("gateway.toml")); await gw.start(); print(gw.url)

Needs the ``gateway`` extra (``pip install 'lguapi[gateway]'``: aiohttp, prometheus-client);
the names are imported on first use, so ``lguapi --help`` works without it.
See ``docs/gateway.md``.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Gateway", "GatewayConfig", "TokenConfig", "ConfigError", "load_config", "hash_token", "Hub",
           "FeedFilter", "ROUTES"]

_WHERE = {"Gateway": "app", "ROUTES": "app", "GatewayConfig": "config", "TokenConfig": "config",
          "ConfigError": "config", "load_config": "config", "hash_token": "config", "Hub": "feed",
          "FeedFilter": "feed"}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'lguapi.gateway' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
