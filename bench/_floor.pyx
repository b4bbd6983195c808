# cython: language_level=3
"""The floor of any call tracker on the ingest benchmark's traffic (``loadgen.call_flows``).

:class:`FloorTracker` gives a Monitor the same calls and updates as :class:`CallTracker`
does for that traffic -- every ended call's ``to_dict()`` equal, updates of the same kinds
and states in the same order per call (``tests/test_bench_smoke.py`` holds it to that) --
and does nothing else: one dict of the calls in progress by their first unique id, no index
of channels, no end grace, no tombstones, no merges, transfers or conferences. It keeps the
last 1,000 ended calls, as ``CallTracker.ended`` does by default. It is compiled (this file
goes through pyximport), so its cost is what a compiled tracker cannot go below: the Call
objects and updates themselves, and the Monitor's counting of the calls they end.

``bench_ingest.measure(..., tracker="floor")`` runs a Monitor with it. It understands the
three events of the generator's flows only; it is a yardstick, never a tracker to use.
"""
from collections import deque

from lguapi.calls import CallTracker
from lguapi.calls.model import Call, CallUpdate
from lguapi.calls.state import DEAD, LIVE, UID
from lguapi.events import ChannelListEvent, ChannelOutEvent, RingEvent

_update = tuple.__new__  # CallUpdate(...) as the tracker makes it


class FloorTracker(CallTracker):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.going = {}  # first unique id -> Call, while the call goes on
        self.floor_ended = deque(maxlen=1000)

    def feed(self, event):
        return self.feed_many((event,))

    def feed_many(self, events):
        cdef dict going = self.going
        cdef list out = []
        cdef dict keys
        ended = self.floor_ended
        for ev in events:
            kind = type(ev)
            if kind is RingEvent:
                uid = ev.unique_id
                exten = ev.exten
                call = Call(uid, ev.ts)
                call.direction = "inbound"
                call.remote_number = call.caller = ev.caller_id
                call.callee = exten
                call.dialled_number = ev.inbound_number
                call.bind((exten,), (), {uid: UID, ev.channel: LIVE, ev.remote_channel: LIVE}, ())
                going[uid] = call
                out.append(_update(CallUpdate, (call, "new", ev, "ringing")))
            elif kind is ChannelListEvent:
                call = going.get(ev.unique_id1)
                if call is None:
                    continue
                exten = ev.exten
                keys = call._keys
                keys[ev.channel2] = LIVE
                keys[ev.unique_id2] = UID
                call.bind(call._extens, (exten,), keys, ())
                call.state = "connected"
                call.answer_at = ev.ts
                call.answered_by = exten
                if call.dialled_number is None:
                    call.dialled_number = ev.inbound_number
                out.append(_update(CallUpdate, (call, "changed", ev, "connected")))
            elif kind is ChannelOutEvent:
                call = going.pop(ev.src_unique_id, None)
                if call is None:
                    continue
                keys = call._keys
                keys[ev.channel] = DEAD
                keys.setdefault(ev.unique_id, UID)
                call.state = "ended"
                call.end_at = ev.ts
                call.hangup_cause = ev.hangup_cause
                if call.answer_at is not None:
                    call.end_reason = "hangup"
                else:
                    call.missed = True
                    call.end_reason = "missed"
                ended.append(call)
                out.append(_update(CallUpdate, (call, "ended", ev, "ended")))
        return out
