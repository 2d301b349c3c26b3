"""The last usable prices of a market's tokens, kept so the end-of-run P&L is not marked at 0.

At a market's end the venue empties its books, so a P&L computed from the book then marks every unsold
share at 0 (a live screen showing −4.22 became −23.81 in the summary). `LastMarks` remembers, per token,
the last mid (best bid and ask both present) and the last best bid of a book that was usable (its
snapshot received), observed at every book change, in micro-pUSD per share like the book (a mid between
two prices an odd number of micro-units apart is floored: marking unpaired shares half a micro-unit low). The summary marks at the mid (its "marked" P&L)
and at the best bid (what selling now would fetch: the "liquidation" view).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["LastMarks"]


class LastMarks:
    """Last mid and last best bid per token (micro-pUSD per share); None until a usable book showed one."""

    def __init__(self, token_ids: Iterable[str]) -> None:
        self._tokens = tuple(token_ids)
        self.mid_micro: dict[str, int | None] = dict.fromkeys(self._tokens)
        self.bid_micro: dict[str, int | None] = dict.fromkeys(self._tokens)

    def observe(self, books: Any) -> None:
        """Read the current top of each token's book (`books.book(token)`); empty sides change nothing."""
        for token in self._tokens:
            book = books.book(token)
            if book is None or getattr(book, "needs_snapshot", False):
                continue
            bid, ask = book.best_bid_micro, book.best_ask_micro
            if bid is not None:
                self.bid_micro[token] = bid
            if bid is not None and ask is not None:
                self.mid_micro[token] = (bid + ask) // 2

    def __repr__(self) -> str:
        return f"<LastMarks mid_micro={self.mid_micro} bid_micro={self.bid_micro}>"
