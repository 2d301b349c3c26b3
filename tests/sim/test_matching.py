"""Matching in the simulated exchange: one mirrored book per market, price-time priority, execution
at the maker's price, BUYs bounded by pUSD, taker-only fees, reservations and trade settlement."""

from __future__ import annotations

from typing import Any

import pytest
from py_clob_client_v2.clob_types import OrderBookSummary, OrderSummary
from py_clob_client_v2.utilities import generate_orderbook_summary_hash

from bot.sim.engine import Exchange, MarketData, MarketSpec, OrderRejected, SimConfig, UserData
from tests.sim.orders import limit, market

T0 = 1_700_000_000.0
CID = "0x" + "c1" * 32
YES = "1111"
NO = "2222"
START_PUSD = 10_000_000_000  # 10,000 pUSD in 1e6 units


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_exchange(
    *, fee_rate: float = 0.0, config: SimConfig | None = None
) -> tuple[Exchange, FakeClock, list[Any]]:
    clock = FakeClock()
    exchange = Exchange(clock=clock, config=config or SimConfig(), seed=3)
    events: list[Any] = []
    exchange.subscribe(events.append)
    exchange.add_market(
        MarketSpec(
            condition_id=CID,
            question="Bitcoin Up or Down",
            slug="btc-updown-15m-1700000000",
            yes_token_id=YES,
            no_token_id=NO,
            start_ts=T0,
            end_ts=T0 + 900,
            fee_rate=fee_rate,
        )
    )
    for name in ("alice", "bob", "carol"):
        exchange.register_api_key(name, f"0x{name}")
    return exchange, clock, events


def pusd(exchange: Exchange, owner: str) -> int:
    return int(exchange.balance(f"0x{owner}", "COLLATERAL", None)["balance"])


def shares(exchange: Exchange, owner: str, token: str) -> int:
    return int(exchange.balance(f"0x{owner}", "CONDITIONAL", token)["balance"])


def levels(side: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(level["price"], level["size"]) for level in side]


def user_events(events: list[Any], owner: str, event_type: str) -> list[dict[str, Any]]:
    return [
        e.payload
        for e in events
        if isinstance(e, UserData) and e.owner == owner and e.payload["event_type"] == event_type
    ]


def test_no_book_is_the_exact_mirror_of_the_yes_book():
    exchange, _clock, _events = make_exchange()
    exchange.place(limit("alice", YES, "BUY", "0.45", 10))
    exchange.place(limit("alice", YES, "BUY", "0.44", 20))
    exchange.place(limit("bob", NO, "BUY", "0.50", 7))  # an ask on Yes at 0.50
    exchange.fund("0xcarol", token_id=YES, shares_units=30_000_000)
    exchange.place(limit("carol", YES, "SELL", "0.53", 30))
    yes, no = exchange.book(YES), exchange.book(NO)
    assert levels(yes["bids"]) == [("0.44", "20"), ("0.45", "10")]  # best last
    assert levels(yes["asks"]) == [("0.53", "30"), ("0.5", "7")]
    assert levels(no["bids"]) == [("0.47", "30"), ("0.5", "7")]
    assert levels(no["asks"]) == [("0.56", "20"), ("0.55", "10")]
    assert yes["market"] == no["market"] == CID
    assert yes["tick_size"] == "0.01" and yes["min_order_size"] == "5" and yes["neg_risk"] is False
    assert yes["last_trade_price"] == ""


def test_book_hash_matches_the_official_client_recipe():
    exchange, _clock, _events = make_exchange()
    exchange.place(limit("alice", YES, "BUY", "0.45", 10))
    book = exchange.book(YES)
    summary = OrderBookSummary(
        market=book["market"],
        asset_id=book["asset_id"],
        timestamp=book["timestamp"],
        bids=[OrderSummary(price=b["price"], size=b["size"]) for b in book["bids"]],
        asks=[OrderSummary(price=a["price"], size=a["size"]) for a in book["asks"]],
        min_order_size=book["min_order_size"],
        neg_risk=book["neg_risk"],
        tick_size=book["tick_size"],
        last_trade_price=book["last_trade_price"],
        hash="",
    )
    assert generate_orderbook_summary_hash(summary) == book["hash"]
    assert list(book) == [
        "market",
        "asset_id",
        "timestamp",
        "hash",
        "bids",
        "asks",
        "min_order_size",
        "tick_size",
        "neg_risk",
        "last_trade_price",
    ]


