"""Wire formatting for the simulator: 1e6-unit integers to the venue's decimal strings, and the book hash.

The venue prints prices and sizes as decimal strings without trailing zeros on the WebSocket
(`"0.513"`, `"5"`, spec 6.2/6.3) and with four decimals in REST open orders (`"200.0000"`, spec 1.2).
The book hash is the official client's "server-compatible" recipe (spec 1.3).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

from bot.protocol.constants import TOKEN_DECIMALS, TOKEN_UNIT

__all__ = [
    "UNIT",
    "book_hash",
    "book_hash_of",
    "book_hash_of_text",
    "fmt_fixed",
    "fmt_units",
    "level_json",
    "ms_string",
    "units_from_decimal",
]

UNIT = TOKEN_UNIT

# REST open orders print sizes and prices with at least this many decimals (spec 1.2 "200.0000").
_REST_MIN_DECIMALS = 4


@functools.lru_cache(maxsize=1 << 16)  # prices and sizes repeat endlessly in books
def fmt_units(units: int) -> str:
    """`units` (1e6 fixed point) as a decimal string without trailing zeros: 5_000_000 → "5"."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), UNIT)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:0{TOKEN_DECIMALS}d}".rstrip("0")


def fmt_fixed(units: int, min_decimals: int = _REST_MIN_DECIMALS) -> str:
    """`units` with at least `min_decimals` decimals and no more than needed: 200_000_000 → "200.0000"."""
    text = fmt_units(units)
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(min_decimals, '0')}"


def units_from_decimal(text: str | float) -> int:
    """A decimal ("0.01", 5.0) as 1e6 units, exactly; ValueError if it has more than 6 decimals."""
    value = Decimal(str(text)) * UNIT
    if value != value.to_integral_value():
        raise ValueError(f"{text!r} has more than {TOKEN_DECIMALS} decimals")
    return int(value)


def ms_string(now_s: float) -> str:
    """Unix seconds as the venue's millisecond timestamp string."""
    return str(int(round(now_s * 1000)))


def book_hash(summary: dict[str, Any]) -> str:
    """SHA-1 of the compact JSON summary with `hash` blanked, keys in the venue's order (spec 1.3).

    source: PY2 utilities.py `generate_orderbook_summary_hash` ("Server-compatible orderbook hash").
    """
    payload = {
        "market": summary["market"],
        "asset_id": summary["asset_id"],
        "timestamp": summary["timestamp"],
        "hash": "",
        "bids": summary["bids"],
        "asks": summary["asks"],
        "min_order_size": summary["min_order_size"],
        "tick_size": summary["tick_size"],
        "neg_risk": summary["neg_risk"],
        "last_trade_price": summary["last_trade_price"],
    }
    serialized = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha1(serialized.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=1 << 16)  # a market's levels repeat endlessly
def level_json(price_units: int, size_units: int) -> str:
    """One summary level as `book_hash` serialises it: `{"price":"0.48","size":"100"}`."""
    return f'{{"price":{encode_basestring(fmt_units(price_units))},"size":{encode_basestring(fmt_units(size_units))}}}'


def _json_value(value: Any) -> str:
    """What `json.dumps(value, ensure_ascii=False)` writes."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is bool:
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def book_hash_of(
    *,
    market: str,
    asset_id: str,
    timestamp: str,
    bids: Iterable[tuple[int, int]],
    asks: Iterable[tuple[int, int]],
    min_order_size: str,
    tick_size: str,
    neg_risk: bool,
    last_trade_price: str,
) -> str:
    """`book_hash` of the summary these fields make (levels as (price, shares) in 1e6 units, best LAST),
    without building the summary: the same bytes, written directly.

    Every book change of the simulator publishes both tokens' hashes, so this runs per recorded event in
    a replay; `json.dumps` of the whole summary was a tenth of a backtest. Level strings are cached per
    (price, size); `SimMarket` keeps them per level (`bot.sim.book_text`) and calls `book_hash_of_text`.
    """
    return book_hash_of_text(
        market=market, asset_id=asset_id, timestamp=timestamp,
        bids_json=",".join([level_json(price, size) for price, size in bids]),
        asks_json=",".join([level_json(price, size) for price, size in asks]),
        min_order_size=min_order_size, tick_size=tick_size, neg_risk=neg_risk, last_trade_price=last_trade_price,
    )


def book_hash_of_text(
    *,
    market: str,
    asset_id: str,
    timestamp: str,
    bids_json: str,
    asks_json: str,
    min_order_size: str,
    tick_size: str,
    neg_risk: bool,
    last_trade_price: str,
) -> str:
    """`book_hash_of` with the levels already written: the comma-joined `level_json` of each side."""
    text = "".join((
        '{"market":', _json_value(market), ',"asset_id":', _json_value(asset_id),
        ',"timestamp":', _json_value(timestamp), ',"hash":"","bids":[', bids_json, '],"asks":[', asks_json,
        '],"min_order_size":', _json_value(min_order_size), ',"tick_size":', _json_value(tick_size),
        ',"neg_risk":', _json_value(neg_risk), ',"last_trade_price":', _json_value(last_trade_price), "}",
    ))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()
