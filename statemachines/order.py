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
anything is a bug or a wrong `lost` verdict, and must be loud.

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
    check_finite_non_negative,
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
    {OrderState.PENDING, OrderState.LIVE, OrderState.CANCELLING}
)


class OrderTrigger(enum.StrEnum):
    ACCEPTED = "accepted"
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
    # POST said live, or a WS PLACEMENT; repeats while live/cancelling are harmless.
    TransitionRow(_T.ACCEPTED, (_S.PENDING, _S.LIVE), _S.LIVE),
    TransitionRow(_T.ACCEPTED, (_S.CANCELLING,), _S.CANCELLING),
    # A slow POST answer arriving after the order already ended on the WS.
    TransitionRow(_T.ACCEPTED, (_S.CANCELLED,), _S.CANCELLED),
    TransitionRow(_T.ACCEPTED, (_S.FILLED,), _S.FILLED),
    # WS UPDATE with status LIVE: matched size grows, the remainder rests.
    TransitionRow(_T.PARTIALLY_FILLED, (_S.PENDING, _S.LIVE), _S.LIVE),
    TransitionRow(_T.PARTIALLY_FILLED, (_S.CANCELLING,), _S.CANCELLING),
    # A fill that matched before the cancel removed the remainder, reported after the cancel; or a
    # stale report of a fully filled order (the matched size never shrinks).
    TransitionRow(_T.PARTIALLY_FILLED, (_S.CANCELLED,), _S.CANCELLED),
    TransitionRow(_T.PARTIALLY_FILLED, (_S.FILLED,), _S.FILLED),
    # Matched in full; after a cancel was sent too (the cancel then answers "already matched").
    # Reported twice (POST `matched` and WS UPDATE `MATCHED`): the repeat is harmless.
    TransitionRow(_T.FILLED, (_S.PENDING, _S.LIVE, _S.CANCELLING, _S.FILLED), _S.FILLED),
    # Post-only would cross, FOK/FAK found nothing, below minimum...: part of trading, not a failure.
    # From cancelling too: a cancel by id may be sent before the POST answer arrives.
    TransitionRow(_T.REJECTED_EXPECTED, (_S.PENDING, _S.CANCELLING), _S.REJECTED_EXPECTED),
    TransitionRow(_T.REJECTED, (_S.PENDING, _S.CANCELLING), _S.FAILED),
    # Cancel by id; from pending when the POST outcome is unknown (its id is its hash).
    TransitionRow(_T.CANCEL_REQUESTED, (_S.PENDING, _S.LIVE), _S.CANCELLING),
    # REST `canceled` or WS CANCELLATION of our cancel; whichever arrives second is a repeat.
    TransitionRow(_T.CANCEL_CONFIRMED, (_S.CANCELLING, _S.CANCELLED), _S.CANCELLED),
    # `not_canceled` for a reason other than "already done": the order still rests.
    TransitionRow(_T.CANCEL_FAILED, (_S.CANCELLING,), _S.LIVE),
    # Heartbeat lapse, GTD expiry, market resolved, FOK/FAK killed, INVALID; or the WS report of a
    # cancel already confirmed over REST.
    TransitionRow(_T.VENUE_CANCELLED, (_S.PENDING, _S.LIVE, _S.CANCELLING, _S.CANCELLED), _S.CANCELLED),
    # Reconciliation proved the POST never landed (after the pending settle bound).
    TransitionRow(_T.LOST, (_S.PENDING, _S.CANCELLING), _S.FAILED),
)

# {(state, trigger): dest}: the table flattened, for lookups and the exhaustive test.
ORDER_ALLOWED: Final = allowed_table(ORDER_TRANSITIONS)

_MACHINE, _EVENTS = build_machine("order", OrderState, OrderState.PENDING, ORDER_TRANSITIONS)


class Order:
    """One order of ours and its lifecycle; every state change goes through the shared machine.

    Cheap to create (slots, no per-instance registration). An order seeded from the venue's open
    orders is created `pending` and driven by `accepted`/`partially_filled` like any other.
    """

    __slots__ = (
        "created_at_s",
        "last_reason",
        "level",
        "matched_shares",
        "order_id",
        "order_type",
        "price",
        "side",
        "size_shares",
        "state",
        "token_id",
        "updated_at_s",
    )

    order_id: str
    token_id: str
    level: int | None
    side: str
    price: float
    size_shares: float
    order_type: str
    created_at_s: float
    matched_shares: float
    state: OrderState
    last_reason: str | None
    updated_at_s: float

    def __init__(
        self,
        order_id: str,
        token_id: str,
        *,
        side: str,
        price: float,
        size_shares: float,
        order_type: str,
        created_at_s: float,
        level: int | None = None,
    ) -> None:
        self.order_id = order_id
        self.token_id = token_id
        self.level = level
        self.side = side
        self.price = price
        self.size_shares = size_shares
        self.order_type = order_type
        self.created_at_s = created_at_s
        self.matched_shares = 0.0
        self.state = OrderState.PENDING
        self.last_reason = None
        self.updated_at_s = created_at_s

    def trigger(
        self,
        trigger: OrderTrigger,
        *,
        matched_shares: float | None = None,
        reason: str | None = None,
        at_s: float | None = None,
    ) -> OrderState:
        """Apply `trigger` and return the new state.

        `matched_shares` is the venue's cumulative matched size (`size_matched`), not an increment;
        it is required with `partially_filled`, optional elsewhere, and a value below the recorded
        one (a stale report) is ignored: the matched size never shrinks. `filled` without it means
        the whole size. `reason` (venue text, never a secret) becomes `last_reason`, except that the
        reason an order ended with is kept when a repeat report arrives. `at_s` becomes
        `updated_at_s`.

        Raises `IllegalTransition` (the order unchanged) when the table does not allow `trigger`
        from the current state, and ValueError for a bad `matched_shares` or an unknown trigger.
        """
        if matched_shares is not None:
            matched_shares = check_finite_non_negative("matched_shares", matched_shares)
        elif trigger == OrderTrigger.PARTIALLY_FILLED:
            raise ValueError("partially_filled needs matched_shares (the cumulative matched size)")
        event: Event | None = _EVENTS.get(trigger)
        if event is None:
            raise ValueError(f"unknown order trigger {trigger!r}")
        was_terminal = self.state in TERMINAL_ORDER_STATES
        try:
            event.trigger(self)
        except MachineError:
            # The library's "can't trigger event X from state Y": same fact, with the order named.
            raise IllegalTransition("order", self.order_id, self.state, trigger) from None
        if matched_shares is None and trigger == OrderTrigger.FILLED:
            matched_shares = float(self.size_shares)
        if matched_shares is not None and matched_shares > self.matched_shares:
            self.matched_shares = matched_shares
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
    def remaining_shares(self) -> float:
        """Shares that still rest or may rest: size minus matched while open, 0 once terminal."""
        if self.state in TERMINAL_ORDER_STATES:
            return 0.0
        return max(0.0, self.size_shares - self.matched_shares)

    def __repr__(self) -> str:
        return (
            f"<Order {short_id(self.order_id)} {self.side} {self.size_shares}@{self.price} "
            f"level={self.level} {self.state.value} matched={self.matched_shares}>"
        )
