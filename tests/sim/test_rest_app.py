"""The simulator's REST front, in-process on Trio's fake clock: auth, order checks, limits, shapes.

Every scenario drives `SimRestApp` through `httpx.ASGITransport` with requests signed exactly as a client
would (L1 EIP-712, L2 HMAC over the bytes sent, EIP-712 V2 orders), against a flow-less venue whose
book we seed directly, so every answer is exact.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import trio
import trio.testing

from bot.protocol.auth import ApiCreds, l1_headers, l2_headers
from bot.protocol.constants import (
    ERR_INVALID_HEARTBEAT,
    ERR_INVALID_L1,
    ERR_ORDER_VERSION_MISMATCH,
    ERR_OWNER_MISMATCH,
    ERR_POST_ONLY_CROSSES,
    ERR_SIGNER_MISMATCH,
    ERR_UNAUTHORIZED,
    Side,
)
from bot.protocol.ratelimit import BucketSpec, EndpointFamily
from bot.protocol.signing import OrderSigner, SignedOrder, dumps_body
from bot.sim.flow import build_order
from bot.sim.model import MarketSpec
from bot.sim.ratelimit import VenueRateLimitConfig
from bot.sim.rest_app import RestConfig, status_for_message
from bot.sim.server import InProcessSim, open_inprocess_sim
from bot.sim.venue import SimVenue

EPOCH_S = 1_800_000_000.0
# Well-known test keys (Hardhat accounts 0 and 1); never funded anywhere real.
KEY_A = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
KEY_B = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
MAKER_KEY = "maker-api-key"
MAKER_ADDRESS = "0x00000000000000000000000000000000000000aa"


def _spec() -> MarketSpec:
    return MarketSpec(
        condition_id="0x" + "11" * 32,
        question="Bitcoin Up or Down - test window",
        slug="btc-updown-15m-1800000000",
        yes_token_id="1001",
        no_token_id="1002",
        start_ts=EPOCH_S,
        end_ts=EPOCH_S + 900,
        accepting_orders_ts=EPOCH_S - 100,
        rewards_rate_per_day=100.0,  # a reward pool: its orders can score
    )


SPEC = _spec()


@dataclass
class Account:
    """A test client: signer, API creds and an L2-signing httpx wrapper."""

    signer: OrderSigner
    creds: ApiCreds
    client: httpx.AsyncClient
    venue: SimVenue

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, str] | None = None,
        raw: bytes | None = None,
        sign_body: bytes | None = None,
        sign_path: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        content = raw if raw is not None else (dumps_body(body) if body is not None else b"")
        auth = l2_headers(
            self.creds,
            self.signer.address,
            method,
            sign_path or path,
            content if sign_body is None else sign_body,
            int(self.venue.now()),
        )
        return await self.client.request(
            method, path, content=content or None, params=params, headers={**auth, **(headers or {})}
        )

    def order(
        self, price: str, size: str, side: Side = Side.BUY, token: str = SPEC.yes_token_id
    ) -> SignedOrder:
        return self.signer.build_limit(
            token_id=token, price=price, size_shares=size, side=side, tick_size="0.01"
        )

    def wire(self, order: SignedOrder, order_type: str = "GTC", post_only: bool = False) -> dict[str, Any]:
        return order.to_wire(self.creds.api_key, order_type, post_only)


async def _account(sim: InProcessSim, client: httpx.AsyncClient, key: str) -> Account:
    signer = OrderSigner(key)
    response = await client.post("/auth/api-key", headers=l1_headers(signer, int(sim.venue.now())))
    assert response.status_code == 200, response.text
    body = response.json()
    return Account(signer, ApiCreds(body["apiKey"], body["secret"], body["passphrase"]), client, sim.venue)


def _seed_ask(sim: InProcessSim, price: str = "0.60", size: str = "100") -> str:
    """A resting SELL of the Up token from another account, so BUYs at `price` cross."""
    exchange = sim.venue.exchange
    exchange.fund(MAKER_ADDRESS, pusd_units=0, token_id=SPEC.yes_token_id, shares_units=10_000 * 10**6)
    exchange.register_api_key(MAKER_KEY, MAKER_ADDRESS)
    order_id = "0x" + "ab" * 32
    exchange.place(
        build_order(
            order_id=order_id,
            owner=MAKER_KEY,
            address=MAKER_ADDRESS,
            token_id=SPEC.yes_token_id,
            side="SELL",
            price=price,
            size=size,
        )
    )
    return order_id


@pytest.fixture
async def sim() -> AsyncIterator[InProcessSim]:
    # Trio's fake clock starts at an arbitrary time: anchor the venue so that "now" is EPOCH_S.
    venue = SimVenue(clock_epoch_s=EPOCH_S - trio.current_time(), markets=[SPEC], with_flow=False, seed=1)
    config = RestConfig(page_size=2)
    async with open_inprocess_sim(venue, rest_config=config) as handle:
        yield handle


@pytest.fixture
async def client(sim: InProcessSim) -> AsyncIterator[httpx.AsyncClient]:
    async with sim.client() as c:
        yield c


@pytest.fixture
async def alice(sim: InProcessSim, client: httpx.AsyncClient) -> Account:
    return await _account(sim, client, KEY_A)


# --- public endpoints ---------------------------------------------------------------------------------


async def test_public_endpoints_answer_in_the_venue_shapes(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, client: httpx.AsyncClient
) -> None:
    assert (await client.get("/ok")).json() == "OK"
    time_response = await client.get("/time")
    assert time_response.text == str(int(EPOCH_S))  # a bare integer of unix seconds
    assert (await client.get("/version")).json() == {"version": 2}
    assert (await client.get("/tick-size", params={"token_id": SPEC.yes_token_id})).json() == {
        "minimum_tick_size": 0.01
    }
    assert (await client.get(f"/tick-size/{SPEC.no_token_id}")).json() == {"minimum_tick_size": 0.01}
    assert (await client.get("/neg-risk", params={"token_id": SPEC.yes_token_id})).json() == {
        "neg_risk": False
    }
    assert (await client.get("/fee-rate", params={"token_id": SPEC.yes_token_id})).json() == {
        "base_fee": 1000
    }
    info = (await client.get(f"/clob-markets/{SPEC.condition_id}")).json()
    assert info["t"] == [{"t": "1001", "o": "Up"}, {"t": "1002", "o": "Down"}]
    assert (info["mts"], info["mos"], info["nr"], info["fd"], info["ao"]) == (
        0.01,
        5,
        False,
        {"r": 0.07, "e": 1, "to": True},
        True,
    )
    assert (await client.get(f"/markets-by-token/{SPEC.no_token_id}")).json()[
        "condition_id"
    ] == SPEC.condition_id
    market = (await client.get(f"/markets/{SPEC.condition_id}")).json()
    assert [t["token_id"] for t in market["tokens"]] == ["1001", "1002"]
    assert market["minimum_tick_size"] == 0.01 and market["accepting_orders"] is True


async def test_unknown_tokens_and_markets_are_404_and_missing_token_is_400(
    autojump_clock: trio.testing.MockClock, client: httpx.AsyncClient
) -> None:
    missing = await client.get("/book")
    assert (missing.status_code, missing.json()) == (400, {"error": "Invalid token id"})
    unknown = await client.get("/book", params={"token_id": "999"})
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"error": "No orderbook exists for the requested token id"},
    )
    assert (await client.get("/tick-size", params={"token_id": "999"})).status_code == 404
    assert (await client.get("/clob-markets/0xdead")).status_code == 404


async def test_books_drops_unknown_tokens_and_refuses_more_than_500(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, client: httpx.AsyncClient
) -> None:
    _seed_ask(sim)
    books = (
        await client.post("/books", json=[{"token_id": "1002"}, {"token_id": "nope"}, {"token_id": "1001"}])
    ).json()
    assert sorted(b["asset_id"] for b in books) == ["1001", "1002"]
    yes = next(b for b in books if b["asset_id"] == "1001")
    assert yes["asks"] == [{"price": "0.6", "size": "100"}]
    too_many = await client.post("/books", json=[{"token_id": "1001"}] * 501)
    assert (too_many.status_code, too_many.json()) == (400, {"error": "Payload exceeds the limit"})


def test_status_is_rewritten_by_message_text() -> None:
    assert status_for_message("order not found", 400) == 404
    assert status_for_message("Unauthorized/Invalid api key", 400) == 401
    assert status_for_message("context canceled", 500) == 400
    assert status_for_message("invalid expiration", 400) == 400


# --- auth ---------------------------------------------------------------------------------------------


async def test_create_then_derive_returns_the_same_creds_and_create_twice_fails(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, client: httpx.AsyncClient
) -> None:
    signer = OrderSigner(KEY_A)
    derive_first = await client.get("/auth/derive-api-key", headers=l1_headers(signer, int(sim.venue.now())))
    assert (derive_first.status_code, derive_first.json()) == (400, {"error": "Could not derive api key!"})
    created = await client.post("/auth/api-key", headers=l1_headers(signer, int(sim.venue.now())))
    derived = await client.get("/auth/derive-api-key", headers=l1_headers(signer, int(sim.venue.now())))
    assert created.status_code == derived.status_code == 200
    assert created.json() == derived.json()
    assert set(created.json()) == {"apiKey", "secret", "passphrase"}
    again = await client.post("/auth/api-key", headers=l1_headers(signer, int(sim.venue.now())))
    assert (again.status_code, again.json()) == (400, {"error": "Could not create api key"})
    other_nonce = await client.post(
        "/auth/api-key", headers=l1_headers(signer, int(sim.venue.now()), nonce=1)
    )
    assert other_nonce.status_code == 200 and other_nonce.json()["apiKey"] != created.json()["apiKey"]
    # The account that got credentials is a funded paper account.
    balance = sim.venue.exchange.balance(signer.address, "COLLATERAL", None)
    assert int(balance["balance"]) > 0


async def test_a_forged_l1_signature_is_401_invalid_l1_headers(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, client: httpx.AsyncClient
) -> None:
    signer, other = OrderSigner(KEY_A), OrderSigner(KEY_B)
    forged = {**l1_headers(other, int(sim.venue.now())), "POLY_ADDRESS": signer.address}
    response = await client.post("/auth/api-key", headers=forged)
    assert (response.status_code, response.json()) == (401, {"error": ERR_INVALID_L1})
    missing = await client.post("/auth/api-key")
    assert missing.status_code == 401


async def test_l2_hmac_covers_the_raw_body_bytes_and_the_path_without_query(
    autojump_clock: trio.testing.MockClock, alice: Account
) -> None:
    # Any bytes the client signed and sent are fine, even non-canonical JSON.
    spaced = b'{ "heartbeat_id" : "" }'
    assert (await alice.call("POST", "/v1/heartbeats", raw=spaced)).status_code == 200
    # Signing a re-serialization of the body instead of the bytes sent is refused.
    refused = await alice.call(
        "DELETE", "/order", raw=b'{"orderID": "0x01"}', sign_body=b'{"orderID":"0x01"}'
    )
    assert (refused.status_code, refused.json()) == (401, {"error": ERR_UNAUTHORIZED})
    # The query string is not part of the signed path.
    page = await alice.call("GET", "/data/orders", params={"next_cursor": "MA=="})
    assert page.status_code == 200
    with_query = await alice.call(
        "GET", "/data/orders", params={"next_cursor": "MA=="}, sign_path="/data/orders?next_cursor=MA=="
    )
    assert with_query.status_code == 401


async def test_l2_failures_are_401_unauthorized(
    autojump_clock: trio.testing.MockClock, alice: Account, client: httpx.AsyncClient
) -> None:
    assert (await client.get("/data/orders")).json() == {"error": ERR_UNAUTHORIZED}
    bad_pass = await alice.call("GET", "/data/orders", headers={"POLY_PASSPHRASE": "nope"})
    wrong_address = await alice.call(
        "GET", "/data/orders", headers={"POLY_ADDRESS": OrderSigner(KEY_B).address}
    )
    unknown_key = await alice.call(
        "GET", "/data/orders", headers={"POLY_API_KEY": "00000000-0000-4000-8000-000000000000"}
    )
    for response in (bad_pass, wrong_address, unknown_key):
        assert (response.status_code, response.json()) == (401, {"error": ERR_UNAUTHORIZED})


@pytest.mark.parametrize(
    ("offset_s", "status"),
    [(-3600, 401), (-61, 401), (-60, 200), (0, 200), (60, 200), (61, 401), (86_400, 401)],
)
async def test_l2_poly_timestamp_outside_the_freshness_window_is_401(
    autojump_clock: trio.testing.MockClock, alice: Account, offset_s: int, status: int
) -> None:
    """Issue 15 §2: the venue answers 401 to a stale or skewed POLY_TIMESTAMP (spec 2.2)."""
    now = int(alice.venue.now())
    auth = l2_headers(alice.creds, alice.signer.address, "GET", "/data/orders", b"", now + offset_s)
    response = await alice.client.get("/data/orders", headers=auth)
    assert response.status_code == status, response.text
    if status == 401:
        assert response.json() == {"error": ERR_UNAUTHORIZED}


async def test_poly_timestamp_in_milliseconds_and_a_day_old_l1_are_refused(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, alice: Account, client: httpx.AsyncClient
) -> None:
    now = int(sim.venue.now())
    in_ms = l2_headers(alice.creds, alice.signer.address, "GET", "/data/orders", b"", now * 1000)
    assert (await client.get("/data/orders", headers=in_ms)).status_code == 401
    stale_l1 = l1_headers(OrderSigner(KEY_B), now - 86_400)
    response = await client.post("/auth/api-key", headers=stale_l1)
    assert (response.status_code, response.json()) == (401, {"error": ERR_INVALID_L1})
    fresh_l1 = l1_headers(OrderSigner(KEY_B), now)
    assert (await client.post("/auth/api-key", headers=fresh_l1)).status_code == 200


# --- orders -------------------------------------------------------------------------------------------


async def test_post_order_returns_the_eip712_hash_as_order_id(
    autojump_clock: trio.testing.MockClock, alice: Account
) -> None:
    order = alice.order("0.40", "10")
    response = await alice.call("POST", "/order", alice.wire(order, post_only=True))
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "orderID": order.order_id,
        "status": "live",
        "makingAmount": "",
        "takingAmount": "",
        "transactionsHashes": [],
        "tradeIDs": [],
        "errorMsg": "",
    }


async def test_owner_and_signer_must_be_the_api_key_s(
    autojump_clock: trio.testing.MockClock, alice: Account, sim: InProcessSim, client: httpx.AsyncClient
) -> None:
    bob = await _account(sim, client, KEY_B)
    wrong_owner = {**alice.wire(alice.order("0.40", "10")), "owner": bob.creds.api_key}
    response = await alice.call("POST", "/order", wrong_owner)
    assert (response.status_code, response.json()) == (400, {"error": ERR_OWNER_MISMATCH})
    bobs_order = bob.order("0.40", "10").to_wire(alice.creds.api_key)
    response = await alice.call("POST", "/order", bobs_order)
    assert (response.status_code, response.json()) == (400, {"error": ERR_SIGNER_MISMATCH})


async def test_a_tampered_order_signature_is_refused(
    autojump_clock: trio.testing.MockClock, alice: Account
) -> None:
    body = alice.wire(alice.order("0.40", "10"))
    body["order"]["makerAmount"] = str(int(body["order"]["makerAmount"]) + 1)  # not what was signed
    response = await alice.call("POST", "/order", body)
    assert (response.status_code, response.json()) == (400, {"error": "invalid signature"})


async def test_a_v1_shaped_order_is_order_version_mismatch(
    autojump_clock: trio.testing.MockClock, alice: Account
) -> None:
    body = alice.wire(alice.order("0.40", "10"))
    v1 = {k: v for k, v in body["order"].items() if k not in ("timestamp", "metadata", "builder")}
    v1.update(taker="0x" + "00" * 20, nonce="0", feeRateBps="0")
    response = await alice.call("POST", "/order", {**body, "order": v1})
    assert (response.status_code, response.json()) == (400, {"error": ERR_ORDER_VERSION_MISMATCH})
    batch = await alice.call("POST", "/orders", [{**body, "order": v1}])
    assert (batch.status_code, batch.json()) == (400, {"error": ERR_ORDER_VERSION_MISMATCH})


async def test_malformed_order_bodies_are_invalid_order_payload(
    autojump_clock: trio.testing.MockClock, alice: Account
) -> None:
    for raw in (b"not json", b"[]", b'{"order": 5}'):
        response = await alice.call("POST", "/order", raw=raw)
        assert (response.status_code, response.json()) == (400, {"error": "Invalid order payload"}), raw


async def test_crossing_post_only_is_400_and_a_batch_reports_it_per_leg(
    autojump_clock: trio.testing.MockClock, alice: Account, sim: InProcessSim
) -> None:
    _seed_ask(sim, "0.60")
    crossing = await alice.call("POST", "/order", alice.wire(alice.order("0.60", "10"), post_only=True))
    assert (crossing.status_code, crossing.json()) == (400, {"error": ERR_POST_ONLY_CROSSES})
    good, bad = alice.order("0.50", "10"), alice.order("0.61", "10")
    batch = await alice.call(
        "POST", "/orders", [alice.wire(good, post_only=True), alice.wire(bad, post_only=True)]
    )
    assert batch.status_code == 200
    first, second = batch.json()
    assert (first["success"], first["orderID"], first["status"]) == (True, good.order_id, "live")
    assert second == {
        "errorMsg": ERR_POST_ONLY_CROSSES,
        "orderID": "",
        "takingAmount": "",
        "makingAmount": "",
        "status": "",
        "success": True,
    }


async def test_a_batch_of_more_than_15_orders_is_refused_whole(
    autojump_clock: trio.testing.MockClock, alice: Account, sim: InProcessSim
) -> None:
    orders = [alice.wire(alice.order("0.30", "5")) for _ in range(16)]
    response = await alice.call("POST", "/orders", orders)
    assert (response.status_code, response.json()) == (
        400,
        {"error": "Too many orders in payload: 16, max allowed: 15"},
    )
    assert sim.venue.exchange.statistics()["orders_total"] == 0


async def test_cancels_report_canceled_and_not_canceled(
    autojump_clock: trio.testing.MockClock, alice: Account
) -> None:
    order = alice.order("0.40", "10")
    await alice.call("POST", "/order", alice.wire(order))
    unknown = "0x" + "cd" * 32
    response = await alice.call("DELETE", "/orders", [order.order_id, unknown, order.order_id])
    assert response.json() == {"canceled": [order.order_id], "not_canceled": {unknown: "order not found"}}
    again = await alice.call("DELETE", "/order", {"orderID": order.order_id})
    assert again.json() == {"canceled": [], "not_canceled": {order.order_id: "already canceled or matched"}}
    assert (await alice.call("DELETE", "/order", {"orderID": 7})).json() == {"error": "Invalid orderID"}
    # Issue 15 §9: a malformed id (not an order hash) is a 400, not a not_canceled entry.
    malformed = await alice.call("DELETE", "/order", {"orderID": "abc"})
    assert (malformed.status_code, malformed.json()) == (400, {"error": "Invalid orderID"})
    batch = await alice.call("DELETE", "/orders", [unknown, "0x12"])
    assert (batch.status_code, batch.json()) == (400, {"error": "Invalid order payload"})


async def test_cancel_of_more_than_1000_ids_is_refused(
    autojump_clock: trio.testing.MockClock, alice: Account
) -> None:
    ids = [f"0x{i:064x}" for i in range(1001)]
    response = await alice.call("DELETE", "/orders", ids)
    assert (response.status_code, response.json()) == (
        400,
        {"error": "Too many orders in payload, max allowed: 1000"},
    )


async def test_cancel_market_orders_and_cancel_all(
    autojump_clock: trio.testing.MockClock, alice: Account
) -> None:
    up, down = alice.order("0.40", "10"), alice.order("0.30", "10", token=SPEC.no_token_id)
    await alice.call("POST", "/orders", [alice.wire(up), alice.wire(down)])
    by_asset = await alice.call("DELETE", "/cancel-market-orders", {"asset_id": SPEC.no_token_id})
    assert by_asset.json() == {"canceled": [down.order_id], "not_canceled": {}}
    everything = await alice.call("DELETE", "/cancel-all")
    assert everything.json() == {"canceled": [up.order_id], "not_canceled": {}}


async def test_open_orders_paginate_from_ma_to_lte_and_filter(
    autojump_clock: trio.testing.MockClock, alice: Account
) -> None:
    orders = [alice.order(f"0.{30 + i}", "5") for i in range(5)]
    await alice.call("POST", "/orders", [alice.wire(o) for o in orders])
    cursor, pages, seen = "MA==", [], []
    while cursor != "LTE=":
        page = (await alice.call("GET", "/data/orders", params={"next_cursor": cursor})).json()
        pages.append((page["limit"], page["count"], page["next_cursor"]))
        seen += [o["id"] for o in page["data"]]
        cursor = page["next_cursor"]
    assert pages == [
        (2, 2, base64.b64encode(b"2").decode()),
        (2, 2, base64.b64encode(b"4").decode()),
        (2, 1, "LTE="),
    ]
    assert seen == [o.order_id for o in orders]
    by_id = (await alice.call("GET", "/data/orders", params={"id": orders[3].order_id})).json()
    assert [o["id"] for o in by_id["data"]] == [orders[3].order_id]
    assert (await alice.call("GET", "/data/orders", params={"next_cursor": "LTE="})).json()["data"] == []
    one = (await alice.call("GET", f"/data/order/{orders[0].order_id}")).json()
    assert (one["id"], one["status"], one["price"], one["original_size"]) == (
        orders[0].order_id,
        "LIVE",
        "0.3000",
        "5.0000",
    )
    nothing = await alice.call("GET", f"/data/order/0x{'ee' * 32}")
    assert (nothing.status_code, nothing.text) == (200, "null")


async def test_trades_are_listed_with_pagination(
    autojump_clock: trio.testing.MockClock, alice: Account, sim: InProcessSim
) -> None:
    _seed_ask(sim, "0.60", "100")
    fill = await alice.call("POST", "/order", alice.wire(alice.order("0.60", "10")))
    assert fill.json()["status"] == "matched" and len(fill.json()["tradeIDs"]) == 1
    page = (await alice.call("GET", "/data/trades", params={"next_cursor": "MA=="})).json()
    assert page["next_cursor"] == "LTE=" and page["count"] == 1
    trade = page["data"][0]
    assert (trade["id"], trade["trader_side"], trade["price"]) == (fill.json()["tradeIDs"][0], "TAKER", "0.6")
    by_id = (await alice.call("GET", "/data/trades", params={"id": trade["id"]})).json()
    assert [t["id"] for t in by_id["data"]] == [trade["id"]]


async def test_heartbeat_chain_and_the_invalid_id_shape(
    autojump_clock: trio.testing.MockClock, alice: Account
) -> None:
    first = (await alice.call("POST", "/v1/heartbeats", {"heartbeat_id": ""})).json()["heartbeat_id"]
    second = (await alice.call("POST", "/v1/heartbeats", {"heartbeat_id": first})).json()["heartbeat_id"]
    assert first and second and first != second
    stale = await alice.call("POST", "/v1/heartbeats", {"heartbeat_id": first})
    assert (stale.status_code, stale.json()) == (
        400,
        {"error_msg": ERR_INVALID_HEARTBEAT, "heartbeat_id": second},
    )


async def test_balance_allowance_reports_the_paper_account(
    autojump_clock: trio.testing.MockClock, alice: Account
) -> None:
    body = (
        await alice.call(
            "GET", "/balance-allowance", params={"asset_type": "COLLATERAL", "signature_type": "0"}
        )
    ).json()
    assert body["balance"] == str(10_000 * 10**6) and body["allowances"]
    tokens = (
        await alice.call(
            "GET", "/balance-allowance/update", params={"asset_type": "CONDITIONAL", "token_id": "1001"}
        )
    ).json()
    assert tokens["balance"] == "0"


# --- rate limits --------------------------------------------------------------------------------------


async def test_signer_buckets_send_headers_and_429_with_retry_after(
    autojump_clock: trio.testing.MockClock, alice: Account, sim: InProcessSim
) -> None:
    # Standard tier: order burst 60, 40/s. Four full batches empty the bucket at one instant.
    start = trio.current_time()
    for expected_remaining in (45, 30, 15, 0):
        response = await alice.call(
            "POST", "/orders", [alice.wire(alice.order("0.20", "5")) for _ in range(15)]
        )
        assert response.status_code == 200
        assert response.headers["Poly-RateLimit-Remaining"] == str(expected_remaining)
        assert response.headers["Poly-RateLimit-Tier"] == "Standard"
    assert trio.current_time() == start  # nothing slept: the numbers are exact
    assert response.headers["Poly-RateLimit-Reset"] == str(int(EPOCH_S + 60 / 40 + 0.999999))
    refused = await alice.call("POST", "/order", alice.wire(alice.order("0.20", "5")))
    assert (refused.status_code, refused.json()) == (429, {"error": "Too Many Requests"})
    assert refused.headers["Retry-After"] == "1"
    await trio.sleep(1)
    assert (await alice.call("POST", "/order", alice.wire(alice.order("0.20", "5")))).status_code == 200
    # Cancel-all is charged after the fact (1 + cancelled): the cancel bucket may go negative.
    cancel_all = await alice.call("DELETE", "/cancel-all")
    assert cancel_all.headers["Poly-RateLimit-Remaining"] == str(120 - 1 - 61)


async def test_edge_limits_queue_briefly_then_429(autojump_clock: trio.testing.MockClock) -> None:
    limits = VenueRateLimitConfig(
        edge_limits={EndpointFamily.BOOK: (BucketSpec(10, 10.0),)}, throttle_max_wait_s=1.0
    )
    venue = SimVenue(clock_epoch_s=EPOCH_S - trio.current_time(), markets=[SPEC], with_flow=False)
    async with (
        open_inprocess_sim(venue, rest_config=RestConfig(rate_limits=limits)) as sim,
        sim.client() as client,
    ):
        start = trio.current_time()
        for _ in range(10):
            assert (await client.get("/book", params={"token_id": "1001"})).status_code == 200
        assert trio.current_time() == start
        # Two more at once: the first is queued one refill (1 s at 1 token/s); the second would need
        # 2 s, longer than Cloudflare queues (1 s): 429 at once, retry in 2 s.
        results: dict[str, tuple[int, float, str | None]] = {}

        async def get(name: str) -> None:
            response = await client.get("/book", params={"token_id": "1001"})
            results[name] = (
                response.status_code,
                trio.current_time() - start,
                response.headers.get("Retry-After"),
            )

        async with trio.open_nursery() as nursery:
            nursery.start_soon(get, "queued")
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(get, "refused")
        assert results == {"queued": (200, 1.0, None), "refused": (429, 0.0, "2")}
        # Other families are not affected.
        assert (await client.get("/ok")).status_code == 200


# --- gamma ----------------------------------------------------------------------------------------------


async def test_gamma_markets_and_events_have_the_spec_8_shapes(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, client: httpx.AsyncClient
) -> None:
    markets = (await client.get("/gamma/markets", params={"slug": SPEC.slug})).json()
    assert len(markets) == 1
    m = markets[0]
    assert isinstance(m["clobTokenIds"], str) and json.loads(m["clobTokenIds"]) == ["1001", "1002"]
    assert json.loads(m["outcomes"]) == ["Up", "Down"] and isinstance(m["outcomePrices"], str)
    assert (m["conditionId"], m["slug"], m["negRisk"], m["enableOrderBook"]) == (
        SPEC.condition_id,
        SPEC.slug,
        False,
        True,
    )
    assert (m["endDate"], m["eventStartTime"]) == ("2027-01-15T08:15:00Z", "2027-01-15T08:00:00Z")
    assert (
        m["orderPriceMinTickSize"],
        m["orderMinSize"],
        m["acceptingOrders"],
        m["active"],
        m["closed"],
    ) == (
        0.01,
        5,
        True,
        True,
        False,
    )
    assert m["feesEnabled"] is True and m["feeSchedule"] == {
        "exponent": 1,
        "rate": 0.07,
        "takerOnly": True,
        "rebateRate": 0.2,
    }
    assert "startDate" in m
    by_token = (await client.get("/gamma/markets", params={"clob_token_ids": "1002"})).json()
    by_condition = (await client.get("/gamma/markets", params={"condition_ids": SPEC.condition_id})).json()
    assert by_token == by_condition == markets
    events = (await client.get("/gamma/events", params={"slug": SPEC.slug})).json()
    assert [e["slug"] for e in events] == [SPEC.slug] and events[0]["markets"] == markets
    assert (await client.get("/gamma/markets", params={"slug": "nope"})).json() == []


async def test_gamma_hides_closed_markets_unless_asked(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, client: httpx.AsyncClient
) -> None:
    await trio.sleep(SPEC.end_ts - sim.venue.now() + 1)
    assert (await client.get("/gamma/markets", params={"slug": SPEC.slug})).json() == []
    closed = (await client.get("/gamma/markets", params={"slug": SPEC.slug, "closed": "true"})).json()
    assert [(m["closed"], m["acceptingOrders"]) for m in closed] == [(True, False)]


# --- order scoring --------------------------------------------------------------------------------------


async def test_an_order_scores_once_rested_and_within_the_reward_spread_of_the_midpoint(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, alice: Account
) -> None:
    _seed_ask(sim, price="0.60")
    near = alice.order("0.58", "10")  # midpoint 0.59: 1 cent away, inside the 3.5-cent reward spread
    far = alice.order("0.40", "10")  # 10 cents below the best ask's midpoint with `near`: outside it
    for order in (near, far):
        assert (await alice.call("POST", "/order", alice.wire(order, post_only=True))).status_code == 200

    async def scoring(order_id: str) -> bool:
        response = await alice.call("GET", "/order-scoring", params={"order_id": order_id})
        assert response.status_code == 200
        return response.json()["scoring"]

    assert await scoring(near.order_id) is False  # just placed: not rested long enough yet
    await trio.sleep(4)
    assert await scoring(near.order_id) is True
    assert await scoring(far.order_id) is False
    both = await alice.call("POST", "/orders-scoring", [near.order_id, far.order_id])
    assert both.json() == {near.order_id: True, far.order_id: False}
    await alice.call("DELETE", "/order", {"orderID": near.order_id})
    assert await scoring(near.order_id) is False  # finished orders do not score
