"""Typed venue messages: WebSocket events and REST responses, parsed from JSON; bad input is counted, never fatal.

Spec: docs/protocol/polymarket-clob.md sections 1.2 (OpenOrder, Trade), 1.3 (book), 5.4 (order and
cancel responses), 6.2 (market channel), 6.3 (user channel). Real captures: tests/fixtures/polymarket/.

Two layers:

- Per-message parsers (`parse_book`, `parse_price_change`, `parse_order_event`, `parse_trade`,
  `parse_open_order`, `parse_post_response`, `parse_cancel_response`, ...) take one decoded JSON object and
  return a frozen dataclass or raise `MalformedMessage` (a `ValueError`). Unknown fields are ignored.
- Frame parsers (`parse_market_frame`, `parse_user_frame`) take the raw WebSocket text: one JSON object, a JSON
  array of them, or a control text (`PONG`, `NO NEW ASSETS`). They never raise: every bad frame or event is
  counted in a `ParseStats` by reason and skipped, so one odd message cannot take the bot down.

Number types, by who needs what:

- Market data (books, price changes, last trade, best bid/ask, tick sizes) is `float`: the book compares and
  sums prices, the strategy rounds to the tick grid anyway, and `float(str)` is several times cheaper than
  `Decimal` on the hottest path. Tick sizes are decimal fractions whose `repr` round-trips exactly
  (`Decimal(repr(0.001)) == Decimal("0.001")`), so the amounts code can still rebuild an exact grid.
- Account data (order events, trades, open orders, order responses) is `Decimal`: fills are added up and
  compared to order sizes, and a float sum such as 0.1 + 0.2 would make "fully filled" flaky. Empty strings
  (`size_matched: ""` on a killed FOK, `makingAmount: ""` on a resting order) mean zero.
- Times are integer milliseconds since the epoch (`*_ms`); fields the venue sends in seconds (or in either
  unit, e.g. `created_at`, trade `timestamp`) are normalised: a value below 10**11 is taken as seconds.
  Missing or empty times are 0 ("unknown"). `expiration_s` stays in seconds, as signed (0 = none).

Speed: a `price_change` frame in the current schema (most of the traffic) is decoded by msgspec, when it is
installed, straight into the same frozen dataclasses with the same checks; everything else, and whatever that
path refuses, goes through orjson. The Python paths avoid the generated frozen-dataclass `__init__` (see
`_slot_builder`); the objects are ordinary frozen dataclasses all the same.
"""

from __future__ import annotations

import enum
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Annotated, Any, Final, Literal, TypeAlias, TypeVar

import orjson

from bot.protocol.constants import Side

try:  # optional C decoder for the hottest message; see `_decode_price_change_fast`
    import msgspec
except ImportError:  # pragma: no cover - the portable path below does the same work, slower
    msgspec = None  # type: ignore[assignment]

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


# --- wire constants (spec 6.1, 6.2, 6.3) -------------------------------------------------------------------

# Plain-text control frames the server sends instead of JSON. source: spec 6.1 ("server answers text PONG";
# "the server periodically sends the plain text NO NEW ASSETS").
CONTROL_FRAMES: Final = frozenset({"PONG", "NO NEW ASSETS"})
_CONTROL_FRAMES_BYTES: Final = frozenset(s.encode() for s in CONTROL_FRAMES)

# A time value below this is in seconds, otherwise milliseconds: 10**11 ms is 1973, 10**11 s is year 5138.
_SECONDS_BELOW: Final = 10**11
_SECONDS_DIGITS: Final = 11  # a digit string longer than this is ≥ 10**11, i.e. already milliseconds
_MS_PER_S: Final = 1000

# Reasons under which a skipped frame or event is counted.
MALFORMED_JSON: Final = "json"  # not decodable as JSON
MALFORMED_SHAPE: Final = "shape"  # valid JSON, but not an object or an array of objects
MALFORMED_UNKNOWN_EVENT: Final = "unknown_event"  # an object whose kind this channel does not know
MALFORMED_INVALID_EVENT: Final = "invalid_event"  # a known kind with a missing, mistyped or out-of-range field

_INF: Final = float("inf")
_ZERO: Final = Decimal(0)
_DETAIL_MAX_CHARS: Final = 200  # ParseStats.last_error is for a human, not an archive


class MalformedMessage(ValueError):
    """A message that does not have the shape the venue documents (missing field, wrong type, bad number)."""


Level: TypeAlias = tuple[float, float]
"""One book level: (price, size_shares)."""

_T = TypeVar("_T")


