"""The call tracker's per-event core as one module: its book, per-call state, event handlers and feed.

This pure module only re-exports the parts (:data:`lguapi.calls._twin.PARTS`), which stay
small modules of their own; the compiled twin, ``lguapi.calls._c.core``, is the same parts
joined into one module by setup.py, so every call on the per-event path is a C call.
:mod:`lguapi.calls.tracker` takes the selected one from :func:`lguapi.calls._twin.hot`.
"""
from __future__ import annotations

from .book import DEFAULT_END_GRACE, Book
from .handlers import on_list, on_out, on_ring
from .feed import HANDLERS, apply, apply_many, apply_recorded
from .handlers_more import on_cdr, on_cmdresult, on_conf, on_disconnected, on_reconciled, on_session

__all__ = ["Book", "DEFAULT_END_GRACE", "HANDLERS", "apply", "apply_many", "apply_recorded", "on_ring", "on_list",
           "on_out", "on_conf", "on_cdr", "on_cmdresult", "on_reconciled", "on_disconnected", "on_session"]
