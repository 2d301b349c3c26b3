"""Fault injection rows, each pinned through the real fronts on Trio's fake clock.

HTTP faults (status, 429 bursts, latency, hangs, drops, landed hangs/drops), engine actions (restart →
425 → post-only, cancel-only, tick size, FAILED trades, scheduled actions), WS faults (disconnects,
drops after N frames) and user-event faults (drop, duplicate, reorder, unknown-order storm).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio.testing
from trio_websocket import ConnectionClosed, WebSocketConnection

from bot.protocol.auth import ApiCreds, l2_headers
from bot.protocol.constants import ERR_CANCEL_ONLY, ERR_ENGINE_RESTARTING, ERR_POST_ONLY_MODE, Side
from bot.protocol.signing import OrderSigner, SignedOrder, dumps_body
from bot.sim.faults import FaultPlan, HttpFault, SimAction, UserEventFaults, fault_family
from bot.sim.flow import build_order
from bot.sim.model import MarketSpec, SimConfig
from bot.sim.server import InProcessSim, open_inprocess_sim
from bot.sim.venue import SimVenue

EPOCH_S = 1_800_000_000.0
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
MAKER = "0x00000000000000000000000000000000000000aa"
SPEC = MarketSpec(
    condition_id="0x" + "22" * 32,
    question="fault market",
    slug="btc-updown-15m-1800000000",
    yes_token_id="2001",
    no_token_id="2002",
    start_ts=EPOCH_S,
    end_ts=EPOCH_S + 900,
    accepting_orders_ts=EPOCH_S - 100,
)


@dataclass
class Client:
    http: httpx.AsyncClient
    signer: OrderSigner
    creds: ApiCreds
    venue: SimVenue

    async def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        content = dumps_body(body) if body is not None else b""
        headers = l2_headers(self.creds, self.signer.address, method, path, content, int(self.venue.now()))
        return await self.http.request(method, path, content=content or None, headers=headers)

    def order(self, price: str = "0.40", side: Side = Side.BUY) -> SignedOrder:
        return self.signer.build_limit(
            token_id=SPEC.yes_token_id, price=price, size_shares="10", side=side, tick_size="0.01"
        )

    async def post(
        self, order: SignedOrder, post_only: bool = False, order_type: str = "GTC"
    ) -> httpx.Response:
        return await self.call("POST", "/order", order.to_wire(self.creds.api_key, order_type, post_only))

    async def open_ids(self) -> list[str]:
        return [o["id"] for o in (await self.call("GET", "/data/orders")).json()["data"]]


@pytest.fixture
async def sim() -> AsyncIterator[InProcessSim]:
    venue = SimVenue(
        clock_epoch_s=EPOCH_S - trio.current_time(),
        markets=[SPEC],
        with_flow=False,
        seed=5,
        config=SimConfig(trade_mined_delay_s=1.0, trade_confirmed_delay_s=3.0),
    )
    async with open_inprocess_sim(venue) as handle:
        yield handle


@pytest.fixture
async def client(sim: InProcessSim) -> AsyncIterator[Client]:
    signer = OrderSigner(KEY)
    record = sim.fronts.keys.create(signer.address, 0)
    sim.venue.exchange.register_api_key(record.api_key, signer.address)
    async with sim.client() as http:
        yield Client(http, signer, record.creds, sim.venue)


def _seed_ask(sim: InProcessSim, price: str = "0.60") -> None:
    exchange = sim.venue.exchange
    exchange.fund(MAKER, token_id=SPEC.yes_token_id, shares_units=10**12)
    exchange.register_api_key("maker-key", MAKER)
    exchange.place(
        build_order(
            order_id="0x" + "ab" * 32,
            owner="maker-key",
            address=MAKER,
            token_id=SPEC.yes_token_id,
            side="SELL",
            price=price,
            size="100",
        )
    )


async def _user_ws(sim: InProcessSim, client: Client, ws: WebSocketConnection) -> None:
    auth = {
        "apiKey": client.creds.api_key,
        "secret": client.creds.secret,
        "passphrase": client.creds.passphrase,
    }
    await ws.send_message(json.dumps({"type": "user", "auth": auth, "markets": []}))
    await trio.testing.wait_all_tasks_blocked()


def test_families_and_groups_select_the_right_requests() -> None:
    assert fault_family("POST", "/order") == "post_order"
    assert fault_family("DELETE", "/cancel-all") == "cancel_all"
    assert fault_family("GET", "/data/order/0xab") == "data_order"
    assert fault_family("GET", "/gamma/markets") == "gamma"
    assert fault_family("GET", "/_sim/admin/faults") is None
    plan = FaultPlan(http=[HttpFault(kind="status", families=["cancels"], count=1)])
    assert plan.http_decision("post_order").fault is None
    assert plan.http_decision("cancel_market").fault is not None
    assert plan.http_decision("cancel_market").fault is None  # its one count is spent


async def test_status_fault_hits_exactly_n_requests_of_its_family(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, client: Client
) -> None:
    sim.admin.http.append(HttpFault(kind="status", families=["orders"], count=2, status=503))
    for _ in range(2):
        response = await client.post(client.order())
        assert (response.status_code, response.json()) == (503, {"error": "Service Unavailable"})
        assert (await client.http.get("/ok")).status_code == 200  # other families untouched
    assert (await client.post(client.order())).status_code == 200
    assert len(await client.open_ids()) == 1  # the refused requests never reached the engine


async def test_rate_limit_burst_answers_429_with_retry_after(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, client: Client
) -> None:
    sim.admin.http.append(HttpFault(kind="rate_limit", count=3, retry_after_s=7))
    for _ in range(3):
        response = await client.http.get("/time")
        assert (response.status_code, response.headers["Retry-After"], response.json()) == (
            429,
            "7",
            {"error": "Too Many Requests"},
        )
    assert (await client.http.get("/time")).status_code == 200


async def test_latency_delays_its_family_by_exactly_that_much(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, client: Client
) -> None:
    sim.admin.latency_s.update({"book": 0.25, "orders": 1.5})
    start = trio.current_time()
    await client.http.get("/book", params={"token_id": SPEC.yes_token_id})
    assert trio.current_time() - start == 0.25
    await client.http.get("/ok")
    assert trio.current_time() - start == 0.25
    await client.post(client.order())
    assert trio.current_time() - start == 1.75


async def test_hang_never_answers_and_the_order_never_lands(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, client: Client
) -> None:
    sim.admin.http.append(HttpFault(kind="hang", families=["post_order"]))
    start = trio.current_time()
    with trio.move_on_after(5) as timeout:
        await client.post(client.order())
    assert timeout.cancelled_caught and trio.current_time() - start == 5
    assert await client.open_ids() == []


async def test_landed_hang_places_the_order_but_the_answer_never_comes(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, client: Client
) -> None:
    sim.admin.http.append(HttpFault(kind="hang", families=["post_order"], landed=True))
    order = client.order()
    with trio.move_on_after(5) as timeout:
        await client.post(order)
    assert timeout.cancelled_caught
    assert await client.open_ids() == [order.order_id]  # its id is its hash: reconcilable


async def test_dropped_connections_are_transport_errors_landed_or_not(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, client: Client
) -> None:
    sim.admin.http.append(HttpFault(kind="drop", families=["post_order"]))
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post(client.order("0.40"))
    assert await client.open_ids() == []
    sim.admin.http.append(HttpFault(kind="drop", families=["post_order"], landed=True))
    landed = client.order("0.41")
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post(landed)
    assert await client.open_ids() == [landed.order_id]


async def test_restart_gives_425_then_post_only_mode_then_normal(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, client: Client
) -> None:
    resting = client.order("0.30")
    await client.post(resting)
    action = {"kind": "restart", "restart_s": 5, "post_only_mode_s": 120}
    assert (await client.http.post("/_sim/admin/actions", json=action)).status_code == 200
    restarting = await client.post(client.order())
    assert (restarting.status_code, restarting.json(), restarting.headers["Retry-After"]) == (
        425,
        {"error": ERR_ENGINE_RESTARTING},
        "5",
    )
    assert (await client.call("DELETE", "/order", {"orderID": resting.order_id})).status_code == 425
    await trio.sleep(5)
    refused = await client.post(client.order("0.31"))
    assert (refused.status_code, refused.headers["Retry-After"]) == (503, "120")
    assert refused.json() == {
        "error": ERR_POST_ONLY_MODE,
        "code": "post_only_mode",
        "retry_after_seconds": 120,
    }
    assert (await client.post(client.order("0.32"), post_only=True)).status_code == 200
    assert (await client.call("DELETE", "/order", {"orderID": resting.order_id})).json()["canceled"] == [
        resting.order_id
    ]
    await trio.sleep(120)
    assert (await client.post(client.order("0.33"))).status_code == 200


async def test_cancel_only_mode_refuses_orders_whole_and_allows_cancels(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, client: Client
) -> None:
    resting = client.order("0.30")
    await client.post(resting)
    sim.controller.apply(SimAction(kind="cancel_only", duration_s=30))
    single = await client.post(client.order())
    assert (single.status_code, single.json()) == (503, {"error": ERR_CANCEL_ONLY})
    batch = await client.call("POST", "/orders", [client.order().to_wire(client.creds.api_key)] * 2)
    assert (batch.status_code, batch.json()) == (503, {"error": ERR_CANCEL_ONLY})
    assert (await client.call("DELETE", "/cancel-all")).json()["canceled"] == [resting.order_id]
    await trio.sleep(30)
    assert (await client.post(client.order())).status_code == 200


async def test_scheduled_actions_apply_at_their_time(autojump_clock: trio.testing.MockClock) -> None:
    plan = FaultPlan(schedule=[SimAction(kind="disabled", at_s=10, duration_s=5)])
    venue = SimVenue(clock_epoch_s=EPOCH_S - trio.current_time(), markets=[SPEC], with_flow=False)
    async with open_inprocess_sim(venue, plan=plan) as sim, sim.client() as http:
        signer = OrderSigner(KEY)
        record = sim.fronts.keys.create(signer.address, 0)
        venue.exchange.register_api_key(record.api_key, signer.address)
        client = Client(http, signer, record.creds, venue)
        start = trio.current_time()
        await trio.sleep(9.5)
        assert (await client.post(client.order("0.30"))).status_code == 200
        await trio.sleep_until(start + 10.5)
        refused = await client.post(client.order("0.31"))
        assert (refused.status_code, refused.json()) == (
            503,
            {"error": "Trading is currently disabled. Check polymarket.com for updates"},
        )
        await trio.sleep_until(start + 14.5)
        assert (await client.post(client.order("0.32"))).status_code == 503
        await trio.sleep_until(start + 15.5)
        assert (await client.post(client.order("0.33"))).status_code == 200


async def test_tick_size_change_reaches_rest_and_the_market_channel(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, client: Client
) -> None:
    async with sim.connector(sim.ws_market_url) as ws:
        await ws.send_message(json.dumps({"type": "market", "assets_ids": [SPEC.yes_token_id]}))
        await ws.get_message()  # snapshot
        sim.controller.apply(SimAction(kind="tick_size", condition_id=SPEC.condition_id, tick_size="0.001"))
        event = json.loads(await ws.get_message())
        assert (event["event_type"], event["asset_id"], event["old_tick_size"], event["new_tick_size"]) == (
            "tick_size_change",
            SPEC.yes_token_id,
            "0.01",
            "0.001",
        )
    tick = await client.http.get("/tick-size", params={"token_id": SPEC.yes_token_id})
    assert tick.json() == {"minimum_tick_size": 0.001}


async def test_failed_trades_end_failed_after_matching(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, client: Client
) -> None:
    _seed_ask(sim)
    sim.controller.apply(SimAction(kind="fail_trades", count=1))
    matched = await client.post(client.order("0.60"))
    assert matched.json()["status"] == "matched"
    await trio.sleep(3.5)  # past the 3 s settlement deadline (not on it: no tie with the venue task)
    trades = (await client.call("GET", "/data/trades")).json()["data"]
    assert [t["status"] for t in trades] == ["FAILED"]


async def test_user_events_can_be_dropped_duplicated_and_reordered(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, client: Client
) -> None:
    async with sim.connector(sim.ws_user_url) as ws:
        await _user_ws(sim, client, ws)

        async def place(price: str) -> str:
            order = client.order(price)
            await client.post(order)
            return order.order_id

        sim.admin.user_events = UserEventFaults(drop=1)
        lost, kept = await place("0.30"), await place("0.31")
        assert json.loads(await ws.get_message())["id"] == kept
        sim.admin.user_events = UserEventFaults(duplicate=1)
        twice = await place("0.32")
        assert [json.loads(await ws.get_message())["id"] for _ in range(2)] == [twice, twice]
        sim.admin.user_events = UserEventFaults(reorder=1)
        first, second = await place("0.33"), await place("0.34")
        assert [json.loads(await ws.get_message())["id"] for _ in range(2)] == [second, first]
        assert lost not in (kept, twice, first, second)
    stats = sim.fronts.hub.statistics()
    assert (stats["user_events_drop"], stats["user_events_duplicate"], stats["user_events_reorder"]) == (
        1,
        1,
        1,
    )


async def test_ws_disconnect_action_and_drop_after_n_frames(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, client: Client
) -> None:
    subscribe = json.dumps({"type": "market", "assets_ids": [SPEC.yes_token_id]})
    async with sim.connector(sim.ws_market_url) as ws:
        await ws.send_message(subscribe)
        await ws.get_message()
        result = sim.controller.apply(SimAction(kind="ws_disconnect", channel="market"))
        assert result == {"kind": "ws_disconnect", "closed": 1}
        with pytest.raises(ConnectionClosed) as closed:
            await ws.get_message()
        assert closed.value.reason.code == 1001
    sim.admin.ws_drop_after_frames["market"] = 2
    async with sim.connector(sim.ws_market_url) as ws:
        await ws.send_message(subscribe)
        assert json.loads(await ws.get_message())[0]["event_type"] == "book"  # frame 1
        await client.post(client.order("0.30"))
        assert json.loads(await ws.get_message())["event_type"] == "price_change"  # frame 2, the last
        with pytest.raises(ConnectionClosed):
            await ws.get_message()


async def test_storm_floods_the_user_channel_with_unknown_order_ids(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, client: Client
) -> None:
    async with sim.connector(sim.ws_user_url) as ws:
        await _user_ws(sim, client, ws)
        result = sim.controller.apply(SimAction(kind="storm", count=25))
        assert result["delivered"] == 25
        events = [json.loads(await ws.get_message()) for _ in range(25)]
    assert {e["event_type"] for e in events} == {"order"}
    assert {e["type"] for e in events} == {"PLACEMENT", "UPDATE", "CANCELLATION"}
    assert all(e["owner"] == client.creds.api_key for e in events)
    assert await client.open_ids() == []  # nobody placed them
    assert len({e["id"] for e in events}) == 25


async def test_plan_loads_from_json_and_admin_routes_replace_it_unfaulted(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, client: Client, tmp_path: Path
) -> None:
    path = tmp_path / "faults.json"
    path.write_text(
        json.dumps({"latency_s": {"data": 0.5}, "http": [{"kind": "status", "status": 502, "count": 5}]})
    )
    plan = FaultPlan.from_json_file(path)
    assert (plan.latency_s, plan.http[0].status, plan.http[0].families) == ({"data": 0.5}, 502, ["*"])
    put = await client.http.put("/_sim/admin/faults", content=path.read_bytes())
    assert put.status_code == 200 and sim.admin.http[0].count == 5
    # A "*" fault never touches the admin prefix.
    assert (await client.http.get("/_sim/admin/faults")).json()["http"][0]["count"] == 5
    assert (await client.http.get("/ok")).status_code == 502
    assert (await client.http.put("/_sim/admin/faults", content=b'{"nope": 1}')).status_code == 400
    assert (await client.http.delete("/_sim/admin/faults")).json()["http"] == []
    assert (await client.http.get("/ok")).status_code == 200
    added = await client.http.post(
        "/_sim/admin/faults/http", json={"kind": "rate_limit", "families": ["public"]}
    )
    assert added.status_code == 200
    assert (await client.http.get("/ok")).status_code == 429


# --- issue 17: the fault file format is documented, and a bad file says what is wrong -----------------


def test_the_documented_example_fault_file_loads(tmp_path):
    import re
    from pathlib import Path

    from bot.sim.faults import FaultPlan

    doc = (Path(__file__).resolve().parents[2] / "ops" / "FAULTS.md").read_text(encoding="utf-8")
    example = re.search(r"```json\n(.*?)```", doc, re.DOTALL).group(1)
    path = tmp_path / "faults.json"
    path.write_text(example, encoding="utf-8")
    plan = FaultPlan.from_json_file(path)
    assert [f.kind for f in plan.http] == ["status", "rate_limit", "hang", "garbage"]
    assert [a.kind for a in plan.schedule] == ["restart", "fail_trades", "ws_disconnect", "cancel_only"]


def test_a_bad_fault_file_is_one_line_per_problem_not_a_pydantic_dump(tmp_path, capsys):
    from bot import cli

    path = tmp_path / "faults.json"
    path.write_text('{"http": [{"kind": "explode", "count": -1}], "bogus": 1}', encoding="utf-8")
    assert cli.main(["sim", "--faults", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"bot sim: fault file {path}: not a valid fault plan (format: ops/FAULTS.md):"
    assert err[1].startswith("  http[0].kind: Input should be 'status'")
    assert err[2] == "  http[0].count: Input should be greater than or equal to 0"
    assert err[3] == "  bogus: unknown field (see ops/FAULTS.md for the fields)"
    assert not any("pydantic" in line or "errors.pydantic.dev" in line for line in err)
    path.write_text('{"http": [', encoding="utf-8")
    assert cli.main(["sim", "--faults", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"bot sim: fault file {path}: not JSON:")


def test_every_simulator_admin_path_the_docs_give_is_served():
    """ops/ARCHITECTURE.md once gave `/_admin/faults` (a 404): every `/_…` path in the README and ops/ docs
    is the admin prefix plus a route the simulator serves."""
    import re
    from pathlib import Path

    import httpx

    from bot.sim.routes.common import ADMIN_PREFIX
    from bot.sim.server import open_inprocess_sim
    from bot.sim.venue import SimVenue

    repo = Path(__file__).resolve().parents[2]
    docs = [repo / "README.md", *sorted((repo / "ops").glob("*.md"))]
    paths = {m for doc in docs for m in re.findall(r"/_[a-z_]+(?:/[a-z_-]+)+", doc.read_text(encoding="utf-8"))}
    assert paths, "the docs name no admin path"

    async def check() -> None:
        async with open_inprocess_sim(SimVenue(seed=1), seed=1) as sim:
            async with httpx.AsyncClient(base_url=sim.rest_url, transport=sim.transport) as client:
                for path in sorted(paths):
                    assert path.startswith(ADMIN_PREFIX + "/"), path
                    answer = await client.get(path)
                    assert answer.status_code != 404, path

    import trio

    trio.run(check)
