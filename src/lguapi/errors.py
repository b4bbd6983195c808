"""The exceptions the client raises; none of them ever carries a password.

Hierarchy::

    LguapiError(Exception)
    ├── LoginError                      LOGINRESULT with STATUS <= 0 (``.status``, ``.msg``)
    ├── CommandError                    CMDERROR / RES:ERR for a command (``.cmd``, ``.msg``)
    │   ├── NoCurrentCall (+ValueError) a call-control method with no current call (nothing sent)
    │   ├── CommandTimeout (+TimeoutError) no answer within ``command_timeout``
    │   └── ResultTooLarge              a split result passed ``max_result_rows`` / ``max_result_bytes``
    ├── ConnectionLost (+ConnectionError) not connected, or the connection ended while waiting
    │   └── ConnectFailed               no address could be connected to
    ├── DiscoveryError                  the OAM server could not tell where to connect
    └── ComError                        win32com's com_error, from lguapi.compat (``.hresult``, ...)

Bad arguments raise plain :class:`ValueError` before anything is sent.
"""
from __future__ import annotations

__all__ = [
    "LguapiError", "LoginError", "CommandError", "NoCurrentCall", "CommandTimeout",
    "ConnectionLost", "ConnectFailed", "DiscoveryError", "ResultTooLarge", "ComError", "LOGIN_STATUS",
]

#: LOGINRESULT STATUS values that mean failure (docs/protocol.md §4.4)
LOGIN_STATUS = {
    -1: "unknown ID",
    -2: "wrong password",
    -3: "timed out",
    -4: "cipher refused",
    -5: "locked after too many failures",
}


class LguapiError(Exception):
    """Base of every lguapi client error."""


class LoginError(LguapiError):
    """The server refused the login (``status`` <= 0) or never answered (``status`` None).

    >>> e = LoginError(-2, "password mismatch")
    >>> e.status, str(e)
    (-2, 'login failed: status -2 (wrong password): password mismatch')
    """

    def __init__(self, status: int | None, msg: str | None = None) -> None:
        self.status = status
        self.msg = msg
        meaning = LOGIN_STATUS.get(status) if status is not None else None
        head = "login failed" if status is None else f"login failed: status {status}"
        if meaning:
            head += f" ({meaning})"
        super().__init__(f"{head}: {msg}" if msg else head)

    @property
    def permanent(self) -> bool:
        """True when retrying with the same credentials cannot help (-1, -2, -4)."""
        return self.status in (-1, -2, -4)


class CommandError(LguapiError):
    """The server answered a command with ``CMDERROR`` (or ``RES:ERR``).

    ``cmd`` is the command name (``HOLD``), ``msg`` the server's reason.
    """

    def __init__(self, cmd: str | None, msg: str | None = None) -> None:
        self.cmd = cmd
        self.msg = msg
        super().__init__(f"{cmd or '?'} failed: {msg}" if msg else f"{cmd or '?'} failed")


class NoCurrentCall(CommandError, ValueError):
    """A call-control method needs a channel the client has not seen (nothing was sent)."""

    def __init__(self, cmd: str, needs: str = "a current call") -> None:
        super().__init__(cmd, f"no current call: {cmd} needs {needs}, and no RINGEVENT/CHANNELLIST gave one")


class CommandTimeout(CommandError, TimeoutError):
    """No answer to a command within the client's ``command_timeout``."""

    def __init__(self, cmd: str, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(cmd, f"no answer within {timeout:g} s")


class ResultTooLarge(CommandError):
    """A split result (docs/protocol.md §7) grew past the client's ``max_result_rows`` or ``max_result_bytes``.

    What had arrived is freed; the rest of that result is read and discarded. ``limit`` names the
    bound that was hit, ``rows`` and ``size`` (bytes) tell how much had arrived.
    """

    def __init__(self, cmd: str, limit: str, rows: int, size: int) -> None:
        self.limit = limit
        self.rows = rows
        self.size = size
        super().__init__(cmd, f"result too large: over {limit} ({rows} rows, {size} bytes so far); discarded")


class ConnectionLost(LguapiError, ConnectionError):
    """The client is not connected, or the connection ended before a command was answered."""


class ConnectFailed(ConnectionLost):
    """No address (primary, backups) accepted a connection."""


class DiscoveryError(LguapiError):
    """OAM discovery failed: unreachable, refused certificate, unknown ID or a bad answer."""


class ComError(LguapiError):
    """What pywin32's ``pywintypes.com_error`` is to a win32com program (``lguapi.compat.com_error``).

    Its args are pywin32's four: ``(hresult, strerror, excepinfo, argerror)``, also
    available as attributes.

    >>> e = ComError(-2147221005, "Invalid class string", None, None)
    >>> e.hresult, e.strerror, e.args
    (-2147221005, 'Invalid class string', (-2147221005, 'Invalid class string', None, None))
    """

    def __init__(self, hresult: int, strerror: str | None = None, excepinfo: object = None,
                 argerror: int | None = None) -> None:
        super().__init__(hresult, strerror, excepinfo, argerror)
        self.hresult = hresult
        self.strerror = strerror
        self.excepinfo = excepinfo
        self.argerror = argerror
