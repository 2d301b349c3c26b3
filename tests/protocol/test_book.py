"""The local order book: snapshot + captured deltas rebuild the venue's next snapshot exactly; cached best stays right."""

from __future__ import annotations

from itertools import groupby
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.protocol.book import OrderBook, apply_price_change, mirror_price
from bot.protocol.constants import Side
from bot.protocol.messages import (
    BookEvent,
    LevelSide,
    ParseStats,
    PriceChangeEvent,
    PriceLevelChange,
    TickSizeChangeEvent,
    parse_book,
    parse_market_frame,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "polymarket"
BURST = FIXTURES / "ws" / "price_change_burst_captured.json"


def _burst() -> tuple[BookEvent, list[PriceChangeEvent], BookEvent]:
    stats = ParseStats()
    events = parse_market_frame(BURST.read_bytes(), stats)
    assert stats.malformed == 0
    first, *deltas, last = events
    assert isinstance(first, BookEvent) and isinstance(last, BookEvent)
    assert all(isinstance(d, PriceChangeEvent) for d in deltas)
    return first, deltas, last  # type: ignore[return-value]


def _levels(book: OrderBook) -> tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]:
    return book.depth()


def _expected_levels(snapshot: BookEvent) -> tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]:
    # The wire lists the best level last; depth() lists it first.
    return tuple(reversed(snapshot.bids)), tuple(reversed(snapshot.asks))


def test_replaying_the_captured_burst_rebuilds_the_post_trade_snapshot_exactly() -> None:
    first, deltas, last = _burst()
    token = first.asset_id
    assert last.asset_id == token
    complement = next(c.asset_id for c in deltas[0].changes if c.asset_id != token)
    book = OrderBook(token)
    book.apply_snapshot(first, received_at_s=1.0)
    books = {token: book}
    applied = sum(apply_price_change(books, d, received_at_s=2.0) for d in deltas)

    assert applied == sum(1 for d in deltas for c in d.changes if c.asset_id == token) == 49
    assert _levels(book) == _expected_levels(last)
    assert (book.best_bid, book.best_ask) == (0.29, 0.301)
    assert book.hash == last.hash  # the last delta for this token carries the final book's hash
    assert book.timestamp_ms == last.timestamp_ms and book.updated_at_s == 2.0
    assert book.tick_size == 0.001 and book.last_trade_price == 0.255
    assert complement not in books  # entries for the other token were skipped, not misapplied


def test_the_complementary_token_replays_as_the_mirror_of_the_captured_token() -> None:
    first, deltas, last = _burst()
    token = first.asset_id
    complement = next(c.asset_id for c in deltas[0].changes if c.asset_id != token)
    # The capture has snapshots of one token only; the other token's book is its mirror (spec 1.3).
    yes = OrderBook(token)
    yes.apply_snapshot(first)
    no = yes.mirrored(complement)
    books = {token: yes, complement: no}
    changed: set[str] = set()
    for delta in deltas:
        apply_price_change(books, delta, changed=changed)
    assert changed == {token, complement}

    final_yes = OrderBook(token)
    final_yes.apply_snapshot(last)
    assert _levels(no) == _levels(final_yes.mirrored(complement))
    assert (no.best_bid, no.best_ask) == (mirror_price(0.301), mirror_price(0.29)) == (0.699, 0.71)
    # And level by level, the live books stay mirrors throughout.
    assert sorted(no.depth()[0]) == sorted((mirror_price(p), s) for p, s in yes.depth()[1])


def test_best_bid_and_ask_match_the_venue_after_each_match_group() -> None:
    """Every entry reports the token's top of book after the venue's whole update; the three messages of
    the final match share one timestamp and report the state after all three."""
    first, deltas, _ = _burst()
    token = first.asset_id
    complement = next(c.asset_id for c in deltas[0].changes if c.asset_id != token)
    yes = OrderBook(token)
    yes.apply_snapshot(first)
    books = {token: yes, complement: yes.mirrored(complement)}
    groups = 0
    for _, group in groupby(deltas, key=lambda d: d.timestamp_ms):
        batch = list(group)
        for delta in batch:
            apply_price_change(books, delta)
        for change in batch[-1].changes:
            book = books[change.asset_id]
            assert (book.best_bid, book.best_ask) == (change.best_bid, change.best_ask), change
        groups += 1
    assert groups == 47


def test_book_is_transiently_crossed_inside_the_captured_match() -> None:
    first, deltas, _ = _burst()
    book = OrderBook(first.asset_id)
    book.apply_snapshot(first)
    crossed_at = []
    for i, delta in enumerate(deltas):
        book.apply_price_change(delta)
        if book.is_crossed:
            crossed_at.append(i)
    assert crossed_at == [46, 47]  # the SELL at 0.301 lands before the bids it matched are removed
    assert not book.is_crossed and book.spread == pytest.approx(0.011)


