"""Typed venue messages, one import away: the façade over the modules that hold them, by channel.

Where each thing lives (spec: docs/protocol/polymarket-clob.md; real captures: tests/fixtures/polymarket/):

| module | holds |
|---|---|
| `bot.protocol.money` | money types: integer ticks, micro-units (10⁻⁶), exact parsing and display |
| `bot.protocol.wire` | enums, field parsers, `MalformedMessage`, `ParseStats` |
| `bot.protocol.market_channel` | market channel (6.2) and the REST book (1.3): books, price changes, `parse_market_frame` |
| `bot.protocol.user_channel` | user channel (6.3): order events, trades, `parse_user_frame` |
| `bot.protocol.rest_shapes` | REST bodies (1.1, 1.2, 5.4): open orders, order and cancel answers, market metadata |

Per-message parsers take one decoded JSON object and return a frozen dataclass or raise
`MalformedMessage` (a `ValueError`); frame parsers take the raw WebSocket text and never raise (bad
frames and events are counted in a `ParseStats` and skipped).
"""

from __future__ import annotations

from bot.protocol.market_channel import (
    BestBidAskEvent,
    BookEvent,
    BookSnapshot,
    LastTradePriceEvent,
    MarketEvent,
    MarketResolvedEvent,
    NewMarketEvent,
    PriceChangeEvent,
    PriceLevelChange,
    TickSizeChangeEvent,
    parse_best_bid_ask,
    parse_book,
    parse_last_trade_price,
    parse_market_event,
    parse_market_frame,
    parse_market_resolved,
    parse_new_market,
    parse_price_change,
    parse_tick_size_change,
)
from bot.protocol.rest_shapes import (
    CancelResponse,
    MarketInfo,
    MarketToken,
    OpenOrder,
    PostOrderResponse,
    PublicTrade,
    parse_cancel_response,
    parse_market,
    parse_open_order,
    parse_post_response,
    parse_post_responses,
    parse_public_trade,
)
from bot.protocol.user_channel import (
    MakerOrderFill,
    OrderEvent,
    Trade,
    TradeEvent,
    UserEvent,
    maker_fill_side,
    parse_order_event,
    parse_trade,
    parse_user_event,
    parse_user_frame,
)
from bot.protocol.wire import (
    CONTROL_FRAMES,
    MALFORMED_INVALID_EVENT,
    MALFORMED_JSON,
    MALFORMED_SHAPE,
    MALFORMED_UNKNOWN_EVENT,
    Level,
    LevelSide,
    MalformedMessage,
    OrderEventType,
    OrderStatus,
    ParseStats,
    TraderSide,
    TradeStatus,
    parse_order_status,
)

__all__ = [
    "BestBidAskEvent",
    "BookEvent",
    "BookSnapshot",
    "CancelResponse",
    "Level",
    "LastTradePriceEvent",
    "LevelSide",
    "MakerOrderFill",
    "MalformedMessage",
    "MarketEvent",
    "MarketInfo",
    "MarketResolvedEvent",
    "MarketToken",
    "NewMarketEvent",
    "OpenOrder",
    "OrderEvent",
    "OrderEventType",
    "OrderStatus",
    "ParseStats",
    "PostOrderResponse",
    "PriceChangeEvent",
    "PriceLevelChange",
    "PublicTrade",
    "TickSizeChangeEvent",
    "Trade",
    "TradeEvent",
    "TradeStatus",
    "TraderSide",
    "UserEvent",
    "maker_fill_side",
    "parse_best_bid_ask",
    "parse_book",
    "parse_cancel_response",
    "parse_last_trade_price",
    "parse_market",
    "parse_market_frame",
    "parse_market_resolved",
    "parse_new_market",
    "parse_open_order",
    "parse_order_event",
    "parse_order_status",
    "parse_post_response",
    "parse_post_responses",
    "parse_price_change",
    "parse_public_trade",
    "parse_tick_size_change",
    "parse_trade",
    "parse_user_frame",
    "parse_user_event",
    "parse_market_event",
    "CONTROL_FRAMES",
    "MALFORMED_INVALID_EVENT",
    "MALFORMED_JSON",
    "MALFORMED_SHAPE",
    "MALFORMED_UNKNOWN_EVENT",
]