def _slot_builder(cls: type[_T]) -> Callable[..., _T]:
    """A positional constructor for a frozen slots dataclass that stores each slot directly.

    Why: the generated frozen `__init__` routes every field through `object.__setattr__(self, "name", v)`,
    which measured about 2-3x slower than a direct slot store for the 7-field `PriceLevelChange`, and the
    market-data path builds several per frame. The object is identical (same slots, eq, repr, hash).
    Rejected: mutable dataclasses (lose immutability) and NamedTuples (iterable and indexable by accident).
    Only for hot paths whose arguments are already validated; everything else uses the normal constructor.
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    body = []
    for i, name in enumerate(names):
        namespace[f"_set{i}"] = cls.__dict__[name].__set__  # the slot's member descriptor
        body.append(f"    _set{i}(obj, v{i})")
    args = ", ".join(f"v{i}" for i in range(len(names)))
    source = f"def build({args}):\n    obj = _new(_cls)\n" + "\n".join(body) + "\n    return obj\n"
    exec(source, namespace)  # a fixed template over the class's own field names
    return namespace["build"]  # type: ignore[no-any-return]


# --- enums --------------------------------------------------------------------------------------------------


class OrderStatus(enum.StrEnum):
    """Order status on the user channel and in REST open orders (spec 6.3, 1.2)."""

    INVALID = "INVALID"
    LIVE = "LIVE"
    DELAYED = "DELAYED"
    MATCHED = "MATCHED"
    UNMATCHED = "UNMATCHED"
    CANCELED = "CANCELED"
    CANCELED_MARKET_RESOLVED = "CANCELED_MARKET_RESOLVED"


class OrderEventType(enum.StrEnum):
    """Kind of a user-channel order event (spec 6.3)."""

    PLACEMENT = "PLACEMENT"
    UPDATE = "UPDATE"
    CANCELLATION = "CANCELLATION"


class TradeStatus(enum.StrEnum):
    """Settlement status of a trade; MATCHED → MINED → CONFIRMED, or RETRYING / FAILED (spec 1.2)."""

    MATCHED = "MATCHED"
    MINED = "MINED"
    CONFIRMED = "CONFIRMED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"


class TraderSide(enum.StrEnum):
    """Whether the trade's owner was the taker or one of the makers (spec 6.3)."""

    TAKER = "TAKER"
    MAKER = "MAKER"


class LevelSide(enum.StrEnum):
    """Side of a book level in a price change, in the wire's words: BUY = a bid level, SELL = an ask level.

    A string enum (not `constants.Side`, an IntEnum of the signed order side) so the C decoder can build it
    straight from the wire text.
    """

    BUY = "BUY"
    SELL = "SELL"


_WIRE_SIDES: Final[dict[str, Side]] = {"BUY": Side.BUY, "SELL": Side.SELL}
_LEVEL_SIDES: Final[dict[str, LevelSide]] = {"BUY": LevelSide.BUY, "SELL": LevelSide.SELL}
_ORDER_EVENT_TYPES: Final = {t.value: t for t in OrderEventType}
_TRADE_STATUSES: Final = {t.value: t for t in TradeStatus}
_TRADER_SIDES: Final = {t.value: t for t in TraderSide}
# Longest first, so CANCELED_MARKET_RESOLVED wins over CANCELED. source: spec 6.3 ("parse the longest known prefix")
_STATUSES_LONGEST_FIRST: Final = sorted(OrderStatus, key=lambda s: len(s.value), reverse=True)
# The newest API reference prints statuses as ORDER_STATUS_LIVE etc.; the wire uses bare names (spec 1.2).
_STATUS_DOC_PREFIX: Final = "ORDER_STATUS_"


def parse_order_status(raw: str) -> tuple[OrderStatus, str]:
    """Split `<STATUS>[_<free text reason>]` by the longest known status prefix.

    `"CANCELED_order couldn't be fully filled. ..."` → `(CANCELED, "order couldn't be fully filled. ...")`;
    `"CANCELED_MARKET_RESOLVED"` → `(CANCELED_MARKET_RESOLVED, "")`. Case-insensitive on the status part.
    Raises `MalformedMessage` for an unknown status.
    """
    if type(raw) is not str:
        raise MalformedMessage(f"status is not a string: {type(raw).__name__}")
    upper = raw.upper()
    offset = 0
    if upper.startswith(_STATUS_DOC_PREFIX):
        offset = len(_STATUS_DOC_PREFIX)
        upper = upper[offset:]
    for status in _STATUSES_LONGEST_FIRST:
        name = status.value
        if upper == name:
            return status, ""
        if upper.startswith(name) and upper[len(name)] == "_":
            return status, raw[offset + len(name) + 1 :]
    raise MalformedMessage(f"unknown order status {raw[:_DETAIL_MAX_CHARS]!r}")


# --- field helpers (raise KeyError/TypeError/ValueError; callers turn them into MalformedMessage) -----------


def _str(d: Mapping[str, Any], key: str) -> str:
    value = d[key]
    if type(value) is not str:
        raise MalformedMessage(f"{key} is not a string")
    return value


def _opt_str(d: Mapping[str, Any], key: str) -> str:
    """A string field that may be absent or null; both read as ""."""
    value = d.get(key)
    if value is None:
        return ""
    if type(value) is not str:
        raise MalformedMessage(f"{key} is not a string")
    return value


def _price(value: Any) -> float:
    if type(value) is bool:
        raise MalformedMessage("price is a boolean")
    price = float(value)
    if not 0.0 <= price <= 1.0:  # also rejects NaN and infinities
        raise MalformedMessage(f"price out of [0, 1]: {value!r}")
    return price


def _opt_price(value: Any) -> float | None:
    """A price that may be absent, null or "" (e.g. `last_trade_price: ""` on a fresh book)."""
    if value is None or value == "":
        return None
    return _price(value)


def _size(value: Any) -> float:
    if type(value) is bool:
        raise MalformedMessage("size is a boolean")
    size = float(value)
    if not 0.0 <= size < _INF:
        raise MalformedMessage(f"size negative or not finite: {value!r}")
    return size


