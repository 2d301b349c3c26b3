"""A market's quoting loop: books and inventory in, the desired ladder out, diffed by the order manager.

Guarantees:
- One diff at a time, under the market's order lock (reconciliation and completion take it too).
- Market-data changes arriving during a diff are conflated into the next one (one wake event).
- A book is fresh only from book-changing messages for its own token (`book_fresh_at`), never from
  other tokens' updates or a PONG on the shared connection, so the stale-book guard means what it says.
- No maker quote is asked for at or after the cutoff (the caller's cancel scope ends the loop there),
  nor in the last second before it when ladder orders are GTD expiring at the cutoff.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import trio

from bot.engine.order_manager import OverlapCaps, SyncReport
from bot.engine.own_book import best_excluding_own, own_size_by_price
from bot.engine.strategy import BlockReason, Ladder, MarketView, RestingOrder, TokenView
from bot.protocol.constants import GTD_SECURITY_THRESHOLD_S
from bot.protocol.money import micro_from_float, micro_text, parse_micro
from statemachines.market import MarketState, MarketTrigger

if TYPE_CHECKING:
    from bot.engine.market import MarketRunner

__all__ = ["QuotingLoop"]

# Terminal orders stay mapped this long so late WS events and trades still find them, then are dropped
# so a long market's id map stays bounded.
_TERMINAL_KEEP_S = 300.0
_FORGET_PERIOD_S = 10.0


@functools.cache  # a handful of tick sizes, asked per book on every tick
def _tick_text(tick_micro: int) -> str:
    return micro_text(tick_micro)


@functools.cache
def _tick_micro(tick: str) -> int:
    return parse_micro(tick)


class QuotingLoop:
    """The market's quoting task (`run`), woken by `on_book_change` (called by the feed, or a pump task)."""

    def __init__(self, runner: MarketRunner) -> None:
        self._r = runner
        self._changed_at: float | None = None  # trio time of the market-data change not yet acted on
        self._noticed_at = -math.inf  # trio time of the last `observe_book_change`
        self._book_changed = False  # set by `on_book_change`, read by the quoting task
        self._next_forget_s = 0.0
        # `own_size_by_price` of the last resting orders (the runner keeps the same tuple while none changed).
        self._own: tuple[tuple[RestingOrder, ...], dict[tuple[str, str], tuple[dict[int, int], dict[int, int]]]] = (
            (), {})

    async def pump_book_changes(self) -> None:
        """For a feed that cannot call back (`listen`): wait for each change, note the marks (after the
        cutoff too), then `on_book_change`."""
        r = self._r
        while True:
            await r.books.changed()
            r.marks.observe(r.books)
            self.on_book_change()

    def on_book_change(self) -> None:
        """A book of the market changed: wake the quoting task, which reads the change (`observe_book_change`).

        The market's feed calls it in the frame's own task step (`MarketFeed.listen`), so the quoting task is
        the only scheduler pass between a frame and its re-price. Nothing here can fail: the work is done in
        the market's own task, where a fault stops this market only."""
        self._book_changed = True
        self._r.wake()

    def observe_book_change(self) -> None:
        """In the quoting task, once per wake-up after book changes: the marks and the change's time."""
        self._book_changed = False
        r = self._r
        now = trio.current_time()
        r.marks.observe(r.books)  # the summary's marks outlive the book (emptied at the market's end)
        if self._changed_at is None:
            # The tick of tick-to-order: when the frame was handled (its book's freshness stamp), not this
            # wake-up a scheduler pass later; a change that stamped no book since the last wake-up (a
            # reconnect's invalidation) is timed by the wake-up.
            fresh_at = getattr(r.books, "book_fresh_at", None)
            stamps = [] if fresh_at is None else [fresh_at(t) for t in r.info.token_ids]
            handled = max((s for s in stamps if s is not None), default=now)
            self._changed_at = handled if self._noticed_at < handled <= now else now
        self._noticed_at = now

    async def run(self) -> None:
        r = self._r
        while True:
            timeout = r.settings.quote_interval_s
            until = r.machine.backoff_until_s
            if r.machine.state is MarketState.BACKOFF and until is not None:
                # The machine's backoff ends on time, not at the next market-data change.
                timeout = max(0.0, min(timeout, until - r.clock.now_s()))
            with trio.move_on_after(timeout):
                await r.wait_for_change()
            await trio.lowlevel.checkpoint_if_cancelled()
            if self._book_changed:
                self.observe_book_change()
            try:
                # Free (the usual case): taken at once. `async with` would add a scheduler pass (~40 µs)
                # between the change and its cancel; the wait above was this loop's checkpoint.
                r.lock.acquire_nowait()
            except trio.WouldBlock:  # a reconciliation or a completion holds it: wait in line
                await r.lock.acquire()
            try:
                await r.tick()
            finally:
                r.lock.release()
            if r.settings.min_tick_interval_s > 0:
                # Changes arriving meanwhile are conflated into the next diff (the wake event stays set).
                await trio.sleep(r.settings.min_tick_interval_s)

    async def tick(self) -> None:
        r = self._r
        now = r.clock.now_s()
        if r.machine.backoff_due(now):
            r.transition(MarketTrigger.BACKOFF_ELAPSED, "backoff elapsed")
        if r.machine.state is MarketState.QUOTING and r.completion.due(now):
            await r.completion.maybe_complete(after_cutoff=False)
            return
        tick = self.effective_tick()  # once per tick: the views and the diff use the same grid
        ladder = self.desired(now, tick)
        changed_at = self._changed_at
        self._changed_at = None
        report = SyncReport()
        expiration_s = int(r.cutoff_s) + int(GTD_SECURITY_THRESHOLD_S) if r.settings.gtd_at_cutoff else 0
        await r.manager.sync(ladder, tick_size=tick, neg_risk=r.info.neg_risk, expiration_s=expiration_s,
                             report=report, caps=self.overlap_caps)
        stats = r.stats
        if report.quotes_sent_at is not None and changed_at is not None:
            # Tick-to-order as named: the book change handled → the POST of the new quotes written (after
            # signing), not the first request started.
            stats.tick_to_order_s.append(report.quotes_sent_at - changed_at)
            stats.tick_to_order_samples += 1
        if report.posts_sent and stats.first_quote_at_s is None and report.accepted:
            stats.first_quote_at_s = now
        self._settle_watch(now)
        if now >= self._next_forget_s:
            # A sweep of the id map, not on every tick: it grows with activity and the tick is the hot path.
            r.manager.forget_terminal(_TERMINAL_KEEP_S)
            self._next_forget_s = now + _FORGET_PERIOD_S
        r.notify()

    def overlap_caps(self) -> OverlapCaps:
        """The caps a re-price's overlap must hold, counting old and new orders alike (`OverlapCaps`), in
        micro-units as the strategy's: the notional is the market's cap (or the account's budget, if lower)
        minus the inventory's cost; the shares, per token, what keeps its unpaired excess within
        `max_unpaired_shares` if every open BUY on it filled and none on the other token. Shares matched on
        the venue that the inventory does not hold yet count as held (`MarketRunner.resting_orders`)."""
        r = self._r
        cap = micro_from_float(r.settings.max_notional_per_market_pusd)
        budget = r.account_budget()
        if budget is not None:
            cap = min(cap, budget)
        up_id, down_id = r.info.up_token_id, r.info.down_token_id
        up, down = r.inventory.position(up_id), r.inventory.position(down_id)
        ahead = r.matched_ahead()  # bought, their trade on its way: held
        (up_ahead, up_ahead_cost), (down_ahead, down_ahead_cost) = ahead[up_id], ahead[down_id]
        unpaired = micro_from_float(r.settings.max_unpaired_shares)
        return OverlapCaps(
            notional_micro=cap - up.cost_micro - down.cost_micro - up_ahead_cost - down_ahead_cost,
            open_shares_micro={
                up_id: unpaired - (up.shares_micro - down.shares_micro) - up_ahead,
                down_id: unpaired - (down.shares_micro - up.shares_micro) - down_ahead,
            },
        )

    def desired(self, now: float, tick: str | None) -> Ladder:
        r = self._r
        if r.settings.gtd_at_cutoff and math.floor(r.cutoff_s) <= now:
            # A GTD expiring at the cutoff is no longer valid in the last second before it.
            ladder = Ladder((), BlockReason.CUTOFF)
        else:
            ladder = r.strategy.desired(self.view(now, tick))
        r.set_ladder(ladder)
        return ladder

    def view(self, now: float, tick: str | None) -> MarketView:
        r = self._r
        state = r.machine.state
        resting = r.resting_orders()
        budget = r.account_budget()
        up, down = r.info.up_token_id, r.info.down_token_id
        return MarketView(
            now_s=now,
            cutoff_s=r.cutoff_s,
            start_s=min(r.info.start_s, now),
            up=self.token_view(up, tick, resting, complement_id=down),
            down=self.token_view(down, tick, resting, complement_id=up),
            min_order_size_micro=micro_from_float(r.info.min_order_size_shares),
            completing=state is MarketState.COMPLETING,
            backing_off=state is MarketState.BACKOFF,
            reconciling=state is MarketState.RECONCILING,
            account_budget_micro=budget,
            resting=resting,
        )

    def effective_tick(self) -> str | None:
        r = self._r
        ticks = [r.tick_size] if r.tick_size else []
        for token in r.info.token_ids:
            book = r.books.book(token)
            if book is not None and book.tick_size_micro:
                ticks.append(_tick_text(book.tick_size_micro))
        if not ticks:
            return None
        return max(ticks, key=_tick_micro)

    def token_view(
        self, token_id: str, tick: str | None, resting: tuple[RestingOrder, ...] = (), *, complement_id: str = ""
    ) -> TokenView:
        """The token as the strategy sees it: book prices without our own orders (`bot.engine.own_book`)."""
        r = self._r
        book = r.books.book(token_id)
        pos = r.inventory.position(token_id)
        if book is None or book.needs_snapshot:
            return TokenView(token_id, tick, None, None, None, pos.shares_micro, pos.cost_micro)
        # Books are stamped with Trio's clock; the strategy works in unix seconds. Freshness is this
        # token's own last book-changing message, where the feed tells it; else the book's own stamp.
        fresh_at = getattr(r.books, "book_fresh_at", None)
        stamp = fresh_at(token_id) if fresh_at is not None else book.updated_at_s
        updated = r.clock.epoch_offset_s + stamp if stamp is not None else None
        own_bids, own_asks = self._own_sizes(resting, token_id, complement_id)
        best_bid, best_ask = best_excluding_own(book, own_bids, own_asks)
        return TokenView(token_id, tick, best_bid, best_ask, updated, pos.shares_micro, pos.cost_micro)

    def _own_sizes(self, resting: tuple[RestingOrder, ...], token_id: str, complement_id: str) -> tuple[
        dict[int, int], dict[int, int]
    ]:
        """`own_size_by_price`, kept while `resting` is the same tuple (the result is only read)."""
        kept_for, by_token = self._own
        if kept_for is not resting:
            by_token = {}
            self._own = (resting, by_token)
        sizes = by_token.get((token_id, complement_id))
        if sizes is None:
            sizes = by_token[(token_id, complement_id)] = own_size_by_price(resting, token_id, complement_id)
        return sizes

    def _settle_watch(self, now: float) -> None:
        """Ask for a reconciliation once an order of unknown outcome is past the grace window."""
        r = self._r
        for oid in r.manager.unknown_outcome:
            order = r.manager.by_id.get(oid)
            if order is not None and now >= r.reconciler.judge_unsettled_at_s(order):
                r.request_reconcile()
                return
