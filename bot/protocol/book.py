"""Local order book of one token, rebuilt from `book` snapshots and kept current by `price_change` deltas.

Spec: docs/protocol/polymarket-clob.md 1.3 (snapshot, best level last on the wire, mirrored YES/NO books)
and 6.2 (deltas carry the new aggregate size of a level; 0 removes it; tick_size_change).

Representation: one dict price → size per side plus a cached best price, all exact integers: prices in
micro-pUSD per share (10⁻⁶), sizes in micro-shares, as the parse edge produced them (`*_micro`). A price is
not in ticks here: the book holds whatever grid the venue's levels are on (old and new grids overlap after
a tick change); the strategy turns prices into ticks of the grid it quotes on (`bot.protocol.money.TickGrid`). A delta is O(1) except when it
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

from bot.protocol.constants import Side
from bot.protocol.messages import (
    BookEvent,
    Level,
    LevelSide,
    PriceChangeEvent,
    PriceLevelChange,
    TickSizeChangeEvent,
)
from bot.protocol.money import MICRO

__all__ = ["LEVEL_LOG_LIMIT", "OrderBook", "apply_price_change", "mirror_price"]

# A recording book keeps at most this many unread level changes (`OrderBook.record_levels`).
LEVEL_LOG_LIMIT = 100_000


def mirror_price(price_micro: int) -> int:
    """The complementary token's price for `price_micro` (1 − p), exact."""
    return MICRO - price_micro


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
        "last_trade_price_micro",
        "level_log",
        "levels_current",
        "market",
        "min_order_size_micro",
        "needs_snapshot",
        "neg_risk",
        "snapshots_applied",
        "tick_size_micro",
        "timestamp_ms",
        "updated_at_s",
    )

    def __init__(self, asset_id: str, market: str = "") -> None:
        self.asset_id = asset_id
        self.market = market
        self._bids: dict[int, int] = {}  # price_micro → size_micro
        self._asks: dict[int, int] = {}
        self._best_bid: int | None = None
        self._best_ask: int | None = None
        self.tick_size_micro: int | None = None
        self.min_order_size_micro: int | None = None
        self.neg_risk: bool | None = None
        self.last_trade_price_micro: int | None = None
        self.hash = ""  # the venue's book hash after the last snapshot or delta
        self.timestamp_ms = 0  # venue time of the last snapshot or delta
        self.updated_at_s: float | None = None  # caller's clock when it last changed
        self.needs_snapshot = True
        # The levels are the venue's aggregates now: from the first snapshot until the feed drops
        # (`invalidate`). A tick change needs a snapshot for the grid, but keeps the levels current.
        self.levels_current = False
        self.snapshots_applied = 0
        self.changes_applied = 0
        # Off (None) unless a reader asks (`record_levels`): every level's new size as it arrives.
        self.level_log: list[tuple[bool, int, int, float | None]] | None = None

    # --- updates -------------------------------------------------------------------------------------

    def apply_snapshot(self, event: BookEvent, *, received_at_s: float | None = None) -> None:
        """Replace every level with the snapshot's; adopt its tick, min size, hash and time when present.

        Raises ValueError if the snapshot is for another token.
        """
        if event.asset_id != self.asset_id:
            raise ValueError(f"snapshot for {event.asset_id!r} applied to the book of {self.asset_id!r}")
        bids = {price: size for price, size in event.bids if size > 0}
        asks = {price: size for price, size in event.asks if size > 0}
        if self.level_log is not None:
            self._log_snapshot(bids, asks, received_at_s)
        self._bids = bids
        self._asks = asks
        self._best_bid = max(self._bids) if self._bids else None
        self._best_ask = min(self._asks) if self._asks else None
        if event.market:
            self.market = event.market
        if event.tick_size_micro is not None:
            self.tick_size_micro = event.tick_size_micro
        if event.min_order_size_micro is not None:
            self.min_order_size_micro = event.min_order_size_micro
        if event.neg_risk is not None:
            self.neg_risk = event.neg_risk
        if event.last_trade_price_micro is not None:
            self.last_trade_price_micro = event.last_trade_price_micro
        self.hash = event.hash
        if event.timestamp_ms:
            self.timestamp_ms = event.timestamp_ms
        if received_at_s is not None:
            self.updated_at_s = received_at_s
        self.needs_snapshot = False
        self.levels_current = True
        self.snapshots_applied += 1

    def record_levels(self) -> None:
        """Start `level_log`: from now on every change of a level's size is appended as (is bid, price,
        new size, received at) in arrival order, a snapshot as the levels it changed, so a reader sees a
        level emptied and refilled between two of its looks (an order replaced at the same price) that
        the book's state alone hides. The reader empties the log with `take_level_log`; a log the reader
        leaves past `LEVEL_LOG_LIMIT` entries is dropped whole, and the reader falls back to the state."""
        if self.level_log is None:
            self.level_log = []

    def take_level_log(self) -> list[tuple[bool, int, int, float | None]]:
        """The level changes since the previous call (empty when not recording)."""
        log = self.level_log
        if not log:
            return []
        self.level_log = []
        return log

    def _log_snapshot(self, bids: dict[int, int], asks: dict[int, int], at_s: float | None) -> None:
        log = self._level_log_room()
        for is_bid, old, new in ((True, self._bids, bids), (False, self._asks, asks)):
            log.extend((is_bid, price, 0, at_s) for price in old if price not in new)
            log.extend((is_bid, price, size, at_s) for price, size in new.items() if old.get(price) != size)

    def _level_log_room(self) -> list[tuple[bool, int, int, float | None]]:
        log = self.level_log
        assert log is not None
        if len(log) >= LEVEL_LOG_LIMIT:
            log.clear()
        return log

    def set_level(self, side: Side | LevelSide, price_micro: int, size_micro: int) -> None:
        """Set the aggregate size at one price (0 removes the level) and keep the cached best right.

        `side` BUY is the bid side, SELL the ask side (either enum: `Side` or the wire's `LevelSide`).
        """
        price, size = price_micro, size_micro
        if side is Side.BUY or side is LevelSide.BUY:
            bids = self._bids
            if size > 0:
                bids[price] = size
                best = self._best_bid
                if best is None or price > best:
                    self._best_bid = price
            elif bids.pop(price, None) is not None and price == self._best_bid:
                self._best_bid = max(bids) if bids else None
        else:
            asks = self._asks
            if size > 0:
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
        self.set_level(change.side, change.price_micro, change.size_micro)
        if self.level_log is not None:
            self._level_log_room().append(
                (change.side is LevelSide.BUY, change.price_micro, change.size_micro, received_at_s)
            )
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
        self.tick_size_micro = event.new_tick_size_micro
        self.needs_snapshot = True
        if event.timestamp_ms:
            self.timestamp_ms = event.timestamp_ms
        if received_at_s is not None:
            self.updated_at_s = received_at_s

    def invalidate(self) -> None:
        """The levels can no longer be trusted (e.g. the feed dropped); keep them, but need a snapshot."""
        self.needs_snapshot = True
        self.levels_current = False

    # --- reads ---------------------------------------------------------------------------------------

    @property
    def best_bid_micro(self) -> int | None:
        """Highest bid price (micro-pUSD per share), or None for an empty bid side."""
        return self._best_bid

    @property
    def best_ask_micro(self) -> int | None:
        """Lowest ask price (micro-pUSD per share), or None for an empty ask side."""
        return self._best_ask

    @property
    def best_bid_level(self) -> Level | None:
        """(price_micro, size_micro) of the best bid, or None."""
        best = self._best_bid
        return None if best is None else (best, self._bids[best])

    @property
    def best_ask_level(self) -> Level | None:
        """(price_micro, size_micro) of the best ask, or None."""
        best = self._best_ask
        return None if best is None else (best, self._asks[best])

    @property
    def spread_micro(self) -> int | None:
        """Best ask minus best bid; None when a side is empty (negative while the book is crossed)."""
        if self._best_bid is None or self._best_ask is None:
            return None
        return self._best_ask - self._best_bid

    @property
    def is_crossed(self) -> bool:
        """True while best bid ≥ best ask (mid-burst; see the class docstring)."""
        return self._best_bid is not None and self._best_ask is not None and self._best_bid >= self._best_ask

    def depth(self, levels: int | None = None) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """(bids, asks) of (price_micro, size_micro), each best FIRST, cut to `levels` per side (all when None)."""
        bids = sorted(self._bids.items(), reverse=True)
        asks = sorted(self._asks.items())
        if levels is not None:
            bids = bids[:levels]
            asks = asks[:levels]
        return tuple(bids), tuple(asks)

    def size_at(self, side: Side | LevelSide, price_micro: int) -> int:
        """Aggregate size (micro-shares) resting at `price_micro` on `side` (0 when there is no such level)."""
        return (self._bids if side is Side.BUY or side is LevelSide.BUY else self._asks).get(price_micro, 0)

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
        other.tick_size_micro = self.tick_size_micro
        other.min_order_size_micro = self.min_order_size_micro
        other.neg_risk = self.neg_risk
        other.timestamp_ms = self.timestamp_ms
        other.updated_at_s = self.updated_at_s
        other.needs_snapshot = self.needs_snapshot
        return other

    def __repr__(self) -> str:
        return (
            f"<OrderBook {self.asset_id[:12]}… bid={self._best_bid} ask={self._best_ask} "
            f"levels={len(self._bids)}/{len(self._asks)} tick_micro={self.tick_size_micro} "
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
        price = change.price_micro
        size = change.size_micro
        if change.side is buy:
            levels = book._bids
            if size > 0:
                levels[price] = size
                best = book._best_bid
                if best is None or price > best:
                    book._best_bid = price
            elif levels.pop(price, None) is not None and price == book._best_bid:
                book._best_bid = max(levels) if levels else None
        else:
            levels = book._asks
            if size > 0:
                levels[price] = size
                best = book._best_ask
                if best is None or price < best:
                    book._best_ask = price
            elif levels.pop(price, None) is not None and price == book._best_ask:
                book._best_ask = min(levels) if levels else None
        if book.level_log is not None:
            book._level_log_room().append((change.side is buy, price, size, received_at_s))
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
