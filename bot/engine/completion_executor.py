"""A market's completion executor: at most one bounded FOK/FAK BUY of the lagging token at a time.

Guarantees:
- Never two completions in flight: it runs under the market's order lock.
- Maker quoting pauses (the market machine is `completing`) and every maker quote is cancelled before
  liquidity is taken; the machine returns to `quoting` however the attempt ends.
- The order is registered (its id is its hash) before the POST leaves; an unknown outcome leaves it
  `unknown` for the WS or reconciliation to settle, never "failed".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from bot.engine.completion import CompletionPlan, plan_completion
from bot.engine.gateway import PostOutcome, PostOutcomeKind
from bot.engine.strategy import BlockReason, Ladder
from bot.protocol.money import micro_to_float, parse_micro, tick_grid
from statemachines.market import MarketState, MarketTrigger
from statemachines.order import Order, OrderState, OrderTrigger

if TYPE_CHECKING:
    from bot.engine.market import MarketRunner

__all__ = ["CompletionExecutor"]


def _micro_or_none(text: str) -> int | None:
    """The venue's taking amount (decimal text) in micro-units, exact; None when absent or unreadable."""
    try:
        return parse_micro(text) if text else None
    except ValueError:
        return None


class CompletionExecutor:
    """Plans and sends the market's completion orders."""

    def __init__(self, runner: MarketRunner) -> None:
        self._r = runner
        self.not_before_s = 0.0
        self.order: Order | None = None  # the latest completion order

    def due(self, now: float) -> bool:
        if now < self.not_before_s:
            return False
        return abs(self._imbalance()) >= self._r.money.completion_min_imbalance_micro

    def _imbalance(self) -> int:
        """Up minus Down in micro-shares, the lagging side credited with what it bought whose trade has not
        arrived yet (a completion answered "matched" before its trade, a maker fill reported by its order
        update first): those shares pair the lead already, and buying them again would overbuy. The
        leading side's own shares still on their way are not counted: completing waits for their trade."""
        r = self._r
        imbalance = r.inventory.imbalance_micro
        if imbalance == 0:
            return 0
        ahead = r.matched_ahead()
        if imbalance > 0:
            return max(0, imbalance - ahead[r.info.down_token_id][0])
        return min(0, imbalance + ahead[r.info.up_token_id][0])

    async def maybe_complete(self, *, after_cutoff: bool) -> None:
        """At most one bounded FOK/FAK BUY of the lagging token (the caller holds the lock)."""
        r = self._r
        info, money = r.info, r.money
        now = r.clock.now_s()
        imbalance = self._imbalance()
        if abs(imbalance) < money.completion_min_imbalance_micro:
            return
        lead, lag = (
            (info.up_token_id, info.down_token_id) if imbalance > 0 else (info.down_token_id, info.up_token_id)
        )
        lead_pos = r.inventory.position(lead)
        tick = r.quoting.effective_tick()
        book = r.books.book(lag)
        if lead_pos.shares_micro <= 0 or tick is None:
            return
        plan = plan_completion(
            lagging_token_id=lag,
            imbalance_micro=abs(imbalance),
            leading_cost_micro=lead_pos.cost_micro,
            leading_shares_micro=lead_pos.shares_micro,
            grid=tick_grid(tick),
            min_edge_micro=money.completion_min_edge_micro,
            max_pair_cost_micro=money.completion_max_pair_cost_micro,
            fee_rate=info.fee_rate,
            fee_exponent=info.fee_exponent,
            best_ask_micro=book.best_ask_micro if book is not None else None,
        )
        self.not_before_s = now + r.settings.completion_cooldown_s
        if plan is None:
            r.journal.write("completion_skipped", market=info.condition_id, imbalance=micro_to_float(imbalance),
                            lead_cost=lead_pos.avg_cost)
            return
        if not after_cutoff:
            r.transition(MarketTrigger.START_COMPLETION, f"imbalance {micro_to_float(imbalance):+g}")
            # Quoting pauses: cancel every maker quote before taking liquidity.
            await r.manager.sync(Ladder((), BlockReason.COMPLETING), tick_size=tick, neg_risk=info.neg_risk,
                                 expiration_s=0)
        try:
            await self._send(plan)
        finally:
            if r.machine.state is MarketState.COMPLETING:
                r.transition(MarketTrigger.COMPLETION_DONE, "completion applied")

    async def _send(self, plan: CompletionPlan) -> None:
        r = self._r
        order_type = r.settings.completion_order_type.value
        tick = plan.grid.tick_size
        signed = r.gateway.sign_market_buy(token_id=plan.token_id, amount_micro=plan.amount_micro,
                                           price_cap_ticks=plan.price_ticks, tick_size=tick, neg_risk=r.info.neg_risk)
        # The order machine holds the signed integers: the cap and the shares the amount buys at it.
        order = Order(signed.order_id, plan.token_id, side="BUY", price_micro=plan.price_micro,
                      size_micro=plan.shares_micro, order_type=order_type, created_at_s=r.clock.now_s(), level=None)
        r.manager.register(order)  # before the POST leaves
        self.order = order
        r.stats.completions_sent += 1
        r.journal.write("completion", market=r.info.condition_id, order_id=order.order_id, token_id=plan.token_id,
                        amount_pusd=plan.amount_pusd, price_cap=plan.price_cap, shares=plan.shares_needed,
                        order_type=order_type)
        outcome = await r.gateway.post_one(signed, order_type=order_type, post_only=False)
        self._apply_outcome(order, outcome)
        # Wait briefly for the trade events so the next decision sees the new inventory. A "matched"
        # answer ends the order before its trade arrives on the user stream: wait for the fill too.
        with trio.move_on_after(r.settings.completion_settle_s):
            while not order.is_terminal or (
                order.state is OrderState.FILLED and r.inventory.held_on(order.order_id) == 0
            ):
                await r.wait_for_change()

    def _apply_outcome(self, order: Order, outcome: PostOutcome) -> None:
        r = self._r
        manager = r.manager
        kind = outcome.kind
        if kind is PostOutcomeKind.MATCHED:
            r.stats.completions_filled += 1
            taking = _micro_or_none(outcome.taking_amount)
            # A FAK's killed remainder may be reported (WS CANCELLATION) before this answer: the order has
            # ended either way, and its fills are counted from the trades.
            if manager.allows(order, OrderTrigger.FILLED):
                manager.transition(order, OrderTrigger.FILLED, reason="matched", matched_micro=taking)
            r.backoff.record_success()
        elif kind is PostOutcomeKind.EXPECTED_REJECT:
            if manager.allows(order, OrderTrigger.REJECTED_EXPECTED):
                manager.transition(order, OrderTrigger.REJECTED_EXPECTED, reason=outcome.message)
        elif kind in (PostOutcomeKind.DELAYED, PostOutcomeKind.UNKNOWN, PostOutcomeKind.LIVE):
            if order.state is OrderState.PENDING:  # WS events may have settled it before the answer
                manager.transition(order, OrderTrigger.OUTCOME_UNKNOWN, reason=outcome.message or kind.value)
            if kind is PostOutcomeKind.UNKNOWN:
                r.on_failure(outcome)
        else:
            if manager.allows(order, OrderTrigger.REJECTED):
                manager.transition(order, OrderTrigger.REJECTED, reason=outcome.message)
            r.on_failure(outcome)
