"""Our fills inside a venue trade: as taker (our order is the taker order) or as maker (in `maker_orders`).

Spec 6.3: the top-level asset/side/price/size of a trade describe the taker even when we were a maker; a
maker entry may sit on the complementary token at the complementary price (a mint or a merge).
"""

from __future__ import annotations

from collections.abc import Container

from bot.engine.completion import taker_fee_per_share
from bot.engine.inventory import Fill, FillStatus
from bot.protocol.messages import TradeEvent, maker_fill_side

__all__ = ["fills_in_trade"]


def fills_in_trade(
    trade: TradeEvent,
    *,
    our_order_ids: Container[str],
    our_owner: str,
    tokens: Container[str],
    fee_rate: float,
    fee_exponent: float,
) -> list[Fill]:
    """Every execution of ours in `trade`, on this market's tokens."""
    status = FillStatus(trade.status.value)
    fills: list[Fill] = []
    taker_ours = trade.taker_order_id in our_order_ids or (
        trade.trader_side is not None and trade.trader_side.value == "TAKER" and trade.owner == our_owner
    )
    if taker_ours and trade.asset_id in tokens:
        shares = 0.0
        notional = 0.0
        for m in trade.maker_orders:
            amount = float(m.matched_amount)
            price = float(m.price) if m.asset_id == trade.asset_id else 1.0 - float(m.price)
            shares += amount
            notional += amount * price
        if shares <= 0.0:  # a trade without maker legs: trust its own size and price
            shares, notional = float(trade.size), float(trade.size) * float(trade.price)
        if shares > 0.0:
            price = notional / shares
            fee = shares * taker_fee_per_share(price, fee_rate, fee_exponent)
            fills.append(Fill(trade.id, trade.taker_order_id, trade.asset_id, trade.side.name, shares, price, fee,
                              status, True))
    for m in trade.maker_orders:
        if m.asset_id not in tokens:
            continue
        if m.order_id in our_order_ids or (m.owner and m.owner == our_owner):
            side = maker_fill_side(trade, m)
            fills.append(Fill(trade.id, m.order_id, m.asset_id, side.name, float(m.matched_amount), float(m.price),
                              0.0, status, False))
    return fills
