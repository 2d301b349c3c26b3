"""One venue error taxonomy: every HTTP status and venue error text maps to exactly one typed error.

Spec: docs/protocol/polymarket-clob.md section 5.3 (placement, cancel and global/transport
tables), 1.4 (heartbeat id), 9 (engine restarts, post-only mode). This module is the ONLY place above
the wire that reads venue error strings: `classify` is used for whole-request errors (HTTP status plus
`{"error": ...}` body) and for the per-leg `errorMsg` of batch responses and `not_canceled` reasons
alike. The texts themselves live in `bot/protocol/constants.py`; the few not there yet are defined
below with their source.

The classes say what the caller may conclude:

- `ExpectedReject`: the venue answered and nothing happened, for a reason that is part of normal
  trading (post-only would cross, FOK/FAK found no fill, cancel of an order already gone).
- `OrderRejected`: the venue answered and refused the request; nothing happened, and sending the same
  thing again will fail again (tick, size, balance, payload, ...). Counts towards a backoff.
- `RateLimited`: refused by a rate limiter; nothing happened; wait `retry_after_s` (if known).
- `OutcomeUnknown`: we do not know whether the request took effect (timeout, connection error, 5xx,
  425 engine restart, malformed 200). For a write this means "find out", never "failed".
- `VenueMode`: the venue is in post-only / cancel-only / trading-disabled mode; nothing happened.
- `AuthError`: 401 (bad API key, HMAC, timestamp or L1 headers), or no credentials configured.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.protocol.constants import (
    CANCEL_REASON_ALREADY_DONE,
    CANCEL_REASON_NOT_FOUND,
    ERR_ADDRESS_BANNED_FMT,
    ERR_ADDRESS_CLOSED_ONLY_FMT,
    ERR_BALANCE_PREFIX,
    ERR_CANCEL_ONLY,
    ERR_COULD_NOT_INSERT,
    ERR_CROSSES_BOOK_FMT,
    ERR_DUPLICATED_FMT,
    ERR_ENGINE_RESTARTING,
    ERR_FAK_NO_MATCH,
    ERR_FOK_NOT_FILLED,
    ERR_INVALID_AMOUNTS_PREFIX,
    ERR_INVALID_EXPIRATION,
    ERR_INVALID_HEARTBEAT,
    ERR_INVALID_L1,
    ERR_INVALID_ORDER_ID,
    ERR_INVALID_PAYLOAD,
    ERR_MARKET_NOT_READY,
    ERR_MARKET_PRECISION,
    ERR_MARKETABLE_BUY_MIN_FMT,
    ERR_MIN_SIZE_FMT,
    ERR_ORDER_VERSION_MISMATCH,
    ERR_OWNER_MISMATCH,
    ERR_POST_ONLY_CROSSES,
    ERR_POST_ONLY_MODE,
    ERR_POST_ONLY_MODE_CODE,
    ERR_POST_ONLY_WITH_MARKET_TYPE,
    ERR_SELL_PRECISION,
    ERR_SIGNER_MISMATCH,
    ERR_TICK_FMT,
    ERR_TOO_MANY_CANCELS_FMT,
    ERR_TOO_MANY_ORDERS_FMT,
    ERR_TRADING_DISABLED,
    ERR_UNAUTHORIZED,
)

__all__ = [
    "AuthError",
    "ExpectedReject",
    "InvalidHeartbeatId",
    "OrderRejected",
    "OutcomeUnknown",
    "RateLimited",
    "RejectKind",
    "TradingMode",
    "VenueError",
    "VenueMode",
    "classify",
    "error_for",
    "error_from_response",
]

# Venue texts not (yet) in constants.py. source: spec 5.3 unless noted.
_ERR_TICK_LEGACY = (
    "breaks minimum tick size rule"  # older docs: "order is invalid. Price breaks minimum tick size rules"
)
_ERR_INVALID_NONCE = "invalid nonce"  # V1 only
_ERR_PAYLOAD_LIMIT = "Payload exceeds the limit"  # spec 1.1 (POST /books > 500 items)
_ERR_RUN_EXECUTION = "could not run the execution"
_ERR_DELAYING = "error delaying the order"
_ERR_NO_MATCHING_ORDERS = "there are no matching orders"
_ERR_FOK_INTERNAL = "FOK orders are filled or killed"
_ERR_ROUNDING = "the trade contains rounding issues"
_ERR_PRICE_DISCREPANCY = "has a discrepancy greater than allowed with the worst maker order"
# "order match delayed due to market conditions" (old docs errorMsg table, ORDER_DELAYED): informational.
_ERR_MATCH_DELAYED = "order match delayed due to market conditions"
# Server rewrites a message containing "context canceled" to 400 (spec 1): the server gave up mid-way.
_ERR_CONTEXT_CANCELED = "context canceled"
_ERR_INVALID_TOKEN = "Invalid token id"  # spec 1.3
_ERR_NO_ORDERBOOK = "No orderbook exists for the requested token id"  # spec 1.3
_ERR_CREATE_API_KEY = "Could not create api key"  # spec 2.1
_ERR_DERIVE_API_KEY = "Could not derive api key"  # spec 2.1 ("Could not derive api key!")
# The WS order status that carries no reason text but means "the market resolved" (spec 6.3).
_STATUS_MARKET_RESOLVED = "CANCELED_MARKET_RESOLVED"
# Any "already canceled"/"already matched" wording of a cancel reason (3P mocks: "Order not found or
# already canceled"); the exact texts are CANCEL_REASON_ALREADY_DONE.
_ALREADY_DONE_RE = r"already (?:canceled|cancelled|matched)"

# A venue message longer than this is cut in exception text (bodies can echo whole payloads).
_MAX_MESSAGE_CHARS = 300


class RejectKind(enum.StrEnum):
    """The specific reason behind a venue error; `VenueError.kind`."""

    # ExpectedReject
    POST_ONLY_CROSSES = "post_only_crosses"
    CROSSES_BOOK = "crosses_book"
    FOK_NOT_FILLED = "fok_not_filled"
    FAK_NO_MATCH = "fak_no_match"
    NO_MATCH = "no_match"
    ALREADY_DONE = "already_done"
    NOT_FOUND = "not_found"
    MARKET_RESOLVED = "market_resolved"
    # OrderRejected
    PAYLOAD = "payload"
    INVALID_ORDER_ID = "invalid_order_id"
    OWNER_MISMATCH = "owner_mismatch"
    SIGNER_MISMATCH = "signer_mismatch"
    BANNED = "banned"
    CLOSED_ONLY = "closed_only"
    VERSION_MISMATCH = "version_mismatch"
    POST_ONLY_TYPE = "post_only_type"
    TICK = "tick"
    MIN_SIZE = "min_size"
    DUPLICATED = "duplicated"
    BALANCE = "balance"
    EXPIRATION = "expiration"
    NONCE = "nonce"
    MARKET_NOT_READY = "market_not_ready"
    MARKETABLE_BUY_MIN = "marketable_buy_min"
    PRECISION = "precision"
    BATCH_TOO_LARGE = "batch_too_large"
    ROUNDING = "rounding"
    PRICE_DISCREPANCY = "price_discrepancy"
    INVALID_TOKEN = "invalid_token"
    NO_ORDERBOOK = "no_orderbook"
    API_KEY_EXISTS = "api_key_exists"
    API_KEY_MISSING = "api_key_missing"
    INVALID_HEARTBEAT = "invalid_heartbeat"
    # RateLimited
    RATE_LIMITED = "rate_limited"
    # OutcomeUnknown
    ENGINE_RESTARTING = "engine_restarting"
    SYSTEM = "system"
    DELAYED = "delayed"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    TRANSPORT = "transport"
    MALFORMED = "malformed"
    # VenueMode
    POST_ONLY_MODE = "post_only_mode"
    CANCEL_ONLY = "cancel_only"
    TRADING_DISABLED = "trading_disabled"
    # AuthError
    UNAUTHORIZED = "unauthorized"
    L1_AUTH = "l1_auth"
    NO_CREDENTIALS = "no_credentials"
    # any class: a text we do not know
    UNKNOWN = "unknown"


class TradingMode(enum.StrEnum):
    """A restricted venue mode (spec 5.3 global table, 9 "Matching-engine restarts")."""

    POST_ONLY = "post_only"
    CANCEL_ONLY = "cancel_only"
    DISABLED = "disabled"


class VenueError(Exception):
    """A venue call failed; carries status, venue message, endpoint and kind, never a secret.

    The message is the venue's error text (truncated), never request headers or a 2xx body (those can
    hold credentials: the API-key endpoints return the secret).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        endpoint: str = "",
        kind: RejectKind = RejectKind.UNKNOWN,
        order_id: str = "",
    ) -> None:
        self.message = message if len(message) <= _MAX_MESSAGE_CHARS else message[:_MAX_MESSAGE_CHARS] + "…"
        self.status = status
        self.endpoint = endpoint
        self.kind = kind
        # Some rejects name the order (a FAK no-fill 400 carries its orderID); "" when absent.
        self.order_id = order_id
        super().__init__(self.message)

    def __str__(self) -> str:
        where = f"{self.endpoint} " if self.endpoint else ""
        status = f"HTTP {self.status} " if self.status is not None else ""
        return f"{where}{status}[{self.kind.value}] {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status}, kind={self.kind.value})"


