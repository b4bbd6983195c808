"""A self-signed TLS certificate for the emulator, made with the standard library only.

The emulator serves OAM discovery over HTTPS (docs/protocol.md §6) and, with ``--tls``, its
TCP port too. Users should not need OpenSSL tools or the ``cryptography`` package to run
it, so this module builds a 2048-bit RSA key and an X.509 v3 certificate (SHA-256,
PKCS #1 v1.5 signature) by hand: a few lines of DER and textbook RSA with
Miller-Rabin primes from :mod:`secrets`. The certificate is its own CA, so the file a
client trusts is the certificate itself.

It is good enough for a local test server and nothing else: the key lives for one
emulator run, in a file readable by its owner only.

>>> files = write_self_signed("/tmp/state", hosts=["localhost", "127.0.0.1"])  # doctest: +SKIP
>>> ctx = client_context(files.ca)                                              # doctest: +SKIP
"""
from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import ipaddress
import os
import secrets
import ssl
from dataclasses import dataclass
from typing import Iterable

__all__ = ["CertFiles", "generate_self_signed", "write_self_signed", "server_context", "client_context"]

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class CertFiles:
    """Paths of a certificate, its private key and the CA file a client should trust."""

    cert: str
    key: str
    ca: str


# --- RSA ------------------------------------------------------------------------------

_SMALL_PRIMES = [p for p in range(3, 2000) if all(p % d for d in range(2, int(p ** 0.5) + 1))]


def _probable_prime(n: int, rounds: int = 12) -> bool:
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while not d & 1:
        d >>= 1
        s += 1
    for _ in range(rounds):
        a = secrets.randbelow(n - 3) + 2
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _random_prime(bits: int, e: int) -> int:
    while True:
        # top two bits set so that p*q has exactly 2*bits bits; odd
        n = secrets.randbits(bits) | (3 << (bits - 2)) | 1
        if (n - 1) % e and _probable_prime(n):
            return n


