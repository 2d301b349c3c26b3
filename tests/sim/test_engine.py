"""The simulated exchange's venue rules: validation order and exact texts, order types, GTD expiry,
cancels, market end, heartbeats, engine modes, tick-size changes and the taker delay."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from bot.protocol.constants import (
    ERR_FAK_NO_MATCH,
    ERR_FOK_NOT_FILLED,
    ERR_MARKET_NOT_READY,
    ERR_POST_ONLY_CROSSES,
)
from bot.sim.engine import (
    Exchange,
    HeartbeatMismatch,
    MarketData,
    MarketSpec,
    OrderRejected,
    SimConfig,
    UserData,
)
from tests.sim.orders import limit, market

T0 = 1_700_000_000.0
CID = "0x" + "e1" * 32
YES = "1111"
NO = "2222"


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_exchange(**spec_overrides: Any) -> tuple[Exchange, FakeClock, list[Any]]:
    config = spec_overrides.pop("config", None) or SimConfig()
    clock = FakeClock()
    exchange = Exchange(clock=clock, config=config, seed=5)
    events: list[Any] = []
    exchange.subscribe(events.append)
    fields = {"start_ts": T0, "end_ts": T0 + 900, "fee_rate": 0.0, **spec_overrides}
    exchange.add_market(
        MarketSpec(
            condition_id=CID,
            question="q",
            slug="btc-updown-15m-1700000000",
            yes_token_id=YES,
            no_token_id=NO,
            **fields,
        )
    )
    for name in ("alice", "bob"):
        exchange.register_api_key(name, f"0x{name}")
    return exchange, clock, events


def rejection(exchange: Exchange, order: Any) -> OrderRejected:
    with pytest.raises(OrderRejected) as info:
        exchange.place(order)
    return info.value


def order_events(events: list[Any], owner: str) -> list[dict[str, Any]]:
    return [
        e.payload
        for e in events
        if isinstance(e, UserData) and e.owner == owner and e.payload["event_type"] == "order"
    ]


# --- validation ------------------------------------------------------------------------------------


def test_off_grid_and_out_of_range_prices_break_the_tick_rule():
    exchange, _clock, _events = make_exchange()
    off_grid = limit("alice", YES, "BUY", "0.455", 10)
    assert rejection(exchange, off_grid).message == (
        f"order {off_grid.order_id} is invalid. Price (0.455) breaks minimum tick size rule: 0.01"
    )
    at_one = limit("alice", YES, "BUY", "1", 10)
    assert rejection(exchange, at_one).message == (
        f"order {at_one.order_id} is invalid. Price (1) breaks minimum tick size rule: 0.01"
    )
    exchange.place(limit("alice", YES, "BUY", "0.99", 10))
    exchange.place(limit("alice", YES, "BUY", "0.01", 10))


def test_size_below_the_market_minimum_is_rejected_for_resting_types_only():
    exchange, _clock, _events = make_exchange()
    small = limit("alice", YES, "BUY", "0.50", 4.99)
    assert rejection(exchange, small).message == (
        f"order {small.order_id} is invalid. Size (4.99) lower than the minimum: 5"
    )
    exchange.place(limit("alice", YES, "BUY", "0.50", 5))
    exchange.fund("0xbob", token_id=YES, shares_units=2_000_000)
    result = exchange.place(market("bob", YES, "SELL", 2, "0.50"))  # a 2-share market SELL is fine
    assert result.status == "matched"


def test_marketable_buy_needs_one_pusd():
    exchange, _clock, _events = make_exchange()
    assert rejection(exchange, market("alice", YES, "BUY", 0.7, "0.50")).message == (
        "invalid amount for a marketable BUY order ($0.7), min size: $1"
    )
    exchange.fund("0xbob", token_id=YES, shares_units=100_000_000)
    exchange.place(limit("bob", YES, "SELL", "0.10", 100))
    crossing = limit("alice", YES, "BUY", "0.10", 5)  # 0.50 pUSD that would cross
    assert rejection(exchange, crossing).message == (
        "invalid amount for a marketable BUY order ($0.5), min size: $1"
    )
    exchange.place(limit("alice", YES, "BUY", "0.09", 5))  # the same notional resting is fine


def test_market_orders_amount_precision():
    exchange, _clock, _events = make_exchange()
    buy = dataclasses.replace(
        market("alice", YES, "BUY", 2, "0.50"), maker_amount=2_001_000, taker_amount=4_002_000
    )
    assert rejection(exchange, buy).message == (
        "invalid amounts, the market buy orders maker amount supports a max accuracy of 2 decimals, "
        "taker amount a max of 4 decimals"
    )
    sell = dataclasses.replace(
        market("alice", YES, "SELL", 2, "0.50"), maker_amount=2_001_000, taker_amount=1_000_500
    )
    assert rejection(exchange, sell).message == (
        "invalid amounts, the sell orders maker amount supports a max accuracy of 2 decimals"
    )


def test_limit_orders_amount_precision_as_the_official_client_builds_them():
    """Issue 15 §3: GTC/GTD amounts are checked too (3P live texts quoted in bot/protocol/constants.py)."""
    exchange, _clock, _events = make_exchange()
    # 10.123456 shares: the share leg carries more than 2 decimals.
    over_precise = dataclasses.replace(
        limit("alice", YES, "BUY", "0.50", 10), maker_amount=5_061_728, taker_amount=10_123_456
    )
    assert rejection(exchange, over_precise).message == (
        "invalid amounts, the buy orders maker amount supports a max accuracy of 4 decimals, "
        "taker amount a max of 2 decimals"
    )
    # BUY 19.69 @ 0.22 signed with 4.33 pUSD instead of the exact 4.3318 (implied price within 1 % of a tick).
    inconsistent = dataclasses.replace(
        limit("alice", YES, "BUY", "0.22", 19.69), maker_amount=4_330_000, taker_amount=19_690_000
    )
    assert rejection(exchange, inconsistent).message == (
        "invalid amounts, the maker amount for a $0.22 order of size 19.69 should be '4.3318' but the value "
        "submited is '4.33'. Please check if you are using the latest version of the 'clob-client' library"
    )
    exchange.fund("0xbob", token_id=YES, shares_units=100_000_000)
    sell = dataclasses.replace(
        limit("bob", YES, "SELL", "0.60", 10),
        order_type="GTD",
        expiration=int(T0) + 3600,
        maker_amount=10_001_000,
    )
    assert rejection(exchange, sell).message == (
        "invalid amounts, the sell orders maker amount supports a max accuracy of 2 decimals"
    )
    sell_pusd = dataclasses.replace(limit("bob", YES, "SELL", "0.60", 10), taker_amount=6_000_100)
    assert rejection(exchange, sell_pusd).message.startswith(
        "invalid amounts, the taker amount for a $0.6 order of size 10 should be '6' but the value submited is '6.0001'"
    )
    assert exchange.place(limit("alice", YES, "BUY", "0.22", 19.69)).status == "live"
    lenient, _clock, _events = make_exchange(config=SimConfig(enforce_limit_order_precision=False))
    assert lenient.place(inconsistent).status == "live"


@pytest.mark.parametrize("tick", ["0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001"])
def test_the_bots_limit_amounts_pass_the_strict_precision_rule_on_every_tick(tick):
    """The bot signs what bot/protocol/amounts.py computes; the strict rule must accept all of it."""
    import random

    from bot.protocol.amounts import limit_order_amounts
    from bot.protocol.constants import Side
    from bot.sim.model import NewOrder
    from bot.sim.rules import check_limit_precision

    rng = random.Random(15)
    step = Decimal(tick)
    steps = int(1 / step)
    for _ in range(400):
        price = step * rng.randint(1, steps - 1)
        size = round(rng.uniform(5, 5000), rng.choice([0, 1, 2, 3, 6]))
        side = rng.choice(["BUY", "SELL"])
        maker, taker = limit_order_amounts(Side[side], float(size), float(price), tick)
        order = NewOrder(
            order_id="0x1",
            owner="a",
            maker_address="0xa",
            signer="0xa",
            token_id=YES,
            side=side,
            maker_amount=maker,
            taker_amount=taker,
            order_type="GTC",
            post_only=False,
            expiration=0,
            timestamp_ms=0,
        )
        check_limit_precision(order, tick)


def test_post_only_is_only_for_resting_types():
    exchange, _clock, _events = make_exchange()
    order = dataclasses.replace(market("alice", YES, "BUY", 2, "0.50"), post_only=True)
    assert (
        rejection(exchange, order).message
        == "invalid post-only order: only GTC and GTD order types are allowed"
    )


def test_gtd_expiration_boundary_and_expiry_as_cancellation():
    exchange, clock, events = make_exchange()
    now = int(T0)
    assert (
        rejection(
            exchange, limit("alice", YES, "BUY", "0.40", 10, order_type="GTD", expiration=now + 60)
        ).message
        == "invalid expiration"
    )
    # The switch: now + 60 of the current whole second accepted (spec 5.1, 3P probe; issue 15 §9).
    lenient, lenient_clock, _events = make_exchange(config=SimConfig(gtd_accepts_boundary=True))
    lenient_clock.now = now + 0.7
    at_boundary = limit("alice", YES, "BUY", "0.39", 10, order_type="GTD", expiration=now + 60)
    assert lenient.place(at_boundary).status == "live"
    too_soon = limit("alice", YES, "BUY", "0.39", 10, order_type="GTD", expiration=now + 59)
    assert rejection(lenient, too_soon).message == "invalid expiration"
    accepted = limit("alice", YES, "BUY", "0.40", 10, order_type="GTD", expiration=now + 61)
    assert exchange.place(accepted).status == "live"
    assert exchange.next_deadline() == now + 1  # expiration − 60
    clock.now = now + 0.999
    exchange.advance()
    assert len(exchange.open_orders("alice")) == 1
    clock.now = now + 1
    exchange.advance()
    assert exchange.open_orders("alice") == []
    last = order_events(events, "alice")[-1]
    assert (last["type"], last["status"], last["id"], last["expiration"]) == (
        "CANCELLATION",
        "CANCELED",
        accepted.order_id,
        str(now + 61),
    )
    assert exchange.accounts.reserved_pusd("0xalice") == 0


def test_non_gtd_order_with_an_expiration_is_rejected():
    exchange, _clock, _events = make_exchange()
    order = limit("alice", YES, "BUY", "0.40", 10, expiration=int(T0) + 3600)
    assert rejection(exchange, order).message == "invalid expiration"


def test_validation_runs_in_the_venue_order():
    exchange, _clock, _events = make_exchange()
    # Off-grid AND too small: the tick rule speaks first.
    both = limit("alice", YES, "BUY", "0.455", 1)
    assert "breaks minimum tick size rule" in rejection(exchange, both).message
    # Too small AND bad expiration: the size speaks first.
    assert (
        "lower than the minimum"
        in rejection(exchange, limit("alice", YES, "BUY", "0.40", 1, expiration=5)).message
    )
    # Bad expiration AND no shares to sell: the expiration speaks first.
    assert (
        rejection(exchange, limit("alice", YES, "SELL", "0.40", 10, expiration=5)).message
        == "invalid expiration"
    )
    # A duplicate that could not be paid for: the balance speaks first.
    exchange.fund("0xbob", token_id=YES, shares_units=10_000_000)
    sell = limit("bob", YES, "SELL", "0.60", 10)
    exchange.place(sell)
    assert rejection(exchange, sell).message.startswith("not enough balance / allowance")
    # A duplicate post-only that would also cross: the duplicate speaks first.
    bid = limit("alice", YES, "BUY", "0.50", 10, post_only=True)
    exchange.place(bid)
    exchange.fund("0xbob", token_id=YES, shares_units=10_000_000)
    crossing_dup = dataclasses.replace(
        bid,
        side="SELL",
        owner="bob",
        maker_address="0xbob",
        signer="0xbob",
        maker_amount=10_000_000,
        taker_amount=5_000_000,
    )
    assert rejection(exchange, crossing_dup).message == f"order {bid.order_id} is invalid. Duplicated."
    fresh_crossing = limit("bob", YES, "SELL", "0.50", 10, post_only=True)
    assert rejection(exchange, fresh_crossing).message == ERR_POST_ONLY_CROSSES


def test_post_only_that_does_not_cross_rests_and_one_that_crosses_is_refused():
    exchange, _clock, _events = make_exchange()
    exchange.place(limit("alice", NO, "BUY", "0.45", 10))  # a Yes ask at 0.55
    assert exchange.place(limit("bob", YES, "BUY", "0.54", 10, post_only=True)).status == "live"
    error = rejection(exchange, limit("bob", YES, "BUY", "0.55", 10, post_only=True))
    assert (error.message, error.status) == ("invalid post-only order: order crosses book", 400)


# --- FOK / FAK ---------------------------------------------------------------------------------------


def test_fok_that_cannot_fill_is_killed_with_the_venue_text_and_event():
    exchange, _clock, events = make_exchange()
    exchange.place(limit("alice", NO, "BUY", "0.50", 10))  # 10 Yes at 0.50 available
    order = market("bob", YES, "BUY", 6, "0.50")  # wants 12
    error = rejection(exchange, order)
    assert (error.message, error.status) == (ERR_FOK_NOT_FILLED, 400)
    (killed,) = order_events(events, "bob")
    assert killed["type"] == "CANCELLATION"
    assert (
        killed["status"] == "CANCELED_order couldn't be fully filled. FOK orders are fully filled or killed."
    )
    assert (killed["size_matched"], killed["order_type"], killed["id"]) == ("", "FOK", order.order_id)
    assert exchange.accounts.reserved_pusd("0xbob") == 0
    assert exchange.book(YES)["asks"] == [{"price": "0.5", "size": "10"}]
    assert rejection(exchange, order).message == f"order {order.order_id} is invalid. Duplicated."


def test_fok_that_fills_is_matched_with_order_update():
    exchange, _clock, events = make_exchange()
    exchange.place(limit("alice", NO, "BUY", "0.50", 10))
    order = market("bob", YES, "BUY", 5, "0.50")
    result = exchange.place(order)
    assert (result.status, result.making_amount, result.taking_amount, len(result.trade_ids)) == (
        "matched",
        "5",
        "10",
        1,
    )
    (update,) = order_events(events, "bob")
    assert (update["type"], update["status"], update["size_matched"], update["associate_trades"]) == (
        "UPDATE",
        "MATCHED",
        "10",
        result.trade_ids,
    )


def test_fak_fills_what_is_there_and_cancels_the_rest():
    exchange, _clock, events = make_exchange()
    exchange.place(limit("alice", NO, "BUY", "0.50", 10))
    result = exchange.place(market("bob", YES, "BUY", 8, "0.55", order_type="FAK"))
    assert (result.status, result.making_amount, result.taking_amount) == ("matched", "5", "10")
    update, cancellation = order_events(events, "bob")
    assert (update["type"], update["status"], update["size_matched"]) == ("UPDATE", "LIVE", "10")
    assert (cancellation["type"], cancellation["status"]) == ("CANCELLATION", "CANCELED")
    assert exchange.accounts.reserved_pusd("0xbob") == 0
    assert exchange.open_orders("bob") == []


def test_fak_with_nothing_to_match_is_killed():
    exchange, _clock, events = make_exchange()
    error = rejection(exchange, market("bob", YES, "BUY", 5, "0.50", order_type="FAK"))
    assert error.message == ERR_FAK_NO_MATCH
    assert order_events(events, "bob")[-1]["status"] == f"CANCELED_{ERR_FAK_NO_MATCH}"


# --- cancels -------------------------------------------------------------------------------------------


def test_cancel_reports_done_and_unknown_ids_with_the_configured_reasons():
    exchange, _clock, events = make_exchange()
    live = limit("alice", YES, "BUY", "0.40", 10)
    filled = limit("alice", NO, "BUY", "0.50", 10)
    others = limit("bob", YES, "BUY", "0.30", 10)
    for order in (live, filled, others):
        exchange.place(order)
    exchange.place(market("bob", YES, "BUY", 5, "0.50"))
    canceled, not_canceled = exchange.cancel(
        "alice", [live.order_id, live.order_id, filled.order_id, others.order_id, "0xdead"]
    )
    assert canceled == [live.order_id]
    assert not_canceled == {
        filled.order_id: "already canceled or matched",
        others.order_id: "order not found",
        "0xdead": "order not found",
    }
    assert exchange.cancel("alice", [live.order_id]) == ([], {live.order_id: "already canceled or matched"})
    assert order_events(events, "alice")[-1]["type"] == "CANCELLATION"


def test_cancel_removes_only_the_unfilled_remainder():
    exchange, _clock, events = make_exchange()
    order = limit("alice", YES, "BUY", "0.50", 20)
    exchange.place(order)
    exchange.fund("0xbob", token_id=YES, shares_units=8_000_000)
    exchange.place(market("bob", YES, "SELL", 8, "0.50"))
    assert exchange.cancel("alice", [order.order_id]) == ([order.order_id], {})
    last = order_events(events, "alice")[-1]
    assert (last["type"], last["status"], last["size_matched"]) == ("CANCELLATION", "CANCELED", "8")
    assert int(exchange.balance("0xalice", "CONDITIONAL", YES)["balance"]) == 8_000_000
    assert exchange.accounts.reserved_pusd("0xalice") == 0
    assert exchange.get_order("alice", order.order_id)["status"] == "CANCELED"
    assert exchange.get_order("bob", order.order_id) is None
    # Issue 15 §9: GET /data/order/{id} of a finished order is null by default (NT: "only returns
    # active orders"); the switch restores the docs guide's reading.
    assert exchange.get_order("alice", order.order_id, as_venue=True) is None
    lenient, _clock, _events = make_exchange(config=SimConfig(get_order_returns_finished=True))
    kept = limit("alice", YES, "BUY", "0.50", 20)
    lenient.place(kept)
    lenient.cancel("alice", [kept.order_id])
    assert lenient.get_order("alice", kept.order_id, as_venue=True)["status"] == "CANCELED"


def test_a_gtc_that_partly_fills_on_entry_and_rests_gets_a_placement_then_an_update():
    """Issue 15 §9 (UNCONFIRMED, switch SimConfig.placement_when_partly_filled_on_entry)."""
    exchange, _clock, events = make_exchange()
    exchange.fund("0xbob", token_id=YES, shares_units=5_000_000)
    exchange.place(limit("bob", YES, "SELL", "0.50", 5))
    taker = limit("alice", YES, "BUY", "0.50", 20)
    assert exchange.place(taker).status == "matched"
    mine = [e for e in order_events(events, "alice") if e["id"] == taker.order_id]
    assert [(e["type"], e["status"]) for e in mine] == [("PLACEMENT", "LIVE"), ("UPDATE", "LIVE")]


def test_cancel_batch_limit_and_market_filters():
    exchange, _clock, _events = make_exchange(config=SimConfig(max_cancel_batch=2))
    with pytest.raises(OrderRejected) as info:
        exchange.cancel("alice", ["a", "b", "c"])
    assert info.value.message == "Too many orders in payload, max allowed: 2"
    yes_order = limit("alice", YES, "BUY", "0.40", 10)
    no_order = limit("alice", NO, "BUY", "0.40", 10)
    exchange.place(yes_order)
    exchange.place(no_order)
    assert exchange.cancel_market("alice", asset_id=NO) == ([no_order.order_id], {})
    assert exchange.cancel_market("alice", market="0xother") == ([], {})
    assert exchange.cancel_all("alice") == ([yes_order.order_id], {})


def test_open_orders_are_wire_dicts_in_creation_order():
    exchange, _clock, _events = make_exchange()
    first = limit("alice", NO, "BUY", "0.40", 10)
    second = limit("alice", YES, "BUY", "0.45", 12.5, order_type="GTD", expiration=int(T0) + 3600)
    exchange.place(first)
    exchange.place(second)
    orders = exchange.open_orders("alice")
    assert [o["id"] for o in orders] == [first.order_id, second.order_id]
    assert orders[1] == {
        "id": second.order_id,
        "status": "LIVE",
        "owner": "alice",
        "maker_address": "0xalice",
        "market": CID,
        "asset_id": YES,
        "side": "BUY",
        "original_size": "12.5000",
        "size_matched": "0.0000",
        "price": "0.4500",
        "outcome": "Up",
        "expiration": str(int(T0) + 3600),
        "order_type": "GTD",
        "associate_trades": [],
        "created_at": int(T0),
    }
    assert exchange.open_orders("alice", asset_id=NO) == [orders[0]]
    assert exchange.open_orders("alice", order_id=second.order_id) == [orders[1]]


# --- market window -------------------------------------------------------------------------------------


def test_market_end_cancels_resting_orders_as_market_resolved():
    exchange, clock, events = make_exchange()
    order = limit("alice", YES, "BUY", "0.40", 10)
    exchange.place(order)
    assert exchange.next_deadline() == T0 + 900
    clock.now = T0 + 900
    exchange.advance()
    last = order_events(events, "alice")[-1]
    assert (last["type"], last["status"], last["id"]) == (
        "CANCELLATION",
        "CANCELED_MARKET_RESOLVED",
        order.order_id,
    )
    assert exchange.book(YES)["bids"] == []
    assert rejection(exchange, limit("alice", YES, "BUY", "0.40", 10)).message == ERR_MARKET_NOT_READY
    assert exchange.accepting_orders(CID) is False


def test_orders_before_the_market_accepts_are_not_ready():
    exchange, clock, _events = make_exchange(accepting_orders_ts=T0 + 10)
    assert rejection(exchange, limit("alice", YES, "BUY", "0.40", 10)).message == (
        "the market is not yet ready to process new orders"
    )
    clock.now = T0 + 10
    assert exchange.place(limit("alice", YES, "BUY", "0.40", 10)).status == "live"


# --- heartbeats ----------------------------------------------------------------------------------------


def test_heartbeat_chain_and_mismatch_carries_the_expected_id():
    exchange, _clock, _events = make_exchange()
    first = exchange.heartbeat("alice", "")
    second = exchange.heartbeat("alice", first)
    assert second != first
    with pytest.raises(HeartbeatMismatch) as info:
        exchange.heartbeat("alice", first)
    assert info.value.expected_id == second
    assert exchange.heartbeat("alice", second)


@pytest.mark.parametrize(("last_beat_offset_s", "cancel_offset_s"), [(0.0, 10.0), (1.0, 15.0), (4.9, 15.0)])
def test_heartbeat_lapse_cancels_between_10_and_15_seconds(last_beat_offset_s, cancel_offset_s):
    exchange, clock, events = make_exchange()
    exchange.place(limit("alice", YES, "BUY", "0.40", 10))
    exchange.place(limit("bob", YES, "BUY", "0.30", 10))
    clock.now = T0 + last_beat_offset_s
    exchange.heartbeat("alice", "")
    cancelled_at = None
    while cancelled_at is None:
        clock.now = exchange.next_deadline()
        exchange.advance()
        if not exchange.open_orders("alice"):
            cancelled_at = clock.now
    assert cancelled_at == T0 + cancel_offset_s
    assert order_events(events, "alice")[-1]["status"] == "CANCELED"
    assert len(exchange.open_orders("bob")) == 1  # other keys are untouched
    with pytest.raises(HeartbeatMismatch) as info:
        exchange.heartbeat("alice", "stale-id")
    assert info.value.expected_id == ""


def test_regular_heartbeats_keep_orders_alive():
    exchange, clock, _events = make_exchange()
    exchange.place(limit("alice", YES, "BUY", "0.40", 10))
    beat = exchange.heartbeat("alice", "")
    for step in range(1, 13):
        clock.now = T0 + 5 * step
        exchange.advance()
        beat = exchange.heartbeat("alice", beat)
    assert len(exchange.open_orders("alice")) == 1


# --- engine modes -------------------------------------------------------------------------------------


def test_restart_window_then_two_minutes_of_post_only_mode():
    exchange, clock, _events = make_exchange()
    resting = limit("alice", YES, "BUY", "0.40", 10)
    exchange.place(resting)
    exchange.set_mode("restarting", until_s=T0 + 30)
    error = rejection(exchange, limit("alice", YES, "BUY", "0.41", 10, post_only=True))
    assert (error.message, error.status, error.retry_after_s) == (
        "the matching engine is restarting",
        425,
        30,
    )
    with pytest.raises(OrderRejected) as info:
        exchange.cancel("alice", [resting.order_id])
    assert info.value.status == 425
    clock.now = T0 + 31
    error = rejection(exchange, limit("alice", YES, "BUY", "0.41", 10))
    assert (error.message, error.status, error.code, error.retry_after_s) == (
        "post-only mode: only post-only orders and cancels are allowed",
        503,
        "post_only_mode",
        119,
    )
    assert exchange.place(limit("alice", YES, "BUY", "0.41", 10, post_only=True)).status == "live"
    assert exchange.cancel("alice", [resting.order_id])[0] == [resting.order_id]
    clock.now = T0 + 150
    assert exchange.place(limit("alice", YES, "BUY", "0.42", 10)).status == "live"
    assert exchange.mode == "normal"


def test_cancel_only_and_disabled_modes_refuse_orders_but_not_cancels():
    exchange, _clock, _events = make_exchange()
    order = limit("alice", YES, "BUY", "0.40", 10)
    exchange.place(order)
    exchange.set_mode("cancel_only")
    error = rejection(exchange, limit("alice", YES, "BUY", "0.41", 10, post_only=True))
    assert (error.message, error.status) == (
        "Trading is currently cancel-only. New orders are not accepted, but cancels are allowed.",
        503,
    )
    exchange.set_mode("disabled")
    error = rejection(exchange, limit("alice", YES, "BUY", "0.41", 10))
    assert (error.message, error.status) == (
        "Trading is currently disabled. Check polymarket.com for updates",
        503,
    )
    assert exchange.cancel("alice", [order.order_id])[0] == [order.order_id]


# --- tick size, taker delay -------------------------------------------------------------------------


def test_tick_size_change_is_announced_for_both_tokens_and_applies_to_new_orders():
    exchange, _clock, events = make_exchange()
    exchange.place(limit("alice", YES, "BUY", "0.40", 10))
    events.clear()
    exchange.set_tick_size(CID, "0.001")
    changes = [e.payload for e in events if isinstance(e, MarketData)]
    assert [(c["event_type"], c["asset_id"], c["old_tick_size"], c["new_tick_size"]) for c in changes] == [
        ("tick_size_change", YES, "0.01", "0.001"),
        ("tick_size_change", NO, "0.01", "0.001"),
    ]
    assert exchange.tick_size(NO) == "0.001" and exchange.book(YES)["tick_size"] == "0.001"
    assert exchange.place(limit("alice", YES, "BUY", "0.455", 10)).status == "live"


def test_the_tick_moves_to_0_001_past_0_96_and_back_with_tick_size_change():
    """Issue 15 §4, spec 6.2: the venue's automatic tick change, in the capture's shape
    (ws/tick_size_change.json: asset_id, event_type, market, new_tick_size, old_tick_size, timestamp)."""
    exchange, clock, events = make_exchange()
    exchange.fund("0xbob", token_id=YES, shares_units=100_000_000)
    exchange.place(limit("alice", YES, "BUY", "0.96", 10))
    ask = limit("bob", YES, "SELL", "0.98", 10)
    events.clear()
    exchange.place(ask)  # midpoint 0.97 > 0.96
    changes = [
        e.payload
        for e in events
        if isinstance(e, MarketData) and e.payload["event_type"] == "tick_size_change"
    ]
    assert [(c["asset_id"], c["old_tick_size"], c["new_tick_size"]) for c in changes] == [
        (YES, "0.01", "0.001"),
        (NO, "0.01", "0.001"),
    ]
    assert set(changes[0]) == {
        "asset_id",
        "event_type",
        "market",
        "new_tick_size",
        "old_tick_size",
        "timestamp",
    }
    assert exchange.tick_size(YES) == "0.001"
    assert exchange.place(limit("alice", YES, "BUY", "0.965", 10)).status == "live"  # on the new grid
    events.clear()
    exchange.cancel_all("alice")
    exchange.cancel("bob", [ask.order_id])
    assert exchange.tick_size(YES) == "0.001"  # an empty book without trades keeps its tick
    exchange.place(limit("alice", YES, "BUY", "0.50", 10))
    exchange.place(limit("bob", YES, "SELL", "0.55", 10))  # midpoint 0.525: back to 0.01
    assert exchange.tick_size(YES) == "0.01"
    back = [
        e.payload
        for e in events
        if isinstance(e, MarketData) and e.payload["event_type"] == "tick_size_change"
    ]
    assert [(c["old_tick_size"], c["new_tick_size"]) for c in back] == [("0.001", "0.01")] * 2
    lenient, _clock, _events = make_exchange(config=SimConfig(auto_tick_size=False))
    lenient.fund("0xbob", token_id=YES, shares_units=100_000_000)
    lenient.place(limit("alice", YES, "BUY", "0.97", 10))
    lenient.place(limit("bob", YES, "SELL", "0.98", 10))
    assert lenient.tick_size(YES) == "0.01"


def test_marketable_orders_are_delayed_on_markets_with_a_taker_delay():
    exchange, clock, events = make_exchange(taker_delay_s=0.05)
    exchange.place(limit("alice", NO, "BUY", "0.50", 10))
    assert exchange.place(limit("alice", YES, "BUY", "0.30", 10)).status == "live"  # not marketable
    result = exchange.place(market("bob", YES, "BUY", 5, "0.50"))
    assert (result.status, result.making_amount, result.taking_amount, result.trade_ids) == (
        "delayed",
        "",
        "",
        [],
    )
    assert exchange.next_deadline() == pytest.approx(T0 + 0.05)
    clock.now = T0 + 0.05
    exchange.advance()
    trades = [
        e.payload
        for e in events
        if isinstance(e, UserData) and e.owner == "bob" and e.payload["event_type"] == "trade"
    ]
    assert [(t["status"], t["size"]) for t in trades] == [("MATCHED", "10")]
    assert int(exchange.balance("0xbob", "CONDITIONAL", YES)["balance"]) == 10_000_000


def test_listing_announces_new_market_and_resolution_announces_the_winner():
    exchange, _clock, events = make_exchange()
    new_market = [e for e in events if isinstance(e, MarketData) and e.payload["event_type"] == "new_market"]
    assert [
        (e.token_ids, e.payload["market"], e.payload["assets_ids"], e.payload["outcomes"]) for e in new_market
    ] == [
        ((YES, NO), CID, [YES, NO], ["Up", "Down"]),
    ]
    exchange.resolve_market(CID, NO)
    resolved = events[-1].payload
    assert (resolved["event_type"], resolved["winning_asset_id"], resolved["winning_outcome"]) == (
        "market_resolved",
        NO,
        "Down",
    )
