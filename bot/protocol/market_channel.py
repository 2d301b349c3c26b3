"""Market-channel messages (spec 6.2) and the REST book (spec 1.3): typed, frozen, parsed from JSON.

`parse_market_frame` takes one raw WebSocket frame and never raises: bad frames and events are counted
in a `ParseStats` and skipped. A `price_change` frame in the current schema (most of the traffic) is
decoded by msgspec into typed structs whose prices and sizes stay decimal text, then turned into the
frozen events; everything else, and whatever that path refuses, goes through orjson.

Money is integers from here on: every price and size is exact micro-units (`*_micro`, 10⁻⁶ pUSD per share
or 10⁻⁶ shares) parsed from the wire's decimal text (`bot.protocol.wire.PRICE_MICRO` / `SIZE_MICRO`); no
float holds a price or a size on the way to the book, the strategy or a signature.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

import msgspec
import orjson

from bot.protocol.constants import Side
from bot.protocol.wire import (
    _DETAIL_MAX_CHARS,
    _LEVEL_SIDES,
    _PARSE_ERRORS,
    _SECONDS_BELOW,
    _SECONDS_DIGITS,
    MALFORMED_INVALID_EVENT,
    MALFORMED_JSON,
    MALFORMED_SHAPE,
    MALFORMED_UNKNOWN_EVENT,
    PRICE_MICRO,
    SIZE_MICRO,
    Level,
    LevelSide,
    MalformedMessage,
    ParseStats,
    _checked,
    _is_control,
    _levels,
    _opt_bool,
    _opt_price_micro,
    _opt_side,
    _opt_size_micro,
    _opt_str,
    _slot_builder,
    _str,
    _str_tuple,
    _time_ms,
)

__all__ = [
    "BestBidAskEvent",
    "BookEvent",
    "BookSnapshot",
    "LastTradePriceEvent",
    "MarketEvent",
    "MarketResolvedEvent",
    "NewMarketEvent",
    "PriceChangeEvent",
    "PriceLevelChange",
    "TickSizeChangeEvent",
    "parse_best_bid_ask",
    "parse_book",
    "parse_last_trade_price",
    "parse_market_event",
    "parse_market_frame",
    "parse_market_resolved",
    "parse_new_market",
    "parse_price_change",
    "parse_tick_size_change",
]


# --- market channel (spec 6.2) and the REST book (spec 1.3) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class BookEvent:
    """A full book snapshot for one token (WS `book` event or REST `/book`).

    `bids` and `asks` keep the wire order, in which the best level is LAST (bids ascending, asks descending;
    spec 1.3); each level is (price_micro, size_micro). `timestamp_ms` is 0 on older REST bodies that carry
    none. The optional market parameters are None when the message does not carry them.
    """

    asset_id: str
    market: str
    timestamp_ms: int
    hash: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    tick_size_micro: int | None = None
    min_order_size_micro: int | None = None
    neg_risk: bool | None = None
    last_trade_price_micro: int | None = None


BookSnapshot = BookEvent
"""The REST `/book` response: the same type as the WS `book` event."""


class PriceLevelChange(msgspec.Struct, frozen=True, gc=False):
    """One level update: the new aggregate `size_micro` at `price_micro` (0 removes the level); BUY = bid.

    `best_bid_micro`/`best_ask_micro` are the token's top of book after the venue applied the whole message
    (None in the legacy schemas, or for an empty side); `hash` is the token's book hash after it ("" when
    absent). Prices are micro-pUSD per share in [0, 10**6], sizes micro-shares.

    A frozen msgspec struct rather than a dataclass: the market stream builds two or three per frame, and
    the struct's C constructor measured about 10x faster than a slots dataclass built in Python.
    """

    asset_id: str
    price_micro: int
    size_micro: int
    side: LevelSide
    best_bid_micro: int | None = None
    best_ask_micro: int | None = None
    hash: str = ""


class PriceChangeEvent(msgspec.Struct, frozen=True, gc=False):
    """A batch of level updates, possibly for both complementary tokens of one market (spec 6.2).

    All three wire schemas parse to this: the current one (`price_changes[]`, each entry with its asset_id),
    the legacy one (`changes[]` under a top-level asset_id/hash) and the oldest flat form (one level at the top).
    """

    market: str
    timestamp_ms: int
    changes: tuple[PriceLevelChange, ...]


@dataclass(frozen=True, slots=True)
class TickSizeChangeEvent:
    """The token's minimum tick changed (price beyond 0.96 or 0.04); new orders must use `new_tick_size_micro`."""

    asset_id: str
    market: str
    old_tick_size_micro: int
    new_tick_size_micro: int
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class LastTradePriceEvent:
    """A match happened on this token at `price_micro` for `size_micro` shares × 10⁶; `side` is the taker's."""

    asset_id: str
    market: str
    price_micro: int
    size_micro: int
    side: Side | None
    fee_rate_bps: str
    timestamp_ms: int
    transaction_hash: str = ""