def _rsa_key(bits: int):
    e = 65537
    while True:
        p, q = _random_prime(bits // 2, e), _random_prime(bits // 2, e)
        if p == q:
            continue
        n = p * q
        if n.bit_length() != bits:
            continue
        lam = (p - 1) * (q - 1)
        d = pow(e, -1, lam)
        return n, e, d, p, q


# --- DER ------------------------------------------------------------------------------

def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        head = bytes([tag, n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([tag, 0x80 | len(raw)]) + raw
    return head + content


def _int(v: int) -> bytes:
    raw = v.to_bytes(v.bit_length() // 8 + 1, "big")  # keeps a leading zero byte when the top bit is set
    return _tlv(0x02, raw)


def _seq(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _oid(dotted: str) -> bytes:
    parts = [int(x) for x in dotted.split(".")]
    out = bytearray([parts[0] * 40 + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        out += bytes(reversed(chunk))
    return _tlv(0x06, bytes(out))


def _time(t: _dt.datetime) -> bytes:
    if t.year < 2050:
        return _tlv(0x17, t.strftime("%y%m%d%H%M%SZ").encode())
    return _tlv(0x18, t.strftime("%Y%m%d%H%M%SZ").encode())


_NULL = b"\x05\x00"
_TRUE = b"\x01\x01\xff"
_SHA256_RSA = _seq(_oid("1.2.840.113549.1.1.11"), _NULL)
_RSA = _seq(_oid("1.2.840.113549.1.1.1"), _NULL)
_SHA256_DIGESTINFO = _seq(_seq(_oid("2.16.840.1.101.3.4.2.1"), _NULL), _tlv(0x04, b"\x00" * 32))[:-32]


def _name(common_name: str) -> bytes:
    return _seq(_tlv(0x31, _seq(_oid("2.5.4.3"), _tlv(0x0C, common_name.encode("utf-8")))))


def _ext(oid: str, value: bytes, critical: bool = False) -> bytes:
    return _seq(_oid(oid), _TRUE if critical else b"", _tlv(0x04, value))


def _alt_names(hosts: Iterable[str]) -> bytes:
    names = []
    for h in hosts:
        try:
            names.append(_tlv(0x87, ipaddress.ip_address(h).packed))
        except ValueError:
            names.append(_tlv(0x82, h.encode("idna")))
    return _seq(*names)


def _pem(label: str, der: bytes) -> bytes:
    b = base64.encodebytes(der).replace(b"\n", b"")
    lines = [b[i:i + 64] for i in range(0, len(b), 64)]
    return b"-----BEGIN " + label.encode() + b"-----\n" + b"\n".join(lines) + b"\n-----END " + label.encode() + b"-----\n"


def generate_self_signed(hosts: Iterable[str] = DEFAULT_HOSTS, *, common_name: str = "lguapi emulator",
                         days: int = 30, bits: int = 2048) -> tuple[bytes, bytes]:
    """``(certificate PEM, private key PEM)`` of a fresh self-signed server certificate.

    ``hosts`` become subjectAltName entries (IP addresses as iPAddress, other names as
    dNSName), so a client that checks host names accepts any of them. The certificate is
    marked as a CA (basicConstraints critical, keyCertSign) so it can be its own trust
    anchor under strict X.509 checking.
    """
    hosts = [h for h in dict.fromkeys(hosts) if h and h not in ("0.0.0.0", "::")]
    if not hosts:
        raise ValueError("a certificate needs at least one host name or address")
    if bits < 2048:
        raise ValueError("RSA keys shorter than 2048 bits are refused by current TLS stacks")
    n, e, d, p, q = _rsa_key(bits)
    public = _seq(_int(n), _int(e))
    spki_key = _tlv(0x03, b"\x00" + public)
    key_id = hashlib.sha1(public).digest()                                # RFC 5280 §4.2.1.2 method (1)
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    name = _name(common_name)
    extensions = _seq(
        _ext("2.5.29.19", _seq(_TRUE), critical=True),                     # basicConstraints CA:TRUE
        _ext("2.5.29.15", b"\x03\x02\x02\xa4", critical=True),             # keyUsage: digitalSignature, keyEncipherment, keyCertSign
        _ext("2.5.29.37", _seq(_oid("1.3.6.1.5.5.7.3.1"))),                # extKeyUsage: serverAuth
        _ext("2.5.29.14", _tlv(0x04, key_id)),                             # subjectKeyIdentifier
        _ext("2.5.29.35", _seq(_tlv(0x80, key_id))),                       # authorityKeyIdentifier
        _ext("2.5.29.17", _alt_names(hosts)),                              # subjectAltName
    )
    tbs = _seq(
        _tlv(0xA0, _int(2)),                                               # v3
        _int(secrets.randbits(63) | (1 << 62)),
        _SHA256_RSA,
        name,
        _seq(_time(now - _dt.timedelta(hours=1)), _time(now + _dt.timedelta(days=days))),
        name,
        _seq(_RSA, spki_key),
        _tlv(0xA3, extensions),
    )
    digest_info = _SHA256_DIGESTINFO + hashlib.sha256(tbs).digest()
    k = (n.bit_length() + 7) // 8
    em = b"\x00\x01" + b"\xff" * (k - len(digest_info) - 3) + b"\x00" + digest_info
    signature = pow(int.from_bytes(em, "big"), d, n).to_bytes(k, "big")
    cert = _seq(tbs, _SHA256_RSA, _tlv(0x03, b"\x00" + signature))
    key = _seq(_int(0), _int(n), _int(e), _int(d), _int(p), _int(q),
               _int(d % (p - 1)), _int(d % (q - 1)), _int(pow(q, -1, p)))
    return _pem("CERTIFICATE", cert), _pem("RSA PRIVATE KEY", key)


def write_self_signed(directory: str, hosts: Iterable[str] = DEFAULT_HOSTS, *, prefix: str = "oam") -> CertFiles:
    """Generate a certificate into ``directory`` as ``<prefix>-cert.pem``, ``<prefix>-key.pem``
    (mode 0600) and ``<prefix>-ca.pem`` (the file clients trust; here the certificate itself)."""
    os.makedirs(directory, exist_ok=True)
    cert_pem, key_pem = generate_self_signed(hosts)
    cert = os.path.join(directory, f"{prefix}-cert.pem")
    key = os.path.join(directory, f"{prefix}-key.pem")
    ca = os.path.join(directory, f"{prefix}-ca.pem")
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_pem)
    for path in (cert, ca):
        with open(path, "wb") as f:
            f.write(cert_pem)
    return CertFiles(cert=cert, key=key, ca=ca)


def server_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A TLS server context for ``cert_file``/``key_file`` (raises ``ssl.SSLError``/``OSError`` on bad files)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


def client_context(ca_file: str) -> ssl.SSLContext:
    """A verifying TLS client context that trusts ``ca_file`` (host names are checked)."""
    return ssl.create_default_context(cafile=ca_file)