class ExpectedReject(VenueError):
    """Nothing happened, for a normal trading reason (post-only cross, FOK/FAK no fill, order gone)."""


class OrderRejected(VenueError):
    """The venue refused the request; nothing happened, and the same request would be refused again."""


class InvalidHeartbeatId(OrderRejected):
    """`400 {"error_msg": "Invalid Heartbeat ID", "heartbeat_id": <expected>}`: re-send with `expected_id`."""

    def __init__(
        self,
        message: str,
        *,
        expected_id: str = "",
        status: int | None = None,
        endpoint: str = "",
        kind: RejectKind = RejectKind.INVALID_HEARTBEAT,
        order_id: str = "",
    ) -> None:
        super().__init__(message, status=status, endpoint=endpoint, kind=kind, order_id=order_id)
        self.expected_id = expected_id


class RateLimited(VenueError):
    """Refused by a rate limiter (HTTP 429); nothing happened. `retry_after_s`: None if not given."""

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: float | None = None,
        status: int | None = None,
        endpoint: str = "",
        kind: RejectKind = RejectKind.RATE_LIMITED,
        order_id: str = "",
    ) -> None:
        super().__init__(message, status=status, endpoint=endpoint, kind=kind, order_id=order_id)
        self.retry_after_s = retry_after_s


