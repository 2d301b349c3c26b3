"""What every route family shares: the venue's error shape, `RestConfig`, cursors and payload parsing.

Spec: docs/protocol/polymarket-clob.md §1 (shapes, cursors, status-by-message) and §5 (errors).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import Response

from bot.protocol.constants import (
    BATCH_CANCEL_MAX,
    BATCH_ORDERS_MAX,
    ERR_FAK_NO_MATCH,
    ERR_FOK_NOT_FILLED,
    ERR_INVALID_PAYLOAD,
    ERR_TOO_MANY_REQUESTS,
    POLYGON_CHAIN_ID,
)
from bot.sim.model import OrderRejected
from bot.sim.ratelimit import HEADER_RETRY_AFTER, SignerBucketKind, SignerLimiter, VenueRateLimitConfig

if TYPE_CHECKING:
    from bot.sim.apikeys import ApiKeyRecord, ApiKeyStore
    from bot.sim.engine import Exchange

__all__ = [
    "ADMIN_PREFIX",
    "BOOKS_MAX",
    "ERR_CREATE_API_KEY",
    "ERR_DERIVE_API_KEY",
    "ERR_INVALID_CURSOR",
    "ERR_INVALID_SIGNATURE",
    "ERR_INVALID_TOKEN",
    "ERR_MARKET_NOT_FOUND",
    "ERR_NO_ORDERBOOK",
    "ERR_PAYLOAD_LIMIT",
    "LEGACY_BASE_FEE_BPS",
    "Reject",
    "RestConfig",
    "RestContext",
    "decode_cursor",
    "encode_cursor",
    "error_response",
    "json_response",
    "num",
    "parse_json",
    "reject_from_engine",
    "same_secret",
    "signer_take",
    "status_for_message",
    "uint_text",
]

# --- venue texts not (yet) in bot/protocol/constants.py ----------------------------------------------
# source: spec 2.1 (create fails if the (address, nonce) pair has a key; derive fails if none)
ERR_CREATE_API_KEY = "Could not create api key"
ERR_DERIVE_API_KEY = "Could not derive api key!"
# source: 3P live errors, e.g. Polymarket/py-clob-client issues #94, #198, #288
# (`PolyApiException[status_code=400, error_message={'error': 'invalid signature'}]`); not in spec 5.3.
ERR_INVALID_SIGNATURE = "invalid signature"
# source: spec 1.3
ERR_INVALID_TOKEN = "Invalid token id"
ERR_NO_ORDERBOOK = "No orderbook exists for the requested token id"
# source: spec 1.1 (POST /books > 500 items → 400 "Payload exceeds the limit")
ERR_PAYLOAD_LIMIT = "Payload exceeds the limit"
BOOKS_MAX = 500
# UNCONFIRMED texts (simulator choices): unknown market / bad cursor.
ERR_MARKET_NOT_FOUND = "market not found"
ERR_INVALID_CURSOR = "invalid next_cursor"
# source: spec 1.1 fee-rate ("{"base_fee": 1000}" legacy bps on fee-enabled markets, 0 on fee-free ones)
LEGACY_BASE_FEE_BPS = 1000
# -------------------------------------------------------------------------------------------------------

ADMIN_PREFIX = "/_sim/admin"

_KILL_MESSAGES = frozenset({ERR_FOK_NOT_FILLED, ERR_FAK_NO_MATCH})


@dataclass(frozen=True, slots=True)
class RestConfig:
    """Tunables of the REST front; defaults are the spec's numbers, UNCONFIRMED points are switches."""

    chain_id: int = POLYGON_CHAIN_ID
    max_orders_per_batch: int = BATCH_ORDERS_MAX
    max_cancel_ids: int = BATCH_CANCEL_MAX
    max_books: int = BOOKS_MAX
    # UNCONFIRMED page size of /data/orders and /data/trades.
    page_size: int = 100
    verify_order_signatures: bool = True
    # POLY_TIMESTAMP (L1 and L2) more than this far from the venue's clock, either way, is a 401 (spec 2.2:
    # "Expired timestamps show up as 401"; users report about a minute of tolerance, exact window
    # UNCONFIRMED). A timestamp in milliseconds is therefore refused too. None = no check: for fronts on a
    # fake clock, where a client signing with the wall clock is not skewed in any meaningful sense.
    timestamp_tolerance_s: float | None = 60.0
    # Spec 2.1: derive fails without a prior create. True makes derive issue keys (lenient paper mode).
    derive_creates_missing: bool = False
    # DELETE /cancel-market-orders without market or asset_id: refused (current docs guide, "At least one
    # filter is required"; spec 1.1 note) or, False, like cancel-all (the older cancel page). UNCONFIRMED.
    cancel_market_requires_filter: bool = True
    # Cancels naming an id that is not 0x + 64 hex digits: 400 (spec 5.3 "malformed → Invalid orderID /
    # Invalid order payload"), instead of a 200 with the id in not_canceled. UNCONFIRMED which wins.
    reject_malformed_order_ids: bool = True
    # Bound on a `hang` fault, so a client that never gives up cannot pin a task forever.
    hang_max_s: float = 600.0
    rate_limits: VenueRateLimitConfig = field(default_factory=VenueRateLimitConfig)


