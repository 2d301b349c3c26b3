"""Own size out of the book the strategy reads (issue 13, finding 4): a ladder pegged to the best bid must
peg to somebody else's, or with `reprice_ticks=0` it walks itself down; and the exclusion must neither
leave our orders in the mirrored book nor trust a book that lags our own placements (the oscillation).

The books here are the venue's: one Up book, Down is its mirror (spec 1.3), so our BUY of Down at `p` is
an ask of Up at `1 − p`. `_place` puts our desired ladder into the Up book as the venue would.
"""

from __future__ import annotations

from bot.engine.own_book import best_excluding_own, own_size_by_price
from bot.engine.strategy import (
    Ladder,
    MarketView,
    PairLadderParams,
    PairLadderStrategy,
    RestingOrder,
    TokenView,
)
from bot.protocol.book import OrderBook
from bot.protocol.constants import Side
from bot.protocol.money import MICRO

UP, DOWN = "111", "222"


def _params() -> PairLadderParams:
    return PairLadderParams(
        ladder_levels=2, level_spacing_ticks=1, top_offset_ticks=1, size_per_level_shares=10.0, min_pair_edge=0.02,
        max_inventory_skew_shares=50.0, max_unpaired_shares=100.0, max_notional_per_market_pusd=1000.0,
        stale_book_s=10.0,
    )


def _others() -> OrderBook:
    """Somebody else's Up book: bids 0.44 / 0.40, asks 0.60 / 0.65 (Down: bids 0.40 / 0.35, asks 0.56 / 0.60)."""
    book = OrderBook(UP)
    for price, size in ((440_000, 50 * MICRO), (400_000, 80 * MICRO)):
        book.set_level(Side.BUY, price, size)
    for price, size in ((600_000, 50 * MICRO), (650_000, 80 * MICRO)):
        book.set_level(Side.SELL, price, size)
    return book


def _place(others: OrderBook, resting: tuple[RestingOrder, ...]) -> OrderBook:
    """The Up book with our orders in it: Up BUYs on its bids, Down BUYs on its asks at 1 − p."""
    bids, asks = others.depth()
    book = OrderBook(UP)
    for price, size in bids:
        book.set_level(Side.BUY, price, size)
    for price, size in asks:
        book.set_level(Side.SELL, price, size)
    for o in resting:
        side, price = (Side.BUY, o.price_micro) if o.token_id == UP else (Side.SELL, MICRO - o.price_micro)
        book.set_level(side, price, book.size_at(side, price) + o.remaining_micro)
    return book


def _view(up_book: OrderBook, resting: tuple[RestingOrder, ...], *, exclude: bool) -> MarketView:
    views = []
    for token_id, book, complement in ((UP, up_book, DOWN), (DOWN, up_book.mirrored(DOWN), UP)):
        if exclude:
            bid, ask = best_excluding_own(book, *own_size_by_price(resting, token_id, complement))
        else:  # the book as the venue sends it, our own orders included
            bid, ask = book.best_bid_micro, book.best_ask_micro
        views.append(TokenView(token_id, "0.01", bid, ask, 99.0))
    return MarketView(now_s=100.0, cutoff_s=1000.0, start_s=0.0, up=views[0], down=views[1],
                      min_order_size_micro=5 * MICRO, resting=resting)


def _resting(ladder: Ladder) -> tuple[RestingOrder, ...]:
    return tuple(RestingOrder(q.token_id, q.level, q.price_micro, q.size_micro) for q in ladder.quotes)


def _run(ticks: int, *, exclude: bool) -> list[tuple[int, ...]]:
    """Each tick: decide from the book, then the venue shows exactly the desired ladder (reprice_ticks=0).

    After the first tick somebody's 0.44 Up bid leaves: our 0.43 is then the best Up bid.
    """
    strategy, others, resting = PairLadderStrategy(_params()), _others(), ()
    tops = []
    for tick in range(ticks):
        if tick == 1:
            others.set_level(Side.BUY, 440_000, 0)
        ladder = strategy.desired(_view(_place(others, resting), resting, exclude=exclude))
        resting = _resting(ladder)
        tops.append(tuple(q.price_ticks for q in ladder.quotes if q.level == 0))
    return tops


def test_pegged_to_its_own_bid_the_ladder_walks_down_but_excluding_it_holds_still():
    # Before: once our 0.43 is the best Up bid, level 0 pegs one tick behind itself: 42, 41, 40, 39, one
    # reprice per tick, until it falls behind somebody's 0.40 (Down stays behind somebody's 0.40 at 0.39).
    assert _run(7, exclude=False) == [(43, 39), (42, 39), (41, 39), (40, 39), (39, 39), (39, 39), (39, 39)]
    # Now: one tick behind somebody else's best bid at once, and still from then on.
    assert _run(7, exclude=True) == [(43, 39)] + [(39, 39)] * 6


def test_our_bid_of_one_token_is_taken_out_of_the_other_token_s_asks():
    # Our Down BUY at 0.45 rests on the Up book as an ask at 0.55, in front of somebody's 0.60.
    resting = (RestingOrder(DOWN, 0, 450_000, 10 * MICRO),)
    book = _place(_others(), resting)
    assert book.best_ask_micro == 550_000
    bids_only = best_excluding_own(book, own_size_by_price(resting, UP, DOWN)[0], {})
    assert bids_only == (440_000, 550_000)  # our own Down bid would cap Up's post-only price
    assert best_excluding_own(book, *own_size_by_price(resting, UP, DOWN)) == (440_000, 600_000)


def test_a_level_the_book_shows_smaller_than_our_order_is_somebody_else_s():
    # The book lags our fresh 10-share order at 0.44: it shows only somebody's 5 there. Counting the level
    # as ours would drop the best bid to 0.40; the ladder would follow, the cancel would take our order
    # out of the cache while the book caught up with it ... the flip every tick that made an earlier
    # exclusion oscillate. The 5 shown are somebody else's.
    book = OrderBook(UP)
    book.set_level(Side.BUY, 440_000, 5 * MICRO)
    book.set_level(Side.BUY, 400_000, 80 * MICRO)
    assert best_excluding_own(book, {440_000: 10 * MICRO}, {}) == (440_000, None)
    book.set_level(Side.BUY, 440_000, 10 * MICRO)  # the book shows exactly our 10: ours alone
    assert best_excluding_own(book, {440_000: 10 * MICRO}, {}) == (400_000, None)
    book.set_level(Side.BUY, 440_000, 15 * MICRO)  # ours and somebody's 5
    assert best_excluding_own(book, {440_000: 10 * MICRO}, {}) == (440_000, None)


def test_the_quoting_loop_keeps_our_sizes_while_the_resting_orders_are_the_same_tuple():
    # The runner hands the same tuple until an order changes; the loop then answers from memory, per
    # (token, complement), and a new tuple is read afresh.
    from bot.engine.quoting import QuotingLoop

    loop = QuotingLoop(runner=None)  # type: ignore[arg-type]  # `_own_sizes` never reads the runner
    first = (RestingOrder(UP, 0, 440_000, 10 * MICRO), RestingOrder(DOWN, 0, 500_000, 5 * MICRO))
    for resting in (first, first, (RestingOrder(UP, 0, 430_000, 10 * MICRO),), (), first):
        for token, complement in ((UP, DOWN), (DOWN, UP)):
            assert loop._own_sizes(resting, token, complement) == own_size_by_price(resting, token, complement)