def _opt_size(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return _size(value)


def _dec(value: Any, *, empty_is_zero: bool = True) -> Decimal:
    """An exact non-negative decimal from a decimal string or JSON number; "" / null are zero when allowed."""
    if value is None or value == "":
        if empty_is_zero:
            return _ZERO
        raise MalformedMessage("empty amount")
    if type(value) is bool:
        raise MalformedMessage("amount is a boolean")
    if type(value) is float:
        value = repr(value)  # 0.001 → "0.001", not its binary expansion
    elif type(value) is int:
        value = str(value)
    elif type(value) is not str:
        raise MalformedMessage(f"amount is a {type(value).__name__}")
    try:
        amount = Decimal(value.strip())
    except ArithmeticError as exc:
        raise MalformedMessage(f"amount is not a decimal: {value!r}") from exc
    # Finite as a float too: the engine does float arithmetic on amounts ("1e400" would become inf).
    if not amount.is_finite() or amount < 0 or not math.isfinite(float(amount)):
        raise MalformedMessage(f"amount negative or not finite: {value!r}")
    return amount


def _dec_price(value: Any) -> Decimal:
    """An exact price in [0, 1] (an order, trade or maker-fill price)."""
    price = _dec(value, empty_is_zero=False)
    if price > 1:
        raise MalformedMessage(f"price out of [0, 1]: {value!r}")
    return price


def _time_ms(value: Any) -> int:
    """Epoch milliseconds from seconds or milliseconds, as string or number; absent/empty → 0."""
    if value is None or value == "":
        return 0
    if type(value) is bool:
        raise MalformedMessage("time is a boolean")
    if type(value) is str:
        number = int(value) if value.isdigit() else float(value)
    elif type(value) is int or type(value) is float:
        number = value
    else:
        raise MalformedMessage(f"time is a {type(value).__name__}")
    if not 0 <= number < _INF:
        raise MalformedMessage(f"time negative or not finite: {value!r}")
    if number < _SECONDS_BELOW:
        number *= _MS_PER_S
    return int(number)


def _int(value: Any, default: int = 0) -> int:
    if value is None or value == "":
        return default
    if type(value) is bool:
        raise MalformedMessage("integer is a boolean")
    number = int(value)
    if number < 0:
        raise MalformedMessage(f"negative integer: {value!r}")
    return number


def _side(value: Any) -> Side:
    side = _WIRE_SIDES.get(value) if type(value) is str else None
    if side is None:
        raise MalformedMessage(f"side is not BUY/SELL: {value!r}")
    return side


def _opt_side(value: Any) -> Side | None:
    if value is None or value == "":
        return None
    return _side(value)


def _opt_bool(value: Any) -> bool | None:
    if value is None:
        return None
    if type(value) is not bool:
        raise MalformedMessage(f"flag is not a boolean: {value!r}")
    return value


def _str_tuple(value: Any) -> tuple[str, ...]:
    """A list of strings that may be null; a JSON-encoded list (Gamma style) is decoded."""
    if value is None or value == "":
        return ()
    if type(value) is str:
        value = orjson.loads(value)
    if type(value) is not list or not all(type(item) is str for item in value):
        raise MalformedMessage("expected a list of strings")
    return tuple(value)


def _levels(raw_levels: Any) -> tuple[Level, ...]:
    if type(raw_levels) is not list:
        raise MalformedMessage("book side is not a list")
    out = []
    for level in raw_levels:
        price = float(level["price"])
        size = float(level["size"])
        if not (0.0 <= price <= 1.0 and 0.0 <= size < _INF):
            raise MalformedMessage(f"bad level {level!r}")
        out.append((price, size))
    return tuple(out)


# --- market channel (spec 6.2) and the REST book (spec 1.3) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class BookEvent:
    """A full book snapshot for one token (WS `book` event or REST `/book`).

    `bids` and `asks` keep the wire order, in which the best level is LAST (bids ascending, asks descending;
    spec 1.3). `timestamp_ms` is 0 on older REST bodies that carry none. The optional market parameters are
    None when the message does not carry them.
    """

    asset_id: str
    market: str
    timestamp_ms: int
    hash: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    tick_size: float | None = None
    min_order_size: float | None = None
    neg_risk: bool | None = None
    last_trade_price: float | None = None


BookSnapshot = BookEvent
"""The REST `/book` response: the same type as the WS `book` event."""


# Field types the C decoder checks as it builds the objects (plain floats when msgspec is absent).
if msgspec is not None:
    _Price: TypeAlias = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]  # also rejects NaN
    _Size: TypeAlias = Annotated[float, msgspec.Meta(ge=0.0, le=sys.float_info.max)]  # also rejects inf, NaN
else:  # pragma: no cover
    _Price: TypeAlias = float  # type: ignore[no-redef]
    _Size: TypeAlias = float  # type: ignore[no-redef]


@dataclass(frozen=True, slots=True)
class PriceLevelChange:
    """One level update: the new aggregate `size` at `price` (0 removes the level); BUY = bid, SELL = ask.

    `best_bid`/`best_ask` are the token's top of book after the venue applied the whole message (None in the
    legacy schemas); `hash` is the token's book hash after it ("" when absent). The field names are the
    wire's, so the C decoder can build this class directly.
    """

    asset_id: str
    price: _Price
    size: _Size
    side: LevelSide
    best_bid: _Price | None = None
    best_ask: _Price | None = None
    hash: str = ""