@dataclass(slots=True)
class RestContext:
    """The state the route families share: the engine, the config, the keys, the clock, the limiter."""

    exchange: Exchange
    config: RestConfig
    keys: ApiKeyStore
    now_s: Callable[[], float]
    signer_limiter: SignerLimiter


def status_for_message(message: str, status: int) -> int:
    """Spec 1: the venue rewrites status by message text ("not found" → 404, "unauthorized" → 401,
    "context canceled" → 400)."""
    text = message.lower()
    if "not found" in text:
        return 404
    if "unauthorized" in text:
        return 401
    if "context canceled" in text:
        return 400
    return status


def num(value: float) -> float | int:
    """A number as the venue prints it: integral values without a fraction (`"mos":5`, `"e":1`)."""
    return int(value) if float(value).is_integer() else value


def json_response(obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(obj), status_code=status, headers=dict(headers or {}), media_type="application/json"
    )


def error_response(
    message: str,
    status: int = 400,
    *,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"error": message}
    if extra:
        body.update(extra)
    return json_response(body, status_for_message(message, status), headers)


class Reject(Exception):
    """A request refused with the venue's `{"error": ...}` body; `response()` renders it."""

    def __init__(
        self,
        message: str,
        status: int = 400,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def response(self, extra_headers: Mapping[str, str] | None = None) -> Response:
        return error_response(
            self.message, self.status, extra=self.extra, headers={**self.headers, **(extra_headers or {})}
        )


def reject_from_engine(exc: OrderRejected, order_id: str | None = None) -> Reject:
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if exc.code is not None:
        extra["code"] = exc.code
    if exc.retry_after_s is not None:
        headers[HEADER_RETRY_AFTER] = str(exc.retry_after_s)
        if exc.code is not None:
            extra["retry_after_seconds"] = exc.retry_after_s
    if order_id and exc.message in _KILL_MESSAGES:
        # 3P: "A 400 ... WITH an orderID in the body is a clean no-fill" (spec 4, FOK vs FAK).
        extra["orderID"] = order_id
    return Reject(exc.message, exc.status, extra=extra, headers=headers)


def same_secret(expected: str, given: str) -> bool:
    """Constant-time string equality that also accepts non-ASCII input (as bytes, never raising)."""
    return hmac.compare_digest(
        expected.encode("utf-8", "surrogateescape"), given.encode("utf-8", "surrogateescape")
    )


def encode_cursor(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        offset = int(base64.b64decode(cursor, validate=True).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Reject(ERR_INVALID_CURSOR) from None
    return offset


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Reject(ERR_INVALID_PAYLOAD) from None


def uint_text(value: Any) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if type(value) is int and value >= 0:
        return value
    raise Reject(ERR_INVALID_PAYLOAD)


def signer_take(
    ctx: RestContext, record: ApiKeyRecord, kind: SignerBucketKind, cost: int
) -> Mapping[str, str]:
    """Charge the per-signer limiter (spec 7(b)); the rate-limit headers, or Reject(429)."""
    decision = ctx.signer_limiter.take(record.address, kind, cost, ctx.now_s())
    if not decision.allowed:
        raise Reject(ERR_TOO_MANY_REQUESTS, 429, headers=decision.headers)
    return decision.headers
