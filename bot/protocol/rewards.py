"""The venue's liquidity-reward scoring rule, exactly, as pure functions on integer prices and sizes.

Spec: docs/protocol/polymarket-clob.md §12.2 (docs, Market Makers → Liquidity Rewards):

- `S(v, s) = ((v − s)/v)² · b`, v the market's max spread in cents, s an order's distance in cents from
  the size-cutoff-adjusted midpoint, b the in-game multiplier (1 outside live games). Orders below the
  min size or at/beyond v do not score.
- `Q_one = Σ S·BidSize(m) + Σ S·AskSize(m′)`, `Q_two = Σ S·AskSize(m) + Σ S·BidSize(m′)`.
- Midpoint in [0.10, 0.90]: `Q_min = max(min(Q_one, Q_two), max(Q_one, Q_two)/c)`, c = 3; outside it
  `Q_min = min(Q_one, Q_two)` (only two-sided quoting scores).

Everything is in the first ("Yes"/"Up") token's price space, where the complement's book is a mirror
(spec 9): a BUY of m′ at q rests as an ask at 1 − q on m, a SELL of m′ at q as a bid at 1 − q. So Q_one
is the score-weighted size of a maker's Yes-space bids and Q_two of its Yes-space asks.

"Size-cutoff-adjusted midpoint" is not defined further by the docs (UNCONFIRMED); here it is the mean
of the best bid and best ask at which the cumulative depth from the top first reaches the min size, so
dust orders at the touch do not move it. The engine's estimator and the simulator's sampler share this
module, so they cannot disagree on the rule; the scenario tests pin it against hand-computed values.

Arithmetic is exact (`Fraction`): prices and sizes are integers in 1e6 units; results are in
share-units (size × score) as Fractions, converted to float only for display.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "CENT_UNITS",
    "MID_RANGE_UNITS",
    "SAMPLES_PER_DAY",
    "SINGLE_SIDED_FACTOR",
    "RewardRules",
    "ScoredOrder",
    "Scores",
    "adjusted_midpoint",
    "maker_scores",
    "order_score",
    "q_min",
]

UNIT = 1_000_000
CENT_UNITS = UNIT // 100
# Spec 12.2: c = 3.0 on all markets; single-sided quoting counts a third inside [0.10, 0.90].
SINGLE_SIDED_FACTOR = 3
MID_RANGE_UNITS = (100_000, 900_000)
# Spec 12.2: sampled once a minute, 10,080 samples a week.
SAMPLES_PER_DAY = 1440


@dataclass(frozen=True, slots=True)
class RewardRules:
    """One market's reward parameters: `rewardsMaxSpread` (cents), `rewardsMinSize` (1e6 units)."""

    max_spread_cents: Fraction
    min_size_units: int
    in_game_multiplier: Fraction = Fraction(1)

    @classmethod
    def of(cls, max_spread_cents: float | str, min_size_shares: float | str, multiplier: float = 1.0) -> RewardRules:
        return cls(
            Fraction(str(max_spread_cents)),
            int(Fraction(str(min_size_shares)) * UNIT),
            Fraction(str(multiplier)),
        )


@dataclass(frozen=True, slots=True)
class ScoredOrder:
    """One resting order as the rule sees it: Yes-space price, Yes-space side, remaining size."""

    yes_price_units: int
    is_bid: bool  # in the Yes book: BUY Yes or SELL No
    size_units: int


@dataclass(frozen=True, slots=True)
class Scores:
    """A maker's Q_one, Q_two and Q_min for one sample, in share-units."""

    q_one: Fraction
    q_two: Fraction
    q_min: Fraction


def adjusted_midpoint(
    bids: Iterable[tuple[int, int]], asks: Iterable[tuple[int, int]], min_size_units: int
) -> Fraction | None:
    """The size-cutoff-adjusted midpoint of a Yes-space book of (price_units, size_units) levels, or None
    when either side never reaches the min size."""

    def reach(levels: list[tuple[int, int]]) -> int | None:
        depth = 0
        for price, size in levels:
            depth += size
            if depth >= max(min_size_units, 1):
                return price
        return None

    bid = reach(sorted(bids, key=lambda lv: -lv[0]))
    ask = reach(sorted(asks, key=lambda lv: lv[0]))
    if bid is None or ask is None:
        return None
    return Fraction(bid + ask, 2)


def order_score(rules: RewardRules, midpoint_units: Fraction, order: ScoredOrder) -> Fraction:
    """S(v, s) of one order (0 below the min size or at/beyond the max spread)."""
    if order.size_units < rules.min_size_units:
        return Fraction(0)
    spread_cents = abs(order.yes_price_units - midpoint_units) / CENT_UNITS
    v = rules.max_spread_cents
    if spread_cents >= v:
        return Fraction(0)
    return ((v - spread_cents) / v) ** 2 * rules.in_game_multiplier


def q_min(q_one: Fraction, q_two: Fraction, midpoint_units: Fraction) -> Fraction:
    """Q_min per spec 12.2 (one-sided quoting earns a third inside [0.10, 0.90], nothing outside)."""
    low, high = MID_RANGE_UNITS
    if low <= midpoint_units <= high:
        return max(min(q_one, q_two), max(q_one, q_two) / SINGLE_SIDED_FACTOR)
    return min(q_one, q_two)


def maker_scores(rules: RewardRules, midpoint_units: Fraction, orders: Iterable[ScoredOrder]) -> Scores:
    """One maker's scores from its resting orders (already filtered for minimum rest time)."""
    q_one = Fraction(0)
    q_two = Fraction(0)
    for order in orders:
        weighted = order_score(rules, midpoint_units, order) * order.size_units / UNIT
        if order.is_bid:
            q_one += weighted
        else:
            q_two += weighted
    return Scores(q_one, q_two, q_min(q_one, q_two, midpoint_units))