@dataclass(frozen=True, slots=True)
class BestBidAskEvent:
    """Top of book for one token (custom feature); None for an empty side."""

    asset_id: str
    market: str
    best_bid_micro: int | None
    best_ask_micro: int | None
    spread_micro: int | None
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class NewMarketEvent:
    """A market was listed (custom feature). Only the fields a market maker uses are kept."""

    id: str
    market: str
    question: str
    slug: str
    assets_ids: tuple[str, ...]
    outcomes: tuple[str, ...]
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class MarketResolvedEvent:
    """A market resolved (custom feature): resting orders are cancelled with CANCELED_MARKET_RESOLVED."""

    id: str
    market: str
    assets_ids: tuple[str, ...]
    winning_asset_id: str
    winning_outcome: str
    timestamp_ms: int


MarketEvent: TypeAlias = (
    BookEvent
    | PriceChangeEvent
    | TickSizeChangeEvent
    | LastTradePriceEvent
    | BestBidAskEvent
    | NewMarketEvent
    | MarketResolvedEvent
)

_new_level_change = PriceLevelChange
_new_price_change = PriceChangeEvent
_new_book = _slot_builder(BookEvent)


def _book(d: Mapping[str, Any]) -> BookEvent:
    return _new_book(
        _str(d, "asset_id"),
        _opt_str(d, "market"),
        _time_ms(d.get("timestamp")),
        _opt_str(d, "hash"),
        _levels(d["bids"]),
        _levels(d["asks"]),
        _opt_price_micro(d.get("tick_size")),
        _opt_size_micro(d.get("min_order_size")),
        _opt_bool(d.get("neg_risk")),
        _opt_price_micro(d.get("last_trade_price")),
    )


def _change_entry(e: Mapping[str, Any], asset_id: str, hash_: str) -> PriceLevelChange:
    """A legacy or flat-form level (no best bid/ask on the wire)."""
    side = _LEVEL_SIDES.get(e["side"]) if type(e["side"]) is str else None
    if side is None:
        raise MalformedMessage(f"side is not BUY/SELL: {e['side']!r}")
    return PriceLevelChange(asset_id, PRICE_MICRO[e["price"]], SIZE_MICRO[e["size"]], side, None, None, hash_)