@dataclass(frozen=True, slots=True)
class PriceChangeEvent:
    """A batch of level updates, possibly for both complementary tokens of one market (spec 6.2).

    All three wire schemas parse to this: the current one (`price_changes[]`, each entry with its asset_id),
    the legacy one (`changes[]` under a top-level asset_id/hash) and the oldest flat form (one level at the top).
    """

    market: str
    timestamp_ms: int
    changes: tuple[PriceLevelChange, ...]


@dataclass(frozen=True, slots=True)
class TickSizeChangeEvent:
    """The token's minimum tick changed (price beyond 0.96 or 0.04); new orders must use `new_tick_size`."""

    asset_id: str
    market: str
    old_tick_size: float
    new_tick_size: float
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class LastTradePriceEvent:
    """A match happened on this token at `price` for `size` shares; `side` is the taker's."""

    asset_id: str
    market: str
    price: float
    size: float
    side: Side | None
    fee_rate_bps: str
    timestamp_ms: int
    transaction_hash: str = ""


@dataclass(frozen=True, slots=True)
class BestBidAskEvent:
    """Top of book for one token (custom feature); None for an empty side."""

    asset_id: str
    market: str
    best_bid: float | None
    best_ask: float | None
    spread: float | None
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

_new_level_change = _slot_builder(PriceLevelChange)
_new_price_change = _slot_builder(PriceChangeEvent)
_new_book = _slot_builder(BookEvent)


def _book(d: Mapping[str, Any]) -> BookEvent:
    return _new_book(
        _str(d, "asset_id"),
        _opt_str(d, "market"),
        _time_ms(d.get("timestamp")),
        _opt_str(d, "hash"),
        _levels(d["bids"]),
        _levels(d["asks"]),
        _opt_price(d.get("tick_size")),
        _opt_size(d.get("min_order_size")),
        _opt_bool(d.get("neg_risk")),
        _opt_price(d.get("last_trade_price")),
    )


def _change_entry(e: Mapping[str, Any], asset_id: str, hash_: str) -> PriceLevelChange:
    """A legacy or flat-form level (no best bid/ask on the wire)."""
    side = _LEVEL_SIDES.get(e["side"]) if type(e["side"]) is str else None
    if side is None:
        raise MalformedMessage(f"side is not BUY/SELL: {e['side']!r}")
    return PriceLevelChange(asset_id, _price(e["price"]), _size(e["size"]), side, None, None, hash_)


def _price_change(d: Mapping[str, Any]) -> PriceChangeEvent:
    market = d.get("market", "")
    if type(market) is not str:
        raise MalformedMessage("market is not a string")
    entries = d.get("price_changes")
    if entries is not None:
        # Current schema. The frame parser normally takes the C path (`_decode_price_change_fast`); this one
        # covers what that path refuses (e.g. "" for an empty best bid) and runs when msgspec is absent.
        if type(entries) is not list:
            raise MalformedMessage("price_changes is not a list")
        sides = _LEVEL_SIDES
        new = _new_level_change
        out = []
        for e in entries:
            asset_id = e["asset_id"]
            price = float(e["price"])
            size = float(e["size"])
            side = sides[e["side"]]
            best_bid = e.get("best_bid")
            best_ask = e.get("best_ask")
            hash_ = e.get("hash") or ""
            best_bid = float(best_bid) if best_bid else None
            best_ask = float(best_ask) if best_ask else None
            if not (
                type(asset_id) is str
                and 0.0 <= price <= 1.0
                and 0.0 <= size < _INF
                and (best_bid is None or 0.0 <= best_bid <= 1.0)
                and (best_ask is None or 0.0 <= best_ask <= 1.0)
                and type(hash_) is str
            ):
                raise MalformedMessage(f"bad price change entry {e!r}"[:_DETAIL_MAX_CHARS])
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


@dataclass(frozen=True, slots=True)
class _WirePriceChange:
    """The current price_change schema under the wire's own names, for the C decoder."""

    event_type: Literal["price_change"]
    market: str
    timestamp: int
    price_changes: tuple[PriceLevelChange, ...]


if msgspec is not None:
    # Lax mode parses the wire's decimal strings into float/int; unknown fields are ignored.
    _FAST_DECODER: Any = msgspec.json.Decoder(_WirePriceChange, strict=False)
    _FAST_ERRORS: tuple[type[Exception], ...] = (msgspec.ValidationError, msgspec.DecodeError)
else:  # pragma: no cover
    _FAST_DECODER = None
    _FAST_ERRORS = ()
_FAST_MARK_STR: Final = '"price_changes"'
_FAST_MARK_BYTES: Final = b'"price_changes"'


