"""The book the strategy reads: the venue's book of a token with our own resting orders taken out.

Why: the venue's book includes our orders. Pegged to a best bid that is our own order, the ladder walks
itself down one offset per tick (`reprice_ticks=0` never settles); excluding our size it pegs to the
best price somebody else pays.

Both sides, because the books are mirrored (spec 1.3: one order book per market; the No book is the
Yes book seen from the other token). Our BUY of Down at `p` rests on Down's bid side at `p` **and** on
Up's ask side at `1 − p`; our BUY of Up likewise shows as a Down ask at `1 − p`. Taking our size out of
the bids alone leaves our own Down bid as Up's best ask: Up's post-only clamp (`best ask − 1 tick`)
then follows our Down price, Down's follows our Up price, and since both sides are re-decided in one
tick from the other's previous price, each reprice moves the other's ceiling and the pair alternates
between two ladders (see tests/engine/test_own_book.py). Excluding our size from both sides of both
books removes that feedback: nothing we rest can bound our own next price.

The second way to oscillate is time: our size comes from the order cache, the levels from the market
channel, and the two lag each other. A fresh order (its POST in flight or just answered) is in the cache
before it is in the book; had a level smaller than our size counted as ours, our new order would have
erased somebody else's size at that price, the best bid would drop a tick, the ladder would follow it,
the cancel would take our order out of the cache while the book still showed it ... a flip every tick
(on the simulator, test_a_partly_filled_level_is_resized_only_beyond_resize_pct hit it: a burst of
reprices in one virtual instant until the venue answered 429; tests/engine/test_own_book.py pins the
rule). So a level counts as ours alone only when its size equals our size there; a smaller level does
not hold our order yet and is somebody else's. The
one lag left the other way (our fill not yet in the cache) keeps us at our own price for one tick, then
settles: it cannot cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.engine.strategy import RestingOrder
from bot.protocol.book import OrderBook
from bot.protocol.money import MICRO

__all__ = ["best_excluding_own", "own_size_by_price"]


def own_size_by_price(resting: Iterable[RestingOrder], token_id: str, complement_id: str) -> tuple[
    dict[int, int], dict[int, int]
]:
    """(our bids on `token_id`, our asks as they show on `token_id`'s book), price micro → size micro.

    The asks are our BUYs of the complement, mirrored to `1 − p`.
    """
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    for order in resting:
        if order.remaining_micro <= 0:
            continue
        if order.token_id == token_id:
            bids[order.price_micro] = bids.get(order.price_micro, 0) + order.remaining_micro
        elif order.token_id == complement_id:
            price = MICRO - order.price_micro
            asks[price] = asks.get(price, 0) + order.remaining_micro
    return bids, asks


def _best(levels: Iterable[tuple[int, int]], own: Mapping[int, int]) -> int | None:
    for price_micro, size_micro in levels:  # best first
        # size > mine: somebody else rests here too. size < mine: the book does not hold our order yet
        # (it lags our own placement), so what it shows is somebody else's. Only size == mine is ours alone.
        if size_micro != own.get(price_micro, 0):
            return price_micro
    return None


def best_excluding_own(book: OrderBook, own_bids: Mapping[int, int], own_asks: Mapping[int, int]) -> tuple[
    int | None, int | None
]:
    """(best bid, best ask) in micro-pUSD of `book` without our size; None for a side with nobody else."""
    bid, ask = book.best_bid_micro, book.best_ask_micro
    bid_mine = bid is not None and bid in own_bids
    ask_mine = ask is not None and ask in own_asks
    if not bid_mine and not ask_mine:
        return bid, ask  # the usual case: the top of book is somebody else's on both sides
    bids, asks = book.depth()
    if bid_mine:
        bid = _best(bids, own_bids)
    if ask_mine:
        ask = _best(asks, own_asks)
    return bid, ask
