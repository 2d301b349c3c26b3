"""The market (bot) state machine: one allowed-transition table, one shared machine, a recorded exit.

A market runner starts, reconciles with the venue, then quotes; it pauses quoting while a completion
runs or after repeated unexpected failures (backoff), rebuilds through `reconciling` after a storm or
a reconciliation mismatch, stops quoting at the cutoff, and leaves only through `shutting_down`
(cancel-all) to `shutdown`. The reason it left is recorded once, by `stop`, and the Trio side maps
it to an exit code.

Edges beyond the design's list, and why:
- `completing` + `begin_reconcile`: an unknown-order storm or a reconciliation mismatch (both venue
  behaviours) can happen while a completion order is in flight; the rebuild settles that order.
- A completion allowed after the cutoff (`complete_after_cutoff`) runs while the market stays in
  `cutoff`: the `completing` state exists to pause maker quoting, and `cutoff` quotes nothing, so no
  extra state is needed.
"""

from __future__ import annotations

import enum
from collections import deque
from typing import Final, NamedTuple

from transitions import Event, MachineError

from statemachines._core import IllegalTransition, TransitionRow, allowed_table, build_machine, short_id

__all__ = [
    "MARKET_ALLOWED",
    "MARKET_HISTORY_LEN",
    "MARKET_TRANSITIONS",
    "ExitReason",
    "IllegalTransition",
    "MarketMachine",
    "MarketState",
    "MarketTransitionRecord",
    "MarketTrigger",
]


class MarketState(enum.StrEnum):
    STARTING = "starting"
    RECONCILING = "reconciling"
    QUOTING = "quoting"
    COMPLETING = "completing"
    BACKOFF = "backoff"
    CUTOFF = "cutoff"
    SHUTTING_DOWN = "shutting_down"
    SHUTDOWN = "shutdown"


class ExitReason(enum.StrEnum):
    """Why a market (or the bot) stopped; the CLI maps each to a process exit code."""

    MARKET_END = "market_end"
    CRASH = "crash"
    STORM = "storm"
    SIGNAL = "signal"
    FATAL_VENUE = "fatal_venue"
    RECONCILE_MISMATCH = "reconcile_mismatch"
    ACCOUNT = "account"  # heartbeat lapse, auth refused, balance exhausted
    OPERATOR = "operator"
    JOURNAL = "journal_failed"  # a journal write failed (ENOSPC, EFBIG, EIO)
    CANCEL_UNVERIFIED = "cancel_all_unverified"  # cancel-all could not verify by its deadline


class MarketTrigger(enum.StrEnum):
    BEGIN_RECONCILE = "begin_reconcile"
    RECONCILED = "reconciled"
    START_COMPLETION = "start_completion"
    COMPLETION_DONE = "completion_done"
    FAILURES_EXCEEDED = "failures_exceeded"
    BACKOFF_ELAPSED = "backoff_elapsed"
    REACH_CUTOFF = "reach_cutoff"
    STOP = "stop"
    CANCEL_ALL_DONE = "cancel_all_done"


_S = MarketState
_T = MarketTrigger

# States from which the runner may still have (or place) orders: every one of them can stop.
_RUNNING_STATES: Final = (_S.STARTING, _S.RECONCILING, _S.QUOTING, _S.COMPLETING, _S.BACKOFF, _S.CUTOFF)

MARKET_TRANSITIONS: Final[tuple[TransitionRow, ...]] = (
    # First reconcile, or a rebuild after a storm (storm_action=rebuild) or a mismatch (repair).
    TransitionRow(_T.BEGIN_RECONCILE, (_S.STARTING, _S.QUOTING, _S.COMPLETING, _S.BACKOFF), _S.RECONCILING),
    TransitionRow(_T.RECONCILED, (_S.RECONCILING,), _S.QUOTING),
    TransitionRow(_T.START_COMPLETION, (_S.QUOTING,), _S.COMPLETING),
    TransitionRow(_T.COMPLETION_DONE, (_S.COMPLETING,), _S.QUOTING),
    TransitionRow(_T.FAILURES_EXCEEDED, (_S.RECONCILING, _S.QUOTING, _S.COMPLETING), _S.BACKOFF),
    TransitionRow(_T.BACKOFF_ELAPSED, (_S.BACKOFF,), _S.QUOTING),
    TransitionRow(
        _T.REACH_CUTOFF, (_S.STARTING, _S.RECONCILING, _S.QUOTING, _S.COMPLETING, _S.BACKOFF), _S.CUTOFF
    ),
    # Every way out goes through the cancel-all of shutting_down.
    TransitionRow(_T.STOP, _RUNNING_STATES, _S.SHUTTING_DOWN),
    TransitionRow(_T.CANCEL_ALL_DONE, (_S.SHUTTING_DOWN,), _S.SHUTDOWN),
)

