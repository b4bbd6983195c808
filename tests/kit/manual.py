"""The vendor manual's call traces (§5.1–§5.3, and §6.1's sample log), read once from the
tokenizer's vector file ``tests/core/manual_vectors.json`` — the one place their texts live.

Each trace is the event texts one extension receives, in order (the LOGINRESULT apart).
"""
from __future__ import annotations

import json
from pathlib import Path

VECTORS = Path(__file__).resolve().parent.parent / "core" / "manual_vectors.json"
_ALL = json.loads(VECTORS.read_text(encoding="utf-8"))["vectors"]


def trace(source: str) -> list[str]:
    """The event texts of the vectors from ``source`` (e.g. ``"manual §5.1"``), LOGINRESULT excluded."""
    texts = [v["wire"] for v in _ALL if v["source"] == source and v["name"] != "LOGINRESULT"]
    if not texts:
        raise KeyError(f"no vectors from {source!r} in {VECTORS.name}")
    return texts


def login_result(source: str) -> str:
    """The LOGINRESULT text printed with the trace ``source``."""
    (text,) = [v["wire"] for v in _ALL if v["source"] == source and v["name"] == "LOGINRESULT"]
    return text


#: §5.1: 3321 clicks to call an outside number, the far end answers, 3321 hangs up
M51 = trace("manual §5.1")
#: §5.2: an outside caller rings 3321's 070 number, 3321 answers, the caller hangs up
M52 = trace("manual §5.2")
#: §5.3: 3322 calls 3321 — what 3321 receives, and what 3322 receives
M53_3321 = trace("manual §5.3 (3321)")
M53_3322 = trace("manual §5.3 (3322)")
#: §6.1: the sample page's log (a click-to-call through a Local channel; keys as printed)
M61 = trace("manual §6.1")
#: §5.1's login answer for 3321
M51_LOGIN = login_result("manual §5.1")