def _price_change(d: Mapping[str, Any]) -> PriceChangeEvent:
    market = d.get("market", "")
    if type(market) is not str:
        raise MalformedMessage("market is not a string")
    entries = d.get("price_changes")
    if entries is not None:
        # Current schema. The frame parser normally takes the C path (`_decode_price_change_fast`); this one
        # covers what that path refuses (e.g. a JSON number for a price, a null hash) and parsed dicts.
        if type(entries) is not list:
            raise MalformedMessage("price_changes is not a list")
        sides = _LEVEL_SIDES
        prices = PRICE_MICRO
        sizes = SIZE_MICRO
        new = _new_level_change
        out = []
        for e in entries:
            asset_id = e["asset_id"]
            side = sides[e["side"]]
            best_bid = e.get("best_bid")
            best_ask = e.get("best_ask")
            hash_ = e.get("hash") or ""
            if type(asset_id) is not str or type(hash_) is not str:
                raise MalformedMessage(f"bad price change entry {e!r}"[:_DETAIL_MAX_CHARS])
            try:
                price = prices[e["price"]]
                size = sizes[e["size"]]
                # An empty side is "" (or absent): None. A price text, "0" included, is a price.
                best_bid = prices[best_bid] if best_bid else None
                best_ask = prices[best_ask] if best_ask else None
            except ValueError:
                raise MalformedMessage(f"bad price change entry {e!r}"[:_DETAIL_MAX_CHARS]) from None
            out.append(new(asset_id, price, size, side, best_bid, best_ask, hash_))
        changes = tuple(out)
    elif "changes" in d:
        # Legacy schema (before 2025-09-15): levels under one top-level asset_id and hash.
        asset_id = _str(d, "asset_id")
        hash_ = _opt_str(d, "hash")
        raw = d["changes"]
        if type(raw) is not list:
            raise MalformedMessage("changes is not a list")
        changes = tuple(_change_entry(e, asset_id, hash_) for e in raw)
    else:
        # Oldest flat form: one level at the top level.
        changes = (_change_entry(d, _str(d, "asset_id"), _opt_str(d, "hash")),)
    timestamp = d.get("timestamp")
    if type(timestamp) is str and timestamp.isdigit() and len(timestamp) > _SECONDS_DIGITS:
        timestamp_ms = int(timestamp)  # the usual millisecond string, without the general helper's call
    else:
        timestamp_ms = _time_ms(timestamp)
    return _new_price_change(market, timestamp_ms, changes)


class _WireLevelChange(msgspec.Struct, gc=False):
    """One `price_changes[]` entry under the wire's names; prices and sizes kept as their decimal text."""

    asset_id: str
    price: str
    size: str
    side: LevelSide
    best_bid: str = ""
    best_ask: str = ""
    hash: str = ""


class _WirePriceChange(msgspec.Struct, gc=False):
    """The current price_change schema under the wire's own names, for the C decoder."""

    event_type: Literal["price_change"]
    market: str
    timestamp: int
    price_changes: tuple[_WireLevelChange, ...]


# Lax mode reads the timestamp's digit string as an int; unknown fields are ignored. Tests set it to None
# to run the portable path alone.
_FAST_DECODER: Any = msgspec.json.Decoder(_WirePriceChange, strict=False)
_FAST_ERRORS: Final[tuple[type[Exception], ...]] = (msgspec.ValidationError, msgspec.DecodeError, ValueError)
_FAST_MARK_STR: Final = '"price_changes"'
_FAST_MARK_BYTES: Final = b'"price_changes"'


def _decode_price_change_fast(raw: bytes | str) -> PriceChangeEvent | None:
    """A single-object current-schema price_change frame, decoded and checked in C; None if it is not one.

    Why: this message is most of the market-data traffic, and building its objects from `orjson.loads`'
    dicts cost about 3x `orjson.loads` alone (measured on the captured burst). msgspec checks the shape and
    builds typed structs from the bytes in C; the prices and sizes stay text there and become exact integers
    through the memoised parsers (a dict hit for a text seen before, the same range checks as the portable
    path). Rejected: msgspec's float fields (a float round trip) and a `dec_hook` per value (a Python call
    each, slower than the loop below). Whatever this path refuses, valid or not, goes down the portable
    orjson path, which has the last word.
    """
    # A cheap look before decoding: the other frequent frames (best_bid_ask, last_trade_price) skip it.
    if raw.find(_FAST_MARK_BYTES if type(raw) is bytes else _FAST_MARK_STR) < 0:  # type: ignore[arg-type]
        return None
    try:
        wire = _FAST_DECODER.decode(raw)
    except _FAST_ERRORS:
        return None
    timestamp = wire.timestamp
    if timestamp < _SECONDS_BELOW:
        return None  # unusual: let the portable path normalise or refuse it
    prices = PRICE_MICRO
    sizes = SIZE_MICRO
    new = _new_level_change
    try:
        changes = tuple([
            new(c.asset_id, prices[c.price], sizes[c.size], c.side,
                prices[c.best_bid] if c.best_bid else None, prices[c.best_ask] if c.best_ask else None, c.hash)
            for c in wire.price_changes
        ])
    except _FAST_ERRORS:
        return None
    return _new_price_change(wire.market, timestamp, changes)


