"""Typed parsing of venue messages: every captured fixture, the three price_change schemas, bad input skipped."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.protocol import market_channel
from bot.protocol.constants import ERR_FOK_NOT_FILLED, ERR_POST_ONLY_CROSSES, Side
from bot.protocol.messages import (
    MALFORMED_INVALID_EVENT,
    MALFORMED_JSON,
    MALFORMED_SHAPE,
    MALFORMED_UNKNOWN_EVENT,
    BestBidAskEvent,
    BookEvent,
    CancelResponse,
    LastTradePriceEvent,
    LevelSide,
    MalformedMessage,
    MarketResolvedEvent,
    NewMarketEvent,
    OrderEvent,
    OrderEventType,
    OrderStatus,
    ParseStats,
    PriceChangeEvent,
    PriceLevelChange,
    TickSizeChangeEvent,
    TradeEvent,
    TraderSide,
    TradeStatus,
    maker_fill_side,
    parse_book,
    parse_cancel_response,
    parse_market,
    parse_market_event,
    parse_market_frame,
    parse_open_order,
    parse_order_event,
    parse_order_status,
    parse_post_response,
    parse_post_responses,
    parse_price_change,
    parse_public_trade,
    parse_trade,
    parse_user_event,
    parse_user_frame,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "polymarket"
FIXTURE_FILES = sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.glob("*/*.json"))

YES = "21742633143463906290569050155826241533067272736897614950488156847949938836455"
NO = "48331043336612883890938759509493159234755048973500640148014422747788308965732"
TRUMP_MARKET = "0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917"


def _raw(rel: str) -> bytes:
    return (FIXTURES / rel).read_bytes()


@contextmanager
def portable_path() -> Iterator[None]:
    """Parse without the optional C fast path (as when msgspec is not installed)."""
    saved = market_channel._FAST_DECODER
    market_channel._FAST_DECODER = None
    try:
        yield
    finally:
        market_channel._FAST_DECODER = saved


def parse_market_both_ways(raw: bytes | str) -> tuple[list[Any], ParseStats]:
    """parse_market_frame with and without the fast path; both must give the same events and counts."""
    fast_stats, portable_stats = ParseStats(), ParseStats()
    fast = parse_market_frame(raw, fast_stats)
    with portable_path():
        portable = parse_market_frame(raw, portable_stats)
    assert fast == portable
    assert (fast_stats.frames, fast_stats.events, fast_stats.control_frames, fast_stats.malformed_by_reason) == (
        portable_stats.frames,
        portable_stats.events,
        portable_stats.control_frames,
        portable_stats.malformed_by_reason,
    )
    return fast, fast_stats


def _market_events(raw: bytes) -> list[Any]:
    events, stats = parse_market_both_ways(raw)
    assert stats.malformed == 0, stats.last_error
    return events


def _user_events(raw: bytes) -> list[Any]:
    stats = ParseStats()
    events = parse_user_frame(raw, stats)
    assert stats.malformed == 0, stats.last_error
    return events


# --- one expectation per fixture file --------------------------------------------------------------------

EXPECTED: dict[str, Callable[[bytes], None]] = {}


def expect(rel: str) -> Callable[[Callable[[bytes], None]], Callable[[bytes], None]]:
    def register(check: Callable[[bytes], None]) -> Callable[[bytes], None]:
        EXPECTED[rel] = check
        return check

    return register


@expect("ws/best_bid_ask.json")
def _best_bid_ask(raw: bytes) -> None:
    assert _market_events(raw) == [
        BestBidAskEvent(
            asset_id="85354956062430465315924116860125388538595433819574542752031640332592237464430",
            market="0x0005c0d312de0be897668695bae9f32b624b4a1ae8b140c49f08447fcc74f442",
            best_bid_micro=730_000,
            best_ask_micro=770_000,
            spread_micro=40_000,
            timestamp_ms=1766789469958,
        )
    ]


@expect("ws/book.json")
def _ws_book(raw: bytes) -> None:
    [book] = _market_events(raw)
    assert isinstance(book, BookEvent)
    assert book.asset_id == NO and book.market == TRUMP_MARKET
    assert book.timestamp_ms == 1728799418260 and book.hash == "655a38d4977427b086c25b985993691b753ed166"
    assert (len(book.bids), len(book.asks)) == (76, 86)
    # Wire order kept: best LAST (bids ascending, asks descending).
    assert book.bids[0] == (1_000, 9_000_023_580_000) and book.bids[-1] == (511_000, 1_304_720_000)
    assert book.asks[0] == (999_000, 10_500_100_000_000) and book.asks[-1] == (514_000, 20_230_870_000)
    assert book.tick_size_micro is None and book.last_trade_price_micro is None and book.neg_risk is None


@expect("ws/book_snapshot_captured.json")
def _ws_book_captured(raw: bytes) -> None:
    [book] = _market_events(raw)
    assert isinstance(book, BookEvent)
    assert book.asset_id == "350977769852917329387037893294763093471844346281449484439085576212613048126"
    assert book.timestamp_ms == 1786604072222 and book.hash == "ed47eb91f3c7985fac1cb18cb7c19535eddd3c0a"
    assert book.tick_size_micro == 10_000 and book.last_trade_price_micro == 920_000
    assert (len(book.bids), len(book.asks)) == (7, 57)
    assert book.bids[-1] == (70_000, 182_528_550_000) and book.asks[-1] == (80_000, 228_198_280_000)


@expect("ws/last_trade_price.json")
def _last_trade(raw: bytes) -> None:
    assert _market_events(raw) == [
        LastTradePriceEvent(
            asset_id=YES,
            market=TRUMP_MARKET,
            price_micro=491_000,
            size_micro=85_360_000,
            side=Side.SELL,
            fee_rate_bps="0",
            timestamp_ms=1724564136087,
        )
    ]


@expect("ws/order_cancel.json")
def _order_cancel(raw: bytes) -> None:
    [event] = _user_events(raw)
    assert event == OrderEvent(
        type=OrderEventType.CANCELLATION,
        id="0xc6e99c14f1c7cae9e0538eb2d45a4d8b93ffd743e850edd1502a8c85700be5d3",
        owner="3e2c94ca-8124-c4c1-c7ea-be1ea21b71fe",
        market=TRUMP_MARKET,
        asset_id=YES,
        side=Side.SELL,
        price_micro=513_000,
        original_size_micro=5_000_000,
        size_matched_micro=5_000_000,
        status=OrderStatus.CANCELED,
        status_reason="",
        order_type="GTC",
        expiration_s=0,
        associate_trades=(),
        outcome="Yes",
        maker_address="0xa3D82Ed56F4c68d2328Fb8c29e568Ba2cAF7d7c8",
        created_at_ms=1725841741000,  # sent in seconds
        timestamp_ms=1725841743272,
    )


@expect("ws/order_cancellation_fok_killed.json")
def _order_fok_killed(raw: bytes) -> None:
    [event] = _user_events(raw)
    assert isinstance(event, OrderEvent)
    assert event.type is OrderEventType.CANCELLATION and event.order_type == "FOK"
    assert (event.status, event.status_reason) == (OrderStatus.CANCELED, ERR_FOK_NOT_FILLED)
    assert event.size_matched_micro == 0 and event.original_size_micro == 12_000_000 and event.price_micro == 600_000
    assert event.created_at_ms == 0 and event.timestamp_ms == 1777824065000 and event.outcome == ""


@expect("ws/order_placement.json")
def _order_placement(raw: bytes) -> None:
    [event] = _user_events(raw)
    assert isinstance(event, OrderEvent)
    assert event.type is OrderEventType.PLACEMENT and event.status is OrderStatus.LIVE
    assert event.id == "0x0f76f4dc6eaf3332f4100f2e8a0b4a927351dd64646b7bb12f37df775c657a78"
    assert event.side is Side.BUY and event.price_micro == 513_000 and event.original_size_micro == 5_000_000
    assert event.size_matched_micro == 0 and event.created_at_ms == 1725842520000 and event.timestamp_ms == 1725842520990


@expect("ws/order_update_matched_synthetic.json")
def _order_update_matched(raw: bytes) -> None:
    [event] = _user_events(raw)  # no event_type on the wire: inferred from `type`
    assert isinstance(event, OrderEvent)
    assert event.type is OrderEventType.UPDATE and event.status is OrderStatus.MATCHED
    assert event.size_matched_micro == event.original_size_micro == 100_000_000
    assert event.associate_trades == ("trade-0xfill1",) and event.expiration_s == 0
    assert event.created_at_ms == 1703875200000  # sent in milliseconds: unchanged


@expect("ws/order_update_partial_synthetic.json")
def _order_update_partial(raw: bytes) -> None:
    [event] = _user_events(raw)
    assert isinstance(event, OrderEvent)
    assert (event.type, event.status) == (OrderEventType.UPDATE, OrderStatus.LIVE)
    assert (event.size_matched_micro, event.original_size_micro) == (25_000_000, 100_000_000)
    assert event.associate_trades == ("trade-0xabcdef1234",) and event.timestamp_ms == 1703875200500


@expect("ws/price_change.json")
def _price_change_flat(raw: bytes) -> None:
    assert _market_events(raw) == [
        PriceChangeEvent(
            market=TRUMP_MARKET,
            timestamp_ms=1723967931411,
            changes=(
                PriceLevelChange(
                    NO, 514_000, 21_574_080_000, LevelSide.SELL, None, None, "bf32b3746fff40c76c98021b7f3f07261169dd26"
                ),
            ),
        )
    ]


@expect("ws/price_change_v2.json")
def _price_change_batched(raw: bytes) -> None:
    [event] = _market_events(raw)
    assert isinstance(event, PriceChangeEvent)
    token = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
    assert event.market == "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1"
    assert event.timestamp_ms == 1729084877448
    assert [(c.asset_id, c.price_micro, c.size_micro, c.side, c.best_bid_micro, c.best_ask_micro)
            for c in event.changes] == [
        (token, 600_000, 3_300_000_000, LevelSide.BUY, 600_000, 700_000),
        (token, 500_000, 3_400_000_000, LevelSide.BUY, 600_000, 700_000),
        (token, 700_000, 3_400_000_000, LevelSide.BUY, 600_000, 700_000),
    ]
    assert event.changes[2].hash == "cf32b3746fff40c76c98021b7f3f07261169dd28"


@expect("ws/price_change_burst_captured.json")
def _burst(raw: bytes) -> None:
    events = _market_events(raw)  # the file is one JSON array: parsed like an array frame
    assert len(events) == 51
    assert isinstance(events[0], BookEvent) and isinstance(events[-1], BookEvent)
    assert all(isinstance(e, PriceChangeEvent) and len(e.changes) == 2 for e in events[1:-1])
    assert events[0].tick_size_micro == 1_000 and events[0].last_trade_price_micro == 255_000
    assert events[-1].hash == "78b396c8a7f4989f638fe6cf9b2e8ced15680ba7"
    first = events[1].changes[0]
    assert (first.price_micro, first.size_micro, first.side, first.best_bid_micro, first.best_ask_micro) == (
        301_000, 1_000_000_000, "BUY", 301_000, 397_000
    )


@expect("ws/tick_size_change.json")
def _tick_size_change(raw: bytes) -> None:
    assert _market_events(raw) == [
        TickSizeChangeEvent(
            asset_id="115474063863764126958837769719736461272619491980773624567012766320777398670353",
            market="0xbacdf04bf7f22a670dc4fb408878ec56b76f9934599829455b9371693ba84b8b",
            old_tick_size_micro=10_000,
            new_tick_size_micro=1_000,
            timestamp_ms=1739068041853,
        )
    ]


@expect("ws/trades.json")
def _trade_record(raw: bytes) -> None:
    [trade] = _user_events(raw)  # no event_type nor type: recognised as a trade by its fields
    assert isinstance(trade, TradeEvent)
    assert trade.id == "0c357886-b9d3-44bb-9aa9-72d8abc90e6e" and trade.status is TradeStatus.CONFIRMED
    assert (trade.side, trade.size_micro, trade.price_micro) == (Side.BUY, 5_000_000, 489_000)
    assert trade.trader_side is TraderSide.TAKER and trade.match_time_ms == 1726043102000
    assert trade.last_update_ms == 1726043282000 and trade.timestamp_ms == 0
    [maker] = trade.maker_orders
    assert maker.order_id == "0x6dd169f87692751b75b4ed673158721cdbf56ec49f29aa94a6aaa05b93b1b0ab"
    assert maker.matched_amount_micro == 5_000_000 and maker.side is None
    assert maker_fill_side(trade, maker) is Side.SELL  # same token as the taker's BUY


@expect("ws/user_trade1.json")
def _user_trade_maker_of_six(raw: bytes) -> None:
    [trade] = _user_events(raw)
    assert isinstance(trade, TradeEvent)
    assert (trade.status, trade.trader_side) == (TradeStatus.MINED, TraderSide.MAKER)
    assert (trade.asset_id, trade.side, trade.size_micro, trade.price_micro) == (YES, Side.BUY, 1_096_870_000, 518_000)
    assert len(trade.maker_orders) == 6
    assert sum(m.matched_amount_micro for m in trade.maker_orders) == 1_096_870_000  # exact decimals
    mint = trade.maker_orders[0]  # a maker BUY of No at 0.482 against a taker BUY of Yes at 0.518
    assert (mint.asset_id, mint.outcome, mint.price_micro, mint.matched_amount_micro) == (NO, "No", 482_000, 10_000_000)
    assert maker_fill_side(trade, mint) is Side.BUY
    ours = [m for m in trade.maker_orders if m.owner == "3e2c94ca-8124-c4c1-c7ea-be1ea21b71fe"]
    assert [(m.order_id[:10], m.matched_amount_micro) for m in ours] == [("0xab679e56", 5_000_000)]


@expect("ws/user_trade2.json")
def _user_trade_taker(raw: bytes) -> None:
    [trade] = _user_events(raw)
    assert isinstance(trade, TradeEvent)
    assert trade.id == "f50e8ab2-652d-4dc8-9c82-8e46197fe98d"
    assert (trade.status, trade.trader_side, trade.bucket_index) == (TradeStatus.MATCHED, TraderSide.TAKER, 0)
    assert trade.taker_order_id == "0x5b605a0e8e40f3402d3cb3bc19edad6733ed23fbc079d2a09ee399c3487ace81"
    assert (trade.match_time_ms, trade.timestamp_ms) == (1725958681000, 1725958682125)
    assert [(m.price_micro, m.matched_amount_micro) for m in trade.maker_orders] == [(520_000, 5_000_000)]


@expect("ws/user_trade3.json")
def _user_trade_maker_side_sent(raw: bytes) -> None:
    [trade] = _user_events(raw)
    assert isinstance(trade, TradeEvent)
    assert (trade.status, trade.trader_side, trade.outcome) == (TradeStatus.CONFIRMED, TraderSide.MAKER, "No")
    assert trade.timestamp_ms == 1762776436000  # this capture sends `timestamp` in seconds
    [maker] = trade.maker_orders
    assert maker.side is Side.BUY and maker_fill_side(trade, maker) is Side.BUY  # sent: no inference
    assert maker.price_micro == 513_000


@expect("ws/user_trade4.json")
def _user_trade_three_makers(raw: bytes) -> None:
    [trade] = _user_events(raw)
    assert isinstance(trade, TradeEvent)
    assert (trade.side, trade.size_micro, trade.price_micro) == (Side.SELL, 15_000_000, 500_000)
    assert [(m.price_micro, m.matched_amount_micro, m.side) for m in trade.maker_orders] == [
        (400_000, 5_000_000, Side.BUY),
        (350_000, 5_000_000, Side.BUY),
        (300_000, 5_000_000, Side.BUY),
    ]


@expect("rest/book.json")
def _rest_book(raw: bytes) -> None:
    book = parse_book(orjson.loads(raw))
    assert book.asset_id == "23360939988679364027624185518382759743328544433592111535569478055890815567848"
    assert book.timestamp_ms == 0  # older body without a timestamp
    assert book.bids == (
        (10_000, 1_000_000_000), (60_000, 200_000_000), (80_000, 120_000_000), (90_000, 294_000_000),
        (100_000, 125_000_000),
    )
    assert book.asks[-1] == (140_000, 705_000_000) and len(book.asks) == 7


@expect("rest/book_captured_empty_ask.json")
def _rest_book_empty_ask(raw: bytes) -> None:
    book = parse_book(orjson.loads(raw))
    assert book.asks == () and book.bids == ((1_000, 667_120_000), (2_000, 6_990_000))
    assert (book.tick_size_micro, book.min_order_size_micro, book.neg_risk) == (1_000, 5_000_000, True)
    assert book.last_trade_price_micro is None  # "" on the wire
    assert book.timestamp_ms == 1785734468581


@expect("rest/cancel_orders_batch_response_synthetic.json")
def _cancel_batch(raw: bytes) -> None:
    assert parse_cancel_response(orjson.loads(raw)) == CancelResponse(
        canceled=("0x" + "1" * 64, "0x" + "2" * 64),
        not_canceled={"0x" + "3" * 64: "already canceled or matched"},
    )


@expect("rest/cancel_response_not_canceled_synthetic.json")
def _cancel_one_failed(raw: bytes) -> None:
    response = parse_cancel_response(orjson.loads(raw))
    assert response.canceled == ()
    assert response.not_canceled == {
        "0xb816482a1234567890abcdef1234567890abcdef1234567890abcdef12345678": "already canceled or matched"
    }


@expect("rest/market.json")
def _market(raw: bytes) -> None:
    market = parse_market(orjson.loads(raw))
    assert market.condition_id == TRUMP_MARKET
    assert [(t.token_id, t.outcome, t.price, t.winner) for t in market.tokens] == [
        (YES, "Yes", 0.4865, False),
        (NO, "No", 0.5135, False),
    ]
    assert market.minimum_tick_size == Decimal("0.001") and market.minimum_order_size == Decimal("5")
    assert market.neg_risk and market.accepting_orders and market.active and not market.closed
    assert market.end_date_iso == "2024-11-05T00:00:00Z" and market.seconds_delay == 0


@expect("rest/post_order_response_delayed_synthetic.json")
def _post_delayed(raw: bytes) -> None:
    response = parse_post_response(orjson.loads(raw))
    assert response.status == "delayed" and response.order_id == "0x" + "1" * 64
    assert response.making_amount_micro == 0 and response.taking_amount_micro == 0  # "" on the wire
    assert response.trade_ids == () and response.error_msg == "" and response.accepted


@expect("rest/post_order_response_trade_ids_synthetic.json")
def _post_trade_ids(raw: bytes) -> None:
    response = parse_post_response(orjson.loads(raw))
    assert response.trade_ids == ("trade-0x001", "trade-0x002")
    assert response.transactions_hashes == ("0xaaaa" + "0" * 60, "0xbbbb" + "0" * 60)
    assert response.error_msg == "" and response.status == "" and response.accepted  # errorMsg null, no status


@expect("rest/post_orders_batch_response_synthetic.json")
def _post_batch(raw: bytes) -> None:
    ok, no_balance, crosses = parse_post_responses(orjson.loads(raw))
    assert ok.accepted and ok.trade_ids == ("trade-0x201",)
    # success: true but no order id and an error: a rejected leg (spec 5.4).
    assert no_balance.success and not no_balance.accepted and no_balance.error_msg.startswith("not enough balance")
    assert not crosses.success and crosses.order_id == "" and crosses.error_msg == ERR_POST_ONLY_CROSSES


@expect("rest/trades.json")
def _public_trades(raw: bytes) -> None:
    trades = [parse_public_trade(item) for item in orjson.loads(raw)]
    assert [(t.side, t.size, t.price, t.timestamp_ms, t.outcome_index) for t in trades] == [
        (Side.SELL, 5.4, 0.998, 1729000180000, 0),
        (Side.BUY, 94.37, 0.52, 1729000120000, 0),
        (Side.BUY, 10.5, 0.51, 1729000060000, 0),
        (Side.SELL, 20.0, 0.49, 1729000090000, 1),
    ]
    assert trades[3].asset_id == NO and trades[0].condition_id == TRUMP_MARKET


def test_fixture_directory_is_present() -> None:
    # Guards the parametrized tests below against silently collecting nothing.
    assert len(FIXTURE_FILES) >= 27, FIXTURES


@pytest.mark.parametrize("rel", FIXTURE_FILES)
def test_fixture_parses_to_its_typed_values(rel: str) -> None:
    assert rel in EXPECTED, f"new fixture {rel}: add an expectation of what it parses to"
    EXPECTED[rel](_raw(rel))


@pytest.mark.parametrize("rel", [rel for rel in FIXTURE_FILES if rel.startswith("ws/")])
def test_ws_fixture_parses_on_exactly_one_channel(rel: str) -> None:
    raw = _raw(rel)
    market_stats, user_stats = ParseStats(), ParseStats()
    market = parse_market_frame(raw, market_stats)
    user = parse_user_frame(raw, user_stats)
    clean_market = bool(market) and market_stats.malformed == 0
    clean_user = bool(user) and user_stats.malformed == 0
    assert clean_market != clean_user, (market_stats, user_stats)
    # The other channel's parser does not accept it, and says so in its counters.
    assert (user_stats if clean_market else market_stats).malformed_by_reason.get(MALFORMED_UNKNOWN_EVENT, 0) >= 1


@pytest.mark.parametrize("rel", [rel for rel in FIXTURE_FILES if rel.startswith("ws/")])
def test_unknown_fields_are_ignored(rel: str) -> None:
    data = orjson.loads(_raw(rel))
    items = data if isinstance(data, list) else [data]
    padded = [{**item, "some_future_field": {"x": [1, 2]}} for item in items]
    frame = orjson.dumps(padded)
    plain = parse_market_frame(orjson.dumps(items), ParseStats()) + parse_user_frame(orjson.dumps(items), ParseStats())
    assert parse_market_frame(frame, ParseStats()) + parse_user_frame(frame, ParseStats()) == plain


# --- schemas and rules not covered by a capture -------------------------------------------------------------


def test_legacy_changes_schema_takes_asset_and_hash_from_the_top_level() -> None:
    # The pre-2025-09-15 schema, as in spec 6.2.
    event = parse_price_change(
        {
            "event_type": "price_change",
            "asset_id": "tok",
            "market": "0xm",
            "timestamp": "1729084877448",
            "hash": "abc",
            "changes": [{"price": "0.4", "side": "SELL", "size": "3300"}, {"price": "0.39", "side": "BUY", "size": "0"}],
        }
    )
    assert event.changes == (
        PriceLevelChange("tok", 400_000, 3_300_000_000, LevelSide.SELL, None, None, "abc"),
        PriceLevelChange("tok", 390_000, 0, LevelSide.BUY, None, None, "abc"),
    )


def test_new_market_and_market_resolved_events() -> None:
    stats = ParseStats()
    frame = orjson.dumps(
        [
            {
                "event_type": "new_market",
                "id": "123",
                "question": "BTC up?",
                "market": "0xc1",
                "slug": "btc-updown-15m-1",
                "assets_ids": ["a", "b"],
                "outcomes": ["Up", "Down"],
                "timestamp": "1766789469958",
            },
            {
                "event_type": "market_resolved",
                "id": "123",
                "market": "0xc1",
                "assets_ids": ["a", "b"],
                "winning_asset_id": "a",
                "winning_outcome": "Up",
                "timestamp": "1766789469959",
            },
        ]
    )
    assert parse_market_frame(frame, stats) == [
        NewMarketEvent("123", "0xc1", "BTC up?", "btc-updown-15m-1", ("a", "b"), ("Up", "Down"), 1766789469958),
        MarketResolvedEvent("123", "0xc1", ("a", "b"), "a", "Up", 1766789469959),
    ]
    assert (stats.frames, stats.events, stats.malformed) == (1, 2, 0)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("LIVE", (OrderStatus.LIVE, "")),
        ("live", (OrderStatus.LIVE, "")),
        ("CANCELED", (OrderStatus.CANCELED, "")),
        ("CANCELED_MARKET_RESOLVED", (OrderStatus.CANCELED_MARKET_RESOLVED, "")),
        ("CANCELED_MARKET_RESOLVED_late", (OrderStatus.CANCELED_MARKET_RESOLVED, "late")),
        (f"CANCELED_{ERR_FOK_NOT_FILLED}", (OrderStatus.CANCELED, ERR_FOK_NOT_FILLED)),
        (f"UNMATCHED_{ERR_POST_ONLY_CROSSES}", (OrderStatus.UNMATCHED, ERR_POST_ONLY_CROSSES)),
        ("ORDER_STATUS_LIVE", (OrderStatus.LIVE, "")),
        ("INVALID", (OrderStatus.INVALID, "")),
        ("DELAYED", (OrderStatus.DELAYED, "")),
        ("MATCHED", (OrderStatus.MATCHED, "")),
    ],
)
def test_order_status_splits_on_the_longest_known_prefix(raw: str, expected: tuple[OrderStatus, str]) -> None:
    assert parse_order_status(raw) == expected


@pytest.mark.parametrize("raw", ["", "CANCELLED", "LIVELY", "MATCH", "_LIVE"])
def test_unknown_order_status_is_malformed(raw: str) -> None:
    with pytest.raises(MalformedMessage):
        parse_order_status(raw)


OPEN_ORDER = {  # spec 1.2 example
    "id": "0x" + "ab" * 32,
    "status": "LIVE",
    "owner": "key-uuid",
    "maker_address": "0xfunder",
    "market": "0xcond",
    "asset_id": "tok",
    "side": "BUY",
    "original_size": "200.0000",
    "size_matched": "0.0000",
    "price": "0.6000",
    "outcome": "Yes",
    "expiration": "0",
    "order_type": "GTC",
    "associate_trades": [],
    "created_at": 1703875200,
}


def test_open_order_from_the_documented_shape() -> None:
    order = parse_open_order(OPEN_ORDER)
    assert (order.status, order.side, order.order_type) == (OrderStatus.LIVE, Side.BUY, "GTC")
    assert (order.original_size_micro, order.size_matched_micro, order.price_micro) == (200_000_000, 0, 600_000)
    assert order.created_at_ms == 1703875200000 and order.expiration_s == 0
    gtd = parse_open_order({**OPEN_ORDER, "expiration": None, "status": "ORDER_STATUS_CANCELED_MARKET_RESOLVED"})
    assert gtd.status is OrderStatus.CANCELED_MARKET_RESOLVED and gtd.expiration_s == 0


def test_trade_accepts_the_old_matchtime_spelling_and_failed_status() -> None:
    data = orjson.loads(_raw("ws/user_trade2.json"))
    del data["match_time"]
    data.update(matchtime="1725958600", status="FAILED", err_msg="tx reverted")
    trade = parse_trade(data)
    assert trade.match_time_ms == 1725958600000 and trade.status is TradeStatus.FAILED
    assert trade.err_msg == "tx reverted"


# --- bad input: the per-message parsers raise, the frame parsers count and skip ----------------------------


def _with(rel: str, **changes: Any) -> dict[str, Any]:
    data = orjson.loads(_raw(rel))
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("parser", "data"),
    [
        (parse_book, _with("rest/book.json", bids=[{"price": "0.5"}])),
        (parse_book, _with("rest/book.json", asks=[{"price": "1.5", "size": "1"}])),
        (parse_book, _with("rest/book.json", bids=[{"price": "0.5", "size": "-1"}])),
        (parse_book, _with("rest/book.json", bids="0.5")),
        (parse_price_change, _with("ws/price_change.json", price="NaN")),
        (parse_price_change, _with("ws/price_change.json", size="inf")),
        (parse_price_change, _with("ws/price_change.json", side="HOLD")),
        (parse_price_change, _with("ws/price_change_v2.json", price_changes={"asset_id": "x"})),
        (parse_order_event, _with("ws/order_placement.json", status="LIVELY")),
        (parse_order_event, _with("ws/order_placement.json", type="REPLACEMENT")),
        (parse_order_event, _with("ws/order_placement.json", price="")),
        (parse_order_event, _with("ws/order_placement.json", size_matched="-1")),
        (parse_order_event, _with("ws/order_placement.json", original_size="NaN")),
        (parse_trade, _with("ws/user_trade2.json", status="SETTLED")),
        (parse_trade, _with("ws/user_trade2.json", maker_orders={"order_id": "x"})),
        (parse_post_response, {"success": "yes", "orderID": "0x1"}),
        (parse_post_response, ["not", "an", "object"]),
        (parse_cancel_response, {"canceled": "0x1", "not_canceled": {}}),
        (parse_cancel_response, {"canceled": [], "not_canceled": ["0x1"]}),
        (parse_open_order, {**OPEN_ORDER, "side": 1}),
        (parse_market, {"condition_id": "0xc", "minimum_tick_size": "0", "tokens": []}),
        (parse_market_event, {"event_type": "unknown"}),
        (parse_user_event, {"event_type": "order_book"}),
    ],
)
def test_per_message_parsers_raise_malformed_message(parser: Callable[[Any], Any], data: Any) -> None:
    with pytest.raises(MalformedMessage):
        parser(data)


def test_malformed_message_is_a_value_error() -> None:
    assert issubclass(MalformedMessage, ValueError)


@pytest.mark.parametrize("raw", ["PONG", b"PONG", "NO NEW ASSETS", b"NO NEW ASSETS\n"])
def test_control_frames_are_counted_not_parsed(raw: str | bytes) -> None:
    for parse in (parse_market_frame, parse_user_frame):
        stats = ParseStats()
        assert parse(raw, stats) == []  # type: ignore[operator]
        assert (stats.frames, stats.control_frames, stats.malformed) == (1, 1, 0)


def test_bad_frames_are_counted_by_reason_and_good_events_beside_them_survive() -> None:
    stats = ParseStats()
    good = orjson.loads(_raw("ws/tick_size_change.json"))
    bad_price = {**orjson.loads(_raw("ws/last_trade_price.json")), "price": "-0.1"}
    frames: list[str | bytes] = [
        "{not json",
        b"\xff\xfe",
        "",
        "42",
        "null",
        orjson.dumps([good, 7, "x", {"event_type": "order"}, {"no": "type"}, bad_price, good]),
    ]
    events = []
    for frame in frames:
        parse_market_both_ways(frame)  # the same with and without the fast path
        events += parse_market_frame(frame, stats)
    assert len(events) == 2 and all(isinstance(e, TickSizeChangeEvent) for e in events)
    assert stats.frames == 6 and stats.events == 2 and stats.malformed == 10
    assert stats.malformed_by_reason == {
        MALFORMED_JSON: 3,
        MALFORMED_SHAPE: 4,
        MALFORMED_UNKNOWN_EVENT: 2,
        MALFORMED_INVALID_EVENT: 1,
    }
    assert "malformed=10" in repr(stats)


def test_user_frame_skips_an_invalid_event_and_keeps_the_next() -> None:
    stats = ParseStats()
    placement = orjson.loads(_raw("ws/order_placement.json"))
    frame = orjson.dumps([{**placement, "side": "HOLD"}, placement, {"event_type": "order", "type": []}])
    [event] = parse_user_frame(frame, stats)
    assert isinstance(event, OrderEvent) and event.side is Side.BUY
    assert stats.malformed_by_reason == {MALFORMED_INVALID_EVENT: 2}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
WS_OBJECTS = [orjson.loads(_raw(rel)) for rel in FIXTURE_FILES if rel.startswith("ws/") and "burst" not in rel]


@given(
    base=st.sampled_from(WS_OBJECTS),
    key_index=st.integers(min_value=0, max_value=40),
    value=JSON_VALUES,
    delete=st.booleans(),
)
def test_mutated_events_never_raise_and_are_parsed_or_counted(
    base: dict[str, Any], key_index: int, value: Any, delete: bool
) -> None:
    data = dict(base)
    target = data
    if "price_changes" in data and key_index % 2:
        target = dict(data["price_changes"][0])
        data["price_changes"] = [target, *data["price_changes"][1:]]
    key = sorted(target)[key_index % len(target)]
    if delete:
        del target[key]
    else:
        target[key] = value
    frame = json.dumps(data)  # stdlib: also writes what orjson refuses (NaN, huge integers)
    parse_market_both_ways(frame)
    for parse in (parse_market_frame, parse_user_frame):
        stats = ParseStats()
        events = parse(frame, stats)  # type: ignore[operator]
        assert stats.events == len(events) and stats.events + stats.malformed == 1


@given(st.binary(max_size=64) | st.text(max_size=64))
def test_arbitrary_bytes_never_raise(raw: bytes | str) -> None:
    parse_market_both_ways(raw)
    for parse in (parse_market_frame, parse_user_frame):
        stats = ParseStats()
        parse(raw, stats)  # type: ignore[operator]
        assert stats.frames == 1


# --- the optional C fast path --------------------------------------------------------------------------


def test_fast_path_takes_current_schema_price_changes_and_hands_back_the_rest() -> None:
    if market_channel._FAST_DECODER is None:
        pytest.skip("msgspec not installed: only the portable path exists")
    fast = market_channel._decode_price_change_fast
    current = _raw("ws/price_change_v2.json")
    assert fast(current) == fast(current.decode()) == parse_price_change(orjson.loads(current))
    assert fast(_raw("ws/price_change.json")) is None  # the flat legacy form
    assert fast(_raw("ws/best_bid_ask.json")) is None
    data = orjson.loads(current)
    data["price_changes"][0]["best_bid"] = ""  # an empty side: both paths read None
    [event], _ = parse_market_both_ways(orjson.dumps(data))
    assert fast(orjson.dumps(data)) == event
    assert isinstance(event, PriceChangeEvent) and event.changes[0].best_bid_micro is None
    data["price_changes"][0]["best_bid"] = None  # null: not for the C decoder; the portable path decides
    assert fast(orjson.dumps(data)) is None
    [event], _ = parse_market_both_ways(orjson.dumps(data))
    assert event.changes[0].best_bid_micro is None
    data["price_changes"][0]["price"] = 0.6  # a JSON number: the portable path reads it exactly
    assert fast(orjson.dumps(data)) is None
    [event], _ = parse_market_both_ways(orjson.dumps(data))
    assert event.changes[0].price_micro == 600_000
    for bad in ("NaN", "1.000001", "0.5e", "-0.1", ""):
        data["price_changes"][0]["price"] = bad
        assert fast(orjson.dumps(data)) is None
        events, stats = parse_market_both_ways(orjson.dumps(data))
        assert events == [] and stats.malformed_by_reason == {MALFORMED_INVALID_EVENT: 1}, bad


@given(
    price=st.decimals(min_value=0, max_value=1, places=6).map(str),
    size=st.decimals(min_value=0, max_value=10**9, places=6).map(str),
)
def test_fast_and_portable_paths_read_the_same_exact_integers(price: str, size: str) -> None:
    data = orjson.loads(_raw("ws/price_change_v2.json"))
    data["price_changes"][0].update(price=price, size=size, best_bid=price)
    [event], _ = parse_market_both_ways(orjson.dumps(data))
    change = event.changes[0]
    assert change.price_micro == change.best_bid_micro == int(Decimal(price) * 10**6)
    assert change.size_micro == int(Decimal(size) * 10**6)
    assert type(change.price_micro) is int and type(change.size_micro) is int
