"""The engine's one door to the venue: signs, posts and cancels under the caller's deadlines.

It turns the protocol layer's typed errors into the few outcomes the engine acts on, so nothing in the
engine reads an error string or an HTTP status:

- a POST is LIVE / MATCHED / DELAYED (accepted), EXPECTED_REJECT (part of trading), REJECTED (did not
  land, an unexpected failure), THROTTLED (429 or a venue mode: did not land, retry after a pause),
  UNKNOWN (timeout, 5xx, 425: it may be live — find out, never "failed"), or FATAL (auth);
- a cancel says per id: canceled, already done, not found, failed, or the request's fate is unknown.

Every call runs under `venue_deadline(request_timeout_s)`: a write that does not answer in time is
OutcomeUnknown, never a silent failure.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.protocol.auth import ApiCreds
from bot.protocol.errors import (
    AuthError,
    ExpectedReject,
    OutcomeUnknown,
    RateLimited,
    RejectKind,
    VenueError,
    VenueMode,
)
from bot.protocol.messages import OpenOrder, TradeEvent, parse_open_order, parse_trade
from bot.protocol.money import micro_text
from bot.protocol.rest import ClobRestClient, PostResult, venue_deadline
from bot.protocol.signing import OrderSigner, Side, SignedOrder

__all__ = ["CancelOutcome", "PostOutcome", "PostOutcomeKind", "VenueGateway"]

log = logging.getLogger(__name__)

class _Once:
    """A callback called at most once, however often it is invoked (None: nothing to call)."""

    __slots__ = ("_callback",)

    def __init__(self, callback: Callable[[], None] | None) -> None:
        self._callback = callback

    def __call__(self) -> None:
        callback, self._callback = self._callback, None
        if callback is not None:
            callback()


class PostOutcomeKind(enum.StrEnum):
    LIVE = "live"
    MATCHED = "matched"
    DELAYED = "delayed"
    EXPECTED_REJECT = "expected_reject"
    REJECTED = "rejected"
    THROTTLED = "throttled"
    UNKNOWN = "unknown"
    FATAL = "fatal"


@dataclass(frozen=True, slots=True)
class PostOutcome:
    kind: PostOutcomeKind
    message: str = ""
    reject_kind: str = ""
    retry_after_s: float | None = None
    making_amount: str = ""
    taking_amount: str = ""
    trade_ids: tuple[str, ...] = ()


@dataclass(slots=True)
class CancelOutcome:
    canceled: list[str] = field(default_factory=list)
    done: dict[str, str] = field(default_factory=dict)
    not_found: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    unknown: bool = False
    fatal: bool = False


def _classify_error(error: VenueError) -> PostOutcome:
    message = error.message
    kind_name = error.kind.value
    if isinstance(error, ExpectedReject):
        return PostOutcome(PostOutcomeKind.EXPECTED_REJECT, message, kind_name)
    if isinstance(error, OutcomeUnknown):
        return PostOutcome(PostOutcomeKind.UNKNOWN, message, kind_name)
    if isinstance(error, RateLimited | VenueMode):
        return PostOutcome(PostOutcomeKind.THROTTLED, message, kind_name, error.retry_after_s)
    if isinstance(error, AuthError):
        return PostOutcome(PostOutcomeKind.FATAL, message, kind_name)
    return PostOutcome(PostOutcomeKind.REJECTED, message, kind_name)


def _post_outcome(result: PostResult) -> PostOutcome:
    if result.ok:
        status = result.status.lower()
        kind = {
            "live": PostOutcomeKind.LIVE,
            "matched": PostOutcomeKind.MATCHED,
            "delayed": PostOutcomeKind.DELAYED,
        }.get(status, PostOutcomeKind.UNKNOWN)
        resp = result.response
        if resp is None:
            return PostOutcome(kind, status)
        return PostOutcome(kind, status, "", None, micro_text(resp.making_amount_micro),
                           micro_text(resp.taking_amount_micro), resp.trade_ids)
    if result.error is None:
        return PostOutcome(PostOutcomeKind.UNKNOWN, "no error and not ok")
    return _classify_error(result.error)


def _as_open_order(item: Any) -> OpenOrder:
    return item if isinstance(item, OpenOrder) else parse_open_order(item)


def _as_trade(item: Any) -> TradeEvent:
    return item if isinstance(item, TradeEvent) else parse_trade(item)


class VenueGateway:
    """Signing plus REST for one API key, with deadlines and outcome classification."""

    def __init__(
        self,
        rest: ClobRestClient,
        signer: OrderSigner,
        creds: ApiCreds,
        *,
        request_timeout_s: float,
        journal: Any,
    ) -> None:
        self.rest = rest
        self.signer = signer
        self.creds = creds
        self._timeout_s = request_timeout_s
        self._journal = journal

    @property
    def owner(self) -> str:
        return self.creds.api_key

    # --- signing ---------------------------------------------------------------------------------
    def sign_buy(
        self, *, token_id: str, price_ticks: int, size_micro: int, tick_size: str, neg_risk: bool, expiration_s: int
    ) -> SignedOrder:
        """A resting BUY from integers: ticks of `tick_size`, shares × 10⁶ (no float reaches the signature)."""
        return self.signer.build_limit_units(
            token_id=token_id, price_ticks=price_ticks, size_micro=size_micro, side=Side.BUY,
            tick_size=tick_size, neg_risk=neg_risk, expiration=expiration_s,
        )

    def sign_market_buy(
        self, *, token_id: str, amount_micro: int, price_cap_ticks: int, tick_size: str, neg_risk: bool
    ) -> SignedOrder:
        """A marketable BUY: `amount_micro` is collateral (pUSD × 10⁶) to spend, never shares (spec section 4).

        The cap is signed at exactly `price_cap_ticks` and the amount at exactly its cents: integers need
        no nudge against float floors.
        """
        return self.signer.build_market_units(
            token_id=token_id, amount_micro=amount_micro, price_cap_ticks=price_cap_ticks, side=Side.BUY,
            tick_size=tick_size, neg_risk=neg_risk,
        )

    # --- orders ------------------------------------------------------------------------------------
    async def post_orders(
        self, orders: Sequence[SignedOrder], *, order_type: str, post_only: bool,
        on_sent: Callable[[], None] | None = None,
    ) -> list[PostOutcome]:
        """Post in one batch (the caller chunks); one outcome per order, in order.

        `on_sent` is called once: when the request's bytes were written, or, on a transport that cannot
        tell (in-memory ones), when the call ends, whatever its outcome.
        """
        wires = [o.to_wire(self.owner, order_type, post_only) for o in orders]
        self._journal.write_many("post", [{"order": wire} for wire in wires])
        sent = _Once(on_sent)
        traced = None if on_sent is None else sent  # no trace hook on the request when nobody asks
        try:
            with venue_deadline(self._timeout_s, "POST /orders"):
                if len(wires) == 1:
                    results = [await self.rest.post_order(wires[0], on_sent=traced)]
                else:
                    results = await self.rest.post_orders(wires, on_sent=traced)
        except VenueError as exc:
            outcome = _classify_error(exc)
            self._journal.write("post_error", order_ids=[o.order_id for o in orders], outcome=outcome.kind.value,
                                message=outcome.message)
            return [outcome] * len(orders)
        finally:
            sent()
        outcomes = [_post_outcome(r) for r in results]
        if len(outcomes) != len(orders):
            # A venue answering with the wrong number of legs: we cannot tell which landed.
            log.warning("batch answer has %d legs for %d orders", len(outcomes), len(orders))
            outcomes = [PostOutcome(PostOutcomeKind.UNKNOWN, "leg count mismatch")] * len(orders)
        for order, outcome in zip(orders, outcomes, strict=True):
            self._journal.write("post_result", order_id=order.order_id, outcome=outcome.kind.value,
                                message=outcome.message, making=outcome.making_amount, taking=outcome.taking_amount)
        return outcomes

    async def post_one(self, order: SignedOrder, *, order_type: str, post_only: bool) -> PostOutcome:
        return (await self.post_orders([order], order_type=order_type, post_only=post_only))[0]

    # Cancels are sent first and journaled after, with their answer: a journal that cannot be written
    # must never stand between the bot and its cancel (`Journal.write` never raises either).
    async def cancel_ids(self, order_ids: Sequence[str], *, on_sent: Callable[[], None] | None = None) -> CancelOutcome:
        """DELETE /orders. `on_sent` is called once: when the request's bytes were written, or, on a transport
        that cannot tell (in-memory ones), when the call ends, whatever its outcome."""
        ids = list(order_ids)
        sent = _Once(on_sent)
        try:
            with venue_deadline(self._timeout_s, "DELETE /orders"):
                if on_sent is None:
                    result = await self.rest.cancel_orders(ids)
                else:
                    result = await self.rest.cancel_orders(ids, on_sent=sent)
        except VenueError as exc:
            self._journal.write("cancel", order_ids=ids, error=exc.message)
            return CancelOutcome(unknown=True, fatal=isinstance(exc, AuthError))
        finally:
            sent()
        return self._cancel_outcome(result, "cancel", order_ids=ids)

    async def cancel_market(self, condition_id: str) -> CancelOutcome:
        try:
            with venue_deadline(self._timeout_s, "DELETE /cancel-market-orders"):
                result = await self.rest.cancel_market_orders(market=condition_id)
        except VenueError as exc:
            self._journal.write("cancel_market", market=condition_id, error=exc.message)
            return CancelOutcome(unknown=True, fatal=isinstance(exc, AuthError))
        return self._cancel_outcome(result, "cancel_market", market=condition_id)

    async def cancel_everything(self) -> CancelOutcome:
        """DELETE /cancel-all: every open order of the key, in every market."""
        try:
            with venue_deadline(self._timeout_s, "DELETE /cancel-all"):
                result = await self.rest.cancel_all()
        except VenueError as exc:
            self._journal.write("cancel_everything", error=exc.message)
            return CancelOutcome(unknown=True, fatal=isinstance(exc, AuthError))
        return self._cancel_outcome(result, "cancel_everything")

    def _cancel_outcome(self, result: Any, record_kind: str, **request: Any) -> CancelOutcome:
        out = CancelOutcome(canceled=list(result.canceled))
        for oid, reason in result.not_canceled.items():
            reject = result.not_canceled_kinds.get(oid, RejectKind.UNKNOWN)
            if reject in (RejectKind.ALREADY_DONE, RejectKind.MARKET_RESOLVED):
                out.done[oid] = reason
            elif reject is RejectKind.NOT_FOUND:
                out.not_found[oid] = reason
            else:
                out.failed[oid] = reason
        if result.failed:
            out.unknown = True
        self._journal.write(record_kind, **request, canceled=out.canceled, done=out.done, not_found=out.not_found,
                            failed=out.failed, unknown=out.unknown)
        return out

    # --- reads -------------------------------------------------------------------------------------
    async def open_orders(self, condition_id: str | None) -> list[OpenOrder]:
        """Our open orders in the market (every market of the key for None)."""
        with venue_deadline(self._timeout_s, "GET /data/orders"):
            items = await self.rest.get_open_orders(market=condition_id)
        return [_as_open_order(i) for i in items]

    async def order(self, order_id: str) -> OpenOrder | None:
        """One order's current record (finished ones included, where the venue keeps them); None if unknown."""
        with venue_deadline(self._timeout_s, "GET /data/order"):
            item = await self.rest.get_order(order_id)
        return None if item is None else _as_open_order(item)

    async def trades(self, condition_id: str, after_s: int | None = None) -> list[TradeEvent]:
        with venue_deadline(self._timeout_s, "GET /data/trades"):
            items = await self.rest.get_trades(market=condition_id, after_s=after_s)
        return [_as_trade(i) for i in items]

    async def tick_size(self, token_id: str) -> str:
        with venue_deadline(self._timeout_s, "GET /tick-size"):
            return await self.rest.get_tick_size(token_id)

    async def conditional_balance_micro(self, token_id: str) -> int:
        """Shares × 10⁶ of `token_id` in the maker wallet: the venue's balance is already in those units."""
        with venue_deadline(self._timeout_s, "GET /balance-allowance"):
            body = await self.rest.get_balance_allowance(
                "CONDITIONAL", token_id, signature_type=int(self.signer.signature_type)  # the maker wallet
            )
        return int(body.get("balance", "0"))

    async def orders_scoring(self, order_ids: Sequence[str]) -> dict[str, bool]:
        """Which of our orders score for liquidity rewards now (POST /orders-scoring)."""
        with venue_deadline(self._timeout_s, "POST /orders-scoring"):
            return await self.rest.are_orders_scoring(order_ids)

    async def reward_markets(self, date: str) -> list[dict[str, Any]]:
        """Our reward (and, on the simulator, rebate) accruals per market for a UTC date."""
        with venue_deadline(self._timeout_s, "GET /rewards/user/markets"):
            return await self.rest.get_reward_markets(date)

    def __repr__(self) -> str:
        return f"<VenueGateway signer={self.signer.address[:10]}…>"
