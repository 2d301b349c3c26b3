"""Local order book of one token, rebuilt from `book` snapshots and kept current by `price_change` deltas.

Spec: docs/protocol/polymarket-clob.md 1.3 (snapshot, best level last on the wire, mirrored YES/NO books)
and 6.2 (deltas carry the new aggregate size of a level; 0 removes it; tick_size_change).

Representation: one dict price → size per side plus a cached best price. A delta is O(1) except when it
removes the current best level, which costs one max()/min() over that side; nothing is sorted until someone
asks for depth. Rejected: a sorted list (O(n) inserts on every delta) and a heap (stale entries on removal).

Tick-size rule: a `tick_size_change` sets the new tick at once (new orders must use it) and marks the book
`needs_snapshot`; the levels are kept, because resting orders priced on the old grid stay on the venue and
the sizes are still the venue's aggregates. The next `book` snapshot replaces the levels and clears the flag.
A consumer that must see a grid-exact book waits for it; a quoting strategy may go on with the new tick.
The same flag is set by `invalidate()` (the stream lost its connection: no replay, so only a fresh snapshot
can be trusted again) and is True until the first snapshot.

The book is pure data: no Trio, no I/O. Times come in from the caller (`received_at_s`, any monotonic clock).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from bot.protocol.constants import Side
from bot.protocol.messages import (
    BookEvent,
    Level,
    LevelSide,
    PriceChangeEvent,
    PriceLevelChange,
    TickSizeChangeEvent,
)

__all__ = ["OrderBook", "apply_price_change", "mirror_price"]

# Finest price grid the venue uses is 0.0001 (spec 3.4 ROUNDING_CONFIG: at most 4 price decimals). Rounding a
# complement 1 - p to this many places gives back the exact float the venue's decimal string parses to.
_PRICE_DECIMALS_MAX: Final = 4


def mirror_price(price: float) -> float:
    """The complementary token's price for `price` (1 - p), snapped to the venue's finest grid."""
    return round(1.0 - price, _PRICE_DECIMALS_MAX)


class OrderBook:
    """The book of one token: apply snapshots and deltas; best bid/ask in O(1); depth on demand.

    A transiently crossed book (best bid ≥ best ask) is kept as sent: the venue's batches around a match
    cross for a message or two before the post-trade updates arrive.
    """

    __slots__ = (
        "_asks",
        "_best_ask",
        "_best_bid",
        "_bids",
        "asset_id",
        "changes_applied",
        "hash",
        "last_trade_price",
        "market",
        "min_order_size",
        "needs_snapshot",
        "neg_risk",
        "snapshots_applied",
        "tick_size",
        "timestamp_ms",
        "updated_at_s",
    )

    def __init__(self, asset_id: str, market: str = "") -> None:
        self.asset_id = asset_id
        self.market = market
        self._bids: dict[float, float] = {}
        self._asks: dict[float, float] = {}
        self._best_bid: float | None = None
        self._best_ask: float | None = None
        self.tick_size: float | None = None
        self.min_order_size: float | None = None
        self.neg_risk: bool | None = None
        self.last_trade_price: float | None = None
        self.hash = ""  # the venue's book hash after the last snapshot or delta
        self.timestamp_ms = 0  # venue time of the last snapshot or delta
        self.updated_at_s: float | None = None  # caller's clock when it last changed
        self.needs_snapshot = True
        self.snapshots_applied = 0
        self.changes_applied = 0

    # --- updates -------------------------------------------------------------------------------------

    def apply_snapshot(self, event: BookEvent, *, received_at_s: float | None = None) -> None:
        """Replace every level with the snapshot's; adopt its tick, min size, hash and time when present.

        Raises ValueError if the snapshot is for another token.
        """
        if event.asset_id != self.asset_id:
            raise ValueError(f"snapshot for {event.asset_id!r} applied to the book of {self.asset_id!r}")
        self._bids = {price: size for price, size in event.bids if size > 0.0}
        self._asks = {price: size for price, size in event.asks if size > 0.0}
        self._best_bid = max(self._bids) if self._bids else None
        self._best_ask = min(self._asks) if self._asks else None
        if event.market:
            self.market = event.market
        if event.tick_size is not None:
            self.tick_size = event.tick_size
        if event.min_order_size is not None:
            self.min_order_size = event.min_order_size
        if event.neg_risk is not None:
            self.neg_risk = event.neg_risk
        if event.last_trade_price is not None:
            self.last_trade_price = event.last_trade_price
        self.hash = event.hash
        if event.timestamp_ms:
            self.timestamp_ms = event.timestamp_ms
        if received_at_s is not None:
            self.updated_at_s = received_at_s
        self.needs_snapshot = False
        self.snapshots_applied += 1

    def set_level(self, side: Side | LevelSide, price: float, size: float) -> None:
        """Set the aggregate size at one price (0 removes the level) and keep the cached best right.

        `side` BUY is the bid side, SELL the ask side (either enum: `Side` or the wire's `LevelSide`).
        """
        if side is Side.BUY or side is LevelSide.BUY:
            bids = self._bids
            if size > 0.0:
                bids[price] = size
                best = self._best_bid
                if best is None or price > best:
                    self._best_bid = price
            elif bids.pop(price, None) is not None and price == self._best_bid:
                self._best_bid = max(bids) if bids else None
        else:
            asks = self._asks
            if size > 0.0:
                asks[price] = size
                best = self._best_ask
                if best is None or price < best:
                    self._best_ask = price
            elif asks.pop(price, None) is not None and price == self._best_ask:
                self._best_ask = min(asks) if asks else None

    def apply_change(
        self, change: PriceLevelChange, *, timestamp_ms: int = 0, received_at_s: float | None = None
    ) -> None:
        """Apply one level change for this token (the caller routes by `change.asset_id`)."""
        self.set_level(change.side, change.price, change.size)
        if change.hash:
            self.hash = change.hash
        if timestamp_ms:
            self.timestamp_ms = timestamp_ms
        if received_at_s is not None:
            self.updated_at_s = received_at_s
        self.changes_applied += 1

    def apply_price_change(self, event: PriceChangeEvent, *, received_at_s: float | None = None) -> int:
        """Apply the entries of `event` that are for this token; returns how many there were."""
        applied = 0
        asset_id = self.asset_id
        for change in event.changes:
            if change.asset_id == asset_id:
                self.apply_change(change, timestamp_ms=event.timestamp_ms, received_at_s=received_at_s)
                applied += 1
        return applied

    def apply_tick_size_change(self, event: TickSizeChangeEvent, *, received_at_s: float | None = None) -> None:
        """Adopt the new tick and mark the book as needing a fresh snapshot (see the module rule)."""
        if event.asset_id != self.asset_id:
            raise ValueError(f"tick change for {event.asset_id!r} applied to the book of {self.asset_id!r}")
        self.tick_size = event.new_tick_size
        self.needs_snapshot = True
        if event.timestamp_ms:
            self.timestamp_ms = event.timestamp_ms
        if received_at_s is not None:
            self.updated_at_s = received_at_s

    def invalidate(self) -> None:
        """The levels can no longer be trusted (e.g. the feed dropped); keep them, but need a snapshot."""
        self.needs_snapshot = True

    # --- reads ---------------------------------------------------------------------------------------

    @property
    def best_bid(self) -> float | None:
        """Highest bid price, or None for an empty bid side."""
        return self._best_bid

    @property
    def best_ask(self) -> float | None:
        """Lowest ask price, or None for an empty ask side."""
        return self._best_ask

    @property
    def best_bid_level(self) -> Level | None:
        """(price, size) of the best bid, or None."""
        best = self._best_bid
        return None if best is None else (best, self._bids[best])

    @property
    def best_ask_level(self) -> Level | None:
        """(price, size) of the best ask, or None."""
        best = self._best_ask
        return None if best is None else (best, self._asks[best])

    @property
    def spread(self) -> float | None:
        """Best ask minus best bid; None when a side is empty (negative while the book is crossed)."""
        if self._best_bid is None or self._best_ask is None:
            return None
        return self._best_ask - self._best_bid

    @property
    def is_crossed(self) -> bool:
        """True while best bid ≥ best ask (mid-burst; see the class docstring)."""
        return self._best_bid is not None and self._best_ask is not None and self._best_bid >= self._best_ask

    def depth(self, levels: int | None = None) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """(bids, asks), each best FIRST, cut to `levels` per side (all when None)."""
        bids = sorted(self._bids.items(), reverse=True)
        asks = sorted(self._asks.items())
        if levels is not None:
            bids = bids[:levels]
            asks = asks[:levels]
        return tuple(bids), tuple(asks)

    def size_at(self, side: Side | LevelSide, price: float) -> float:
        """Aggregate size resting at `price` on `side` (0.0 when there is no such level)."""
        return (self._bids if side is Side.BUY or side is LevelSide.BUY else self._asks).get(price, 0.0)

    @property
    def bid_count(self) -> int:
        return len(self._bids)

    @property
    def ask_count(self) -> int:
        return len(self._asks)

    def mirrored(self, asset_id: str) -> OrderBook:
        """The complementary token's book implied by this one: its bids are our asks at 1 - p, and vice versa.

        source: spec 1.3 ("The NO token's book is an exact mirror of the YES book").
        """
        other = OrderBook(asset_id, self.market)
        other._bids = {mirror_price(price): size for price, size in self._asks.items()}
        other._asks = {mirror_price(price): size for price, size in self._bids.items()}
        other._best_bid = None if self._best_ask is None else mirror_price(self._best_ask)
        other._best_ask = None if self._best_bid is None else mirror_price(self._best_bid)
        other.tick_size = self.tick_size
        other.min_order_size = self.min_order_size
        other.neg_risk = self.neg_risk
        other.timestamp_ms = self.timestamp_ms
        other.updated_at_s = self.updated_at_s
        other.needs_snapshot = self.needs_snapshot
        return other

    def __repr__(self) -> str:
        return (
            f"<OrderBook {self.asset_id[:12]}… bid={self._best_bid} ask={self._best_ask} "
            f"levels={len(self._bids)}/{len(self._asks)} tick={self.tick_size} "
            f"needs_snapshot={self.needs_snapshot} snapshots={self.snapshots_applied} "
            f"changes={self.changes_applied}>"
        )


def apply_price_change(
    books: Mapping[str, OrderBook],
    event: PriceChangeEvent,
    *,
    received_at_s: float | None = None,
    changed: set[str] | None = None,
) -> int:
    """Route each entry of `event` to the book of its token in `books`; entries for other tokens are skipped.

    Adds the ids of the books it changed to `changed` (when given) and returns the number of entries applied.
    This is the market stream's hot path, so `OrderBook.set_level` is inlined here (same module).
    """
    applied = 0
    timestamp_ms = event.timestamp_ms
    buy = LevelSide.BUY
    get_book = books.get
    mark = changed.add if changed is not None else None
    for change in event.changes:
        book = get_book(change.asset_id)
        if book is None:
            continue
        price = change.price
        size = change.size
        if change.side is buy:
            levels = book._bids
            if size > 0.0:
                levels[price] = size
                best = book._best_bid
                if best is None or price > best:
                    book._best_bid = price
            elif levels.pop(price, None) is not None and price == book._best_bid:
                book._best_bid = max(levels) if levels else None
        else:
            levels = book._asks
            if size > 0.0:
                levels[price] = size
                best = book._best_ask
                if best is None or price < best:
                    book._best_ask = price
            elif levels.pop(price, None) is not None and price == book._best_ask:
                book._best_ask = min(levels) if levels else None
        if change.hash:
            book.hash = change.hash
        if timestamp_ms:
            book.timestamp_ms = timestamp_ms
        if received_at_s is not None:
            book.updated_at_s = received_at_s
        book.changes_applied += 1
        if mark is not None:
            mark(book.asset_id)
        applied += 1
    return applied
