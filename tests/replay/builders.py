"""Small recordings for replay tests: market-channel payloads as the venue sends them, written through
the recorder's own row conversion into PMXT v2 Parquet files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.replay.frames import rows_from_payload
from bot.replay.writer import write_rows

MARKET = "0x" + "ab" * 32
YES = "1001"
NO = "1002"
T0_MS = 1_780_000_000_000  # receive time of the first event


def book(t_ms: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]], asset: str = YES) -> dict[str, Any]:
    return {"t": t_ms, "payload": {"event_type": "book", "asset_id": asset, "market": MARKET,
                                   "timestamp": str(t_ms),
                                   "bids": [{"price": p, "size": s} for p, s in bids],
                                   "asks": [{"price": p, "size": s} for p, s in asks]}}


def level(t_ms: int, side: str, price: str, size: str, asset: str = YES) -> dict[str, Any]:
    """A price_change of one level (BUY = bid) on `asset`."""
    return {"t": t_ms, "payload": {"event_type": "price_change", "market": MARKET, "timestamp": str(t_ms),
                                   "price_changes": [{"asset_id": asset, "price": price, "size": size,
                                                      "side": side, "hash": "h", "best_bid": "", "best_ask": ""}]}}


def trade(t_ms: int, side: str, price: str, size: str, asset: str = YES) -> dict[str, Any]:
    """A last_trade_price: the taker's `side` on `asset`."""
    return {"t": t_ms, "payload": {"event_type": "last_trade_price", "asset_id": asset, "market": MARKET,
                                   "price": price, "side": side, "size": size, "fee_rate_bps": "0",
                                   "timestamp": str(t_ms)}}


def tick(t_ms: int, old: str, new: str, asset: str = YES) -> dict[str, Any]:
    return {"t": t_ms, "payload": {"event_type": "tick_size_change", "asset_id": asset, "market": MARKET,
                                   "old_tick_size": old, "new_tick_size": new, "timestamp": str(t_ms)}}


def write_recording(path: Path, frames: list[dict[str, Any]]) -> Path:
    rows = [row for frame in frames for row in rows_from_payload(frame["payload"], frame["t"])]
    return write_rows(path, rows)
