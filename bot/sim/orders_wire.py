"""Wire shapes of simulator orders and books: REST `OpenOrder`, user `order` events, `OrderBookSummary`.

Spec 1.2 (OpenOrder: sizes and price with four decimals, `created_at` a number), 6.3 (order events:
trimmed decimals, `created_at` string seconds, `timestamp` string ms) and 1.3 (book: bids ascending,
asks descending, best LAST, hashed per the official client's recipe).
"""

from __future__ import annotations

from typing import Any

from bot.sim.book import ASK, BID, MirroredBook, SimOrder
from bot.sim.wire import UNIT, book_hash_of, fmt_fixed, fmt_units, ms_string

__all__ = [
    "EMPTY_BEST_ASK",
    "EMPTY_BEST_BID",
    "ORDER_CANCELLATION",
    "ORDER_PLACEMENT",
    "ORDER_UPDATE",
    "book_levels",
    "book_summary",
    "mirror_levels",
    "order_event",
    "order_rest",
    "top_of_book",
]

ORDER_PLACEMENT = "PLACEMENT"
ORDER_UPDATE = "UPDATE"
ORDER_CANCELLATION = "CANCELLATION"

# What price_change / best_bid_ask print for an empty side (spec 6.2 example: best_bid "0", best_ask "1").
EMPTY_BEST_BID = 0
EMPTY_BEST_ASK = UNIT


def _reported_size(order: SimOrder, market_buy_in_pusd: bool) -> int:
    if market_buy_in_pusd and order.is_buy and order.order_type in ("FOK", "FAK"):
        return order.maker_amount
    return order.original_size_units


def order_rest(order: SimOrder, *, market_buy_in_pusd: bool = False) -> dict[str, Any]:
    """The REST `OpenOrder` object (spec 1.2)."""
    return {
        "id": order.order_id,
        "status": order.status,
        "owner": order.owner,
        "maker_address": order.maker_address,
        "market": order.market,
        "asset_id": order.token_id,
        "side": order.side,
        "original_size": fmt_fixed(_reported_size(order, market_buy_in_pusd)),
        "size_matched": fmt_fixed(order.matched_shares),
        "price": fmt_fixed(order.price_units),
        "outcome": order.outcome,
        "expiration": str(order.expiration),
        "order_type": order.order_type,
        "associate_trades": list(order.trade_ids),
        "created_at": int(order.created_at_s),
    }


def order_event(
    order: SimOrder,
    kind: str,
    now_s: float,
    *,
    status: str | None = None,
    killed: bool = False,
    market_buy_in_pusd: bool = False,
) -> dict[str, Any]:
    """A user-channel `order` event (spec 6.3) of type PLACEMENT, UPDATE or CANCELLATION.

    `killed` renders an order that never rested (FOK/FAK kill) the way the venue does: empty
    `size_matched`, `created_at` and `outcome` (NT captures `ws_user_order_fok_killed.json`).
    """
    if kind == ORDER_PLACEMENT:
        trades: list[str] | None = None
    else:
        trades = list(order.trade_ids)
    return {
        "event_type": "order",
        "type": kind,
        "id": order.order_id,
        "owner": order.owner,
        "order_owner": order.owner,
        "market": order.market,
        "asset_id": order.token_id,
        "side": order.side,
        "price": fmt_units(order.price_units),
        "original_size": fmt_units(_reported_size(order, market_buy_in_pusd)),
        "size_matched": "" if killed else fmt_units(order.matched_shares),
        "associate_trades": trades,
        "outcome": "" if killed else order.outcome,
        "order_type": order.order_type,
        "status": status or order.status,
        "expiration": str(order.expiration),
        "maker_address": order.maker_address,
        "created_at": "" if killed else str(int(order.created_at_s)),
        "timestamp": ms_string(now_s),
    }


def book_levels(book: MirroredBook, *, yes: bool) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(bids, asks) of one token as (price, shares), best LAST: bids ascending, asks descending.

    The No token's bids are the Yes asks at 1 − p and its asks the Yes bids at 1 − p (mirror).
    """
    return mirror_levels(book.depth(BID), book.depth(ASK), yes=yes)


def mirror_levels(
    yes_bids: list[tuple[int, int]], yes_asks: list[tuple[int, int]], *, yes: bool
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """`book_levels` of one token from the Yes-space depth (`MirroredBook.depth`, ascending), so both
    tokens' levels come from one walk of the book."""
    if yes:
        return yes_bids, yes_asks[::-1]
    return [(UNIT - price, size) for price, size in reversed(yes_asks)], [(UNIT - price, size) for price, size in yes_bids]


def top_of_book(book: MirroredBook, *, yes: bool) -> tuple[int, int]:
    """(best bid, best ask) of one token, with the venue's empty-side values 0 and 1."""
    bid, ask = book.best(BID), book.best(ASK)
    if yes:
        return (EMPTY_BEST_BID if bid is None else bid, EMPTY_BEST_ASK if ask is None else ask)
    return (EMPTY_BEST_BID if ask is None else UNIT - ask, EMPTY_BEST_ASK if bid is None else UNIT - bid)


def book_summary(
    book: MirroredBook,
    *,
    market: str,
    asset_id: str,
    yes: bool,
    now_s: float,
    min_order_size: str,
    tick_size: str,
    neg_risk: bool,
    last_trade_price: str,
) -> dict[str, Any]:
    """The `OrderBookSummary` of one token (spec 1.3), hash included."""
    bids, asks = book_levels(book, yes=yes)
    timestamp = ms_string(now_s)
    return {
        "market": market,
        "asset_id": asset_id,
        "timestamp": timestamp,
        "hash": book_hash_of(market=market, asset_id=asset_id, timestamp=timestamp, bids=bids, asks=asks,
                             min_order_size=min_order_size, tick_size=tick_size, neg_risk=neg_risk,
                             last_trade_price=last_trade_price),
        "bids": [{"price": fmt_units(price), "size": fmt_units(size)} for price, size in bids],
        "asks": [{"price": fmt_units(price), "size": fmt_units(size)} for price, size in asks],
        "min_order_size": min_order_size,
        "tick_size": tick_size,
        "neg_risk": neg_risk,
        "last_trade_price": last_trade_price,
    }
