"""The order state machine: one allowed-transition table, one shared machine, a cheap model.

An order is `pending` from the moment it is signed (its id is its EIP-712 hash, known before the
POST) until the venue's answer or an event settles it. Partial fills keep it `live` (or
`cancelling`) with a growing matched size. The table below is the single truth; it includes the
races real venues produce because two channels (the REST answer and the user WebSocket) report the
same order independently and in either order:

- a fill after a cancel was sent (`cancelling` + `filled`; the cancel then answers `not_canceled`);
- a cancel that fails for another reason (`cancelling` + `cancel_failed` -> `live`);
- a venue-side cancel: heartbeat lapse, GTD expiry, market resolved, FOK/FAK killed, INVALID;
- a cancel by id sent while the POST outcome is unknown (`pending` + `cancel_requested`), after which
  the POST answer may still say live, rejected, or never arrive (`lost`);
- the second report of the same end (REST DELETE `canceled` and WS CANCELLATION; POST `matched` and
  WS UPDATE `MATCHED`), and a report older than the end arriving after it (a slow POST answer
  `live`, a WS UPDATE of a fill that matched before the cancel removed the remainder).

Expected rejects and failures stay strict: a `rejected_expected`/`failed` order that later hears
anything (but the WS CANCELLATION of a killed FOK/FAK) is a bug or a wrong `lost` verdict, and must
be loud.

`unknown` is a POST whose outcome is unknown (a timeout, a 5xx, a `delayed` answer): the order may or
may not rest on the book. Only evidence settles it — a WS event, the venue's listing or a `canceled`
answer naming its id; a cancel by id sent meanwhile does not (a "not found" answer proves nothing while
the POST may still land), so `cancel_requested` keeps it `unknown`. Reconciliation calls it `lost`
once it is absent from the venue past the grace window.

Money is integers (house style 14): price, size and matched size are micro-units (10⁻⁶ pUSD per share,
10⁻⁶ shares), exactly what was signed and what the venue reports; the float views (`price`,
`size_shares`, `matched_shares`, `remaining_shares`) are for display and journals only.

Spec: docs/protocol/polymarket-clob.md sections 5.3-5.4 (responses, cancel results) and 6.3
(user channel order events).
"""

from __future__ import annotations

import enum
from typing import Final

from transitions import Event, MachineError

from statemachines._core import (
    IllegalTransition,
    TransitionRow,
    allowed_table,
    build_machine,
    check_micro,
    short_id,
)

__all__ = [
    "ORDER_ALLOWED",
    "ORDER_TRANSITIONS",
    "TERMINAL_ORDER_STATES",
    "IllegalTransition",
    "Order",
    "OrderState",
    "OrderTrigger",
]


class OrderState(enum.StrEnum):
    PENDING = "pending"
    UNKNOWN = "unknown"
    LIVE = "live"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    FILLED = "filled"
    REJECTED_EXPECTED = "rejected_expected"
    FAILED = "failed"


TERMINAL_ORDER_STATES: Final[frozenset[OrderState]] = frozenset(
    {OrderState.CANCELLED, OrderState.FILLED, OrderState.REJECTED_EXPECTED, OrderState.FAILED}
)
_OPEN_ORDER_STATES: Final[frozenset[OrderState]] = frozenset(
    {OrderState.PENDING, OrderState.UNKNOWN, OrderState.LIVE, OrderState.CANCELLING}
)


class OrderTrigger(enum.StrEnum):
    ACCEPTED = "accepted"
    OUTCOME_UNKNOWN = "outcome_unknown"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    REJECTED_EXPECTED = "rejected_expected"
    REJECTED = "rejected"
    CANCEL_REQUESTED = "cancel_requested"
    CANCEL_CONFIRMED = "cancel_confirmed"
    CANCEL_FAILED = "cancel_failed"
    VENUE_CANCELLED = "venue_cancelled"
    LOST = "lost"


_S = OrderState
_T = OrderTrigger