MARKET_ALLOWED: Final = allowed_table(MARKET_TRANSITIONS)

_MACHINE, _EVENTS = build_machine("market", MarketState, MarketState.STARTING, MARKET_TRANSITIONS)

# A market's normal life is about a dozen transitions; 64 also keeps a run of backoff cycles before
# a stop. Older entries drop off: the journal keeps the full record.
MARKET_HISTORY_LEN: Final = 64
# A crash detail may be a long exception text; the machine keeps a bounded summary.
_DETAIL_MAX_CHARS: Final = 500


class MarketTransitionRecord(NamedTuple):
    """One history entry: when, from which state, by which trigger, to which state, and why."""

    at_s: float | None
    from_state: MarketState
    trigger: MarketTrigger
    to_state: MarketState
    reason: str | None


class MarketMachine:
    """The lifecycle of one market's runner; every state change goes through the shared machine.

    `exit_reason`/`exit_detail` are set once, by `stop`, and never overwritten. `quote_block_reason`
    is the effect the strategy reads: None only while quoting.
    """

    __slots__ = ("condition_id", "entered_at_s", "exit_detail", "exit_reason", "history", "state")

    condition_id: str
    state: MarketState
    exit_reason: ExitReason | None
    exit_detail: str | None
    entered_at_s: float | None
    history: deque[MarketTransitionRecord]

    def __init__(self, condition_id: str, *, at_s: float | None = None) -> None:
        self.condition_id = condition_id
        self.state = MarketState.STARTING
        self.exit_reason = None
        self.exit_detail = None
        self.entered_at_s = at_s
        self.history = deque(maxlen=MARKET_HISTORY_LEN)

    def trigger(
        self,
        trigger: MarketTrigger,
        *,
        reason: ExitReason | str | None = None,
        detail: str | None = None,
        at_s: float | None = None,
    ) -> MarketState:
        """Apply `trigger` and return the new state; record it in `history`.

        `stop` needs `reason` (an `ExitReason` or its value) and takes an optional `detail` (never a
        secret); both are recorded as `exit_reason`/`exit_detail`. Other triggers take an optional
        free-text `reason` for the history. `at_s` (the caller's clock; this module reads none)
        becomes `entered_at_s`.

        Raises `IllegalTransition` (the machine unchanged) when the table does not allow `trigger`
        from the current state, and ValueError for a missing or unknown stop reason or an unknown
        trigger.
        """
        exit_reason: ExitReason | None = None
        if trigger == MarketTrigger.STOP:
            if reason is None:
                raise ValueError("stop needs reason: an ExitReason")
            exit_reason = ExitReason(reason)
            reason = exit_reason
        event: Event | None = _EVENTS.get(trigger)
        if event is None:
            raise ValueError(f"unknown market trigger {trigger!r}")
        from_state = self.state
        try:
            event.trigger(self)
        except MachineError:
            raise IllegalTransition("market", self.condition_id, from_state, trigger) from None
        if exit_reason is not None:
            self.exit_reason = exit_reason
            self.exit_detail = None if detail is None else detail[:_DETAIL_MAX_CHARS]
        self.entered_at_s = at_s
        self.history.append(
            MarketTransitionRecord(
                at_s, from_state, MarketTrigger(trigger), self.state, None if reason is None else str(reason)
            )
        )
        return self.state

    def stop(self, reason: ExitReason, *, detail: str | None = None, at_s: float | None = None) -> bool:
        """Trigger `stop` unless already stopping or stopped; return whether this call stopped it.

        The first reason wins: a signal arriving during a cutoff's cancel-all does not rewrite why the
        market ended.
        """
        if self.state in (MarketState.SHUTTING_DOWN, MarketState.SHUTDOWN):
            return False
        self.trigger(MarketTrigger.STOP, reason=reason, detail=detail, at_s=at_s)
        return True

    @property
    def is_stopping(self) -> bool:
        """True from `stop` on: shutting down (cancel-all running) or shut down."""
        return self.state in (MarketState.SHUTTING_DOWN, MarketState.SHUTDOWN)

    @property
    def is_shutdown(self) -> bool:
        """True once the cancel-all has finished and the runner may return."""
        return self.state is MarketState.SHUTDOWN

    @property
    def quote_block_reason(self) -> str | None:
        """None while maker quotes may be placed (quoting); otherwise the state's name as the reason."""
        if self.state is MarketState.QUOTING:
            return None
        return self.state.value

    def __repr__(self) -> str:
        exit_part = f" exit={self.exit_reason.value}" if self.exit_reason is not None else ""
        return f"<MarketMachine {short_id(self.condition_id)} {self.state.value}{exit_part}>"
