"""A market's user-event handler: order and trade events applied to the order cache and inventory.

Guarantees:
- It never waits on the venue: events are applied synchronously, so the account's one user channel
  (fanned out by `UserEventHub`, which blocks on a full market queue rather than drop events) never
  stalls behind one market's trouble. A storm asks the market's maintenance task for a rebuild, or
  stops the market; it never runs a cancel-all here.
- Every fill is counted once per (trade, order); only orders this run placed or seeded count.
- An event that may legitimately not apply (a report older than the order's end) is checked against
  the order table first; anything else the table refuses is loud (`bot.engine.illegal`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.engine.fills import fills_in_trade, key_fills_in_trade
from bot.engine.stops import MarketStop
from bot.protocol.messages import OrderEvent, OrderEventType, OrderStatus, TradeEvent
from bot.protocol.ws import Resynced
from settings import StormAction
from statemachines.market import ExitReason
from statemachines.order import OrderState, OrderTrigger

if TYPE_CHECKING:
    from bot.engine.market import MarketRunner

__all__ = ["UserEventHandler"]

log = logging.getLogger(__name__)


class UserEventHandler:
    """Consumes one market's user events; `on_order_event`/`on_trade_event` apply one each."""

    def __init__(self, runner: MarketRunner) -> None:
        self._r = runner

    async def consume(self) -> None:
        r = self._r
        async for event in r.user_events:
            if isinstance(event, Resynced):
                r.request_reconcile(resync=True)
            elif isinstance(event, OrderEvent):
                self.on_order_event(event)
            elif isinstance(event, TradeEvent):
                self.on_trade_event(event)
            r.wake()

    def _ours(self, market: str, asset_id: str) -> bool:
        info = self._r.info
        return market == info.condition_id or asset_id in info.token_ids

    def on_order_event(self, event: OrderEvent) -> None:
        r = self._r
        if not self._ours(event.market, event.asset_id):
            return
        manager = r.manager
        order = manager.by_id.get(event.id)
        now = r.clock.now_s()
        if order is None:
            log.debug("order event for unknown id %s", event.id[:12])
            if r.storm.record_unknown(now):
                self._on_storm()
            return
        r.storm.record_known()
        matched = event.size_matched_micro
        reason = f"ws {event.type.value} {event.status.value} {event.status_reason}".strip()
        if event.type is OrderEventType.PLACEMENT:
            trigger = OrderTrigger.ACCEPTED
        elif event.type is OrderEventType.UPDATE:
            full = event.status is OrderStatus.MATCHED or event.size_matched_micro >= event.original_size_micro > 0
            trigger = OrderTrigger.FILLED if full else OrderTrigger.PARTIALLY_FILLED
        elif order.state is OrderState.CANCELLING:  # CANCELLATION confirming our cancel
            trigger = OrderTrigger.CANCEL_CONFIRMED
        else:  # the venue's own cancel (heartbeat lapse, GTD expiry, market resolved, FOK/FAK killed)
            trigger = OrderTrigger.VENUE_CANCELLED
        if order.state is OrderState.FAILED and event.id in r.reconciler.declared_lost and (
            trigger in (OrderTrigger.VENUE_CANCELLED, OrderTrigger.FILLED)
            or (trigger is OrderTrigger.PARTIALLY_FILLED and order.level is None)  # a FOK/FAK never rests
        ):
            # The POST of unknown outcome landed after all and ended without resting (killed, filled,
            # cancelled) before a listing could show it: the "lost" verdict's "not resting" holds. Its
            # fills, if any, are counted from the trade events.
            log.info("late report of %r, called lost: %s", order, trigger)
            return
        if order.state is OrderState.FAILED and event.id in r.reconciler.declared_lost and (
            trigger is OrderTrigger.ACCEPTED
        ):
            # The venue had no record of it when it was called lost, so this PLACEMENT is either stale (it
            # ended before the listing) or it landed later still. Either way the order is not brought back
            # to life: if it rests, the next reconciliation lists it as a stray and cancels it.
            log.warning("late placement of %r, called lost: the next reconciliation cancels it if it rests", order)
            return
        if order.state in (OrderState.FILLED, OrderState.CANCELLED) and not manager.allows(order, trigger):
            # A report older than the order's end (it cannot rest again): nothing to change. Rejected
            # and failed orders stay strict: anything they hear is loud (a wrong `lost` verdict).
            log.debug("late %s for %r", trigger, order)
            return
        if trigger is OrderTrigger.FILLED or trigger is OrderTrigger.PARTIALLY_FILLED:
            manager.transition(order, trigger, reason=reason, matched_micro=matched)
        else:
            manager.transition(order, trigger, reason=reason, matched_micro=matched or None)

    def on_trade_event(self, event: TradeEvent) -> None:
        r = self._r
        info = r.info
        fills = fills_in_trade(
            event,
            our_order_ids=r.manager.by_id,
            tokens=info.token_ids,
            fee_rate=info.fee_rate,
            fee_exponent=info.fee_exponent,
        )
        # Fills of our key on orders this run never knew (`by_id`) count in two cases:
        # - matched during this run: an order a previous process left filled before the startup cancel-all or
        #   the seed reached it. It moved this run's inventory; the seed adds only the listed fills not
        #   counted yet;
        # - a fill the inventory already holds (the seed's balance held it): its later FAILED takes it back,
        #   even when its order was cancelled before the seed and so is not ours to know.
        recent = event.match_time_ms >= r.started_at_s * 1000
        fills += [
            fill
            for fill in key_fills_in_trade(event, our_owner=r.gateway.owner, tokens=info.token_ids,
                                           fee_rate=info.fee_rate, fee_exponent=info.fee_exponent)
            if fill.order_id not in r.manager.by_id and (recent or r.inventory.knows(fill))
        ]
        changed = False
        for fill in fills:
            if r.inventory.apply(fill):
                changed = True
                r.journal.write("fill", market=info.condition_id, trade_id=fill.trade_id,
                                order_id=fill.order_id, token_id=fill.token_id, side=fill.side, shares=fill.shares,
                                price=fill.price, fee=fill.fee_pusd, status=fill.status.value, taker=fill.taker)
        if fills:
            r.storm.record_known()
        if changed:
            r.notify()

    def _on_storm(self) -> None:
        r = self._r
        r.stats.storms += 1
        r.journal.write("storm", market=r.info.condition_id, **r.storm.statistics())
        if r.settings.storm_action is StormAction.SHUTDOWN:
            raise MarketStop(ExitReason.STORM, "unknown-order storm")
        r.request_storm_rebuild()
