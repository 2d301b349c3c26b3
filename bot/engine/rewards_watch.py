"""A market's incentives task: our reward estimate over time, the venue's scoring check, and the P&L split.

Guarantees:
- From the start to the market's end (past the cutoff: the others' scoring then still shapes the pool),
  our share of the reward sample is evaluated every `rewards_estimate_interval_s` from our open orders
  and the Up book, with every level change the book recorded since (`bot.engine.rewards`), and the
  expected accrual integrated; the last
  estimate (Q_one, Q_two, Q_min, share, midpoint) is what the status view and metrics show.
- Every `rewards_check_interval_s`, the orders our estimate says score (rested, inside the max spread,
  at least the min size) are checked with `POST /orders-scoring`; each one the venue says does not score
  is counted, logged as a warning and journaled (`rewards_not_scoring`): the alert. A failed check is
  counted and retried at the next period; it never stops quoting.
- After the market, the venue's reported accruals (`GET /rewards/user/markets`, rewards and, on the
  simulator, rebates) are read once, bounded, and the P&L is split into spread, fees, rebates and
  rewards, estimated beside reported.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import trio

from bot.engine.rewards import OurOrder, RewardEstimator, RewardTerms
from bot.protocol.errors import VenueError
from bot.protocol.rewards import ScoredOrder, adjusted_midpoint, order_score

if TYPE_CHECKING:
    from bot.engine.market import MarketRunner

__all__ = ["IncentivesWatch", "PnlSplit", "reward_terms"]

log = logging.getLogger(__name__)

_UNIT = 1_000_000
_VENUE_MINUTE_S = 60.0


def reward_terms(runner: MarketRunner) -> RewardTerms:
    info = runner.info
    return RewardTerms(
        max_spread_cents=info.rewards_max_spread_cents,
        min_size_shares=info.rewards_min_size_shares or info.min_order_size_shares,
        rate_per_day_pusd=info.rewards_rate_per_day,
        rebate_share=info.maker_rebate_share,
    )


@dataclass(slots=True)
class PnlSplit:
    """A market's P&L by source, pUSD. `spread` is before fees; `total` = spread − fees + rebates + rewards,
    with the venue's reported accruals where it reported them, else our estimates."""

    spread_pusd: float = 0.0
    fees_paid_pusd: float = 0.0
    maker_fee_equivalent_pusd: float = 0.0
    rebates_estimated_pusd: float = 0.0
    rebates_reported_pusd: float | None = None
    rewards_estimated_pusd: float = 0.0
    rewards_reported_pusd: float | None = None

    @property
    def total_pusd(self) -> float:
        rebates = self.rebates_reported_pusd if self.rebates_reported_pusd is not None else self.rebates_estimated_pusd
        rewards = self.rewards_reported_pusd if self.rewards_reported_pusd is not None else self.rewards_estimated_pusd
        return self.spread_pusd - self.fees_paid_pusd + rebates + rewards

    def as_dict(self) -> dict[str, Any]:
        return {
            "spread_pnl_pusd": self.spread_pusd,
            "fees_paid_pusd": self.fees_paid_pusd,
            "rebates_estimated_pusd": self.rebates_estimated_pusd,
            "rebates_reported_pusd": self.rebates_reported_pusd,
            "rewards_estimated_pusd": self.rewards_estimated_pusd,
            "rewards_reported_pusd": self.rewards_reported_pusd,
            "total_pnl_pusd": self.total_pusd,
        }


@dataclass(slots=True)
class WatchStats:
    checks: int = 0
    check_failures: int = 0
    orders_checked: int = 0
    not_scoring: int = 0
    not_scoring_ids: list[str] = field(default_factory=list)


def sample_period_s(settings: Any) -> float:
    return settings.rewards_sample_period_s or _VENUE_MINUTE_S


