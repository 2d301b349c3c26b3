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
from bot.protocol.money import MICRO as M
from bot.protocol.money import parse_micro

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


Levels = tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]


def _levels(book: OrderBook) -> Levels:
    return book.depth()


def _expected_levels(snapshot: BookEvent) -> Levels:
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
    assert (book.best_bid_micro, book.best_ask_micro) == (290_000, 301_000)
    assert book.hash == last.hash  # the last delta for this token carries the final book's hash
    assert book.timestamp_ms == last.timestamp_ms and book.updated_at_s == 2.0
    assert book.tick_size_micro == 1_000 and book.last_trade_price_micro == 255_000
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
    assert (no.best_bid_micro, no.best_ask_micro) == (mirror_price(301_000), mirror_price(290_000)) == (699_000, 710_000)
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
            assert (book.best_bid_micro, book.best_ask_micro) == (change.best_bid_micro, change.best_ask_micro), change
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
    assert not book.is_crossed and book.spread_micro == 11_000


def test_snapshot_replaces_levels_and_keeps_known_market_parameters() -> None:
    book = OrderBook("tok")
    assert (
        book.needs_snapshot and book.best_bid_micro is None and book.best_ask_micro is None and book.spread_micro is None
    )
    book.apply_snapshot(BookEvent(
        "tok", "0xm", 5, "h1", ((400_000, 10 * M), (450_000, 0), (500_000, 5 * M)), ((600_000, 7 * M),), 10_000,
    ))
    assert (book.best_bid_level, book.best_ask_level) == ((500_000, 5 * M), (600_000, 7 * M))
    assert book.bid_count == 2  # a zero-size level on the wire is not a level
    book.apply_snapshot(BookEvent("tok", "", 6, "h2", (), ((700_000, 1 * M), (650_000, 2 * M))))
    assert book.best_bid_micro is None and book.best_ask_micro == 650_000
    assert book.depth() == ((), ((650_000, 2 * M), (700_000, 1 * M)))
    assert book.tick_size_micro == 10_000 and book.market == "0xm"  # absent in the second snapshot: kept
    assert (book.hash, book.timestamp_ms, book.snapshots_applied, book.needs_snapshot) == ("h2", 6, 2, False)


def test_snapshot_or_tick_change_for_another_token_is_refused() -> None:
    book = OrderBook("tok")
    with pytest.raises(ValueError, match="other"):
        book.apply_snapshot(BookEvent("other", "", 0, "", (), ()))
    with pytest.raises(ValueError, match="other"):
        book.apply_tick_size_change(TickSizeChangeEvent("other", "", 10_000, 1_000, 0))


def test_tick_size_change_sets_the_tick_and_asks_for_a_snapshot_until_one_arrives() -> None:
    book = OrderBook("tok")
    book.apply_snapshot(BookEvent("tok", "", 1, "h", ((960_000, 5 * M),), ((970_000, 5 * M),), 10_000))
    book.apply_tick_size_change(TickSizeChangeEvent("tok", "", 10_000, 1_000, 2), received_at_s=9.0)
    assert book.tick_size_micro == 1_000 and book.needs_snapshot
    assert book.depth() == (((960_000, 5 * M),), ((970_000, 5 * M),))  # levels kept: those orders still rest
    assert (book.timestamp_ms, book.updated_at_s) == (2, 9.0)
    book.apply_snapshot(BookEvent("tok", "", 3, "h2", ((961_000, 5 * M),), ((970_000, 5 * M),)))
    assert not book.needs_snapshot and book.tick_size_micro == 1_000 and book.best_bid_micro == 961_000


def test_invalidate_keeps_levels_but_needs_a_snapshot() -> None:
    book = OrderBook("tok")
    book.apply_snapshot(BookEvent("tok", "", 1, "h", ((500_000, 1 * M),), ()))
    book.invalidate()
    assert book.needs_snapshot and book.best_bid_micro == 500_000


def test_a_recording_book_logs_every_level_change_a_later_look_at_its_state_would_miss() -> None:
    book = OrderBook("tok")
    book.apply_snapshot(BookEvent("tok", "", 1, "h", ((490_000, 50 * M),), ((510_000, 30 * M),)))
    assert book.level_log is None and book.take_level_log() == []  # off unless a reader asks
    book.record_levels()
    cancel = PriceChangeEvent("0xm", 2, (PriceLevelChange("tok", 490_000, 0, LevelSide.BUY),))
    replace = PriceChangeEvent("0xm", 3, (PriceLevelChange("tok", 490_000, 50 * M, LevelSide.BUY),
                                          PriceLevelChange("other", 490_000, 9 * M, LevelSide.SELL)))
    apply_price_change({"tok": book}, cancel, received_at_s=7.0)
    book.apply_price_change(replace, received_at_s=7.5)
    # The state is back where it was; the log shows the level emptied and refilled (a new order).
    assert book.depth() == (((490_000, 50 * M),), ((510_000, 30 * M),))
    assert book.take_level_log() == [(True, 490_000, 0, 7.0), (True, 490_000, 50 * M, 7.5)]
    assert book.take_level_log() == []
    # A snapshot logs the levels it changed, a removed one as size 0.
    book.apply_snapshot(BookEvent("tok", "", 4, "h2", ((490_000, 50 * M), (480_000, 5 * M)), ()), received_at_s=8.0)
    assert sorted(book.take_level_log()) == [(False, 510_000, 0, 8.0), (True, 480_000, 5 * M, 8.0)]


