"""Completion planning: one bounded FOK/FAK BUY of the lagging token whose price cap keeps the pair profitable.

A BUY market order's amount is **pUSD to spend, not shares** (spec section 4): to buy `n` shares with a
cap `p` we send `amount = floor(n × p, 2)` pUSD; price improvement buys more shares, never fewer than the
amount allows at the cap. The cap is the highest price on the tick grid at which one lagging share,
plus the taker fee the venue charges by the V2 formula `rate × (p(1-p))^exponent` per share (spec
section 9), still keeps `avg_cost(leading) + cost(lagging) <= 1 - min_edge` (or `<= max_pair_cost`).
Cost `p + fee(p)` rises with `p` for every realistic rate, so the cap bounds the worst fill too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["CompletionPlan", "plan_completion", "taker_fee_per_share"]

_MARKETABLE_BUY_MIN_PUSD = 1.0  # spec 4: "invalid amount for a marketable BUY order ($X), min size: $1"
_BUY_AMOUNT_DECIMALS = 2  # spec 4: market BUY maker amount (pUSD) max 2 decimals
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class CompletionPlan:
    token_id: str  # the lagging token to BUY
    shares_needed: float
    price_cap: float
    amount_pusd: float  # what the order spends at most (its makerAmount)
    expected_pair_cost: float  # leading avg cost + cap + fee at cap, per pair


def taker_fee_per_share(price: float, rate: float, exponent: float) -> float:
    return rate * (price * (1.0 - price)) ** exponent


def plan_completion(
    *,
    lagging_token_id: str,
    imbalance_shares: float,
    leading_avg_cost: float,
    tick_size: str,
    min_edge: float,
    max_pair_cost: float | None,
    fee_rate: float,
    fee_exponent: float,
    best_ask: float | None = None,
) -> CompletionPlan | None:
    """The order to send, or None when no price on the grid keeps the pair within its limit.

    `best_ask`, when known, lowers the cap to the ask: paying more than the book asks buys nothing
    extra, and a cap at the ask keeps the pUSD amount (and so the balance reserved) no larger than needed.
    When the cap cannot reach the best ask there is nothing to take: None.
    """
    tick = float(tick_size)
    decimals = len(tick_size.split(".")[1]) if "." in tick_size else 0
    target = (max_pair_cost if max_pair_cost is not None else 1.0 - min_edge) - leading_avg_cost
    if target <= tick:
        return None
    ticks = math.floor(min(target, 1.0 - tick) / tick + _EPS)
    if best_ask is not None:
        ticks = min(ticks, math.ceil(best_ask / tick - _EPS))
    while ticks >= 1:
        price = round(ticks * tick, decimals)
        if price + taker_fee_per_share(price, fee_rate, fee_exponent) <= target + _EPS:
            break
        ticks -= 1
    else:
        return None
    if best_ask is not None and price < best_ask - _EPS:
        # Nothing is offered at or below the cap: a FOK/FAK would only be killed, and pausing the
        # maker ladder for it would churn every quote for nothing.
        return None
    shares = math.floor(imbalance_shares * 100 + _EPS) / 100
    amount = math.floor(shares * price * 10**_BUY_AMOUNT_DECIMALS + _EPS) / 10**_BUY_AMOUNT_DECIMALS
    if amount < _MARKETABLE_BUY_MIN_PUSD:
        return None
    fee = taker_fee_per_share(price, fee_rate, fee_exponent)
    return CompletionPlan(lagging_token_id, shares, price, amount, leading_avg_cost + price + fee)
