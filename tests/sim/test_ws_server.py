"""The simulator's WebSocket front: subscriptions, snapshots, keep-alive, auth, filtering, slow consumers.

Clients are real trio-websocket connections over in-memory lockstep streams (`sim.connector`), on Trio's
fake clock; one scenario uses the loopback listener to pin the path routing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trio.testing
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from bot.sim.flow import build_order
from bot.sim.model import MarketSpec
from bot.sim.server import InProcessSim, open_inprocess_sim, serve_loopback
from bot.sim.venue import SimVenue
from bot.sim.ws_server import WsConfig

EPOCH_S = 1_800_000_000.0
ADDRESS_A = "0x00000000000000000000000000000000000000a1"
ADDRESS_B = "0x00000000000000000000000000000000000000b2"
IDLE_S = 60.0


def _spec(n: int) -> MarketSpec:
    return MarketSpec(
        condition_id=f"0x{n:064x}",
        question=f"market {n}",
        slug=f"btc-updown-15m-{n}",
        yes_token_id=f"{n}01",
        no_token_id=f"{n}02",
        start_ts=EPOCH_S,
        end_ts=EPOCH_S + 900,
        accepting_orders_ts=EPOCH_S - 100,
    )


M1, M2 = _spec(1), _spec(2)


def _venue() -> SimVenue:
    return SimVenue(clock_epoch_s=EPOCH_S - trio.current_time(), markets=[M1, M2], with_flow=False, seed=3)


@pytest.fixture
async def sim() -> AsyncIterator[InProcessSim]:
    async with open_inprocess_sim(
        _venue(), ws_config=WsConfig(idle_timeout_s=IDLE_S, outgoing_queue_frames=8)
    ) as handle:
        yield handle


def _creds(sim: InProcessSim, address: str) -> dict[str, str]:
    record = sim.fronts.keys.create(address, 0)
    sim.venue.exchange.register_api_key(record.api_key, address)
    return {
        "apiKey": record.creds.api_key,
        "secret": record.creds.secret,
        "passphrase": record.creds.passphrase,
    }


_seq = iter(range(1, 10_000))


def _place(
    sim: InProcessSim, api_key: str, address: str, spec: MarketSpec, price: str, side: str = "BUY"
) -> str:
    order_id = f"0x{next(_seq):064x}"
    sim.venue.exchange.fund(address, pusd_units=10**12, token_id=spec.yes_token_id, shares_units=10**12)
    sim.venue.exchange.place(
        build_order(
            order_id=order_id,
            owner=api_key,
            address=address,
            token_id=spec.yes_token_id,
            side=side,
            price=price,
            size="10",
        )
    )
    return order_id


async def _json(ws: WebSocketConnection) -> Any:
    return json.loads(await ws.get_message())


async def _subscribe_market(ws: WebSocketConnection, assets: list[str], **extra: Any) -> None:
    await ws.send_message(json.dumps({"type": "market", "assets_ids": assets, **extra}))


async def test_market_subscribe_sends_one_book_frame_then_deltas_of_subscribed_assets_only(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim
) -> None:
    key = _creds(sim, ADDRESS_A)["apiKey"]
    async with sim.connector(sim.ws_market_url) as ws:
        await _subscribe_market(ws, [M1.yes_token_id, M1.no_token_id, "unknown-token"])
        books = await _json(ws)
        assert [(b["event_type"], b["asset_id"]) for b in books] == [("book", "101"), ("book", "102")]
        # The venue's snapshot: REST's book without min_order_size / neg_risk (ws/book_snapshot_captured.json).
        rest = sim.venue.exchange.book(M1.yes_token_id)
        del rest["min_order_size"], rest["neg_risk"]
        assert {k: v for k, v in books[0].items() if k != "event_type"} == rest
        _place(sim, key, ADDRESS_A, M2, "0.40")  # another market: not for us
        _place(sim, key, ADDRESS_A, M1, "0.45")
        change = await _json(ws)
        assert change["event_type"] == "price_change" and change["market"] == M1.condition_id
        assert [(e["asset_id"], e["price"], e["side"]) for e in change["price_changes"]] == [
            ("101", "0.45", "BUY"),
            ("102", "0.55", "SELL"),
        ]
        # Unsubscribe both tokens: nothing more arrives, but the socket stays usable.
        await ws.send_message(json.dumps({"operation": "unsubscribe", "assets_ids": ["101", "102"]}))
        await ws.send_message("PING")
        assert await ws.get_message() == "PONG"
        _place(sim, key, ADDRESS_A, M1, "0.44")
        await ws.send_message("PING")
        assert await ws.get_message() == "PONG"  # no price_change queued before it
        # Subscribe again by operation: a fresh snapshot of the added asset.
        await ws.send_message(json.dumps({"operation": "subscribe", "assets_ids": ["102"]}))
        assert [b["asset_id"] for b in await _json(ws)] == ["102"]


async def test_best_bid_ask_only_with_custom_features(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim
) -> None:
    key = _creds(sim, ADDRESS_A)["apiKey"]
    async with sim.connector(sim.ws_market_url) as plain, sim.connector(sim.ws_market_url) as custom:
        await _subscribe_market(plain, ["101"])
        await _subscribe_market(custom, ["101"], custom_feature_enabled=True)
        await plain.get_message(), await custom.get_message()  # the snapshots
        _place(sim, key, ADDRESS_A, M1, "0.45")
        assert (await _json(custom))["event_type"] == "price_change"
        assert [(e["event_type"], e["asset_id"]) for e in [await _json(custom)]] == [("best_bid_ask", "101")]
        assert (await _json(plain))["event_type"] == "price_change"
        await plain.send_message("PING")
        assert await plain.get_message() == "PONG"


async def test_user_channel_rejects_wrong_credentials_with_a_close_frame(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim
) -> None:
    creds = _creds(sim, ADDRESS_A)
    async with sim.connector(sim.ws_user_url) as ws:
        await ws.send_message(
            json.dumps({"type": "user", "auth": {**creds, "secret": "wrong"}, "markets": []})
        )
        with pytest.raises(ConnectionClosed) as closed:
            await ws.get_message()
    assert (closed.value.reason.code, closed.value.reason.reason) == (1008, "Unauthorized/Invalid api key")
    assert sim.fronts.hub.statistics()["auth_failures"] == 1


async def test_user_channel_delivers_only_the_key_s_events_for_its_markets(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim
) -> None:
    a, b = _creds(sim, ADDRESS_A), _creds(sim, ADDRESS_B)
    async with sim.connector(sim.ws_user_url) as ws_all, sim.connector(sim.ws_user_url) as ws_m2:
        await ws_all.send_message(json.dumps({"type": "user", "auth": a, "markets": []}))
        await ws_m2.send_message(json.dumps({"type": "user", "auth": a, "markets": [M2.condition_id]}))
        await trio.testing.wait_all_tasks_blocked()
        _place(sim, b["apiKey"], ADDRESS_B, M1, "0.30")  # someone else's order
        in_m1 = _place(sim, a["apiKey"], ADDRESS_A, M1, "0.31")
        in_m2 = _place(sim, a["apiKey"], ADDRESS_A, M2, "0.32")
        first, second = await _json(ws_all), await _json(ws_all)
        assert [(e["event_type"], e["type"], e["id"]) for e in (first, second)] == [
            ("order", "PLACEMENT", in_m1),
            ("order", "PLACEMENT", in_m2),
        ]
        only = await _json(ws_m2)
        assert (only["id"], only["market"]) == (in_m2, M2.condition_id)


async def test_idle_connections_close_after_the_idle_timeout_and_pings_keep_them_open(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim
) -> None:
    async with sim.connector(sim.ws_market_url) as silent, sim.connector(sim.ws_market_url) as pinger:
        start = trio.current_time()
        await _subscribe_market(pinger, [], custom_feature_enabled=True)  # a PING needs a subscription first
        async with trio.open_nursery() as nursery:

            async def keep_pinging() -> None:
                while True:
                    await trio.sleep(10)
                    await pinger.send_message("PING")
                    assert await pinger.get_message() == "PONG"

            nursery.start_soon(keep_pinging)
            with pytest.raises(ConnectionClosed) as closed:
                await silent.get_message()
            assert trio.current_time() - start == IDLE_S
            assert (closed.value.reason.code, closed.value.reason.reason) == (1000, "idle timeout")
            await trio.sleep(3 * IDLE_S)
            assert pinger.closed is None
            nursery.cancel_scope.cancel()


async def test_a_consumer_that_stops_reading_is_disconnected_and_others_keep_up(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim
) -> None:
    key = _creds(sim, ADDRESS_A)["apiKey"]
    async with sim.connector(sim.ws_market_url) as stalled, sim.connector(sim.ws_market_url) as reader:
        await _subscribe_market(stalled, ["101"])
        await _subscribe_market(reader, ["101"])
        await trio.testing.wait_all_tasks_blocked()  # both subscriptions processed
        received: list[str] = []
        async with trio.open_nursery() as nursery:

            async def read() -> None:
                while True:
                    received.append(await reader.get_message())

            nursery.start_soon(read)
            for i in range(40):
                # The engine never waits for a socket: each placement returns at once.
                _place(sim, key, ADDRESS_A, M1, f"0.{10 + i}")
                await trio.sleep(0.1)
            nursery.cancel_scope.cancel()
        assert len(received) == 41  # the snapshot and every delta
        assert sim.fronts.hub.statistics()["slow_consumers"] == 1
        with pytest.raises(ConnectionClosed):
            while True:
                await stalled.get_message()


async def test_loopback_listener_routes_the_two_paths_and_rejects_others(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Real sockets: the fake clock must not autojump while the kernel moves bytes.
    autojump_clock.autojump_threshold = 0.5
    venue = _venue()
    async with trio.open_nursery() as nursery:
        server = await nursery.start(lambda task_status: serve_loopback(venue, task_status=task_status))
        async with open_websocket_url(server.urls.ws_market) as ws:
            await _subscribe_market(ws, ["101"])
            assert [b["asset_id"] for b in await _json(ws)] == ["101"]
        with pytest.raises(Exception) as rejected:
            async with open_websocket_url(server.urls.ws_market.replace("/ws/market", "/ws/other")):
                pass
        assert "404" in repr(rejected.value) or getattr(rejected.value, "status_code", None) == 404
        server.shutdown()
        nursery.cancel_scope.cancel()


# --- strict subscriptions (issue 15 §5) -----------------------------------------------------------------


async def _closed_with(ws: WebSocketConnection) -> tuple[int, str | None]:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await ws.get_message()
    return closed.value.reason.code, closed.value.reason.reason


@pytest.mark.parametrize(
    "first",
    [
        "PING",  # nautilus_trader issue #4864
        "not json",
        json.dumps({"type": "market", "asset_ids": ["101"]}),  # typo'd key
        json.dumps({"type": "market", "assets_ids": []}),  # nothing, and no discovery either
        json.dumps({"operation": "subscribe", "assets_ids": ["101"]}),  # an operation first
    ],
)
async def test_a_first_frame_that_is_not_a_valid_subscription_closes_the_socket(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim, first: str
) -> None:
    async with sim.connector(sim.ws_market_url) as ws:
        await ws.send_message(first)
        assert await _closed_with(ws) == (1008, "invalid subscription payload")


async def test_after_subscribing_bad_frames_get_invalid_operation_and_change_nothing(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim
) -> None:
    async with sim.connector(sim.ws_market_url) as ws:
        await _subscribe_market(ws, ["101"])
        assert [b["asset_id"] for b in await _json(ws)] == ["101"]
        refused = [
            json.dumps({"type": "market", "assets_ids": ["102"]}),  # a second initial message (NT PR #3717)
            "not json",
            "ping",
            json.dumps({"operation": "subscribe", "asset_ids": ["102"]}),
            json.dumps({"operation": "subscribe", "assets_ids": []}),
            json.dumps({"operation": "subscribe", "assets_ids": ["999999"]}),
            json.dumps({"operation": "resubscribe", "assets_ids": ["102"]}),
        ]
        for frame in refused:
            await ws.send_message(frame)
            assert await ws.get_message() == "INVALID OPERATION", frame
        await ws.send_message("PING")
        assert await ws.get_message() == "PONG"
        await ws.send_message(json.dumps({"operation": "subscribe", "assets_ids": ["102"]}))
        assert [b["asset_id"] for b in await _json(ws)] == ["102"]


async def test_empty_assets_with_custom_features_is_the_discovery_subscription(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim
) -> None:
    async with sim.connector(sim.ws_market_url) as ws:
        await _subscribe_market(ws, [], custom_feature_enabled=True)
        await ws.send_message("PING")
        assert await ws.get_message() == "PONG"


async def test_user_channel_refuses_a_second_auth_and_bad_operations(
    autojump_clock: trio.testing.MockClock, sim: InProcessSim
) -> None:
    creds = _creds(sim, ADDRESS_A)
    async with sim.connector(sim.ws_user_url) as early:
        await early.send_message("PING")
        assert await _closed_with(early) == (1008, "invalid subscription payload")
    async with sim.connector(sim.ws_user_url) as ws:
        await ws.send_message(json.dumps({"type": "user", "auth": creds, "markets": []}))
        for frame in (
            json.dumps({"type": "user", "auth": creds, "markets": []}),
            json.dumps({"operation": "subscribe", "markets": []}),
            json.dumps({"operation": "subscribe", "market": [M1.condition_id]}),
        ):
            await ws.send_message(frame)
            assert await ws.get_message() == "INVALID OPERATION", frame
        await ws.send_message(json.dumps({"operation": "subscribe", "markets": [M1.condition_id]}))
        await ws.send_message("PING")
        assert await ws.get_message() == "PONG"


async def test_lenient_mode_ignores_what_it_does_not_understand(
    autojump_clock: trio.testing.MockClock,
) -> None:
    config = WsConfig(idle_timeout_s=IDLE_S, strict_subscriptions=False)
    async with open_inprocess_sim(_venue(), ws_config=config) as sim:
        async with sim.connector(sim.ws_market_url) as ws:
            await ws.send_message("PING")
            assert await ws.get_message() == "PONG"
            await ws.send_message("not json")
            await _subscribe_market(ws, ["101"])
            assert [b["asset_id"] for b in await _json(ws)] == ["101"]


async def test_the_message_connector_serves_the_same_texts_without_websocket_framing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # The backtest's connector: the same subscription, snapshot, deltas, PONG and idle close as a framed
    # connection, message for message.
    config = WsConfig(idle_timeout_s=IDLE_S, outgoing_queue_frames=8)
    async with open_inprocess_sim(_venue(), ws_config=config) as framed_sim, \
            open_inprocess_sim(_venue(), ws_config=config, framing=False) as message_sim:
        seen: dict[str, list[str]] = {}
        for name, sim in (("framed", framed_sim), ("messages", message_sim)):
            key = _creds(sim, ADDRESS_A)["apiKey"]
            texts = seen.setdefault(name, [])
            async with sim.connector(sim.ws_market_url) as ws:
                assert isinstance(ws, WebSocketConnection) == (name == "framed")
                start = trio.current_time()
                await _subscribe_market(ws, [M1.yes_token_id, M1.no_token_id])
                texts.append(await ws.get_message())
                _place(sim, key, ADDRESS_A, M1, "0.45")
                texts.append(await ws.get_message())
                await ws.send_message("PING")
                texts.append(await ws.get_message())
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.get_message()
                assert trio.current_time() - start == IDLE_S
                assert (closed.value.reason.code, closed.value.reason.reason) == (1000, "idle timeout")
                assert ws.closed is not None
        framed, messages = seen["framed"], seen["messages"]
        assert messages[2] == framed[2] == "PONG"
        for a, b in zip(framed[:2], messages[:2], strict=True):
            # Order ids and timestamps differ between the two venues; the shapes and prices do not.
            assert _shape(json.loads(a)) == _shape(json.loads(b))


def _shape(frame: Any) -> Any:
    if isinstance(frame, list):
        return [_shape(item) for item in frame]
    if isinstance(frame, dict):
        return {k: _shape(v) for k, v in frame.items() if k not in ("timestamp", "hash")}
    return frame