def _tick_size_change(d: Mapping[str, Any]) -> TickSizeChangeEvent:
    new_tick = PRICE_MICRO[d["new_tick_size"]]
    if new_tick <= 0:
        raise MalformedMessage("new_tick_size is zero")
    return TickSizeChangeEvent(
        asset_id=_str(d, "asset_id"),
        market=_opt_str(d, "market"),
        old_tick_size_micro=PRICE_MICRO[d["old_tick_size"]],
        new_tick_size_micro=new_tick,
        timestamp_ms=_time_ms(d.get("timestamp")),
    )


def _last_trade_price(d: Mapping[str, Any]) -> LastTradePriceEvent:
    fee = d.get("fee_rate_bps")
    return LastTradePriceEvent(
        asset_id=_str(d, "asset_id"),
        market=_opt_str(d, "market"),
        price_micro=PRICE_MICRO[d["price"]],
        size_micro=SIZE_MICRO[d["size"]],
        side=_opt_side(d.get("side")),
        fee_rate_bps="" if fee is None else str(fee),
        timestamp_ms=_time_ms(d.get("timestamp")),
        transaction_hash=_opt_str(d, "transaction_hash"),
    )


def _best_bid_ask(d: Mapping[str, Any]) -> BestBidAskEvent:
    return BestBidAskEvent(
        asset_id=_str(d, "asset_id"),
        market=_opt_str(d, "market"),
        best_bid_micro=_opt_price_micro(d.get("best_bid")),
        best_ask_micro=_opt_price_micro(d.get("best_ask")),
        spread_micro=_opt_price_micro(d.get("spread")),
        timestamp_ms=_time_ms(d.get("timestamp")),
    )


def _new_market(d: Mapping[str, Any]) -> NewMarketEvent:
    market = d.get("market") or d.get("condition_id") or ""
    if type(market) is not str:
        raise MalformedMessage("market is not a string")
    return NewMarketEvent(
        id=str(d.get("id") or ""),
        market=market,
        question=_opt_str(d, "question"),
        slug=_opt_str(d, "slug"),
        assets_ids=_str_tuple(d.get("assets_ids") or d.get("clob_token_ids")),
        outcomes=_str_tuple(d.get("outcomes")),
        timestamp_ms=_time_ms(d.get("timestamp")),
    )


def _market_resolved(d: Mapping[str, Any]) -> MarketResolvedEvent:
    return MarketResolvedEvent(
        id=str(d.get("id") or ""),
        market=_str(d, "market"),
        assets_ids=_str_tuple(d.get("assets_ids")),
        winning_asset_id=_opt_str(d, "winning_asset_id"),
        winning_outcome=_opt_str(d, "winning_outcome"),
        timestamp_ms=_time_ms(d.get("timestamp")),
    )


_MARKET_PARSERS: Final[dict[str, Callable[[Mapping[str, Any]], MarketEvent]]] = {
    "book": _book,
    "price_change": _price_change,
    "tick_size_change": _tick_size_change,
    "last_trade_price": _last_trade_price,
    "best_bid_ask": _best_bid_ask,
    "new_market": _new_market,
    "market_resolved": _market_resolved,
}


def parse_book(d: Mapping[str, Any]) -> BookEvent:
    """A REST `/book` body or WS `book` event → `BookEvent`. Raises `MalformedMessage`."""
    return _checked("book", _book, d)


