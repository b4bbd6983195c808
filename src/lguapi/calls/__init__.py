"""Call tracking: turn ring/channel events into one :class:`Call` per real call.

A call's legs drift: the answering phone gets a new channel and unique id, a ring ends
with only the ringing channel's own id, Local channels come in ``;1``/``;2`` (or
``,1``/``,2``) halves, servers write ``1449825958,4879172`` for ``1449825958.4879172``,
transfers and pickups add legs of other extensions. :class:`CallTracker` relates events
by normalised channel names and unique ids (never by arrival order or by extension
alone), so the same call seen from several extensions is one call. The rules, states and
the missed/abandoned definitions are documented in ``docs/calls.md``.

Modules: :mod:`.model` (the public :class:`Call` and :class:`CallUpdate`), :mod:`.state`
(the tracker's per-call legs and keys), :mod:`.book` (indexes and a call's life cycle),
:mod:`.handlers` / :mod:`.handlers_more` (one function per event kind), :mod:`.feed` (one
event in, by its type), :mod:`.index` (bounded memories), :mod:`.timers` (deadlines),
:mod:`.stream` (update subscribers), :mod:`.tracker` (the public :class:`CallTracker`);
:mod:`.core` re-exports the per-event parts, which the compiled twin joins into one module.

>>> from lgucore import tokenize
>>> from lguapi.events import parse_event
>>> t = CallTracker()
>>> for text in (
...     b"RINGEVENT|ISDIAL:1|CHANNEL:SIP/gw2.eicn-09b25a90|RECHANNEL:SIP/3321-09b559d8"
...     b"|INEXTEN:null|AGENT:3321|CALLERID:01923XXXXX|UNIQUEID:1319339029.484",
...     b"CHANNELLIST|CHANNEL1:SIP/3321-09b559d8|CHANNEL2:SIP/gw2.eicn-09b25a90|CALLER1ID:070xxxx0321"
...     b"|CALLER2ID:01923XXXXX|INEXTEN:null|UNIQUEID1:1319339029.484|UNIQUEID2:1319339029.485",
...     b"CHANNELOUT|CHANNEL:SIP/3321-09b559d8|RECHANNEL:SIP/3321-09b559d8"
...     b"|UNIQUEID:1319339029.484|SRCUNIQUEID:1319339029.484|HCAUSE:16"):
...     updates = t.feed(parse_event(tokenize(text), exten="3321"))
>>> call = t.ended[-1]
>>> call.direction, call.state, call.remote_number, call.hangup_cause, call.end_reason
('outbound', 'ended', '01923XXXXX', 16, 'hangup')
"""
from __future__ import annotations

from ..channels import channel_peer, normalize_channel, normalize_unique_id, own_channel
from .book import DEFAULT_END_GRACE
from .model import DIRECTIONS, STATES, Call, CallUpdate
from .tracker import CallTracker

__all__ = [
    "Call", "CallUpdate", "CallTracker", "normalize_channel", "normalize_unique_id",
    "channel_peer", "own_channel", "DEFAULT_END_GRACE", "DIRECTIONS", "STATES",
]
