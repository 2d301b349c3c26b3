"""Our liquidity-reward estimate: the venue's rule applied to our orders and the book we see.

Guarantees:
- Our Q_one, Q_two and Q_min are exact (`bot.protocol.rewards`, the rule the venue applies, spec 12.2)
  given our open orders (remaining size, price, age) and the size-cutoff-adjusted midpoint of the book.
- The rest of the book (every level minus our own size there) is scored as ONE other maker. The venue
  normalises per maker, and Σ min(Q_one_j, Q_two_j) ≤ min(Σ Q_one_j, Σ Q_two_j), so this slightly
  overstates the others' total and understates our share when the others quote lopsidedly; it is the
  best the aggregated public book allows.
- The others' orders score only after the minimum rest too: a level whose size (net of ours) changed
  is taken as freshly re-quoted and left out until it has rested, as makers replace whole orders.
- The expected accrual integrates share × pool over time: a sample every venue minute pays 1/1440 of
  the market's daily rate, so `dt / sample_period_s` samples' worth accrue per step. The venue's samples
  are at random moments; the integral is their expectation.

Prices and sizes enter as the book and the order cache hold them, integer micro-units (10⁻⁶), and the
arithmetic is exact throughout.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from bot.protocol.rewards import (
    SAMPLES_PER_DAY,
    RewardRules,
    ScoredOrder,
    Scores,
    adjusted_midpoint,
    maker_scores,
    order_score,
)

__all__ = ["OurOrder", "RewardEstimate", "RewardEstimator", "RewardTerms"]

_UNIT = 1_000_000


@dataclass(frozen=True, slots=True)
class RewardTerms:
    """A market's incentive terms (Gamma `rewardsMaxSpread`, `rewardsMinSize`, `clobRewards`, `feeSchedule`)."""

    max_spread_cents: float
    min_size_shares: float
    rate_per_day_pusd: float
    rebate_share: float = 0.0
    in_game_multiplier: float = 1.0

    @property
    def has_pool(self) -> bool:
        return self.rate_per_day_pusd > 0

    @property
    def rules(self) -> RewardRules:
        return RewardRules.of(self.max_spread_cents, self.min_size_shares, self.in_game_multiplier)


@dataclass(frozen=True, slots=True)
class OurOrder:
    """One of our open BUYs as the rule sees it (price and remaining size in micro-units)."""

    token_id: str
    price_micro: int
    remaining_micro: int
    created_at_s: float


@dataclass(frozen=True, slots=True)
class RewardEstimate:
    """One evaluation: the midpoint, our scores, the others' Q_min and our share of the sample."""

    midpoint: float | None
    ours: Scores
    others_q_min: Fraction
    share: Fraction
    scoring_orders: int

    @property
    def q_min(self) -> float:
        return float(self.ours.q_min)


_EMPTY = Scores(Fraction(0), Fraction(0), Fraction(0))


@dataclass
class RewardEstimator:
    """Evaluates our share of a market's reward sample and integrates the expected accrual."""

    terms: RewardTerms
    up_token_id: str
    sample_period_s: float
    min_rest_s: float
    estimated_pusd: Fraction = Fraction(0)
    last: RewardEstimate | None = None
    evaluations: int = 0
    _last_at_s: float | None = field(default=None, repr=False)
    # (is Yes-space bid, price units) -> (others' size there, when it last changed)
    _levels: dict[tuple[bool, int], tuple[int, float]] = field(default_factory=dict, repr=False)
    _looked_at_s: float | None = field(default=None, repr=False)

    def evaluate(
        self,
        now_s: float,
        up_bids: Iterable[tuple[int, int]],
        up_asks: Iterable[tuple[int, int]],
        orders: Iterable[OurOrder],
    ) -> RewardEstimate:
        """Our scores now from the Up token's book levels (price_micro, size_micro) and our open orders.

        The Up book is the Yes space: our Up BUYs are bids there, our Down BUYs at q are asks at 1 − q."""
        rules = self.terms.rules
        bids = dict(up_bids)
        asks = dict(up_asks)
        mid = adjusted_midpoint(bids.items(), asks.items(), rules.min_size_units)
        ours: list[ScoredOrder] = []
        for order in orders:
            is_bid = order.token_id == self.up_token_id
            price = order.price_micro if is_bid else _UNIT - order.price_micro
            size = order.remaining_micro
            side = bids if is_bid else asks
            if price in side:  # the book shows our own size too: take it out of "the others"
                side[price] = max(0, side[price] - size)
            if now_s - order.created_at_s >= self.min_rest_s:
                ours.append(ScoredOrder(price, is_bid, size))
        self.evaluations += 1
        if mid is None:
            self.last = RewardEstimate(None, _EMPTY, Fraction(0), Fraction(0), 0)
            return self.last
        mine = maker_scores(rules, mid, ours)
        others = self._rested_others(now_s, bids, asks)
        # Each other level is scored with the min-size rule applied to the level: per-order sizes are
        # not public, and a level at or above the minimum is what a qualifying order makes.
        theirs = maker_scores(rules, mid, others).q_min
        total = mine.q_min + theirs
        share = mine.q_min / total if total > 0 else Fraction(0)
        scoring = sum(1 for o in ours if order_score(rules, mid, o) > 0)
        self.last = RewardEstimate(float(mid) / _UNIT, mine, theirs, share, scoring)
        return self.last

    def _rested_others(self, now_s: float, bids: dict[int, int], asks: dict[int, int]) -> list[ScoredOrder]:
        first = not self._levels
        levels: dict[tuple[bool, int], tuple[int, float]] = {}
        out = []
        for is_bid, side in ((True, bids), (False, asks)):
            for price, size in side.items():
                if size <= 0:
                    continue
                key = (is_bid, price)
                seen = self._levels.get(key)
                # Unknown history (our first look) counts as rested; a changed size as re-quoted now.
                # The change happened since our previous look: half-way is the unbiased guess.
                changed_at = now_s if self._looked_at_s is None else (self._looked_at_s + now_s) / 2
                since = (-math.inf if first else changed_at) if seen is None or seen[0] != size else seen[1]
                levels[key] = (size, since)
                if now_s - since >= self.min_rest_s:
                    out.append(ScoredOrder(price, is_bid, size))
        self._levels = levels
        self._looked_at_s = now_s
        return out

    def accrue(self, now_s: float, estimate: RewardEstimate) -> Fraction:
        """Add the expected reward since the previous call at `estimate`'s share; returns the increment."""
        previous, self._last_at_s = self._last_at_s, now_s
        if previous is None or now_s <= previous or not self.terms.has_pool:
            return Fraction(0)
        samples = Fraction(now_s - previous) / Fraction(self.sample_period_s)
        per_sample = Fraction(str(self.terms.rate_per_day_pusd)) / SAMPLES_PER_DAY
        increment = estimate.share * per_sample * samples
        self.estimated_pusd += increment
        return increment

    def reset_clock(self) -> None:
        """Forget the last accrual time (after a gap in which we held no scoring orders)."""
        self._last_at_s = None