class OutcomeUnknown(VenueError):
    """We cannot tell whether the request took effect: for a write, find out, never assume "failed"."""


class VenueMode(VenueError):
    """The venue runs in a restricted `mode` (post-only, cancel-only, disabled); nothing happened."""

    def __init__(
        self,
        message: str,
        *,
        mode: TradingMode = TradingMode.DISABLED,
        retry_after_s: float | None = None,
        status: int | None = None,
        endpoint: str = "",
        kind: RejectKind = RejectKind.TRADING_DISABLED,
        order_id: str = "",
    ) -> None:
        super().__init__(message, status=status, endpoint=endpoint, kind=kind, order_id=order_id)
        self.mode = mode
        self.retry_after_s = retry_after_s


class AuthError(VenueError):
    """HTTP 401 (bad key, HMAC, timestamp or L1 headers), or an authenticated call without credentials."""


_MODE_BY_KIND: dict[RejectKind, TradingMode] = {
    RejectKind.POST_ONLY_MODE: TradingMode.POST_ONLY,
    RejectKind.CANCEL_ONLY: TradingMode.CANCEL_ONLY,
    RejectKind.TRADING_DISABLED: TradingMode.DISABLED,
}


def _lit(text: str) -> str:
    return re.escape(text)


def _fmt(fmt: str) -> str:
    """A regex for a `str.format` template: literal parts escaped, each `{field}` matches anything."""
    parts = re.split(r"\{[^{}]*\}", fmt)
    return ".*?".join(re.escape(p) for p in parts)


@dataclass(frozen=True, slots=True)
class _Row:
    pattern: re.Pattern[str]
    cls: type[VenueError]
    kind: RejectKind


def _row(regex: str, cls: type[VenueError], kind: RejectKind) -> _Row:
    # Case-insensitive search (not a full match): live texts carry suffixes (balance amounts) and WS
    # statuses carry prefixes (`CANCELED_<reason>`, `UNMATCHED_<reason>`, spec 6.3).
    return _Row(re.compile(regex, re.IGNORECASE), cls, kind)