def _decode_price_change_fast(raw: bytes | str) -> PriceChangeEvent | None:
    """A single-object current-schema price_change frame, decoded and checked in C; None if it is not one.

    Why: this message is most of the market-data traffic, and building its objects in Python cost about 3x
    `orjson.loads` alone (measured on the captured burst). msgspec builds the same frozen dataclasses from
    the bytes directly, with the same range checks (price in [0, 1], finite non-negative size). Whatever it
    refuses, valid or not, goes down the portable orjson path, which has the last word.
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
    return _new_price_change(wire.market, timestamp, wire.price_changes)


def _tick_size_change(d: Mapping[str, Any]) -> TickSizeChangeEvent:
    new_tick = _price(d["new_tick_size"])
    if new_tick <= 0.0:
        raise MalformedMessage("new_tick_size is zero")
    return TickSizeChangeEvent(
        asset_id=_str(d, "asset_id"),
        market=_opt_str(d, "market"),
        old_tick_size=_price(d["old_tick_size"]),
        new_tick_size=new_tick,
        timestamp_ms=_time_ms(d.get("timestamp")),
    )


def _last_trade_price(d: Mapping[str, Any]) -> LastTradePriceEvent:
    fee = d.get("fee_rate_bps")
    return LastTradePriceEvent(
        asset_id=_str(d, "asset_id"),
        market=_opt_str(d, "market"),
        price=_price(d["price"]),
        size=_size(d["size"]),
        side=_opt_side(d.get("side")),
        fee_rate_bps="" if fee is None else str(fee),
        timestamp_ms=_time_ms(d.get("timestamp")),
        transaction_hash=_opt_str(d, "transaction_hash"),
    )


def _best_bid_ask(d: Mapping[str, Any]) -> BestBidAskEvent:
    return BestBidAskEvent(
        asset_id=_str(d, "asset_id"),
        market=_opt_str(d, "market"),
        best_bid=_opt_price(d.get("best_bid")),
        best_ask=_opt_price(d.get("best_ask")),
        spread=_opt_price(d.get("spread")),
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


# --- user channel (spec 6.3) and the REST Trade / OpenOrder (spec 1.2) ------------------------------------


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """A user-channel order event: PLACEMENT (resting), UPDATE (matched some), CANCELLATION (spec 6.3).

    `status` and `status_reason` come from the `<STATUS>[_<reason>]` string (longest known prefix). Amounts are
    shares as exact decimals; `size_matched` "" reads as 0.
    """

    type: OrderEventType
    id: str
    owner: str
    market: str
    asset_id: str
    side: Side
    price: Decimal
    original_size: Decimal
    size_matched: Decimal
    status: OrderStatus
    status_reason: str
    order_type: str
    expiration_s: int
    associate_trades: tuple[str, ...]
    outcome: str
    maker_address: str
    created_at_ms: int
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class MakerOrderFill:
    """One resting order a trade matched. It may be on the complementary token at the complementary price.

    `side` is None when the venue omits it (older captures); see `maker_fill_side`.
    """

    order_id: str
    owner: str
    maker_address: str
    matched_amount: Decimal
    price: Decimal
    asset_id: str
    outcome: str
    side: Side | None
    fee_rate_bps: str = ""


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """A trade (user-channel `trade` event or a REST `/data/trades` item); re-sent on each status change.

    The top-level asset_id/side/price/size describe the taker order even when the owner was a maker
    (`trader_side` MAKER): a maker finds its own fills in `maker_orders` (spec 6.3).
    """

    id: str
    taker_order_id: str
    market: str
    asset_id: str
    side: Side
    size: Decimal
    price: Decimal
    status: TradeStatus
    match_time_ms: int
    last_update_ms: int
    timestamp_ms: int
    trader_side: TraderSide | None
    owner: str
    maker_address: str
    outcome: str
    bucket_index: int
    fee_rate_bps: str
    transaction_hash: str
    maker_orders: tuple[MakerOrderFill, ...]
    err_msg: str = ""


Trade = TradeEvent
"""A REST `/data/trades` item: the same type as the user-channel trade event."""

UserEvent: TypeAlias = OrderEvent | TradeEvent


def maker_fill_side(trade: TradeEvent, fill: MakerOrderFill) -> Side:
    """The side of a maker fill: as sent, or inferred when the venue omitted it.

    Inference (spec 6.3, 9): on the taker's own token the maker took the other side; on the complementary
    token (a mint or a merge) the maker took the same side as the taker.
    """
    if fill.side is not None:
        return fill.side
    if fill.asset_id == trade.asset_id:
        return Side.SELL if trade.side is Side.BUY else Side.BUY
    return trade.side


def _order_event(d: Mapping[str, Any]) -> OrderEvent:
    kind = _ORDER_EVENT_TYPES.get(d.get("type"))  # type: ignore[arg-type]
    if kind is None:
        raise MalformedMessage(f"order event type {d.get('type')!r}")
    status, reason = parse_order_status(d["status"])
    return OrderEvent(
        type=kind,
        id=_str(d, "id"),
        owner=_opt_str(d, "owner"),
        market=_opt_str(d, "market"),
        asset_id=_str(d, "asset_id"),
        side=_side(d["side"]),
        price=_dec_price(d["price"]),
        original_size=_dec(d.get("original_size")),
        size_matched=_dec(d.get("size_matched")),
        status=status,
        status_reason=reason,
        order_type=_opt_str(d, "order_type"),
        expiration_s=_int(d.get("expiration")),
        associate_trades=_str_tuple(d.get("associate_trades")),
        outcome=_opt_str(d, "outcome"),
        maker_address=_opt_str(d, "maker_address"),
        created_at_ms=_time_ms(d.get("created_at")),
        timestamp_ms=_time_ms(d.get("timestamp")),
    )


def _maker_fill(m: Mapping[str, Any]) -> MakerOrderFill:
    fee = m.get("fee_rate_bps")
    return MakerOrderFill(
        order_id=_str(m, "order_id"),
        owner=_opt_str(m, "owner"),
        maker_address=_opt_str(m, "maker_address"),
        matched_amount=_dec(m["matched_amount"], empty_is_zero=False),
        price=_dec_price(m["price"]),
        asset_id=_str(m, "asset_id"),
        outcome=_opt_str(m, "outcome"),
        side=_opt_side(m.get("side")),
        fee_rate_bps="" if fee is None else str(fee),
    )


def _trade(d: Mapping[str, Any]) -> TradeEvent:
    status = _TRADE_STATUSES.get(d.get("status"))  # type: ignore[arg-type]
    if status is None:
        raise MalformedMessage(f"trade status {d.get('status')!r}")
    raw_trader_side = d.get("trader_side")
    trader_side = None if raw_trader_side in (None, "") else _TRADER_SIDES[raw_trader_side]
    makers = d.get("maker_orders") or []
    if type(makers) is not list:
        raise MalformedMessage("maker_orders is not a list")
    fee = d.get("fee_rate_bps")
    match_time = d.get("match_time")
    if match_time is None:
        match_time = d.get("matchtime")  # the old docs' spelling (spec 6.3)
    return TradeEvent(
        id=_str(d, "id"),
        taker_order_id=_opt_str(d, "taker_order_id"),
        market=_opt_str(d, "market"),
        asset_id=_str(d, "asset_id"),
        side=_side(d["side"]),
        size=_dec(d["size"], empty_is_zero=False),
        price=_dec_price(d["price"]),
        status=status,
        match_time_ms=_time_ms(match_time),
        last_update_ms=_time_ms(d.get("last_update")),
        timestamp_ms=_time_ms(d.get("timestamp")),
        trader_side=trader_side,
        owner=_opt_str(d, "owner"),
        maker_address=_opt_str(d, "maker_address"),
        outcome=_opt_str(d, "outcome"),
        bucket_index=_int(d.get("bucket_index")),
        fee_rate_bps="" if fee is None else str(fee),
        transaction_hash=_opt_str(d, "transaction_hash"),
        maker_orders=tuple(_maker_fill(m) for m in makers),
        err_msg=_opt_str(d, "err_msg"),
    )


def _user_kind(d: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], UserEvent] | None:
    """Which parser an event needs: by `event_type`, else by `type`, else by the fields it carries."""
    event_type = d.get("event_type")
    if event_type == "order":
        return _order_event
    if event_type == "trade":
        return _trade
    if event_type is not None:
        return None
    # No event_type: an order UPDATE carrying only `type`, or a trade record shaped like GET /data/trades.
    kind = d.get("type")
    if type(kind) is str and kind in _ORDER_EVENT_TYPES:
        return _order_event
    if kind == "TRADE" or (kind is None and ("taker_order_id" in d or "maker_orders" in d)):
        return _trade
    return None


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """An order as REST returns it (`/data/orders` items, `/data/order/{id}`; spec 1.2). Amounts in shares."""

    id: str
    status: OrderStatus
    status_reason: str
    owner: str
    maker_address: str
    market: str
    asset_id: str
    side: Side
    original_size: Decimal
    size_matched: Decimal
    price: Decimal
    outcome: str
    expiration_s: int
    order_type: str
    associate_trades: tuple[str, ...]
    created_at_ms: int


def _open_order(d: Mapping[str, Any]) -> OpenOrder:
    status, reason = parse_order_status(d["status"])
    return OpenOrder(
        id=_str(d, "id"),
        status=status,
        status_reason=reason,
        owner=_opt_str(d, "owner"),
        maker_address=_opt_str(d, "maker_address"),
        market=_opt_str(d, "market"),
        asset_id=_str(d, "asset_id"),
        side=_side(d["side"]),
        original_size=_dec(d.get("original_size")),
        size_matched=_dec(d.get("size_matched")),
        price=_dec_price(d["price"]),
        outcome=_opt_str(d, "outcome"),
        expiration_s=_int(d.get("expiration")),
        order_type=_opt_str(d, "order_type"),
        associate_trades=_str_tuple(d.get("associate_trades")),
        created_at_ms=_time_ms(d.get("created_at")),
    )


# --- REST responses (spec 5.4) and market metadata ---------------------------------------------------------

# `status` values of an accepted placement. source: spec 5.4 ("status in {live, matched, delayed}")
_ACCEPTED_INSERT_STATUSES: Final = frozenset({"live", "matched", "delayed"})


@dataclass(frozen=True, slots=True)
class PostOrderResponse:
    """One `SendOrderResponse` (POST /order, or one leg of POST /orders). `status` is lower-cased, "" if absent.

    Amounts are exact decimals ("" → 0). A batch leg can say `success: true` and still carry an error, so use
    `accepted`, not `success`.
    """

    success: bool
    order_id: str
    status: str
    making_amount: Decimal
    taking_amount: Decimal
    trade_ids: tuple[str, ...]
    transactions_hashes: tuple[str, ...]
    error_msg: str

    @property
    def accepted(self) -> bool:
        """The order is on the venue: success, an order id, no error, and (when sent) an accepting status.

        source: spec 5.4, authoritative success test; a body without `status` is judged on the rest.
        """
        return (
            self.success
            and self.order_id != ""
            and self.error_msg == ""
            and (self.status == "" or self.status in _ACCEPTED_INSERT_STATUSES)
        )


def _post_response(d: Mapping[str, Any]) -> PostOrderResponse:
    if not isinstance(d, Mapping):
        raise MalformedMessage("order response is not an object")
    success = d.get("success", False)
    if type(success) is not bool:
        raise MalformedMessage("success is not a boolean")
    return PostOrderResponse(
        success=success,
        order_id=_opt_str(d, "orderID"),
        status=_opt_str(d, "status").lower(),
        making_amount=_dec(d.get("makingAmount")),
        taking_amount=_dec(d.get("takingAmount")),
        trade_ids=_str_tuple(d.get("tradeIDs")),
        transactions_hashes=_str_tuple(d.get("transactionsHashes")),
        error_msg=_opt_str(d, "errorMsg"),
    )


@dataclass(frozen=True, slots=True)
class CancelResponse:
    """Result of any cancel endpoint: ids cancelled, and id → reason for those that were not (spec 5.4)."""

    canceled: tuple[str, ...]
    not_canceled: dict[str, str] = field(default_factory=dict)


def _cancel_response(d: Mapping[str, Any]) -> CancelResponse:
    if not isinstance(d, Mapping):
        raise MalformedMessage("cancel response is not an object")
    raw_not = d.get("not_canceled") or {}
    if not isinstance(raw_not, Mapping):
        raise MalformedMessage("not_canceled is not an object")
    not_canceled = {}
    for order_id, reason in raw_not.items():
        if type(order_id) is not str:
            raise MalformedMessage("not_canceled key is not a string")
        not_canceled[order_id] = "" if reason is None else str(reason)
    return CancelResponse(canceled=_str_tuple(d.get("canceled")), not_canceled=not_canceled)


@dataclass(frozen=True, slots=True)
class MarketToken:
    """One outcome token of a market (`tokens[]` of GET /markets/{condition_id})."""

    token_id: str
    outcome: str
    price: float | None
    winner: bool


@dataclass(frozen=True, slots=True)
class MarketInfo:
    """The parts of GET /markets/{condition_id} a market maker needs (spec 1.1). Tick and size are exact."""

    condition_id: str
    question_id: str
    question: str
    market_slug: str
    tokens: tuple[MarketToken, ...]
    minimum_tick_size: Decimal
    minimum_order_size: Decimal
    neg_risk: bool
    active: bool
    closed: bool
    accepting_orders: bool
    enable_order_book: bool
    end_date_iso: str
    seconds_delay: int


def _flag(d: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = _opt_bool(d.get(key))
    return default if value is None else value


def _market(d: Mapping[str, Any]) -> MarketInfo:
    raw_tokens = d.get("tokens") or []
    if type(raw_tokens) is not list:
        raise MalformedMessage("tokens is not a list")
    tokens = tuple(
        MarketToken(
            token_id=_str(t, "token_id"),
            outcome=_opt_str(t, "outcome"),
            price=_opt_price(t.get("price")),
            winner=_flag(t, "winner"),
        )
        for t in raw_tokens
    )
    tick = _dec(d["minimum_tick_size"], empty_is_zero=False)
    if tick == 0:
        raise MalformedMessage("minimum_tick_size is zero")
    return MarketInfo(
        condition_id=_str(d, "condition_id"),
        question_id=_opt_str(d, "question_id"),
        question=_opt_str(d, "question"),
        market_slug=_opt_str(d, "market_slug"),
        tokens=tokens,
        minimum_tick_size=tick,
        minimum_order_size=_dec(d.get("minimum_order_size")),
        neg_risk=_flag(d, "neg_risk"),
        active=_flag(d, "active"),
        closed=_flag(d, "closed"),
        accepting_orders=_flag(d, "accepting_orders"),
        enable_order_book=_flag(d, "enable_order_book"),
        end_date_iso=_opt_str(d, "end_date_iso"),
        seconds_delay=_int(d.get("seconds_delay")),
    )


@dataclass(frozen=True, slots=True)
class PublicTrade:
    """A public trade from the Data API trades list (camelCase, numeric values; not our account's trades)."""

    proxy_wallet: str
    side: Side
    asset_id: str
    condition_id: str
    size: float
    price: float
    timestamp_ms: int
    outcome: str
    outcome_index: int
    transaction_hash: str


def _public_trade(d: Mapping[str, Any]) -> PublicTrade:
    return PublicTrade(
        proxy_wallet=_opt_str(d, "proxyWallet"),
        side=_side(d["side"]),
        asset_id=_str(d, "asset"),
        condition_id=_opt_str(d, "conditionId"),
        size=_size(d["size"]),
        price=_price(d["price"]),
        timestamp_ms=_time_ms(d.get("timestamp")),
        outcome=_opt_str(d, "outcome"),
        outcome_index=_int(d.get("outcomeIndex")),
        transaction_hash=_opt_str(d, "transactionHash"),
    )


# --- public per-message parsers ---------------------------------------------------------------------------

# What a parser may raise on bad input; all of it becomes MalformedMessage. (decimal.InvalidOperation is an
# ArithmeticError, not a ValueError; orjson.JSONDecodeError is a ValueError.)
_PARSE_ERRORS: Final = (KeyError, TypeError, ValueError, ArithmeticError, AttributeError, IndexError)


def _checked(kind: str, parser: Callable[[Mapping[str, Any]], _T], d: Any) -> _T:
    if not isinstance(d, Mapping):
        raise MalformedMessage(f"{kind}: expected a JSON object, got {type(d).__name__}")
    try:
        return parser(d)
    except MalformedMessage:
        raise
    except _PARSE_ERRORS as exc:
        raise MalformedMessage(f"{kind}: {type(exc).__name__}: {exc}"[:_DETAIL_MAX_CHARS]) from exc


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


def parse_order_event(d: Mapping[str, Any]) -> OrderEvent:
    """A user-channel `order` event → `OrderEvent`. Raises `MalformedMessage`."""
    return _checked("order", _order_event, d)


def parse_trade(d: Mapping[str, Any]) -> TradeEvent:
    """A user-channel `trade` event or a REST `/data/trades` item → `TradeEvent`. Raises `MalformedMessage`."""
    return _checked("trade", _trade, d)


def parse_user_event(d: Mapping[str, Any]) -> UserEvent:
    """Any user-channel event; the kind comes from `event_type`, else `type`, else its fields."""
    if not isinstance(d, Mapping):
        raise MalformedMessage(f"user event: expected a JSON object, got {type(d).__name__}")
    parser = _user_kind(d)
    if parser is None:
        raise MalformedMessage(f"unknown user event (event_type={d.get('event_type')!r}, type={d.get('type')!r})")
    return _checked("user event", parser, d)


def parse_open_order(d: Mapping[str, Any]) -> OpenOrder:
    """A REST open order → `OpenOrder`. Raises `MalformedMessage`."""
    return _checked("open order", _open_order, d)


def parse_post_response(d: Mapping[str, Any]) -> PostOrderResponse:
    """A POST /order body (or one POST /orders leg) → `PostOrderResponse`. Raises `MalformedMessage`."""
    return _checked("order response", _post_response, d)


def parse_post_responses(items: Sequence[Mapping[str, Any]]) -> tuple[PostOrderResponse, ...]:
    """A POST /orders body (a JSON array, one leg per submitted order, in order). Raises `MalformedMessage`."""
    if not isinstance(items, list | tuple):
        raise MalformedMessage("batch order response is not an array")
    return tuple(parse_post_response(item) for item in items)


def parse_cancel_response(d: Mapping[str, Any]) -> CancelResponse:
    """A body of any cancel endpoint → `CancelResponse`. Raises `MalformedMessage`."""
    return _checked("cancel response", _cancel_response, d)


def parse_market(d: Mapping[str, Any]) -> MarketInfo:
    """A GET /markets/{condition_id} body → `MarketInfo`. Raises `MalformedMessage`."""
    return _checked("market", _market, d)


def parse_public_trade(d: Mapping[str, Any]) -> PublicTrade:
    """One item of the Data API public trades list → `PublicTrade`. Raises `MalformedMessage`."""
    return _checked("public trade", _public_trade, d)


# --- frame parsers ---------------------------------------------------------------------------------------


class ParseStats:
    """Counters of what one channel's frames contained; the frame parsers update it and never raise.

    `frames` counts every frame handed in, `control_frames` the PONG / NO NEW ASSETS texts, `events` the
    typed events returned, `malformed` every frame or event skipped (also broken down by reason).
    `last_error` is a short description of the latest skipped item (market/user data only, no credentials).
    """

    __slots__ = ("control_frames", "events", "frames", "last_error", "malformed", "malformed_by_reason")

    def __init__(self) -> None:
        self.frames = 0
        self.control_frames = 0
        self.events = 0
        self.malformed = 0
        self.malformed_by_reason: dict[str, int] = {}
        self.last_error = ""

    def count_malformed(self, reason: str, detail: str = "") -> None:
        """Record one skipped frame or event."""
        self.malformed += 1
        self.malformed_by_reason[reason] = self.malformed_by_reason.get(reason, 0) + 1
        self.last_error = f"{reason}: {detail}"[:_DETAIL_MAX_CHARS]

    def __repr__(self) -> str:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.malformed_by_reason.items()))
        return (
            f"<ParseStats frames={self.frames} events={self.events} control={self.control_frames} "
            f"malformed={self.malformed}{' (' + reasons + ')' if reasons else ''}>"
        )


