"""Conformance suite (issue 15): the UNMODIFIED official client (py-clob-client-v2) and raw HTTP and
WebSocket requests against `python -m bot sim` as shipped (a real process on 127.0.0.1, flow on).

Expected values come from the spec (docs/protocol/polymarket-clob.md), the real captures
(tests/fixtures/polymarket/) and the official client, never from what the bot sends. One process for
the module; every wait is bounded. The client is synchronous and runs in a worker thread, as a user's
script would.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import (
    BalanceAllowanceParams,
    BookParams,
    MarketOrderArgsV2,
    OrderArgsV2,
    OrderMarketCancelParams,
    OrderPayload,
    OrderScoringParams,
    OrdersScoringParams,
    OrderType,
    PostOrdersV2Args,
    PricesHistoryParams,
    TradeParams,
)
from py_clob_client_v2.exceptions import PolyApiException
from trio_websocket import ConnectionClosed, open_websocket_url

from bot.protocol.auth import ApiCreds, l2_headers
from bot.protocol.constants import Side
from bot.protocol.signing import OrderSigner, dumps_body
from tests.reliability.processes import SimProcess, pick_window_s, running_sim

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "polymarket" / "ws"
# Hardhat test keys 2 and 3: public, never funded anywhere real.
KEY_A = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
KEY_B = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"
SUITE_TIMEOUT_S = 120.0
FAR_BID = 0.02  # far below any flow price: rests, never fills
ORDER_PACING_S = 0.45  # 15 orders per 0.45 s stays under the Standard tier's 40 orders/s
CALLS: list[str] = []  # every official-client or raw call made, for the suite's size


def _capture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _shape(obj: Any) -> Any:
    """Keys and JSON types, recursively (lists by their first element)."""
    if isinstance(obj, dict):
        return {k: _shape(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_shape(obj[0])] if obj else []
    return type(obj).__name__


def _refused(call: Any) -> PolyApiException:
    with pytest.raises(PolyApiException) as caught:
        call()
    return caught.value


class Raw:
    """Raw L2 requests signed as a client would (bot.protocol.auth), to send what no SDK would."""

    def __init__(self, url: str, signer: OrderSigner, creds: ApiCreds) -> None:
        self.http = httpx.Client(base_url=url, timeout=10.0)
        self.signer, self.creds = signer, creds

    def call(self, method: str, path: str, body: Any = None, *, ts_offset_s: int = 0) -> httpx.Response:
        CALLS.append(f"raw {method} {path}")
        content = dumps_body(body) if body is not None else b""
        headers = l2_headers(
            self.creds, self.signer.address, method, path, content, int(time.time()) + ts_offset_s
        )
        return self.http.request(method, path, content=content or None, headers=headers)

    def order(
        self, token: str, maker: int, taker: int, side: Side, order_type: str = "GTC", **kw: Any
    ) -> Any:
        signed = self.signer.sign(token_id=token, maker_amount=maker, taker_amount=taker, side=side, **kw)
        return signed.to_wire(self.creds.api_key, order_type)


def _client(url: str, key: str) -> ClobClient:
    client = ClobClient(url, chain_id=137, key=key)
    client.set_api_creds(client.create_or_derive_api_key())
    CALLS.append("create_or_derive_api_key")
    return client


def _official_session(sim: SimProcess) -> dict[str, Any]:
    """Everything a maker or operator calls, plus every rejection class. Runs in a worker thread."""
    url = sim.urls["rest"]
    market = sim.current_market()
    up, down = market["token_ids"]
    cid = market["condition_id"]
    a, b = _client(url, KEY_A), _client(url, KEY_B)
    raw = Raw(url, OrderSigner(KEY_A), ApiCreds(a.creds.api_key, a.creds.api_secret, a.creds.api_passphrase))

    def c(name: str, value: Any) -> Any:
        CALLS.append(name)
        return value

    # --- public data ---------------------------------------------------------------------------------
    assert c("get_ok", a.get_ok()) == "OK"
    assert abs(int(c("get_server_time", a.get_server_time())) - time.time()) < 5
    tick = c("get_tick_size", a.get_tick_size(up))
    assert tick in ("0.01", "0.001")
    assert c("get_neg_risk", a.get_neg_risk(up)) is False
    book = c("get_order_book", a.get_order_book(up))
    assert {"market", "asset_id", "timestamp", "hash", "bids", "asks", "tick_size", "min_order_size"} <= set(
        book
    )
    assert set(c("get_market", a.get_market(cid))["tokens"][0]) >= {"token_id", "outcome", "price", "winner"}
    page = c("get_markets", a.get_markets())
    assert set(page) == {"limit", "count", "next_cursor", "data"} and cid in {
        m["condition_id"] for m in page["data"]
    }
    assert "data" in c("get_sampling_markets", a.get_sampling_markets())
    simple = c("get_simplified_markets", a.get_simplified_markets())["data"][0]
    assert {"condition_id", "tokens", "rewards", "active", "closed"} <= set(simple)
    assert "data" in c("get_sampling_simplified_markets", a.get_sampling_simplified_markets())
    mid = float(c("get_midpoint", a.get_midpoint(up))["mid"])
    assert 0 < mid < 1
    assert set(c("get_midpoints", a.get_midpoints([BookParams(token_id=up), BookParams(token_id=down)]))) == {
        up,
        down,
    }
    assert float(c("get_price", a.get_price(up, "BUY"))["price"]) <= float(a.get_price(up, "SELL")["price"])
    prices = c(
        "get_prices",
        a.get_prices([BookParams(token_id=up, side="BUY"), BookParams(token_id=up, side="SELL")]),
    )
    assert set(prices[up]) == {"BUY", "SELL"}
    assert float(c("get_spread", a.get_spread(up))["spread"]) >= 0
    assert set(c("get_spreads", a.get_spreads([BookParams(token_id=up)]))) == {up}
    assert set(c("get_last_trade_price", a.get_last_trade_price(up))) == {"price", "side"}
    assert [
        t["token_id"]
        for t in c("get_last_trades_prices", a.get_last_trades_prices([BookParams(token_id=up)]))
    ] == [up]
    history = c("get_prices_history", a.get_prices_history(PricesHistoryParams(market=up, interval="1h")))
    assert isinstance(history["history"], list)
    rewards = c("get_current_rewards", a.get_current_rewards())
    assert all({"condition_id", "rewards_max_spread", "rewards_min_size"} <= set(r) for r in rewards)
    assert [
        r["condition_id"] for r in c("get_raw_rewards_for_market", a.get_raw_rewards_for_market(cid))
    ] == [cid]
    clob_info = c("get_clob_market_info", a.get_clob_market_info(cid))
    assert clob_info["c"] == cid

    # --- resting orders: GTC, GTD, batches over 15, pagination, scoring ---------------------------------
    gtc = c("create_order", a.create_order(OrderArgsV2(token_id=up, price=FAR_BID, size=5, side="BUY")))
    posted = c("post_order", a.post_order(gtc, OrderType.GTC, post_only=True))
    assert (posted["success"], posted["status"], posted["errorMsg"]) == (True, "live", "")
    gtd = a.create_order(
        OrderArgsV2(token_id=down, price=FAR_BID, size=5, side="BUY", expiration=int(time.time()) + 600)
    )
    gtd_posted = c("post_order GTD", a.post_order(gtd, OrderType.GTD))
    assert gtd_posted["status"] == "live"
    batch = [
        PostOrdersV2Args(
            order=a.create_order(OrderArgsV2(token_id=up, price=FAR_BID, size=5 + i, side="BUY")),
            orderType=OrderType.GTC,
        )
        for i in range(16)
    ]
    too_many = _refused(lambda: a.post_orders(batch))
    CALLS.append("post_orders(16)")
    assert (too_many.status_code, too_many.error_msg) == (
        400,
        {"error": "Too many orders in payload: 16, max allowed: 15"},
    )
    placed = [posted["orderID"], gtd_posted["orderID"]]
    for start in range(0, 105, 15):
        orders = (
            batch[:15]
            if start == 0
            else [
                PostOrdersV2Args(
                    order=a.create_order(
                        OrderArgsV2(token_id=up, price=FAR_BID, size=5 + (start + i) / 100, side="BUY")
                    ),
                    orderType=OrderType.GTC,
                )
                for i in range(15)
            ]
        )
        legs = c("post_orders(15)", a.post_orders(orders))
        assert all(leg["success"] and leg["status"] == "live" for leg in legs), legs
        placed += [leg["orderID"] for leg in legs]
        time.sleep(ORDER_PACING_S)  # under the Standard tier's 40 orders/s (spec 7(b))
    open_orders = c("get_open_orders (paginated)", a.get_open_orders())
    assert {o["id"] for o in open_orders} == set(placed) and len(open_orders) > 100  # past one page of 100
    assert c("get_order", a.get_order(posted["orderID"]))["status"] == "LIVE"
    # Whether an order scores depends on where the flow has taken the midpoint and on how long it has rested
    # (a slow machine lets it pass the minimum rest): the shape is pinned here, the rule in test_rest_app.py on a fake clock.
    one = c("is_order_scoring", a.is_order_scoring(OrderScoringParams(orderId=posted["orderID"])))
    assert set(one) == {"scoring"} and isinstance(one["scoring"], bool)
    assert a.is_order_scoring(OrderScoringParams(orderId="0x" + "ab" * 32)) == {"scoring": False}  # not ours
    scoring = c("are_orders_scoring", a.are_orders_scoring(OrdersScoringParams(orderIds=placed[:3])))
    # Whether they score depends on where the flow has taken the midpoint: only the shape is pinned here.
    assert set(scoring) == set(placed[:3]) and all(isinstance(v, bool) for v in scoring.values())

    # --- rejection classes -------------------------------------------------------------------------------
    rejections: dict[str, tuple[int, str]] = {}

    def rejection(name: str, response: httpx.Response) -> str:
        rejections[name] = (response.status_code, response.json().get("error", ""))
        return rejections[name][1]

    unit = 1_000_000
    # Half a tick off the grid the market has now: the flow may have taken the price near an end, where the
    # venue's tick shrinks to 0.001 and 0.455 would be on it (a CI run saw that).
    tick_now = raw.http.get("/tick-size", params={"token_id": up}).json()["minimum_tick_size"]
    off_price_micro = 450_000 + round(float(tick_now) * unit) // 2  # 0.455 on the 0.01 grid
    off_grid = raw.order(up, maker=off_price_micro * 10, taker=10 * unit, side=Side.BUY)  # 10 shares
    assert "breaks minimum tick size rule" in rejection("tick", raw.call("POST", "/order", off_grid))
    small = raw.order(up, maker=2 * unit // 100, taker=1 * unit, side=Side.BUY)  # 1 share @ 0.02
    assert "lower than the minimum: 5" in rejection("min size", raw.call("POST", "/order", small))
    over_precise = raw.order(up, maker=202_469, taker=10_123_456, side=Side.BUY)
    assert rejection("precision", raw.call("POST", "/order", over_precise)).startswith(
        "invalid amounts, the buy orders"
    )
    inconsistent = raw.order(up, maker=4_330_000, taker=19_690_000, side=Side.BUY)  # 19.69 @ 0.22 signed 4.33
    assert "should be '4.3318'" in rejection("amount mismatch", raw.call("POST", "/order", inconsistent))
    stale_gtd = raw.order(
        up,
        maker=unit // 10,
        taker=5 * unit,
        side=Side.BUY,
        order_type="GTD",
        expiration=int(time.time()) + 30,
    )
    assert rejection("expiration", raw.call("POST", "/order", stale_gtd)) == "invalid expiration"
    tiny_buy = _refused(
        lambda: a.create_and_post_market_order(
            MarketOrderArgsV2(token_id=up, amount=0.5, side="BUY", order_type=OrderType.FAK, price=0.99),
            order_type=OrderType.FAK,
        )
    )
    CALLS.append("create_and_post_market_order $0.5")
    rejections["$1 minimum"] = (tiny_buy.status_code, tiny_buy.error_msg["error"])
    assert tiny_buy.error_msg["error"].startswith("invalid amount for a marketable BUY order ($0.5)")
    tampered = a.create_order(OrderArgsV2(token_id=up, price=FAR_BID, size=5, side="BUY"))
    tampered.signature = (
        tampered.signature[:-4]
        + ("00" if tampered.signature[-4:-2] != "00" else "11")
        + tampered.signature[-2:]
    )
    bad_sig = _refused(lambda: a.post_order(tampered, OrderType.GTC))
    rejections["signature"] = (bad_sig.status_code, bad_sig.error_msg["error"])
    assert bad_sig.error_msg == {"error": "invalid signature"}
    for name, offset in (("stale auth", -120), ("future auth", 120), ("ms auth", int(time.time()) * 999)):
        assert (
            rejection(name, raw.call("GET", "/data/orders", ts_offset_s=offset))
            == "Unauthorized/Invalid api key"
        )
    as_b = raw.order(up, maker=unit // 10, taker=5 * unit, side=Side.BUY)
    as_b["owner"] = b.creds.api_key
    assert (
        rejection("owner", raw.call("POST", "/order", as_b))
        == "the order owner has to be the owner of the API KEY"
    )
    others = c("cancel_order (another account's)", b.cancel_order(OrderPayload(orderID=posted["orderID"])))
    assert others["canceled"] == [] and posted["orderID"] in others["not_canceled"]
    assert c("get_order (another account's)", b.get_order(posted["orderID"])) in (None, "", {})
    too_many_ids = raw.call("DELETE", "/orders", [f"0x{i:064x}" for i in range(1001)])
    assert rejection("cancel > 1000", too_many_ids) == "Too many orders in payload, max allowed: 1000"
    assert (
        rejection("cancel-market-orders {}", raw.call("DELETE", "/cancel-market-orders", {}))
        == "Invalid order payload"
    )

    # Per-signer limit (spec 7(b), Standard tier burst 60): a flood of batches meets 429 with Retry-After.
    flood: list[str] = []
    for _ in range(8):
        response = raw.call(
            "POST",
            "/orders",
            [raw.order(up, maker=unit // 10, taker=5 * unit, side=Side.BUY) for _ in range(15)],
        )
        if response.status_code == 429:
            assert "retry-after" in response.headers
            rejection("rate limit", response)
            break
        flood += [leg["orderID"] for leg in response.json() if leg["orderID"]]
    assert "rate limit" in rejections
    time.sleep(float(response.headers["retry-after"]))

    # --- taking: FOK, FAK, market SELL ----------------------------------------------------------------
    def take(token: str, amount: float, order_type: OrderType) -> dict[str, Any]:
        # The flow's book can be empty on one side for a moment: a kill is a valid answer, so retry briefly.
        for _ in range(10):
            try:
                answer = a.create_and_post_market_order(
                    MarketOrderArgsV2(
                        token_id=token, amount=amount, side="BUY", order_type=order_type, price=0.99
                    ),
                    order_type=order_type,
                )
            except PolyApiException as exc:  # FOK/FAK kill (400 with an orderID) or no book yet
                assert exc.status_code == 400, exc
                time.sleep(0.5)
                continue
            CALLS.append(f"create_and_post_market_order {order_type} BUY")
            return answer
        raise AssertionError(f"no {order_type} BUY could match in 5 s")

    fak = take(up, 2, OrderType.FAK)
    shares = float(fak["takingAmount"])
    trades = c("get_trades", a.get_trades(TradeParams(id=fak["tradeIDs"][0])))
    assert [t["trader_side"] for t in trades] == ["TAKER"]
    fok = take(down, 1.5, OrderType.FOK)
    assert fok["status"] == "matched"
    sell = c(
        "create_and_post_market_order FAK SELL",
        a.create_and_post_market_order(
            MarketOrderArgsV2(
                token_id=up, amount=int(shares * 100) / 100, side="SELL", order_type=OrderType.FAK, price=0.01
            ),
            order_type=OrderType.FAK,
        ),
    )
    assert sell["status"] == "matched"

    # --- cancels ----------------------------------------------------------------------------------------
    resting = placed[2:] + flood
    canceled: list[str] = []
    for chunk in (resting[:100], resting[100:]):  # the cancel bucket's burst is 120 (spec 7(b) Standard)
        canceled += c("cancel_orders", a.cancel_orders(chunk))["canceled"]
        time.sleep(1.5)
    assert set(canceled) == set(resting)
    # The GTD (or the far bid) may have met the flow meanwhile: at most these, and nothing left after.
    by_token = c("cancel_market_orders", a.cancel_market_orders(OrderMarketCancelParams(asset_id=down)))
    assert set(by_token["canceled"]) <= {gtd_posted["orderID"]}
    assert set(c("cancel_all", a.cancel_all())["canceled"]) <= {posted["orderID"]}
    assert c("get_open_orders", a.get_open_orders()) == []
    finished = c("get_order (finished)", a.get_order(posted["orderID"]))
    assert finished is None or finished["status"] == "CANCELED"
    hb = c("post_heartbeat", a.post_heartbeat(""))
    assert set(hb) == {"heartbeat_id"}
    assert set(
        c(
            "get_balance_allowance",
            a.get_balance_allowance(BalanceAllowanceParams(asset_type="COLLATERAL")),
        )
    ) >= {"balance"}
    return {
        "rejections": rejections,
        "fak_trade": fak["tradeIDs"][0],
        "up": up,
        "down": down,
        "cid": cid,
        "creds": (a.creds.api_key, a.creds.api_secret, a.creds.api_passphrase),
    }


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[SimProcess]:
    async with running_sim(window_s=pick_window_s(), seed=15, stderr=tmp_path / "sim.err") as process:
        yield process


async def _ws_checks(sim: SimProcess, up: str, trade_ready: trio.Event, results: dict[str, Any]) -> None:
    """Subscription errors, PING/PONG, snapshot and post-trade messages compared with the captures."""
    ws_url = sim.urls["ws_market"]
    async with open_websocket_url(ws_url) as early:
        await early.send_message("PING")  # before subscribing: nautilus_trader issue #4864
        with pytest.raises(ConnectionClosed) as closed:
            await early.get_message()
        results["ping first"] = (closed.value.reason.code, closed.value.reason.reason)
    async with open_websocket_url(ws_url) as ws:
        await ws.send_message(
            json.dumps({"type": "market", "assets_ids": [up], "custom_feature_enabled": True})
        )
        snapshot = json.loads(await ws.get_message())[0]
        results["snapshot"] = snapshot
        await ws.send_message("PING")
        results["pong"] = await _next_text(ws, lambda m: m in ("PONG", "INVALID OPERATION"))
        await ws.send_message(json.dumps({"type": "market", "assets_ids": [up]}))
        results["second initial"] = await _next_text(ws, lambda m: m in ("INVALID OPERATION",))
        await ws.send_message(json.dumps({"operation": "subscribe", "asset_ids": [up]}))
        results["typo"] = await _next_text(ws, lambda m: m in ("INVALID OPERATION",))
        trade_ready.set()
        seen: list[dict[str, Any]] = []
        with trio.move_on_after(20):
            while not any(m.get("event_type") == "book" for m in seen):
                message = await ws.get_message()
                if message.startswith(("{", "[")):
                    frame = json.loads(message)
                    seen.extend(frame if isinstance(frame, list) else [frame])
        results["after trade"] = seen


async def _next_text(ws: Any, wanted: Any) -> str:
    with trio.fail_after(10):
        while True:
            message = await ws.get_message()
            if wanted(message):
                return message


async def test_the_official_client_and_raw_requests_against_the_shipped_simulator(sim: SimProcess) -> None:
    CALLS.clear()
    up = sim.current_market()["token_ids"][0]
    ws_results: dict[str, Any] = {}
    trade_ready = trio.Event()
    with trio.fail_after(SUITE_TIMEOUT_S):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_ws_checks, sim, up, trade_ready, ws_results)
            await trade_ready.wait()
            result = await trio.to_thread.run_sync(_official_session, sim)
    rejections = result["rejections"]
    assert {status for status, _text in rejections.values()} == {400, 401, 429}
    assert len(rejections) >= 14
    # WebSocket: the venue's answers and the captures' shapes.
    assert ws_results["ping first"] == (1008, "invalid subscription payload")
    assert ws_results["pong"] == "PONG"
    assert ws_results["second initial"] == ws_results["typo"] == "INVALID OPERATION"
    captured_snapshot = _capture("book_snapshot_captured.json")
    assert set(ws_results["snapshot"]) == set(captured_snapshot)
    burst = _capture("price_change_burst_captured.json")
    after = ws_results["after trade"]
    changes = [m for m in after if m.get("event_type") == "price_change"]
    books = [m for m in after if m.get("event_type") == "book"]
    assert changes and books
    assert _shape(changes[0]) == _shape(burst[1])
    assert set(books[0]) == set(burst[-1])
    # The post-trade sequence ends with a book after the level changes, as in the capture.
    kinds = [m["event_type"] for m in after if m["event_type"] in ("price_change", "book")]
    assert kinds.index("book") > kinds.index("price_change")
    print(f"conformance: {len(CALLS)} calls, {len(rejections)} rejection classes")
