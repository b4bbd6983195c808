"""Gateway configuration: one :class:`GatewayConfig`, read from a TOML file or built in code.

The file has these tables (every key is optional unless marked; ``examples/gateway.toml``
shows them all, ``docs/gateway.md`` explains each)::

    [upstream]   host, port, oam, cipher, accounts | extensions (+ domain), sink,
                 login_concurrency, ring_expiry          and [upstream.client]: Client options
    [http]       host, port, tls_cert, tls_key, cors_origins, max_body_bytes, anonymous,
                 metrics_public, deny_methods, command_timeout
    [feed]       buffer, queue, heartbeat, skip_events, max_subscribers
    [[tokens]]   name, sha256 | token_env | token, scopes, extensions, domains, mask_numbers
    [webhook]    outbox + the dispatcher's settings      [[webhooks]]  one table per endpoint

Tokens are kept only as the SHA-256 of their text; a plain ``token`` in the file is hashed
at load and never kept. Unknown keys are an error (a typo must not silently disable a bound).
"""
from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["GatewayConfig", "TokenConfig", "ConfigError", "load_config", "hash_token", "SCOPES",
           "is_loopback"]

#: the scopes a token can carry: ``read`` (GET routes and the feeds), ``command`` (POST routes)
SCOPES = ("read", "command")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class ConfigError(ValueError):
    """The gateway configuration is invalid; the message names the file, table and key."""


def hash_token(token: str) -> str:
    """The hex SHA-256 of a bearer token, the only form the gateway keeps.

    >>> hash_token("s3cret")[:16]
    '1ec1c26b50d5d3c5'
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_loopback(host: str) -> bool:
    """Is ``host`` a loopback address (``127.0.0.0/8``, ``::1``, ``localhost``)?"""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class TokenConfig:
    """One bearer token: its hash, scopes and optional limits (``None``: every extension/domain)."""

    name: str
    sha256: str
    scopes: frozenset[str] = frozenset(SCOPES)
    extensions: frozenset[str] | None = None
    domains: frozenset[str] | None = None
    mask_numbers: bool = False

    def __repr__(self) -> str:  # never show the hash either
        return f"TokenConfig(name={self.name!r}, scopes={sorted(self.scopes)!r})"


@dataclass
class GatewayConfig:
    """Everything the gateway needs. ``accounts``: a TOML accounts path, a ``Directory`` or
    ``(id, password)`` pairs; or ``extensions`` (``"3001-3010"``) for the emulator's generated
    accounts. Bounds: ``max_body_bytes`` (request bodies), ``feed_buffer`` (messages kept
    for resume), ``feed_queue`` (messages queued per subscriber before it is cut off),
    ``max_subscribers`` (feed connections at once)."""

    # upstream: the LGUBaseOpenAPI server and the extensions to watch
    upstream_host: str | None = "127.0.0.1"
    upstream_port: int = 8086
    oam: str | None = None
    cipher: str = "seed"
    accounts: Any = None
    extensions: str | None = None
    domain: str = "ipcctest.com"
    sink: str | None = None
    login_concurrency: int = 100
    ring_expiry: float = 300.0
    client_options: dict = field(default_factory=dict)
    # http
    host: str = "127.0.0.1"
    port: int = 8090
    tls_cert: str | None = None
    tls_key: str | None = None
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 64 * 1024
    anonymous: frozenset[str] = frozenset()
    metrics_public: bool = False
    deny_methods: frozenset[str] = frozenset()
    command_timeout: float = 15.0
    # feed
    feed_buffer: int = 10_000
    feed_queue: int = 2_000
    feed_heartbeat: float = 15.0
    feed_skip_events: frozenset[str] = frozenset({"PING"})
    max_subscribers: int = 1_000
    # auth
    tokens: tuple[TokenConfig, ...] = ()
    # webhooks (gateway-web's dispatcher): endpoints, options, outbox path
    webhooks: tuple = ()
    webhook_options: dict = field(default_factory=dict)
    webhook_outbox: str | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` for a value out of range or an unsafe combination."""
        for name in ("max_body_bytes", "feed_buffer", "feed_queue", "max_subscribers", "login_concurrency"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, not {v!r}")
        if not isinstance(self.port, int) or not 0 <= self.port < 65536:
            raise ConfigError(f"http port must be 0-65535, not {self.port!r}")
        if self.feed_heartbeat <= 0 or self.command_timeout <= 0:
            raise ConfigError("feed heartbeat and command_timeout must be > 0 seconds")
        bad = set(self.anonymous) - set(SCOPES)
        if bad:
            raise ConfigError(f"anonymous: unknown scope(s) {sorted(bad)}; scopes are {list(SCOPES)}")
        if self.anonymous and not is_loopback(self.host):
            raise ConfigError(f"anonymous access is allowed only on a loopback address, not on {self.host!r}")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("tls_cert and tls_key go together")
        if self.accounts is None and not self.extensions:
            raise ConfigError("no accounts: give upstream.accounts (a TOML file) or upstream.extensions")
        if self.accounts is not None and self.extensions:
            raise ConfigError("give upstream.accounts or upstream.extensions, not both")
        names = [t.name for t in self.tokens]
        if len(set(names)) != len(names):
            raise ConfigError("two tokens have the same name")

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert)

    def exposure_warnings(self) -> list[str]:
        """What is risky about where the gateway listens (logged as warnings at start)."""
        out = []
        if not is_loopback(self.host) and not self.tls:
            out.append(f"listening on {self.host} without TLS: tokens and phone numbers cross the network "
                       f"in clear text (set http.tls_cert and http.tls_key)")
        if not is_loopback(self.host) and not self.tokens:
            out.append(f"listening on {self.host} with no tokens: every route but the public ones answers 401")
        if "*" in self.cors_origins:
            out.append("cors_origins allows any origin ('*'): any web page a user opens may call the gateway "
                       "with that user's token")
        return out

    def replace(self, **changes: Any) -> GatewayConfig:
        """A copy with ``changes`` (validated again), e.g. the CLI's ``--host``/``--port``."""
        return dataclasses.replace(self, **changes)


