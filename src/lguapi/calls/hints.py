"""Cache hints for the compiled twin: the memory of the next calls to end, loaded ahead of time.

With several connections, a call's end is confirmed ``end_grace`` seconds (2 s) after its last
leg went out. By then thousands of other calls have passed through the caches and the ending
call's state, ``Call``, legs and key table are back in main memory; confirming the end then
waits on one load after another, each giving the address of the next. The deadline queue
already says which calls end next. :func:`warm` walks its head and asks the CPU to start those
loads early (``__builtin_prefetch``: a hint, which changes no value and cannot fault), in three
steps, each a step closer to the head: the state; the objects its fields refer to (the call,
the legs' list, the key dict, the pending end); then its first legs, the dict's table and
the objects the call's fields refer to (unless the end was put off since). Each step reads
only what the step before requested a while ago.

Only the compiled twin has anything to prefetch with: in the pure twin the ``hint`` functions
do nothing and ``warm`` returns at once (``hints.pxd`` maps them to C, and Cython drops the pure
definitions below).
"""
from __future__ import annotations

try:
    import cython
except ModuleNotFoundError:  # no Cython installed (a pure install): its decorators used here, as no-ops
    from lguapi.calls import _nocython as cython

from lguapi.calls.model import Call

# the parts of the compiled twin import each other on one line each (relatively inside the
# package): setup.py joins them into one module, lguapi.calls._c.core, and drops these lines
from .timers import Deadlines
from .state import CallState, Leg

__all__ = ["NEAR", "MID", "FAR", "LEGS", "warm"]

#: the three steps' reach, in deadline-queue entries from its head: each is wider than the ends
#: confirmed between two calls of :func:`warm` (every :data:`~lguapi.calls.feed.WARM_EVERY` events),
#: so no entry skips a step; measured on the ingest stage (96/64/32, 192/128/64 and 384/256/128 alike)
NEAR = 32
MID = 64
FAR = 96
#: legs of one call the last step loads at most (a few cache lines' worth: the rest of a big
#: call's legs would not arrive before they are needed anyway)
LEGS = 16

#: bytes asked for per object: a state, a ``Call``, a leg (their types' sizes) and a small dict's
#: table (an object's own type is not read: that load would wait for the object itself)
STATE_BYTES, CALL_BYTES, LEG_BYTES = CallState.__basicsize__, Call.__basicsize__, Leg.__basicsize__
TABLE_BYTES = 192

if not cython.compiled:
    def hint(obj: object, nbytes: int) -> None:
        """Load the first ``nbytes`` of ``obj``'s memory into the caches (compiled twin)."""

    def hint_dict_table(d: dict, nbytes: int) -> None:
        """Load the first ``nbytes`` of ``d``'s table of keys and values (compiled twin)."""

    def hint_fields(obj: object, nbytes: int) -> None:
        """Load the objects ``obj``'s fields (its first ``nbytes``) refer to (compiled twin)."""


def warm(dl: Deadlines) -> None:
    """Prefetch, step by step, the memory of the calls whose ends the queue holds next.

    Every entry gets each step once (the queue's sequence numbers say how far each step got);
    entries that join the heap (deadlines out of order: rare) get none. The last step skips an
    entry whose end was rescheduled or confirmed already (its token is not the state's pending
    one: confirming it will touch nothing), and loads at most :data:`LEGS` legs: a call of
    thousands of legs, whose end a leg joining within the grace put off again and again, had
    all of them loaded for each of its entries."""
    if not cython.compiled:
        return
    near, mid, far, legs_max = NEAR, MID, FAR, LEGS
    state_b, call_b, leg_b, table_b = STATE_BYTES, CALL_BYTES, LEG_BYTES, TABLE_BYTES
    i = 0
    for entry in dl.fifo:
        if i >= far:
            break
        seq = entry[1]
        st = entry[4]
        if st is None:  # (an entry pushed without its state)
            pass
        elif i < near:
            if seq > dl.warm_near:
                dl.warm_near = seq
                p = st.pending
                if p is not None and p[0] == entry[3]:
                    n = 0
                    for leg in st.legs:
                        if n == legs_max:
                            break
                        hint(leg, leg_b)
                        n += 1
                    hint_dict_table(st.keys, table_b)
                    hint_fields(st.call, call_b)
        elif i < mid:
            if seq > dl.warm_mid:
                dl.warm_mid = seq
                hint_fields(st, state_b)
        elif seq > dl.warm_far:
            dl.warm_far = seq
            hint(st, state_b)
        i += 1
