"""OAM server discovery (docs/protocol.md §6): where does this user ID log in?

One HTTPS POST of ``id=<user id>`` to ``/oam/serverinfo``; the answer is one line
``SERVERINFO|ADDR:<host>:<port>|BACKUPADDR:<host>:<port>|BACKADDR2:<host>:<port>``
(``SERVERINFO|ERROR:-1`` for an unknown ID). Standard library only: asyncio streams and
:mod:`ssl`. The certificate is verified against the system CAs or the given ``ca`` file;
``verify=False`` must be asked for and logs a warning.

>>> parse_serverinfo("SERVERINFO|ADDR:10.0.0.1:8086|BACKUPADDR:10.0.0.2:8086|BACKADDR2:")
ServerInfo(primary=('10.0.0.1', 8086), backups=(('10.0.0.2', 8086),))
"""
from __future__ import annotations

import asyncio
import logging
import re
import ssl
import urllib.parse
import warnings
from dataclasses import dataclass

from lgucore import tokenize

from ._log import mask_number
from .errors import DiscoveryError

__all__ = ["ServerInfo", "discover", "parse_serverinfo", "parse_address", "oam_ssl_context", "MAX_ANSWER"]

log: logging.Logger = logging.getLogger("lguapi.client")

#: default bound of the OAM answer body (``discover(max_answer=)``); the headers get as much
MAX_ANSWER = 64 * 1024
_HEX = re.compile(rb"[0-9A-Fa-f]{1,8}")
_DECIMAL = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True)
class ServerInfo:
    """The primary address and up to two backups, as ``(host, port)``."""

    primary: tuple[str, int]
    backups: tuple[tuple[str, int], ...] = ()

    @property
    def addresses(self) -> tuple[tuple[str, int], ...]:
        return (self.primary, *self.backups)


def parse_address(text: str, *, default_port: int = 8086) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) -> ``(host, port)``; a bare host gets ``default_port``."""
    s = text.strip()
    if not s:
        raise ValueError("empty address")
    if s.startswith("["):
        host, sep, rest = s[1:].partition("]")
        if not sep:
            raise ValueError(f"bad address {s!r}")
        port = rest[1:] if rest.startswith(":") else ""
    elif s.count(":") == 1:
        host, _, port = s.partition(":")
    else:
        host, port = s, ""
    if not host:
        raise ValueError(f"bad address {s!r}: no host")
    if not port:
        return host, default_port
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad address {s!r}: port must be 1-65535")
    return host, int(port)


def parse_serverinfo(text: str) -> ServerInfo:
    """Parse the OAM answer line; raise :class:`DiscoveryError` for ``ERROR`` or garbage."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    msg = tokenize(line.encode("utf-8"), charset="utf-8")
    if msg.name != "SERVERINFO":
        raise DiscoveryError(f"OAM answer is not SERVERINFO: {line[:60]!r}")
    err = msg.get("ERROR")
    if err is not None:
        if err.strip() == "-1":
            raise DiscoveryError("OAM server does not know this user ID (SERVERINFO ERROR:-1)")
        raise DiscoveryError(f"OAM server answered ERROR:{err[:40]}")
    addrs = []
    for key in ("ADDR", "BACKUPADDR", "BACKADDR2"):
        v = msg.get(key)
        if v and v.strip() and v.strip() != "null":
            try:
                addrs.append(parse_address(v))
            except ValueError as e:
                raise DiscoveryError(f"OAM answer has a bad {key}: {e}") from None
    if msg.get("ADDR") is None or not addrs:
        raise DiscoveryError(f"OAM answer names no server address: {line[:80]!r}")
    return ServerInfo(addrs[0], tuple(addrs[1:]))


def oam_ssl_context(ca: str | None = None, verify: bool = True) -> ssl.SSLContext:
    """The TLS context for the OAM request: verifying (system CAs or ``ca``) unless ``verify=False``."""
    if verify:
        return ssl.create_default_context(cafile=ca)
    warnings.warn("OAM certificate verification is turned off (oam_verify=False): "
                  "anyone on the path can redirect this login", stacklevel=3)
    log.warning("OAM certificate verification is OFF (oam_verify=False)")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _split_oam(oam: str) -> tuple[str, str, int]:
    s = oam.strip()
    scheme = "https"
    if "://" in s:
        scheme, _, s = s.partition("://")
        scheme = scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError(f"OAM address scheme must be https (or http), not {scheme!r}")
        s = s.rstrip("/")
    host, port = parse_address(s, default_port=443 if scheme == "https" else 80)
    return scheme, host, port


