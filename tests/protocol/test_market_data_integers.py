"""Market data is integers from the wire to the quote: every price of every tick grid, parsed from the venue's
decimal text by the market stream, is the exact integer in the book and in the strategy's quote.

Why exhaustive: a float in the book is right for most prices and wrong for a few (0.57 × 100 floors to 56:
one tick low, on a post-only BUY that then rests a tick behind where the ladder meant it). Sampling can miss
the few; every price of every grid the venue uses (`ROUNDING_CONFIG`, spec 3.4) cannot. The expected values
come from `Decimal` arithmetic on the grid, not from the parsers under test.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import orjson
import pytest

from bot.engine.own_book import best_excluding_own
from bot.engine.strategy import MarketView, PairLadderParams, PairLadderStrategy, TokenView
from bot.protocol import market_channel
from bot.protocol.book import OrderBook, apply_price_change
from bot.protocol.constants import ROUNDING_CONFIG
from bot.protocol.messages import BookEvent, ParseStats, PriceChangeEvent, parse_market_frame

UP, DOWN = "111", "222"
MARKET = "0x" + "ab" * 32
GRIDS = sorted(ROUNDING_CONFIG, key=Decimal)  # 0.0001, 0.001, 0.0025, 0.005, 0.01, 0.1
_SCALE = Decimal(10**6)


def _grid_prices(tick: str) -> Iterator[tuple[int, str, int]]:
    """(ticks, wire text, expected micro-units) of every price strictly inside (0, 1) on the grid, in the
    two spellings the venue uses: padded to the grid's decimals ("0.50") and without trailing zeros ("0.5")."""
    step = Decimal(tick)
    decimals = ROUNDING_CONFIG[tick].price
    for ticks in range(1, int(1 / step)):
        price = step * ticks
        expected = int(price * _SCALE)
        assert expected == price * _SCALE  # on every grid the venue uses, a price is whole micro-units
        padded = f"{price:.{decimals}f}"
        yield ticks, padded, expected
        short = padded.rstrip("0")
        if short != padded:
            yield ticks, short, expected


def _price_change_frame(token: str, side: str, changes: list[tuple[str, str]]) -> bytes:
    """One current-schema price_change frame setting `size` at each `price` text on one side."""
    return orjson.dumps({
        "event_type": "price_change", "market": MARKET, "timestamp": "1729084877448",
        "price_changes": [
            {"asset_id": token, "price": price, "size": size, "side": side, "hash": "h", "best_bid": "",
             "best_ask": ""}
            for price, size in changes
        ],
    })


def _parse(raw: bytes, *, fast: bool) -> list[object]:
    stats = ParseStats()
    saved = market_channel._FAST_DECODER
    if not fast:
        market_channel._FAST_DECODER = None
    try:
        events = parse_market_frame(raw, stats)
    finally:
        market_channel._FAST_DECODER = saved
    assert stats.malformed == 0, stats.last_error
    return events


@pytest.mark.parametrize("fast", [True, False], ids=["msgspec", "portable"])
@pytest.mark.parametrize("tick", GRIDS)
def test_every_grid_price_from_a_price_change_is_the_exact_integer_in_the_book(tick: str, fast: bool) -> None:
    prices = list(_grid_prices(tick))
    book = OrderBook(UP)
    for side in ("BUY", "SELL"):
        # One frame per price: the fast path's hot shape (a couple of entries), for every price of the grid.
        for _, text, _ in prices:
            [event] = _parse(_price_change_frame(UP, side, [(text, "12.34")]), fast=fast)
            assert isinstance(event, PriceChangeEvent)
            apply_price_change({UP: book}, event)
    bids, asks = book.depth()
    expected = sorted({micro for _, _, micro in prices})
    assert [p for p, _ in asks] == expected and [p for p, _ in reversed(bids)] == expected
    assert {s for _, s in bids + asks} == {12_340_000}
    assert all(type(p) is int and type(s) is int for p, s in bids + asks)
    assert book.best_bid_micro == expected[-1] and book.best_ask_micro == expected[0]


