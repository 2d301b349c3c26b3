"""Maker fills are found by `maker_orders[]`, never by the trade's top-level owner (issue 15 §6).

In the venue's maker view (real capture ws/user_trade1.json, `trader_side: "MAKER"`) the top-level
`owner`, `trade_owner` and `maker_address` are the taker's: code that filtered on them would drop every
maker fill live while passing against a simulator that put the receiver's own there.
"""

from __future__ import annotations

from pathlib import Path

from bot.engine.fills import fills_in_trade, key_fills_in_trade
from bot.protocol.messages import ParseStats, TradeEvent, parse_user_frame

CAPTURE = Path(__file__).resolve().parents[1] / "fixtures" / "polymarket" / "ws" / "user_trade1.json"
OUR_KEY = "3e2c94ca-8124-c4c1-c7ea-be1ea21b71fe"  # the owner of one maker_orders entry in the capture


def _our_order_id(trade: TradeEvent) -> str:
    """The id of the capture's maker order owned by OUR_KEY: what this run placed."""
    [order_id] = [m.order_id for m in trade.maker_orders if m.owner == OUR_KEY]
    return order_id


def _trade() -> TradeEvent:
    stats = ParseStats()
    [trade] = parse_user_frame(CAPTURE.read_bytes(), stats)
    assert stats.malformed == 0 and isinstance(trade, TradeEvent)
    return trade


def test_a_maker_fill_is_found_although_the_top_level_owner_is_the_taker_s() -> None:
    trade = _trade()
    assert trade.owner != OUR_KEY  # the capture's point: the top level is the taker's
    tokens = {m.asset_id for m in trade.maker_orders} | {trade.asset_id}
    fills = fills_in_trade(
        trade, our_order_ids={_our_order_id(trade)}, tokens=tokens, fee_rate=0.0, fee_exponent=1.0
    )
    assert [(f.order_id[:10], f.shares_micro, f.taker) for f in fills] == [("0xab679e56", 5_000_000, False)]


def test_the_taker_s_key_in_a_maker_view_is_not_a_taker_fill_of_ours() -> None:
    trade = _trade()
    tokens = {m.asset_id for m in trade.maker_orders} | {trade.asset_id}
    # Receiving a MAKER view must not make us the taker: only the taker order's id could.
    fills = fills_in_trade(
        trade, our_order_ids={_our_order_id(trade)}, tokens=tokens, fee_rate=0.0, fee_exponent=1.0
    )
    assert fills and all(not f.taker for f in fills)


def test_an_order_of_our_key_that_this_run_did_not_place_or_seed_is_not_our_fill() -> None:
    # Finding 6: the key also names orders from before a restart. Their late MINED/CONFIRMED sightings
    # must not be counted by owner: the balances seeded at start hold those shares already.
    trade = _trade()
    tokens = {m.asset_id for m in trade.maker_orders} | {trade.asset_id}
    assert any(m.owner == OUR_KEY for m in trade.maker_orders)
    assert fills_in_trade(trade, our_order_ids=set(), tokens=tokens, fee_rate=0.0, fee_exponent=1.0) == []


def test_the_seed_finds_our_key_s_maker_fill_of_an_order_it_never_knew_and_not_the_taker_s() -> None:
    # The seed reads the key's trades from before the restart, orders since filled or cancelled included:
    # our leg by its owner, and the MAKER view's top-level key (the taker's) is no taker fill of ours.
    trade = _trade()
    tokens = {m.asset_id for m in trade.maker_orders} | {trade.asset_id}
    fills = key_fills_in_trade(trade, our_owner=OUR_KEY, tokens=tokens, fee_rate=0.0, fee_exponent=1.0)
    assert [(f.order_id, f.shares_micro, f.taker) for f in fills] == [(_our_order_id(trade), 5_000_000, False)]
    assert key_fills_in_trade(trade, our_owner=trade.owner, tokens=tokens, fee_rate=0.0, fee_exponent=1.0) == []