# -- the TOML file ---------------------------------------------------------------------------------
_UPSTREAM = {"host": "upstream_host", "port": "upstream_port", "oam": "oam", "cipher": "cipher",
             "accounts": "accounts", "extensions": "extensions", "domain": "domain", "sink": "sink",
             "login_concurrency": "login_concurrency", "ring_expiry": "ring_expiry"}
_HTTP = {"host": "host", "port": "port", "tls_cert": "tls_cert", "tls_key": "tls_key",
         "cors_origins": "cors_origins", "max_body_bytes": "max_body_bytes", "anonymous": "anonymous",
         "metrics_public": "metrics_public", "deny_methods": "deny_methods", "command_timeout": "command_timeout"}
_FEED = {"buffer": "feed_buffer", "queue": "feed_queue", "heartbeat": "feed_heartbeat",
         "skip_events": "feed_skip_events", "max_subscribers": "max_subscribers"}
_TOKEN_KEYS = {"name", "sha256", "token_env", "token", "scopes", "extensions", "domains", "mask_numbers"}
_SETS = {"anonymous", "deny_methods", "feed_skip_events"}
_TOP = {"upstream", "http", "feed", "tokens", "webhook", "webhooks"}


def load_config(path: str | os.PathLike, *, environ: Mapping[str, str] | None = None) -> GatewayConfig:
    """Read a gateway TOML file. Relative paths in it (accounts, sink, outbox, TLS files) are
    taken relative to the file's directory. ``environ`` (default ``os.environ``) resolves
    ``token_env``."""
    import tomllib

    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return config_from_mapping(data, source=path, base=os.path.dirname(os.path.abspath(path)),
                               environ=os.environ if environ is None else environ)