# First match wins, so more specific texts come before the general ones they contain.
_TABLE: tuple[_Row, ...] = (
    # --- global / transport (spec 5.3) ---
    _row(_lit(ERR_INVALID_L1), AuthError, RejectKind.L1_AUTH),
    _row(_lit(ERR_UNAUTHORIZED), AuthError, RejectKind.UNAUTHORIZED),
    _row(_lit(ERR_POST_ONLY_MODE), VenueMode, RejectKind.POST_ONLY_MODE),
    _row(_lit(ERR_POST_ONLY_MODE_CODE), VenueMode, RejectKind.POST_ONLY_MODE),
    _row(_lit(ERR_CANCEL_ONLY), VenueMode, RejectKind.CANCEL_ONLY),
    _row(_lit(ERR_TRADING_DISABLED), VenueMode, RejectKind.TRADING_DISABLED),
    _row(_lit(ERR_ENGINE_RESTARTING), OutcomeUnknown, RejectKind.ENGINE_RESTARTING),
    _row(_lit(_ERR_CONTEXT_CANCELED), OutcomeUnknown, RejectKind.SYSTEM),
    # --- placement: expected (spec 5.2, 5.3, 4) ---
    _row(_lit(ERR_POST_ONLY_CROSSES), ExpectedReject, RejectKind.POST_ONLY_CROSSES),
    _row(_lit(ERR_FOK_NOT_FILLED), ExpectedReject, RejectKind.FOK_NOT_FILLED),
    _row(_lit(_ERR_FOK_INTERNAL), ExpectedReject, RejectKind.FOK_NOT_FILLED),
    _row(_lit(ERR_FAK_NO_MATCH), ExpectedReject, RejectKind.FAK_NO_MATCH),
    _row(_lit(_ERR_NO_MATCHING_ORDERS), ExpectedReject, RejectKind.NO_MATCH),
    # Non-post-only internal cross check: same cause as a post-only cross (the book moved under a maker
    # quote), so it is treated as expected rather than counted towards a backoff.
    _row(_fmt(ERR_CROSSES_BOOK_FMT), ExpectedReject, RejectKind.CROSSES_BOOK),
    # --- placement: rejected ---
    _row(_lit(ERR_POST_ONLY_WITH_MARKET_TYPE), OrderRejected, RejectKind.POST_ONLY_TYPE),
    _row(_lit(ERR_INVALID_PAYLOAD), OrderRejected, RejectKind.PAYLOAD),
    _row(_lit(ERR_INVALID_ORDER_ID), OrderRejected, RejectKind.INVALID_ORDER_ID),
    _row(_lit(ERR_OWNER_MISMATCH), OrderRejected, RejectKind.OWNER_MISMATCH),
    _row(_lit(ERR_SIGNER_MISMATCH), OrderRejected, RejectKind.SIGNER_MISMATCH),
    _row(_fmt(ERR_ADDRESS_BANNED_FMT), OrderRejected, RejectKind.BANNED),
    _row(_fmt(ERR_ADDRESS_CLOSED_ONLY_FMT), OrderRejected, RejectKind.CLOSED_ONLY),
    _row(_lit(ERR_ORDER_VERSION_MISMATCH), OrderRejected, RejectKind.VERSION_MISMATCH),
    _row(_fmt(ERR_TICK_FMT), OrderRejected, RejectKind.TICK),
    _row(_lit(_ERR_TICK_LEGACY), OrderRejected, RejectKind.TICK),
    _row(_fmt(ERR_MIN_SIZE_FMT), OrderRejected, RejectKind.MIN_SIZE),
    _row(_fmt(ERR_DUPLICATED_FMT), OrderRejected, RejectKind.DUPLICATED),
    _row(_lit(ERR_BALANCE_PREFIX), OrderRejected, RejectKind.BALANCE),
    _row(_lit(ERR_INVALID_EXPIRATION), OrderRejected, RejectKind.EXPIRATION),
    _row(_lit(_ERR_INVALID_NONCE), OrderRejected, RejectKind.NONCE),
    _row(_lit(ERR_MARKET_NOT_READY), OrderRejected, RejectKind.MARKET_NOT_READY),
    # Only the part before the amount: the tail is seen both as "min size: $1" and "min size: 1".
    _row(_lit(ERR_MARKETABLE_BUY_MIN_FMT.partition("{")[0]), OrderRejected, RejectKind.MARKETABLE_BUY_MIN),
    _row(_lit(ERR_MARKET_PRECISION), OrderRejected, RejectKind.PRECISION),
    _row(_lit(ERR_SELL_PRECISION), OrderRejected, RejectKind.PRECISION),
    _row(_lit(ERR_INVALID_AMOUNTS_PREFIX), OrderRejected, RejectKind.PRECISION),
    _row(_fmt(ERR_TOO_MANY_ORDERS_FMT), OrderRejected, RejectKind.BATCH_TOO_LARGE),
    _row(_fmt(ERR_TOO_MANY_CANCELS_FMT), OrderRejected, RejectKind.BATCH_TOO_LARGE),
    _row(_lit(_ERR_PAYLOAD_LIMIT), OrderRejected, RejectKind.BATCH_TOO_LARGE),
    _row(_lit(_ERR_ROUNDING), OrderRejected, RejectKind.ROUNDING),
    _row(_lit(_ERR_PRICE_DISCREPANCY), OrderRejected, RejectKind.PRICE_DISCREPANCY),
    # --- placement: system errors; whether the order was inserted is not known ---
    _row(_lit(ERR_COULD_NOT_INSERT), OutcomeUnknown, RejectKind.SYSTEM),
    _row(_lit(_ERR_RUN_EXECUTION), OutcomeUnknown, RejectKind.SYSTEM),
    _row(_lit(_ERR_DELAYING), OutcomeUnknown, RejectKind.SYSTEM),
    _row(_lit(_ERR_MATCH_DELAYED), OutcomeUnknown, RejectKind.DELAYED),
    # --- cancel reasons (spec 5.3 cancel table) ---
    *(_row(_lit(reason), ExpectedReject, RejectKind.ALREADY_DONE) for reason in CANCEL_REASON_ALREADY_DONE),
    _row(_ALREADY_DONE_RE, ExpectedReject, RejectKind.ALREADY_DONE),
    _row(_lit(CANCEL_REASON_NOT_FOUND), ExpectedReject, RejectKind.NOT_FOUND),
    _row(_lit(_STATUS_MARKET_RESOLVED), ExpectedReject, RejectKind.MARKET_RESOLVED),
    # --- reads, keys, heartbeat ---
    _row(_lit(_ERR_INVALID_TOKEN), OrderRejected, RejectKind.INVALID_TOKEN),
    _row(_lit(_ERR_NO_ORDERBOOK), OrderRejected, RejectKind.NO_ORDERBOOK),
    _row(_lit(_ERR_CREATE_API_KEY), OrderRejected, RejectKind.API_KEY_EXISTS),
    _row(_lit(_ERR_DERIVE_API_KEY), OrderRejected, RejectKind.API_KEY_MISSING),
    _row(_lit(ERR_INVALID_HEARTBEAT), InvalidHeartbeatId, RejectKind.INVALID_HEARTBEAT),
)

