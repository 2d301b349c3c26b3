"""Our fills inside a venue trade: as taker (our order is the taker order) or as maker (in `maker_orders`).

Spec 6.3: the top-level asset/side/price/size of a trade describe the taker even when we were a maker; a
maker entry may sit on the complementary token at the complementary price (a mint or a merge).

Attribution is by order id only: an order counts when this run placed it or seeded it from the venue's
open orders. The API key (`owner`) is no test: it also names orders from before a restart, whose late
MINED/CONFIRMED sightings would be counted again although the balances seeded at start already hold them.
The one exception is the seed itself (`key_fills_in_trade`): the trades the venue lists for our key before
the seed are all ours, whichever order they filled, and are recorded there as seen (counted by the
seeded balance, once), so that their later sightings are repeats.

Money is integers: shares and pUSD in micro-units, prices in micro-pUSD per share (`bot.protocol.money`).
"""

from __future__ import annotations

from collections.abc import Callable, Container

from bot.engine.completion import taker_fee_micro
from bot.engine.inventory import Fill, FillStatus
from bot.protocol.messages import MakerOrderFill, TradeEvent, maker_fill_side
from bot.protocol.money import MICRO

__all__ = ["fills_in_trade", "key_fills_in_trade"]


def fills_in_trade(
    trade: TradeEvent,
    *,
    our_order_ids: Container[str],
    tokens: Container[str],
    fee_rate: float,
    fee_exponent: float,
) -> list[Fill]:
    """Every execution in `trade` of an order in `our_order_ids`, on this market's tokens."""
    return _fills(trade, trade.taker_order_id in our_order_ids, lambda m: m.order_id in our_order_ids,
                  tokens=tokens, fee_rate=fee_rate, fee_exponent=fee_exponent)


def key_fills_in_trade(
    trade: TradeEvent,
    *,
    our_owner: str,
    tokens: Container[str],
    fee_rate: float,
    fee_exponent: float,
) -> list[Fill]:
    """Every execution in `trade` of an order of our API key, on this market's tokens: for the seed only,
    which reads the key's trades from before the restart (orders since cancelled or filled included)."""
    taker = trade.trader_side is not None and trade.trader_side.value == "TAKER" and trade.owner == our_owner
    return _fills(trade, taker, lambda m: bool(m.owner) and m.owner == our_owner,
                  tokens=tokens, fee_rate=fee_rate, fee_exponent=fee_exponent)


def _fills(
    trade: TradeEvent,
    taker_ours: bool,
    maker_ours: Callable[[MakerOrderFill], bool],
    *,
    tokens: Container[str],
    fee_rate: float,
    fee_exponent: float,
) -> list[Fill]:
    status = FillStatus(trade.status.value)
    fills: list[Fill] = []
    if taker_ours and trade.asset_id in tokens:
        shares = 0
        notional_micro2 = 0  # Σ shares × price, in micro × micro: exact
        for m in trade.maker_orders:
            price = m.price_micro if m.asset_id == trade.asset_id else MICRO - m.price_micro
            shares += m.matched_amount_micro
            notional_micro2 += m.matched_amount_micro * price
        if shares <= 0:  # a trade without maker legs: trust its own size and price
            shares, notional_micro2 = trade.size_micro, trade.size_micro * trade.price_micro
        if shares > 0:
            cost = -(-notional_micro2 // MICRO)  # pUSD paid, rounded up to the unit
            price = notional_micro2 // shares  # the average price, for the record
            fee = -(-shares * taker_fee_micro(price, fee_rate, fee_exponent) // MICRO)
            fills.append(Fill(trade.id, trade.taker_order_id, trade.asset_id, trade.side.name, shares, price, fee,
                              status, True, cost))
    for m in trade.maker_orders:
        if m.asset_id not in tokens or not maker_ours(m):
            continue
        side = maker_fill_side(trade, m)
        fills.append(Fill(trade.id, m.order_id, m.asset_id, side.name, m.matched_amount_micro, m.price_micro, 0,
                          status, False, -(-m.matched_amount_micro * m.price_micro // MICRO)))
    return fills