def config_from_mapping(data: dict, *, source: str = "config", base: str = ".",
                        environ: Mapping[str, str] | None = None) -> GatewayConfig:
    """A :class:`GatewayConfig` from the parsed TOML (see :func:`load_config`)."""
    env: Mapping[str, str] = os.environ if environ is None else environ
    _no_unknown(data, _TOP, source)
    kw: dict[str, Any] = {}
    up = _table(data, "upstream", source)
    client = up.pop("client", {})
    if not isinstance(client, dict):
        raise ConfigError(f"{source}: [upstream.client] must be a table")
    kw.update(_mapped(up, _UPSTREAM, f"{source} [upstream]"))
    if "oam" in up and "host" not in up:
        kw["upstream_host"] = None  # discover the server through OAM
    kw["client_options"] = dict(client)
    kw.update(_mapped(_table(data, "http", source), _HTTP, f"{source} [http]"))
    kw.update(_mapped(_table(data, "feed", source), _FEED, f"{source} [feed]"))
    for key in ("accounts", "sink", "tls_cert", "tls_key"):
        if isinstance(kw.get(key), str) and "://" not in kw[key]:
            kw[key] = os.path.join(base, kw[key])
    tokens = data.get("tokens", [])
    if not isinstance(tokens, list):
        raise ConfigError(f"{source}: tokens must be an array of tables ([[tokens]])")
    kw["tokens"] = tuple(_token(t, i, source, env) for i, t in enumerate(tokens))
    _webhooks(data, kw, source, base)
    try:
        return GatewayConfig(**kw)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None
    except TypeError as e:
        raise ConfigError(f"{source}: {e}") from None


def _table(data: dict, name: str, source: str) -> dict:
    t = data.get(name, {})
    if not isinstance(t, dict):
        raise ConfigError(f"{source}: [{name}] must be a table")
    return dict(t)


def _no_unknown(table: dict, known, where: str) -> None:
    unknown = set(table) - set(known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(known)}")


def _mapped(table: dict, names: dict[str, str], where: str) -> dict:
    _no_unknown(table, names, where)
    out: dict[str, Any] = {}
    for key, value in table.items():
        attr = names[key]
        if attr in _SETS or attr == "cors_origins":
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}: {key} must be a list of strings")
            value = tuple(value) if attr == "cors_origins" else frozenset(value)
        out[attr] = value
    return out


def _token(t: Any, i: int, source: str, environ) -> TokenConfig:
    where = f"{source}: tokens #{i + 1}"
    if not isinstance(t, dict):
        raise ConfigError(f"{where} must be a table")
    _no_unknown(t, _TOKEN_KEYS, where)
    name = t.get("name") or f"token{i + 1}"
    given = [k for k in ("sha256", "token_env", "token") if k in t]
    if len(given) != 1:
        raise ConfigError(f"{where} ({name}): give exactly one of sha256, token_env, token")
    if "sha256" in t:
        digest = str(t["sha256"]).lower()
        if not _HEX64.match(digest):
            raise ConfigError(f"{where} ({name}): sha256 must be 64 hex digits")
    elif "token_env" in t:
        value = environ.get(t["token_env"])
        if not value:
            raise ConfigError(f"{where} ({name}): environment variable {t['token_env']} is not set")
        digest = hash_token(value)
    else:
        digest = hash_token(str(t["token"]))
    scopes = frozenset(t.get("scopes", SCOPES))
    if not scopes or scopes - set(SCOPES):
        raise ConfigError(f"{where} ({name}): scopes must be a non-empty subset of {list(SCOPES)}")
    return TokenConfig(name=name, sha256=digest, scopes=scopes,
                       extensions=_opt_set(t, "extensions", where), domains=_opt_set(t, "domains", where),
                       mask_numbers=bool(t.get("mask_numbers", False)))


def _opt_set(t: dict, key: str, where: str) -> frozenset[str] | None:
    if key not in t:
        return None
    v = t[key]
    if not isinstance(v, list) or not all(isinstance(x, (str, int)) for x in v):
        raise ConfigError(f"{where}: {key} must be a list")
    return frozenset(str(x) for x in v)


def _webhooks(data: dict, kw: dict, source: str, base: str) -> None:
    settings = _table(data, "webhook", source)
    endpoints = data.get("webhooks", [])
    if not isinstance(endpoints, list):
        raise ConfigError(f"{source}: webhooks must be an array of tables ([[webhooks]])")
    if not endpoints and not settings:
        return
    from .webhooks import WebhookDispatcher, WebhookEndpoint

    try:
        options = WebhookDispatcher.options_from_config(settings)
        kw["webhooks"] = tuple(WebhookEndpoint.from_config(t) for t in endpoints)
    except (ValueError, TypeError, KeyError) as e:
        raise ConfigError(f"{source}: {e}") from None
    outbox = options.pop("outbox_path", None)
    kw["webhook_options"] = options
    kw["webhook_outbox"] = os.path.join(base, outbox or "lguapi-webhooks.sqlite3")
