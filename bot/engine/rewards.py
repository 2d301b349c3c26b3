"""Our liquidity-reward estimate: the venue's rule applied to our orders and the book we see.

Guarantees:
- Our Q_one, Q_two and Q_min are exact (`bot.protocol.rewards`, the rule the venue applies, spec 12.2)
  given our open orders (remaining size, price, age) and the size-cutoff-adjusted midpoint of the book.
- The rest of the book (every level minus our own size there) is scored as ONE other maker. The venue
  normalises per maker, and Σ min(Q_one_j, Q_two_j) ≤ min(Σ Q_one_j, Σ Q_two_j), so this slightly
  overstates the others' total and understates our share when the others quote lopsidedly; it is the
  best the aggregated public book allows.
- The others' orders score only after the minimum rest too: each level (net of ours) is kept as chunks
  of size with the time they appeared; growth is a new chunk, a shrink takes from the oldest first (fills
  are first in, first out), and a chunk scores once it has rested.
- The expected accrual integrates share × pool over time: a sample every venue minute pays 1/1440 of
  the market's daily rate, so `dt / sample_period_s` samples' worth accrue per step. The venue's samples
  are at random moments; the integral is their expectation.
- The venue normalises twice: per sample across makers, then the epoch's sums again, so a sample in
  which nobody scored pays nobody and its part of the pool goes to the samples in which someone did
  (spec 12.2). The estimate scales the integral by watched time / time in which anyone scored (the book
  is watched to the market's end, our orders or not); before the first look counts as scored.

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
    accrued_pusd: Fraction = Fraction(0)  # Σ share × pool per sample, before the second normalisation
    watched_s: Fraction = Fraction(0)
    scored_s: Fraction = Fraction(0)  # of which someone (we or the others) scored
    last: RewardEstimate | None = None
    evaluations: int = 0
    _last_at_s: float | None = field(default=None, repr=False)
    # (is Yes-space bid, price units) -> the others' size there as chunks [size, since when]
    _levels: dict[tuple[bool, int], list[list[float]]] = field(default_factory=dict, repr=False)
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
        """The others' size that has rested, per level. A level is kept as chunks (size, since): growth is
        a new chunk placed now (half-way since our previous look: the unbiased guess), a shrink takes size
        from the oldest chunks first (fills are first in, first out), and a level that vanished is gone.
        What we saw at our first look counts as rested (its history is unknown)."""
        first = not self._levels and self._looked_at_s is None
        changed_at = now_s if self._looked_at_s is None else (self._looked_at_s + now_s) / 2
        levels: dict[tuple[bool, int], list[list[float]]] = {}
        out = []
        for is_bid, side in ((True, bids), (False, asks)):
            for price, size in side.items():
                if size <= 0:
                    continue
                key = (is_bid, price)
                chunks = [list(c) for c in self._levels.get(key, ())]
                held = sum(int(c[0]) for c in chunks)
                if size > held:
                    chunks.append([size - held, -math.inf if first else changed_at])
                else:
                    excess = held - size
                    while excess > 0 and chunks:
                        take = min(excess, int(chunks[0][0]))
                        chunks[0][0] -= take
                        excess -= take
                        if chunks[0][0] <= 0:
                            chunks.pop(0)
                levels[key] = chunks
                rested = sum(int(c[0]) for c in chunks if now_s - c[1] >= self.min_rest_s)
                if rested > 0:
                    out.append(ScoredOrder(price, is_bid, rested))
        self._levels = levels
        self._looked_at_s = now_s
        return out

    def accrue(self, now_s: float, estimate: RewardEstimate) -> Fraction:
        """Add the expected reward since the previous call at `estimate`'s share; returns the increment
        (before the second normalisation, `estimated_pusd`)."""
        previous, self._last_at_s = self._last_at_s, now_s
        if previous is None or now_s <= previous or not self.terms.has_pool:
            return Fraction(0)
        dt = Fraction(now_s - previous)
        self.watched_s += dt
        if estimate.ours.q_min + estimate.others_q_min > 0:
            self.scored_s += dt
        per_sample = Fraction(str(self.terms.rate_per_day_pusd)) / SAMPLES_PER_DAY
        increment = estimate.share * per_sample * dt / Fraction(self.sample_period_s)
        self.accrued_pusd += increment
        return increment

    @property
    def estimated_pusd(self) -> Fraction:
        """Our expected reward so far: the accrual, with the pool of the samples nobody scored spread over
        the ones somebody did (the venue's second normalisation)."""
        if self.scored_s <= 0:
            return self.accrued_pusd
        return self.accrued_pusd * self.watched_s / self.scored_s

    def reset_clock(self) -> None:
        """Forget the last accrual time (after a gap in which we held no scoring orders)."""
        self._last_at_s = None