ORDER_TRANSITIONS: Final[tuple[TransitionRow, ...]] = (
    # POST said live, or a WS PLACEMENT (or the venue's listing) settles an unknown outcome; repeats
    # while live/cancelling are harmless.
    TransitionRow(_T.ACCEPTED, (_S.PENDING, _S.UNKNOWN, _S.LIVE), _S.LIVE),
    # The POST timed out, failed in transit (5xx, 425) or answered `delayed`: it may rest or not.
    TransitionRow(_T.OUTCOME_UNKNOWN, (_S.PENDING, _S.UNKNOWN), _S.UNKNOWN),
    TransitionRow(_T.ACCEPTED, (_S.CANCELLING,), _S.CANCELLING),
    # A slow POST answer arriving after the order already ended on the WS.
    TransitionRow(_T.ACCEPTED, (_S.CANCELLED,), _S.CANCELLED),
    TransitionRow(_T.ACCEPTED, (_S.FILLED,), _S.FILLED),
    # WS UPDATE with status LIVE: matched size grows, the remainder rests.
    TransitionRow(_T.PARTIALLY_FILLED, (_S.PENDING, _S.UNKNOWN, _S.LIVE), _S.LIVE),
    TransitionRow(_T.PARTIALLY_FILLED, (_S.CANCELLING,), _S.CANCELLING),
    # A fill that matched before the cancel removed the remainder, reported after the cancel; or a
    # stale report of a fully filled order (the matched size never shrinks).
    TransitionRow(_T.PARTIALLY_FILLED, (_S.CANCELLED,), _S.CANCELLED),
    TransitionRow(_T.PARTIALLY_FILLED, (_S.FILLED,), _S.FILLED),
    # Matched in full; after a cancel was sent too (the cancel then answers "already matched").
    # Reported twice (POST `matched` and WS UPDATE `MATCHED`): the repeat is harmless.
    TransitionRow(_T.FILLED, (_S.PENDING, _S.UNKNOWN, _S.LIVE, _S.CANCELLING, _S.FILLED), _S.FILLED),
    # Post-only would cross, FOK/FAK found nothing, below minimum...: part of trading, not a failure.
    # From cancelling too: a cancel by id may be sent before the POST answer arrives.
    TransitionRow(_T.REJECTED_EXPECTED, (_S.PENDING, _S.CANCELLING), _S.REJECTED_EXPECTED),
    TransitionRow(_T.REJECTED, (_S.PENDING, _S.CANCELLING), _S.FAILED),
    # Cancel by id; from pending when the POST outcome is unknown (its id is its hash).
    TransitionRow(_T.CANCEL_REQUESTED, (_S.PENDING, _S.LIVE), _S.CANCELLING),
    # A cancel by id of an order of unknown outcome: sent, but it settles nothing by itself.
    TransitionRow(_T.CANCEL_REQUESTED, (_S.UNKNOWN,), _S.UNKNOWN),
    # REST `canceled` or WS CANCELLATION of our cancel; whichever arrives second is a repeat.
    # From unknown: the venue named the id as canceled (so it had landed), or a verified cancel-all.
    TransitionRow(_T.CANCEL_CONFIRMED, (_S.UNKNOWN, _S.CANCELLING, _S.CANCELLED), _S.CANCELLED),
    # `not_canceled` for a reason other than "already done": the order still rests.
    TransitionRow(_T.CANCEL_FAILED, (_S.CANCELLING,), _S.LIVE),
    # Heartbeat lapse, GTD expiry, market resolved, FOK/FAK killed, INVALID; or the WS report of a
    # cancel already confirmed over REST.
    TransitionRow(
        _T.VENUE_CANCELLED, (_S.PENDING, _S.UNKNOWN, _S.LIVE, _S.CANCELLING, _S.CANCELLED), _S.CANCELLED
    ),
    # A FOK/FAK killed on entry: the POST answers with the kill (an expected reject) and the user
    # channel reports the same end as a CANCELLATION, in either order; the repeat changes nothing.
    TransitionRow(_T.VENUE_CANCELLED, (_S.REJECTED_EXPECTED,), _S.REJECTED_EXPECTED),
    # Reconciliation proved the POST never landed (after the pending settle bound).
    TransitionRow(_T.LOST, (_S.PENDING, _S.UNKNOWN, _S.CANCELLING), _S.FAILED),
)

# {(state, trigger): dest}: the table flattened, for lookups and the exhaustive test.
ORDER_ALLOWED: Final = allowed_table(ORDER_TRANSITIONS)

_MACHINE, _EVENTS = build_machine("order", OrderState, OrderState.PENDING, ORDER_TRANSITIONS)

_MICRO: Final = 10**6  # micro-units per share or pUSD (the venue's 6 decimals; bot.protocol.money.MICRO)


