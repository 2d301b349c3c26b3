"""The wire vocabulary shared by every venue message: enums, field parsers, the parse-error taxonomy.

Spec: docs/protocol/polymarket-clob.md sections 1.2, 6.1-6.3. The message types live by channel:
`bot.protocol.market_channel` (books, price changes), `bot.protocol.user_channel` (orders, trades),
`bot.protocol.rest_shapes` (REST bodies); money types in `bot.protocol.money`. Field parsers raise
`MalformedMessage` (or KeyError/TypeError/ValueError, which `_checked` turns into one); `ParseStats`
counts what the never-raising frame parsers skipped.

Number types: money leaves here as integer micro-units (10⁻⁶), exact from the decimal string: market data
(book levels, price changes, ticks) through `PRICE_MICRO` / `SIZE_MICRO` (memoised parsers, the hot path),
account data (order sizes, fills, responses) through `_micro` / `_price_micro`. Only display-only fields
no order is priced from (a market's listed outcome price, the Data API's public trades) stay `float`
(`_price`, `_size`). Times are integer milliseconds (`*_ms`); a value below 10**11 is seconds.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any, Final, TypeAlias, TypeVar

import orjson

from bot.protocol.constants import Side
from bot.protocol.money import MICRO, MicroMemo, parse_micro

__all__ = [
    "CONTROL_FRAMES",
    "Level",
    "LevelSide",
    "MALFORMED_INVALID_EVENT",
    "MALFORMED_JSON",
    "MALFORMED_SHAPE",
    "MALFORMED_UNKNOWN_EVENT",
    "MalformedMessage",
    "OrderEventType",
    "OrderStatus",
    "PRICE_MICRO",
    "ParseStats",
    "SIZE_MICRO",
    "TradeStatus",
    "TraderSide",
    "parse_order_status",
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
# No real amount comes near 10**12 shares or pUSD; "1e400" is exact as an integer, and still garbage.
_AMOUNT_LIMIT_MICRO: Final = 10**18
_DETAIL_MAX_CHARS: Final = 200  # ParseStats.last_error is for a human, not an archive

# Market-data texts → exact micro-units. Bounds: every price of the finest grid (0.0001: 10**4 + 1 texts)
# with room for other spellings ("0.5" and "0.50"); sizes recur less, and past the bound are parsed anew.
_PRICE_TEXTS_MAX: Final = 2**15
_SIZE_TEXTS_MAX: Final = 2**15
PRICE_MICRO: Final = MicroMemo(MICRO, _PRICE_TEXTS_MAX)
"""A price text → micro-pUSD per share in [0, 10**6]; ValueError otherwise."""
SIZE_MICRO: Final = MicroMemo(_AMOUNT_LIMIT_MICRO - 1, _SIZE_TEXTS_MAX)
"""A size text → micro-shares in [0, 10**18); ValueError otherwise."""


class MalformedMessage(ValueError):
    """A message that does not have the shape the venue documents (missing field, wrong type, bad number)."""


Level: TypeAlias = tuple[int, int]
"""One book level: (price_micro, size_micro), both exact integers (10⁻⁶ pUSD per share, 10⁻⁶ shares)."""

_T = TypeVar("_T")


def _slot_builder(cls: type[_T]) -> Callable[..., _T]:
    """A positional constructor for a frozen slots dataclass that stores each slot directly.

    Why: the generated frozen `__init__` routes every field through `object.__setattr__(self, "name", v)`,
    which measured about 2-3x slower than a direct slot store for a 7-field event (the book snapshot uses
    it; the per-frame `PriceLevelChange` is a msgspec struct, whose C constructor is faster still). The
    object is identical (same slots, eq, repr, hash). Rejected: mutable dataclasses (lose immutability) and NamedTuples (iterable and indexable by accident).
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


def _opt_price_micro(value: Any) -> int | None:
    """A market-data price that may be absent, null or "" (e.g. `last_trade_price: ""` on a fresh book)."""
    if value is None or value == "":
        return None
    return PRICE_MICRO[value]


def _opt_size_micro(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return SIZE_MICRO[value]


def _micro(value: Any, *, empty_is_zero: bool = True) -> int:
    """An exact non-negative amount in micro-units (10⁻⁶) from a decimal string or JSON number.

    "" / null are zero when allowed. Account data (fills, order sizes, balances) is money the engine adds
    up and compares: it leaves the parse edge as an integer, never a float or a Decimal to be floated later.
    """
    if value is None or value == "":
        if empty_is_zero:
            return 0
        raise MalformedMessage("empty amount")
    if type(value) is bool:
        raise MalformedMessage("amount is a boolean")
    if type(value) is not str and type(value) is not int and type(value) is not float:
        raise MalformedMessage(f"amount is a {type(value).__name__}")
    try:
        amount = parse_micro(value)
    except ValueError as exc:
        raise MalformedMessage(f"amount is not a decimal: {value!r}"[:_DETAIL_MAX_CHARS]) from exc
    if not 0 <= amount < _AMOUNT_LIMIT_MICRO:
        raise MalformedMessage(f"amount negative or absurd: {value!r}"[:_DETAIL_MAX_CHARS])
    return amount


def _price_micro(value: Any) -> int:
    """An exact price in [0, 1] in micro-units (an order, trade or maker-fill price)."""
    price = _micro(value, empty_is_zero=False)
    if price > MICRO:
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
    prices = PRICE_MICRO
    sizes = SIZE_MICRO
    try:
        return tuple([(prices[level["price"]], sizes[level["size"]]) for level in raw_levels])
    except ValueError:
        for level in raw_levels:  # name the level that failed
            try:
                prices[level["price"]], sizes[level["size"]]
            except ValueError:
                raise MalformedMessage(f"bad level {level!r}"[:_DETAIL_MAX_CHARS]) from None
        raise


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
