"""The simulator's incentives: liquidity-reward sampling and maker rebates, accrued per maker account.

Spec: docs/protocol/polymarket-clob.md §12.2 (rewards) and §12.3 (fees and rebates).

Guarantees:
- One sample per (compressed) minute, at a moment drawn uniformly inside that minute from the seeded
  generator; every market with a pool that accepts orders at that moment is sampled.
- A sample computes each maker's Q_one, Q_two and Q_min exactly (`bot.protocol.rewards`) from its
  resting orders that have rested at least `scoring_min_rest_s`, against the book's size-cutoff-adjusted
  midpoint; the shares are normalised across every maker in the market (the flow's makers included).
- Accrual follows the docs' two normalisations: per sample share = Q_min / Σ Q_min; per epoch (a UTC
  day of venue time) the summed shares are normalised again; the pool paid so far is
  `rate_per_day × samples / 1440`. A sample nobody scores pays nothing and is left out of the second
  normalisation, as the docs' formula implies.
- Maker rebates: per market and epoch, `rebate_share × taker fees` split pro rata to each maker's
  fee-equivalent `C × rate × p(1 − p)` of its filled maker orders; a FAILED trade's fees and
  fee-equivalents are reversed.
- `scoring(order)` (the `/order-scoring` answer) is true exactly when the sampler would give the order a
  positive score now, so the endpoint and the accrual cannot disagree.

Payouts under $1 are not paid by the venue; the ledger reports accruals and leaves that rule to the
reader (`paid_earnings`).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from bot.protocol.rewards import (
    SAMPLES_PER_DAY,
    RewardRules,
    ScoredOrder,
    adjusted_midpoint,
    maker_scores,
    order_score,
)
from bot.sim.book import ASK, BID, SimOrder
from bot.sim.model import MarketSpec
from bot.sim.rules import taker_fee_units
from bot.sim.wire import UNIT

__all__ = ["IncentiveLedger", "MarketEpoch", "epoch_date", "reward_rules"]

# Spec 12.2: "payouts under $1 are not paid".
_MIN_PAYOUT_UNITS = UNIT


def epoch_date(now_s: float) -> str:
    """The reward epoch (UTC day) of a venue time, as the rewards endpoints' `date` parameter."""
    return datetime.fromtimestamp(now_s, UTC).strftime("%Y-%m-%d")


def reward_rules(spec: MarketSpec) -> RewardRules:
    return RewardRules.of(spec.rewards_max_spread_cents, spec.reward_min_size, spec.rewards_in_game_multiplier)


@dataclass
class MarketEpoch:
    """One market's accruals in one epoch. Shares are Fractions (exact); money in 1e6 units."""

    spec: MarketSpec
    samples_per_day: int = SAMPLES_PER_DAY
    samples: int = 0  # samples taken while the market had a pool and accepted orders
    scored_samples: int = 0  # samples where someone scored
    share_sum: defaultdict[str, Fraction] = field(default_factory=lambda: defaultdict(Fraction))
    last_share: dict[str, Fraction] = field(default_factory=dict)
    last_q_total: Fraction = Fraction(0)
    q_total_sum: Fraction = Fraction(0)
    taker_fees_units: int = 0
    fee_equivalent_units: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))

    def pool_units(self) -> Fraction:
        """The pool paid out so far this epoch: the daily rate times the share of the day sampled."""
        return Fraction(str(self.spec.rewards_rate_per_day)) * UNIT * self.samples / self.samples_per_day

    def earnings_units(self, address: str) -> Fraction:
        if self.scored_samples == 0:
            return Fraction(0)
        total_shares = sum(self.share_sum.values(), Fraction(0))
        if total_shares == 0:
            return Fraction(0)
        return self.pool_units() * self.share_sum.get(address, Fraction(0)) / total_shares

    def rebate_units(self, address: str) -> Fraction:
        total = sum(self.fee_equivalent_units.values())
        if total <= 0:
            return Fraction(0)
        pool = Fraction(str(self.spec.maker_rebate_share)) * self.taker_fees_units
        return pool * self.fee_equivalent_units.get(address, 0) / total

    def addresses(self) -> set[str]:
        return set(self.share_sum) | set(self.fee_equivalent_units)


