"""The pair-ladder strategy: from books, tick size, inventory and time, the desired BUY ladder per token.

Pure and synchronous, in integers: prices in ticks, shares and pUSD in micro-units (`bot.protocol.money`).
It never crosses (every price is at least one tick below the token's best ask), keeps the pair guard
`bid_up + bid_down <= 1 - min_pair_edge` on every level pair, sizes the ladder so that no subset of our
resting orders filling can take one side's unpaired excess past `max_unpaired_shares` or the committed
pUSD past the notional caps, and returns no quotes with a block reason when quoting is not safe (unknown
tick size, stale or missing book, cutoff, completion in flight, backoff).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from typing import Any, Protocol, TypeVar

from bot.protocol.money import MICRO, TickGrid, micro_from_float, micro_to_float, notional_micro, tick_grid

__all__ = [
    "BlockReason",
    "Ladder",
    "MarketView",
    "PairLadderParams",
    "PairLadderStrategy",
    "Quote",
    "RestingOrder",
    "Strategy",
    "TokenView",
    "params_from_settings",
]

_P = TypeVar("_P", bound=Any)

_SHARE_STEP_MICRO = MICRO // 100  # the venue's share precision: 2 decimals (ROUNDING_CONFIG size)


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
    """One desired resting post-only BUY: `price_ticks` of the `tick_size` grid, `size_micro` shares × 10⁶."""

    token_id: str
    level: int
    price_ticks: int
    size_micro: int
    tick_size: str

    @property
    def price_micro(self) -> int:
        return tick_grid(self.tick_size).price_micro(self.price_ticks)

    # Display and the order cache's float fields; never fed back into money arithmetic.
    @property
    def price(self) -> float:
        return tick_grid(self.tick_size).price_float(self.price_ticks)

    @property
    def size_shares(self) -> float:
        return micro_to_float(self.size_micro)


@dataclass(frozen=True, slots=True)
class RestingOrder:
    """One open BUY of ours that could still fill: ladder slot `level` (None: a completion or a seeded extra).

    `retiring`: a concurrent re-price's predecessor, its cancel in flight beside its replacement on the
    same level. It counts in every worst case, but a new quote on the level replaces the replacement,
    not it: the slot's credit is the non-retiring order's size only.
    """

    token_id: str
    level: int | None
    price_micro: int
    remaining_micro: int
    retiring: bool = False


@dataclass(frozen=True, slots=True)
class TokenView:
    """What the strategy knows of one outcome token; money in micro-units (price: pUSD per share × 10⁶).

    `best_bid_micro`/`best_ask_micro` are the book *without our own orders* (see `bot.engine.own_book`).
    """

    token_id: str
    tick_size: str | None
    best_bid_micro: int | None
    best_ask_micro: int | None
    book_updated_at_s: float | None
    inventory_micro: int = 0
    inventory_cost_micro: int = 0


@dataclass(frozen=True, slots=True)
class MarketView:
    """Inputs of one strategy decision for one binary market."""

    now_s: float
    cutoff_s: float
    start_s: float
    up: TokenView
    down: TokenView
    min_order_size_micro: int
    completing: bool = False
    backing_off: bool = False
    reconciling: bool = False
    # pUSD × 10⁶ this market may still commit across the account (total cap minus the other markets'
    # commitments, resting orders at their worst case); None = only the per-market cap applies.
    account_budget_micro: int | None = None
    # Every open BUY of ours in the market: the caps count each at its worst case (it fills in full).
    resting: tuple[RestingOrder, ...] = ()


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


class PairLadderStrategy:
    """Post-only BUY ladders on both outcome tokens whose level pairs always cost less than $1.

    Caps that hold whatever fills: `max_unpaired_shares` bounds one side's inventory lead *plus every
    resting BUY of ours on that side* (each counted as if it filled in full, the other side's as if none
    did); on the side that leads, `max_inventory_skew_shares` bounds the same worst case, so the leading
    ladder shrinks as the excess grows and stops at the limit; the notional caps count inventory cost plus
    every resting BUY at price × remaining. A slot counts the larger of its open order and the desired
    quote. (A concurrent re-price can leave a retiring order beside its replacement on one level; every
    open order counts in the worst case, but the slot's own allowance reads one of the two.) A fill only
    moves size from "resting" to "inventory", so a bound that holds when the ladder is decided holds after
    any subset of those orders fills.
    """

    def __init__(self, params: PairLadderParams) -> None:
        self._p = params
        # The settings edge: tunables arrive as decimal numbers and become integers once, here.
        self._size_micro = micro_from_float(params.size_per_level_shares)
        self._min_pair_edge_micro = micro_from_float(params.min_pair_edge)
        self._skew_micro = micro_from_float(params.max_inventory_skew_shares)
        self._unpaired_micro = micro_from_float(params.max_unpaired_shares)
        self._notional_micro = micro_from_float(params.max_notional_per_market_pusd)
        # The last ladder past the guards and the inputs it came from (`_ladder` is pure in them): most
        # ticks of a busy market change only book levels behind the top, or nothing the ladder reads.
        self._last: tuple[tuple[Any, ...], Ladder] | None = None

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
        # Past the guards, nothing below reads the time, the state flags or the books' freshness.
        key = (up.token_id, up.tick_size, up.best_bid_micro, up.best_ask_micro, up.inventory_micro,
               up.inventory_cost_micro, down.token_id, down.tick_size, down.best_bid_micro, down.best_ask_micro,
               down.inventory_micro, down.inventory_cost_micro, view.min_order_size_micro,
               view.account_budget_micro, view.resting)
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        ladder = self._ladder(view)
        self._last = (key, ladder)
        return ladder

    def _ladder(self, view: MarketView) -> Ladder:
        """The ladder of a view that passed every guard of `desired`."""
        p = self._p
        up, down = view.up, view.down

        # Both tokens trade on one grid; a tick-size change mid-window moves both at once, and while
        # they disagree (one event seen, not the other) the coarser grid is the safe one.
        grid = max(tick_grid(up.tick_size), tick_grid(down.tick_size), key=lambda g: g.tick_micro)
        top_up = self._top_ticks(up, grid)
        top_down = self._top_ticks(down, grid)
        if top_up is None or top_down is None:
            return Ladder((), BlockReason.NO_BOOK)

        # Pair guard on level 0 (deeper levels are cheaper, so they inherit it): lower both sides
        # until bid_up + bid_down <= 1 - edge, taking the odd tick from the dearer side.
        max_pair_ticks = grid.floor_ticks(MICRO - self._min_pair_edge_micro)
        excess = top_up + top_down - max_pair_ticks
        if excess > 0:
            cut_up = (excess + (1 if top_up >= top_down else 0)) // 2
            top_up -= cut_up
            top_down -= excess - cut_up

        # Inventory-aware pair guard: while one side leads, the lagging side's bids must still make a
        # profitable pair with what the leading side actually cost, not just with today's other bid.
        top_up = min(top_up, _lagging_cap_ticks(lead=down, lag=up, grid=grid, max_pair_ticks=max_pair_ticks))
        top_down = min(top_down, _lagging_cap_ticks(lead=up, lag=down, grid=grid, max_pair_ticks=max_pair_ticks))

        size = max(self._size_micro, view.min_order_size_micro)
        size -= size % _SHARE_STEP_MICRO
        min_size = max(view.min_order_size_micro, _SHARE_STEP_MICRO)
        token_blocks: dict[str, BlockReason] = {}
        quotes: list[Quote] = []
        for token, other, top in ((up, down, top_up), (down, up, top_down)):
            lead = token.inventory_micro - other.inventory_micro
            if lead > 0 and lead >= self._skew_micro:
                token_blocks[token.token_id] = BlockReason.INVENTORY_CAP
                continue
            slots = {o.level: o.remaining_micro for o in view.resting if o.token_id == token.token_id
                     and o.level is not None and not o.retiring}
            # Worst case with nothing new: every open BUY on this side fills, none on the other.
            resting = sum(o.remaining_micro for o in view.resting if o.token_id == token.token_id)
            room = self._unpaired_micro - lead - resting
            if lead > 0:
                # The leading side's ladder shrinks as its excess grows: what may still fill there keeps
                # the excess within the skew limit, not just the inventory already held (a lag fill that
                # took the lead under the limit used to reopen a whole ladder on the leading side).
                room = min(room, self._skew_micro - lead - resting)
            placed = 0
            capped = False
            for level in range(p.ladder_levels):
                ticks = top - level * p.level_spacing_ticks
                if ticks < 1:  # never below the venue's minimum price of one tick
                    break
                held = slots.get(level, 0)
                want = size
                if want - held > room:  # the slot counts max(open order, quote): only the excess is new
                    want = held + max(room, 0)
                    want -= want % _SHARE_STEP_MICRO
                    capped = True
                if want < min_size:
                    continue
                room -= max(0, want - held)
                quotes.append(Quote(token.token_id, level, ticks, want, grid.tick_size))
                placed += 1
            if placed == 0:
                token_blocks[token.token_id] = BlockReason.INVENTORY_CAP if capped else BlockReason.NO_ROOM

        quotes = self._within_notional(quotes, view, token_blocks)
        if not quotes:
            reason = BlockReason.NO_ROOM
            if token_blocks and all(r is BlockReason.INVENTORY_CAP for r in token_blocks.values()):
                reason = BlockReason.INVENTORY_CAP
            elif BlockReason.NOTIONAL_CAP in token_blocks.values():
                reason = BlockReason.NOTIONAL_CAP
            return Ladder((), reason, token_blocks)
        return Ladder(tuple(quotes), None, token_blocks)

    def _top_ticks(self, token: TokenView, grid: TickGrid) -> int | None:
        """Level-0 price in ticks: behind the best bid by the offset, and always below the best ask."""
        candidates: list[int] = []
        if token.best_bid_micro is not None:
            candidates.append(grid.floor_ticks(token.best_bid_micro) - self._p.top_offset_ticks)
        if token.best_ask_micro is not None:
            # Post-only: a BUY at or above the best ask would cross and be rejected.
            candidates.append(grid.ceil_ticks(token.best_ask_micro) - 1)
        if not candidates:
            return None
        return min(candidates)

    def _within_notional(
        self, quotes: list[Quote], view: MarketView, token_blocks: dict[str, BlockReason]
    ) -> list[Quote]:
        """Drop the deepest levels first until inventory cost plus resting orders at their worst case fit."""
        cap = self._notional_micro
        if view.account_budget_micro is not None:
            cap = min(cap, view.account_budget_micro)
        held = {(o.token_id, o.level): notional_micro(o.remaining_micro, o.price_micro) for o in view.resting
                if o.level is not None and not o.retiring}
        total = view.up.inventory_cost_micro + view.down.inventory_cost_micro + sum(
            notional_micro(o.remaining_micro, o.price_micro) for o in view.resting
        )
        kept = sorted(quotes, key=lambda q: (q.level, q.token_id))

        def extra(q: Quote) -> int:
            return max(0, notional_micro(q.size_micro, q.price_micro) - held.get((q.token_id, q.level), 0))

        total += sum(extra(q) for q in kept)
        dropped = False
        while kept and total > cap:
            total -= extra(kept.pop())
            dropped = True
        if dropped:
            for q in quotes:
                if q not in kept:
                    token_blocks.setdefault(q.token_id, BlockReason.NOTIONAL_CAP)
        return sorted(kept, key=lambda q: (q.token_id, q.level))


def _lagging_cap_ticks(*, lead: TokenView, lag: TokenView, grid: TickGrid, max_pair_ticks: int) -> int:
    """Highest bid (in ticks) for `lag` that pairs with `lead`'s unpaired shares within the edge.

    p ≤ max_pair − cost / shares, multiplied through by the shares so the average cost stays exact.
    """
    shares = lead.inventory_micro
    if shares <= 0 or shares <= lag.inventory_micro:
        return max_pair_ticks
    per_tick = grid.tick_micro * shares
    return (max_pair_ticks * per_tick - lead.inventory_cost_micro * MICRO) // per_tick
