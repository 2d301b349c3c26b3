"""The rewards-aware pair ladder: the pair ladder, shaped to score for the venue's liquidity rewards.

Guarantees (on top of the pair ladder's own: post-only, pair guard, inventory and notional caps, block
reasons, all unchanged because every quote still comes from `PairLadderStrategy`):
- Level 0 joins the best bid we may join (no extra offset) and levels are one tick apart, so as many
  levels as possible sit inside the market's max spread of the midpoint (spec 12.2: the score falls
  with the square of the distance).
- Levels inside the max spread are sized at least the reward min size, with a margin so that a partial
  fill the order manager tolerates (`resize_pct`) never leaves a resting size under the minimum; levels
  outside keep the plain size. A scoring level takes that size only while its side's worst case (inventory
  lead plus every open BUY there filling, the other levels at the plain size) stays within
  `max_inventory_skew_shares`, level 0 first: the scoring sizes never carry more unpaired risk into
  resolution than the limit allows (issue 18: they used to double it).
- The side already ahead (more shares than the other) does not quote to score: its levels take the plain
  ladder's offset, spacing and size (never a higher price or a larger size than the reward ladder's), so
  it is not the first the flow takes as its price falls; the lagging side, whose fills pair, scores.
- An unknown midpoint scores nothing: every level keeps the plain size.
- A live order is kept instead of replaced when the new price would be more aggressive and the score it
  would gain is under `min_score_gain` of the new score: each replacement restarts the order's scoring
  time (spec 12.2, minimum rest), and a sticky price never breaks the pair guard or crosses because it
  is below the price the plain ladder asked for.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING

from bot.engine.rewards import RewardTerms
from bot.engine.strategy import (
    BlockReason,
    Ladder,
    MarketView,
    PairLadderParams,
    PairLadderStrategy,
    Quote,
    Strategy,
)
from bot.protocol.money import micro_from_float, tick_grid
from bot.protocol.rewards import ScoredOrder, order_score
from settings import RewardsMode
from statemachines.order import OrderState

if TYPE_CHECKING:
    from bot.engine.market import MarketRunner

__all__ = ["RewardsAwareLadder", "choose_strategy", "reward_size_shares", "rewards_mode_applies"]

_UNIT = 1_000_000


def reward_size_shares(min_size_shares: float, plain_size_shares: float, resize_pct: float) -> float:
    """The size of a scoring level: the minimum plus the partial-fill margin, never under the plain size."""
    margin = 1.0 / (1.0 - resize_pct / 100.0) if resize_pct < 100.0 else 1.0
    return max(plain_size_shares, math.ceil(min_size_shares * margin * 100 - 1e-9) / 100)


class RewardsAwareLadder:
    """A `Strategy`: the pair ladder re-parameterised and re-sized for rewards, with sticky live prices."""

    def __init__(
        self,
        params: PairLadderParams,
        terms: RewardTerms,
        *,
        up_token_id: str,
        resize_pct: float,
        min_score_gain: float,
        midpoint: Callable[[], Fraction | None],
        live_price: Callable[[str, int], int | None],
    ) -> None:
        """`midpoint()`: the adjusted midpoint in micro-units (exact); `live_price(token, level)`: the live
        ladder order's price in micro-units, or None."""
        self._terms = terms
        self._rules = terms.rules
        self._up = up_token_id
        self._plain_size = params.size_per_level_shares
        self._skew_micro = micro_from_float(params.max_inventory_skew_shares)
        self._reward_size = reward_size_shares(terms.min_size_shares, params.size_per_level_shares, resize_pct)
        self._top_offset = params.top_offset_ticks
        self._spacing = params.level_spacing_ticks
        self._inner = PairLadderStrategy(dataclasses.replace(params, top_offset_ticks=0, level_spacing_ticks=1))
        self._min_score_gain = Fraction(str(min_score_gain))
        self._midpoint = midpoint
        self._live_price = live_price
        self.kept_for_score = 0  # quotes held at a live order's price (counted per strategy tick)

    def __repr__(self) -> str:
        return f"<RewardsAwareLadder size={self._reward_size} kept_for_score={self.kept_for_score}>"

    def _score(self, token_id: str, price_micro: int, mid_units: Fraction) -> Fraction:
        yes_price = price_micro if token_id == self._up else _UNIT - price_micro
        # Size is not the question here: compare the price's score for a qualifying order.
        return order_score(self._rules, mid_units, ScoredOrder(yes_price, token_id == self._up, self._rules.min_size_units))

    def desired(self, view: MarketView) -> Ladder:
        mid = self._midpoint()
        # Plain levels first, at the reward size: the inner ladder's notional cap sees the real sizes.
        reward_micro = micro_from_float(self._reward_size)
        sized = dataclasses.replace(view, min_order_size_micro=max(view.min_order_size_micro, reward_micro))
        ladder = self._inner.desired(sized)
        if not ladder.quotes:
            return ladder
        plain_micro = max(micro_from_float(self._plain_size), view.min_order_size_micro)
        # A level is raised to the reward size only while its side's worst case stays within the skew limit:
        # inventory lead plus every open BUY of ours there filling (a ladder slot at the larger of its order
        # and the quote), with the other levels at the plain size. So the side already ahead is not raised,
        # and the scoring sizes add no unpaired risk beyond what the limit leaves above the plain ladder's.
        # A level left out keeps the plain size: the inner ladder's caps saw the reward sizes, and a smaller
        # order keeps every cap it passed. Level 0 (the best score) is served first.
        held = {(o.token_id, o.level): o.remaining_micro for o in view.resting if o.level is not None
                and not o.retiring}

        def added(q: Quote, size_micro: int) -> int:
            return max(0, size_micro - held.get((q.token_id, q.level), 0))

        plain = {(q.token_id, q.level): min(q.size_micro, plain_micro) for q in ladder.quotes}
        spare: dict[str, int] = {}
        for token, other in ((view.up, view.down), (view.down, view.up)):
            worst = token.inventory_micro - other.inventory_micro + sum(
                o.remaining_micro for o in view.resting if o.token_id == token.token_id
            ) + sum(added(q, plain[q.token_id, q.level]) for q in ladder.quotes if q.token_id == token.token_id)
            spare[token.token_id] = self._skew_micro - worst
        ahead = {token.token_id for token, other in ((view.up, view.down), (view.down, view.up))
                 if token.inventory_micro > other.inventory_micro}
        quotes: list[Quote] = []
        for q in ladder.quotes:
            size_micro = plain[q.token_id, q.level]
            if q.token_id in ahead:
                # The side already ahead does not chase the score: its fills only add unpaired shares, and
                # at the touch they are the first the flow takes as the price moves against them. It keeps
                # the plain ladder's offset and spacing (never above the plain price) and the plain size.
                ticks = q.price_ticks - self._top_offset - q.level * (self._spacing - 1)
                if ticks >= 1:
                    quotes.append(dataclasses.replace(q, price_ticks=ticks, size_micro=size_micro))
                continue
            score = Fraction(0) if mid is None else self._score(q.token_id, q.price_micro, mid)
            if score > 0:
                extra = added(q, q.size_micro) - added(q, size_micro)
                if extra <= spare[q.token_id]:
                    size_micro = q.size_micro
                    spare[q.token_id] -= extra
            price_ticks = q.price_ticks
            live = self._live_price(q.token_id, q.level)
            if live is not None:
                grid = tick_grid(q.tick_size)
                live_micro = live
                if grid.on_grid(live_micro) and live_micro < q.price_micro:
                    kept = self._score(q.token_id, live_micro, mid) if mid is not None else Fraction(0)
                    if kept > 0 and score - kept < self._min_score_gain * score:
                        price_ticks = grid.floor_ticks(live_micro)
                        self.kept_for_score += 1
            quotes.append(dataclasses.replace(q, price_ticks=price_ticks, size_micro=size_micro))
        if not quotes:  # the side ahead's levels all fell under the venue's minimum price
            return Ladder((), BlockReason.NO_ROOM, ladder.token_blocks)
        return dataclasses.replace(ladder, quotes=tuple(quotes))


def rewards_mode_applies(mode: RewardsMode, terms: RewardTerms) -> bool:
    """`auto`: on where the market has a pool; `on`: wherever the market states reward terms."""
    if mode is RewardsMode.OFF:
        return False
    if mode is RewardsMode.ON:
        return terms.max_spread_cents > 0
    return terms.has_pool and terms.max_spread_cents > 0


def choose_strategy(runner: MarketRunner) -> Strategy:
    """The market runner's default strategy: rewards-aware where the mode applies, else the plain ladder."""
    settings = runner.settings
    params = PairLadderParams.from_settings(settings)
    terms = runner.incentives.terms
    if not rewards_mode_applies(settings.rewards_mode, terms):
        return PairLadderStrategy(params)

    def live_price(token_id: str, level: int) -> int | None:
        order = runner.manager.slots.get((token_id, level))
        return order.price_micro if order is not None and order.state is OrderState.LIVE else None

    return RewardsAwareLadder(
        params,
        terms,
        up_token_id=runner.info.up_token_id,
        resize_pct=settings.resize_pct,
        min_score_gain=settings.rewards_min_score_gain,
        midpoint=runner.incentives.midpoint_micro,
        live_price=live_price,
    )
