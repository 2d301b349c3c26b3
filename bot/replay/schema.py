"""The PMXT archive v2 schema (docs/protocol/polymarket-clob.md section 12.5): one row per market-channel
event (one per entry of a `price_change`), 16 columns, ZSTD-compressed Parquet.

Columns 6–16 are null outside the event type that owns them. Rows of a file are ordered by
(market, asset_id, timestamp_received).
"""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "BOOK",
    "COLUMNS",
    "EVENT_TYPES",
    "LAST_TRADE_PRICE",
    "PMXT_V2_SCHEMA",
    "PRICE_CHANGE",
    "TICK_SIZE_CHANGE",
]

BOOK = "book"
PRICE_CHANGE = "price_change"
LAST_TRADE_PRICE = "last_trade_price"
TICK_SIZE_CHANGE = "tick_size_change"
EVENT_TYPES = (BOOK, PRICE_CHANGE, LAST_TRADE_PRICE, TICK_SIZE_CHANGE)

_PRICE = pa.decimal128(9, 4)
_MS_UTC = pa.timestamp("ms", tz="UTC")

PMXT_V2_SCHEMA = pa.schema(
    [
        pa.field("timestamp_received", _MS_UTC, nullable=False),
        pa.field("timestamp", _MS_UTC),
        pa.field("market", pa.binary(66), nullable=False),  # condition id as ASCII "0x" + 64 hex
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("asset_id", pa.string(), nullable=False),
        pa.field("bids", pa.string()),  # raw JSON [["price","size"],...] on book rows
        pa.field("asks", pa.string()),
        pa.field("price", _PRICE),
        pa.field("size", pa.decimal128(18, 6)),
        pa.field("side", pa.string()),
        pa.field("best_bid", _PRICE),
        pa.field("best_ask", _PRICE),
        pa.field("fee_rate_bps", pa.uint16()),
        pa.field("transaction_hash", pa.string()),
        pa.field("old_tick_size", _PRICE),
        pa.field("new_tick_size", _PRICE),
    ]
)
COLUMNS = tuple(PMXT_V2_SCHEMA.names)
