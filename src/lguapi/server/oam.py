"""OAM discovery (docs/protocol.md §6): which server a login ID should connect to, over HTTPS.

``POST /oam/serverinfo`` with the form field ``id`` answers one event-form line::

    SERVERINFO|ADDR:<host>:<port>|BACKUPADDR:<host>:<port>|BACKADDR2:<host>:<port>

or ``SERVERINFO|ERROR:-1`` when the ID is unknown (also when it is missing or empty).
The primary address defaults to the emulator itself; when the emulator listens on a
wildcard address (``0.0.0.0``/``::``) the answer names the local address the OAM request
arrived on, which the asking client can reach. Backups default to the primary.

HTTPS is the default: without a certificate the server generates a self-signed one at
start (:mod:`lguapi.server.tlscert`, standard library only) and writes the file to trust
as ``<state_dir>/oam-ca.pem`` (:attr:`OamServer.ca_file`). ``tls=False`` serves plain HTTP.

>>> oam = OamServer(directory, port=0, emulator_port=lambda: emulator.port)   # doctest: +SKIP
>>> await oam.start(); oam.ca_file                                            # doctest: +SKIP
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import shutil
import socket
import ssl as _ssl
import tempfile
from typing import Callable, Union

from .accounts import Directory
from .http import HTTPServer, Request, Response, Router
from .tlscert import DEFAULT_HOSTS, server_context, write_self_signed

__all__ = ["OamServer", "parse_hostport", "format_serverinfo", "PATH"]

log: logging.Logger = logging.getLogger("lguapi.server.oam")

PATH = "/oam/serverinfo"
UNKNOWN = "SERVERINFO|ERROR:-1"
_WILDCARD = ("", "0.0.0.0", "::")

HostPort = tuple[str, int]


def parse_hostport(text: str) -> HostPort:
    """``"host:port"`` (``"[::1]:8086"`` for IPv6) as ``(host, port)``; ValueError when malformed.

    >>> parse_hostport("10.0.0.5:8086")
    ('10.0.0.5', 8086)
    """
    host, sep, port = text.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    ok = bool(sep and host) and port.isdigit() and port.isascii() and 0 < int(port) < 65536
    if ok and (any(c in host for c in "|^, \t") or (":" in host and not _is_ipv6(host))):
        ok = False
    if not ok:
        raise ValueError(f"expected HOST:PORT, not {text!r}")
    return host, int(port)


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False


def format_serverinfo(primary: HostPort, backup: HostPort, backup2: HostPort) -> str:
    """The SERVERINFO line for three addresses."""
    def f(hp: HostPort) -> str:
        return f"{hp[0]}:{hp[1]}"
    return f"SERVERINFO|ADDR:{f(primary)}|BACKUPADDR:{f(backup)}|BACKADDR2:{f(backup2)}"


class OamServer:
    """The OAM discovery endpoint of the emulator.

    ``emulator_port`` (an int, or a callable for a port known only after start) and
    ``emulator_host`` give the default primary address; ``primary``, ``backup`` and
    ``backup2`` override it. ``tls`` selects HTTPS (default); give ``cert_file`` and
    ``key_file`` to use your own certificate (``ca_file`` then defaults to ``cert_file``),
    else one is generated into ``state_dir`` (a temporary directory removed on close
    when not given).
    """

    def __init__(self, directory: Directory, *, host: str = "127.0.0.1", port: int = 9999,
                 emulator_host: str = "127.0.0.1", emulator_port: Union[int, Callable[[], int]] = 8086,
                 primary: HostPort | None = None, backup: HostPort | None = None, backup2: HostPort | None = None,
                 tls: bool = True, cert_file: str | None = None, key_file: str | None = None,
                 ca_file: str | None = None, state_dir: str | None = None) -> None:
        if (cert_file is None) != (key_file is None):
            raise ValueError("give both cert_file and key_file, or neither")
        self.directory = directory
        self.host = host
        self.emulator_host = emulator_host
        self._emulator_port = emulator_port
        self.primary = primary
        self.backup = backup
        self.backup2 = backup2
        self.tls = tls
        self.cert_file = cert_file
        self.key_file = key_file
        #: the file a client should trust (None for plain HTTP)
        self.ca_file: str | None = (ca_file or cert_file) if tls else None
        self.state_dir = state_dir
        self._own_dir: str | None = None
        self.requests: int = 0
        router = Router()
        router.add("POST", PATH, self._serverinfo)
        self._http = HTTPServer(router, host=host, port=port, max_body=4096, name="oam")

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def url(self) -> str:
        """The discovery URL (``https://host:port/oam/serverinfo``)."""
        host = self.host if self.host not in _WILDCARD else "127.0.0.1"
        if _is_ipv6(host):
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port}{PATH}"

    async def start(self) -> None:
        if self.tls:
            if self.cert_file is None:
                await self._generate_cert()
            cert, key = self.cert_file, self.key_file
            if cert is None or key is None:
                raise ValueError("OAM over TLS needs a certificate and its key")
            try:
                self._http.ssl = server_context(cert, key)
            except (OSError, _ssl.SSLError) as exc:
                raise ValueError(f"cannot load the OAM certificate {self.cert_file!r}: {exc}") from exc
        await self._http.start()
        if self.ca_file:
            log.info("OAM discovery at %s; trust CA file %s", self.url, self.ca_file)
        else:
            log.info("OAM discovery at %s (plain HTTP)", self.url)

    async def _generate_cert(self) -> None:
        if self.state_dir is None:
            self._own_dir = tempfile.mkdtemp(prefix="lguapi-emulator-")
        directory = self.state_dir or self._own_dir or tempfile.mkdtemp(prefix="lguapi-emulator-")
        hosts = list(DEFAULT_HOSTS) + [h for h in (self.host, self.emulator_host, socket.gethostname())
                                       if h and h not in _WILDCARD]
        files = await asyncio.to_thread(write_self_signed, directory, hosts)
        self.cert_file, self.key_file, self.ca_file = files.cert, files.key, files.ca

    async def close(self) -> None:
        await self._http.close()
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None

    async def __aenter__(self) -> OamServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- the endpoint -------------------------------------------------------------------

    def addresses(self, local_host: str | None = None) -> tuple[HostPort, HostPort, HostPort]:
        """The (primary, backup, backup2) addresses answered; ``local_host`` replaces a wildcard host."""
        primary = self.primary
        if primary is None:
            port = self._emulator_port() if callable(self._emulator_port) else self._emulator_port
            host = self.emulator_host
            if host in _WILDCARD:
                host = local_host or "127.0.0.1"
            primary = (host, port)
        return primary, self.backup or primary, self.backup2 or self.backup or primary

    def answer(self, login_id: str, local_host: str | None = None) -> str:
        """The SERVERINFO line for ``login_id`` (``SERVERINFO|ERROR:-1`` when unknown)."""
        if not login_id or self.directory.by_id(login_id) is None:
            return UNKNOWN
        return format_serverinfo(*self.addresses(local_host))

    def _serverinfo(self, request: Request) -> Response:
        self.requests += 1
        form = request.form()
        login_id = form.get("id", request.query.get("id", "")).strip()
        local = request.sockname[0] if isinstance(request.sockname, tuple) else None
        text = self.answer(login_id, local)
        log.debug("OAM lookup: %s", "unknown id" if text == UNKNOWN else "found")
        return Response.text(text)
