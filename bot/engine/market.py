"""The market runner: one market from start to end, in its own nursery, with a guaranteed cancel-all.

Guarantees:
- Every exit path (market end, cutoff, an exception in any task, storm, fatal venue error, cancellation
  from outside for a signal, a journal that cannot be written) ends with the market's cancel-all run in
  a **shielded, time-bounded** scope by the cancel-all service (`bot.engine.cancel_all`), verified by a
  fresh open-orders query. When it cannot verify, `run()` reports `cancel_all_unverified` and the
  supervisor escalates (it stops the key's heartbeat so the venue's dead-man switch clears the book).
- Quoting runs inside a cancel scope whose deadline **is** the cutoff (`end - quote_cutoff_s`): at that
  instant Trio cancels whatever the quoting tasks were doing (an in-flight POST included) and the
  market's cancel-all is sent in the same virtual instant, bounded by the market's end. An order whose
  POST was cut off is still in the cache (its id is its hash), and the cancel-by-market covers it.
- Order-mutating work (quote diffs, reconciliation, storm rebuilds, completions) is serialised by one
  lock; the user-event consumer never takes it and never waits on the venue.
- The market machine is the state the operator sees: the block reason is derived from it (and, while
  quoting, from the strategy's answer).

The parts, one module each: `quoting.QuotingLoop`, `reconciler.Reconciler` (with the storm rebuild),
`completion_executor.CompletionExecutor`, `user_events.UserEventHandler`, `cancel_all.CancelAllService`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio

from bot.engine.cancel_all import CancelAllResult, CancelAllService
from bot.engine.clock import VenueClock
from bot.engine.completion_executor import CompletionExecutor
from bot.engine.gateway import PostOutcome, PostOutcomeKind, VenueGateway
from bot.engine.guards import FailureBackoff, StormGuard
from bot.engine.illegal import IllegalTransition, report_illegal
from bot.engine.inventory import Inventory
from bot.engine.markets import MarketInfo
from bot.engine.marks import LastMarks
from bot.engine.money_limits import MoneyLimits
from bot.engine.order_manager import ManagerParams, OrderManager
from bot.engine.quoting import QuotingLoop
from bot.engine.reconciler import Reconciler
from bot.engine.rewards_ladder import choose_strategy
from bot.engine.rewards_watch import IncentivesWatch
from bot.engine.stops import MarketStop, find_stop, first_error, has_cancelled, only_cancelled
from bot.engine.strategy import (
    BlockReason,
    Ladder,
    PairLadderParams,
    PairLadderStrategy,
    RestingOrder,
    Strategy,
)
from bot.engine.user_events import UserEventHandler
from bot.protocol.book import OrderBook
from bot.protocol.errors import VenueError
from bot.protocol.money import micro_to_float, notional_micro
from settings import BotSettings
from statemachines.market import ExitReason, MarketMachine, MarketState, MarketTrigger
from statemachines.order import OrderState, OrderTrigger

__all__ = ["BookFeed", "MarketRunner", "MarketStop", "RunnerStats"]

log = logging.getLogger(__name__)

# Latency samples kept for the summary and the benchmark (a ring: old samples drop off).
_LATENCY_SAMPLES = 4096
# The exit cancel-all bounds itself; this much more is the outer, last-resort bound of the shielded scope.
_SHUTDOWN_SLACK_S = 1.0
_EXIT_FILLS_TIMEOUT_S = 5.0  # the venue answered the exit cancel-all: its trade listing is a quick read

# The block reason each non-quoting state shows (while quoting, the strategy's own reason).
_STATE_BLOCK: dict[MarketState, BlockReason] = {
    MarketState.STARTING: BlockReason.NOT_STARTED,
    MarketState.RECONCILING: BlockReason.RECONCILING,
    MarketState.COMPLETING: BlockReason.COMPLETING,
    MarketState.BACKOFF: BlockReason.BACKOFF,
    MarketState.CUTOFF: BlockReason.CUTOFF,
}


class BookFeed(Protocol):
    """Conflated books of the market's tokens, and a way to wait for the next change."""

    def book(self, token_id: str) -> OrderBook | None: ...

    async def changed(self) -> None: ...


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
        on_change: Callable[[MarketRunner], None] | None = None,
        account_budget: Callable[[MarketRunner], int] | None = None,
    ) -> None:
        self.info = info
        self.settings = settings
        self.gateway = gateway
        self.books = books
        self.user_events = user_events
        self.clock = clock
        self.journal = journal
        self.strategy: Strategy = strategy or PairLadderStrategy(PairLadderParams.from_settings(settings))
        self.money = MoneyLimits.from_settings(settings)
        self.machine = MarketMachine(info.condition_id, at_s=clock.now_s())
        self.inventory = Inventory(info.up_token_id, info.down_token_id)
        self.marks = LastMarks(info.token_ids)  # last mid / best bid: the summary's marks after the book is gone
        self.storm = StormGuard(settings.storm_threshold, settings.storm_window_s)
        self.backoff = FailureBackoff(settings.backoff_base_s, settings.backoff_max_s, settings.backoff_failures)
        self.manager = OrderManager(
            condition_id=info.condition_id,
            params=ManagerParams.from_settings(settings),
            gateway=gateway,
            clock_s=clock.now_s,
            journal=journal,
            on_failure=self.on_failure,
            on_success=self.backoff.record_success,
            may_post=lambda: self.machine.state is not MarketState.BACKOFF,
            account_room=self.account_room,
        )
        self.cancel_all = CancelAllService(gateway, journal=journal, retry_base_s=settings.cancel_all_retry_base_s,
                                           retry_max_s=settings.cancel_all_retry_max_s)
        self.quoting = QuotingLoop(self)
        self.reconciler = Reconciler(self)
        self.completion = CompletionExecutor(self)
        self.user_handler = UserEventHandler(self)
        # Incentives hook (bot/engine/rewards_watch.py): the estimate, the scoring check, the P&L split;
        # and, unless a strategy was given, the rewards-aware ladder where the market has a pool.
        self.incentives = IncentivesWatch(self)
        if strategy is None:
            self.strategy = choose_strategy(self)
        self.stats = RunnerStats()
        self.started_at_s = clock.now_s()
        self.cutoff_s = info.cutoff_s(settings.quote_cutoff_s)
        self.tick_size: str | None = info.tick_size
        self.last_ladder: Ladder = Ladder((), BlockReason.NOT_STARTED)
        # ((manager.seq, inventory.version), resting_orders()) and (the same stamp, committed_micro())
        self._resting: tuple[tuple[int, int], tuple[RestingOrder, ...]] = ((-1, -1), ())
        self._committed: tuple[tuple[int, int], int] = ((-1, -1), 0)
        self._shown_block: BlockReason | None = BlockReason.NOT_STARTED
        self._first_ladder_pending = True
        self._on_change = on_change
        # Callable(runner) -> pUSD × 10⁶ this market may commit under the account-wide cap, or None.
        self._account_budget = account_budget
        self._stop: MarketStop | None = None
        self._external_reason: ExitReason | None = None
        self.cancel_all_unverified = False
        self.lock = trio.Lock()
        self._wake = trio.Event()
        self.reconcile_wanted = trio.Event()
        self.resync_pending = False
        self.storm_pending = False
        # Set by the supervisor: this market's slot in the reconciliations that follow a reconnect.
        self.resync_delay_s = 0.0

    # --- public -------------------------------------------------------------------------------------
    def request_stop(self, reason: ExitReason) -> None:
        """Record why the runner is about to be cancelled from outside (signal, account failure, operator)."""
        if self._external_reason is None:
            self._external_reason = reason

    async def run(self) -> ExitReason:
        """Trade the market until its end or a stop; always finishes with a cancel-all.

        Returns the exit reason (`cancel_all_unverified` when the last cancel-all could not prove the
        book empty). Cancellation from outside is re-raised after the cleanup.
        """
        caught: BaseException | None = None
        try:
            await self._run_inner()
        except BaseException as exc:
            caught = exc
            self._record_exit(exc)
        finally:
            await self._shutdown()
        if caught is not None and has_cancelled(caught):
            raise caught
        return self.exit_reason

    @property
    def exit_reason(self) -> ExitReason:
        if self.cancel_all_unverified:
            return ExitReason.CANCEL_UNVERIFIED
        return self.machine.exit_reason or ExitReason.MARKET_END

    @property
    def block_reason(self) -> BlockReason | None:
        """Why no maker quote rests now, derived from the machine (and the strategy while quoting)."""
        return self._shown_block

    def _record_exit(self, exc: BaseException) -> None:
        stop = find_stop(exc)
        if stop is not None:
            self._stop = stop
        elif only_cancelled(exc):
            self._stop = MarketStop(self._external_reason or ExitReason.SIGNAL, "cancelled from outside")
        else:
            log.exception("market %s crashed", self.info.slug, exc_info=exc)
            cause = first_error(exc)  # the nursery's group says nothing; its failing leaf does
            self._stop = MarketStop(ExitReason.CRASH, f"{type(cause).__name__}: {cause}")

    # --- lifecycle ------------------------------------------------------------------------------------
    async def _watch_marks(self) -> None:
        """After the cutoff: each book change updates the summary's marks (their tops outlive the book)."""
        while True:
            await self.books.changed()
            self.marks.observe(self.books)

    async def _run_inner(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.user_handler.consume)
            listen = getattr(self.books, "listen", None)
            if listen is not None:  # the hub's feeds call back in the frame's own step
                listen(self.quoting.on_book_change)
            else:  # a feed that only signals (tests' scripted books)
                nursery.start_soon(self.quoting.pump_book_changes)
            await self._startup()
            if self.incentives.terms.has_pool:  # the book is watched to the market's end (the estimate needs it)
                nursery.start_soon(self.incentives.run, self.clock.to_trio(self.info.end_s))
            with trio.CancelScope(deadline=self.clock.to_trio(self.cutoff_s)):
                async with trio.open_nursery() as quoting:
                    quoting.start_soon(self.quoting.run)
                    quoting.start_soon(self.reconciler.run)
            # The cutoff instant (or the quoting tasks ended, which they never do on their own).
            self.transition(MarketTrigger.REACH_CUTOFF, "cutoff")
            if listen is not None:  # the quoting task noted the marks until now; they follow the book to the end
                nursery.start_soon(self._watch_marks)
            end = self.clock.to_trio(self.info.end_s)
            # Bounded by the market's end, but never by less than the exit's own bound: with a cutoff of 0
            # (or a start at the cutoff) the end is now, and a cancel-all given no time cannot verify.
            bound = max(end, trio.current_time() + self.settings.cancel_all_timeout_s)
            result = await self.cancel_all_verified("cutoff", deadline=bound)
            if not result.verified:
                raise MarketStop(ExitReason.CANCEL_UNVERIFIED, "cutoff cancel-all did not verify")
            if self.settings.complete_after_cutoff:
                async with self.lock:
                    await self.completion.maybe_complete(after_cutoff=True)
            # Fills can still arrive until the end; keep counting them (and clear any storm), then finish.
            with trio.move_on_at(end):
                while True:
                    await self.reconcile_wanted.wait()
                    self.reconcile_wanted = trio.Event()
                    await self.reconciler.rebuild_if_storm()
            if self.incentives.terms.has_pool:
                await self.incentives.fetch_reported(timeout_s=self.settings.request_timeout_s)
            self._stop = MarketStop(ExitReason.MARKET_END, "market window ended")
            nursery.cancel_scope.cancel()

    async def _startup(self) -> None:
        self.transition(MarketTrigger.BEGIN_RECONCILE, "startup")
        async with self.lock:
            if self.tick_size is None:
                try:
                    self.tick_size = await self.gateway.tick_size(self.info.up_token_id)
                except VenueError as exc:  # tick-size gating: the strategy blocks until a book tells us
                    log.warning("tick size of %s unknown: %s", self.info.slug, exc)
            if self.settings.startup_cancel_all:
                result = await self.cancel_all_verified("startup", deadline=self.clock.to_trio(self.cutoff_s))
                if not result.verified and self.clock.now_s() < self.cutoff_s:
                    raise MarketStop(ExitReason.CANCEL_UNVERIFIED, "startup cancel-all did not verify")
            else:
                await self.reconciler.seed()
        if self.clock.now_s() >= self.cutoff_s:
            return  # the caller moves straight to the cutoff
        self.finish_reconciling("startup reconciled")

    async def _shutdown(self) -> None:
        """Shielded and bounded: runs even when the runner is being cancelled, and a second signal
        cannot interrupt it (the supervisor keeps the signal receiver open until we return). The cancel
        goes out before anything else is written; the journal never blocks it."""
        stop = self._stop or MarketStop(ExitReason.MARKET_END, "finished")
        timeout = self.settings.cancel_all_timeout_s
        with trio.move_on_after(timeout + _SHUTDOWN_SLACK_S, shield=True) as scope:
            before = self.machine.state
            stopped = self.machine.stop(stop.reason, detail=stop.detail, at_s=self.clock.now_s())
            result = await self.cancel_all_verified("exit", deadline=trio.current_time() + timeout)
            if not result.verified:
                self.cancel_all_unverified = True
            if stopped:
                # Journaled like every other transition (the machine's `stop` bypasses `transition`).
                self.journal.write("market_transition", market=self.info.condition_id, src=before.value,
                                   trigger=MarketTrigger.STOP.value, dst=MarketState.SHUTTING_DOWN.value,
                                   reason=stop.reason.value)
            self.journal.write("market_stop", market=self.info.condition_id, reason=stop.reason.value,
                               detail=stop.detail)
            self.journal.write("market_pnl", market=self.info.condition_id, **self.incentives.pnl().as_dict())
        if scope.cancelled_caught:  # the service bounds itself; this is the last-resort bound
            log.error("cancel-all of %s did not finish within %.1f s", self.info.slug, timeout)
            self.cancel_all_unverified = True
            self.stats.cancel_all_runs.append(("exit", timeout, False))
        if not self.cancel_all_unverified:
            # An order may fill in the moment before its cancel lands, and that trade's event may still be on
            # its way when the user stream stops being read: the venue's trade records of the market settle
            # the inventory and the journal (each key counted once, as from its event). Bounded on its own.
            with trio.move_on_after(_EXIT_FILLS_TIMEOUT_S, shield=True) as fills_scope:
                try:
                    await self.reconciler.catch_up_fills()
                except Exception:  # the orders are gone; a fault here must not turn the exit into a crash
                    log.exception("the exit's fill check of %s failed", self.info.slug)
            if fills_scope.cancelled_caught:
                log.warning("the exit's fill check of %s did not finish within %.0f s", self.info.slug,
                            _EXIT_FILLS_TIMEOUT_S)
        if self.machine.state is MarketState.SHUTTING_DOWN:
            self.transition(MarketTrigger.CANCEL_ALL_DONE, "cancel-all done")
        self.notify()

    # --- shared by the parts ------------------------------------------------------------------------------
    def wake(self) -> None:
        self._wake.set()

    async def wait_for_change(self) -> None:
        """Wait for the next market-data or user-event change (conflated: one wake for many)."""
        await self._wake.wait()
        self._wake = trio.Event()

    def request_reconcile(self, *, resync: bool = False) -> None:
        if resync:
            self.resync_pending = True
        self.reconcile_wanted.set()

    def request_storm_rebuild(self) -> None:
        self.storm_pending = True
        self.reconcile_wanted.set()

    def account_budget(self) -> int | None:
        """pUSD × 10⁶ this market may still commit under the account-wide cap; None without one."""
        return self._account_budget(self) if self._account_budget is not None else None

    def resting_orders(self) -> tuple[RestingOrder, ...]:
        """Every open BUY of ours in the market (ladder, completion, seeded extras), in integers, and the
        shares matched on the venue that the inventory does not hold yet (level None).

        A fill reaches us twice, in either order: the order update (its matched size) and the trade (the
        inventory). Per order, what is held or may still be bought is counted once whichever came first:
        an open order may still buy its size less the larger of the two, and a matched size ahead of the
        inventory is bought already."""
        # Kept while the manager's and the inventory's change stamps stay put: a tick asks twice (its
        # view, the account budget) on every market-data change.
        stamp = (self.manager.seq, self.inventory.version)
        if self._resting[0] != stamp:
            retiring = self.manager.retiring
            held_on = self.inventory.held_on
            resting = [
                RestingOrder(o.token_id, o.level, o.price_micro,
                             max(0, o.size_micro - max(o.matched_micro, held_on(o.order_id))), o.order_id in retiring)
                for o in self.manager.open_orders() if o.side == "BUY"
            ]
            resting += [RestingOrder(o.token_id, None, o.price_micro, extra)
                        for o, extra in self.manager.matched_ahead(held_on) if o.side == "BUY"]
            self._resting = (stamp, tuple(resting))
        return self._resting[1]

    def matched_ahead(self) -> dict[str, tuple[int, int]]:
        """Per token, (micro-shares, their pUSD × 10⁶ at the orders' prices) our BUYs were reported matched
        (order update, or a taker's "matched" answer) that the inventory does not hold yet: bought, their
        trade still on its way."""
        ahead = dict.fromkeys(self.info.token_ids, (0, 0))
        for order, extra in self.manager.matched_ahead(self.inventory.held_on):
            if order.side == "BUY" and order.token_id in ahead:
                shares, cost = ahead[order.token_id]
                ahead[order.token_id] = (shares + extra, cost + notional_micro(extra, order.price_micro))
        return ahead

    async def tick(self) -> None:
        await self.quoting.tick()

    def set_ladder(self, ladder: Ladder) -> None:
        self.last_ladder = ladder
        self._first_ladder_pending = False
        self._refresh_block()

    def _refresh_block(self, *, from_transition: bool = False) -> None:
        state = self.machine.state
        if state in (MarketState.SHUTTING_DOWN, MarketState.SHUTDOWN):
            return  # the last reason stays on screen
        if state is MarketState.QUOTING and from_transition:
            return  # the next tick's ladder says why (or that nothing blocks)
        if state is MarketState.RECONCILING and self._first_ladder_pending:
            reason: BlockReason | None = BlockReason.NOT_STARTED  # the start's reconciliation
        else:
            reason = _STATE_BLOCK.get(state, self.last_ladder.block_reason)
        if reason != self._shown_block:
            self.journal.write("block", market=self.info.condition_id, reason=reason.value if reason else None)
            self._shown_block = reason

    async def cancel_all_verified(self, why: str, *, deadline: float | None = None) -> CancelAllResult:
        """Cancel every order of ours in the market and confirm the venue lists none, by `deadline`
        (Trio time; default `cancel_all_timeout_s` from now)."""
        if deadline is None:
            deadline = trio.current_time() + self.settings.cancel_all_timeout_s
        for order in self.manager.open_orders():
            self.manager.request_cancel(order, f"cancel-all ({why})")
        result = await self.cancel_all.run(self.info.condition_id, deadline=deadline, why=why,
                                           on_outcome=self.manager.apply_cancel_outcome)
        if result.verified:
            for order in self.manager.open_orders():
                if order.state is OrderState.LIVE:  # a cancel refused during the retries put it back
                    self.manager.request_cancel(order, f"cancel-all ({why})")
                if self.manager.allows(order, OrderTrigger.CANCEL_CONFIRMED):
                    self.manager.transition(order, OrderTrigger.CANCEL_CONFIRMED,
                                            reason=f"cancel-all verified ({why})")
            self.stats.open_orders_left = 0
        else:
            self.stats.open_orders_left = result.left
        self.stats.cancel_all_runs.append((why, result.duration_s, result.verified))
        return result

    def finish_reconciling(self, reason: str) -> None:
        """Leave `reconciling` for `quoting`, unless failures met during the reconciliation (a cancel-all
        refused, a listing that failed) put the market in backoff meanwhile: its end resumes quoting."""
        if self.machine.state is MarketState.RECONCILING:
            self.transition(MarketTrigger.RECONCILED, reason)

    def transition(self, trigger: MarketTrigger, reason: str, *, backoff_until_s: float | None = None) -> None:
        """Apply `trigger` (with `backoff_until_s`: enter the backoff the machine then owns), journal it,
        refresh the block reason; a refused trigger is loud (`report_illegal`)."""
        before = self.machine.state
        at_s = self.clock.now_s()
        try:
            if backoff_until_s is not None:
                self.machine.enter_backoff(backoff_until_s, reason=reason, at_s=at_s)
            else:
                self.machine.trigger(trigger, reason=reason, at_s=at_s)
        except IllegalTransition as exc:
            report_illegal(exc, f"market {self.info.slug}: {reason}")
            return
        self.journal.write("market_transition", market=self.info.condition_id, src=before.value,
                           trigger=trigger.value, dst=self.machine.state.value, reason=reason)
        self._refresh_block(from_transition=True)
        self.notify()

    def notify(self) -> None:
        if self._on_change is not None:
            self._on_change(self)

    def committed_micro(self) -> int:
        """pUSD × 10⁶ this market holds or may spend: inventory cost plus every open BUY at its worst case.

        Kept while the manager's and the inventory's change stamps stay put: every market's tick sums
        every market's commitment (the account-wide cap), so each is recomputed only when it changed."""
        resting = self.resting_orders()
        stamp = self._resting[0]
        if self._committed[0] != stamp:
            worst = sum(notional_micro(o.remaining_micro, o.price_micro) for o in resting)
            self._committed = (stamp, self.inventory.up.cost_micro + self.inventory.down.cost_micro + worst)
        return self._committed[1]

    def account_room(self) -> int | None:
        """pUSD × 10⁶ the account may still commit, this market's own commitments included; None without
        an account-wide cap. Counted at the call, never from an earlier snapshot (see `_within_account_room`
        of the order manager)."""
        budget = self.account_budget()
        return None if budget is None else budget - self.committed_micro()

    # --- failures -------------------------------------------------------------------------------------
    def on_failure(self, outcome: PostOutcome | None) -> None:
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
            # The block line is journaled when the backoff starts, not at the next tick.
            self.transition(MarketTrigger.FAILURES_EXCEEDED, f"backoff until {until:.3f}", backoff_until_s=until)

    def summary(self) -> dict[str, Any]:
        inv = self.inventory
        self.marks.observe(self.books)
        up, down = self.info.up_token_id, self.info.down_token_id
        mid, bid = self.marks.mid_micro, self.marks.bid_micro
        return {
            "market": self.info.slug,
            "condition_id": self.info.condition_id,
            "state": self.machine.state.value,
            "exit_reason": self.exit_reason.value if self.machine.exit_reason or self.cancel_all_unverified else None,
            **self.manager.statistics(),
            "fills": inv.fills_counted,
            "fills_reversed": inv.fills_reversed,
            "up_shares": inv.up.shares,
            "down_shares": inv.down.shares,
            "paired_shares": inv.paired_shares,
            "pair_cost": inv.pair_cost,
            "completions_sent": self.stats.completions_sent,
            "completions_filled": self.stats.completions_filled,
            # Unpaired shares are marked at the last mid (None: never priced, marked 0 and said so), and at
            # the last best bid for what selling them would fetch; until the market resolves they are open.
            "marked_pnl_pusd": inv.marked_pnl(mid[up], mid[down]),
            "liquidation_pnl_pusd": inv.marked_pnl(bid[up], bid[down]),
            "mark_up": None if mid[up] is None else micro_to_float(mid[up]),
            "mark_down": None if mid[down] is None else micro_to_float(mid[down]),
            "unresolved_up_shares": inv.up.shares - inv.paired_shares,
            "unresolved_down_shares": inv.down.shares - inv.paired_shares,
            "realised_pnl_pusd": inv.realised_pnl_pusd,
            "cancel_all_runs": list(self.stats.cancel_all_runs),
            "open_orders_left": self.stats.open_orders_left,
            "storms": self.stats.storms,
            **self.incentives.summary(),
        }

    def __repr__(self) -> str:
        return f"<MarketRunner {self.info.slug} {self.machine.state.value} {self.manager!r} {self.inventory!r}>"

