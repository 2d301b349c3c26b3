"""Our liquidity-reward estimate: the venue's rule applied to our orders and the book we see.

Guarantees:
- Our Q_one, Q_two and Q_min are exact (`bot.protocol.rewards`, the rule the venue applies, spec 12.2)
  given our open orders (remaining size, price, age) and the size-cutoff-adjusted midpoint of the book.
- The others are told apart by when their orders arrived. The venue scores per maker, and
  Σ min(Q_one_j, Q_two_j) ≤ min(Σ Q_one_j, Σ Q_two_j): the public book adds makers together, so scored
  as one maker, a bid-only and an ask-only maker looked two-sided (and, outside mid 0.10–0.90, earned
  where the venue paid nobody). Orders that reached the book within `MAKER_BURST_S` of each other are
  one maker's (a maker posts its quotes in one call), each its own order for the minimum size; what
  the first look found, of unknown makers, is scored as one maker with the minimum size per level.
  Separate makers inside one burst are merged, which overstates them (the old rule, now rare).
- The others' orders score only after the minimum rest too. Each level is kept as chunks of size with
  the time they appeared, fed with every change of the level as the market channel sent it
  (`observe`, from `OrderBook.record_levels`), so an order cancelled and replaced at the same price
  between two evaluations is a new chunk, as it is a new order at the venue; the book's state at each
  evaluation corrects whatever the changes missed. Growth is a new chunk (an order placed); a shrink
  removes the chunk of exactly that size if there is one (an order cancelled or filled whole), else
  takes from the oldest first (fills are first in, first out). Our own orders are then taken out of
  their level: the chunk of their remaining size that appeared after we made them, else their size from
  the oldest chunks that did, then the newest before (`_take_ours`). A chunk scores once it has rested.
- The expected accrual integrates share × pool over time: a sample every venue minute pays 1/1440 of
  the market's daily rate, so `dt / sample_period_s` samples' worth accrue per step. The venue's samples
  are at random moments; the integral is their expectation.
- The venue normalises twice: per sample across makers, then the epoch's sums again, so a sample in
  which nobody scored pays nobody and its part of the pool goes to the samples in which someone did
  (spec 12.2). The estimate scales the integral by watched time / time in which anyone scored (the book
  is watched to the market's end, our orders or not). The samples before the first look, from when the
  market took orders (`sampled_since_s`, Gamma `acceptingOrdersTimestamp`; not before the epoch's UTC
  day), count as scored by the others: a listed market has makers on it, and we did not see it.

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
# Orders of the others that reached the book within this long of each other are taken as one maker's
# (a maker posts its ladder in one call; separate makers rarely land in the same 50 ms).
MAKER_BURST_S = 0.05


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
    sampled_since_s: float | None = None  # since when the venue samples the market (None: unknown)
    accrued_pusd: Fraction = Fraction(0)  # Σ share × pool per sample, before the second normalisation
    watched_s: Fraction = Fraction(0)
    scored_s: Fraction = Fraction(0)  # of which someone (we or the others) scored
    last: RewardEstimate | None = None
    evaluations: int = 0
    _last_at_s: float | None = field(default=None, repr=False)
    # (is Yes-space bid, price units) -> everyone's size there as chunks [size, since when, rested at the
    # first look]
    _levels: dict[tuple[bool, int], list[list[float]]] = field(default_factory=dict, repr=False)
    _looked_at_s: float | None = field(default=None, repr=False)

    def observe(self, changes: Iterable[tuple[bool, int, int, float]]) -> None:
        """Replay level changes of the Up book in arrival order: (is bid, price, new size, at), every
        maker's size (ours too). Before the first evaluation they are ignored (the first look takes the
        book as it is then)."""
        if self._looked_at_s is None:
            return
        levels = self._levels
        for is_bid, price, size, at_s in changes:
            key = (is_bid, price)
            chunks = levels.get(key)
            if chunks is None:
                if size <= 0:
                    continue
                chunks = levels[key] = []
            _resize(chunks, size, at_s)
            if not chunks:
                del levels[key]

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
        self._reconcile(now_s, bids, asks)
        ours: list[ScoredOrder] = []
        mine_at: dict[tuple[bool, int], list[OurOrder]] = {}
        for order in orders:
            is_bid = order.token_id == self.up_token_id
            price = order.price_micro if is_bid else _UNIT - order.price_micro
            mine_at.setdefault((is_bid, price), []).append(order)
            if now_s - order.created_at_s >= self.min_rest_s:
                ours.append(ScoredOrder(price, is_bid, order.remaining_micro))
        self.evaluations += 1
        if mid is None:
            self.last = RewardEstimate(None, _EMPTY, Fraction(0), Fraction(0), 0)
            return self.last
        mine = maker_scores(rules, mid, ours)
        theirs = self._others_q_min(now_s, mid, mine_at)
        total = mine.q_min + theirs
        share = mine.q_min / total if total > 0 else Fraction(0)
        scoring = sum(1 for o in ours if order_score(rules, mid, o) > 0)
        self.last = RewardEstimate(float(mid) / _UNIT, mine, theirs, share, scoring)
        return self.last

    def _reconcile(self, now_s: float, bids: dict[int, int], asks: dict[int, int]) -> None:
        """Bring the chunks to the book's state now. At the first look every level is one chunk of unknown
        age that counts as rested; later, a change the observed ones missed is placed half-way since the
        previous look (the unbiased guess), and a level the book no longer has is gone."""
        first = self._looked_at_s is None
        changed_at = now_s if first else (self._looked_at_s + now_s) / 2
        levels: dict[tuple[bool, int], list[list[float]]] = {}
        for is_bid, side in ((True, bids), (False, asks)):
            for price, size in side.items():
                if size <= 0:
                    continue
                key = (is_bid, price)
                if first:
                    levels[key] = [[size, now_s, True]]
                    continue
                chunks = self._levels.get(key, [])
                _resize(chunks, size, changed_at)
                levels[key] = chunks
        self._levels = levels
        self._looked_at_s = now_s

    def _others_q_min(self, now_s: float, mid: Fraction, mine_at: dict[tuple[bool, int], list[OurOrder]]) -> Fraction:
        """The others' Σ Q_min from their rested chunks (each level's chunks less our orders there), one
        maker per burst of arrivals (`MAKER_BURST_S`)."""
        rested: list[tuple[float, ScoredOrder]] = []
        first_look: list[ScoredOrder] = []
        min_rest_s = self.min_rest_s
        for (is_bid, price), chunks in self._levels.items():
            mine = mine_at.get((is_bid, price))
            if mine:
                chunks = [list(c) for c in chunks]
                for order in mine:
                    _take_ours(chunks, order.remaining_micro, order.created_at_s)
            for size, since, seen_first in chunks:
                if size <= 0:
                    continue
                if seen_first:
                    first_look.append(ScoredOrder(price, is_bid, int(size)))
                elif now_s - since >= min_rest_s:
                    rested.append((since, ScoredOrder(price, is_bid, int(size))))
        rules = self.terms.rules
        # What the first look found is one maker: its makers and orders are unknown (the level rule).
        total = maker_scores(rules, mid, _merged_levels(first_look)).q_min if first_look else Fraction(0)
        rested.sort(key=lambda item: item[0])
        burst: list[ScoredOrder] = []
        last_s = -math.inf
        for since, order in rested:
            if burst and since - last_s > MAKER_BURST_S:
                total += maker_scores(rules, mid, burst).q_min
                burst = []
            burst.append(order)
            last_s = since
        if burst:
            total += maker_scores(rules, mid, burst).q_min
        return total

    def accrue(self, now_s: float, estimate: RewardEstimate) -> Fraction:
        """Add the expected reward since the previous call at `estimate`'s share; returns the increment
        (before the second normalisation, `estimated_pusd`)."""
        previous, self._last_at_s = self._last_at_s, now_s
        if previous is None and self.watched_s == 0 and self.sampled_since_s is not None:
            epoch_start_s = now_s // 86_400 * 86_400
            unseen = now_s - max(self.sampled_since_s, epoch_start_s)
            if unseen > 0:
                self.watched_s += Fraction(unseen)
                self.scored_s += Fraction(unseen)
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


def _resize(chunks: list[list[float]], size: int, at_s: float) -> None:
    """Make a level's chunks add up to `size`: growth is a new chunk placed at `at_s`; a shrink removes the
    chunk of exactly that size (an order gone whole: the oldest such), else takes from the oldest first."""
    held = sum(int(c[0]) for c in chunks)
    if size > held:
        chunks.append([size - held, at_s, False])
        return
    excess = held - size
    if excess <= 0:
        return
    for i, chunk in enumerate(chunks):
        if int(chunk[0]) == excess:
            del chunks[i]
            return
    while excess > 0 and chunks:
        take = min(excess, int(chunks[0][0]))
        chunks[0][0] -= take
        excess -= take
        if chunks[0][0] <= 0:
            chunks.pop(0)


def _take_ours(chunks: list[list[float]], remaining: int, created_at_s: float) -> None:
    """Take one of our orders out of its level's chunks: the chunk of its exact remaining size that appeared
    after we made it (our order reaches the book after we stamp it), else its size from the oldest chunks
    that appeared after, then from the newest before (a first look's chunk holds what came before it)."""
    after = [c for c in chunks if c[1] >= created_at_s]
    for chunk in after:
        if int(chunk[0]) == remaining:
            chunks.remove(chunk)
            return
    before = [c for c in chunks if c[1] < created_at_s]
    left = remaining
    for chunk in after + before[::-1]:
        if left <= 0:
            break
        take = min(left, int(chunk[0]))
        chunk[0] -= take
        left -= take
    chunks[:] = [c for c in chunks if c[0] > 0]


def _merged_levels(orders: list[ScoredOrder]) -> list[ScoredOrder]:
    """Orders of one price and side as one (the minimum size then applies to the level)."""
    sizes: dict[tuple[bool, int], int] = {}
    for o in orders:
        sizes[(o.is_bid, o.yes_price_units)] = sizes.get((o.is_bid, o.yes_price_units), 0) + o.size_units
    return [ScoredOrder(price, is_bid, size) for (is_bid, price), size in sizes.items()]