def test_price_time_priority_and_execution_at_the_makers_price():
    exchange, _clock, events = make_exchange()
    first = limit("alice", YES, "BUY", "0.45", 10)
    second = limit("bob", YES, "BUY", "0.45", 10)
    better = limit("carol", YES, "BUY", "0.46", 5)
    for order in (first, second, better):
        exchange.place(order)
    exchange.fund("0xcarol", token_id=YES, shares_units=100_000_000)
    sell = market("carol", YES, "SELL", 12, "0.40", "FAK")
    result = exchange.place(sell)
    # 5 at 0.46 (best price), then 7 at 0.45 from alice (first in time); bob untouched.
    assert result.status == "matched"
    assert (result.making_amount, result.taking_amount) == ("12", "5.45")
    taker_trade = user_events(events, "carol", "trade")[-1]
    assert [(m["order_id"], m["matched_amount"], m["price"]) for m in taker_trade["maker_orders"]] == [
        (better.order_id, "5", "0.46"),
        (first.order_id, "7", "0.45"),
    ]
    assert levels(exchange.book(YES)["bids"]) == [("0.45", "13")]
    assert exchange.open_orders("alice")[0]["size_matched"] == "7.0000"
    assert exchange.open_orders("bob")[0]["size_matched"] == "0.0000"


def test_buy_yes_against_buy_no_mints_a_pair_at_complementary_prices():
    exchange, _clock, events = make_exchange()
    maker = limit("alice", NO, "BUY", "0.48", 10)  # Yes ask at 0.52
    exchange.place(maker)
    result = exchange.place(market("bob", YES, "BUY", 5.2, "0.52"))
    assert (result.making_amount, result.taking_amount) == ("5.2", "10")
    assert shares(exchange, "bob", YES) == 10_000_000 and pusd(exchange, "bob") == START_PUSD - 5_200_000
    assert shares(exchange, "alice", NO) == 10_000_000 and pusd(exchange, "alice") == START_PUSD - 4_800_000
    maker_view = user_events(events, "alice", "trade")[-1]
    assert (
        maker_view["trader_side"] == "MAKER"
        and maker_view["asset_id"] == YES
        and maker_view["price"] == "0.52"
    )
    assert maker_view["maker_orders"] == [
        {
            "order_id": maker.order_id,
            "owner": "alice",
            "maker_address": "0xalice",
            "matched_amount": "10",
            "price": "0.48",
            "fee_rate_bps": "0",
            "asset_id": NO,
            "outcome": "Down",
            "side": "BUY",
        }
    ]
    update = user_events(events, "alice", "order")[-1]
    assert (update["type"], update["status"], update["size_matched"]) == ("UPDATE", "MATCHED", "10")
    last_trades = [
        e.payload
        for e in events
        if isinstance(e, MarketData) and e.payload["event_type"] == "last_trade_price"
    ]
    assert [(p["asset_id"], p["price"], p["side"]) for p in last_trades] == [
        (YES, "0.52", "BUY"),
        (NO, "0.48", "SELL"),
    ]


def test_sell_yes_against_sell_no_merges_a_pair():
    exchange, _clock, _events = make_exchange()
    exchange.fund("0xalice", token_id=NO, shares_units=10_000_000)
    exchange.fund("0xbob", token_id=YES, shares_units=10_000_000)
    exchange.place(limit("alice", NO, "SELL", "0.45", 10))  # a Yes bid at 0.55
    exchange.place(market("bob", YES, "SELL", 10, "0.55"))
    assert pusd(exchange, "bob") == START_PUSD + 5_500_000
    assert pusd(exchange, "alice") == START_PUSD + 4_500_000
    assert shares(exchange, "alice", NO) == 0 and shares(exchange, "bob", YES) == 0


def test_crossing_buy_spends_its_pusd_and_gets_more_shares_than_asked():
    exchange, _clock, events = make_exchange()
    exchange.fund("0xalice", token_id=YES, shares_units=100_000_000)
    exchange.place(limit("alice", YES, "SELL", "0.40", 100))
    order = limit("bob", YES, "BUY", "0.50", 10)  # 5 pUSD at a 0.50 limit
    result = exchange.place(order)
    assert (result.status, result.making_amount, result.taking_amount) == ("matched", "5", "12.5")
    assert shares(exchange, "bob", YES) == 12_500_000
    assert exchange.open_orders("bob") == []
    update = user_events(events, "bob", "order")[-1]
    assert (update["type"], update["status"], update["original_size"], update["size_matched"]) == (
        "UPDATE",
        "MATCHED",
        "10",
        "12.5",
    )


def test_partly_crossing_buy_rests_its_remaining_pusd_at_the_limit():
    exchange, _clock, _events = make_exchange()
    exchange.fund("0xalice", token_id=YES, shares_units=5_000_000)
    exchange.place(limit("alice", YES, "SELL", "0.40", 5))
    exchange.place(limit("bob", YES, "BUY", "0.50", 20))  # 10 pUSD: 2 pUSD buys 5 at 0.40, 8 pUSD rest
    assert levels(exchange.book(YES)["bids"]) == [("0.5", "16")]
    (open_order,) = exchange.open_orders("bob")
    assert (open_order["original_size"], open_order["size_matched"]) == ("20.0000", "5.0000")
    assert exchange.accounts.reserved_pusd("0xbob") == 8_000_000


