"""A market's reconciler: the venue's open orders against our cache, periodically, after a reconnect,
after a storm, and at start when seeding.

Guarantees:
- A reconciliation judges an order only by the snapshot it requested: an order whose state changed
  (a WS event, our own request) after the listing was requested is left alone, so an order filled or
  cancelled during the GET is never a "stray", and a fill is never recorded as a cancel.
- An order of ours absent from the venue is settled by evidence: `cancelling` → cancelled (the cancel
  took effect; its answer was lost); `pending`/`unknown` past the grace window → the venue's record
  (it landed and ended unseen: filled or cancelled, so its late WS events repeat a known end), and
  lost only if the venue has no record at two lookups at least the grace window apart (a POST that
  timed out may still sit in an overloaded venue's queue: called lost at the first miss, it would land,
  rest and fill while our caps no longer counted it); `live` → the
  venue's record of that order: filled stays filled, cancelled by the venue (its WS report may still
  be on the way) is cancelled, and only an order the venue does not know at all, at two reconciliations
  in a row, is "lost" (a venue may answer null for a finished order whose WS report is still on its way).
- Only real mismatches (an order of ours on the venue that our cache had ended, a live order the venue
  does not know) count as repairs, or stop the market with `reconcile_action=exit`.
- The maintenance task runs the storm rebuild too (cancel-all, then reconcile), so a storm never
  blocks the user-event consumer that every market depends on.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import trio

from bot.engine.fills import fills_in_trade, key_fills_in_trade
from bot.engine.stops import MarketStop
from bot.protocol.errors import VenueError
from bot.protocol.messages import OrderStatus
from bot.protocol.money import MICRO
from settings import UnknownOrderAction
from statemachines.market import ExitReason, MarketState, MarketTrigger
from statemachines.order import Order, OrderState, OrderTrigger

if TYPE_CHECKING:
    from bot.engine.market import MarketRunner

__all__ = ["ReconcileReport", "Reconciler"]

log = logging.getLogger(__name__)

_SNAPSHOT_TRIES = 5  # listings around the balance reads before the seed settles for the last reads



class ReconcileReport:
    """What one reconciliation found (for tests and the journal)."""

    __slots__ = ("cancel_confirmed", "deferred", "filled", "lost", "skipped_changed", "strays", "venue_cancelled")

    def __init__(self) -> None:
        self.strays: list[str] = []
        self.lost: list[str] = []
        self.filled: list[str] = []
        self.cancel_confirmed: list[str] = []
        self.venue_cancelled: list[str] = []
        self.deferred: list[str] = []  # absent and unknown to the venue once: judged at the next reconciliation
        self.skipped_changed = 0


class Reconciler:
    """The market's maintenance task (`run`) and its reconciliation, catch-up and seeding steps."""

    def __init__(self, runner: MarketRunner) -> None:
        self._r = runner
        self.last: ReconcileReport | None = None
        # Live orders absent from a listing with no venue record: id -> the seq of that first snapshot.
        self._unknown_to_venue: dict[str, int] = {}
        # Orders of unknown outcome this reconciler called lost: a later report that they ended (a FOK/FAK
        # killed or filled on entry, a venue cancel) is consistent with "not resting", not a refused edge.
        self.declared_lost: set[str] = set()
        # Orders of unknown outcome the venue had no record of at one lookup: id -> when (clock s). Lost
        # only if a lookup at least `reconcile_grace_s` later still finds none.
        self._unlanded_miss: dict[str, float] = {}
        self.seeded = False  # a seeding start read its position from the venue (False: no listing by the cutoff)

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
        r.finish_reconciling("storm rebuild done")

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
            matched = venue_order.size_matched_micro
            if matched > order.matched_micro:
                manager.transition(order, OrderTrigger.PARTIALLY_FILLED, reason="venue size_matched",
                                   matched_micro=matched)
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
        for oid in [oid for oid in self._unlanded_miss if not self._unsettled(manager.by_id.get(oid))]:
            del self._unlanded_miss[oid]  # settled since (an event, the listing, our cancel)
        for order in absent_unsettled:
            await self._settle_unlanded(order)
        for order in absent_live:
            await self._settle_absent(order, report, snapshot_seq)
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

    @staticmethod
    def _unsettled(order: Order | None) -> bool:
        return order is not None and order.state in (OrderState.PENDING, OrderState.UNKNOWN)

    def judge_unsettled_at_s(self, order: Order) -> float:
        """When (clock s) an order of unknown outcome is next due a lookup: the grace window after its
        creation, and after the venue's first "no record" of it."""
        grace = self._r.settings.reconcile_grace_s
        due = order.created_at_s + grace
        missed = self._unlanded_miss.get(order.order_id)
        return due if missed is None else max(due, missed + grace)

    async def _settle_unlanded(self, order: Order) -> None:
        """A `pending`/`unknown` order the listing lacks past the grace window: `lost` only if the venue
        has no record of it. One that landed and ended unseen (a venue cancel or a fill while its POST
        answer was lost and its WS events are still on the way) ends as the venue says, so its late
        PLACEMENT/CANCELLATION/UPDATE are repeats of a known end, not contradictions of a wrong `lost`."""
        r = self._r
        manager = r.manager
        oid = order.order_id
        if r.clock.now_s() < self.judge_unsettled_at_s(order):
            return  # the venue's first "no record" was too recent to be a verdict
        try:
            record = await r.gateway.order(oid)
        except VenueError as exc:
            log.warning("order %s of unknown outcome absent, lookup failed: %s", oid[:12], exc)
            return  # judged again at the next reconciliation
        if order.state not in (OrderState.PENDING, OrderState.UNKNOWN):
            return  # an event or our own request settled it during the lookup
        if record is None:
            if oid not in self._unlanded_miss:
                # Not yet: its POST may still be queued at the venue. It keeps counting as ours (caps,
                # its level) until a second lookup, a grace window later, finds no record either.
                self._unlanded_miss[oid] = r.clock.now_s()
                return
            del self._unlanded_miss[oid]
            # A fill, if any, is counted from its trade.
            manager.transition(order, OrderTrigger.LOST, reason="not on venue after grace")
            self.declared_lost.add(oid)
            return
        self._unlanded_miss.pop(oid, None)
        matched = record.size_matched_micro
        if record.status is OrderStatus.MATCHED or record.size_matched_micro >= record.original_size_micro > 0:
            manager.transition(order, OrderTrigger.FILLED, reason="venue record: matched", matched_micro=matched or None)
        elif record.status in (OrderStatus.LIVE, OrderStatus.DELAYED):  # landed after the listing was taken
            manager.transition(order, OrderTrigger.ACCEPTED, reason=f"venue record: {record.status.value}")
        else:
            manager.transition(order, OrderTrigger.VENUE_CANCELLED, reason=f"venue record: {record.status.value}",
                               matched_micro=matched or None)

    async def _settle_absent(self, order: Order, report: ReconcileReport, snapshot_seq: int) -> None:
        """A live order the listing lacks: ask the venue for its record (filled or cancelled unseen).

        No record is ambiguous: a venue may answer null for a finished order (spec 1.1, unconfirmed), so
        an order it ended just before the snapshot, whose WS report is still on its way, looks the same
        as one it lost. The verdict "lost" waits for a second reconciliation that still finds it absent,
        unknown to the venue and unchanged since the first."""
        r = self._r
        manager = r.manager
        try:
            record = await r.gateway.order(order.order_id)
        except VenueError as exc:
            log.warning("order %s absent from the listing, lookup failed: %s", order.order_id[:12], exc)
            return  # judged again at the next reconciliation
        if order.is_terminal:
            return  # an event settled it during the lookup
        matched = record.size_matched_micro if record is not None else 0
        if record is not None and (
            record.status is OrderStatus.MATCHED or record.size_matched_micro >= record.original_size_micro > 0
        ):
            report.filled.append(order.order_id)
            manager.transition(order, OrderTrigger.FILLED, reason="venue record: matched", matched_micro=matched or None)
            return
        if record is not None:  # the venue ended it (heartbeat, GTD, resolution): told over REST first
            report.venue_cancelled.append(order.order_id)
            manager.transition(order, OrderTrigger.VENUE_CANCELLED, reason=f"venue record: {record.status.value}",
                               matched_micro=matched or None)
            return
        first_seq = self._unknown_to_venue.get(order.order_id)
        if first_seq is None or manager.changed_since(order.order_id, first_seq):
            self._unknown_to_venue[order.order_id] = snapshot_seq
            report.deferred.append(order.order_id)
            return
        del self._unknown_to_venue[order.order_id]
        report.lost.append(order.order_id)
        manager.transition(order, OrderTrigger.VENUE_CANCELLED, reason="missing on venue")

    async def _until_cutoff(self, request: Callable[[], Awaitable[Any]], what: str) -> Any | None:
        """`request()` retried with doubling pauses (as the cancel-all's) until it answers; None if the
        cutoff comes first. A transient 5xx or timeout while seeding is not a crash."""
        r = self._r
        pause_s = r.settings.cancel_all_retry_base_s
        with trio.move_on_at(r.clock.to_trio(r.cutoff_s)):
            while True:
                try:
                    return await request()
                except VenueError as exc:
                    log.warning("seeding %s: %s not listed (retry in %.1f s): %s", r.info.slug, what, pause_s, exc)
                await trio.sleep(pause_s)
                pause_s = min(2 * pause_s, r.settings.cancel_all_retry_max_s)
        return None

    async def catch_up_fills(self) -> None:
        """Count the fills whose user events were lost (a WS gap outlasting a trade's status events):
        the venue's trades of the market over REST, each applied like an event (counted once per key).

        Only orders this run placed or seeded count (`fills_in_trade`), and a seeded order's fills from
        before the seed were recorded as seen then; after a cancel-all start, only trades from the start on."""
        r = self._r
        after_s = int(r.started_at_s) if r.settings.startup_cancel_all else None
        try:
            trades = await r.gateway.trades(r.info.condition_id, after_s=after_s)
        except VenueError as exc:
            log.warning("trades of %s not fetched: %s", r.info.slug, exc)
            return
        for trade in trades:
            r.user_handler.on_trade_event(trade)

    async def _listed_fills(self) -> list[Any] | None:
        """Every fill of our key in the market, from the venue's trades listing (FAILED trades left out),
        retried with doubling pauses until the cutoff; None if the cutoff came first. The key's trades are
        ours whichever order they filled (orders since cancelled or filled, a previous process's)."""
        r = self._r
        info = r.info
        trades = await self._until_cutoff(functools.partial(r.gateway.trades, info.condition_id), "trades")
        if trades is None:
            return None
        found: dict[tuple[str, str], Any] = {}
        for trade in trades:
            if trade.status.value == "FAILED":
                continue
            fills = key_fills_in_trade(trade, our_owner=r.gateway.owner, tokens=info.token_ids,
                                       fee_rate=info.fee_rate, fee_exponent=info.fee_exponent)
            fills += fills_in_trade(trade, our_order_ids=r.manager.by_id, tokens=info.token_ids,
                                    fee_rate=info.fee_rate, fee_exponent=info.fee_exponent)
            for fill in fills:
                found.setdefault((fill.trade_id, fill.order_id), fill)  # one fill found both ways
        return list(found.values())

    async def _balances(self) -> dict[str, int | None]:
        """Shares × 10⁶ of each outcome token in the maker wallet; None where the venue did not say."""
        r = self._r
        balances: dict[str, int | None] = {}
        for token in r.info.token_ids:
            try:
                balances[token] = await r.gateway.conditional_balance_micro(token)
            except VenueError as exc:
                log.warning("balance of %s unknown: %s", token[:12], exc)
                balances[token] = None
        return balances

    async def _fills_and_balances(self) -> tuple[list[Any], dict[str, int | None]] | None:
        """Our fills and the balances at one moment: the trades listed, the balances read, the trades
        listed again, until two listings around the balance reads agree (a fill between them would be in
        the balance or not, nobody can tell which). After `_SNAPSHOT_TRIES` disagreements the last reads
        are used, with a warning. None if the cutoff came before a listing."""
        r = self._r
        fills = await self._listed_fills()
        if fills is None:
            return None
        for _ in range(_SNAPSHOT_TRIES):
            balances = await self._balances()
            again = await self._listed_fills()
            if again is None:
                return None
            if {(f.trade_id, f.order_id) for f in again} == {(f.trade_id, f.order_id) for f in fills}:
                return again, balances
            fills = again
        log.warning("seeding %s: our fills kept changing around the balance reads (%d tries); seeding from the "
                    "last reads: a fill between them may be counted twice or missed", r.info.slug, _SNAPSHOT_TRIES)
        return fills, balances

    async def seed(self) -> None:
        """Restart without cancelling: adopt our resting BUYs as ladder levels, cancel the rest.

        The venue's listing is retried (doubling pauses, as the cancel-all's) until the cutoff: a
        transient 5xx or timeout at start is not a crash. Without a listing by the cutoff nothing is
        seeded and the caller goes straight to the cutoff's cancel-all."""
        r = self._r
        info = r.info
        venue = await self._until_cutoff(functools.partial(r.gateway.open_orders, info.condition_id), "open orders")
        if venue is None:
            return
        now = r.clock.now_s()
        unrelated: list[str] = []
        by_token: dict[str, list[Any]] = {t: [] for t in info.token_ids}
        for o in venue:
            if o.side.name != "BUY" or o.asset_id not in by_token:
                unrelated.append(o.id)
            else:
                by_token[o.asset_id].append(o)
        for token, orders in by_token.items():
            orders.sort(key=lambda o: o.price_micro, reverse=True)
            for level, o in enumerate(orders):
                order = Order(o.id, token, side="BUY", price_micro=o.price_micro, size_micro=o.original_size_micro,
                              order_type=o.order_type or "GTC", created_at_s=now, level=level)
                order.trigger(OrderTrigger.ACCEPTED, reason="seeded", at_s=now)
                if o.size_matched_micro > 0:
                    order.trigger(OrderTrigger.PARTIALLY_FILLED, matched_micro=o.size_matched_micro, at_s=now)
                r.manager.adopt(order)
        # One consistent moment (`_fills_and_balances`): the balances hold exactly the listed fills. Each
        # listed fill is recorded as seen, so its late MINED/CONFIRMED re-send is a repeat; a fill that
        # user events counted meanwhile and the listing does not hold came after it, so it is added on top
        # of the balance (`Inventory.seed`). (Premise: the venue's balance moves with its trades listing.
        # If it lagged them until settlement, a fill listed but not yet settled would be missing from the
        # seed; the venue's documentation does not say.)
        snapshot = await self._fills_and_balances()
        # Without a listing by the cutoff, the balance alone (its cost basis unknown).
        fills, balances = snapshot if snapshot is not None else ([], await self._balances())
        bought: dict[str, tuple[int, int]] = {}
        for fill in fills:
            if r.inventory.seen_before_seed(fill):
                r.journal.write("fill", market=info.condition_id, trade_id=fill.trade_id, order_id=fill.order_id,
                                token_id=fill.token_id, side=fill.side, shares=fill.shares, price=fill.price,
                                fee=fill.fee_pusd, status=fill.status.value, taker=fill.taker, before_seed=True)
            if fill.side == "BUY":
                shares, cost = bought.get(fill.token_id, (0, 0))
                bought[fill.token_id] = (shares + fill.shares_micro, cost + fill.cost_micro + fill.fee_micro)
        listed = frozenset((f.trade_id, f.order_id) for f in fills)
        for token in by_token:
            explained_shares, explained_cost = bought.get(token, (0, 0))
            shares = balances.get(token)
            if shares is None:
                shares = explained_shares  # what our fills say
            if explained_shares > shares:  # some were sold or merged since: their cost left with them
                explained_cost = explained_cost * shares // explained_shares
                explained_shares = shares
            book = r.books.book(token)
            best_bid = None if book is None else book.best_bid_micro
            mark = MICRO // 2 if best_bid is None else best_bid
            # The balance is the truth for the shares. The part our known fills do not explain has an
            # unknown cost basis: mark it at the bid (or 0.5), which the completion cap then treats
            # conservatively.
            unexplained = shares - explained_shares
            r.inventory.seed(token, shares, explained_cost + -(-unexplained * mark // MICRO), listed=listed)
        self.seeded = True
        r.journal.write("seeded", market=info.condition_id,
                        orders={t: [o.id for o in v] for t, v in by_token.items()}, unrelated=unrelated)
        if unrelated and r.settings.cancel_unrelated_on_seed:
            r.manager.apply_cancel_outcome(await r.gateway.cancel_ids(unrelated))
