"""A market's reconciler: the venue's open orders against our cache, periodically, after a reconnect,
after a storm, and at start when seeding.

Guarantees:
- A reconciliation judges an order only by the snapshot it requested: an order whose state changed
  (a WS event, our own request) after the listing was requested is left alone, so an order filled or
  cancelled during the GET is never a "stray", and a fill is never recorded as a cancel.
- An order of ours absent from the venue is settled by evidence: `cancelling` → cancelled (the cancel
  took effect; its answer was lost); `pending`/`unknown` past the grace window → the venue's record
  (it landed and ended unseen: filled or cancelled, so its late WS events repeat a known end), and
  lost only if the venue has no record; `live` → the
  venue's record of that order: filled stays filled, cancelled by the venue (its WS report may still
  be on the way) is cancelled, and only an order the venue does not know at all is "lost".
- Only real mismatches (an order of ours on the venue that our cache had ended, a live order the venue
  does not know) count as repairs, or stop the market with `reconcile_action=exit`.
- The maintenance task runs the storm rebuild too (cancel-all, then reconcile), so a storm never
  blocks the user-event consumer that every market depends on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import trio

from bot.engine.stops import MarketStop
from bot.protocol.errors import VenueError
from bot.protocol.messages import OrderStatus
from settings import UnknownOrderAction
from statemachines.market import ExitReason, MarketState, MarketTrigger
from statemachines.order import Order, OrderState, OrderTrigger

if TYPE_CHECKING:
    from bot.engine.market import MarketRunner

__all__ = ["ReconcileReport", "Reconciler"]

log = logging.getLogger(__name__)

_EPS = 1e-9


class ReconcileReport:
    """What one reconciliation found (for tests and the journal)."""

    __slots__ = ("cancel_confirmed", "filled", "lost", "skipped_changed", "strays", "venue_cancelled")

    def __init__(self) -> None:
        self.strays: list[str] = []
        self.lost: list[str] = []
        self.filled: list[str] = []
        self.cancel_confirmed: list[str] = []
        self.venue_cancelled: list[str] = []
        self.skipped_changed = 0


class Reconciler:
    """The market's maintenance task (`run`) and its reconciliation, catch-up and seeding steps."""

    def __init__(self, runner: MarketRunner) -> None:
        self._r = runner
        self.last: ReconcileReport | None = None

    async def run(self) -> None:
        r = self._r
        while True:
            with trio.move_on_after(r.settings.reconcile_interval_s):
                await r.reconcile_wanted.wait()
            r.reconcile_wanted = trio.Event()
            if await self.rebuild_if_storm():
                continue
            if r.resync_pending:
                r.resync_pending = False
                # After a reconnect every market of the key reconciles; their slots are spread a few ms
                # apart (the first market has none) so the venue does not get them all in one instant.
                if r.resync_delay_s > 0:
                    await trio.sleep(r.resync_delay_s)
            async with r.lock:
                await self.reconcile()

    async def rebuild_if_storm(self) -> bool:
        """Run the storm rebuild the user-event handler asked for, if any (under the order lock)."""
        r = self._r
        if not r.storm_pending:
            return False
        r.storm_pending = False
        async with r.lock:
            await self.storm_rebuild()
        return True

    async def storm_rebuild(self) -> None:
        r = self._r
        if r.machine.state is MarketState.CUTOFF:
            await r.cancel_all_verified("storm", deadline=r.clock.to_trio(r.info.end_s))
            return
        r.transition(MarketTrigger.BEGIN_RECONCILE, "storm rebuild")
        result = await r.cancel_all_verified("storm", deadline=r.clock.to_trio(r.cutoff_s))
        if not result.verified:
            raise MarketStop(ExitReason.CANCEL_UNVERIFIED, "storm cancel-all did not verify")
        await self.reconcile()
        r.transition(MarketTrigger.RECONCILED, "storm rebuild done")

    async def reconcile(self) -> ReconcileReport | None:
        """Compare the venue's open orders for the market with the cache; repair or stop."""
        r = self._r
        manager = r.manager
        r.stats.reconciliations += 1
        snapshot_seq = manager.seq
        try:
            venue = await r.gateway.open_orders(r.info.condition_id)
        except VenueError as exc:
            log.warning("reconcile of %s failed: %s", r.info.slug, exc)
            return None
        report = ReconcileReport()
        now = r.clock.now_s()
        on_venue = {o.id: o for o in venue}
        for oid, venue_order in on_venue.items():
            order = manager.by_id.get(oid)
            if order is not None and manager.changed_since(oid, snapshot_seq):
                report.skipped_changed += 1
                continue
            if order is None or order.is_terminal:
                report.strays.append(oid)
                continue
            if order.state in (OrderState.PENDING, OrderState.UNKNOWN):
                manager.transition(order, OrderTrigger.ACCEPTED, reason="found on venue")
            matched = float(venue_order.size_matched)
            if matched > order.matched_shares:
                manager.transition(order, OrderTrigger.PARTIALLY_FILLED, reason="venue size_matched", matched=matched)
        absent_live: list[Order] = []
        absent_unsettled: list[Order] = []
        for order in manager.open_orders():
            oid = order.order_id
            if oid in on_venue or now - order.created_at_s < r.settings.reconcile_grace_s:
                continue
            if manager.changed_since(oid, snapshot_seq):
                report.skipped_changed += 1
                continue
            if order.state is OrderState.CANCELLING:
                report.cancel_confirmed.append(oid)
                manager.transition(order, OrderTrigger.CANCEL_CONFIRMED, reason="absent from venue after cancel")
            elif order.state in (OrderState.PENDING, OrderState.UNKNOWN):
                absent_unsettled.append(order)  # never landed, or landed and ended unseen: ask the venue
            else:
                absent_live.append(order)
        for order in absent_unsettled:
            await self._settle_unlanded(order)
        for order in absent_live:
            await self._settle_absent(order, report)
        await self.catch_up_fills()
        self.last = report
        if report.strays or report.lost:
            r.stats.reconcile_repairs += 1
            r.journal.write("reconcile_mismatch", market=r.info.condition_id, strays=report.strays,
                            lost=report.lost)
            if r.settings.reconcile_action is UnknownOrderAction.EXIT:
                raise MarketStop(ExitReason.RECONCILE_MISMATCH,
                                 f"{len(report.strays)} unknown, {len(report.lost)} lost")
            if report.strays:
                manager.apply_cancel_outcome(await r.gateway.cancel_ids(report.strays))
        return report

    async def _settle_unlanded(self, order: Order) -> None:
        """A `pending`/`unknown` order the listing lacks past the grace window: `lost` only if the venue
        has no record of it. One that landed and ended unseen (a venue cancel or a fill while its POST
        answer was lost and its WS events are still on the way) ends as the venue says, so its late
        PLACEMENT/CANCELLATION/UPDATE are repeats of a known end, not contradictions of a wrong `lost`."""
        r = self._r
        manager = r.manager
        try:
            record = await r.gateway.order(order.order_id)
        except VenueError as exc:
            log.warning("order %s of unknown outcome absent, lookup failed: %s", order.order_id[:12], exc)
            return  # judged again at the next reconciliation
        if order.state not in (OrderState.PENDING, OrderState.UNKNOWN):
            return  # an event or our own request settled it during the lookup
        if record is None:  # a fill, if any, is counted from its trade
            manager.transition(order, OrderTrigger.LOST, reason="not on venue after grace")
            return
        matched = float(record.size_matched)
        if record.status is OrderStatus.MATCHED or matched >= order.size_shares - _EPS:
            manager.transition(order, OrderTrigger.FILLED, reason="venue record: matched", matched=matched or None)
        elif record.status in (OrderStatus.LIVE, OrderStatus.DELAYED):  # landed after the listing was taken
            manager.transition(order, OrderTrigger.ACCEPTED, reason=f"venue record: {record.status.value}")
        else:
            manager.transition(order, OrderTrigger.VENUE_CANCELLED, reason=f"venue record: {record.status.value}",
                               matched=matched or None)

    async def _settle_absent(self, order: Order, report: ReconcileReport) -> None:
        """A live order the listing lacks: ask the venue for its record (filled or cancelled unseen)."""
        r = self._r
        manager = r.manager
        try:
            record = await r.gateway.order(order.order_id)
        except VenueError as exc:
            log.warning("order %s absent from the listing, lookup failed: %s", order.order_id[:12], exc)
            return  # judged again at the next reconciliation
        if order.is_terminal:
            return  # an event settled it during the lookup
        matched = float(record.size_matched) if record is not None else 0.0
        if record is not None and (record.status is OrderStatus.MATCHED or matched >= order.size_shares - _EPS):
            report.filled.append(order.order_id)
            manager.transition(order, OrderTrigger.FILLED, reason="venue record: matched", matched=matched or None)
            return
        if record is not None:  # the venue ended it (heartbeat, GTD, resolution): told over REST first
            report.venue_cancelled.append(order.order_id)
            manager.transition(order, OrderTrigger.VENUE_CANCELLED, reason=f"venue record: {record.status.value}",
                               matched=matched or None)
            return
        report.lost.append(order.order_id)
        manager.transition(order, OrderTrigger.VENUE_CANCELLED, reason="missing on venue")

    async def catch_up_fills(self) -> None:
        """Count the fills whose user events were lost (a WS gap outlasting a trade's status events):
        the venue's trades of the market over REST, each applied like an event (counted once per key).

        After a cancel-all start the inventory holds this run's fills only (what was bought before is not
        seeded), so only trades from the start on count; after seeding, every trade of the market does."""
        r = self._r
        after_s = int(r.started_at_s) if r.settings.startup_cancel_all else None
        try:
            trades = await r.gateway.trades(r.info.condition_id, after_s=after_s)
        except VenueError as exc:
            log.warning("trades of %s not fetched: %s", r.info.slug, exc)
            return
        for trade in trades:
            r.user_handler.on_trade_event(trade)

    async def seed(self) -> None:
        """Restart without cancelling: adopt our resting BUYs as ladder levels, cancel the rest."""
        r = self._r
        info = r.info
        venue = await r.gateway.open_orders(info.condition_id)
        now = r.clock.now_s()
        unrelated: list[str] = []
        by_token: dict[str, list[Any]] = {t: [] for t in info.token_ids}
        for o in venue:
            if o.side.name != "BUY" or o.asset_id not in by_token:
                unrelated.append(o.id)
            else:
                by_token[o.asset_id].append(o)
        # The market's trades first (each fill counted once, at its price): a trade event the venue
        # re-sends after the restart (MINED, CONFIRMED, FAILED) is then a repeat, not a second fill.
        await self.catch_up_fills()
        for token, orders in by_token.items():
            orders.sort(key=lambda o: float(o.price), reverse=True)
            for level, o in enumerate(orders):
                order = Order(o.id, token, side="BUY", price=float(o.price), size_shares=float(o.original_size),
                              order_type=o.order_type or "GTC", created_at_s=now, level=level)
                order.trigger(OrderTrigger.ACCEPTED, reason="seeded", at_s=now)
                if float(o.size_matched) > 0:
                    order.trigger(OrderTrigger.PARTIALLY_FILLED, matched_shares=float(o.size_matched), at_s=now)
                r.manager.adopt(order)
            pos = r.inventory.position(token)
            try:
                shares = await r.gateway.conditional_balance_shares(token)
            except VenueError as exc:
                log.warning("balance of %s unknown: %s", token[:12], exc)
                shares = pos.shares  # what the trades say
            book = r.books.book(token)
            mark = book.best_bid if book is not None and book.best_bid is not None else 0.5
            # The balance is the truth for the shares. The part the market's trades do not explain has
            # an unknown cost basis: mark it at the bid (or 0.5), which the completion cap then treats
            # conservatively.
            r.inventory.seed(token, shares, pos.cost_pusd + (shares - pos.shares) * mark)
        r.journal.write("seeded", market=info.condition_id,
                        orders={t: [o.id for o in v] for t, v in by_token.items()}, unrelated=unrelated)
        if unrelated and r.settings.cancel_unrelated_on_seed:
            r.manager.apply_cancel_outcome(await r.gateway.cancel_ids(unrelated))
