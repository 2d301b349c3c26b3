"""The simulator's REST front: the CLOB V2 HTTP API as a Starlette ASGI app, byte-faithful where known.

Spec: docs/protocol/polymarket-clob.md sections 1 (endpoints, shapes, cursors, status-by-message),
2 (L1/L2 auth), 3.3 (order id = EIP-712 hash), 5 (errors and responses), 7 (rate limits), 10 (checklist).

Layers, outermost first (`SimRestApp.__call__`):
1. `/_sim/admin/...` goes straight to the admin routes: never faulted, never rate limited.
2. The fault plan (`bot.sim.faults`): latency, injected statuses, 429 bursts, hangs, dropped connections,
   and "landed" hangs/drops (the engine processes the request, the client never hears back).
3. The edge limiter (Cloudflare, spec 7(a)): short queueing, then 429 + Retry-After.
4. The Starlette routes: L1/L2 auth (HMAC over the raw body bytes and the path without query), order
   decoding and EIP-712 verification, the per-signer limiter (spec 7(b)), then the engine.

Admin (`/_sim/admin`, JSON): `GET|PUT|DELETE /faults` (the whole plan), `POST /faults/http` (append a
rule), `/faults/latency` ({family: s}), `/faults/user-events`, `/faults/ws` ({channel: frames}),
`POST /actions` (a `SimAction`: restart, cancel_only, tick_size, fail_trades, ws_disconnect, storm, …),
`GET /markets`, `GET /stats`.

Time: handlers read the engine's clock (`now_s`) and Trio's clock, never the wall clock, so the whole
front runs in-process under `httpx.ASGITransport` on Trio's fake clock.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from bot.protocol.auth import hmac_signature, verify_clob_auth
from bot.protocol.constants import (
    BATCH_CANCEL_MAX,
    BATCH_ORDERS_MAX,
    END_CURSOR,
    ERR_FAK_NO_MATCH,
    ERR_FOK_NOT_FILLED,
    ERR_INVALID_HEARTBEAT,
    ERR_INVALID_L1,
    ERR_INVALID_ORDER_ID,
    ERR_INVALID_PAYLOAD,
    ERR_ORDER_VERSION_MISMATCH,
    ERR_OWNER_MISMATCH,
    ERR_SIGNER_MISMATCH,
    ERR_TOO_MANY_CANCELS_FMT,
    ERR_TOO_MANY_ORDERS_FMT,
    ERR_TOO_MANY_REQUESTS,
    ERR_UNAUTHORIZED,
    INITIAL_CURSOR,
    ORDER_TYPES,
    POLYGON_CHAIN_ID,
)
from bot.protocol.signing import recover_order_signer
from bot.sim.apikeys import ApiKeyExists, ApiKeyRecord, ApiKeyStore
from bot.sim.faults import FaultController, FaultPlan, HttpFault, SimAction, UserEventFaults, fault_family
from bot.sim.gamma import build_gamma_app, market_state
from bot.sim.heartbeats import HeartbeatMismatch
from bot.sim.model import NewOrder, OrderRejected
from bot.sim.ratelimit import (
    HEADER_RETRY_AFTER,
    EdgeLimiter,
    SignerBucketKind,
    SignerLimiter,
    VenueRateLimitConfig,
    endpoint_family,
)

if TYPE_CHECKING:
    from bot.sim.engine import Exchange

__all__ = [
    "ADMIN_PREFIX",
    "ConnectionDropped",
    "RestConfig",
    "SimRestApp",
    "status_for_message",
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

# V1 order fields that V2 dropped, and V2 fields V1 lacked (spec 3.2, 3.5).
_V1_ONLY_FIELDS = frozenset({"taker", "nonce", "feeRateBps"})
_V2_REQUIRED_FIELDS = frozenset({"timestamp", "metadata", "builder"})
_KILL_MESSAGES = frozenset({ERR_FOK_NOT_FILLED, ERR_FAK_NO_MATCH})
# What a CDN in front of an API serves when its origin fails: a 200 page that is not JSON.
_GARBAGE_BODY = "<html><body>502 Bad Gateway</body></html>"
_DEFAULT_FAULT_TEXT = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class ConnectionDropped(Exception):
    """Raised by the app to cut the connection mid-response (fault `drop`); transports map it."""


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
    # UNCONFIRMED POLY_TIMESTAMP tolerance (spec 2.2); None = no check (clients use their own clocks).
    timestamp_tolerance_s: float | None = None
    # Spec 2.1: derive fails without a prior create. True makes derive issue keys (lenient paper mode).
    derive_creates_missing: bool = False
    # Bound on a `hang` fault, so a client that never gives up cannot pin a task forever.
    hang_max_s: float = 600.0
    rate_limits: VenueRateLimitConfig = field(default_factory=VenueRateLimitConfig)


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


def _num(value: float) -> float | int:
    """A number as the venue prints it: integral values without a fraction (`"mos":5`, `"e":1`)."""
    return int(value) if float(value).is_integer() else value


def _json(obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(obj), status_code=status, headers=dict(headers or {}), media_type="application/json"
    )


def _error(
    message: str,
    status: int = 400,
    *,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"error": message}
    if extra:
        body.update(extra)
    return _json(body, status_for_message(message, status), headers)


class _Reject(Exception):
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
        return _error(
            self.message, self.status, extra=self.extra, headers={**self.headers, **(extra_headers or {})}
        )


def _reject_from_engine(exc: OrderRejected, order_id: str | None = None) -> _Reject:
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
    return _Reject(exc.message, exc.status, extra=extra, headers=headers)


def _same(expected: str, given: str) -> bool:
    """Constant-time string equality that also accepts non-ASCII input (as bytes, never raising)."""
    return hmac.compare_digest(
        expected.encode("utf-8", "surrogateescape"), given.encode("utf-8", "surrogateescape")
    )


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        offset = int(base64.b64decode(cursor, validate=True).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _Reject(ERR_INVALID_CURSOR) from None
    return offset


def _parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _Reject(ERR_INVALID_PAYLOAD) from None


def _is_v1_order(order: Mapping[str, Any]) -> bool:
    return bool(_V1_ONLY_FIELDS & order.keys()) or not _V2_REQUIRED_FIELDS <= order.keys()


def _uint_text(value: Any) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if type(value) is int and value >= 0:
        return value
    raise _Reject(ERR_INVALID_PAYLOAD)


class SimRestApp:
    """The simulator's venue-faithful REST front (ASGI); see the module docstring for the layers.

    Attributes tests reach for: `plan` (the `FaultPlan`), `keys` (the `ApiKeyStore`), `controller`.
    """

    def __init__(
        self,
        exchange: Exchange,
        *,
        now_s: Callable[[], float],
        keys: ApiKeyStore | None = None,
        plan: FaultPlan | None = None,
        controller: FaultController | None = None,
        config: RestConfig | None = None,
        hub_stats: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        self.exchange = exchange
        self.config = config or RestConfig()
        self.keys = keys if keys is not None else ApiKeyStore()  # an empty store is falsy (__len__)
        self.plan = plan or FaultPlan()
        self.controller = controller
        self._now_s = now_s
        self._hub_stats = hub_stats
        self._edge = EdgeLimiter(self.config.rate_limits)
        self._signer = SignerLimiter(self.config.rate_limits)
        self._counts: Counter[str] = Counter()
        routes = [
            Route("/", self._ok, methods=["GET"]),
            Route("/ok", self._ok, methods=["GET"]),
            Route("/time", self._time, methods=["GET"]),
            Route("/version", self._version, methods=["GET"]),
            Route("/tick-size", self._tick_size, methods=["GET"]),
            Route("/tick-size/{token_id}", self._tick_size, methods=["GET"]),
            Route("/neg-risk", self._neg_risk, methods=["GET"]),
            Route("/fee-rate", self._fee_rate, methods=["GET"]),
            Route("/clob-markets/{condition_id}", self._clob_market, methods=["GET"]),
            Route("/markets-by-token/{token_id}", self._market_by_token, methods=["GET"]),
            Route("/markets/{condition_id}", self._market, methods=["GET"]),
            Route("/book", self._book, methods=["GET"]),
            Route("/books", self._books, methods=["POST"]),
            Route("/auth/api-key", self._create_api_key, methods=["POST"]),
            Route("/auth/api-key", self._delete_api_key, methods=["DELETE"]),
            Route("/auth/derive-api-key", self._derive_api_key, methods=["GET"]),
            Route("/auth/api-keys", self._api_keys, methods=["GET"]),
            Route("/auth/ban-status/closed-only", self._closed_only, methods=["GET"]),
            Route("/order", self._post_order, methods=["POST"]),
            Route("/orders", self._post_orders, methods=["POST"]),
            Route("/order", self._cancel_order, methods=["DELETE"]),
            Route("/orders", self._cancel_orders, methods=["DELETE"]),
            Route("/cancel-all", self._cancel_all, methods=["DELETE"]),
            Route("/cancel-market-orders", self._cancel_market_orders, methods=["DELETE"]),
            Route("/data/orders", self._open_orders, methods=["GET"]),
            Route("/data/order/{order_id}", self._get_order, methods=["GET"]),
            Route("/data/trades", self._trades, methods=["GET"]),
            Route("/v1/heartbeats", self._heartbeat, methods=["POST"]),
            Route("/balance-allowance", self._balance, methods=["GET"]),
            Route("/balance-allowance/update", self._balance, methods=["GET"]),
            Mount("/gamma", app=build_gamma_app(exchange, now_s=now_s)),
            Mount(ADMIN_PREFIX, routes=self._admin_routes()),
        ]
        self._app = Starlette(routes=routes)

    def __repr__(self) -> str:
        return f"<SimRestApp requests={sum(self._counts.values())} keys={len(self.keys)}>"

    # --- the outer layers -------------------------------------------------------------------------

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self._app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        family = fault_family(method, path)
        self._counts[family or "other"] += 1  # by family: paths carry ids, families are a fixed set
        decision = self.plan.http_decision(family)
        if decision.latency_s > 0:
            await trio.sleep(decision.latency_s)
        fault = decision.fault
        if fault is not None and not (fault.landed and fault.kind in ("hang", "drop")):
            await self._inject(fault, receive, send)
            return
        client = (scope.get("client") or ("?", 0))[0]
        edge = self._edge.check(client, endpoint_family(method, path))
        if not edge.allowed:
            response = _error(
                ERR_TOO_MANY_REQUESTS, 429, headers={HEADER_RETRY_AFTER: str(edge.retry_after_s)}
            )
            await response(scope, receive, send)
            return
        if edge.wait_s > 0:
            await trio.sleep(edge.wait_s)
        if fault is None:
            await self._app(scope, receive, send)
            return

        # A landed fault: the venue does the work, the answer is lost on the way back.
        async def discard(message: Mapping[str, Any]) -> None:
            return None

        await self._app(scope, receive, discard)
        await self._inject(fault, receive, send)

    async def _inject(self, fault: HttpFault, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if fault.kind == "status":
            await self._send_raw(
                send, fault.status, {"error": fault.message or _DEFAULT_FAULT_TEXT.get(fault.status, "error")}
            )
        elif fault.kind == "rate_limit":
            headers = {HEADER_RETRY_AFTER: str(fault.retry_after_s)}
            await self._send_raw(send, 429, {"error": fault.message or ERR_TOO_MANY_REQUESTS}, headers)
        elif fault.kind == "garbage":
            payload = (fault.message if fault.message is not None else _GARBAGE_BODY).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
        elif fault.kind == "hang":
            # No answer until the client gives up (it disconnects, or cancels the in-process call).
            with trio.move_on_after(self.config.hang_max_s):
                while (await receive())["type"] != "http.disconnect":
                    pass
        else:  # drop: promise a body, then cut the connection
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]}
            )
            raise ConnectionDropped("simulated connection drop")

    @staticmethod
    async def _send_raw(
        send: Callable[..., Any], status: int, body: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        payload = orjson.dumps(body)
        raw_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": payload})

    # --- auth -------------------------------------------------------------------------------------

    def _l2(self, request: Request, body: bytes) -> ApiKeyRecord:
        """The API key record of a valid L2 request; _Reject(401 Unauthorized/Invalid api key) otherwise."""
        headers = request.headers
        api_key = headers.get("poly_api_key")
        signature = headers.get("poly_signature")
        timestamp = headers.get("poly_timestamp")
        passphrase = headers.get("poly_passphrase")
        address = headers.get("poly_address")
        if not (api_key and signature and timestamp and passphrase and address):
            raise _Reject(ERR_UNAUTHORIZED, 401)
        record = self.keys.get(api_key)
        if record is None or not _same(record.creds.passphrase, passphrase):
            raise _Reject(ERR_UNAUTHORIZED, 401)
        if record.address.lower() != address.lower():
            raise _Reject(ERR_UNAUTHORIZED, 401)
        if not self._timestamp_ok(timestamp):
            raise _Reject(ERR_UNAUTHORIZED, 401)
        try:
            expected = hmac_signature(record.creds.secret, timestamp, request.method, request.url.path, body)
        except (ValueError, binascii.Error):
            raise _Reject(ERR_UNAUTHORIZED, 401) from None
        if not _same(expected, signature):
            raise _Reject(ERR_UNAUTHORIZED, 401)
        return record

    def _timestamp_ok(self, timestamp: str) -> bool:
        if not timestamp.isascii() or not timestamp.isdigit():
            return False
        tolerance = self.config.timestamp_tolerance_s
        return tolerance is None or abs(int(timestamp) - self._now_s()) <= tolerance

    def _l1(self, request: Request) -> tuple[str, int]:
        """(address, nonce) of a valid L1 request; _Reject(401 Invalid L1 Request headers) otherwise."""
        headers = request.headers
        address = headers.get("poly_address")
        signature = headers.get("poly_signature")
        timestamp = headers.get("poly_timestamp")
        nonce_text = headers.get("poly_nonce", "0")
        if not (address and signature and timestamp) or not nonce_text.isascii() or not nonce_text.isdigit():
            raise _Reject(ERR_INVALID_L1, 401)
        nonce = int(nonce_text)
        if not self._timestamp_ok(timestamp):
            raise _Reject(ERR_INVALID_L1, 401)
        if not verify_clob_auth(address, signature, timestamp, nonce, self.config.chain_id):
            raise _Reject(ERR_INVALID_L1, 401)
        return address, nonce

    @staticmethod
    def _creds_body(record: ApiKeyRecord) -> dict[str, str]:
        return {
            "apiKey": record.creds.api_key,
            "secret": record.creds.secret,
            "passphrase": record.creds.passphrase,
        }

    def _issue(self, address: str, nonce: int) -> ApiKeyRecord:
        record = self.keys.create(address, nonce)
        # Each account that gets credentials is a funded paper account (idempotent).
        self.exchange.ensure_account(address)
        self.exchange.register_api_key(record.api_key, address)
        return record

    async def _create_api_key(self, request: Request) -> Response:
        try:
            address, nonce = self._l1(request)
            try:
                record = self._issue(address, nonce)
            except ApiKeyExists:
                raise _Reject(ERR_CREATE_API_KEY) from None
        except _Reject as rej:
            return rej.response()
        return _json(self._creds_body(record))

    async def _derive_api_key(self, request: Request) -> Response:
        try:
            address, nonce = self._l1(request)
        except _Reject as rej:
            return rej.response()
        record = self.keys.derive(address, nonce)
        if record is None:
            if not self.config.derive_creates_missing:
                return _error(ERR_DERIVE_API_KEY)
            record = self._issue(address, nonce)
        self.exchange.ensure_account(address)
        return _json(self._creds_body(record))

    async def _api_keys(self, request: Request) -> Response:
        try:
            record = self._l2(request, await request.body())
        except _Reject as rej:
            return rej.response()
        return _json({"apiKeys": self.keys.keys_for(record.address)})

    async def _delete_api_key(self, request: Request) -> Response:
        try:
            record = self._l2(request, await request.body())
        except _Reject as rej:
            return rej.response()
        self.keys.delete(record.api_key)
        return _json("OK")

    async def _closed_only(self, request: Request) -> Response:
        try:
            self._l2(request, await request.body())
        except _Reject as rej:
            return rej.response()
        return _json({"closed_only": False})

    # --- public market data -----------------------------------------------------------------------

    async def _ok(self, request: Request) -> Response:
        return _json("OK")

    async def _time(self, request: Request) -> Response:
        # A bare integer of unix seconds (SDKs use it directly as POLY_TIMESTAMP).
        return _json(int(self._now_s()))

    async def _version(self, request: Request) -> Response:
        return _json({"version": 2})

    def _token_param(self, request: Request) -> str:
        token_id = request.path_params.get("token_id") or request.query_params.get("token_id")
        if not token_id:
            raise _Reject(ERR_INVALID_TOKEN)
        if self.exchange.market_by_token(token_id) is None:
            raise _Reject(ERR_MARKET_NOT_FOUND, 404)
        return token_id

    async def _tick_size(self, request: Request) -> Response:
        try:
            token_id = self._token_param(request)
        except _Reject as rej:
            return rej.response()
        return _json({"minimum_tick_size": float(self.exchange.tick_size(token_id))})

    async def _neg_risk(self, request: Request) -> Response:
        try:
            token_id = self._token_param(request)
        except _Reject as rej:
            return rej.response()
        return _json({"neg_risk": bool(self.exchange.neg_risk(token_id))})

    async def _fee_rate(self, request: Request) -> Response:
        try:
            token_id = self._token_param(request)
        except _Reject as rej:
            return rej.response()
        spec = self.exchange.market_by_token(token_id)
        return _json({"base_fee": LEGACY_BASE_FEE_BPS if spec.fee_rate > 0 else 0})

    async def _clob_market(self, request: Request) -> Response:
        spec = self.exchange.market_by_condition(request.path_params["condition_id"])
        if spec is None:
            return _error(ERR_MARKET_NOT_FOUND, 404)
        state = market_state(self.exchange, spec, self._now_s())
        fee_enabled = spec.fee_rate > 0
        base_fee = LEGACY_BASE_FEE_BPS if fee_enabled else 0
        return _json(
            {
                "c": spec.condition_id,
                "t": [
                    {"t": spec.yes_token_id, "o": spec.outcomes[0]},
                    {"t": spec.no_token_id, "o": spec.outcomes[1]},
                ],
                "mts": float(state.tick_size),
                "mos": _num(spec.min_order_size),
                "nr": spec.neg_risk,
                "fd": {"r": _num(spec.fee_rate), "e": _num(spec.fee_exponent), "to": True},
                "mbf": base_fee,
                "tbf": base_fee,
                "ao": state.accepting_orders,
                "sd": 0,
                "itode": spec.taker_delay_s > 0,
            }
        )

    async def _market_by_token(self, request: Request) -> Response:
        spec = self.exchange.market_by_token(request.path_params["token_id"])
        if spec is None:
            return _error(ERR_MARKET_NOT_FOUND, 404)
        token_id = request.path_params["token_id"]
        return _json(
            {
                "condition_id": spec.condition_id,
                "primary_token_id": spec.yes_token_id,
                "secondary_token_id": spec.no_token_id,
                "token_id": token_id,
            }
        )

    async def _market(self, request: Request) -> Response:
        spec = self.exchange.market_by_condition(request.path_params["condition_id"])
        if spec is None:
            return _error(ERR_MARKET_NOT_FOUND, 404)
        state = market_state(self.exchange, spec, self._now_s())
        fee = LEGACY_BASE_FEE_BPS if spec.fee_rate > 0 else 0
        return _json(
            {
                "enable_order_book": True,
                "active": state.active,
                "closed": state.closed,
                "archived": False,
                "accepting_orders": state.accepting_orders,
                "accepting_order_timestamp": state.accepting_orders_iso,
                "minimum_order_size": _num(spec.min_order_size),
                "minimum_tick_size": float(state.tick_size),
                "condition_id": spec.condition_id,
                "question_id": spec.condition_id,
                "question": spec.question,
                "description": spec.question,
                "market_slug": spec.slug,
                "end_date_iso": state.end_iso,
                "game_start_time": None,
                "seconds_delay": 0,
                "fpmm": "",
                "maker_base_fee": fee,
                "taker_base_fee": fee,
                "notifications_enabled": False,
                "neg_risk": spec.neg_risk,
                "neg_risk_market_id": "",
                "neg_risk_request_id": "",
                "is_50_50_outcome": False,
                "tokens": [
                    {
                        "token_id": spec.yes_token_id,
                        "outcome": spec.outcomes[0],
                        "price": state.prices[0],
                        "winner": False,
                    },
                    {
                        "token_id": spec.no_token_id,
                        "outcome": spec.outcomes[1],
                        "price": state.prices[1],
                        "winner": False,
                    },
                ],
                "tags": ["Crypto"],
            }
        )

    async def _book(self, request: Request) -> Response:
        token_id = request.query_params.get("token_id")
        if not token_id:
            return _error(ERR_INVALID_TOKEN)
        if self.exchange.market_by_token(token_id) is None:
            return _error(ERR_NO_ORDERBOOK, 404)
        return _json(self.exchange.book(token_id))

    async def _books(self, request: Request) -> Response:
        try:
            items = _parse_json(await request.body())
        except _Reject as rej:
            return rej.response()
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return _error(ERR_INVALID_PAYLOAD)
        if len(items) > self.config.max_books:
            return _error(ERR_PAYLOAD_LIMIT)
        tokens = {str(i.get("token_id")) for i in items if i.get("token_id")}
        known = sorted(t for t in tokens if self.exchange.market_by_token(t) is not None)
        # Order is not preserved and unknown tokens are dropped silently (spec 1.1); sorted by id here.
        return _json([self.exchange.book(t) for t in known])

    # --- orders -----------------------------------------------------------------------------------

    def _decode_order(self, item: Any, record: ApiKeyRecord) -> NewOrder:
        """A validated NewOrder from one SendOrder object; _Reject with the venue's text otherwise."""
        if not isinstance(item, dict) or not isinstance(item.get("order"), dict):
            raise _Reject(ERR_INVALID_PAYLOAD)
        order = item["order"]
        if _is_v1_order(order):
            raise _Reject(ERR_ORDER_VERSION_MISMATCH)
        owner = item.get("owner")
        order_type = item.get("orderType", "GTC")
        post_only = item.get("postOnly", False)
        defer_exec = item.get("deferExec", False)
        if not isinstance(owner, str) or order_type not in ORDER_TYPES:
            raise _Reject(ERR_INVALID_PAYLOAD)
        if not isinstance(post_only, bool) or not isinstance(defer_exec, bool):
            raise _Reject(ERR_INVALID_PAYLOAD)
        if owner != record.api_key:
            raise _Reject(ERR_OWNER_MISMATCH)
        signer = order.get("signer")
        if not isinstance(signer, str) or signer.lower() != record.address.lower():
            raise _Reject(ERR_SIGNER_MISMATCH)
        token_id = order.get("tokenId")
        if not isinstance(token_id, str):
            raise _Reject(ERR_INVALID_PAYLOAD)
        spec = self.exchange.market_by_token(token_id)
        neg_risk = bool(spec.neg_risk) if spec is not None else False
        try:
            order_id, recovered = recover_order_signer(
                order, neg_risk=neg_risk, chain_id=self.config.chain_id
            )
        except ValueError:
            raise _Reject(ERR_INVALID_PAYLOAD) from None
        if self.config.verify_order_signatures and recovered.lower() != signer.lower():
            raise _Reject(ERR_INVALID_SIGNATURE)
        maker = order.get("maker")
        if not isinstance(maker, str):
            raise _Reject(ERR_INVALID_PAYLOAD)
        return NewOrder(
            order_id=order_id,
            owner=owner,
            maker_address=maker,
            signer=signer,
            token_id=token_id,
            side=order["side"],
            maker_amount=_uint_text(order.get("makerAmount")),
            taker_amount=_uint_text(order.get("takerAmount")),
            order_type=order_type,
            post_only=post_only,
            expiration=_uint_text(order.get("expiration", "0")),
            timestamp_ms=_uint_text(order.get("timestamp")),
        )

    def _place(self, new: NewOrder) -> dict[str, Any]:
        try:
            result = self.exchange.place(new)
        except OrderRejected as exc:
            raise _reject_from_engine(exc, new.order_id) from None
        return {
            "success": True,
            "orderID": result.order_id,
            "status": result.status,
            "makingAmount": result.making_amount,
            "takingAmount": result.taking_amount,
            "transactionsHashes": [],
            "tradeIDs": list(result.trade_ids),
            "errorMsg": "",
        }

    def _signer_take(self, record: ApiKeyRecord, kind: SignerBucketKind, cost: int) -> Mapping[str, str]:
        decision = self._signer.take(record.address, kind, cost, self._now_s())
        if not decision.allowed:
            raise _Reject(ERR_TOO_MANY_REQUESTS, 429, headers=decision.headers)
        return decision.headers

    async def _post_order(self, request: Request) -> Response:
        limit_headers: Mapping[str, str] = {}
        try:
            body = await request.body()
            record = self._l2(request, body)
            item = _parse_json(body)
            limit_headers = self._signer_take(record, SignerBucketKind.ORDER, 1)
            return _json(self._place(self._decode_order(item, record)), headers=limit_headers)
        except _Reject as rej:
            return rej.response(limit_headers)

    async def _post_orders(self, request: Request) -> Response:
        limit_headers: Mapping[str, str] = {}
        try:
            body = await request.body()
            record = self._l2(request, body)
            items = _parse_json(body)
            if not isinstance(items, list) or not items:
                raise _Reject(ERR_INVALID_PAYLOAD)
            if len(items) > self.config.max_orders_per_batch:
                raise _Reject(
                    ERR_TOO_MANY_ORDERS_FMT.format(n=len(items), max=self.config.max_orders_per_batch)
                )
            if any(
                isinstance(i, dict) and isinstance(i.get("order"), dict) and _is_v1_order(i["order"])
                for i in items
            ):
                raise _Reject(ERR_ORDER_VERSION_MISMATCH)
            limit_headers = self._signer_take(record, SignerBucketKind.ORDER, len(items))
            results = []
            for item in items:
                try:
                    results.append(self._place(self._decode_order(item, record)))
                except _Reject as rej:
                    if rej.status in (425, 503) and rej.extra.get("code") is None:
                        # Restart / cancel-only / disabled refuse the whole request (spec 5.4).
                        raise
                    results.append(
                        {
                            "errorMsg": rej.message,
                            "orderID": "",
                            "takingAmount": "",
                            "makingAmount": "",
                            "status": "",
                            "success": True,
                        }
                    )
            return _json(results, headers=limit_headers)
        except _Reject as rej:
            return rej.response(limit_headers)

    # --- cancels ----------------------------------------------------------------------------------

    @staticmethod
    def _engine_cancel(
        call: Callable[[], tuple[list[str], dict[str, str]]],
    ) -> tuple[list[str], dict[str, str]]:
        try:
            return call()
        except OrderRejected as exc:  # 425 while the engine restarts, too many ids
            raise _reject_from_engine(exc) from None

    @staticmethod
    def _cancel_body(canceled: list[str], not_canceled: Mapping[str, str]) -> dict[str, Any]:
        return {"canceled": list(canceled), "not_canceled": dict(not_canceled)}

    async def _cancel_order(self, request: Request) -> Response:
        limit_headers: Mapping[str, str] = {}
        try:
            body = await request.body()
            record = self._l2(request, body)
            payload = _parse_json(body)
            if not isinstance(payload, dict):
                raise _Reject(ERR_INVALID_PAYLOAD)
            order_id = payload.get("orderID")
            if not isinstance(order_id, str) or not order_id:
                raise _Reject(ERR_INVALID_ORDER_ID)
            limit_headers = self._signer_take(record, SignerBucketKind.CANCEL, 1)
            canceled, not_canceled = self._engine_cancel(
                lambda: self.exchange.cancel(record.api_key, [order_id])
            )
            return _json(self._cancel_body(canceled, not_canceled), headers=limit_headers)
        except _Reject as rej:
            return rej.response(limit_headers)

    async def _cancel_orders(self, request: Request) -> Response:
        limit_headers: Mapping[str, str] = {}
        try:
            body = await request.body()
            record = self._l2(request, body)
            ids = _parse_json(body)
            if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
                raise _Reject(ERR_INVALID_PAYLOAD)
            if len(ids) > self.config.max_cancel_ids:
                raise _Reject(ERR_TOO_MANY_CANCELS_FMT.format(max=self.config.max_cancel_ids))
            limit_headers = self._signer_take(record, SignerBucketKind.CANCEL, max(1, len(ids)))
            # Duplicate ids in one batch are ignored (spec 5.4).
            unique_ids = list(dict.fromkeys(ids))
            canceled, not_canceled = self._engine_cancel(
                lambda: self.exchange.cancel(record.api_key, unique_ids)
            )
            return _json(self._cancel_body(canceled, not_canceled), headers=limit_headers)
        except _Reject as rej:
            return rej.response(limit_headers)

    def _cancel_precheck(self, record: ApiKeyRecord) -> None:
        decision = self._signer.precheck(record.address, SignerBucketKind.CANCEL, self._now_s())
        if not decision.allowed:
            raise _Reject(ERR_TOO_MANY_REQUESTS, 429, headers=decision.headers)

    async def _cancel_all(self, request: Request) -> Response:
        try:
            record = self._l2(request, await request.body())
            self._cancel_precheck(record)
            canceled, not_canceled = self._engine_cancel(lambda: self.exchange.cancel_all(record.api_key))
        except _Reject as rej:
            return rej.response()
        # Charged after the fact: 1 + the number actually cancelled (spec 7(b)).
        headers = self._signer.debit(
            record.address, SignerBucketKind.CANCEL, 1 + len(canceled), self._now_s()
        )
        return _json(self._cancel_body(canceled, not_canceled), headers=headers)

    async def _cancel_market_orders(self, request: Request) -> Response:
        try:
            body = await request.body()
            record = self._l2(request, body)
            payload = _parse_json(body) if body else {}
            if not isinstance(payload, dict):
                raise _Reject(ERR_INVALID_PAYLOAD)
            market = payload.get("market") or None
            asset_id = payload.get("asset_id") or None
            if not all(v is None or isinstance(v, str) for v in (market, asset_id)):
                raise _Reject(ERR_INVALID_PAYLOAD)
            self._cancel_precheck(record)
            # Neither filter: like cancel-all (spec 1.1 note, UNCONFIRMED which behaviour is current).
            canceled, not_canceled = self._engine_cancel(
                lambda: self.exchange.cancel_market(record.api_key, market=market, asset_id=asset_id)
            )
        except _Reject as rej:
            return rej.response()
        headers = self._signer.debit(
            record.address, SignerBucketKind.CANCEL, 1 + len(canceled), self._now_s()
        )
        return _json(self._cancel_body(canceled, not_canceled), headers=headers)

    # --- account data -----------------------------------------------------------------------------

    def _page(self, items: list[dict[str, Any]], cursor: str | None) -> dict[str, Any]:
        if cursor == END_CURSOR:
            return {"limit": self.config.page_size, "count": 0, "next_cursor": END_CURSOR, "data": []}
        offset = _decode_cursor(cursor or INITIAL_CURSOR)
        if offset < 0:
            raise _Reject(ERR_INVALID_CURSOR)
        page = items[offset : offset + self.config.page_size]
        end = offset + len(page)
        next_cursor = _encode_cursor(end) if end < len(items) else END_CURSOR
        return {"limit": self.config.page_size, "count": len(page), "next_cursor": next_cursor, "data": page}

    async def _open_orders(self, request: Request) -> Response:
        try:
            record = self._l2(request, await request.body())
            q = request.query_params
            orders = self.exchange.open_orders(
                record.api_key,
                market=q.get("market") or None,
                asset_id=q.get("asset_id") or None,
                order_id=q.get("id") or None,
            )
            return _json(self._page(list(orders), q.get("next_cursor")))
        except _Reject as rej:
            return rej.response()

    async def _get_order(self, request: Request) -> Response:
        try:
            record = self._l2(request, await request.body())
        except _Reject as rej:
            return rej.response()
        # Unknown (or, if the engine says so, finished) orders: an empty `null` body (spec 1.1).
        return _json(self.exchange.get_order(record.api_key, request.path_params["order_id"]))

    async def _trades(self, request: Request) -> Response:
        try:
            record = self._l2(request, await request.body())
            q = request.query_params
            after_s = int(q["after"]) if q.get("after", "").isdigit() else None
            before_s = int(q["before"]) if q.get("before", "").isdigit() else None
            trades = list(
                self.exchange.trades(
                    record.api_key,
                    market=q.get("market") or None,
                    asset_id=q.get("asset_id") or None,
                    trade_id=q.get("id") or None,
                    after_s=after_s,
                )
            )
            if before_s is not None:
                trades = [t for t in trades if int(t.get("match_time", "0")) < before_s]
            maker = q.get("maker_address")
            if maker:
                trades = [t for t in trades if str(t.get("maker_address", "")).lower() == maker.lower()]
            return _json(self._page(trades, q.get("next_cursor")))
        except _Reject as rej:
            return rej.response()

    async def _heartbeat(self, request: Request) -> Response:
        try:
            body = await request.body()
            record = self._l2(request, body)
            payload = _parse_json(body) if body else {}
            if not isinstance(payload, dict):
                raise _Reject(ERR_INVALID_PAYLOAD)
            heartbeat_id = payload.get("heartbeat_id") or ""
            if not isinstance(heartbeat_id, str):
                raise _Reject(ERR_INVALID_PAYLOAD)
        except _Reject as rej:
            return rej.response()
        try:
            next_id = self.exchange.heartbeat(record.api_key, heartbeat_id)
        except HeartbeatMismatch as exc:
            # Not the usual {"error"} shape (spec 1.4).
            return _json({"error_msg": ERR_INVALID_HEARTBEAT, "heartbeat_id": exc.expected_id}, 400)
        return _json({"heartbeat_id": next_id})

    async def _balance(self, request: Request) -> Response:
        try:
            record = self._l2(request, await request.body())
        except _Reject as rej:
            return rej.response()
        q = request.query_params
        asset_type = (q.get("asset_type") or "COLLATERAL").upper()
        if asset_type not in ("COLLATERAL", "CONDITIONAL"):
            return _error(ERR_INVALID_PAYLOAD)
        token_id = q.get("token_id") or None
        if asset_type == "CONDITIONAL" and token_id is None:
            return _error(ERR_INVALID_TOKEN)
        try:
            return _json(self.exchange.balance(record.address, asset_type, token_id))
        except (ValueError, KeyError):
            return _error(ERR_INVALID_TOKEN)

    # --- admin (never faulted, never rate limited) ------------------------------------------------

    def _admin_routes(self) -> list[Route]:
        async def get_faults(request: Request) -> Response:
            return _json(self.plan.model_dump(mode="json"))

        async def put_faults(request: Request) -> Response:
            try:
                self.plan.replace_with(FaultPlan.model_validate_json(await request.body()))
            except ValueError as exc:
                return _json({"error": str(exc)}, 400)
            return _json(self.plan.model_dump(mode="json"))

        async def clear_faults(request: Request) -> Response:
            self.plan.clear()
            return _json(self.plan.model_dump(mode="json"))

        async def add_http_fault(request: Request) -> Response:
            try:
                self.plan.http.append(HttpFault.model_validate_json(await request.body()))
            except ValueError as exc:
                return _json({"error": str(exc)}, 400)
            return _json(self.plan.model_dump(mode="json"))

        async def set_latency(request: Request) -> Response:
            try:
                values = orjson.loads(await request.body())
                if not isinstance(values, dict) or not all(
                    isinstance(v, int | float) and v >= 0 for v in values.values()
                ):
                    raise ValueError("latency must be an object of family -> seconds >= 0")
            except ValueError as exc:
                return _json({"error": str(exc)}, 400)
            self.plan.latency_s.update({str(k): float(v) for k, v in values.items()})
            return _json(self.plan.model_dump(mode="json"))

        async def set_user_events(request: Request) -> Response:
            try:
                self.plan.user_events = UserEventFaults.model_validate_json(await request.body())
            except ValueError as exc:
                return _json({"error": str(exc)}, 400)
            return _json(self.plan.model_dump(mode="json"))

        async def set_ws(request: Request) -> Response:
            try:
                values = orjson.loads(await request.body())
                if not isinstance(values, dict) or not set(values) <= {"market", "user"}:
                    raise ValueError("ws faults must be an object with 'market' and/or 'user' frame counts")
                update = {k: int(v) for k, v in values.items()}
            except (ValueError, TypeError) as exc:
                return _json({"error": str(exc)}, 400)
            self.plan.ws_drop_after_frames.update(update)  # type: ignore[arg-type]
            return _json(self.plan.model_dump(mode="json"))

        async def apply_action(request: Request) -> Response:
            if self.controller is None:
                return _json({"error": "no fault controller"}, 409)
            try:
                action = SimAction.model_validate_json(await request.body())
                return _json(self.controller.apply(action))
            except (ValueError, KeyError) as exc:  # bad action, unknown market or mode
                return _json({"error": f"{type(exc).__name__}: {exc}"}, 400)

        async def markets(request: Request) -> Response:
            now_s = self._now_s()
            out = []
            for spec in self.exchange.markets():
                state = market_state(self.exchange, spec, now_s)
                out.append(
                    {
                        "condition_id": spec.condition_id,
                        "slug": spec.slug,
                        "token_ids": [spec.yes_token_id, spec.no_token_id],
                        "start_ts": spec.start_ts,
                        "end_ts": spec.end_ts,
                        "tick_size": state.tick_size,
                        "accepting_orders": state.accepting_orders,
                    }
                )
            return _json(out)

        async def stats(request: Request) -> Response:
            return _json(
                {
                    "requests": dict(self._counts),
                    "edge_limits": self._edge.statistics(),
                    "signer_limits": self._signer.statistics(),
                    "ws": dict(self._hub_stats()) if self._hub_stats else {},
                    "api_keys": len(self.keys),
                },
            )

        return [
            Route("/faults", get_faults, methods=["GET"]),
            Route("/faults", put_faults, methods=["PUT", "POST"]),
            Route("/faults", clear_faults, methods=["DELETE"]),
            Route("/faults/http", add_http_fault, methods=["POST"]),
            Route("/faults/latency", set_latency, methods=["POST"]),
            Route("/faults/user-events", set_user_events, methods=["POST"]),
            Route("/faults/ws", set_ws, methods=["POST"]),
            Route("/actions", apply_action, methods=["POST"]),
            Route("/markets", markets, methods=["GET"]),
            Route("/stats", stats, methods=["GET"]),
        ]
