"""The market runner: one market from start to end, in its own nursery, with a guaranteed cancel-all.

Guarantees:
- Every exit path (market end, cutoff, an exception in any task, storm, fatal venue error, cancellation
  from outside for a signal) ends with the market's cancel-all run in a **shielded, time-bounded**
  scope, verified by a fresh open-orders query and retried within the bound.
- Quoting runs inside a cancel scope whose deadline **is** the cutoff (`end - quote_cutoff_s`): at that
  instant Trio cancels whatever the quoting tasks were doing (an in-flight POST included) and the
  market's cancel-all is sent in the same virtual instant. An order whose POST was cut off is still in
  the cache (its id is its hash), and the cancel-by-market covers it on the venue.
- Order-mutating work (quote diffs, reconciliation, storm rebuilds) is serialised by one lock, so a
  reconciliation never judges an order whose POST is in flight.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio

from bot.engine.clock import VenueClock
from bot.engine.completion import plan_completion
from bot.engine.fills import fills_in_trade
from bot.engine.gateway import PostOutcome, PostOutcomeKind, VenueGateway
from bot.engine.guards import FailureBackoff, StormGuard
from bot.engine.inventory import Inventory
from bot.engine.markets import MarketInfo
from bot.engine.order_manager import ManagerParams, OrderManager, SyncReport
from bot.engine.strategy import (
    BlockReason,
    Ladder,
    MarketView,
    PairLadderParams,
    PairLadderStrategy,
    Strategy,
    TokenView,
)
from bot.protocol.book import OrderBook
from bot.protocol.constants import GTD_SECURITY_THRESHOLD_S
from bot.protocol.errors import VenueError
from bot.protocol.messages import OrderEvent, OrderEventType, OrderStatus, TradeEvent
from bot.protocol.ws import Resynced
from settings import BotSettings, StormAction, UnknownOrderAction
from statemachines.market import ExitReason, MarketMachine, MarketState, MarketTrigger
from statemachines.order import Order, OrderState, OrderTrigger

__all__ = ["BookFeed", "MarketRunner", "MarketStop", "RunnerStats"]

log = logging.getLogger(__name__)

# Between attempts of a cancel-all that did not verify: long enough for the venue to apply the
# previous cancel, short enough to fit several attempts inside the exit bound.
_CANCEL_ALL_RETRY_S = 0.2
# Terminal orders stay mapped this long so late WS events and trades still find them, then are dropped
# so a long market's id map stays bounded.
_TERMINAL_KEEP_S = 300.0
_FORGET_PERIOD_S = 10.0
# Latency samples kept for the summary and the benchmark (a ring: old samples drop off).
_LATENCY_SAMPLES = 4096


class BookFeed(Protocol):
    """Conflated books of the market's tokens, and a way to wait for the next change."""

    def book(self, token_id: str) -> OrderBook | None: ...

    async def changed(self) -> None: ...


