"""The pair-ladder strategy: from books, tick size, inventory and time, the desired BUY ladder per token.

Pure and synchronous. It never crosses (every price is at least one tick below the token's best ask),
keeps the pair guard `bid_up + bid_down <= 1 - min_pair_edge` on every level pair, stops quoting the
leading side once the unpaired excess reaches its cap, and returns no quotes with a block reason when
quoting is not safe (unknown tick size, stale or missing book, cutoff, completion in flight, backoff).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, fields
from typing import Any, Protocol, TypeVar

__all__ = [
    "BlockReason",
    "Ladder",
    "MarketView",
    "PairLadderParams",
    "PairLadderStrategy",
    "Quote",
    "Strategy",
    "TokenView",
    "params_from_settings",
]

_P = TypeVar("_P", bound=Any)

# Float prices on a tick grid are compared and rounded through integer ticks; this tolerance absorbs
# binary noise (0.1 + 0.2 style) without ever moving a price by a whole tick.
_TICK_EPSILON = 1e-9


class BlockReason(enum.StrEnum):
    """Why a market (or one token) has no maker quotes right now."""

    TICK_SIZE_UNKNOWN = "tick_size_unknown"
    NO_BOOK = "no_book"
    STALE_BOOK = "stale_book"
    CUTOFF = "cutoff"
    COMPLETING = "completing"
    BACKOFF = "backoff"
    RECONCILING = "reconciling"
    NOT_STARTED = "not_started"
    INVENTORY_CAP = "inventory_cap"
    NOTIONAL_CAP = "notional_cap"
    NO_ROOM = "no_room"  # the pair guard or the tick floor leaves no valid price


@dataclass(frozen=True, slots=True)
class Quote:
    """One desired resting post-only BUY."""

    token_id: str
    level: int
    price: float
    size_shares: float


@dataclass(frozen=True, slots=True)
class TokenView:
    """What the strategy knows of one outcome token."""

    token_id: str
    tick_size: str | None
    best_bid: float | None
    best_ask: float | None
    book_updated_at_s: float | None
    inventory_shares: float = 0.0
    inventory_cost_pusd: float = 0.0


@dataclass(frozen=True, slots=True)
class MarketView:
    """Inputs of one strategy decision for one binary market."""

    now_s: float
    cutoff_s: float
    start_s: float
    up: TokenView
    down: TokenView
    min_order_size_shares: float
    completing: bool = False
    backing_off: bool = False
    reconciling: bool = False
    # pUSD this market may still commit across the account (total cap minus the other markets'
    # commitments); None = only the per-market cap applies.
    account_budget_pusd: float | None = None


@dataclass(frozen=True, slots=True)
class Ladder:
    """The desired quotes, or none with the reason. `token_blocks` explains tokens left out on their own."""

    quotes: tuple[Quote, ...]
    block_reason: BlockReason | None = None
    token_blocks: dict[str, BlockReason] = field(default_factory=dict)


class Strategy(Protocol):
    """Anything that turns a `MarketView` into a `Ladder`."""

    def desired(self, view: MarketView) -> Ladder: ...


@dataclass(frozen=True, slots=True)
class PairLadderParams:
    ladder_levels: int
    level_spacing_ticks: int
    top_offset_ticks: int
    size_per_level_shares: float
    min_pair_edge: float
    max_inventory_skew_shares: float
    max_unpaired_shares: float
    max_notional_per_market_pusd: float
    stale_book_s: float

    @classmethod
    def from_settings(cls, settings: object) -> PairLadderParams:
        return params_from_settings(cls, settings)


def params_from_settings(cls: type[_P], settings: object) -> _P:
    """A parameters dataclass filled from the settings fields of the same names."""
    return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})  # type: ignore[arg-type]


def _ticks(price: float, tick: float) -> int:
    return math.floor(price / tick + _TICK_EPSILON)


def _price(ticks: int, tick: float, decimals: int) -> float:
    return round(ticks * tick, decimals)


def _decimals(tick_size: str) -> int:
    return len(tick_size.split(".")[1]) if "." in tick_size else 0


class PairLadderStrategy:
    """Post-only BUY ladders on both outcome tokens whose level pairs always cost less than $1."""

    def __init__(self, params: PairLadderParams) -> None:
        self._p = params

    def desired(self, view: MarketView) -> Ladder:
        p = self._p
        if view.now_s >= view.cutoff_s:
            return Ladder((), BlockReason.CUTOFF)
        if view.now_s < view.start_s:
            return Ladder((), BlockReason.NOT_STARTED)
        if view.reconciling:
            return Ladder((), BlockReason.RECONCILING)
        if view.completing:
            return Ladder((), BlockReason.COMPLETING)
        if view.backing_off:
            return Ladder((), BlockReason.BACKOFF)
        up, down = view.up, view.down
        if up.tick_size is None or down.tick_size is None:
            return Ladder((), BlockReason.TICK_SIZE_UNKNOWN)
        if up.book_updated_at_s is None or down.book_updated_at_s is None:
            return Ladder((), BlockReason.NO_BOOK)
        if min(up.book_updated_at_s, down.book_updated_at_s) < view.now_s - p.stale_book_s:
            return Ladder((), BlockReason.STALE_BOOK)

        # Both tokens trade on one grid; a tick-size change mid-window moves both at once, and while
        # they disagree (one event seen, not the other) the coarser grid is the safe one.
        tick_str = max(up.tick_size, down.tick_size, key=float)
        tick = float(tick_str)
        decimals = _decimals(tick_str)
        top_up = self._top_ticks(up, tick)
        top_down = self._top_ticks(down, tick)
        if top_up is None or top_down is None:
            return Ladder((), BlockReason.NO_BOOK)

        # Pair guard on level 0 (deeper levels are cheaper, so they inherit it): lower both sides
        # until bid_up + bid_down <= 1 - edge, taking the odd tick from the dearer side.
        max_pair_ticks = _ticks(1.0 - p.min_pair_edge, tick)
        excess = top_up + top_down - max_pair_ticks
        if excess > 0:
            cut_up = (excess + (1 if top_up >= top_down else 0)) // 2
            top_up -= cut_up
            top_down -= excess - cut_up

        # Inventory-aware pair guard: while one side leads, the lagging side's bids must still make a
        # profitable pair with what the leading side actually cost, not just with today's other bid.
        top_up = min(top_up, self._lagging_cap_ticks(lead=down, lag=up, tick=tick, max_pair_ticks=max_pair_ticks))
        top_down = min(top_down, self._lagging_cap_ticks(lead=up, lag=down, tick=tick, max_pair_ticks=max_pair_ticks))

        size = max(p.size_per_level_shares, view.min_order_size_shares)
        excess_up = up.inventory_shares - down.inventory_shares
        token_blocks: dict[str, BlockReason] = {}
        quotes: list[Quote] = []
        for token, top, lead in ((up, top_up, excess_up), (down, top_down, -excess_up)):
            if lead >= min(p.max_inventory_skew_shares, p.max_unpaired_shares) and lead > 0:
                token_blocks[token.token_id] = BlockReason.INVENTORY_CAP
                continue
            placed = 0
            for level in range(p.ladder_levels):
                ticks = top - level * p.level_spacing_ticks
                if ticks < 1:  # never below the venue's minimum price of one tick
                    break
                quotes.append(Quote(token.token_id, level, _price(ticks, tick, decimals), size))
                placed += 1
            if placed == 0:
                token_blocks[token.token_id] = BlockReason.NO_ROOM

        quotes = self._within_notional(quotes, view, token_blocks)
        if not quotes:
            reason = BlockReason.NO_ROOM
            if token_blocks and all(r is BlockReason.INVENTORY_CAP for r in token_blocks.values()):
                reason = BlockReason.INVENTORY_CAP
            elif BlockReason.NOTIONAL_CAP in token_blocks.values():
                reason = BlockReason.NOTIONAL_CAP
            return Ladder((), reason, token_blocks)
        return Ladder(tuple(quotes), None, token_blocks)

    @staticmethod
    def _lagging_cap_ticks(*, lead: TokenView, lag: TokenView, tick: float, max_pair_ticks: int) -> int:
        """Highest bid (in ticks) for `lag` that pairs with `lead`'s unpaired shares within the edge."""
        excess = lead.inventory_shares - lag.inventory_shares
        if excess <= 0 or lead.inventory_shares <= 0:
            return max_pair_ticks
        avg_cost = lead.inventory_cost_pusd / lead.inventory_shares
        return _ticks(max_pair_ticks * tick - avg_cost + _TICK_EPSILON, tick)

    def _top_ticks(self, token: TokenView, tick: float) -> int | None:
        """Level-0 price in ticks: behind the best bid by the offset, and always below the best ask."""
        offset = self._p.top_offset_ticks
        candidates: list[int] = []
        if token.best_bid is not None:
            candidates.append(_ticks(token.best_bid, tick) - offset)
        if token.best_ask is not None:
            # Post-only: a BUY at or above the best ask would cross and be rejected.
            candidates.append(math.ceil(token.best_ask / tick - _TICK_EPSILON) - 1)
        if not candidates:
            return None
        return min(candidates)

    def _within_notional(
        self, quotes: list[Quote], view: MarketView, token_blocks: dict[str, BlockReason]
    ) -> list[Quote]:
        """Drop the deepest levels first until resting notional plus inventory cost fits the cap."""
        cap = self._p.max_notional_per_market_pusd
        if view.account_budget_pusd is not None:
            cap = min(cap, view.account_budget_pusd)
        budget = cap - view.up.inventory_cost_pusd - view.down.inventory_cost_pusd
        kept = sorted(quotes, key=lambda q: (q.level, q.token_id))
        total = sum(q.price * q.size_shares for q in kept)
        dropped = False
        while kept and total > budget + _TICK_EPSILON:
            last = kept.pop()
            total -= last.price * last.size_shares
            dropped = True
        if dropped:
            for q in quotes:
                if q not in kept:
                    token_blocks.setdefault(q.token_id, BlockReason.NOTIONAL_CAP)
        return sorted(kept, key=lambda q: (q.token_id, q.level))