class IncentivesWatch:
    """The incentives of one market: estimator, scoring check, reported accruals, P&L split."""

    def __init__(self, runner: MarketRunner) -> None:
        self._r = runner
        self.terms = reward_terms(runner)
        settings = runner.settings
        self.estimator = RewardEstimator(
            terms=self.terms,
            up_token_id=runner.info.up_token_id,
            sample_period_s=sample_period_s(settings),
            min_rest_s=settings.rewards_min_rest_s,
            sampled_since_s=runner.info.accepting_orders_since_s,
        )
        self.stats = WatchStats()
        self._rng = random.Random(runner.info.condition_id)  # reproducible per market
        self.reported: dict[str, float] | None = None

    def __repr__(self) -> str:
        est = float(self.estimator.estimated_pusd)
        return f"<IncentivesWatch est={est:.4f} not_scoring={self.stats.not_scoring}>"

    # --- estimates ------------------------------------------------------------------------------------
    def _our_orders(self) -> list[OurOrder]:
        r = self._r
        out = []
        for token in r.info.token_ids:
            for order in r.manager.live_ladder(token):
                if order.side == "BUY" and order.state.value == "live":
                    remaining = max(order.size_micro - order.matched_micro, 0)
                    out.append(OurOrder(token, order.price_micro, remaining, order.created_at_s))
        return out

    def midpoint_micro(self) -> Fraction | None:
        """The size-cutoff-adjusted midpoint of the market now (Up-token price, micro-units, exact), or None."""
        book = self._r.books.book(self._r.info.up_token_id)
        if book is None or not book.levels_current:
            return None
        bids, asks = book.depth()
        return adjusted_midpoint(bids, asks, self.terms.rules.min_size_units)

    def evaluate(self) -> None:
        """Estimate now and accrue since the previous evaluation."""
        r = self._r
        book = r.books.book(r.info.up_token_id)
        now = r.clock.now_s()
        if book is None:
            self.estimator.reset_clock()
            return
        book.record_levels()  # every level change reaches the estimator, not only the state at each look
        offset = r.clock.epoch_offset_s  # the stream stamps changes on Trio's clock
        self.estimator.observe(
            (is_bid, price, size, now if at is None else at + offset)
            for is_bid, price, size, at in book.take_level_log()
        )
        if not book.levels_current:  # a tick change keeps them current (and the samples go on meanwhile)
            self.estimator.reset_clock()
            return
        bids, asks = book.depth()
        estimate = self.estimator.evaluate(now, bids, asks, self._our_orders())
        self.estimator.accrue(now, estimate)

    def _expected_scoring(self) -> list[str]:
        """Ids of our orders the rule says score now (rested, within the spread, at least the min size)."""
        mid = self.midpoint_micro()
        if mid is None:
            return []
        r = self._r
        rules = self.terms.rules
        now = r.clock.now_s()
        ids = []
        for token in r.info.token_ids:
            for order in r.manager.live_ladder(token):
                if order.state.value != "live" or now - order.created_at_s < self.estimator.min_rest_s + 1.0:
                    continue  # the extra second: the venue's own clock of the order's rest may lag ours
                is_bid = token == r.info.up_token_id
                price = order.price_micro
                yes_price = price if is_bid else _UNIT - price
                size = max(order.size_micro - order.matched_micro, 0)
                if order_score(rules, mid, ScoredOrder(yes_price, is_bid, size)) > 0:
                    ids.append(order.order_id)
        return ids

    async def check_scoring(self) -> None:
        """Ask the venue whether the orders that should score do; alert on each that does not."""
        ids = self._expected_scoring()
        if not ids:
            return
        r = self._r
        self.stats.checks += 1
        try:
            answer = await r.gateway.orders_scoring(ids)
        except (VenueError, trio.TooSlowError) as exc:
            self.stats.check_failures += 1
            log.info("orders-scoring check of %s failed: %s", r.info.slug, exc)
            return
        self.stats.orders_checked += len(ids)
        missing = [oid for oid in ids if answer.get(oid) is False]
        # Ids the venue did not answer for (a dry run, an order that just finished) are not judged.
        if missing:
            self.stats.not_scoring += len(missing)
            self.stats.not_scoring_ids = missing[-10:]
            log.warning("%d of our orders in %s do not score for rewards: %s", len(missing), r.info.slug,
                        ", ".join(oid[:12] for oid in missing))
            r.journal.write("rewards_not_scoring", market=r.info.condition_id, order_ids=missing)

    async def run(self, until_trio_s: float) -> None:
        """Runs beside the market's tasks until `until_trio_s` (the market's end, on Trio's clock): after
        the cutoff our orders are gone, and the others' scoring still decides how the venue spreads the
        pool of the samples nobody scored (`RewardEstimator.estimated_pusd`)."""
        with trio.move_on_at(until_trio_s):
            await self._run()

    async def _run(self) -> None:
        settings = self._r.settings
        next_check = self._r.clock.now_s() + settings.rewards_check_interval_s
        while True:
            self.evaluate()
            now = self._r.clock.now_s()
            if now >= next_check:
                next_check = now + settings.rewards_check_interval_s
                await self.check_scoring()
            # Jittered: the book changes on the flow's own beat, and evaluations on a fixed grid would
            # alias with it (a measured +25 % bias on the simulator); the venue samples at random too.
            await trio.sleep(settings.rewards_estimate_interval_s * (0.5 + self._rng.random()))

    # --- after the market ---------------------------------------------------------------------------
    async def fetch_reported(self, *, timeout_s: float) -> None:
        """The venue's accruals for this market (every UTC date of its window), once, bounded."""
        r = self._r
        dates = sorted({_date(r.info.start_s), _date(r.info.end_s)})
        rewards = rebates = 0.0
        seen = seen_rebates = False
        with trio.move_on_after(timeout_s):
            try:
                for date in dates:
                    for item in await r.gateway.reward_markets(date):
                        if item.get("condition_id") != r.info.condition_id:
                            continue
                        seen = True
                        rewards += sum(float(e.get("earnings") or 0) for e in item.get("earnings") or [])
                        extra = item.get("maker_rebates")
                        if isinstance(extra, dict):
                            seen_rebates = True
                            rebates += float(extra.get("rebates") or 0)
            except (VenueError, trio.TooSlowError, TypeError, ValueError, AttributeError) as exc:
                log.info("reward accruals of %s unavailable: %s", r.info.slug, exc)
                return
            self.reported = {"rewards": rewards if seen else 0.0}
            if seen_rebates:
                self.reported["rebates"] = rebates

    def pnl(self) -> PnlSplit:
        r = self._r
        info = r.info
        fees = 0.0
        fee_equivalent = 0.0
        for fill in r.inventory.counted_fills():
            if fill.taker:
                fees += fill.fee_pusd
            elif info.fee_rate > 0:
                p = fill.price
                fee_equivalent += fill.shares * info.fee_rate * (p * (1 - p)) ** info.fee_exponent
        up_book, down_book = r.books.book(info.up_token_id), r.books.book(info.down_token_id)
        marked = r.inventory.marked_pnl(up_book.best_bid_micro if up_book else None,
                                        down_book.best_bid_micro if down_book else None)
        reported = self.reported or {}
        return PnlSplit(
            spread_pusd=marked + fees,
            fees_paid_pusd=fees,
            maker_fee_equivalent_pusd=fee_equivalent,
            # Makers' fee-equivalents add up to the takers' fees in a market whose volume is all
            # maker-taker, so our pro-rata rebate is the share times our own fee-equivalent.
            rebates_estimated_pusd=self.terms.rebate_share * fee_equivalent,
            rebates_reported_pusd=reported.get("rebates"),
            rewards_estimated_pusd=float(self.estimator.estimated_pusd),
            rewards_reported_pusd=reported.get("rewards"),
        )

    def summary(self) -> dict[str, Any]:
        last = self.estimator.last
        inv = self._r.inventory
        return {
            # What a resolution-aware P&L needs beside the runner's realised P&L: cost, fees included.
            "inventory_cost_pusd": inv.up.cost_pusd + inv.down.cost_pusd,
            "rewards_pool_per_day": self.terms.rate_per_day_pusd,
            "rewards_q_min": last.q_min if last else 0.0,
            "rewards_share": float(last.share) if last else 0.0,
            "rewards_scoring_orders": last.scoring_orders if last else 0,
            "rewards_not_scoring": self.stats.not_scoring,
            "rewards_checks": self.stats.checks,
            **self.pnl().as_dict(),
        }


def _date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