@pytest.mark.parametrize("tick", GRIDS)
def test_every_grid_price_in_a_book_snapshot_is_the_exact_integer(tick: str) -> None:
    prices = list(_grid_prices(tick))
    levels = [{"price": text, "size": "0.01"} for _, text, _ in prices]
    raw = orjson.dumps({"event_type": "book", "asset_id": UP, "market": MARKET, "timestamp": "1729084877448",
                        "hash": "h", "bids": levels, "asks": levels, "tick_size": tick})
    [event] = _parse(raw, fast=True)
    assert isinstance(event, BookEvent)
    assert event.bids == tuple((micro, 10_000) for _, _, micro in prices)
    assert event.tick_size_micro == int(Decimal(tick) * _SCALE)
    book = OrderBook(UP)
    book.apply_snapshot(event)
    assert sorted(book.depth()[1]) == sorted({(micro, 10_000) for _, _, micro in prices})


def _strategy() -> PairLadderStrategy:
    # Join the best bid (no offset), one level, no pair edge: level 0's price is the best bid itself.
    return PairLadderStrategy(PairLadderParams(
        ladder_levels=1, level_spacing_ticks=1, top_offset_ticks=0, size_per_level_shares=5.0, min_pair_edge=0.0,
        max_inventory_skew_shares=50.0, max_unpaired_shares=100.0, max_notional_per_market_pusd=1000.0,
        stale_book_s=10.0,
    ))


def _view(tick: str, up: OrderBook, down: OrderBook) -> MarketView:
    tokens = []
    for token_id, book in ((UP, up), (DOWN, down)):
        bid, ask = best_excluding_own(book, {}, {})
        tokens.append(TokenView(token_id, tick, bid, ask, 99.0))
    return MarketView(now_s=100.0, cutoff_s=1000.0, start_s=0.0, up=tokens[0], down=tokens[1],
                      min_order_size_micro=5_000_000)


@pytest.mark.parametrize("tick", GRIDS)
def test_the_quote_from_a_parsed_book_is_the_integer_expectation_at_every_grid_price(tick: str) -> None:
    """Level 0 joins the best bid: for every best bid the stream can carry, the quote is that price's ticks,
    and its price in micro-units is the wire text's, exactly (the best ask right above it bounds nothing)."""
    strategy = _strategy()
    down = OrderBook(DOWN)
    step = int(Decimal(tick) * _SCALE)
    [event] = _parse(_price_change_frame(DOWN, "BUY", [(tick, "100")]), fast=True)  # Down bids one tick
    apply_price_change({DOWN: down}, event)
    down.needs_snapshot = False
    for ticks, text, micro in _grid_prices(tick):
        up = OrderBook(UP)
        up.needs_snapshot = False
        ask_text = f"{Decimal(text) + Decimal(tick)}"
        frames = [_price_change_frame(UP, "BUY", [(text, "100")])]
        if ticks + 1 < int(1 / Decimal(tick)):
            frames.append(_price_change_frame(UP, "SELL", [(ask_text, "100")]))
        for raw in frames:
            for ev in _parse(raw, fast=True):
                apply_price_change({UP: up}, ev)  # type: ignore[arg-type]
        ladder = strategy.desired(_view(tick, up, down))
        [quote] = [q for q in ladder.quotes if q.token_id == UP]
        assert (quote.price_ticks, quote.price_micro, quote.tick_size) == (ticks, micro, tick), text
        assert quote.price_micro == ticks * step


def test_the_float_trap_the_integers_avoid() -> None:
    # What a float book did wrong, kept as a reminder of why the exhaustive tests above exist.
    assert int(float("0.57") * 100) == 56  # one tick low
    [event] = _parse(_price_change_frame(UP, "BUY", [("0.57", "1")]), fast=True)
    assert isinstance(event, PriceChangeEvent) and event.changes[0].price_micro == 570_000
    assert event.changes[0].price_micro // 10_000 == 57