_HTTP_SUCCESS_MIN = 200
_HTTP_REDIRECT_MIN = 300
_HTTP_UNAUTHORIZED = 401
_HTTP_NOT_FOUND = 404
_HTTP_TOO_EARLY = 425  # matching engine restarting (spec 5.3, 9)
_HTTP_TOO_MANY_REQUESTS = 429
_HTTP_SERVER_ERROR_MIN = 500
_HTTP_CLIENT_ERROR_MIN = 400


def _match(message: str) -> _Row | None:
    for row in _TABLE:
        if row.pattern.search(message):
            return row
    return None


def classify(status: int | None, message: str) -> tuple[type[VenueError], RejectKind]:
    """The error class and kind for an HTTP status (None for a batch leg / cancel reason) and a venue text.

    Status decides first where the spec says it does (429, 425, 401, 5xx); otherwise the text table;
    an unknown text is `OrderRejected/UNKNOWN` on 4xx and legs, `OutcomeUnknown` on 5xx and odd statuses.
    """
    row = _match(message)
    if status == _HTTP_TOO_MANY_REQUESTS:
        return RateLimited, RejectKind.RATE_LIMITED
    if status == _HTTP_TOO_EARLY:
        return OutcomeUnknown, RejectKind.ENGINE_RESTARTING
    if status == _HTTP_UNAUTHORIZED:
        return AuthError, (row.kind if row is not None and row.cls is AuthError else RejectKind.UNAUTHORIZED)
    if status is not None and status >= _HTTP_SERVER_ERROR_MIN:
        # A 5xx only says "definitely nothing happened" when it names a venue mode; any other 5xx
        # (including a proxy's bare 503) leaves a write's outcome open.
        if row is not None and row.cls in (VenueMode, OutcomeUnknown):
            return row.cls, row.kind
        return OutcomeUnknown, RejectKind.SERVER_ERROR
    if row is not None:
        return row.cls, row.kind
    if status == _HTTP_NOT_FOUND:
        return OrderRejected, RejectKind.NOT_FOUND
    if status is None or _HTTP_CLIENT_ERROR_MIN <= status or _HTTP_SUCCESS_MIN <= status < _HTTP_REDIRECT_MIN:
        return OrderRejected, RejectKind.UNKNOWN
    # 1xx/3xx: nothing we asked for; treat like a broken exchange.
    return OutcomeUnknown, RejectKind.UNKNOWN