def test_sell_is_bounded_by_shares_and_never_overfills():
    exchange, _clock, _events = make_exchange()
    exchange.place(limit("alice", YES, "BUY", "0.60", 50))
    exchange.fund("0xbob", token_id=YES, shares_units=10_000_000)
    result = exchange.place(limit("bob", YES, "SELL", "0.50", 10))
    assert (result.making_amount, result.taking_amount) == ("10", "6")
    assert exchange.open_orders("bob") == []


def test_taker_pays_the_v2_fee_and_makers_pay_nothing():
    exchange, _clock, _events = make_exchange(fee_rate=0.07)
    exchange.fund("0xalice", token_id=YES, shares_units=100_000_000)
    exchange.place(limit("alice", YES, "SELL", "0.50", 100))
    exchange.place(market("bob", YES, "BUY", 50, "0.50"))
    # 100 shares at 0.50 in crypto: 100 × 0.07 × 0.25 = 1.75 pUSD on top of the 50 spent.
    assert pusd(exchange, "bob") == START_PUSD - 50_000_000 - 1_750_000
    assert pusd(exchange, "alice") == START_PUSD + 50_000_000
    assert exchange.statistics()["fees_collected_units"] == 1_750_000


def test_sell_fee_is_deducted_from_proceeds():
    exchange, _clock, _events = make_exchange(fee_rate=0.07)
    exchange.place(limit("alice", YES, "BUY", "0.50", 100))
    exchange.fund("0xbob", token_id=YES, shares_units=100_000_000)
    exchange.place(market("bob", YES, "SELL", 100, "0.50"))
    assert pusd(exchange, "bob") == START_PUSD + 50_000_000 - 1_750_000
    assert shares(exchange, "alice", YES) == 100_000_000


def test_balance_check_includes_the_taker_fee_and_open_reservations():
    exchange, _clock, _events = make_exchange(fee_rate=0.07)
    exchange.fund("0xalice", token_id=YES, shares_units=100_000_000)
    exchange.place(limit("alice", YES, "SELL", "0.50", 100))
    exchange.place(limit("bob", YES, "BUY", "0.40", 24_950))  # reserves 9,980 pUSD
    with pytest.raises(OrderRejected) as info:
        exchange.place(market("bob", YES, "BUY", 20, "0.50"))
    assert info.value.status == 400
    assert info.value.message == (
        "not enough balance / allowance: the balance is not enough -> balance: 10000000000, "
        "sum of active orders: 9980000000, order amount (inc. fees): 20700000"
    )


def test_sell_without_shares_is_rejected_with_balance_zero():
    exchange, _clock, _events = make_exchange()
    with pytest.raises(OrderRejected) as info:
        exchange.place(limit("bob", YES, "SELL", "0.50", 10))
    assert info.value.message == (
        "not enough balance / allowance: the balance is not enough -> balance: 0, order amount: 10000000"
    )


def test_open_orders_reserve_shares_so_a_second_sell_is_refused():
    exchange, _clock, _events = make_exchange()
    exchange.fund("0xbob", token_id=YES, shares_units=10_000_000)
    exchange.place(limit("bob", YES, "SELL", "0.60", 10))
    with pytest.raises(OrderRejected) as info:
        exchange.place(limit("bob", YES, "SELL", "0.70", 5))
    assert "sum of active orders: 10000000" in info.value.message


def test_trade_lifecycle_matched_mined_confirmed_for_taker_and_maker():
    exchange, clock, events = make_exchange()
    exchange.place(limit("alice", NO, "BUY", "0.50", 10))
    exchange.place(market("bob", YES, "BUY", 5, "0.50"))
    assert exchange.next_deadline() == T0 + 1.0
    clock.now = T0 + 1.0
    exchange.advance()
    clock.now = T0 + 3.0
    exchange.advance()
    for owner, side in (("bob", "TAKER"), ("alice", "MAKER")):
        trades = user_events(events, owner, "trade")
        assert [(t["status"], t["trader_side"], t["last_update"]) for t in trades] == [
            ("MATCHED", side, str(int(T0))),
            ("MINED", side, str(int(T0 + 1))),
            ("CONFIRMED", side, str(int(T0 + 3))),
        ]
        assert trades[0]["transaction_hash"] == "" and trades[2]["transaction_hash"].startswith("0x")
    (rest,) = exchange.trades("alice")
    assert rest["status"] == "CONFIRMED" and rest["trader_side"] == "MAKER"
    assert exchange.next_deadline() is not None  # the market end is still ahead


