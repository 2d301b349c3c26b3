"""Dry run: the real engine on real market data, with a gateway that sends no order and cancels nothing.

Quotes are signed (their ids are real hashes) and journalled as `dry_run_post`, then held locally as
if the venue had accepted them, so the order manager, the reconciler and the status view behave as
in a live run. Nothing that changes the account ever leaves the process: no POST, no DELETE, no
heartbeat (the supervisor skips it), no user channel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.engine.gateway import CancelOutcome, PostOutcome, PostOutcomeKind, VenueGateway
from bot.protocol.messages import OpenOrder, OrderStatus
from bot.protocol.signing import Side, SignedOrder

__all__ = ["DryRunGateway"]


class DryRunGateway(VenueGateway):
    """A `VenueGateway` whose writes stay in this process. Reads of public data (tick size) are real."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._resting: dict[str, tuple[SignedOrder, str]] = {}  # order id -> (order, market)
        self._market_of_token: dict[str, str] = {}

    def register_market(self, condition_id: str, token_ids: Sequence[str]) -> None:
        for token in token_ids:
            self._market_of_token[token] = condition_id

    async def post_orders(
        self, orders: Sequence[SignedOrder], *, order_type: str, post_only: bool,
        on_sent: Callable[[], None] | None = None,
    ) -> list[PostOutcome]:
        if on_sent is not None:  # nothing goes on a wire: "sent" is now
            on_sent()
        outcomes = []
        for order in orders:
            self._journal.write("dry_run_post", order=order.to_wire(self.owner, order_type, post_only))
            if order_type in ("FOK", "FAK"):
                # A taker order would need the venue's book to fill: in a dry run it is never sent.
                outcomes.append(PostOutcome(PostOutcomeKind.EXPECTED_REJECT, "dry run: not sent", "dry_run"))
                continue
            self._resting[order.order_id] = (order, self._market_of_token.get(order.token_id, ""))
            outcomes.append(PostOutcome(PostOutcomeKind.LIVE, "live"))
        return outcomes

    async def cancel_ids(self, order_ids: Sequence[str], *, on_sent: Callable[[], None] | None = None) -> CancelOutcome:
        if on_sent is not None:  # nothing goes on a wire: "sent" is now
            on_sent()
        self._journal.write("dry_run_cancel", order_ids=list(order_ids))
        out = CancelOutcome()
        for oid in order_ids:
            if self._resting.pop(oid, None) is not None:
                out.canceled.append(oid)
            else:
                out.not_found[oid] = "dry run: not resting"
        return out

    async def cancel_market(self, condition_id: str) -> CancelOutcome:
        ids = [oid for oid, (_, market) in self._resting.items() if market == condition_id]
        return await self.cancel_ids(ids)

    async def cancel_everything(self) -> CancelOutcome:
        return await self.cancel_ids(list(self._resting))

    async def open_orders(self, condition_id: str | None) -> list[OpenOrder]:
        return [
            OpenOrder(
                id=oid, status=OrderStatus.LIVE, status_reason="", owner=self.owner, maker_address=order.maker,
                market=market, asset_id=order.token_id, side=Side(order.side),
                original_size_micro=order.taker_amount if order.side == Side.BUY else order.maker_amount,
                size_matched_micro=0, price_micro=0, outcome="", expiration_s=order.expiration,
                order_type="GTD" if order.expiration else "GTC", associate_trades=(), created_at_ms=0,
            )
            for oid, (order, market) in self._resting.items()
            if condition_id is None or market == condition_id
        ]

    async def order(self, order_id: str) -> OpenOrder | None:
        return None

    async def trades(self, condition_id: str, after_s: int | None = None) -> list[Any]:
        return []

    async def conditional_balance_micro(self, token_id: str) -> int:
        return 0

    async def orders_scoring(self, order_ids: Sequence[str]) -> dict[str, bool]:
        """Dry-run orders are not on the venue: nothing to judge (the check skips unanswered ids)."""
        return {}

    async def reward_markets(self, date: str) -> list[dict[str, Any]]:
        return []