def test_a_level_log_nobody_reads_is_dropped_at_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.protocol.book as book_module

    monkeypatch.setattr(book_module, "LEVEL_LOG_LIMIT", 3)
    book = OrderBook("tok")
    book.record_levels()
    for i in range(5):
        book.apply_change(PriceLevelChange("tok", 490_000, (i + 1) * M, LevelSide.BUY), received_at_s=float(i))
    assert len(book.level_log or []) <= 3 and book.best_bid_level == (490_000, 5 * M)


def test_levels_stay_current_through_a_tick_change_but_not_after_the_feed_drops() -> None:
    book = OrderBook("tok")
    assert not book.levels_current
    book.apply_snapshot(BookEvent("tok", "", 1, "h", ((960_000, 5 * M),), ()))
    book.apply_tick_size_change(TickSizeChangeEvent("tok", "", 10_000, 1_000, 2))
    assert book.needs_snapshot and book.levels_current
    book.invalidate()
    assert not book.levels_current


def test_depth_is_cut_to_the_requested_levels_best_first() -> None:
    book = OrderBook("tok")
    for i, price in enumerate((100_000, 300_000, 200_000, 400_000)):
        book.set_level(Side.BUY, price, (i + 1) * M)
        book.set_level(Side.SELL, price + 500_000, (i + 1) * M)
    assert book.depth(2) == (((400_000, 4 * M), (300_000, 2 * M)), ((600_000, 1 * M), (700_000, 3 * M)))
    assert book.size_at(Side.BUY, 200_000) == 3 * M and book.size_at(Side.SELL, 200_000) == 0


def test_removing_a_missing_level_changes_nothing() -> None:
    book = OrderBook("tok")
    book.set_level(Side.SELL, 600_000, 1 * M)
    book.set_level(Side.SELL, 550_000, 0)
    book.apply_change(PriceLevelChange("tok", 700_000, 0, LevelSide.SELL, None, None, ""), timestamp_ms=0)
    assert book.depth() == ((), ((600_000, 1 * M),)) and book.hash == ""


@pytest.mark.parametrize(("price", "complement"), [
    ("0.301", "0.699"), ("0.5", "0.5"), ("0.001", "0.999"), ("0.0125", "0.9875"), ("0.000001", "0.999999"),
])
def test_mirror_price_is_the_exact_wire_value(price: str, complement: str) -> None:
    assert mirror_price(parse_micro(price)) == parse_micro(complement)


PRICES = st.integers(min_value=1, max_value=999).map(lambda ticks: ticks * 1_000)
OPS = st.lists(
    st.tuples(st.sampled_from([Side.BUY, Side.SELL]), PRICES, st.sampled_from([0, 0, 1 * M, 2_500_000, 100 * M])),
    max_size=200,
)


@given(OPS)
def test_cached_best_and_depth_agree_with_a_brute_force_book(ops: list[tuple[Side, int, int]]) -> None:
    book = OrderBook("tok")
    model: dict[Side, dict[int, int]] = {Side.BUY: {}, Side.SELL: {}}
    for side, price, size in ops:
        book.set_level(side, price, size)
        if size:
            model[side][price] = size
        else:
            model[side].pop(price, None)
        assert book.best_bid_micro == max(model[Side.BUY], default=None)
        assert book.best_ask_micro == min(model[Side.SELL], default=None)
    bids, asks = book.depth()
    assert bids == tuple(sorted(model[Side.BUY].items(), reverse=True))
    assert asks == tuple(sorted(model[Side.SELL].items()))


def test_rest_snapshot_with_an_empty_side() -> None:
    snapshot = parse_book(orjson.loads((FIXTURES / "rest" / "book_captured_empty_ask.json").read_bytes()))
    book = OrderBook(snapshot.asset_id)
    book.apply_snapshot(snapshot)
    assert book.best_ask_micro is None and book.best_bid_micro == 2_000 and book.spread_micro is None
    assert not book.is_crossed
    assert book.neg_risk is True and book.min_order_size_micro == 5 * M and "bid=2000" in repr(book)
