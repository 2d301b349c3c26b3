"""The CLOB V2 REST client: signed requests over one keep-alive pool, every failure a typed `VenueError`.

Spec: docs/protocol/polymarket-clob.md sections 1 (endpoints, cursors), 1.4 (heartbeat),
2 (L1/L2 auth), 3.5 (order bodies), 5.3-5.4 (errors and response shapes), 7 (rate limits).

- Bodies are serialized once (`signing.dumps_body`); the L2 HMAC covers exactly those bytes and the
  path without its query string, and exactly those bytes are sent.
- Callers own deadlines: wrap calls in `trio.fail_after` (reads) or `venue_deadline` (writes, whose
  expiry must read as `OutcomeUnknown`). The client sets no timeout of its own.
- Writes that name orders (`post_order(s)`, `cancel_order(s)`) never raise `VenueError`: each order's
  fate is in its result, so one failed chunk never hides the others' outcome. Reads and the id-less
  cancels (`cancel_all`, `cancel_market_orders`) raise `VenueError`.
- Error strings are read only by `bot.protocol.errors`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import Any, Final, Self, TypeVar
from urllib.parse import quote

import httpx
import orjson
import trio

from bot.protocol.auth import ApiCreds, l1_headers, l2_headers
from bot.protocol.constants import BATCH_CANCEL_MAX, BATCH_ORDERS_MAX, END_CURSOR, INITIAL_CURSOR
from bot.protocol.errors import (
    AuthError,
    OutcomeUnknown,
    RateLimited,
    RejectKind,
    VenueError,
    error_for,
    error_from_response,
)
from bot.protocol.messages import (
    BookEvent,
    MalformedMessage,
    MarketInfo,
    OpenOrder,
    PostOrderResponse,
    TradeEvent,
    parse_book,
    parse_cancel_response,
    parse_market,
    parse_open_order,
    parse_post_response,
    parse_trade,
)
from bot.protocol.order_lane import LaneAnswer, LaneError, OrderLane, proxy_for
from bot.protocol.ratelimit import EndpointFamily, RateLimiter
from bot.protocol.signing import OrderSigner, dumps_body

__all__ = [
    "CancelResult",
    "ClobRestClient",
    "PostResult",
    "RestStatistics",
    "venue_deadline",
]

# Paths. source: spec 1.1; PY2 py_clob_client_v2/endpoints.py.
_TIME: Final = "/time"
_BOOK: Final = "/book"
_TICK_SIZE: Final = "/tick-size"
_NEG_RISK: Final = "/neg-risk"
_CLOB_MARKET: Final = "/clob-markets/"
_MARKET: Final = "/markets/"
_CREATE_API_KEY: Final = "/auth/api-key"
_DERIVE_API_KEY: Final = "/auth/derive-api-key"
_POST_ORDER: Final = "/order"
_POST_ORDERS: Final = "/orders"
_CANCEL_ORDER: Final = "/order"
_CANCEL_ORDERS: Final = "/orders"
_CANCEL_ALL: Final = "/cancel-all"
_CANCEL_MARKET_ORDERS: Final = "/cancel-market-orders"
_OPEN_ORDERS: Final = "/data/orders"
_ORDER: Final = "/data/order/"
_TRADES: Final = "/data/trades"
_BALANCE_ALLOWANCE: Final = "/balance-allowance"
_HEARTBEAT: Final = "/v1/heartbeats"
_UPDATE_BALANCE_ALLOWANCE: Final = "/balance-allowance/update"
_CLOSED_ONLY: Final = "/auth/ban-status/closed-only"
# Spec 12.2; PY2 endpoints.py ARE_ORDERS_SCORING, GET_REWARDS_EARNINGS_PERCENTAGES.
_ORDERS_SCORING: Final = "/orders-scoring"
_REWARDS_USER_MARKETS: Final = "/rewards/user/markets"
_API_KEYS: Final = "/auth/api-keys"

# spec 5.4: the statuses of an accepted placement ("unmatched" is not one: PYSDK treats it as a reject,
# older docs as accepted; either way we cannot claim it rests, so it reads as OutcomeUnknown).
_ACCEPTED_STATUSES: Final = frozenset({"live", "matched", "delayed"})

# Closing the pool only closes local sockets; bounded so a stuck close never holds up an exit path.
_CLOSE_TIMEOUT_S: Final = 1.0

_NO_BODY: Final = object()
# What the order-entry lane carries (bot/protocol/order_lane.py): placing and cancelling, L2-signed.
_LANE_ROUTES: Final = frozenset({
    ("POST", _POST_ORDER), ("POST", _POST_ORDERS), ("DELETE", _CANCEL_ORDER), ("DELETE", _CANCEL_ORDERS),
    ("DELETE", _CANCEL_MARKET_ORDERS), ("DELETE", _CANCEL_ALL),
})
# Connections kept open to the venue (shared by all markets of the process).
_POOL_CONNECTIONS: Final = 100

_T = TypeVar("_T")


@contextmanager
def venue_deadline(timeout_s: float, what: str = "venue call") -> Iterator[None]:
    """`trio.fail_after(timeout_s)` whose expiry raises `OutcomeUnknown(kind=TIMEOUT)`, not TooSlowError.

    Use it around writes: a write that did not answer in time may still have taken effect.
    """
    try:
        with trio.fail_after(timeout_s):
            yield
    except trio.TooSlowError as exc:
        raise OutcomeUnknown(f"{what}: no answer within {timeout_s} s", kind=RejectKind.TIMEOUT) from exc


@dataclass(frozen=True, slots=True)
class PostResult:
    """The fate of one order sent by `post_order`/`post_orders`.

    `ok` is the spec 5.4 success test (success, no errorMsg, an orderID, status live/matched/delayed:
    stricter than `PostOrderResponse.accepted`, which lets a missing status pass). Otherwise `error`
    says why: ExpectedReject / OrderRejected (nothing happened), RateLimited, VenueMode, AuthError, or
    OutcomeUnknown (find out: the order may be live). `response` is the parsed leg when there was one
    (trade ids, amounts); `order_id` is also set from a 400 body that names the order.
    """

    ok: bool
    order_id: str = ""
    status: str = ""
    error: VenueError | None = None
    response: PostOrderResponse | None = None


@dataclass(frozen=True, slots=True)
class CancelResult:
    """The merged answer of one or more cancel requests.

    `not_canceled` holds the venue's reason text (for logs); `not_canceled_kinds` its classification
    (e.g. ALREADY_DONE, NOT_FOUND), so no caller reads the text. `failed` holds ids whose request failed
    as a whole or that the answer did not mention: their state is not known (usually OutcomeUnknown).
    """

    canceled: list[str] = field(default_factory=list)
    not_canceled: dict[str, str] = field(default_factory=dict)
    not_canceled_kinds: dict[str, RejectKind] = field(default_factory=dict)
    failed: dict[str, VenueError] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RestStatistics:
    requests: Mapping[str, int]
    errors: Mapping[str, int]
    leg_errors: Mapping[str, int]


# httpcore's trace names for "the request's last byte was written" (HTTP/1.1 and HTTP/2).
_SENT_TRACE_EVENTS: Final = frozenset({"http11.send_request_body.complete", "http2.send_request_body.complete"})


def _sent_tracer(on_sent: Callable[[], None]) -> Callable[[str, dict[str, Any]], Any]:
    """An httpcore `trace` extension that calls `on_sent` once the request was written."""

    async def trace(name: str, info: dict[str, Any]) -> None:
        if name in _SENT_TRACE_EVENTS:
            on_sent()

    return trace


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ClobRestClient:
    """Signed CLOB V2 REST calls over one `httpx.AsyncClient`; every failure a `VenueError`, never a secret.

    Use as an async context manager (closes the pool). `transport` replaces the network (tests pass
    `httpx.MockTransport` or an ASGI transport). `rate_limiter` (optional) is awaited before each
    request and told about Retry-After. `time_s` gives the POLY_TIMESTAMP seconds (default: wall clock).
    `max_pages` bounds cursor pagination (a venue that never returns the end cursor is malformed).
    `order_lane` sends placements and cancels over the order-entry lane (`bot.protocol.order_lane`):
    None (default) when no `transport` is given (tests' in-memory venues have no socket to open), True
    also beside one (a bench observing httpx's calls), False never; a proxy in the environment keeps it
    off. `order_lane_idle_s` is the idle limit of its connections.
    """

    def __init__(
        self,
        base_url: str,
        *,
        address: str,
        creds: ApiCreds | None,
        transport: httpx.AsyncBaseTransport | None = None,
        rate_limiter: RateLimiter | None = None,
        max_post_batch: int = BATCH_ORDERS_MAX,
        max_cancel_batch: int = BATCH_CANCEL_MAX,
        time_s: Callable[[], int] | None = None,
        max_pages: int = 100,
        order_lane: bool | None = None,
        order_lane_idle_s: float = 4.0,
    ) -> None:
        if not 1 <= max_post_batch <= BATCH_ORDERS_MAX:
            raise ValueError(f"max_post_batch must be in 1..{BATCH_ORDERS_MAX}")
        if not 1 <= max_cancel_batch <= BATCH_CANCEL_MAX:
            raise ValueError(f"max_cancel_batch must be in 1..{BATCH_CANCEL_MAX}")
        if max_pages < 1:
            raise ValueError("max_pages must be >= 1")
        self._base_url = base_url
        self._url_prefix = base_url.rstrip("/")
        self._address = address
        self._creds = creds
        self._limiter = rate_limiter
        self._max_post_batch = max_post_batch
        self._max_cancel_batch = max_cancel_batch
        self._max_pages = max_pages
        self._time_s = time_s if time_s is not None else lambda: int(time.time())
        # timeout=None: httpx would otherwise apply its own 5 s timeouts, a second deadline hidden from
        # the caller that surfaces as httpx.TimeoutException. Deadlines are the caller's Trio cancel
        # scopes (settings.request_timeout_s), so cancellation is the one way a call is cut short.
        # One pool for every market of the process: httpx keeps 20 idle connections by default, which
        # at many markets means constant reconnects (TLS handshakes on the real venue).
        self._http = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            timeout=None,
            limits=httpx.Limits(max_connections=_POOL_CONNECTIONS, max_keepalive_connections=_POOL_CONNECTIONS),
        )
        self._lane: OrderLane | None = None
        wanted = transport is None if order_lane is None else order_lane
        if wanted and proxy_for(base_url) is None:
            self._lane = OrderLane(base_url, idle_s=order_lane_idle_s,
                                   user_agent=self._http.headers.get("User-Agent", ""))
        self._requests: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._leg_errors: Counter[str] = Counter()

    # --- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (shielded, bounded: safe on every exit path)."""
        with trio.move_on_after(_CLOSE_TIMEOUT_S, shield=True):
            if self._lane is not None:
                await self._lane.aclose()
            await self._http.aclose()

    @property
    def order_lane(self) -> OrderLane | None:
        """The order-entry lane, or None when placements and cancels go through httpx."""
        return self._lane

    async def keep_order_lane_warm(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Keep the order lane's connections open ahead of use (`OrderLane.keep_warm`) until cancelled.
        Without a lane it reports started and waits."""
        if self._lane is None:
            task_status.started()
            await trio.sleep_forever()
        await self._lane.keep_warm(task_status=task_status)

    def use_creds(self, creds: ApiCreds) -> None:
        """Sign later L2 requests with `creds` (e.g. after `create_or_derive_api_key`)."""
        self._creds = creds

    # --- plumbing -------------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        family: EndpointFamily,
        body: Any = _NO_BODY,
        params: Mapping[str, str] | None = None,
        l2: bool = False,
        l1_signer: OrderSigner | None = None,
        l1_nonce: int = 0,
        on_sent: Callable[[], None] | None = None,
    ) -> httpx.Response | LaneAnswer:
        """One request; returns a 2xx response or raises the mapped VenueError.

        `on_sent` is called once the request's bytes were written to the connection (by the order lane, or
        from httpcore's `trace` extension); transports that do not trace (in-memory ones) never call it:
        the caller's fallback is when the call returns.
        """
        try:
            content = b"" if body is _NO_BODY else dumps_body(body)
            headers: dict[str, str] = {"Content-Type": "application/json"} if content else {}
            if l2 and self._creds is None:
                raise AuthError("no API credentials", endpoint=endpoint, kind=RejectKind.NO_CREDENTIALS)
            if self._limiter is not None:
                await self._limiter.acquire(family)
            # Signed after any rate-limit wait, so POLY_TIMESTAMP is fresh when the request leaves.
            if l2 and self._creds is not None:
                # Path only (no query) and the exact bytes sent: spec 2.2.
                headers.update(l2_headers(self._creds, self._address, method, path, content, self._time_s()))
            elif l1_signer is not None:
                headers.update(l1_headers(l1_signer, self._time_s(), l1_nonce))
            self._requests[endpoint] += 1
            response: httpx.Response | LaneAnswer
            if self._lane is not None and l2 and params is None and (method, path) in _LANE_ROUTES:
                try:
                    response = await self._lane.request(method, path, headers.items(), content, on_sent=on_sent)
                except LaneError as exc:
                    raise OutcomeUnknown(str(exc), endpoint=endpoint, kind=RejectKind.TRANSPORT) from exc
            else:
                response = await self._send_httpx(method, path, endpoint, content, params, headers, on_sent)
            if not response.is_success:
                error = error_from_response(
                    response.status_code, response.content, response.headers, endpoint=endpoint
                )
                if (
                    isinstance(error, RateLimited)
                    and error.retry_after_s is not None
                    and self._limiter is not None
                ):
                    self._limiter.penalize(family, error.retry_after_s)
                raise error
            return response
        except VenueError as error:
            self._errors[f"{endpoint} {type(error).__name__}"] += 1
            raise

    async def _send_httpx(
        self, method: str, path: str, endpoint: str, content: bytes, params: Mapping[str, str] | None,
        headers: dict[str, str], on_sent: Callable[[], None] | None,
    ) -> httpx.Response:
        """The request through httpx (everything the order lane does not carry); transport failures
        mapped to OutcomeUnknown."""
        try:
            # Built directly (not `client.request`, which merges client defaults and cookies on every
            # call): about 60 µs less on the tick-to-order path.
            request = httpx.Request(
                method, self._url_prefix + path, content=content or None, params=params, headers=headers,
                extensions=None if on_sent is None else {"trace": _sent_tracer(on_sent)},
            )
            response = await self._http.send(request)
        except httpx.TimeoutException as exc:
            raise OutcomeUnknown(
                f"timeout: {type(exc).__name__}", endpoint=endpoint, kind=RejectKind.TIMEOUT
            ) from exc
        except httpx.RequestError as exc:
            raise OutcomeUnknown(
                f"transport error: {type(exc).__name__}", endpoint=endpoint, kind=RejectKind.TRANSPORT
            ) from exc
        except trio.TooSlowError as exc:
            # Only from a transport that keeps its own deadline; ours come from the caller's scope.
            raise OutcomeUnknown("deadline expired", endpoint=endpoint, kind=RejectKind.TIMEOUT) from exc
        return response

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        """`_send`, then the JSON body (None if empty); a non-JSON body is OutcomeUnknown/MALFORMED."""
        response = await self._send(method, path, **kwargs)
        if not response.content.strip():
            return None
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise self._malformed(kwargs["endpoint"], "body is not JSON") from None

    def _malformed(self, endpoint: str, what: str) -> OutcomeUnknown:
        """A counted OutcomeUnknown/MALFORMED for a 2xx answer we cannot use."""
        # Never echo a 2xx body: the API-key endpoints return the secret in it.
        error = OutcomeUnknown(f"malformed response: {what}", endpoint=endpoint, kind=RejectKind.MALFORMED)
        self._errors[f"{endpoint} {type(error).__name__}"] += 1
        return error

    def _parse(self, parser: Callable[[Any], _T], body: Any, endpoint: str, what: str) -> _T:
        """A messages.py parser whose MalformedMessage becomes a counted OutcomeUnknown/MALFORMED."""
        try:
            return parser(body)
        except MalformedMessage as exc:
            raise self._malformed(endpoint, f"{what}: {exc}") from exc

    def _count_leg_error(self, error: VenueError) -> None:
        self._leg_errors[f"{type(error).__name__}/{error.kind.value}"] += 1

    # --- placement ------------------------------------------------------------------------------

    def _leg_result(self, leg: Any, endpoint: str) -> PostResult:
        try:
            response = parse_post_response(leg)
        except MalformedMessage as exc:
            error: VenueError = self._malformed(endpoint, f"order response: {exc}")
            self._count_leg_error(error)
            return PostResult(ok=False, error=error)
        order_id, status = response.order_id, response.status
        if response.error_msg:
            error = error_for(None, response.error_msg, endpoint=endpoint, order_id=order_id)
        elif response.accepted and status in _ACCEPTED_STATUSES:
            return PostResult(ok=True, order_id=order_id, status=status, response=response)
        else:
            # Not a clear accept and no reason given: the order may or may not rest.
            error = OutcomeUnknown(
                f"unconfirmed placement (success={response.success}, status={status!r})",
                endpoint=endpoint,
                kind=RejectKind.UNKNOWN,
                order_id=order_id,
            )
        self._count_leg_error(error)
        return PostResult(ok=False, order_id=order_id, status=status, error=error, response=response)

    async def post_order(self, wire: Mapping[str, Any], *, on_sent: Callable[[], None] | None = None) -> PostResult:
        """POST /order with one wire body (`SignedOrder.to_wire`). Never raises VenueError: see PostResult.

        `on_sent`: called once the request was written (see `_send`)."""
        endpoint = f"POST {_POST_ORDER}"
        try:
            body = await self._json(
                "POST", _POST_ORDER, endpoint=endpoint, family=EndpointFamily.POST_ORDER, body=wire, l2=True,
                on_sent=on_sent,
            )
        except VenueError as error:
            self._count_leg_error(error)
            return PostResult(ok=False, order_id=error.order_id, error=error)
        return self._leg_result(body, endpoint)

    async def post_orders(
        self, wires: Sequence[Mapping[str, Any]], *, on_sent: Callable[[], None] | None = None
    ) -> list[PostResult]:
        """POST /orders in chunks of ≤ max_post_batch; one PostResult per wire, in order.

        A chunk that fails as a whole gives its error to each of its legs; a chunk answer whose length
        differs from the chunk cannot be matched to legs and reads as OutcomeUnknown for each.
        Never raises VenueError. `on_sent`: called once the first chunk was written (see `_send`).
        """
        endpoint = f"POST {_POST_ORDERS}"
        results: list[PostResult] = []
        for chunk in _chunks(wires, self._max_post_batch):
            try:
                body = await self._json(
                    "POST",
                    _POST_ORDERS,
                    endpoint=endpoint,
                    family=EndpointFamily.POST_ORDERS,
                    body=list(chunk),
                    l2=True,
                    on_sent=on_sent,
                )
            except VenueError as error:
                results.extend(self._failed_legs(error, len(chunk)))
                continue
            finally:
                on_sent = None
            if not isinstance(body, list) or len(body) != len(chunk):
                malformed = self._malformed(endpoint, f"expected a list of {len(chunk)} order responses")
                results.extend(self._failed_legs(malformed, len(chunk)))
                continue
            results.extend(self._leg_result(leg, endpoint) for leg in body)
        return results

    def _failed_legs(self, error: VenueError, n_legs: int) -> list[PostResult]:
        for _ in range(n_legs):
            self._count_leg_error(error)
        return [PostResult(ok=False, error=error) for _ in range(n_legs)]

    # --- cancels --------------------------------------------------------------------------------

    def _cancel_result(self, body: Any, endpoint: str, sent_ids: Sequence[str]) -> CancelResult:
        """Parse `{"canceled": [...], "not_canceled": {...}}`; OutcomeUnknown/MALFORMED if it is not that."""
        try:
            response = parse_cancel_response(body)
        except MalformedMessage as exc:
            raise self._malformed(endpoint, f"cancel response: {exc}") from exc
        kinds: dict[str, RejectKind] = {}
        for order_id, reason in response.not_canceled.items():
            error = error_for(None, reason, endpoint=endpoint, order_id=order_id)
            kinds[order_id] = error.kind
            self._count_leg_error(error)
        answered = set(response.canceled) | set(response.not_canceled)
        failed: dict[str, VenueError] = {}
        for order_id in sent_ids:
            if order_id not in answered:
                failed[order_id] = OutcomeUnknown(
                    "id missing from the cancel answer",
                    endpoint=endpoint,
                    kind=RejectKind.UNKNOWN,
                    order_id=order_id,
                )
                self._count_leg_error(failed[order_id])
        return CancelResult(
            canceled=list(response.canceled),
            not_canceled=dict(response.not_canceled),
            not_canceled_kinds=kinds,
            failed=failed,
        )

    async def _cancel_ids(
        self, path: str, family: EndpointFamily, body: Any, ids: Sequence[str],
        on_sent: Callable[[], None] | None = None,
    ) -> CancelResult:
        endpoint = f"DELETE {path}"
        try:
            answer = await self._json("DELETE", path, endpoint=endpoint, family=family, body=body, l2=True,
                                      on_sent=on_sent)
            return self._cancel_result(answer, endpoint, ids)
        except VenueError as error:
            for _ in ids:
                self._count_leg_error(error)
            return CancelResult(failed=dict.fromkeys(ids, error))

    async def cancel_order(self, order_id: str) -> CancelResult:
        """DELETE /order for one id. Never raises VenueError: a failed request puts the id in `failed`."""
        return await self._cancel_ids(
            _CANCEL_ORDER, EndpointFamily.DELETE_ORDER, {"orderID": order_id}, [order_id]
        )

    async def cancel_orders(
        self, order_ids: Sequence[str], *, on_sent: Callable[[], None] | None = None
    ) -> CancelResult:
        """DELETE /orders, duplicates removed, in chunks of ≤ max_cancel_batch, merged.

        Every chunk is attempted even if an earlier one failed. Never raises VenueError. `on_sent` is
        called once the first chunk's bytes were written (see `_send`).
        """
        unique = list(dict.fromkeys(order_ids))
        merged = CancelResult()
        for chunk in _chunks(unique, self._max_cancel_batch):
            part = await self._cancel_ids(_CANCEL_ORDERS, EndpointFamily.DELETE_ORDERS, list(chunk), chunk,
                                          on_sent=on_sent)
            on_sent = None
            merged.canceled.extend(part.canceled)
            merged.not_canceled.update(part.not_canceled)
            merged.not_canceled_kinds.update(part.not_canceled_kinds)
            merged.failed.update(part.failed)
        return merged

    async def cancel_market_orders(
        self, market: str | None = None, asset_id: str | None = None
    ) -> CancelResult:
        """DELETE /cancel-market-orders for a condition id and/or token id. Raises VenueError.

        ValueError with neither: the docs disagree on whether that cancels everything (spec 1.1 note);
        say `cancel_all` when that is meant.
        """
        body = {key: value for key, value in (("market", market), ("asset_id", asset_id)) if value}
        if not body:
            raise ValueError(
                "cancel_market_orders needs market or asset_id; use cancel_all to cancel everything"
            )
        endpoint = f"DELETE {_CANCEL_MARKET_ORDERS}"
        answer = await self._json(
            "DELETE",
            _CANCEL_MARKET_ORDERS,
            endpoint=endpoint,
            family=EndpointFamily.CANCEL_MARKET_ORDERS,
            body=body,
            l2=True,
        )
        return self._cancel_result(answer, endpoint, ())

    async def cancel_all(self) -> CancelResult:
        """DELETE /cancel-all: every open order of these API credentials. Raises VenueError."""
        endpoint = f"DELETE {_CANCEL_ALL}"
        answer = await self._json(
            "DELETE", _CANCEL_ALL, endpoint=endpoint, family=EndpointFamily.CANCEL_ALL, l2=True
        )
        return self._cancel_result(answer, endpoint, ())

    # --- account reads --------------------------------------------------------------------------

    async def _paginate(self, path: str, family: EndpointFamily, params: Mapping[str, str]) -> list[Any]:
        """Follow next_cursor from INITIAL_CURSOR to END_CURSOR; at most max_pages requests."""
        endpoint = f"GET {path}"
        items: list[Any] = []
        cursor = INITIAL_CURSOR
        requested: set[str] = set()
        for _ in range(self._max_pages):
            requested.add(cursor)
            page = await self._json(
                "GET",
                path,
                endpoint=endpoint,
                family=family,
                params={**params, "next_cursor": cursor},
                l2=True,
            )
            if not isinstance(page, dict) or not isinstance(page.get("data"), list):
                raise self._malformed(endpoint, "page without a data list")
            items.extend(page["data"])
            next_cursor = page.get("next_cursor")
            if next_cursor in (None, "", END_CURSOR):
                return items
            if not isinstance(next_cursor, str) or next_cursor in requested:
                raise self._malformed(endpoint, "cursor is not a new string")
            cursor = next_cursor
        raise self._malformed(endpoint, f"pagination did not end within {self._max_pages} pages")

    async def get_open_orders(
        self, market: str | None = None, asset_id: str | None = None, order_id: str | None = None
    ) -> list[OpenOrder]:
        """All open orders matching the filters (GET /data/orders, every page). Raises VenueError.

        One unparseable item fails the whole call (OutcomeUnknown/MALFORMED): a reconciler must not
        act on a list that silently lacks an order.
        """
        params = {k: v for k, v in (("id", order_id), ("market", market), ("asset_id", asset_id)) if v}
        endpoint = f"GET {_OPEN_ORDERS}"
        items = await self._paginate(_OPEN_ORDERS, EndpointFamily.DATA_ORDERS, params)
        return [
            self._parse(parse_open_order, item, endpoint, f"open order #{i}") for i, item in enumerate(items)
        ]

    async def get_order(self, order_id: str) -> OpenOrder | None:
        """GET /data/order/{id}; None when the venue answers empty/null (unknown or finished order)."""
        path = _ORDER + quote(order_id, safe="")
        endpoint = f"GET {_ORDER}{{id}}"
        body = await self._json("GET", path, endpoint=endpoint, family=EndpointFamily.GENERAL, l2=True)
        if body is None or body == {}:
            return None
        return self._parse(parse_open_order, body, endpoint, "order")

    async def get_trades(
        self,
        market: str | None = None,
        asset_id: str | None = None,
        trade_id: str | None = None,
        after_s: int | None = None,
    ) -> list[TradeEvent]:
        """Our trades matching the filters (GET /data/trades, all pages; `after_s` unix s). VenueError."""
        params = {k: v for k, v in (("id", trade_id), ("market", market), ("asset_id", asset_id)) if v}
        if after_s is not None:
            params["after"] = str(int(after_s))
        endpoint = f"GET {_TRADES}"
        items = await self._paginate(_TRADES, EndpointFamily.DATA_TRADES, params)
        return [self._parse(parse_trade, item, endpoint, f"trade #{i}") for i, item in enumerate(items)]

    async def get_balance_allowance(
        self, asset_type: str, token_id: str | None = None, signature_type: int | None = None
    ) -> dict[str, Any]:
        """GET /balance-allowance (`asset_type` COLLATERAL or CONDITIONAL). Raises VenueError."""
        params = {"asset_type": asset_type}
        if token_id:
            params["token_id"] = token_id
        if signature_type is not None:
            params["signature_type"] = str(int(signature_type))
        endpoint = f"GET {_BALANCE_ALLOWANCE}"
        body = await self._json(
            "GET",
            _BALANCE_ALLOWANCE,
            endpoint=endpoint,
            family=EndpointFamily.BALANCE_ALLOWANCE,
            params=params,
            l2=True,
        )
        if not isinstance(body, dict):
            raise self._malformed(endpoint, "balance-allowance is not an object")
        return body

    async def update_balance_allowance(
        self, asset_type: str, token_id: str | None = None, signature_type: int | None = None
    ) -> None:
        """GET /balance-allowance/update: the venue re-reads the wallet after a deposit or approval
        (spec 9; PY2 `update_balance_allowance`, same params). Raises VenueError."""
        params = {"asset_type": asset_type}
        if token_id:
            params["token_id"] = token_id
        if signature_type is not None:
            params["signature_type"] = str(int(signature_type))
        await self._json(
            "GET",
            _UPDATE_BALANCE_ALLOWANCE,
            endpoint=f"GET {_UPDATE_BALANCE_ALLOWANCE}",
            family=EndpointFamily.BALANCE_ALLOWANCE,
            params=params,
            l2=True,
        )

    async def get_closed_only(self) -> bool:
        """GET /auth/ban-status/closed-only: True when the account may only cancel. Raises VenueError."""
        endpoint = f"GET {_CLOSED_ONLY}"
        body = await self._json("GET", _CLOSED_ONLY, endpoint=endpoint, family=EndpointFamily.GENERAL, l2=True)
        value = body.get("closed_only") if isinstance(body, dict) else None
        if not isinstance(value, bool):
            raise self._malformed(endpoint, "closed_only is not a boolean")
        return value

    async def are_orders_scoring(self, order_ids: Sequence[str]) -> dict[str, bool]:
        """POST /orders-scoring: which of the ids score for liquidity rewards now (spec 12.2). VenueError."""
        endpoint = f"POST {_ORDERS_SCORING}"
        body = await self._json(
            "POST", _ORDERS_SCORING, endpoint=endpoint, family=EndpointFamily.GENERAL, body=list(order_ids), l2=True
        )
        if not isinstance(body, dict) or not all(isinstance(v, bool) for v in body.values()):
            raise self._malformed(endpoint, "scoring answer is not an id -> bool map")
        return {str(k): v for k, v in body.items()}

    async def get_reward_markets(self, date: str) -> list[dict[str, Any]]:
        """GET /rewards/user/markets?date= (all pages): our earnings per market that day (spec 12.2)."""
        endpoint = f"GET {_REWARDS_USER_MARKETS}"
        items = await self._paginate(_REWARDS_USER_MARKETS, EndpointFamily.GENERAL, {"date": date})
        if not all(isinstance(i, dict) for i in items):
            raise self._malformed(endpoint, "reward market is not an object")
        return items

    async def get_api_keys(self) -> list[Any]:
        """GET /auth/api-keys: the account's API keys (an L2 call that proves the credentials work)."""
        endpoint = f"GET {_API_KEYS}"
        body = await self._json("GET", _API_KEYS, endpoint=endpoint, family=EndpointFamily.GENERAL, l2=True)
        keys = body.get("apiKeys") if isinstance(body, dict) else body
        if not isinstance(keys, list):
            raise self._malformed(endpoint, "apiKeys is not a list")
        return keys

    async def post_heartbeat(self, heartbeat_id: str) -> str:
        """POST /v1/heartbeats with the last id ("" to start a chain); returns the next id.

        Raises InvalidHeartbeatId (with `expected_id`) when the venue wants another id, or any VenueError.
        """
        endpoint = f"POST {_HEARTBEAT}"
        body = await self._json(
            "POST",
            _HEARTBEAT,
            endpoint=endpoint,
            family=EndpointFamily.GENERAL,
            body={"heartbeat_id": heartbeat_id},
            l2=True,
        )
        next_id = body.get("heartbeat_id") if isinstance(body, dict) else None
        if not isinstance(next_id, str):
            raise self._malformed(endpoint, "no heartbeat_id")
        return next_id

    # --- API keys (L1) --------------------------------------------------------------------------

    def _creds_from(self, body: Any, endpoint: str) -> ApiCreds:
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) and body.get(k) for k in ("apiKey", "secret", "passphrase")
        ):
            raise self._malformed(endpoint, "no apiKey/secret/passphrase")
        return ApiCreds(api_key=body["apiKey"], secret=body["secret"], passphrase=body["passphrase"])

    async def create_api_key(self, signer: OrderSigner, nonce: int = 0) -> ApiCreds:
        """POST /auth/api-key (L1): new credentials for (signer, nonce). VenueError if it exists."""
        endpoint = f"POST {_CREATE_API_KEY}"
        body = await self._json(
            "POST",
            _CREATE_API_KEY,
            endpoint=endpoint,
            family=EndpointFamily.API_KEYS,
            l1_signer=signer,
            l1_nonce=nonce,
        )
        return self._creds_from(body, endpoint)

    async def derive_api_key(self, signer: OrderSigner, nonce: int = 0) -> ApiCreds:
        """GET /auth/derive-api-key (L1): the existing credentials for (signer, nonce). Raises VenueError."""
        endpoint = f"GET {_DERIVE_API_KEY}"
        body = await self._json(
            "GET",
            _DERIVE_API_KEY,
            endpoint=endpoint,
            family=EndpointFamily.API_KEYS,
            l1_signer=signer,
            l1_nonce=nonce,
        )
        return self._creds_from(body, endpoint)

    async def create_or_derive_api_key(self, signer: OrderSigner, nonce: int = 0) -> ApiCreds:
        """Create, and on any VenueError derive (as the SDKs do; a timed-out create may have succeeded)."""
        try:
            return await self.create_api_key(signer, nonce)
        except VenueError:
            return await self.derive_api_key(signer, nonce)

    # --- public market data ---------------------------------------------------------------------

    async def get_server_time(self) -> int:
        """GET /time: the venue's unix seconds. Raises VenueError."""
        endpoint = f"GET {_TIME}"
        body = await self._json("GET", _TIME, endpoint=endpoint, family=EndpointFamily.GENERAL)
        if isinstance(body, bool) or not isinstance(body, int | float):
            raise self._malformed(endpoint, "time is not a number")
        return int(body)

    async def get_book(self, token_id: str) -> BookEvent:
        """GET /book?token_id= (best level LAST in each array, spec 1.3). Raises VenueError."""
        endpoint = f"GET {_BOOK}"
        body = await self._json(
            "GET", _BOOK, endpoint=endpoint, family=EndpointFamily.BOOK, params={"token_id": token_id}
        )
        return self._parse(parse_book, body, endpoint, "book")

    async def get_tick_size(self, token_id: str) -> str:
        """GET /tick-size: the tick as a canonical decimal string ("0.01", "0.001"). Raises VenueError."""
        endpoint = f"GET {_TICK_SIZE}"
        body = await self._json(
            "GET",
            _TICK_SIZE,
            endpoint=endpoint,
            family=EndpointFamily.TICK_SIZE,
            params={"token_id": token_id},
        )
        raw = body.get("minimum_tick_size") if isinstance(body, dict) else None
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise self._malformed(endpoint, "no minimum_tick_size")
        try:
            # str() first: the float 0.01 must become "0.01", not its binary expansion.
            tick = Decimal(str(raw))
        except InvalidOperation:
            raise self._malformed(endpoint, "minimum_tick_size is not a number") from None
        if not (tick.is_finite() and 0 < tick < 1):
            raise self._malformed(endpoint, "minimum_tick_size out of (0, 1)")
        return format(tick.normalize(), "f")

    async def get_neg_risk(self, token_id: str) -> bool:
        """GET /neg-risk: whether the token trades on the neg-risk exchange. Raises VenueError."""
        endpoint = f"GET {_NEG_RISK}"
        body = await self._json(
            "GET", _NEG_RISK, endpoint=endpoint, family=EndpointFamily.GENERAL, params={"token_id": token_id}
        )
        value = body.get("neg_risk") if isinstance(body, dict) else None
        if not isinstance(value, bool):
            raise self._malformed(endpoint, "neg_risk is not a boolean")
        return value

    async def get_clob_market(self, condition_id: str) -> dict[str, Any]:
        """GET /clob-markets/{condition_id}: compact market info (tick `mts`, min size `mos`, fees `fd`)."""
        endpoint = f"GET {_CLOB_MARKET}{{condition_id}}"
        body = await self._json(
            "GET",
            _CLOB_MARKET + quote(condition_id, safe=""),
            endpoint=endpoint,
            family=EndpointFamily.GENERAL,
        )
        if not isinstance(body, dict):
            raise self._malformed(endpoint, "market is not an object")
        return body

    async def get_market(self, condition_id: str) -> MarketInfo:
        """GET /markets/{condition_id}: the market with tokens, tick, min size, accepting_orders..."""
        endpoint = f"GET {_MARKET}{{condition_id}}"
        body = await self._json(
            "GET", _MARKET + quote(condition_id, safe=""), endpoint=endpoint, family=EndpointFamily.GENERAL
        )
        return self._parse(parse_market, body, endpoint, "market")

    # --- introspection --------------------------------------------------------------------------

    def statistics(self) -> RestStatistics:
        """Requests by endpoint, request errors by "endpoint Class", per-order errors by "Class/kind"."""
        return RestStatistics(
            requests=dict(self._requests), errors=dict(self._errors), leg_errors=dict(self._leg_errors)
        )

    def __repr__(self) -> str:
        # Never the credentials: only where we talk to, as whom (a public address), and counts.
        return (
            f"<ClobRestClient {self._base_url} address={self._address} "
            f"requests={sum(self._requests.values())} errors={sum(self._errors.values())} "
            f"leg_errors={sum(self._leg_errors.values())}>"
        )