class MarketStop(Exception):
    """Raised inside the runner to stop the market for a recorded reason (storm, fatal venue, …)."""

    def __init__(self, reason: ExitReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(slots=True)
class RunnerStats:
    completions_sent: int = 0
    completions_filled: int = 0
    storms: int = 0
    reconciliations: int = 0
    reconcile_repairs: int = 0
    cancel_all_runs: list[tuple[str, float, bool]] = field(default_factory=list)  # (why, duration_s, verified)
    tick_to_order_s: deque[float] = field(default_factory=lambda: deque(maxlen=_LATENCY_SAMPLES))
    tick_to_order_samples: int = 0  # total ever recorded (the ring keeps the latest)
    open_orders_left: int | None = None
    first_quote_at_s: float | None = None


def _only_cancelled(exc: BaseException) -> bool:
    if isinstance(exc, trio.Cancelled):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(_only_cancelled(e) for e in exc.exceptions)
    return False


def _has_cancelled(exc: BaseException) -> bool:
    if isinstance(exc, trio.Cancelled):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return any(_has_cancelled(e) for e in exc.exceptions)
    return False


def _first_error(exc: BaseException) -> BaseException:
    """The first exception in `exc` (a group, possibly nested) that is not a cancellation."""
    if isinstance(exc, BaseExceptionGroup):
        for e in exc.exceptions:
            if not _only_cancelled(e):
                return _first_error(e)
    return exc


def _find_stop(exc: BaseException) -> MarketStop | None:
    if isinstance(exc, MarketStop):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for e in exc.exceptions:
            found = _find_stop(e)
            if found is not None:
                return found
    return None


class MarketRunner:
    """Runs one market; `await run()` returns why it stopped, after its cancel-all."""

    def __init__(
        self,
        info: MarketInfo,
        settings: BotSettings,
        gateway: VenueGateway,
        *,
        books: BookFeed,
        user_events: trio.MemoryReceiveChannel[Any],
        clock: VenueClock,
        journal: Any,
        strategy: Strategy | None = None,
        on_change: Any = None,
        account_budget: Any = None,
    ) -> None:
        self.info = info
        self.settings = settings
        self.gateway = gateway
        self.books = books
        self.user_events = user_events
        self.clock = clock
        self.journal = journal
        self.strategy: Strategy = strategy or PairLadderStrategy(PairLadderParams.from_settings(settings))
        self.machine = MarketMachine(info.condition_id, at_s=clock.now_s())
        self.inventory = Inventory(info.up_token_id, info.down_token_id)
        self.storm = StormGuard(settings.storm_threshold, settings.storm_window_s)
        self.backoff = FailureBackoff(settings.backoff_base_s, settings.backoff_max_s, settings.backoff_failures)
        self.manager = OrderManager(
            condition_id=info.condition_id,
            params=ManagerParams.from_settings(settings),
            gateway=gateway,
            clock_s=clock.now_s,
            journal=journal,
            on_failure=self._on_failure,
            on_success=self.backoff.record_success,
        )
        self.stats = RunnerStats()
        self.started_at_s = clock.now_s()
        self.cutoff_s = info.cutoff_s(settings.quote_cutoff_s)
        self.tick_size: str | None = info.tick_size
        self.block_reason: BlockReason | None = BlockReason.NOT_STARTED
        self.last_ladder: Ladder = Ladder((), BlockReason.NOT_STARTED)
        self._on_change = on_change
        # Callable(runner) -> pUSD this market may commit under the account-wide cap, or None.
        self._account_budget = account_budget
        self._stop: MarketStop | None = None
        self._external_reason: ExitReason | None = None
        self._lock = trio.Lock()
        self._wake = trio.Event()
        self._reconcile_wanted = trio.Event()
        self._changed_at: float | None = None  # trio time of the market-data change not yet acted on
        self._completion_not_before_s = 0.0
        self._next_forget_s = 0.0
        self._resync_pending = False
        # Set by the supervisor: this market's slot in the reconciliations that follow a reconnect.
        self.resync_delay_s = 0.0
        self._completion_order: Order | None = None

    # --- public -------------------------------------------------------------------------------------
    def request_stop(self, reason: ExitReason) -> None:
        """Record why the runner is about to be cancelled from outside (signal, account failure, operator)."""
        if self._external_reason is None:
            self._external_reason = reason

    async def run(self) -> ExitReason:
        """Trade the market until its end or a stop; always finishes with a verified cancel-all.

        Returns the exit reason. Cancellation from outside is re-raised after the cleanup.
        """
        caught: BaseException | None = None
        try:
            await self._run_inner()
        except BaseException as exc:
            caught = exc
            self._record_exit(exc)
        finally:
            await self._shutdown()
        if caught is not None and _has_cancelled(caught):
            raise caught
        return self.machine.exit_reason or ExitReason.MARKET_END

    def _record_exit(self, exc: BaseException) -> None:
        stop = _find_stop(exc)
        if stop is not None:
            self._stop = stop
        elif _only_cancelled(exc):
            self._stop = MarketStop(self._external_reason or ExitReason.SIGNAL, "cancelled from outside")
        else:
            log.exception("market %s crashed", self.info.slug, exc_info=exc)
            cause = _first_error(exc)  # the nursery's group says nothing; its failing leaf does
            self._stop = MarketStop(ExitReason.CRASH, f"{type(cause).__name__}: {cause}")

    # --- lifecycle ------------------------------------------------------------------------------------
    async def _run_inner(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._consume_user_events)
            nursery.start_soon(self._pump_book_changes)
            await self._startup()
            with trio.CancelScope(deadline=self.clock.to_trio(self.cutoff_s)):
                async with trio.open_nursery() as quoting:
                    quoting.start_soon(self._quote_loop)
                    quoting.start_soon(self._reconcile_loop)
            # The cutoff instant (or the quoting tasks ended, which they never do on their own).
            self._transition(MarketTrigger.REACH_CUTOFF, "cutoff")
            self._set_block(BlockReason.CUTOFF)
            await self._cancel_all_verified("cutoff")
            if self.settings.complete_after_cutoff:
                async with self._lock:
                    await self._maybe_complete(after_cutoff=True)
            # Fills can still arrive until the end; keep counting them, then finish cleanly.
            await self.clock.sleep_until_s(self.info.end_s)
            self._stop = MarketStop(ExitReason.MARKET_END, "market window ended")
            nursery.cancel_scope.cancel()

    async def _startup(self) -> None:
        self._transition(MarketTrigger.BEGIN_RECONCILE, "startup")
        async with self._lock:
            if self.tick_size is None:
                try:
                    self.tick_size = await self.gateway.tick_size(self.info.up_token_id)
                except VenueError as exc:  # tick-size gating: the strategy blocks until a book tells us
                    log.warning("tick size of %s unknown: %s", self.info.slug, exc)
            if self.settings.startup_cancel_all:
                if not await self._cancel_all_verified("startup"):
                    raise MarketStop(ExitReason.FATAL_VENUE, "startup cancel-all did not verify")
            else:
                await self._seed()
        if self.clock.now_s() >= self.cutoff_s:
            return  # the caller moves straight to the cutoff
        self._transition(MarketTrigger.RECONCILED, "startup reconciled")

    async def _shutdown(self) -> None:
        """Shielded and bounded: runs even when the runner is being cancelled, and a second signal
        cannot interrupt it (the supervisor keeps the signal receiver open until we return)."""
        stop = self._stop or MarketStop(ExitReason.MARKET_END, "finished")
        with trio.move_on_after(self.settings.cancel_all_timeout_s, shield=True) as scope:
            before = self.machine.state
            if self.machine.stop(stop.reason, detail=stop.detail, at_s=self.clock.now_s()):
                # Journaled like every other transition (the machine's `stop` bypasses `_transition`).
                self.journal.write("market_transition", market=self.info.condition_id, src=before.value,
                                   trigger=MarketTrigger.STOP.value, dst=self.machine.state.value,
                                   reason=stop.reason.value)
            self.journal.write("market_stop", market=self.info.condition_id, reason=stop.reason.value, detail=stop.detail)
            # The quoting tasks are gone (their nursery has exited), so no lock is needed: the
            # cancel-all must never wait behind anything.
            await self._cancel_all_verified("exit")
        if scope.cancelled_caught:
            log.error("cancel-all of %s did not finish within %.1f s", self.info.slug, self.settings.cancel_all_timeout_s)
            self.stats.cancel_all_runs.append(("exit", self.settings.cancel_all_timeout_s, False))
            # The cut-off run wrote no line of its own: the audit trail must show it did not verify.
            self.journal.write("cancel_all", market=self.info.condition_id, why="exit", verified=False,
                               duration_s=self.settings.cancel_all_timeout_s, attempts=None)
        if self.machine.state is MarketState.SHUTTING_DOWN:
            self._transition(MarketTrigger.CANCEL_ALL_DONE, "cancel-all done")
        self._notify()

    # --- the quoting loop ---------------------------------------------------------------------------
    async def _pump_book_changes(self) -> None:
        while True:
            await self.books.changed()
            if self._changed_at is None:
                self._changed_at = trio.current_time()
            self._wake.set()

    async def _quote_loop(self) -> None:
        while True:
            with trio.move_on_after(self.settings.quote_interval_s):
                await self._wake.wait()
            self._wake = trio.Event()
            async with self._lock:
                await self._tick()
            if self.settings.min_tick_interval_s > 0:
                # Changes arriving meanwhile are conflated into the next diff (the wake event stays set).
                await trio.sleep(self.settings.min_tick_interval_s)

    async def _tick(self) -> None:
        now = self.clock.now_s()
        state = self.machine.state
        if state is MarketState.BACKOFF and not self.backoff.active(now):
            self._transition(MarketTrigger.BACKOFF_ELAPSED, "backoff elapsed")
        if self.machine.state is MarketState.QUOTING and self._completion_due(now):
            await self._maybe_complete(after_cutoff=False)
            return
        tick = self._effective_tick()  # once per tick: the views and the diff use the same grid
        ladder = self._desired(now, tick)
        changed_at = self._changed_at
        self._changed_at = None
        report = SyncReport()
        expiration_s = int(self.cutoff_s) + int(GTD_SECURITY_THRESHOLD_S) if self.settings.gtd_at_cutoff else 0
        await self.manager.sync(
            ladder, tick_size=tick, neg_risk=self.info.neg_risk, expiration_s=expiration_s,
            report=report,
        )
        if report.first_request_at_s is not None and changed_at is not None:
            self.stats.tick_to_order_s.append(self.clock.to_trio(report.first_request_at_s) - changed_at)
            self.stats.tick_to_order_samples += 1
        if report.posts_sent and self.stats.first_quote_at_s is None and report.accepted:
            self.stats.first_quote_at_s = now
        self._settle_watch(now)
        if now >= self._next_forget_s:
            # A sweep of the id map, not on every tick: it grows with activity and the tick is the hot path.
            self.manager.forget_terminal(_TERMINAL_KEEP_S)
            self._next_forget_s = now + _FORGET_PERIOD_S
        self._notify()

    def _desired(self, now: float, tick: str | None) -> Ladder:
        if self.settings.gtd_at_cutoff and math.floor(self.cutoff_s) <= now:
            # A GTD expiring at the cutoff is no longer valid in the last second before it.
            ladder = Ladder((), BlockReason.CUTOFF)
        else:
            ladder = self.strategy.desired(self._view(now, tick))
        self.last_ladder = ladder
        self._set_block(ladder.block_reason)
        return ladder

    def _view(self, now: float, tick: str | None) -> MarketView:
        return MarketView(
            now_s=now,
            cutoff_s=self.cutoff_s,
            start_s=min(self.info.start_s, now),
            up=self._token_view(self.info.up_token_id, tick),
            down=self._token_view(self.info.down_token_id, tick),
            min_order_size_shares=self.info.min_order_size_shares,
            completing=self.machine.state is MarketState.COMPLETING,
            backing_off=self.machine.state is MarketState.BACKOFF,
            reconciling=self.machine.state is MarketState.RECONCILING,
            account_budget_pusd=self._account_budget(self) if self._account_budget is not None else None,
        )

    def _effective_tick(self) -> str | None:
        ticks = [self.tick_size] if self.tick_size else []
        for token in self.info.token_ids:
            book = self.books.book(token)
            if book is not None and book.tick_size:
                ticks.append(_tick_str(book.tick_size))
        if not ticks:
            return None
        return max(ticks, key=float)

    def _token_view(self, token_id: str, tick: str | None) -> TokenView:
        book = self.books.book(token_id)
        pos = self.inventory.position(token_id)
        if book is None or book.needs_snapshot:
            return TokenView(token_id, tick, None, None, None, pos.shares, pos.cost_pusd)
        # Books are stamped with Trio's clock; the strategy works in unix seconds. A quiet book on a
        # live connection is current: freshness is the later of its last change and the last frame.
        stamps = [book.updated_at_s]
        last_frame_at = getattr(self.books, "last_frame_at", None)
        if last_frame_at is not None:
            stamps.append(last_frame_at())
        known = [t for t in stamps if t is not None]
        updated = self.clock.epoch_offset_s + max(known) if known else None
        return TokenView(token_id, tick, book.best_bid, book.best_ask, updated, pos.shares, pos.cost_pusd)

    def committed_pusd(self) -> float:
        """pUSD this market holds or may spend: inventory cost plus resting BUYs' remaining notional."""
        resting = self.manager.resting_buy_notional_pusd()
        completion = self._completion_order
        if completion is not None and completion.is_open:
            resting += completion.price * completion.remaining_shares
        return self.inventory.up.cost_pusd + self.inventory.down.cost_pusd + resting

    def _set_block(self, reason: BlockReason | None) -> None:
        if reason != self.block_reason:
            self.journal.write("block", market=self.info.condition_id, reason=reason.value if reason else None)
            self.block_reason = reason

    def _settle_watch(self, now: float) -> None:
        """Ask for a reconciliation once an order of unknown outcome is past the grace window."""
        grace = self.settings.reconcile_grace_s
        for oid in self.manager.unknown_outcome:
            order = self.manager.by_id.get(oid)
            if order is not None and now - order.created_at_s >= grace:
                self._reconcile_wanted.set()
                return

    # --- failures -------------------------------------------------------------------------------------
    def _on_failure(self, outcome: PostOutcome | None) -> None:
        now = self.clock.now_s()
        if outcome is not None and outcome.kind is PostOutcomeKind.FATAL:
            # Auth refused: the account's credentials, not this market, are the problem.
            raise MarketStop(ExitReason.ACCOUNT, f"auth refused: {outcome.message}")
        retry_after = outcome.retry_after_s if outcome is not None else None
        until_s = self.backoff.until_s
        if self.backoff.active(now) and (retry_after is None or until_s is None or now + retry_after <= until_s):
            # The other legs of the batch that started this backoff are the same burst: counted
            # one by one they would start a second, doubled backoff in the same instant. A 429 gives
            # every leg the same Retry-After, so that one is the same burst too (the pause covers it).
            return
        until = self.backoff.record_failure(now, retry_after)
        if until is not None and self.machine.state in (
            MarketState.QUOTING, MarketState.RECONCILING, MarketState.COMPLETING,
        ):
            self._transition(MarketTrigger.FAILURES_EXCEEDED, f"backoff until {until:.3f}")
            self._set_block(BlockReason.BACKOFF)  # journaled when it starts, not at the next tick

    # --- completion -----------------------------------------------------------------------------------
    def _completion_due(self, now: float) -> bool:
        if now < self._completion_not_before_s:
            return False
        return abs(self.inventory.imbalance_shares) >= self.settings.completion_min_imbalance_shares

    async def _maybe_complete(self, *, after_cutoff: bool) -> None:
        """At most one bounded FOK/FAK BUY of the lagging token; never two in flight (the lock)."""
        now = self.clock.now_s()
        imbalance = self.inventory.imbalance_shares
        if abs(imbalance) < self.settings.completion_min_imbalance_shares:
            return
        lead, lag = (
            (self.info.up_token_id, self.info.down_token_id) if imbalance > 0 else (self.info.down_token_id, self.info.up_token_id)
        )
        lead_cost = self.inventory.position(lead).avg_cost
        tick = self._effective_tick()
        book = self.books.book(lag)
        if lead_cost is None or tick is None:
            return
        plan = plan_completion(
            lagging_token_id=lag,
            imbalance_shares=abs(imbalance),
            leading_avg_cost=lead_cost,
            tick_size=tick,
            min_edge=self.settings.completion_min_edge,
            max_pair_cost=self.settings.completion_max_pair_cost,
            fee_rate=self.info.fee_rate,
            fee_exponent=self.info.fee_exponent,
            best_ask=book.best_ask if book is not None else None,
        )
        self._completion_not_before_s = now + self.settings.completion_cooldown_s
        if plan is None:
            self.journal.write("completion_skipped", market=self.info.condition_id, imbalance=imbalance,
                               lead_cost=lead_cost)
            return
        if not after_cutoff:
            self._transition(MarketTrigger.START_COMPLETION, f"imbalance {imbalance:+g}")
            self._set_block(BlockReason.COMPLETING)
            # Quoting pauses: cancel every maker quote before taking liquidity.
            await self.manager.sync(Ladder((), BlockReason.COMPLETING), tick_size=tick, neg_risk=self.info.neg_risk,
                                    expiration_s=0)
        try:
            await self._send_completion(plan.token_id, plan.amount_pusd, plan.price_cap, plan.shares_needed, tick)
        finally:
            if self.machine.state is MarketState.COMPLETING:
                self._transition(MarketTrigger.COMPLETION_DONE, "completion applied")

    async def _send_completion(self, token_id: str, amount_pusd: float, cap: float, shares: float, tick: str) -> None:
        order_type = self.settings.completion_order_type.value
        signed = self.gateway.sign_market_buy(token_id=token_id, amount_pusd=amount_pusd, price_cap=cap,
                                              tick_size=tick, neg_risk=self.info.neg_risk)
        order = Order(signed.order_id, token_id, side="BUY", price=cap, size_shares=shares, order_type=order_type,
                      created_at_s=self.clock.now_s(), level=None)
        self.manager.by_id[order.order_id] = order  # before the POST leaves
        self._completion_order = order
        self.stats.completions_sent += 1
        self.journal.write("completion", market=self.info.condition_id, order_id=order.order_id, token_id=token_id,
                           amount_pusd=amount_pusd, price_cap=cap, shares=shares, order_type=order_type)
        outcome = await self.gateway.post_one(signed, order_type=order_type, post_only=False)
        self._apply_completion_outcome(order, outcome)
        # Wait briefly for the trade events so the next decision sees the new inventory. A "matched"
        # answer ends the order before its trade arrives on the user stream: wait for the fill too.
        with trio.move_on_after(self.settings.completion_settle_s):
            while not order.is_terminal or (
                order.state is OrderState.FILLED
                and not any(f.order_id == order.order_id for f in self.inventory.counted_fills())
            ):
                await self._wake.wait()
                self._wake = trio.Event()

    def _apply_completion_outcome(self, order: Order, outcome: PostOutcome) -> None:
        kind = outcome.kind
        if kind is PostOutcomeKind.MATCHED:
            self.stats.completions_filled += 1
            taking = _float_or_none(outcome.taking_amount)
            self.manager.transition(order, OrderTrigger.FILLED, reason="matched", matched=taking)
            self.backoff.record_success()
        elif kind is PostOutcomeKind.EXPECTED_REJECT:
            self.manager.transition(order, OrderTrigger.REJECTED_EXPECTED, reason=outcome.message)
        elif kind in (PostOutcomeKind.DELAYED, PostOutcomeKind.UNKNOWN, PostOutcomeKind.LIVE):
            if order.state is OrderState.PENDING:  # WS events may have settled it before the answer
                self.manager.unknown_outcome.add(order.order_id)
            if kind is PostOutcomeKind.UNKNOWN:
                self._on_failure(outcome)
        else:
            self.manager.transition(order, OrderTrigger.REJECTED, reason=outcome.message)
            self._on_failure(outcome)

    # --- user stream ----------------------------------------------------------------------------------
    async def _consume_user_events(self) -> None:
        async for event in self.user_events:
            if isinstance(event, Resynced):
                self._resync_pending = True
                self._reconcile_wanted.set()
            elif isinstance(event, OrderEvent):
                await self._on_order_event(event)
            elif isinstance(event, TradeEvent):
                self._on_trade_event(event)
            self._wake.set()

    def _ours(self, market: str, asset_id: str) -> bool:
        return market == self.info.condition_id or asset_id in self.info.token_ids

    async def _on_order_event(self, event: OrderEvent) -> None:
        if not self._ours(event.market, event.asset_id):
            return
        order = self.manager.by_id.get(event.id)
        now = self.clock.now_s()
        if order is None:
            log.debug("order event for unknown id %s", event.id[:12])
            if self.storm.record_unknown(now):
                await self._on_storm()
            return
        self.storm.record_known()
        matched = float(event.size_matched)
        reason = f"ws {event.type.value} {event.status.value} {event.status_reason}".strip()
        if event.type is OrderEventType.PLACEMENT:
            self.manager.transition(order, OrderTrigger.ACCEPTED, reason=reason)
        elif event.type is OrderEventType.UPDATE:
            if event.status is OrderStatus.MATCHED or matched >= order.size_shares - 1e-9:
                self.manager.transition(order, OrderTrigger.FILLED, reason=reason, matched=matched)
            else:
                self.manager.transition(order, OrderTrigger.PARTIALLY_FILLED, reason=reason, matched=matched)
        else:  # CANCELLATION: ours (confirming a cancel) or the venue's own
            trigger = (
                OrderTrigger.CANCEL_CONFIRMED if order.state is OrderState.CANCELLING else OrderTrigger.VENUE_CANCELLED
            )
            if not self.manager.transition(order, trigger, reason=reason, matched=matched or None):
                self.manager.transition(order, OrderTrigger.VENUE_CANCELLED, reason=reason)
        if order.state is not OrderState.PENDING:
            self.manager.unknown_outcome.discard(event.id)

    def _on_trade_event(self, event: TradeEvent) -> None:
        fills = fills_in_trade(
            event,
            our_order_ids=self.manager.by_id,
            our_owner=self.gateway.owner,
            tokens=self.info.token_ids,
            fee_rate=self.info.fee_rate,
            fee_exponent=self.info.fee_exponent,
        )
        changed = False
        for fill in fills:
            if self.inventory.apply(fill):
                changed = True
                self.journal.write("fill", market=self.info.condition_id, trade_id=fill.trade_id,
                                   order_id=fill.order_id, token_id=fill.token_id, side=fill.side, shares=fill.shares,
                                   price=fill.price, fee=fill.fee_pusd, status=fill.status.value, taker=fill.taker)
        if fills:
            self.storm.record_known()
        if changed:
            self._notify()

    async def _on_storm(self) -> None:
        self.stats.storms += 1
        self.journal.write("storm", market=self.info.condition_id, **self.storm.statistics())
        if self.settings.storm_action is StormAction.SHUTDOWN:
            raise MarketStop(ExitReason.STORM, "unknown-order storm")
        async with self._lock:
            if self.machine.state in (MarketState.CUTOFF,):
                await self._cancel_all_verified("storm")
                return
            self._transition(MarketTrigger.BEGIN_RECONCILE, "storm rebuild")
            if not await self._cancel_all_verified("storm"):
                raise MarketStop(ExitReason.STORM, "storm cancel-all did not verify")
            await self._reconcile()
            self._transition(MarketTrigger.RECONCILED, "storm rebuild done")

    # --- reconciliation -------------------------------------------------------------------------------
    async def _reconcile_loop(self) -> None:
        while True:
            with trio.move_on_after(self.settings.reconcile_interval_s):
                await self._reconcile_wanted.wait()
            if self._resync_pending:
                self._resync_pending = False
                # After a reconnect every market of the key reconciles; their slots are spread a few ms
                # apart (the first market has none) so the venue does not get them all in one instant.
                if self.resync_delay_s > 0:
                    await trio.sleep(self.resync_delay_s)
            self._reconcile_wanted = trio.Event()
            async with self._lock:
                await self._reconcile()

    async def _reconcile(self) -> None:
        """Compare the venue's open orders for the market with the cache; repair or stop."""
        self.stats.reconciliations += 1
        try:
            venue = await self.gateway.open_orders(self.info.condition_id)
        except VenueError as exc:
            log.warning("reconcile of %s failed: %s", self.info.slug, exc)
            return
        now = self.clock.now_s()
        on_venue = {o.id: o for o in venue}
        strays: list[str] = []
        lost: list[Order] = []
        for oid, venue_order in on_venue.items():
            order = self.manager.by_id.get(oid)
            if order is None or order.is_terminal:
                strays.append(oid)
                continue
            if order.state is OrderState.PENDING:
                self.manager.transition(order, OrderTrigger.ACCEPTED, reason="found on venue")
            self.manager.unknown_outcome.discard(oid)  # on the venue: its fate is known, whatever its state
            matched = float(venue_order.size_matched)
            if matched > order.matched_shares:
                self.manager.transition(order, OrderTrigger.PARTIALLY_FILLED, reason="venue size_matched", matched=matched)
        for order in self.manager.open_orders():
            if order.order_id in on_venue or now - order.created_at_s < self.settings.reconcile_grace_s:
                continue
            if order.state is OrderState.PENDING:
                # Never landed, or landed and ended unseen; a fill, if any, is counted from its trade.
                self.manager.transition(order, OrderTrigger.LOST, reason="not on venue after grace")
            else:
                lost.append(order)
                self.manager.transition(order, OrderTrigger.VENUE_CANCELLED, reason="missing on venue")
        await self._catch_up_fills()
        if strays or lost:
            self.stats.reconcile_repairs += 1
            self.journal.write("reconcile_mismatch", market=self.info.condition_id, strays=strays,
                               lost=[o.order_id for o in lost])
            if self.settings.reconcile_action is UnknownOrderAction.EXIT:
                raise MarketStop(ExitReason.RECONCILE_MISMATCH, f"{len(strays)} unknown, {len(lost)} lost")
            if strays:
                self.manager.apply_cancel_outcome(await self.gateway.cancel_ids(strays))

    async def _catch_up_fills(self) -> None:
        """Count the fills whose user events were lost (a WS gap outlasting a trade's status events):
        the venue's trades of the market over REST, each applied like an event (counted once per key).

        After a cancel-all start the inventory holds this run's fills only (what was bought before is not
        seeded), so only trades from the start on count; after seeding, every trade of the market does."""
        after_s = int(self.started_at_s) if self.settings.startup_cancel_all else None
        try:
            trades = await self.gateway.trades(self.info.condition_id, after_s=after_s)
        except VenueError as exc:
            log.warning("trades of %s not fetched: %s", self.info.slug, exc)
            return
        for trade in trades:
            self._on_trade_event(trade)

    async def _seed(self) -> None:
        """Restart without cancelling: adopt our resting BUYs as ladder levels, cancel the rest."""
        venue = await self.gateway.open_orders(self.info.condition_id)
        now = self.clock.now_s()
        unrelated: list[str] = []
        by_token: dict[str, list[Any]] = {t: [] for t in self.info.token_ids}
        for o in venue:
            if o.side.name != "BUY" or o.asset_id not in by_token:
                unrelated.append(o.id)
            else:
                by_token[o.asset_id].append(o)
        # The market's trades first (each fill counted once, at its price): a trade event the venue
        # re-sends after the restart (MINED, CONFIRMED, FAILED) is then a repeat, not a second fill.
        await self._catch_up_fills()
        for token, orders in by_token.items():
            orders.sort(key=lambda o: float(o.price), reverse=True)
            for level, o in enumerate(orders):
                order = Order(o.id, token, side="BUY", price=float(o.price), size_shares=float(o.original_size),
                              order_type=o.order_type or "GTC", created_at_s=now, level=level)
                order.trigger(OrderTrigger.ACCEPTED, reason="seeded", at_s=now)
                if float(o.size_matched) > 0:
                    order.trigger(OrderTrigger.PARTIALLY_FILLED, matched_shares=float(o.size_matched), at_s=now)
                self.manager.adopt(order)
            pos = self.inventory.position(token)
            try:
                shares = await self.gateway.conditional_balance_shares(token)
            except VenueError as exc:
                log.warning("balance of %s unknown: %s", token[:12], exc)
                shares = pos.shares  # what the trades say
            book = self.books.book(token)
            mark = book.best_bid if book is not None and book.best_bid is not None else 0.5
            # The balance is the truth for the shares. The part the market's trades do not explain has
            # an unknown cost basis: mark it at the bid (or 0.5), which the completion cap then treats
            # conservatively.
            self.inventory.seed(token, shares, pos.cost_pusd + (shares - pos.shares) * mark)
        self.journal.write("seeded", market=self.info.condition_id,
                           orders={t: [o.id for o in v] for t, v in by_token.items()}, unrelated=unrelated)
        if unrelated and self.settings.cancel_unrelated_on_seed:
            self.manager.apply_cancel_outcome(await self.gateway.cancel_ids(unrelated))

    # --- cancel-all -------------------------------------------------------------------------------------
    async def _cancel_all_verified(self, why: str) -> bool:
        """Cancel every order of ours in the market and confirm the venue lists none. Retries until the
        caller's deadline; returns whether it verified."""
        started = trio.current_time()
        for order in self.manager.open_orders():
            if order.state is not OrderState.CANCELLING:
                self.manager.transition(order, OrderTrigger.CANCEL_REQUESTED, reason=f"cancel-all ({why})")
        verified = False
        attempt = 0
        while True:
            attempt += 1
            outcome = await self.gateway.cancel_market(self.info.condition_id)
            self.manager.apply_cancel_outcome(outcome)
            if outcome.fatal:
                break
            try:
                left = await self.gateway.open_orders(self.info.condition_id)
            except VenueError as exc:
                log.warning("cancel-all verify of %s failed (attempt %d): %s", self.info.slug, attempt, exc)
                await trio.sleep(_CANCEL_ALL_RETRY_S)
                continue
            if not left:
                verified = True
                break
            self.manager.apply_cancel_outcome(await self.gateway.cancel_ids([o.id for o in left]))
            await trio.sleep(_CANCEL_ALL_RETRY_S)
        if verified:
            for order in self.manager.open_orders():
                self.manager.transition(order, OrderTrigger.CANCEL_CONFIRMED, reason=f"cancel-all verified ({why})")
            self.stats.open_orders_left = 0
        duration = trio.current_time() - started
        self.stats.cancel_all_runs.append((why, duration, verified))
        self.journal.write("cancel_all", market=self.info.condition_id, why=why, verified=verified,
                           duration_s=round(duration, 6), attempts=attempt)
        return verified

    # --- helpers ------------------------------------------------------------------------------------------
    def _transition(self, trigger: MarketTrigger, reason: str) -> None:
        before = self.machine.state
        try:
            self.machine.trigger(trigger, reason=reason, at_s=self.clock.now_s())
        except Exception as exc:
            log.debug("market %s: %s ignored in %s: %s", self.info.slug, trigger, before, exc)
            return
        self.journal.write("market_transition", market=self.info.condition_id, src=before.value,
                           trigger=trigger.value, dst=self.machine.state.value, reason=reason)
        self._notify()

    def _notify(self) -> None:
        if self._on_change is not None:
            self._on_change(self)

    def summary(self) -> dict[str, Any]:
        inv = self.inventory
        up_book, down_book = self.books.book(self.info.up_token_id), self.books.book(self.info.down_token_id)
        return {
            "market": self.info.slug,
            "condition_id": self.info.condition_id,
            "state": self.machine.state.value,
            "exit_reason": self.machine.exit_reason.value if self.machine.exit_reason else None,
            **self.manager.statistics(),
            "fills": inv.fills_counted,
            "fills_reversed": inv.fills_reversed,
            "up_shares": inv.up.shares,
            "down_shares": inv.down.shares,
            "paired_shares": inv.paired_shares,
            "pair_cost": inv.pair_cost,
            "completions_sent": self.stats.completions_sent,
            "completions_filled": self.stats.completions_filled,
            "marked_pnl_pusd": inv.marked_pnl(
                up_book.best_bid if up_book else None, down_book.best_bid if down_book else None
            ),
            "realised_pnl_pusd": inv.realised_pnl_pusd,
            "cancel_all_runs": list(self.stats.cancel_all_runs),
            "open_orders_left": self.stats.open_orders_left,
            "storms": self.stats.storms,
        }

    def __repr__(self) -> str:
        return f"<MarketRunner {self.info.slug} {self.machine.state.value} {self.manager!r} {self.inventory!r}>"


def _tick_str(tick: float) -> str:
    text = f"{tick:.6f}".rstrip("0")
    return text if not text.endswith(".") else text + "0"


def _float_or_none(text: str) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None

