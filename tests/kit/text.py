"""Event texts in tests: their fields and name (lgucore's tokenizer), and typed events built from them."""
from __future__ import annotations

import lgucore
from lguapi.events import Event, parse_event


def fields(text: str) -> dict[str, str]:
    """The keyed fields of an event text as a dict."""
    return lgucore.tokenize(text.encode("utf-8"), charset="utf-8").to_dict()


def name_of(text: str) -> str:
    """The event's name (the text before the first ``|``)."""
    return lgucore.tokenize(text.encode("utf-8"), charset="utf-8").name


def ev(text: str, exten: str | None = None, ts: float = 0.0, *, raw: bool = False) -> Event:
    """The typed event of ``text`` as the client would deliver it for ``exten`` at ``ts``
    (``raw=True`` keeps the text on the event)."""
    tokens = lgucore.tokenize(text.encode("cp949"))
    if raw:
        return parse_event(tokens, exten=exten, ts=ts, raw=text)
    return parse_event(tokens, exten=exten, ts=ts)