def _is_control(raw: bytes | str) -> bool:
    text = raw.strip()
    return text in CONTROL_FRAMES or text in _CONTROL_FRAMES_BYTES


def _decode_frame(raw: bytes | str, stats: ParseStats) -> list[Any] | None:
    """The frame's JSON objects (one, or an array's items), or None for a control or undecodable frame.

    Counts the frame. JSON is tried first: control texts are rare (one PONG per ping) and fail fast.
    """
    stats.frames += 1
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if _is_control(raw):
            stats.control_frames += 1
        else:
            stats.count_malformed(MALFORMED_JSON, str(exc))
        return None
    if type(obj) is dict:
        return [obj]
    if type(obj) is list:
        return obj
    stats.count_malformed(MALFORMED_SHAPE, f"top-level {type(obj).__name__}")
    return None


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


def parse_user_frame(raw: bytes | str, stats: ParseStats) -> list[UserEvent]:
    """The user events in one WebSocket frame; bad frames and events are counted in `stats` and skipped.

    Never raises for any input of type str or bytes. Events without `event_type` are recognised by `type`
    or by their fields (see `parse_user_event`).
    """
    items = _decode_frame(raw, stats)
    if not items:
        return []
    out: list[UserEvent] = []
    for item in items:
        if type(item) is not dict:
            stats.count_malformed(MALFORMED_SHAPE, f"array item {type(item).__name__}")
            continue
        parser = _user_kind(item)
        if parser is None:
            stats.count_malformed(MALFORMED_UNKNOWN_EVENT, f"event_type={item.get('event_type')!r}")
            continue
        try:
            out.append(parser(item))
        except _PARSE_ERRORS as exc:
            stats.count_malformed(MALFORMED_INVALID_EVENT, f"{type(exc).__name__}: {exc}")
    stats.events += len(out)
    return out