class Order:
    """One order of ours and its lifecycle; every state change goes through the shared machine.

    Cheap to create (slots, no per-instance registration). An order seeded from the venue's open
    orders is created `pending` and driven by `accepted`/`partially_filled` like any other.
    """

    __slots__ = (
        "created_at_s",
        "last_reason",
        "level",
        "matched_micro",
        "order_id",
        "order_type",
        "price_micro",
        "side",
        "size_micro",
        "state",
        "token_id",
        "updated_at_s",
    )

    order_id: str
    token_id: str
    level: int | None
    side: str
    price_micro: int
    size_micro: int
    order_type: str
    created_at_s: float
    matched_micro: int
    state: OrderState
    last_reason: str | None
    updated_at_s: float

    def __init__(
        self,
        order_id: str,
        token_id: str,
        *,
        side: str,
        price_micro: int,
        size_micro: int,
        order_type: str,
        created_at_s: float,
        level: int | None = None,
    ) -> None:
        """ValueError when the price or size is not an integer amount (a float is refused, not rounded)."""
        self.order_id = order_id
        self.token_id = token_id
        self.level = level
        self.side = side
        self.price_micro = check_micro("price_micro", price_micro)
        self.size_micro = check_micro("size_micro", size_micro)
        self.order_type = order_type
        self.created_at_s = created_at_s
        self.matched_micro = 0
        self.state = OrderState.PENDING
        self.last_reason = None
        self.updated_at_s = created_at_s

    def trigger(
        self,
        trigger: OrderTrigger,
        *,
        matched_micro: int | None = None,
        reason: str | None = None,
        at_s: float | None = None,
    ) -> OrderState:
        """Apply `trigger` and return the new state.

        `matched_micro` is the venue's cumulative matched size (`size_matched`, micro-shares), not an increment;
        it is required with `partially_filled`, optional elsewhere, and a value below the recorded
        one (a stale report) is ignored: the matched size never shrinks. `filled` without it means
        the whole size. `reason` (venue text, never a secret) becomes `last_reason`, except that the
        reason an order ended with is kept when a repeat report arrives. `at_s` becomes
        `updated_at_s`.

        Raises `IllegalTransition` (the order unchanged) when the table does not allow `trigger`
        from the current state, and ValueError for a bad `matched_micro` (not an int ≥ 0) or an unknown
        trigger.
        """
        if matched_micro is not None:
            check_micro("matched_micro", matched_micro)
        elif trigger == OrderTrigger.PARTIALLY_FILLED:
            raise ValueError("partially_filled needs matched_micro (the cumulative matched size)")
        event: Event | None = _EVENTS.get(trigger)
        if event is None:
            raise ValueError(f"unknown order trigger {trigger!r}")
        was_terminal = self.state in TERMINAL_ORDER_STATES
        try:
            event.trigger(self)
        except MachineError:
            # The library's "can't trigger event X from state Y": same fact, with the order named.
            raise IllegalTransition("order", self.order_id, self.state, trigger) from None
        if matched_micro is None and trigger == OrderTrigger.FILLED:
            matched_micro = self.size_micro
        if matched_micro is not None and matched_micro > self.matched_micro:
            self.matched_micro = matched_micro
        if reason is not None and not was_terminal:
            self.last_reason = reason
        if at_s is not None:
            self.updated_at_s = at_s
        return self.state

    @property
    def is_terminal(self) -> bool:
        """True once the order can never rest on the book again."""
        return self.state in TERMINAL_ORDER_STATES

    @property
    def is_open(self) -> bool:
        """True while the order may rest on the book: pending, live or cancelling."""
        return self.state in _OPEN_ORDER_STATES

    @property
    def remaining_micro(self) -> int:
        """Micro-shares that still rest or may rest: size minus matched while open, 0 once terminal."""
        if self.state in TERMINAL_ORDER_STATES:
            return 0
        return max(0, self.size_micro - self.matched_micro)

    # Display views (journal, screen, status): never feed them back into money arithmetic.
    @property
    def price(self) -> float:
        return self.price_micro / _MICRO

    @property
    def size_shares(self) -> float:
        return self.size_micro / _MICRO

    @property
    def matched_shares(self) -> float:
        return self.matched_micro / _MICRO

    @property
    def remaining_shares(self) -> float:
        return self.remaining_micro / _MICRO

    def __repr__(self) -> str:
        return (
            f"<Order {short_id(self.order_id)} {self.side} {self.size_shares}@{self.price} "
            f"level={self.level} {self.state.value} matched={self.matched_shares}>"
        )