def error_for(
    status: int | None,
    message: str,
    *,
    endpoint: str = "",
    code: str = "",
    retry_after_s: float | None = None,
    expected_heartbeat_id: str = "",
    order_id: str = "",
) -> VenueError:
    """The typed exception for a status and venue text (see `classify`), with the extras its class carries.

    `code` is a machine-readable body field (`"post_only_mode"`), consulted when the text is not known.
    """
    cls, kind = classify(status, message)
    if code and kind in (RejectKind.UNKNOWN, RejectKind.SERVER_ERROR):
        cls, kind = classify(status, code)
    if cls is RateLimited:
        return RateLimited(
            message, retry_after_s=retry_after_s, status=status, endpoint=endpoint, order_id=order_id
        )
    if cls is VenueMode:
        return VenueMode(
            message,
            mode=_MODE_BY_KIND[kind],
            retry_after_s=retry_after_s,
            status=status,
            endpoint=endpoint,
            kind=kind,
            order_id=order_id,
        )
    if cls is InvalidHeartbeatId:
        return InvalidHeartbeatId(
            message, expected_id=expected_heartbeat_id, status=status, endpoint=endpoint, order_id=order_id
        )
    return cls(message, status=status, endpoint=endpoint, kind=kind, order_id=order_id)


def _retry_after_s(headers: Mapping[str, str], body: object) -> float | None:
    # The header wins; the 503 post-only body also carries `retry_after_seconds` (spec 5.3). An HTTP-date
    # Retry-After is not used by this venue (spec 7: seconds) and is ignored rather than guessed.
    raw = headers.get("retry-after") or headers.get("Retry-After")
    if raw is None and isinstance(body, dict):
        raw = body.get("retry_after_seconds")
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None


def _message_of(body: object, text: str) -> str:
    if isinstance(body, dict):
        for key in ("error", "error_msg", "errorMsg", "message"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    if isinstance(body, str) and body:
        return body
    return text.strip()


def error_from_response(
    status: int, content: bytes, headers: Mapping[str, str], *, endpoint: str = ""
) -> VenueError:
    """The typed exception for a non-2xx HTTP response: parses `{"error"|"error_msg": ...}` or plain text.

    Only call this for error responses: their bodies are venue messages, never credentials.
    """
    text = content.decode("utf-8", errors="replace")
    body: object
    try:
        body = json.loads(text) if text.strip() else None
    except ValueError:
        body = None
    message = _message_of(body, text) or f"HTTP {status}"
    expected_id = ""
    order_id = ""
    code = ""
    if isinstance(body, dict):
        raw_code = body.get("code")
        code = raw_code if isinstance(raw_code, str) else ""
        hb = body.get("heartbeat_id")
        expected_id = hb if isinstance(hb, str) else ""
        oid = body.get("orderID")
        order_id = oid if isinstance(oid, str) else ""
    return error_for(
        status,
        message,
        endpoint=endpoint,
        code=code,
        retry_after_s=_retry_after_s(headers, body),
        expected_heartbeat_id=expected_id,
        order_id=order_id,
    )
