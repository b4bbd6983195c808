"""HMAC-SHA256 signatures of webhook bodies: ``sha256=hex(HMAC(secret, "<timestamp>.<body>"))``.

The gateway signs every webhook attempt with :func:`sign`; a Python receiver checks it with
:func:`verify` (the same rule in PHP, Java, C# and JavaScript is in docs/gateway-webhooks.md).

>>> sig = sign(b"s3cret", 1700000000, b'{"id":1}')
>>> sig.startswith("sha256=") and verify(b"s3cret", "1700000000", b'{"id":1}', sig, now=1700000010)
True
"""
from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["SIGNATURE_PREFIX", "DEFAULT_TOLERANCE", "signed_payload", "sign", "verify"]

#: the scheme tag in front of the hex digest in ``X-Lguapi-Signature``
SIGNATURE_PREFIX = "sha256="
#: seconds a receiver accepts between ``X-Lguapi-Timestamp`` and its own clock, either way
DEFAULT_TOLERANCE = 300


def signed_payload(timestamp: int | str, body: bytes) -> bytes:
    """The bytes the signature covers: the decimal timestamp, one ``.``, the raw body."""
    return str(timestamp).encode("ascii") + b"." + body


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Lguapi-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds)."""
    digest = hmac.new(secret, signed_payload(timestamp, body), hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(secret: bytes, timestamp: str | int, body: bytes, signature: str, *,
           tolerance: float = DEFAULT_TOLERANCE, now: float | None = None) -> bool:
    """True when ``signature`` is :func:`sign` of this body and the timestamp is fresh.

    The comparison is constant-time; a timestamp that is not an integer, or further than
    ``tolerance`` seconds from ``now`` (default: the clock), fails (replay protection).
    """
    ts = str(timestamp)
    if not ts.isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(ts)) > tolerance:
        return False
    expected = sign(secret, int(ts), body)
    return hmac.compare_digest(expected.encode("ascii"), str(signature).strip().encode("ascii", "replace"))
