"""Market-channel payloads (spec 6.2) to PMXT v2 rows, with our own resting size taken out.

A `price_change` becomes one row per entry; `book` keeps its depth as raw JSON `[["price","size"],...]`;
`last_trade_price` and `tick_size_change` are one row each. Other events (`best_bid_ask`, `new_market`,
`market_resolved`) are not in the archive's schema and are not recorded: the book rows carry the same
information.

Recording while trading: the venue's book includes our own orders; a replay places them again, so the
recorder subtracts `own` (our open shares per (asset id, side, price)) from every level it writes. That
is what keeps our orders from appearing twice in the replayed book.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import orjson

from bot.replay.schema import BOOK, LAST_TRADE_PRICE, PRICE_CHANGE, TICK_SIZE_CHANGE
from bot.sim.wire import UNIT, fmt_units

__all__ = ["OwnSize", "MalformedFrame", "rows_from_payload"]

# (asset_id, "BUY" | "SELL", price in 1e6 units) -> our open shares there, in 1e6 units.
OwnSize = Mapping[tuple[str, str, int], int]

_PRICE_QUANTUM = Decimal("0.0001")
_SIZE_QUANTUM = Decimal("0.000001")


class MalformedFrame(ValueError):
    """A payload the recorder cannot turn into rows (counted and skipped by the caller)."""


def _units(text: Any) -> int:
    return int((Decimal(str(text)) * UNIT).to_integral_value())


def _price(text: Any) -> Decimal | None:
    if text is None or text == "":
        return None
    return Decimal(str(text)).quantize(_PRICE_QUANTUM)


def _size(units: int) -> Decimal:
    return (Decimal(units) / UNIT).quantize(_SIZE_QUANTUM)


def _ms(value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    return int(value)


def _blank(received_ms: int, payload: Mapping[str, Any], event_type: str, asset_id: str) -> dict[str, Any]:
    return {
        "timestamp_received": received_ms,
        "timestamp": _ms(payload.get("timestamp"), received_ms),
        "market": str(payload["market"]).encode(),
        "event_type": event_type,
        "asset_id": str(asset_id),
        "bids": None,
        "asks": None,
        "price": None,
        "size": None,
        "side": None,
        "best_bid": None,
        "best_ask": None,
        "fee_rate_bps": None,
        "transaction_hash": None,
        "old_tick_size": None,
        "new_tick_size": None,
    }


def _depth_json(levels: Any, asset_id: str, side: str, own: OwnSize) -> str:
    out = []
    for level in levels or ():
        if isinstance(level, Mapping):
            price, size = level["price"], level["size"]
        else:
            price, size = level[0], level[1]
        units = _units(size) - own.get((asset_id, side, _units(price)), 0)
        if units > 0:
            out.append([str(price), fmt_units(units)])
    return orjson.dumps(out).decode()


def rows_from_payload(
    payload: Mapping[str, Any], received_ms: int, own: OwnSize | Callable[[], OwnSize] | None = None
) -> list[dict[str, Any]]:
    """The archive rows of one market-channel event; [] for events the archive does not hold.

    Raises MalformedFrame when a field the row needs is missing or not a number.
    """
    try:
        return _rows(payload, received_ms, own() if callable(own) else (own or {}))
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise MalformedFrame(f"{payload.get('event_type')!r}: {exc!r}") from exc


def _rows(payload: Mapping[str, Any], received_ms: int, own: OwnSize) -> list[dict[str, Any]]:
    event_type = payload.get("event_type")
    if event_type == PRICE_CHANGE:
        rows = []
        entries = payload.get("price_changes")
        if entries is None and "changes" in payload:  # the legacy schema: one asset, no best prices
            entries = [{**change, "asset_id": payload["asset_id"]} for change in payload["changes"]]
        elif entries is None:  # the oldest, flat form: price/side/size at the top level
            entries = [payload]
        for entry in entries:
            row = _blank(received_ms, payload, PRICE_CHANGE, entry["asset_id"])
            side = entry["side"]
            units = _units(entry["size"]) - own.get((str(entry["asset_id"]), side, _units(entry["price"])), 0)
            row.update(
                price=_price(entry["price"]),
                size=_size(max(units, 0)),
                side=side,
                best_bid=_price(entry.get("best_bid")),
                best_ask=_price(entry.get("best_ask")),
            )
            rows.append(row)
        return rows
    if event_type == BOOK:
        asset_id = str(payload["asset_id"])
        row = _blank(received_ms, payload, BOOK, asset_id)
        row["bids"] = _depth_json(payload.get("bids"), asset_id, "BUY", own)
        row["asks"] = _depth_json(payload.get("asks"), asset_id, "SELL", own)
        return [row]
    if event_type == LAST_TRADE_PRICE:
        row = _blank(received_ms, payload, LAST_TRADE_PRICE, payload["asset_id"])
        fee = payload.get("fee_rate_bps")
        row.update(
            price=_price(payload["price"]),
            size=_size(_units(payload["size"])),
            side=payload["side"],
            fee_rate_bps=None if fee in (None, "") else int(fee),
            transaction_hash=payload.get("transaction_hash"),
        )
        return [row]
    if event_type == TICK_SIZE_CHANGE:
        row = _blank(received_ms, payload, TICK_SIZE_CHANGE, payload["asset_id"])
        row.update(old_tick_size=_price(payload["old_tick_size"]), new_tick_size=_price(payload["new_tick_size"]))
        return [row]
    return []
