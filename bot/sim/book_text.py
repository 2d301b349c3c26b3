"""A market's book as the level text of its summary hash, kept up to date level by level.

Every book change publishes both tokens' summary hashes (`SimMarket.changes`), and a hash covers the
whole book. Rebuilt from scratch, that is a walk of every level and order per change: per recorded event
in a replay, where a busy hour's book grows to dozens of levels a side (a quarter of an hour-long exact
backtest went there). `BookText` keeps, per Yes-space side, the book's prices in order and each level's
`{"price":..,"size":..}` text for both tokens, and updates only the levels a call changed.

Guarantee: after `update(dirty)` the text equals a fresh walk of the book (`book_levels`), provided
`dirty` holds every level changed since the previous update. `SimMarket.dirty` is that set: every change
of the book marks its level there, since the same set decides which levels a `price_change` reports.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from bot.sim.book import ASK, BID, MirroredBook
from bot.sim.wire import UNIT, level_json

__all__ = ["BookText"]


class BookText:
    """The level text of one market's book for both tokens; `update` with the changed levels first."""

    def __init__(self, book: MirroredBook) -> None:
        self._book = book
        self._synced = False
        self._prices: dict[str, list[int]] = {BID: [], ASK: []}  # ascending: the book's levels
        self._yes: dict[str, list[str]] = {BID: [], ASK: []}  # the level's text at p, aligned with _prices
        self._no: dict[str, list[str]] = {BID: [], ASK: []}  # the mirrored text at 1 − p

    def __repr__(self) -> str:
        return f"<BookText bid_levels={len(self._prices[BID])} ask_levels={len(self._prices[ASK])}>"

    def update(self, dirty: Iterable[tuple[str, int]]) -> None:
        """Bring the levels in `dirty` ((Yes-space side, price)) up to the book; everything on first use."""
        if not self._synced:
            self._synced = True
            for side in (BID, ASK):
                for price, _ in self._book.depth(side):
                    self._set_level(side, price)
            return
        for side, price in dirty:
            self._set_level(side, price)

    def _set_level(self, side: str, price: int) -> None:
        prices, yes, no = self._prices[side], self._yes[side], self._no[side]
        i = bisect.bisect_left(prices, price)
        known = i < len(prices) and prices[i] == price
        if self._book.has_level(side, price):  # a level with orders, even of 0 open shares (as `depth`)
            shares = self._book.level_shares(side, price)
            yes_text, no_text = level_json(price, shares), level_json(UNIT - price, shares)
            if known:
                yes[i], no[i] = yes_text, no_text
            else:
                prices.insert(i, price)
                yes.insert(i, yes_text)
                no.insert(i, no_text)
        elif known:
            del prices[i], yes[i], no[i]

    def levels_json(self, *, yes: bool) -> tuple[str, str]:
        """(bids, asks) of one token as the contents of their JSON arrays, best LAST (`book_levels`)."""
        if yes:
            return ",".join(self._yes[BID]), ",".join(reversed(self._yes[ASK]))
        return ",".join(reversed(self._no[ASK])), ",".join(self._no[BID])
