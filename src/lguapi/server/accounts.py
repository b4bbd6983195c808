"""The emulator's accounts: the library's :mod:`lguapi.accounts`, under the emulator's old name."""
from __future__ import annotations

from ..accounts import DEFAULT_DOMAIN, Directory, User, generated_id, generated_password

__all__ = ["User", "Directory", "generated_id", "generated_password", "DEFAULT_DOMAIN"]