async def discover(oam: str, user_id: str, *, ca: str | None = None, verify: bool = True,
                   timeout: float = 10.0, max_answer: int = MAX_ANSWER) -> ServerInfo:
    """Ask the OAM server at ``oam`` (``"host:port"``, ``"https://host:port"``, or ``"http://..."``
    for a plain-HTTP test server) where ``user_id`` logs in.

    An answer whose body (or header block) is longer than ``max_answer`` bytes, or whose
    framing is malformed (chunk sizes, Content-Length), raises :class:`DiscoveryError`
    before more than ``max_answer`` bytes are read.
    """
    if isinstance(max_answer, bool) or not isinstance(max_answer, int) or max_answer < 1:
        raise ValueError(f"max_answer must be a positive integer, not {max_answer!r}")
    scheme, host, port = _split_oam(oam)
    ctx = oam_ssl_context(ca, verify) if scheme == "https" else None
    who = mask_number(user_id)
    log.info("OAM discovery for %s at %s://%s:%d", who, scheme, host, port)
    try:
        return await asyncio.wait_for(_request(scheme, host, port, ctx, user_id, max_answer), timeout)
    except DiscoveryError:
        raise
    except ssl.SSLCertVerificationError as e:
        raise DiscoveryError(f"OAM server {host}:{port} presented a certificate that failed verification: "
                             f"{e.verify_message or e}") from e
    except ssl.SSLError as e:
        raise DiscoveryError(f"TLS with the OAM server {host}:{port} failed: {e}") from e
    except asyncio.TimeoutError:
        raise DiscoveryError(f"OAM server {host}:{port} did not answer within {timeout:g} s") from None
    except OSError as e:
        raise DiscoveryError(f"OAM server {host}:{port} unreachable: {e}") from e


async def _request(scheme: str, host: str, port: int, ctx: ssl.SSLContext | None, user_id: str,
                   max_answer: int) -> ServerInfo:
    reader, writer = await asyncio.open_connection(host, port, ssl=ctx, server_hostname=host if ctx else None,
                                                   limit=max_answer)
    try:
        body = urllib.parse.urlencode({"id": user_id}).encode("ascii")
        host_hdr = f"[{host}]" if ":" in host else host
        head = (f"POST /oam/serverinfo HTTP/1.1\r\nHost: {host_hdr}:{port}\r\n"
                f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\nUser-Agent: lguapi\r\n\r\n").encode("ascii")
        writer.write(head + body)
        await writer.drain()
        status, headers, payload = await _read_response(reader, max_answer)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass
    if status != 200:
        raise DiscoveryError(f"OAM server {host}:{port} answered HTTP {status}")
    charset = "utf-8"
    ctype = headers.get("content-type", "")
    if "charset=" in ctype:
        charset = ctype.split("charset=", 1)[1].split(";")[0].strip() or "utf-8"
    try:
        text = payload.decode(charset, "replace")
    except LookupError:
        text = payload.decode("utf-8", "replace")
    return parse_serverinfo(text)


async def _read_response(reader: asyncio.StreamReader, limit: int) -> tuple[int, dict[str, str], bytes]:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        raise DiscoveryError(f"OAM server closed the connection before answering ({len(e.partial)} bytes)") from None
    except asyncio.LimitOverrunError:
        raise DiscoveryError(f"OAM answer headers longer than {limit} bytes") from None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise DiscoveryError(f"OAM server did not answer HTTP: {lines[0][:60]!r}")
    status = int(parts[1])
    headers = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, _, v = ln.partition(":")
            headers[k.strip().lower()] = v.strip()
    try:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return status, headers, await _read_chunked(reader, limit)
        if "content-length" in headers:
            return status, headers, await _read_sized(reader, headers["content-length"], limit)
        return status, headers, await _read_to_eof(reader, limit)
    except asyncio.IncompleteReadError:
        raise DiscoveryError("OAM answer cut short") from None


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    """A chunked body; every size is checked against what is left of ``limit`` before reading it."""
    body = bytearray()
    while True:
        size_line = await _read_line(reader, "chunk size")
        digits = size_line.split(b";", 1)[0].strip()
        if not _HEX.fullmatch(digits):
            raise DiscoveryError(f"OAM answer has a bad chunk size: {bytes(digits[:20])!r}")
        size = int(digits, 16)
        if size == 0:
            return bytes(body)
        if size > limit - len(body):
            raise DiscoveryError(f"OAM answer announces a chunk of {size} bytes: the answer would be longer "
                                 f"than {limit} bytes")
        body += await reader.readexactly(size)
        if await _read_line(reader, "chunk end") != b"\r\n":
            raise DiscoveryError("OAM answer has a chunk that does not end with CRLF")


async def _read_line(reader: asyncio.StreamReader, what: str) -> bytes:
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError:
        raise DiscoveryError(f"OAM answer has a bad {what}: a line over the size limit") from None
    return line


async def _read_sized(reader: asyncio.StreamReader, length: str, limit: int) -> bytes:
    if not _DECIMAL.fullmatch(length) or int(length) > limit:
        raise DiscoveryError(f"OAM answer has a bad Content-Length (0-{limit} expected): {length[:24]!r}")
    return await reader.readexactly(int(length))


async def _read_to_eof(reader: asyncio.StreamReader, limit: int) -> bytes:
    data = bytearray()
    while chunk := await reader.read(65536):
        data += chunk
        if len(data) > limit:
            raise DiscoveryError(f"OAM answer longer than {limit} bytes")
    return bytes(data)