class IncentiveLedger:
    """Reward samples and rebate accruals of every market, per maker address (the account paid)."""

    def __init__(
        self,
        *,
        sample_period_s: float,
        min_rest_s: float,
        origin_s: float,
        rng: random.Random,
        samples_per_day: int = SAMPLES_PER_DAY,
    ) -> None:
        if sample_period_s <= 0:
            raise ValueError("sample_period_s must be positive")
        self._samples_per_day = samples_per_day
        self._period_s = sample_period_s
        self._min_rest_s = min_rest_s
        self._rng = rng
        self._period_start_s = origin_s
        self._next_sample_s = origin_s + rng.random() * sample_period_s
        self._epochs: dict[tuple[str, str], MarketEpoch] = {}
        self._owner_addresses: defaultdict[str, set[str]] = defaultdict(set)
        self._samples_taken = 0

    def __repr__(self) -> str:
        return f"<IncentiveLedger samples={self._samples_taken} epochs={len(self._epochs)}>"

    @property
    def next_sample_s(self) -> float:
        return self._next_sample_s

    def statistics(self) -> dict[str, Any]:
        return {"samples": self._samples_taken, "epochs": len(self._epochs), "next_sample_s": self._next_sample_s}

    def _epoch(self, spec: MarketSpec, now_s: float) -> MarketEpoch:
        key = (epoch_date(now_s), spec.condition_id)
        epoch = self._epochs.get(key)
        if epoch is None:
            epoch = self._epochs[key] = MarketEpoch(spec, self._samples_per_day)
        return epoch

    # --- sampling ---------------------------------------------------------------------------------

    def advance(self, now_s: float, markets: Callable[[], Iterable[tuple[MarketSpec, Any]]]) -> None:
        """Take every sample due by `now_s`. `markets()` yields (spec, book) of markets accepting orders."""
        while self._next_sample_s <= now_s:
            at = self._next_sample_s
            self.sample(at, markets())
            self._period_start_s += self._period_s
            self._next_sample_s = self._period_start_s + self._rng.random() * self._period_s
            self._samples_taken += 1

    def _eligible(self, order: SimOrder, now_s: float) -> bool:
        return order.status == "LIVE" and now_s - order.created_at_s >= self._min_rest_s

    def sample(self, now_s: float, markets: Iterable[tuple[MarketSpec, Any]]) -> None:
        """One sample of the given markets (spec, MirroredBook) at `now_s`."""
        for spec, book in markets:
            if spec.rewards_rate_per_day <= 0:
                continue
            epoch = self._epoch(spec, now_s)
            epoch.samples += 1
            rules = reward_rules(spec)
            mid = adjusted_midpoint(book.depth(BID), book.depth(ASK), rules.min_size_units)
            if mid is None:
                epoch.last_share = {}
                epoch.last_q_total = Fraction(0)
                continue
            per_maker: defaultdict[str, list[ScoredOrder]] = defaultdict(list)
            for order in book.orders():
                if self._eligible(order, now_s):
                    self._owner_addresses[order.owner].add(order.maker_address)
                    per_maker[order.maker_address].append(_scored(order))
            q = {addr: maker_scores(rules, mid, orders).q_min for addr, orders in per_maker.items()}
            total = sum(q.values(), Fraction(0))
            epoch.last_q_total = total
            epoch.q_total_sum += total
            if total <= 0:
                epoch.last_share = {}
                continue
            epoch.scored_samples += 1
            epoch.last_share = {addr: value / total for addr, value in q.items() if value > 0}
            for addr, share in epoch.last_share.items():
                epoch.share_sum[addr] += share

    def scoring(self, spec: MarketSpec, book: Any, order: SimOrder, now_s: float) -> bool:
        """Whether `order` would score in a sample taken now (the `/order-scoring` answer)."""
        if spec.rewards_rate_per_day <= 0 or not order.resting or not self._eligible(order, now_s):
            return False
        rules = reward_rules(spec)
        mid = adjusted_midpoint(book.depth(BID), book.depth(ASK), rules.min_size_units)
        return mid is not None and order_score(rules, mid, _scored(order)) > 0

    # --- rebates ----------------------------------------------------------------------------------

    def record_trade(
        self, spec: MarketSpec, now_s: float, taker_fee_units: int, maker_fills: Iterable[Any], *, sign: int = 1
    ) -> None:
        """A trade's taker fee and its makers' fee-equivalents (`sign=-1` reverses a FAILED trade)."""
        epoch = self._epoch(spec, now_s)
        epoch.taker_fees_units += sign * taker_fee_units
        for fill in maker_fills:
            fee_equivalent = taker_fee_units_of(spec, fill.matched_units, fill.price_units)
            epoch.fee_equivalent_units[fill.maker_address] += sign * fee_equivalent
            self._owner_addresses[fill.owner].add(fill.maker_address)

    # --- reports ----------------------------------------------------------------------------------

    def addresses_of(self, owner: str) -> set[str]:
        return set(self._owner_addresses.get(owner, ()))

    def epochs(self, date: str | None = None) -> list[tuple[str, MarketEpoch]]:
        """(date, epoch) pairs, of one date or all, in first-seen order."""
        return [(d, e) for (d, _cid), e in self._epochs.items() if date is None or d == date]

    def market_epoch(self, date: str, condition_id: str) -> MarketEpoch | None:
        return self._epochs.get((date, condition_id))

    def earnings_units(self, address: str, condition_id: str | None = None) -> Fraction:
        """Rewards accrued by `address` over all epochs (of one market if given)."""
        return sum(
            (e.earnings_units(address) for (_d, cid), e in self._epochs.items() if condition_id in (None, cid)),
            Fraction(0),
        )

    def rebate_units(self, address: str, condition_id: str | None = None) -> Fraction:
        return sum(
            (e.rebate_units(address) for (_d, cid), e in self._epochs.items() if condition_id in (None, cid)),
            Fraction(0),
        )

    @staticmethod
    def paid_earnings(units: Fraction) -> Fraction:
        """What the daily payout would pay of an accrual (nothing under $1)."""
        return units if units >= _MIN_PAYOUT_UNITS else Fraction(0)


def taker_fee_units_of(spec: MarketSpec, shares_units: int, price_units: int) -> int:
    """A maker fill's fee-equivalent: the taker fee formula at the maker's own price (spec 12.3)."""
    return taker_fee_units(shares_units, price_units, spec.fee_rate, spec.fee_exponent)


def _scored(order: SimOrder) -> ScoredOrder:
    return ScoredOrder(order.yes_price, order.book_side == BID, order.open_shares())