def test_snapshot_replaces_levels_and_keeps_known_market_parameters() -> None:
    book = OrderBook("tok")
    assert book.needs_snapshot and book.best_bid is None and book.best_ask is None and book.spread is None
    book.apply_snapshot(BookEvent("tok", "0xm", 5, "h1", ((0.4, 10.0), (0.45, 0.0), (0.5, 5.0)), ((0.6, 7.0),), 0.01))
    assert (book.best_bid_level, book.best_ask_level) == ((0.5, 5.0), (0.6, 7.0))
    assert book.bid_count == 2  # a zero-size level on the wire is not a level
    book.apply_snapshot(BookEvent("tok", "", 6, "h2", (), ((0.7, 1.0), (0.65, 2.0))))
    assert book.best_bid is None and book.best_ask == 0.65 and book.depth() == ((), ((0.65, 2.0), (0.7, 1.0)))
    assert book.tick_size == 0.01 and book.market == "0xm"  # absent in the second snapshot: kept
    assert (book.hash, book.timestamp_ms, book.snapshots_applied, book.needs_snapshot) == ("h2", 6, 2, False)


def test_snapshot_or_tick_change_for_another_token_is_refused() -> None:
    book = OrderBook("tok")
    with pytest.raises(ValueError, match="other"):
        book.apply_snapshot(BookEvent("other", "", 0, "", (), ()))
    with pytest.raises(ValueError, match="other"):
        book.apply_tick_size_change(TickSizeChangeEvent("other", "", 0.01, 0.001, 0))


def test_tick_size_change_sets_the_tick_and_asks_for_a_snapshot_until_one_arrives() -> None:
    book = OrderBook("tok")
    book.apply_snapshot(BookEvent("tok", "", 1, "h", ((0.96, 5.0),), ((0.97, 5.0),), 0.01))
    book.apply_tick_size_change(TickSizeChangeEvent("tok", "", 0.01, 0.001, 2), received_at_s=9.0)
    assert book.tick_size == 0.001 and book.needs_snapshot
    assert book.depth() == (((0.96, 5.0),), ((0.97, 5.0),))  # levels kept: those orders still rest
    assert (book.timestamp_ms, book.updated_at_s) == (2, 9.0)
    book.apply_snapshot(BookEvent("tok", "", 3, "h2", ((0.961, 5.0),), ((0.97, 5.0),)))
    assert not book.needs_snapshot and book.tick_size == 0.001 and book.best_bid == 0.961


def test_invalidate_keeps_levels_but_needs_a_snapshot() -> None:
    book = OrderBook("tok")
    book.apply_snapshot(BookEvent("tok", "", 1, "h", ((0.5, 1.0),), ()))
    book.invalidate()
    assert book.needs_snapshot and book.best_bid == 0.5


def test_depth_is_cut_to_the_requested_levels_best_first() -> None:
    book = OrderBook("tok")
    for i, price in enumerate((0.1, 0.3, 0.2, 0.4)):
        book.set_level(Side.BUY, price, float(i + 1))
        book.set_level(Side.SELL, round(price + 0.5, 1), float(i + 1))
    assert book.depth(2) == (((0.4, 4.0), (0.3, 2.0)), ((0.6, 1.0), (0.7, 3.0)))
    assert book.size_at(Side.BUY, 0.2) == 3.0 and book.size_at(Side.SELL, 0.2) == 0.0


def test_removing_a_missing_level_changes_nothing() -> None:
    book = OrderBook("tok")
    book.set_level(Side.SELL, 0.6, 1.0)
    book.set_level(Side.SELL, 0.55, 0.0)
    book.apply_change(PriceLevelChange("tok", 0.7, 0.0, LevelSide.SELL, None, None, ""), timestamp_ms=0)
    assert book.depth() == ((), ((0.6, 1.0),)) and book.hash == ""


@pytest.mark.parametrize(("price", "complement"), [(0.301, 0.699), (0.5, 0.5), (0.001, 0.999), (0.0125, 0.9875)])
def test_mirror_price_is_the_exact_wire_value(price: float, complement: float) -> None:
    assert mirror_price(price) == complement


PRICES = st.integers(min_value=1, max_value=999).map(lambda ticks: ticks / 1000)
OPS = st.lists(
    st.tuples(st.sampled_from([Side.BUY, Side.SELL]), PRICES, st.sampled_from([0.0, 0.0, 1.0, 2.5, 100.0])),
    max_size=200,
)


@given(OPS)
def test_cached_best_and_depth_agree_with_a_brute_force_book(ops: list[tuple[Side, float, float]]) -> None:
    book = OrderBook("tok")
    model: dict[Side, dict[float, float]] = {Side.BUY: {}, Side.SELL: {}}
    for side, price, size in ops:
        book.set_level(side, price, size)
        if size:
            model[side][price] = size
        else:
            model[side].pop(price, None)
        assert book.best_bid == max(model[Side.BUY], default=None)
        assert book.best_ask == min(model[Side.SELL], default=None)
    bids, asks = book.depth()
    assert bids == tuple(sorted(model[Side.BUY].items(), reverse=True))
    assert asks == tuple(sorted(model[Side.SELL].items()))


def test_rest_snapshot_with_an_empty_side() -> None:
    snapshot = parse_book(orjson.loads((FIXTURES / "rest" / "book_captured_empty_ask.json").read_bytes()))
    book = OrderBook(snapshot.asset_id)
    book.apply_snapshot(snapshot)
    assert book.best_ask is None and book.best_bid == 0.002 and book.spread is None and not book.is_crossed
    assert book.neg_risk is True and book.min_order_size == 5.0 and "bid=0.002" in repr(book)
