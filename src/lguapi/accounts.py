"""Accounts: who logs in — domains of users from a TOML file or generated from extension ranges.

The library reads them (the monitor, the command line and the demo) and the emulator
checks logins against them (``lguapi.server.accounts`` re-exports this module).

A TOML file::

    [[domain]]
    name = "ipcctest.com"
    [[domain.user]]
    id = "07012340321"
    password = "secret-0321"
    exten = "3321"
    callerid = "07012340321"
    name = "Kim"            # optional
    pickup_group = "sales"  # optional

Generated accounts (``Directory.generate("3001-3999")``), for extension ``E``:

* login ID and 070 caller ID: ``0701234`` + ``E`` zero-padded to 4 digits
  (``3321`` -> ``07012343321``, ``7`` -> ``07012340007``); extensions of 5 to 8 digits use
  ``070`` + ``E`` zero-padded to 8 digits (``12345`` -> ``07000012345``);
* password: ``secret-`` + ``E`` (``secret-3321``);
* name: ``user`` + ``E``; pickup group: ``E`` without its last digit plus ``x``
  (``3321`` -> ``332x``: blocks of ten neighbours share one group).

Extensions are strings (``101t4004`` is valid in a file) and unique across all domains, as are
login IDs and non-empty caller IDs.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from ._log import mask_number

__all__ = ["User", "Directory", "Account", "load_accounts", "generated_id", "generated_password",
           "DEFAULT_DOMAIN"]

DEFAULT_DOMAIN = "ipcctest.com"
_RANGE = re.compile(r"^\s*(\d{1,8})\s*(?:-\s*(\d{1,8})\s*)?$")
_MAX_GENERATED = 100_000
#: characters an ID, extension or caller ID may not contain: they would break command/event texts
_BAD_CHARS = re.compile(r"[\s|=:,^]")


@dataclass(frozen=True)
class User:
    """One account: what LOGIN checks and what LOGINRESULT reports.

    The password never appears in ``repr()``.
    """

    id: str
    password: str = field(repr=False)
    exten: str = ""
    callerid: str = ""
    domain: str = DEFAULT_DOMAIN
    name: str = ""
    pickup_group: str = ""


def generated_id(exten: str) -> str:
    """The login ID (and 070 caller ID) :meth:`Directory.generate` gives extension ``exten``.

    >>> generated_id("3321")
    '07012343321'
    """
    if not exten.isdigit() or len(exten) > 8:
        raise ValueError(f"generated extensions are 1 to 8 digits, not {exten!r}")
    if len(exten) <= 4:
        return "0701234" + exten.zfill(4)
    return "070" + exten.zfill(8)


def generated_password(exten: str) -> str:
    """The password :meth:`Directory.generate` gives extension ``exten`` (``secret-<exten>``)."""
    return "secret-" + exten


class Directory:
    """Every account the emulator knows, looked up by login ID, extension or caller ID.

    >>> d = Directory.generate("3001-3003")
    >>> d.by_exten("3002").id
    '07012343002'
    """

    def __init__(self, users: Iterable[User] = ()) -> None:
        self._users: list[User] = []
        self._by_id: dict[str, User] = {}
        self._by_exten: dict[str, User] = {}
        self._by_callerid: dict[str, User] = {}
        self._domains: dict[str, list[User]] = {}
        for u in users:
            self._add(u)

    def _add(self, u: User) -> None:
        for what, value in (("id", u.id), ("exten", u.exten)):
            if not value:
                raise ValueError(f"user {u.id!r}: {what} must not be empty")
        for what, value in (("id", u.id), ("exten", u.exten), ("callerid", u.callerid), ("domain", u.domain)):
            if _BAD_CHARS.search(value):
                raise ValueError(f"user {u.id!r}: {what} {value!r} contains a space or one of | = : , ^")
        if not u.domain:
            raise ValueError(f"user {u.id!r}: domain must not be empty")
        if u.id in self._by_id:
            raise ValueError(f"duplicate login id {u.id!r}")
        if u.exten in self._by_exten:
            raise ValueError(f"duplicate extension {u.exten!r} (users {self._by_exten[u.exten].id!r} and {u.id!r})")
        if u.callerid and u.callerid in self._by_callerid:
            raise ValueError(f"duplicate caller id (users {self._by_callerid[u.callerid].id!r} and {u.id!r})")
        self._users.append(u)
        self._by_id[u.id] = u
        self._by_exten[u.exten] = u
        if u.callerid:
            self._by_callerid[u.callerid] = u
        self._domains.setdefault(u.domain, []).append(u)

    # -- constructors ---------------------------------------------------------------------
    @classmethod
    def generate(cls, spec: str, *, domain: str = DEFAULT_DOMAIN) -> Directory:
        """Accounts for the extensions of ``spec``: ``"3001-3999"``, ``"3001-3010,4001"``.

        IDs and passwords follow the rule in the module docstring. A start with leading
        zeros keeps its width (``"0100-0105"``).
        """
        extens: list[str] = []
        for part in spec.split(","):
            m = _RANGE.match(part)
            if not m:
                raise ValueError(f"bad extension range {part.strip()!r} in {spec!r} (expected e.g. 3001-3999)")
            lo_s, hi_s = m.group(1), m.group(2) or m.group(1)
            lo, hi = int(lo_s), int(hi_s)
            if hi < lo:
                raise ValueError(f"extension range {part.strip()!r} ends before it starts")
            if len(extens) + hi - lo + 1 > _MAX_GENERATED:
                raise ValueError(f"{spec!r} names more than {_MAX_GENERATED} extensions")
            width = len(lo_s) if lo_s.startswith("0") else 0
            extens.extend(str(n).zfill(width) for n in range(lo, hi + 1))
        users: list[User] = []
        for e in extens:
            uid = generated_id(e)
            users.append(User(id=uid, password=generated_password(e), exten=e, callerid=uid, domain=domain,
                              name="user" + e, pickup_group=(e[:-1] or "0") + "x"))
        return cls(users)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> Directory:
        """Accounts from a TOML file in the format of the module docstring.

        Raises ``OSError`` when the file cannot be read and ``ValueError`` (never showing a
        value, which may be a password) when it is not valid TOML of that format.
        """
        with open(path, "rb") as f:
            raw = f.read()
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: bad TOML: {e}") from None
        return cls.from_mapping(data, source=str(path))

    @classmethod
    def from_mapping(cls, data: dict[str, Any], *, source: str = "accounts") -> Directory:
        """Accounts from the parsed form of the TOML file (``{"domain": [{"name", "user": [...]}]}``)."""
        domains = data.get("domain")
        if not isinstance(domains, list) or not domains:
            raise ValueError(f"{source}: no [[domain]] tables")
        users: list[User] = []
        for i, d in enumerate(domains):
            dname = d.get("name")
            if not isinstance(dname, str) or not dname:
                raise ValueError(f"{source}: domain #{i + 1} has no name")
            for j, u in enumerate(d.get("user", [])):
                where = f"{source}: domain {dname!r} user #{j + 1}"
                unknown = set(u) - {"id", "password", "exten", "callerid", "name", "pickup_group"}
                if unknown:
                    raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}")
                for key in ("id", "password", "exten"):
                    if key not in u:
                        raise ValueError(f"{where}: missing {key!r}")
                vals: dict[str, str] = {}
                for key in ("id", "password", "exten", "callerid", "name", "pickup_group"):
                    v = u.get(key, "")
                    if isinstance(v, int) and not isinstance(v, bool):
                        v = str(v)  # exten = 3321 written without quotes
                    if not isinstance(v, str):
                        raise ValueError(f"{where}: {key} must be a string")
                    vals[key] = v
                users.append(User(domain=dname, **vals))
        try:
            return cls(users)
        except ValueError as e:
            raise ValueError(f"{source}: {e}") from None

    # -- lookups --------------------------------------------------------------------------
    def by_id(self, id: str) -> User | None:
        return self._by_id.get(id)

    def by_exten(self, exten: str) -> User | None:
        return self._by_exten.get(exten)

    def by_callerid(self, number: str) -> User | None:
        return self._by_callerid.get(number) if number else None

    def users(self) -> list[User]:
        """Every user, in file (or range) order."""
        return list(self._users)

    def domains(self) -> list[str]:
        return list(self._domains)

    def in_domain(self, domain: str) -> list[User]:
        return list(self._domains.get(domain, ()))

    def __len__(self) -> int:
        return len(self._users)

    def __iter__(self) -> Iterator[User]:
        return iter(list(self._users))

    def __repr__(self) -> str:
        return f"<Directory {len(self._users)} users in {len(self._domains)} domain(s)>"


# -- what a client logs in with -----------------------------------------------------------
@dataclass(frozen=True)
class Account:
    """One extension to log in. ``exten``/``domain`` are known up front from an accounts file;
    for plain ``(id, password)`` pairs they come from the login result."""

    id: str
    password: str
    exten: str | None = None
    domain: str | None = None

    def __repr__(self) -> str:  # never show the password
        return f"Account(id={mask_number(self.id)!r}, exten={self.exten!r}, domain={self.domain!r})"


def load_accounts(accounts: Any) -> list[Account]:
    """Accounts from a TOML file path, a ``Directory``, or an iterable of ``(id, password)``
    pairs (or :class:`Account` objects). Raises ``ValueError`` for anything else.

    >>> load_accounts([("07012343001", "secret-3001")])
    [Account(id='070****3001', exten=None, domain=None)]
    """
    if isinstance(accounts, (str, os.PathLike)):
        accounts = Directory.from_toml(accounts)
    users = getattr(accounts, "users", None)
    if callable(users):  # a Directory
        return [Account(u.id, u.password, u.exten or None, u.domain or None) for u in users()]
    out: list[Account] = []
    try:
        items = list(accounts)
    except TypeError:
        raise ValueError(f"accounts must be a TOML path, a Directory or (id, password) pairs, "
                         f"not {type(accounts).__name__}") from None
    for i, item in enumerate(items):
        if isinstance(item, Account):
            out.append(item)
            continue
        if hasattr(item, "id") and hasattr(item, "password"):  # a User
            out.append(Account(item.id, item.password, getattr(item, "exten", None) or None,
                               getattr(item, "domain", None) or None))
            continue
        try:
            uid, pwd = item
        except (TypeError, ValueError):
            raise ValueError(f"account #{i + 1} is not an (id, password) pair") from None
        if not isinstance(uid, str) or not isinstance(pwd, str) or not uid:
            raise ValueError(f"account #{i + 1}: id and password must be strings (id non-empty)")
        out.append(Account(uid, pwd))
    seen: set[str] = set()
    for a in out:
        if a.id in seen:
            raise ValueError(f"login id {mask_number(a.id)!r} is listed twice (a second login would replace the first)")
        seen.add(a.id)
    return out
