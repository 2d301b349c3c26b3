"""ClobRestClient on an in-memory venue (httpx.MockTransport): bytes, signatures, batching, paging, errors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from py_clob_client_v2.signing.hmac import build_hmac_signature

from bot.protocol.auth import ApiCreds, verify_clob_auth
from bot.protocol.constants import Side
from bot.protocol.errors import (
    AuthError,
    ExpectedReject,
    InvalidHeartbeatId,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
    RejectKind,
    TradingMode,
    VenueMode,
)
from bot.protocol.ratelimit import BucketSpec, EndpointFamily, RateLimiter
from bot.protocol.rest import ClobRestClient, venue_deadline
from bot.protocol.signing import OrderSigner

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "polymarket" / "rest"
# The official TS test key (spec 2.1 known-answer test); a throwaway, not a real account.
PRIVATE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
SIGNER = OrderSigner(PRIVATE_KEY)
ADDRESS = SIGNER.address
SECRET = base64.urlsafe_b64encode(bytes(range(32))).decode()
CREDS = ApiCreds(api_key="00000000-1111-2222-3333-444444444444", secret=SECRET, passphrase="pass-phrase-xyz")
NOW_S = 1_750_000_000
TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


def oid(n: int) -> str:
    return "0x" + f"{n:064x}"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def accepted(order_id: str, status: str = "live") -> dict[str, Any]:
    return {
        "success": True,
        "orderID": order_id,
        "status": status,
        "makingAmount": "",
        "takingAmount": "",
        "transactionsHashes": [],
        "tradeIDs": [],
        "errorMsg": "",
    }


def wire(n: int, *, post_only: bool = True) -> dict[str, Any]:
    order = SIGNER.build_limit(
        token_id=TOKEN,
        price="0.45",
        size_shares=10 + n,
        side=Side.BUY,
        tick_size="0.01",
        salt=1000 + n,
        timestamp_ms=NOW_S * 1000,
    )
    return order.to_wire(CREDS.api_key, "GTC", post_only=post_only)


def open_order(n: int) -> dict[str, Any]:
    return {
        "id": oid(n),
        "status": "LIVE",
        "owner": CREDS.api_key,
        "maker_address": ADDRESS,
        "market": "0xcond",
        "asset_id": TOKEN,
        "side": "BUY",
        "original_size": "10.0000",
        "size_matched": "0.0000",
        "price": "0.4500",
        "outcome": "Up",
        "expiration": "0",
        "order_type": "GTC",
        "associate_trades": [],
        "created_at": 1_750_000_000,
    }


def wire_id(w: dict[str, Any]) -> str:
    return oid(w["order"]["salt"])


def reference_body(obj: Any) -> bytes:
    # What py-clob-client-v2 sends and signs.
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def expected_signature(method: str, path: str, body: bytes, timestamp_s: int = NOW_S) -> str:
    message = f"{timestamp_s}{method}{path}".encode() + body
    digest = hmac.new(base64.urlsafe_b64decode(SECRET), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()


class Venue:
    """Routes (method, path) to handlers and records every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.routes: dict[tuple[str, str], Handler] = {}

    def on(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def reply(
        self, method: str, path: str, body: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.on(method, path, lambda _req: httpx.Response(status, content=content, headers=headers))

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        handler = self.routes.get((request.method, request.url.path))
        if handler is None:
            return httpx.Response(404, json={"error": "not found"})
        result = handler(request)
        if not isinstance(result, httpx.Response):
            result = await result
        return result

    def client(self, **kwargs: Any) -> ClobRestClient:
        kwargs.setdefault("creds", CREDS)
        kwargs.setdefault("time_s", lambda: NOW_S)
        return ClobRestClient(
            "http://clob.test", address=ADDRESS, transport=httpx.MockTransport(self.handle), **kwargs
        )


def assert_l2_signed(request: httpx.Request, path: str) -> None:
    assert request.headers["POLY_ADDRESS"] == ADDRESS
    assert request.headers["POLY_API_KEY"] == CREDS.api_key
    assert request.headers["POLY_PASSPHRASE"] == CREDS.passphrase
    assert request.headers["POLY_TIMESTAMP"] == str(NOW_S)
    assert request.headers["POLY_SIGNATURE"] == expected_signature(request.method, path, request.content)


@pytest.fixture
def venue() -> Venue:
    return Venue()


# --- bytes and signatures ---------------------------------------------------------------------------


async def test_post_order_sends_the_reference_bytes_signed_over_exactly_them(venue: Venue) -> None:
    w = wire(1)
    venue.reply("POST", "/order", accepted(oid(1)))
    async with venue.client() as client:
        result = await client.post_order(w)
    assert (result.ok, result.order_id, result.status, result.error) == (True, oid(1), "live", None)
    (request,) = venue.requests
    assert request.url.path == "/order"
    assert request.content == reference_body(w)
    assert request.headers["Content-Type"] == "application/json"
    assert_l2_signed(request, "/order")
    # And the official client signs these bytes the same way.
    oracle = build_hmac_signature(SECRET, str(NOW_S), "POST", "/order", request.content.decode())
    assert request.headers["POLY_SIGNATURE"] == oracle


async def test_get_with_query_signs_the_path_without_the_query(venue: Venue) -> None:
    venue.reply("GET", "/data/orders", {"limit": 100, "count": 0, "next_cursor": "LTE=", "data": []})
    async with venue.client() as client:
        assert await client.get_open_orders(market="0xabc", asset_id=TOKEN) == []
    (request,) = venue.requests
    assert dict(request.url.params) == {"market": "0xabc", "asset_id": TOKEN, "next_cursor": "MA=="}
    assert request.content == b""
    assert "Content-Type" not in request.headers
    assert_l2_signed(request, "/data/orders")


async def test_cancel_endpoints_send_their_bodies_signed(venue: Venue) -> None:
    empty = {"canceled": [], "not_canceled": {}}
    for method, path in (
        ("DELETE", "/order"),
        ("DELETE", "/orders"),
        ("DELETE", "/cancel-all"),
        ("DELETE", "/cancel-market-orders"),
    ):
        venue.reply(method, path, empty)
    async with venue.client() as client:
        await client.cancel_order(oid(7))
        await client.cancel_orders([oid(7), oid(8)])
        await client.cancel_all()
        await client.cancel_market_orders(market="0xcond")
        await client.cancel_market_orders(asset_id=TOKEN)
        with pytest.raises(ValueError, match="cancel_all"):
            await client.cancel_market_orders()
    bodies = [(r.url.path, r.content) for r in venue.requests]
    assert bodies == [
        ("/order", reference_body({"orderID": oid(7)})),
        ("/orders", reference_body([oid(7), oid(8)])),
        ("/cancel-all", b""),
        ("/cancel-market-orders", b'{"market":"0xcond"}'),
        ("/cancel-market-orders", reference_body({"asset_id": TOKEN})),
    ]
    for request in venue.requests:
        assert_l2_signed(request, request.url.path)


async def test_get_order_signs_the_path_with_the_id(venue: Venue) -> None:
    venue.reply("GET", f"/data/order/{oid(3)}", open_order(3))
    async with venue.client() as client:
        order = await client.get_order(oid(3))
    assert order is not None
    assert (order.id, order.price_micro, order.original_size_micro) == (oid(3), 450_000, 10_000_000)
    assert_l2_signed(venue.requests[0], f"/data/order/{oid(3)}")


@pytest.mark.parametrize("body", [b"", b"null", b"{}"])
async def test_get_order_of_a_finished_order_is_none(venue: Venue, body: bytes) -> None:
    venue.reply("GET", f"/data/order/{oid(3)}", body)
    async with venue.client() as client:
        assert await client.get_order(oid(3)) is None


async def test_l2_call_without_credentials_is_auth_error_and_sends_nothing(venue: Venue) -> None:
    async with venue.client(creds=None) as client:
        with pytest.raises(AuthError) as info:
            await client.get_open_orders()
        result = await client.post_order(wire(1))
    assert info.value.kind is RejectKind.NO_CREDENTIALS
    assert isinstance(result.error, AuthError)
    assert venue.requests == []


# --- batching ---------------------------------------------------------------------------------------


async def test_31_orders_go_out_as_posts_of_15_15_1_with_one_result_each_in_order(venue: Venue) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        legs = json.loads(request.content)
        return httpx.Response(200, json=[accepted(wire_id(leg)) for leg in legs])

    venue.on("POST", "/orders", answer)
    wires = [wire(n) for n in range(31)]
    async with venue.client() as client:
        results = await client.post_orders(wires)
    assert [len(json.loads(r.content)) for r in venue.requests] == [15, 15, 1]
    assert [r.order_id for r in results] == [wire_id(w) for w in wires]
    assert all(r.ok for r in results)
    for request in venue.requests:
        assert_l2_signed(request, "/orders")
    assert json.loads(venue.requests[1].content) == wires[15:30]


async def test_2500_cancels_go_out_as_3_deletes_without_duplicates_and_merge(venue: Venue) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        ids = json.loads(request.content)
        # The venue reports every 10th id as already done.
        done = [i for n, i in enumerate(ids) if n % 10 == 0]
        return httpx.Response(
            200,
            json={
                "canceled": [i for i in ids if i not in done],
                "not_canceled": dict.fromkeys(done, "already canceled or matched"),
            },
        )

    venue.on("DELETE", "/orders", answer)
    ids = [oid(n) for n in range(2500)]
    async with venue.client() as client:
        result = await client.cancel_orders(ids + ids[:40])
    sent = [json.loads(r.content) for r in venue.requests]
    assert [len(s) for s in sent] == [1000, 1000, 500]
    assert sum(sent, []) == ids
    assert len(result.canceled) + len(result.not_canceled) == 2500
    assert set(result.not_canceled_kinds.values()) == {RejectKind.ALREADY_DONE}
    assert result.failed == {}


async def test_custom_batch_limits_are_honoured(venue: Venue) -> None:
    venue.on(
        "POST",
        "/orders",
        lambda req: httpx.Response(200, json=[accepted(wire_id(w)) for w in json.loads(req.content)]),
    )
    async with venue.client(max_post_batch=4) as client:
        await client.post_orders([wire(n) for n in range(9)])
    assert [len(json.loads(r.content)) for r in venue.requests] == [4, 4, 1]
    with pytest.raises(ValueError):
        venue.client(max_post_batch=16)
    with pytest.raises(ValueError):
        venue.client(max_cancel_batch=1001)


async def test_batch_legs_from_the_fixture_each_get_their_own_verdict(venue: Venue) -> None:
    venue.reply("POST", "/orders", load("post_orders_batch_response_synthetic.json"))
    async with venue.client() as client:
        first, balance, crosses = await client.post_orders([wire(1), wire(2), wire(3)])
    # Leg 0 has an orderID and no error but no status: not the spec 5.4 success test, so "find out".
    assert not first.ok
    assert isinstance(first.error, OutcomeUnknown)
    assert first.order_id == oid(0x1111111111111111111111111111111111111111111111111111111111111111)
    assert first.response is not None and first.response.trade_ids == ("trade-0x201",)
    assert isinstance(balance.error, OrderRejected) and balance.error.kind is RejectKind.BALANCE
    assert isinstance(crosses.error, ExpectedReject) and crosses.error.kind is RejectKind.POST_ONLY_CROSSES
    assert client.statistics().leg_errors == {
        "OutcomeUnknown/unknown": 1,
        "OrderRejected/balance": 1,
        "ExpectedReject/post_only_crosses": 1,
    }


async def test_batch_legs_with_statuses_live_matched_delayed_unmatched(venue: Venue) -> None:
    legs = [
        accepted(oid(1), "live"),
        {
            **accepted(oid(2), "matched"),
            "makingAmount": "0.999999",
            "takingAmount": "6.666665",
            "tradeIDs": ["t-1"],
        },
        load("post_order_response_delayed_synthetic.json"),
        accepted(oid(4), "unmatched"),
        {**accepted("", ""), "errorMsg": "order 0x12 is invalid. Duplicated."},
    ]
    venue.reply("POST", "/orders", legs)
    async with venue.client() as client:
        live, matched, delayed, unmatched, duplicated = await client.post_orders([wire(n) for n in range(5)])
    assert (live.ok, live.status) == (True, "live")
    assert (matched.ok, matched.status) == (True, "matched")
    assert matched.response is not None
    assert matched.response.trade_ids == ("t-1",)
    assert matched.response.taking_amount_micro == 6_666_665
    assert (delayed.ok, delayed.status) == (True, "delayed")
    assert not unmatched.ok and isinstance(unmatched.error, OutcomeUnknown)
    assert isinstance(duplicated.error, OrderRejected) and duplicated.error.kind is RejectKind.DUPLICATED


async def test_a_whole_chunk_failure_is_each_leg_of_that_chunk_only(venue: Venue) -> None:
    calls = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 2:
            return httpx.Response(
                503,
                json={
                    "error": "Trading is currently cancel-only. New orders are not accepted, but cancels are allowed."
                },
            )
        return httpx.Response(200, json=[accepted(wire_id(w)) for w in json.loads(request.content)])

    venue.on("POST", "/orders", answer)
    async with venue.client() as client:
        results = await client.post_orders([wire(n) for n in range(20)])
    assert all(r.ok for r in results[:15])
    errors = [r.error for r in results[15:]]
    assert all(isinstance(e, VenueMode) and e.mode is TradingMode.CANCEL_ONLY for e in errors)


async def test_a_batch_answer_of_the_wrong_length_is_outcome_unknown_for_each_leg(venue: Venue) -> None:
    venue.reply("POST", "/orders", [accepted(oid(1))])
    async with venue.client() as client:
        results = await client.post_orders([wire(1), wire(2)])
    assert [type(r.error) for r in results] == [OutcomeUnknown, OutcomeUnknown]
    assert all(r.error is not None and r.error.kind is RejectKind.MALFORMED for r in results)


async def test_cancel_fixtures_classify_the_not_canceled_reasons(venue: Venue) -> None:
    venue.reply("DELETE", "/order", load("cancel_response_not_canceled_synthetic.json"))
    venue.reply("DELETE", "/orders", load("cancel_orders_batch_response_synthetic.json"))
    one_id = "0xb816482a1234567890abcdef1234567890abcdef1234567890abcdef12345678"
    batch_ids = ["0x" + d * 64 for d in "123"]
    async with venue.client() as client:
        one = await client.cancel_order(one_id)
        batch = await client.cancel_orders(batch_ids)
    assert one.canceled == []
    assert one.not_canceled == {one_id: "already canceled or matched"}
    assert one.not_canceled_kinds == {one_id: RejectKind.ALREADY_DONE}
    assert batch.canceled == batch_ids[:2]
    assert batch.not_canceled_kinds == {batch_ids[2]: RejectKind.ALREADY_DONE}
    assert batch.failed == {}


async def test_cancel_ids_missing_from_the_answer_or_in_a_failed_chunk_are_failed(venue: Venue) -> None:
    calls = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        ids = json.loads(request.content)
        if calls == 1:
            return httpx.Response(200, json={"canceled": ids[:-1], "not_canceled": {}})
        return httpx.Response(500, json={"error": "internal"})

    venue.on("DELETE", "/orders", answer)
    ids = [oid(n) for n in range(5)]
    async with venue.client(max_cancel_batch=3) as client:
        result = await client.cancel_orders(ids)
    assert result.canceled == ids[:2]
    assert set(result.failed) == {ids[2], ids[3], ids[4]}
    assert all(isinstance(e, OutcomeUnknown) for e in result.failed.values())
    assert result.failed[ids[3]].kind is RejectKind.SERVER_ERROR


async def test_cancel_all_failure_raises(venue: Venue) -> None:
    venue.reply("DELETE", "/cancel-all", {"error": "the matching engine is restarting"}, status=425)
    async with venue.client() as client:
        with pytest.raises(OutcomeUnknown) as info:
            await client.cancel_all()
    assert info.value.kind is RejectKind.ENGINE_RESTARTING


# --- pagination -------------------------------------------------------------------------------------


async def test_open_orders_follow_the_cursor_from_MA_to_LTE(venue: Venue) -> None:
    pages = {"MA==": ("MTAw", [1, 2]), "MTAw": ("MjAw", [3]), "MjAw": ("LTE=", [4, 5])}

    def answer(request: httpx.Request) -> httpx.Response:
        nxt, ids = pages[request.url.params["next_cursor"]]
        data = [open_order(i) for i in ids]
        return httpx.Response(200, json={"limit": 2, "count": len(data), "next_cursor": nxt, "data": data})

    venue.on("GET", "/data/orders", answer)
    async with venue.client() as client:
        orders = await client.get_open_orders(order_id=oid(9))
    assert [o.id for o in orders] == [oid(i) for i in (1, 2, 3, 4, 5)]
    assert [r.url.params["next_cursor"] for r in venue.requests] == ["MA==", "MTAw", "MjAw"]
    assert all(r.url.params["id"] == oid(9) for r in venue.requests)
    assert client.statistics().requests == {"GET /data/orders": 3}


async def test_trades_page_with_filters_and_after_seconds(venue: Venue) -> None:
    trade = json.loads((FIXTURES.parent / "ws" / "trades.json").read_text())
    venue.reply("GET", "/data/trades", {"next_cursor": "LTE=", "data": [trade]})
    async with venue.client() as client:
        trades = await client.get_trades(
            market="0xcond", asset_id=TOKEN, trade_id="t-1", after_s=1_700_000_000
        )
    assert [(t.id, t.size_micro, t.status.value) for t in trades] == [(trade["id"], 5_000_000, "CONFIRMED")]
    assert dict(venue.requests[0].url.params) == {
        "id": "t-1",
        "market": "0xcond",
        "asset_id": TOKEN,
        "after": "1700000000",
        "next_cursor": "MA==",
    }
    assert_l2_signed(venue.requests[0], "/data/trades")


async def test_pagination_that_never_ends_is_bounded(venue: Venue) -> None:
    venue.on(
        "GET",
        "/data/orders",
        lambda req: httpx.Response(
            200, json={"next_cursor": req.url.params["next_cursor"] + "x", "data": []}
        ),
    )
    async with venue.client(max_pages=4) as client:
        with pytest.raises(OutcomeUnknown) as info:
            await client.get_open_orders()
    assert info.value.kind is RejectKind.MALFORMED
    assert len(venue.requests) == 4


async def test_a_repeating_cursor_is_malformed(venue: Venue) -> None:
    venue.reply("GET", "/data/trades", {"next_cursor": "MA==", "data": []})
    async with venue.client() as client:
        with pytest.raises(OutcomeUnknown, match="cursor"):
            await client.get_trades()
    assert len(venue.requests) == 1


# --- error mapping ----------------------------------------------------------------------------------


async def test_429_with_retry_after_is_rate_limited_and_holds_the_family(
    venue: Venue, autojump_clock: trio.abc.Clock
) -> None:
    venue.reply("POST", "/order", b"Too Many Requests", status=429, headers={"Retry-After": "2"})
    limiter = RateLimiter({EndpointFamily.POST_ORDER: (BucketSpec(100, 10.0),)})
    clock_s = lambda: NOW_S + int(trio.current_time())  # noqa: E731
    async with venue.client(rate_limiter=limiter, time_s=clock_s) as client:
        result = await client.post_order(wire(1))
        assert isinstance(result.error, RateLimited)
        assert result.error.retry_after_s == 2.0
        venue.reply("POST", "/order", accepted(oid(1)))
        assert (await client.post_order(wire(1))).ok
    assert trio.current_time() == 2.0
    # The retry was signed after the wait, not before it.
    assert [r.headers["POLY_TIMESTAMP"] for r in venue.requests] == [str(NOW_S), str(NOW_S + 2)]
    assert venue.requests[1].headers["POLY_SIGNATURE"] == expected_signature(
        "POST", "/order", venue.requests[1].content, NOW_S + 2
    )


async def test_429_on_a_read_raises_rate_limited(venue: Venue) -> None:
    venue.reply("GET", "/book", {"error": "Too Many Requests"}, status=429, headers={"Retry-After": "1.5"})
    async with venue.client() as client:
        with pytest.raises(RateLimited) as info:
            await client.get_book(TOKEN)
    assert info.value.retry_after_s == 1.5


@pytest.mark.parametrize(
    ("status", "body", "cls", "kind"),
    [
        (425, {"error": "the matching engine is restarting"}, OutcomeUnknown, RejectKind.ENGINE_RESTARTING),
        (
            503,
            {
                "error": "post-only mode: only post-only orders and cancels are allowed",
                "code": "post_only_mode",
                "retry_after_seconds": 79,
            },
            VenueMode,
            RejectKind.POST_ONLY_MODE,
        ),
        (500, {"error": "could not insert order"}, OutcomeUnknown, RejectKind.SYSTEM),
        (500, b"<html>oops</html>", OutcomeUnknown, RejectKind.SERVER_ERROR),
        (401, {"error": "Unauthorized/Invalid api key"}, AuthError, RejectKind.UNAUTHORIZED),
        (
            400,
            {"error": "invalid post-only order: order crosses book"},
            ExpectedReject,
            RejectKind.POST_ONLY_CROSSES,
        ),
        (400, {"error": "invalid expiration"}, OrderRejected, RejectKind.EXPIRATION),
    ],
)
async def test_post_order_http_errors_map_to_the_taxonomy(
    venue: Venue, status: int, body: Any, cls: type, kind: RejectKind
) -> None:
    venue.reply("POST", "/order", body, status=status)
    async with venue.client() as client:
        result = await client.post_order(wire(1))
    assert not result.ok
    assert type(result.error) is cls
    assert result.error is not None and result.error.kind is kind
    assert result.error.status == status
    assert result.error.endpoint == "POST /order"
    if cls is VenueMode:
        assert isinstance(result.error, VenueMode)
        assert (result.error.mode, result.error.retry_after_s) == (TradingMode.POST_ONLY, 79.0)
    assert client.statistics().errors == {f"POST /order {cls.__name__}": 1}


async def test_fak_no_fill_400_keeps_the_order_id(venue: Venue) -> None:
    msg = "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found."
    venue.reply("POST", "/order", {"error": msg, "orderID": oid(5)}, status=400)
    async with venue.client() as client:
        result = await client.post_order(wire(5, post_only=False))
    assert isinstance(result.error, ExpectedReject) and result.error.kind is RejectKind.FAK_NO_MATCH
    assert result.order_id == oid(5)


async def test_401_on_a_read_raises_auth_error(venue: Venue) -> None:
    venue.reply("GET", "/data/orders", {"error": "Unauthorized/Invalid api key"}, status=401)
    async with venue.client() as client:
        with pytest.raises(AuthError):
            await client.get_open_orders()


async def test_a_write_that_outlives_its_deadline_is_outcome_unknown(
    venue: Venue, autojump_clock: trio.abc.Clock
) -> None:
    async def hang(_request: httpx.Request) -> httpx.Response:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    venue.on("POST", "/order", hang)
    async with venue.client() as client:
        with pytest.raises(OutcomeUnknown) as info:
            with venue_deadline(5.0, "post order"):
                await client.post_order(wire(1))
    assert trio.current_time() == 5.0
    assert info.value.kind is RejectKind.TIMEOUT
    assert isinstance(info.value.__cause__, trio.TooSlowError)


async def test_a_read_under_plain_fail_after_raises_too_slow(
    venue: Venue, autojump_clock: trio.abc.Clock
) -> None:
    async def hang(_request: httpx.Request) -> httpx.Response:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    venue.on("GET", "/book", hang)
    async with venue.client() as client:
        with pytest.raises(trio.TooSlowError):
            with trio.fail_after(3.0):
                await client.get_book(TOKEN)
    assert trio.current_time() == 3.0


@pytest.mark.parametrize(
    ("exc", "kind"),
    [(httpx.ConnectError("refused"), RejectKind.TRANSPORT), (httpx.ReadTimeout("slow"), RejectKind.TIMEOUT)],
)
async def test_transport_errors_are_outcome_unknown(venue: Venue, exc: Exception, kind: RejectKind) -> None:
    def boom(_request: httpx.Request) -> httpx.Response:
        raise exc

    venue.on("POST", "/orders", boom)
    venue.on("GET", "/time", boom)
    async with venue.client() as client:
        results = await client.post_orders([wire(1), wire(2)])
        with pytest.raises(OutcomeUnknown) as info:
            await client.get_server_time()
    assert all(isinstance(r.error, OutcomeUnknown) and r.error.kind is kind for r in results)
    assert info.value.kind is kind


async def test_a_non_json_200_is_malformed(venue: Venue) -> None:
    venue.reply("POST", "/order", b"<html>hello</html>")
    async with venue.client() as client:
        result = await client.post_order(wire(1))
    assert isinstance(result.error, OutcomeUnknown) and result.error.kind is RejectKind.MALFORMED


# --- reads ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "tick"),
    [
        (0.01, "0.01"),
        (0.001, "0.001"),
        (0.0001, "0.0001"),
        ("0.0100", "0.01"),
        (0.1, "0.1"),
        (1e-05, "0.00001"),
    ],
)
async def test_tick_size_is_a_canonical_string(venue: Venue, raw: Any, tick: str) -> None:
    venue.reply("GET", "/tick-size", {"minimum_tick_size": raw})
    async with venue.client() as client:
        assert await client.get_tick_size(TOKEN) == tick
    assert dict(venue.requests[0].url.params) == {"token_id": TOKEN}
    assert "POLY_SIGNATURE" not in venue.requests[0].headers


@pytest.mark.parametrize("raw", [0, 1, -0.01, "abc", None, True])
async def test_a_nonsense_tick_size_is_malformed(venue: Venue, raw: Any) -> None:
    venue.reply("GET", "/tick-size", {"minimum_tick_size": raw})
    async with venue.client() as client:
        with pytest.raises(OutcomeUnknown) as info:
            await client.get_tick_size(TOKEN)
    assert info.value.kind is RejectKind.MALFORMED


async def test_public_reads_hit_their_paths(venue: Venue) -> None:
    book = load("book_captured_empty_ask.json")
    market = load("market.json")
    venue.reply("GET", "/book", book)
    venue.reply("GET", "/neg-risk", {"neg_risk": True})
    venue.reply("GET", "/time", NOW_S)
    venue.reply("GET", "/clob-markets/0xcond", {"c": "0xcond", "mts": 0.01, "mos": 5})
    venue.reply("GET", "/markets/0xcond", market)
    async with venue.client(creds=None) as client:
        snapshot = await client.get_book(TOKEN)
        assert (snapshot.asset_id, len(snapshot.bids), snapshot.asks) == (
            book["asset_id"],
            len(book["bids"]),
            (),
        )
        assert await client.get_neg_risk(TOKEN) is True
        assert await client.get_server_time() == NOW_S
        assert (await client.get_clob_market("0xcond"))["mos"] == 5
        assert (await client.get_market("0xcond")).condition_id == market["condition_id"]
    assert [r.url.path for r in venue.requests] == [
        "/book",
        "/neg-risk",
        "/time",
        "/clob-markets/0xcond",
        "/markets/0xcond",
    ]


async def test_book_404_no_orderbook_raises_rejected(venue: Venue) -> None:
    venue.reply("GET", "/book", {"error": "No orderbook exists for the requested token id"}, status=404)
    async with venue.client() as client:
        with pytest.raises(OrderRejected) as info:
            await client.get_book(TOKEN)
    assert info.value.kind is RejectKind.NO_ORDERBOOK


async def test_balance_allowance_query_and_signature(venue: Venue) -> None:
    venue.reply("GET", "/balance-allowance", {"balance": "1000000", "allowances": {"0xex": "115792"}})
    async with venue.client() as client:
        body = await client.get_balance_allowance("CONDITIONAL", token_id=TOKEN, signature_type=0)
    assert body["balance"] == "1000000"
    assert dict(venue.requests[0].url.params) == {
        "asset_type": "CONDITIONAL",
        "token_id": TOKEN,
        "signature_type": "0",
    }
    assert_l2_signed(venue.requests[0], "/balance-allowance")


# --- heartbeat and API keys -------------------------------------------------------------------------


async def test_post_heartbeat_sends_the_id_and_returns_the_next(venue: Venue) -> None:
    venue.reply("POST", "/v1/heartbeats", {"heartbeat_id": "hb-1"})
    async with venue.client() as client:
        assert await client.post_heartbeat("") == "hb-1"
    assert venue.requests[0].content == b'{"heartbeat_id":""}'
    assert_l2_signed(venue.requests[0], "/v1/heartbeats")


async def test_post_heartbeat_with_a_stale_id_raises_with_the_expected_one(venue: Venue) -> None:
    venue.reply(
        "POST", "/v1/heartbeats", {"error_msg": "Invalid Heartbeat ID", "heartbeat_id": "hb-9"}, status=400
    )
    async with venue.client() as client:
        with pytest.raises(InvalidHeartbeatId) as info:
            await client.post_heartbeat("hb-old")
    assert info.value.expected_id == "hb-9"


async def test_create_or_derive_falls_back_to_derive_with_valid_l1_headers(venue: Venue) -> None:
    new = {"apiKey": "k-2", "secret": "c2VjcmV0LXRoYXQtbXVzdC1ub3QtbGVhaw==", "passphrase": "p-2"}
    venue.reply("POST", "/auth/api-key", {"error": "Could not create api key"}, status=400)
    venue.reply("GET", "/auth/derive-api-key", new)
    async with venue.client(creds=None) as client:
        creds = await client.create_or_derive_api_key(SIGNER, nonce=3)
        client.use_creds(creds)
        assert new["secret"] not in repr(client)
    assert creds == ApiCreds("k-2", new["secret"], "p-2")
    assert [(r.method, r.url.path) for r in venue.requests] == [
        ("POST", "/auth/api-key"),
        ("GET", "/auth/derive-api-key"),
    ]
    for request in venue.requests:
        headers = request.headers
        assert headers["POLY_ADDRESS"] == ADDRESS
        assert headers["POLY_NONCE"] == "3"
        assert headers["POLY_TIMESTAMP"] == str(NOW_S)
        assert verify_clob_auth(ADDRESS, headers["POLY_SIGNATURE"], NOW_S, 3)
        assert "POLY_API_KEY" not in headers


async def test_a_malformed_api_key_answer_never_echoes_the_body(venue: Venue) -> None:
    venue.reply("POST", "/auth/api-key", {"apiKey": "k", "secret": "TOPSECRET", "passphrase": ""})
    async with venue.client(creds=None) as client:
        with pytest.raises(OutcomeUnknown) as info:
            await client.create_api_key(SIGNER)
    assert "TOPSECRET" not in str(info.value) and "TOPSECRET" not in repr(info.value)


# --- introspection and secrets ----------------------------------------------------------------------


async def test_statistics_and_repr_count_without_secrets(venue: Venue) -> None:
    venue.reply("POST", "/order", {"error": "invalid expiration"}, status=400)
    venue.reply("GET", "/data/order/" + oid(1), b"")
    async with venue.client() as client:
        await client.post_order(wire(1))
        await client.get_order(oid(1))
        stats = client.statistics()
        text = repr(client)
    assert stats.requests == {"POST /order": 1, "GET /data/order/{id}": 1}
    assert stats.errors == {"POST /order OrderRejected": 1}
    assert stats.leg_errors == {"OrderRejected/expiration": 1}
    assert "requests=2" in text and "errors=1" in text
    for secret in (CREDS.secret, CREDS.passphrase, CREDS.api_key):
        assert secret not in text


async def test_errors_never_carry_header_values(venue: Venue) -> None:
    venue.reply("POST", "/order", {"error": "Unauthorized/Invalid api key"}, status=401)
    async with venue.client() as client:
        result = await client.post_order(wire(1))
    assert result.error is not None
    for secret in (CREDS.secret, CREDS.passphrase):
        assert secret not in str(result.error) and secret not in repr(result.error)


async def test_an_unparseable_open_order_fails_the_whole_listing(venue: Venue) -> None:
    bad = {**open_order(2), "side": "SIDEWAYS"}
    venue.reply("GET", "/data/orders", {"next_cursor": "LTE=", "data": [open_order(1), bad]})
    async with venue.client() as client:
        with pytest.raises(OutcomeUnknown, match="open order #1") as info:
            await client.get_open_orders()
    assert info.value.kind is RejectKind.MALFORMED
