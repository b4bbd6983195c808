"""A call-traffic generator that drives the emulator's PBX the way callers, phones and users would.

Calls arrive as a Poisson process (``rate`` calls/s in total), each one inbound (an outside
number calls a user's 070 number), click-to-call (a user issues ``CLICKCALL`` to an outside
number, exactly the command a client sends) or internal (one phone dials another), in the
shares of ``mix``. Each call rings for an exponential time (mean ``ring_mean``); the
share ``unanswered`` is abandoned while ringing (cause 16), the others are answered and
talk for a lognormal time (mean ``talk_mean``). A connected call is put on hold once
(HOLD/UNHOLD commands) with probability ``hold`` and blind-transferred to another
extension (TRANSFER command) with probability ``transfer``; either side hangs up.

Determinism: every random choice of a call is drawn, in arrival order, from one
``random.Random`` when the call arrives, and every action is scheduled at an absolute
time of one virtual timeline on the loop clock. The same seed therefore gives the same
sequence of calls (kind, from, to, timings) whatever the machine's speed; outcomes such
as busy (17) follow from that sequence. :func:`plan_calls` returns the sequence without
running anything.

>>> gen = TrafficGenerator(emulator.pbx, directory, TrafficConfig(rate=5), rng=random.Random(1))  # doctest: +SKIP
>>> gen.start(); ...; gen.close()                                                                  # doctest: +SKIP
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from .._log import mask_text
from .accounts import Directory, User
from .pbx_model import PbxCommandError

__all__ = ["TrafficConfig", "TrafficGenerator", "PlannedCall", "plan_calls", "parse_mix", "DEFAULT_MIX", "KINDS"]

log: logging.Logger = logging.getLogger("lguapi.server.traffic")

KINDS = ("inbound", "click", "internal")
DEFAULT_MIX = {"inbound": 0.5, "click": 0.3, "internal": 0.2}


def parse_mix(text: str) -> dict[str, float]:
    """``"inbound=0.5,click=0.3,internal=0.2"`` as a dict (kinds left out get 0).

    >>> parse_mix("inbound=3,internal=1")
    {'inbound': 3.0, 'click': 0.0, 'internal': 1.0}
    """
    out = {k: 0.0 for k in KINDS}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in out:
            raise ValueError(f"bad traffic mix entry {part.strip()!r} (expected one of {', '.join(KINDS)} = share)")
        try:
            out[key] = float(value)
        except ValueError:
            raise ValueError(f"bad traffic mix share {value.strip()!r} for {key}") from None
    return out


@dataclass
class TrafficConfig:
    """What the generator produces; times in seconds, probabilities within 0..1."""

    rate: float                                   #: call arrivals per second (total)
    mix: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_MIX))
    ring_mean: float = 4.0                        #: mean ring time (exponential)
    talk_mean: float = 30.0                       #: mean talk time (lognormal)
    talk_sigma: float = 0.8                       #: sigma of the talk-time lognormal
    unanswered: float = 0.1                       #: share abandoned while ringing
    hold: float = 0.1                             #: P(a connected call is held once)
    hold_mean: float = 5.0                        #: mean hold time (exponential)
    transfer: float = 0.05                        #: P(a connected call is blind-transferred)
    max_calls: int | None = None                  #: stop after this many arrivals
    duration: float | None = None                 #: stop arrivals after this many seconds
    outside_prefix: str = "010"                   #: outside numbers: prefix + 8 digits

    def validate(self) -> None:
        """Raise ValueError naming the first out-of-range setting."""
        if not (self.rate >= 0 and math.isfinite(self.rate)):
            raise ValueError("rate must be a finite number >= 0")
        for name in ("ring_mean", "talk_mean", "hold_mean", "talk_sigma"):
            v = getattr(self, name)
            if not (v >= 0 and math.isfinite(v)):
                raise ValueError(f"{name} must be a finite number >= 0")
        for name in ("unanswered", "hold", "transfer"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a probability within 0..1")
        unknown = set(self.mix) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown call kinds in mix: {sorted(unknown)}")
        if any(not (v >= 0) for v in self.mix.values()) or sum(self.mix.values()) <= 0:
            raise ValueError("mix shares must be >= 0 with a positive sum")
        if self.max_calls is not None and self.max_calls < 0:
            raise ValueError("max_calls must be >= 0")
        if self.duration is not None and self.duration < 0:
            raise ValueError("duration must be >= 0")
        if not self.outside_prefix.isdigit():
            raise ValueError("outside_prefix must be digits")


@dataclass(frozen=True)
class PlannedCall:
    """One call of the plan. ``agent`` is the user's extension that acts (called, calling or
    dialling); ``other`` the outside number (inbound, click) or the called extension (internal).
    Offsets (``ring``, ``talk``, ``hold_at``...) are seconds from the previous stage."""

    seq: int
    at: float                 #: arrival, seconds after the start
    kind: str                 #: inbound | click | internal
    agent: str
    other: str
    ring: float
    answered: bool
    talk: float
    hold_at: float | None     #: seconds after answer
    hold_for: float
    transfer_to: str | None   #: extension a blind transfer goes to
    transfer_at: float        #: seconds after answer
    hangup_by: str            #: "agent" (the user's side) or "other"

    @property
    def src(self) -> str:
        """The calling party as the PBX history names it (outside number or extension)."""
        return self.other if self.kind == "inbound" else self.agent

    @property
    def dst(self) -> str:
        return self.agent if self.kind == "inbound" else self.other


def plan_calls(directory: Directory, config: TrafficConfig, rng: random.Random) -> Iterator[PlannedCall]:
    """The calls the generator places, in arrival order (infinite unless bounded by the config)."""
    config.validate()
    users = [u for u in directory.users() if u.exten]
    if not users or config.rate <= 0:
        return
    by_domain: dict[str, list[User]] = {}
    for u in users:
        by_domain.setdefault(u.domain, []).append(u)
    kinds = [k for k in KINDS if config.mix.get(k, 0) > 0]
    weights = [config.mix[k] for k in kinds]
    sigma = config.talk_sigma
    mu = math.log(config.talk_mean) - sigma * sigma / 2 if config.talk_mean > 0 else None
    t = 0.0
    for seq in itertools.count(1):
        if config.max_calls is not None and seq > config.max_calls:
            return
        t += rng.expovariate(config.rate)
        if config.duration is not None and t > config.duration:
            return
        kind = rng.choices(kinds, weights)[0]
        agent = rng.choice(users)
        peers = by_domain[agent.domain]
        if kind == "internal" and len(peers) < 2:
            kind = "inbound"  # nobody else to call in this domain
        if kind == "internal":
            callee = rng.choice(peers)
            while callee is agent:
                callee = rng.choice(peers)
            # the agent dials; the callee answers (so "agent" is the calling phone here)
            other = callee.exten
        else:
            other = config.outside_prefix + f"{rng.randrange(10 ** 8):08d}"
        ring = rng.expovariate(1 / config.ring_mean) if config.ring_mean > 0 else 0.0
        answered = rng.random() >= config.unanswered
        talk = rng.lognormvariate(mu, sigma) if mu is not None else 0.0
        hold_at = None
        hold_for = 0.0
        if rng.random() < config.hold:
            hold_at = rng.uniform(0.0, talk / 2)
            hold_for = min(rng.expovariate(1 / config.hold_mean) if config.hold_mean > 0 else 0.0, talk / 2)
        transfer_to = None
        transfer_at = 0.0
        if rng.random() < config.transfer and len(peers) > 2:
            target = rng.choice(peers)
            while target.exten in (agent.exten, other):
                target = rng.choice(peers)
            transfer_to = target.exten
            transfer_at = rng.uniform(talk / 2, talk) if talk > 0 else 0.0
        hangup_by = "agent" if rng.random() < 0.5 else "other"
        yield PlannedCall(seq, t, kind, agent.exten, other, ring, answered, talk, hold_at, hold_for,
                          transfer_to, transfer_at, hangup_by)


class _Running:
    """Runtime state of one planned call."""

    __slots__ = ("plan", "call_id", "owned", "talker", "done", "outcome")

    def __init__(self, plan: PlannedCall) -> None:
        self.plan = plan
        self.call_id: str | None = None
        self.owned: list[str] = []        # extensions this call engaged (released at its end)
        self.talker: str | None = None    # the user's extension now in the call (after a transfer: the target)
        self.done = False
        self.outcome = ""


class TrafficGenerator:
    """Runs :func:`plan_calls` against a :class:`~lguapi.server.pbx.Pbx` in real time.

    ``start()`` begins arrivals; ``stop()`` ends arrivals and lets calls in progress
    finish; ``close()`` cancels everything at once (calls in progress stay as they are
    in the PBX); ``await wait()`` returns when a bounded run (``max_calls`` or
    ``duration``) placed its last call and every call ended. :meth:`stats` counts
    what happened; :attr:`placed` lists ``(plan, call id or None)`` in arrival order.
    """

    def __init__(self, pbx: Any, directory: Directory, config: TrafficConfig, *,
                 rng: random.Random | None = None, keep_placed: int = 10_000) -> None:
        config.validate()
        self.pbx = pbx
        self.directory = directory
        self.config = config
        self.rng: random.Random = rng if rng is not None else random.Random()
        self._plan = plan_calls(directory, config, self.rng)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._t0 = 0.0
        # one heap of (when, n, run or None, fn, args) on the virtual timeline: actions run in
        # exactly this order even when the loop is late (asyncio's own timers would not)
        self._heap: list[Any] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_when = 0.0
        self._waking = False
        self._running: dict[int, _Running] = {}
        self._engaged: dict[str, int] = {}
        self._arrivals_done = False
        self._closed = False
        self._idle: asyncio.Event | None = None
        self.keep_placed = keep_placed
        self.placed: list[tuple[PlannedCall, str | None]] = []
        self.counts: dict[str, int] = {"arrived": 0, "placed": 0, "refused": 0, "answered": 0, "abandoned": 0, "held": 0,
                       "transferred": 0, "completed": 0, "skipped_busy": 0, "errors": 0}

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Begin arrivals (call from inside the event loop)."""
        if self._loop is not None:
            raise RuntimeError("traffic generator already started")
        self._loop = asyncio.get_running_loop()
        self._idle = asyncio.Event()
        self._t0 = self._loop.time()
        log.info("traffic: %.3g calls/s, mix %s", self.config.rate,
                 ", ".join(f"{k}={v:g}" for k, v in self.config.mix.items()))
        self._schedule_next()

    def stop(self) -> None:
        """No more arrivals; calls in progress run to their end."""
        self._arrivals_done = True
        self._check_idle()

    def close(self) -> None:
        """Cancel arrivals and every pending action now."""
        self._closed = True
        self.stop()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap.clear()
        for run in self._running.values():
            run.done = True
        self._running.clear()
        self._engaged.clear()
        self._check_idle()

    async def wait(self) -> None:
        """Until arrivals are over (bounded run, stop() or close()) and no call is in progress."""
        if self._idle is None:
            raise RuntimeError("traffic generator not started")
        await self._idle.wait()

    @property
    def active(self) -> int:
        """Calls in progress."""
        return len(self._running)

    def stats(self) -> dict[str, Any]:
        return dict(self.counts, active=len(self._running), rate=self.config.rate)

    # --- scheduling ---------------------------------------------------------------------

    def _push(self, when: float, run: _Running | None, fn: Callable, args: tuple[Any, ...]) -> None:
        heapq.heappush(self._heap, (when, next(self._order), run, fn, args))
        if self._waking:
            return  # _wake re-arms the timer when it is done
        if self._timer is None or when < self._timer_when:
            if self._timer is not None:
                self._timer.cancel()
            self._arm(when)

    def _arm(self, when: float) -> None:
        self._timer_when = when
        self._timer = self._loop_now().call_at(when, self._wake)

    def _wake(self) -> None:
        """Run every action that is due, in timeline order (actions they add included)."""
        self._timer = None
        heap = self._heap
        pop = heapq.heappop
        limit = max(self._loop_now().time(), self._timer_when)
        self._waking = True
        try:
            while heap and not self._closed:
                if heap[0][0] > limit:
                    limit = self._loop_now().time()
                    if heap[0][0] > limit:
                        break
                _, _, run, fn, args = pop(heap)
                if run is None:
                    fn(*args)
                elif not run.done:
                    self._step(run, fn, args)
        finally:
            self._waking = False
        if heap and not self._closed:
            self._arm(heap[0][0])

    def _schedule_next(self) -> None:
        if self._closed or self._arrivals_done:
            return
        plan = next(self._plan, None)
        if plan is None:
            self._arrivals_done = True
            self._check_idle()
            return
        self._push(self._t0 + plan.at, None, self._arrive, (plan,))

    def _at(self, run: _Running, offset: float, fn: Callable, *args: Any) -> None:
        """Run ``fn(run, *args)`` at ``plan.at + offset`` on the virtual timeline."""
        self._push(self._t0 + run.plan.at + offset, run, fn, args)

    def _step(self, run: _Running, fn: Callable, args: tuple[Any, ...]) -> None:
        if run.done or self._closed:
            return
        try:
            fn(run, *args)
        except _REFUSED as exc:
            # the PBX refused: the call went another way (busy, forwarded, hung up by someone else)
            log.debug("traffic call %d: %s refused: %s", run.plan.seq, getattr(fn, "__name__", fn),
                      mask_text(str(exc)))
            self._abort(run, "refused")
        except Exception:
            self.counts["errors"] += 1
            log.exception("traffic call %d: %s failed", run.plan.seq, getattr(fn, "__name__", fn))
            self._abort(run, "error")

    def _arrive(self, plan: PlannedCall) -> None:
        if self._arrivals_done:
            return
        self.counts["arrived"] += 1
        try:
            self._place(plan)
        except Exception:
            self.counts["errors"] += 1
            log.exception("traffic call %d: placing failed", plan.seq)
        self._schedule_next()

    # --- engaging extensions (only this generator's own calls are known) -----------------

    def _engage(self, run: _Running, exten: str) -> bool:
        if exten in self._engaged or not self._phone_free(exten):
            return False
        self._engaged[exten] = run.plan.seq
        run.owned.append(exten)
        return True

    def _phone_free(self, exten: str) -> bool:
        return self.pbx.phone_state(exten) == "idle"

    def _current_leg(self, exten: str | None) -> Any:
        """The leg ``exten``'s buttons act on now (the PBX engine's ``active_leg``), or None."""
        return self.pbx.active_leg(exten) if exten is not None else None

    def _channel(self, exten: str | None) -> str | None:
        leg = self._current_leg(exten)
        return leg.name if leg is not None else None

    def _user(self, exten: str | None) -> User:
        """The account of one of the directory's extensions (the plans only name those)."""
        user = self.directory.by_exten(exten) if exten is not None else None
        if user is None:
            raise LookupError(f"extension {exten!r} is not in the directory")
        return user

    def _loop_now(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the traffic generator is not started")
        return self._loop

    def _finish(self, run: _Running, outcome: str) -> None:
        if run.done:
            return
        run.done = True
        run.outcome = outcome
        for exten in run.owned:
            if self._engaged.get(exten) == run.plan.seq:
                del self._engaged[exten]
        self._running.pop(run.plan.seq, None)
        self.counts[outcome if outcome in ("completed", "abandoned") else "refused"] += 1
        self._check_idle()

    def _abort(self, run: _Running, outcome: str) -> None:
        """End a call that went off plan: hang up whatever is left of it, quietly."""
        if run.call_id is not None:
            try:
                self.pbx.external_hangup(run.call_id)
            except _REFUSED:
                pass
        for exten in run.owned:
            leg = self._current_leg(exten) if self._engaged.get(exten) == run.plan.seq else None
            if leg is not None and leg.call.id == run.call_id:
                try:
                    self.pbx.phone_hangup(exten)
                except _REFUSED:
                    pass
        self._finish(run, outcome)

    def _check_idle(self) -> None:
        if self._idle is not None and self._arrivals_done and not self._running:
            self._idle.set()

    # --- the call scripts ---------------------------------------------------------------

    def _place(self, plan: PlannedCall) -> None:
        run = _Running(plan)
        if not self._engage(run, plan.agent) or (plan.kind == "internal" and not self._engage(run, plan.other)):
            # our own earlier call still occupies a phone: place nothing (the plan stays the same)
            for exten in run.owned:
                del self._engaged[exten]
            self.counts["skipped_busy"] += 1
            self._record(plan, None)
            return
        self._running[plan.seq] = run
        pbx = self.pbx
        agent = self._user(plan.agent)
        try:
            if plan.kind == "inbound":
                run.call_id = pbx.external_call(plan.other, agent.callerid or agent.exten)
            elif plan.kind == "internal":
                run.call_id = pbx.phone_dial(plan.agent, plan.other)
            else:
                self._command(agent, "CLICKCALL", {"AGENT": agent.exten, "EXTEN": plan.other,
                                                   "CID": agent.callerid, "CONTEXT": ""})
                leg = self._current_leg(agent.exten)
                run.call_id = leg.call.id if leg is not None else None
        except _REFUSED as exc:
            log.debug("traffic call %d refused: %s", plan.seq, mask_text(str(exc)))
            self._record(plan, None)
            self._finish(run, "refused")
            return
        self.counts["placed"] += 1
        self._record(plan, run.call_id)
        if run.call_id is None:  # no call came of it (e.g. the callee was busy at once)
            self._finish(run, "refused")
            return
        run.talker = plan.agent if plan.kind != "internal" else plan.other
        if plan.answered:
            self._at(run, plan.ring, self._answer)
        else:
            self._at(run, plan.ring, self._give_up)

    def _record(self, plan: PlannedCall, call_id: str | None) -> None:
        if len(self.placed) < self.keep_placed:
            self.placed.append((plan, call_id))

    def _command(self, user: User, name: str, args: dict[str, Any]) -> list[str]:
        """Issue ``name`` as ``user``'s client would; the answers it got (PbxCommandError when refused)."""
        replies: list[str] = []
        self.pbx.command(user, name, args, [], replies.append)
        return replies

    def _answer(self, run: _Running) -> None:
        plan = run.plan
        if self._call_gone(run):
            return self._finish(run, "refused")
        if self._connected(run):
            pass  # answered already (auto answer, or someone at the admin interface)
        elif plan.kind == "click":
            self.pbx.external_answer(run.call_id)
        else:
            self.pbx.phone_answer(run.talker)
        self.counts["answered"] += 1
        if plan.hold_at is not None:
            self._at(run, plan.ring + plan.hold_at, self._hold)
        if plan.transfer_to is not None:
            self._at(run, plan.ring + plan.transfer_at, self._transfer)
        self._at(run, plan.ring + plan.talk, self._hangup)

    def _give_up(self, run: _Running) -> None:
        """The calling side abandons the ringing call."""
        if self._call_gone(run):
            return self._finish(run, "refused")
        if run.plan.kind == "inbound":
            self.pbx.external_hangup(run.call_id)
        else:
            self.pbx.phone_hangup(run.plan.agent)
        self._finish(run, "abandoned")

    def _hold(self, run: _Running) -> None:
        user = self._user(run.talker)
        channel = self._channel(run.talker)
        if channel is None or self._call_gone(run) or self.pbx.phone_state(run.talker) != "talking":
            return
        self._command(user, "HOLD", {"AGENT": user.exten, "CHANNEL": channel})
        self.counts["held"] += 1
        self._at(run, run.plan.ring + (run.plan.hold_at or 0.0) + run.plan.hold_for, self._unhold)

    def _unhold(self, run: _Running) -> None:
        user = self._user(run.talker)
        channel = self._channel(run.talker)
        if channel is None or self._call_gone(run) or self.pbx.phone_state(run.talker) != "held":
            return
        self._command(user, "UNHOLD", {"AGENT": user.exten, "CHANNEL": channel})

    def _transfer(self, run: _Running) -> None:
        plan = run.plan
        target = plan.transfer_to
        if target is None or self._call_gone(run) or not self._engage(run, target):
            return  # the target is busy with another call of ours: no transfer
        user = self._user(run.talker)
        channel = self._channel(run.talker)
        if channel is None or self.pbx.phone_state(run.talker) != "talking":
            return  # on hold right now: skip the transfer
        self._command(user, "TRANSFER", {"AGENT": user.exten, "CHANNEL": channel, "EXTEN": target})
        self.counts["transferred"] += 1
        run.talker = target
        # the target answers after a short ring (a quarter of the mean ring time), before the call's end
        delay = min(self.config.ring_mean / 4, (plan.talk - plan.transfer_at) / 2)
        self._at(run, plan.ring + plan.transfer_at + delay, self._answer_transfer)

    def _answer_transfer(self, run: _Running) -> None:
        if self._call_gone(run):
            return self._finish(run, "refused")
        if self.pbx.phone_state(run.talker) == "ringing":
            self.pbx.phone_answer(run.talker)

    def _hangup(self, run: _Running) -> None:
        plan = run.plan
        if self._call_gone(run):
            return self._finish(run, "completed")
        if plan.hangup_by == "other" and plan.kind != "internal":
            self.pbx.external_hangup(run.call_id)
        elif plan.hangup_by == "other":
            # internal: the talker is the callee or a transfer target; the caller stays to the end
            self.pbx.phone_hangup(plan.agent)
        else:
            self.pbx.phone_hangup(run.talker)
        # a transfer target still ringing, or anything left over, goes too
        if not self._call_gone(run):
            self._abort(run, "completed")
            return
        self._finish(run, "completed")

    def _connected(self, run: _Running) -> bool:
        """Is the talker's phone connected in this call?"""
        leg = self._current_leg(run.talker)
        return leg is not None and leg.state in ("up", "hold") and leg.call.id == run.call_id

    def _call_gone(self, run: _Running) -> bool:
        return run.call_id is None or run.call_id not in self.pbx.calls


#: what the PBX raises when the outside world or a command asks for something it cannot do
_REFUSED = (KeyError, ValueError, LookupError, PbxCommandError)