def test_failed_trade_reverses_both_sides_balances():
    exchange, clock, events = make_exchange(fee_rate=0.07)
    exchange.place(limit("alice", NO, "BUY", "0.50", 10))
    exchange.fail_next_trades(1)
    exchange.place(market("bob", YES, "BUY", 5, "0.50"))
    assert shares(exchange, "bob", YES) == 10_000_000
    clock.now = T0 + 3.0
    exchange.advance()
    assert [t["status"] for t in user_events(events, "bob", "trade")] == ["MATCHED", "MINED", "FAILED"]
    assert pusd(exchange, "bob") == START_PUSD and pusd(exchange, "alice") == START_PUSD
    assert shares(exchange, "bob", YES) == 0 and shares(exchange, "alice", NO) == 0
    assert exchange.statistics()["fees_collected_units"] == 0


def test_price_change_carries_entries_for_both_tokens():
    exchange, _clock, events = make_exchange()
    events.clear()
    exchange.place(limit("alice", YES, "BUY", "0.45", 10))
    (change,) = [e for e in events if isinstance(e, MarketData) and e.payload["event_type"] == "price_change"]
    assert change.token_ids == (YES, NO)
    assert list(change.payload) == ["event_type", "market", "timestamp", "price_changes"]
    yes_entry, no_entry = change.payload["price_changes"]
    assert {k: yes_entry[k] for k in ("asset_id", "price", "size", "side", "best_bid", "best_ask")} == {
        "asset_id": YES,
        "price": "0.45",
        "size": "10",
        "side": "BUY",
        "best_bid": "0.45",
        "best_ask": "1",
    }
    assert {k: no_entry[k] for k in ("asset_id", "price", "size", "side", "best_bid", "best_ask")} == {
        "asset_id": NO,
        "price": "0.55",
        "size": "10",
        "side": "SELL",
        "best_bid": "0",
        "best_ask": "0.55",
    }
    assert yes_entry["hash"] == exchange.book(YES)["hash"]
    bbo = [
        e.payload for e in events if isinstance(e, MarketData) and e.payload["event_type"] == "best_bid_ask"
    ]
    assert [(p["asset_id"], p["best_bid"], p["best_ask"], p["spread"]) for p in bbo] == [
        (YES, "0.45", "1", "0.55"),
        (NO, "0", "0.55", "0.55"),
    ]


def test_a_trade_publishes_price_changes_per_level_then_fresh_books_for_both_tokens():
    """Issue 15 §7/§8: the captured post-trade sequence (ws/price_change_burst_captured.json): one
    price_change per changed level, then a book of each token without tick_size, last_trade_price,
    min_order_size or neg_risk."""
    exchange, _clock, events = make_exchange()
    exchange.place(limit("alice", NO, "BUY", "0.48", 5))
    exchange.place(limit("carol", NO, "BUY", "0.47", 5))
    events.clear()
    exchange.place(market("bob", YES, "BUY", 5.25, "0.53"))  # consumes both levels exactly
    market_data = [e.payload for e in events if isinstance(e, MarketData)]
    kinds = [p["event_type"] for p in market_data if p["event_type"] != "best_bid_ask"]
    assert kinds == ["last_trade_price", "last_trade_price", "price_change", "price_change", "book", "book"]
    changes = [p for p in market_data if p["event_type"] == "price_change"]
    assert [
        [(e["asset_id"], e["price"], e["size"], e["side"]) for e in c["price_changes"]] for c in changes
    ] == [
        [(YES, "0.52", "0", "SELL"), (NO, "0.48", "0", "BUY")],
        [(YES, "0.53", "0", "SELL"), (NO, "0.47", "0", "BUY")],
    ]
    books = [p for p in market_data if p["event_type"] == "book"]
    assert [(b["asset_id"], b["bids"], b["asks"]) for b in books] == [(YES, [], []), (NO, [], [])]
    assert all(
        set(b) == {"event_type", "market", "asset_id", "timestamp", "hash", "bids", "asks"} for b in books
    )


def test_the_maker_s_trade_event_carries_the_taker_s_owner_at_the_top_level():
    """Issue 15 §6, real capture ws/user_trade1.json: in the MAKER view, top-level owner, trade_owner and
    maker_address are the taker's; the maker finds itself only in maker_orders."""
    exchange, _clock, events = make_exchange()
    exchange.place(limit("alice", NO, "BUY", "0.48", 10))
    exchange.place(market("bob", YES, "BUY", 5.2, "0.52"))
    maker_view = user_events(events, "alice", "trade")[0]
    taker_view = user_events(events, "bob", "trade")[0]
    assert maker_view["trader_side"] == "MAKER" and taker_view["trader_side"] == "TAKER"
    for view in (maker_view, taker_view):
        assert (view["owner"], view["trade_owner"], view["maker_address"]) == ("bob", "bob", "0xbob")
    assert [(m["owner"], m["maker_address"]) for m in maker_view["maker_orders"]] == [("alice", "0xalice")]
