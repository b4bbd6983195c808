"""The one place that reads LGUCORE_NO_EXTENSIONS at import time (and the build's fallback note)."""
from __future__ import annotations

import os
from pathlib import Path

NO_EXTENSIONS: bool = os.environ.get("LGUCORE_NO_EXTENSIONS", "") not in ("", "0")


def build_fallback_cause() -> str | None:
    """Why the install built no compiled core (no C compiler ...), or None when it did not fall back.

    ``setup.py`` writes the note when compiling failed and LGUCORE_REQUIRE_EXTENSIONS was unset.
    """
    note = Path(__file__).with_name("_build_fallback.txt")
    try:
        return note.read_text(encoding="utf-8").strip() or "unknown cause"
    except OSError:
        return None