def parse_price_change(d: Mapping[str, Any]) -> PriceChangeEvent:
    """A WS `price_change` (any of the three schemas) → `PriceChangeEvent`. Raises `MalformedMessage`."""
    return _checked("price_change", _price_change, d)


def parse_tick_size_change(d: Mapping[str, Any]) -> TickSizeChangeEvent:
    """A WS `tick_size_change` → `TickSizeChangeEvent`. Raises `MalformedMessage`."""
    return _checked("tick_size_change", _tick_size_change, d)


def parse_last_trade_price(d: Mapping[str, Any]) -> LastTradePriceEvent:
    """A WS `last_trade_price` → `LastTradePriceEvent`. Raises `MalformedMessage`."""
    return _checked("last_trade_price", _last_trade_price, d)


def parse_best_bid_ask(d: Mapping[str, Any]) -> BestBidAskEvent:
    """A WS `best_bid_ask` → `BestBidAskEvent`. Raises `MalformedMessage`."""
    return _checked("best_bid_ask", _best_bid_ask, d)


def parse_new_market(d: Mapping[str, Any]) -> NewMarketEvent:
    """A WS `new_market` → `NewMarketEvent`. Raises `MalformedMessage`."""
    return _checked("new_market", _new_market, d)


def parse_market_resolved(d: Mapping[str, Any]) -> MarketResolvedEvent:
    """A WS `market_resolved` → `MarketResolvedEvent`. Raises `MalformedMessage`."""
    return _checked("market_resolved", _market_resolved, d)


def parse_market_event(d: Mapping[str, Any]) -> MarketEvent:
    """Any market-channel event, by its `event_type`. Raises `MalformedMessage` (also for an unknown type)."""
    if not isinstance(d, Mapping):
        raise MalformedMessage(f"market event: expected a JSON object, got {type(d).__name__}")
    event_type = d.get("event_type")
    parser = _MARKET_PARSERS.get(event_type) if type(event_type) is str else None
    if parser is None:
        raise MalformedMessage(f"unknown market event type {event_type!r}"[:_DETAIL_MAX_CHARS])
    return _checked(str(event_type), parser, d)


def parse_market_frame(raw: bytes | str, stats: ParseStats) -> list[MarketEvent]:
    """The market events in one WebSocket frame; bad frames and events are counted in `stats` and skipped.

    Never raises for any input of type str or bytes.
    """
    if _FAST_DECODER is not None:
        event = _decode_price_change_fast(raw)
        if event is not None:
            stats.frames += 1
            stats.events += 1
            return [event]
    stats.frames += 1
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if _is_control(raw):
            stats.control_frames += 1
        else:
            stats.count_malformed(MALFORMED_JSON, str(exc))
        return []
    # One object per frame is the common case; it skips the list walk below.
    items = (obj,) if type(obj) is dict else obj
    if type(items) is not tuple and type(items) is not list:
        stats.count_malformed(MALFORMED_SHAPE, f"top-level {type(obj).__name__}")
        return []
    parsers = _MARKET_PARSERS
    out: list[MarketEvent] = []
    for item in items:
        try:
            parser = parsers[item["event_type"]]
        except (KeyError, TypeError, IndexError) as exc:  # no/unknown/unhashable event_type, or not an object
            if type(item) is dict:
                stats.count_malformed(MALFORMED_UNKNOWN_EVENT, repr(item.get("event_type"))[:_DETAIL_MAX_CHARS])
            else:
                stats.count_malformed(MALFORMED_SHAPE, f"array item {type(item).__name__}: {exc}")
            continue
        try:
            out.append(parser(item))
        except _PARSE_ERRORS as exc:  # MalformedMessage is a ValueError
            stats.count_malformed(MALFORMED_INVALID_EVENT, f"{item['event_type']}: {type(exc).__name__}: {exc}")
    stats.events += len(out)
    return out
