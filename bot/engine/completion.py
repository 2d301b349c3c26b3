"""Completion planning: one bounded FOK/FAK BUY of the lagging token whose price cap keeps the pair profitable.

A BUY market order's amount is **pUSD to spend, not shares** (spec section 4): to buy `n` shares with a
cap `p` we send `amount = floor(n × p, 2)` pUSD; price improvement buys more shares, never fewer than the
amount allows at the cap. The cap is the highest price on the tick grid at which one lagging share, plus
the taker fee the venue charges by the V2 formula `rate × (p(1-p))^exponent` per share (spec section 9),
keeps `avg_cost(leading) + cost(lagging)` within the **stricter** of `1 − min_edge` and, when set,
`max_pair_cost`: the optional cap tightens the edge rule, it never loosens it. Cost `p + fee(p)` rises
with `p` for every realistic rate, so the cap bounds the worst fill too.

All money is integers (`bot.protocol.money`): prices in ticks of the grid, shares and pUSD in micro-units;
the leading side's average cost is kept as the exact ratio cost / shares, never divided out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from bot.protocol.money import MICRO, TickGrid, micro_to_float

__all__ = ["CompletionPlan", "pair_cost_limit_micro", "plan_completion", "taker_fee_micro", "taker_fee_per_share"]

_MARKETABLE_BUY_MIN_MICRO = 1 * MICRO  # spec 4: "invalid amount for a marketable BUY order ($X), min size: $1"
_CENT_MICRO = MICRO // 100  # spec 4: a market BUY's maker amount (pUSD) has at most 2 decimals
_SHARE_STEP_MICRO = MICRO // 100  # shares on the venue have at most 2 decimals (ROUNDING_CONFIG size)


@dataclass(frozen=True, slots=True)
class CompletionPlan:
    token_id: str  # the lagging token to BUY
    shares_micro: int
    price_ticks: int
    grid: TickGrid
    amount_micro: int  # what the order spends at most (its makerAmount)
    fee_per_share_micro: int  # the taker fee at the cap, rounded up
    leading_cost_micro: int  # the leading side's inventory cost and shares: its exact average cost
    leading_shares_micro: int

    @property
    def price_micro(self) -> int:
        return self.grid.price_micro(self.price_ticks)

    # Display (journal, status, tests that read dollars): never fed back into money arithmetic.
    @property
    def price_cap(self) -> float:
        return self.grid.price_float(self.price_ticks)

    @property
    def amount_pusd(self) -> float:
        return micro_to_float(self.amount_micro)

    @property
    def shares_needed(self) -> float:
        return micro_to_float(self.shares_micro)

    @property
    def expected_pair_cost(self) -> float:
        """Leading average cost + cap + fee at the cap, per pair."""
        avg = self.leading_cost_micro / self.leading_shares_micro
        return (avg + self.price_micro + self.fee_per_share_micro) / MICRO


def taker_fee_per_share(price: float, rate: float, exponent: float) -> float:
    """The venue's V2 taker fee per share at `price` (spec 9), for display and the fee model's tests."""
    return rate * (price * (1.0 - price)) ** exponent


def taker_fee_micro(price_micro: int, rate: float, exponent: float) -> int:
    """The taker fee per share at `price_micro`, in micro-pUSD, rounded **up** (a cap must cover it).

    The rate and exponent are the market's fee parameters (not money); the fee is money and leaves here
    as an integer.
    """
    if rate <= 0:
        return 0
    if exponent == 1:  # the venue's usual curve: exact, from the rate's decimal text
        return math.ceil(Fraction(repr(rate)) * price_micro * (MICRO - price_micro) / MICRO)
    p = price_micro / MICRO
    return math.ceil(rate * (p * (1.0 - p)) ** exponent * MICRO)


def pair_cost_limit_micro(min_edge_micro: int, max_pair_cost_micro: int | None) -> int:
    """What a pair may cost at most: the stricter of `1 − min_edge` and the optional `max_pair_cost`."""
    limit = MICRO - min_edge_micro
    return limit if max_pair_cost_micro is None else min(limit, max_pair_cost_micro)


def plan_completion(
    *,
    lagging_token_id: str,
    imbalance_micro: int,
    leading_cost_micro: int,
    leading_shares_micro: int,
    grid: TickGrid,
    min_edge_micro: int,
    max_pair_cost_micro: int | None,
    fee_rate: float,
    fee_exponent: float,
    best_ask_micro: int | None = None,
) -> CompletionPlan | None:
    """The order to send, or None when no price on the grid keeps the pair within its limit.

    `best_ask_micro`, when known, lowers the cap to the ask: paying more than the book asks buys nothing
    extra, and a cap at the ask keeps the pUSD amount (and so the balance reserved) no larger than needed.
    When the cap cannot reach the best ask there is nothing to take: None.
    """
    if leading_shares_micro <= 0 or imbalance_micro <= 0:
        return None
    limit = pair_cost_limit_micro(min_edge_micro, max_pair_cost_micro)

    def fits(ticks: int) -> bool:
        # avg + p + fee <= limit, with avg = cost / shares kept exact by multiplying through.
        p = grid.price_micro(ticks)
        fee = taker_fee_micro(p, fee_rate, fee_exponent)
        return leading_cost_micro * MICRO + (p + fee) * leading_shares_micro <= limit * leading_shares_micro

    # Highest tick with p <= limit − avg, i.e. p × shares <= limit × shares − cost (exact floor).
    ticks = min(
        grid.max_ticks - 1,
        (limit * leading_shares_micro - leading_cost_micro * MICRO) // (leading_shares_micro * grid.tick_micro),
    )
    if best_ask_micro is not None:
        ticks = min(ticks, grid.ceil_ticks(best_ask_micro))
    while ticks >= 1 and not fits(ticks):
        ticks -= 1
    if ticks < 1:
        return None
    price = grid.price_micro(ticks)
    if best_ask_micro is not None and price < best_ask_micro:
        # Nothing is offered at or below the cap: a FOK/FAK would only be killed, and pausing the
        # maker ladder for it would churn every quote for nothing.
        return None
    shares = imbalance_micro - imbalance_micro % _SHARE_STEP_MICRO
    amount = shares * price // MICRO
    amount -= amount % _CENT_MICRO
    if amount < _MARKETABLE_BUY_MIN_MICRO:
        return None
    return CompletionPlan(lagging_token_id, shares, ticks, grid, amount, taker_fee_micro(price, fee_rate, fee_exponent),
                          leading_cost_micro, leading_shares_micro)
