"""Who is calling: bearer tokens (kept as SHA-256), scopes, extension/domain limits, anonymous.

:meth:`Authenticator.identify` turns a request into a :class:`Principal` (or ``None``: no
or unknown token). The token comes from ``Authorization: Bearer <token>`` or, on GET routes
only (a browser's EventSource cannot set headers), from ``?access_token=<token>``.
Anonymous requests get the configured ``anonymous`` scopes, and only from a loopback peer
(the configuration refuses anonymous access on a non-loopback bind anyway).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .config import TokenConfig, hash_token, is_loopback

__all__ = ["Principal", "Authenticator", "ANONYMOUS", "request_token"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its scopes, limits and whether numbers are masked for it."""

    name: str
    scopes: frozenset[str]
    extensions: frozenset[str] | None = None
    domains: frozenset[str] | None = None
    mask_numbers: bool = False

    @property
    def limited(self) -> bool:
        return self.extensions is not None or self.domains is not None

    def may_see(self, exten: str | None, domain: str | None) -> bool:
        """May this caller see (or drive) extension ``exten`` of ``domain``?"""
        if self.extensions is not None and exten not in self.extensions:
            return False
        if self.domains is not None and domain not in self.domains:
            return False
        return True

    def may_see_call(self, call: dict, domain_of) -> bool:
        """A call is visible when one of its tracked extensions is."""
        if not self.limited:
            return True
        return any(self.may_see(ex, domain_of(ex)) for ex in call.get("exten") or ())


ANONYMOUS = "anonymous"


class Authenticator:
    """Token hash -> :class:`Principal`; ``anonymous`` scopes for token-less loopback callers."""

    def __init__(self, tokens: Iterable[TokenConfig], anonymous: Iterable[str] = ()) -> None:
        self._by_hash: dict[str, Principal] = {}
        for t in tokens:
            self._by_hash[t.sha256] = Principal(t.name, frozenset(t.scopes), t.extensions, t.domains, t.mask_numbers)
        anon = frozenset(anonymous)
        self._anonymous = Principal(ANONYMOUS, anon) if anon else None

    def identify(self, token: str | None, peer: str | None) -> Principal | None:
        """The caller of a request with ``token`` (``None``: none given) from ``peer``."""
        if token is None:
            if self._anonymous is not None and peer is not None and is_loopback(peer):
                return self._anonymous
            return None
        # looked up by its hash: timing can tell at most a prefix of a hash, never of a token
        return self._by_hash.get(hash_token(token))


def request_token(request: Any) -> tuple[str | None, str | None]:
    """``(token, problem)`` from the request: the bearer header, else ``access_token`` on a GET."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None, "the Authorization header must be 'Bearer <token>'"
        return value.strip(), None
    if "access_token" in request.query:
        if request.method not in ("GET", "HEAD"):
            return None, "access_token is accepted on GET routes only; use the Authorization header"
        return request.query["access_token"], None
    return None, None
