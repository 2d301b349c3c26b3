"""WebSocket streams against a tiny fake venue on in-memory streams, on Trio's fake clock (exact times)."""

from __future__ import annotations

import logging
import math
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
import trio
import trio.testing
import trio_websocket
from trio_websocket import ConnectionClosed, WebSocketConnection

from bot.engine.feeds import MarketFeed
from bot.protocol.auth import ApiCreds
from bot.protocol.constants import Side
from bot.protocol.messages import LastTradePriceEvent, OrderEvent, TickSizeChangeEvent
from bot.protocol.ws import (
    ConnectionState,
    MarketStream,
    ReconnectBackoff,
    Resynced,
    UserStream,
    open_market_stream,
    open_user_stream,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "polymarket"
MARKET_URL = "ws://venue.test/ws/market"
USER_URL = "ws://venue.test/ws/user"
SECRET = "c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1sZWFr"
PASSPHRASE = "passphrase-that-must-never-leak"
CREDS = ApiCreds(api_key="00000000-0000-0000-0000-00000000abcd", secret=SECRET, passphrase=PASSPHRASE)


def _fixture(rel: str) -> Any:
    return orjson.loads((FIXTURES / rel).read_bytes())


def book_event(token: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]], ts: int = 1) -> dict[str, Any]:
    return {
        "event_type": "book",
        "asset_id": token,
        "market": "0xm",
        "timestamp": str(1_700_000_000_000 + ts),
        "hash": f"h{ts}",
        "bids": [{"price": p, "size": s} for p, s in bids],
        "asks": [{"price": p, "size": s} for p, s in asks],
    }


def price_change(token: str, price: str, size: str, side: str, ts: int) -> dict[str, Any]:
    return {
        "event_type": "price_change",
        "market": "0xm",
        "timestamp": str(1_700_000_000_000 + ts),
        "price_changes": [
            {"asset_id": token, "price": price, "size": size, "side": side, "hash": f"d{ts}", "best_bid": "", "best_ask": ""}
        ],
    }


def order_event(n: int) -> dict[str, Any]:
    return {**_fixture("ws/order_placement.json"), "id": f"0x{n:064x}"}


class FakeConnection:
    """The venue's side of one client connection: what the client sent, and ways to answer."""

    def __init__(self, ws: WebSocketConnection, index: int) -> None:
        self.ws = ws
        self.index = index
        self.opened_at_s = trio.current_time()
        self.received: list[tuple[float, str | bytes]] = []
        self.closed = trio.Event()
        self._inbox_send, self._inbox = trio.open_memory_channel[str | bytes](math.inf)

    async def next_message(self) -> Any:
        """The next non-PING message the client sent, JSON-decoded."""
        while True:
            message = await self._inbox.receive()
            if message != "PING":
                return orjson.loads(message)

    def ping_times(self) -> list[float]:
        return [at - self.opened_at_s for at, message in self.received if message == "PING"]

    async def send(self, frame: Any) -> None:
        await self.ws.send_message(frame if isinstance(frame, str | bytes) else orjson.dumps(frame).decode())

    async def close(self) -> None:
        await self.ws.aclose()


class FakeVenue:
    """Accepts connections through `connector` on memory streams; answers PING with PONG unless told not to."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self.connections: list[FakeConnection] = []
        self.attempts_at_s: list[float] = []
        self.answer_pings = True
        self.refuse_next = 0
        self._new_send, self._new = trio.open_memory_channel[FakeConnection](math.inf)

    @asynccontextmanager
    async def connector(self, url: str) -> AsyncIterator[WebSocketConnection]:
        self.attempts_at_s.append(trio.current_time())
        if self.refuse_next:
            self.refuse_next -= 1
            raise OSError("connection refused")
        client_stream, server_stream = trio.testing.memory_stream_pair()
        self._nursery.start_soon(self._serve, server_stream)
        ws = await trio_websocket.wrap_client_stream(self._nursery, client_stream, "venue.test", url)  # type: ignore[arg-type]
        try:
            yield ws
        finally:
            with trio.move_on_after(1, shield=True):
                await ws.aclose()

    async def next_connection(self) -> FakeConnection:
        return await self._new.receive()

    async def _serve(self, stream: trio.abc.Stream) -> None:
        async with trio.open_nursery() as nursery:
            request = await trio_websocket.wrap_server_stream(nursery, stream)
            ws = await request.accept()
            connection = FakeConnection(ws, len(self.connections))
            self.connections.append(connection)
            self._new_send.send_nowait(connection)
            try:
                while True:
                    message = await ws.get_message()
                    connection.received.append((trio.current_time(), message))
                    connection._inbox_send.send_nowait(message)
                    if message == "PING" and self.answer_pings:
                        await ws.send_message("PONG")
            except ConnectionClosed:
                pass
            finally:
                connection.closed.set()
            # The server's reader task ends by itself once the close handshake is done or the client vanished.


def market_stream(venue: FakeVenue, tokens: list[str], **options: Any) -> MarketStream:
    return MarketStream(MARKET_URL, tokens, connector=venue.connector, rng=random.Random(1), **options)


def user_stream(venue: FakeVenue, markets: list[str], **options: Any) -> UserStream:
    return UserStream(USER_URL, CREDS, markets, connector=venue.connector, rng=random.Random(1), **options)


# --- subscription --------------------------------------------------------------------------------------------


async def test_market_stream_sends_the_documented_subscription_first(nursery: trio.Nursery, autojump_clock: Any) -> None:
    venue = FakeVenue(nursery)
    stream = market_stream(venue, ["t1", "t2"])
    assert stream.state is ConnectionState.IDLE
    await nursery.start(stream.run)
    connection = await venue.next_connection()
    assert await connection.next_message() == {
        "type": "market",
        "assets_ids": ["t1", "t2"],
        "custom_feature_enabled": True,
        "initial_dump": True,
    }
    stats = stream.statistics()
    assert stats.connected and stats.state is ConnectionState.CONNECTED and stats.connections == 1
    assert stats.subscriptions == 2 and stats.reconnects == 0


async def test_user_stream_authenticates_with_raw_creds_and_never_shows_them(
    nursery: trio.Nursery, autojump_clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    venue = FakeVenue(nursery)
    stream = user_stream(venue, ["0xcond"])
    await nursery.start(stream.run)
    connection = await venue.next_connection()
    assert await connection.next_message() == {
        "type": "user",
        "auth": {"apiKey": CREDS.api_key, "secret": SECRET, "passphrase": PASSPHRASE},
        "markets": ["0xcond"],
        "assets_ids": [],
    }
    await connection.send("{broken")
    await connection.close()
    second = await venue.next_connection()
    await second.next_message()
    shown = caplog.text + repr(stream) + repr(stream.statistics()) + repr(CREDS)
    assert stream.statistics().reconnects == 1 and stream.statistics().malformed == 1
    assert SECRET not in shown and PASSPHRASE not in shown


async def test_subscribe_and_unsubscribe_operate_on_the_open_socket_and_survive_a_reconnect(
    nursery: trio.Nursery, autojump_clock: Any
) -> None:
    venue = FakeVenue(nursery)
    stream = market_stream(venue, ["t1", "t2"])
    await nursery.start(stream.run)
    connection = await venue.next_connection()
    await connection.next_message()
    await stream.subscribe(["t3", "t1"])  # t1 is already subscribed
    assert await connection.next_message() == {
        "operation": "subscribe",
        "assets_ids": ["t3"],
        "custom_feature_enabled": True,
    }
    await stream.unsubscribe(["t1", "t9"])  # t9 never was
    assert await connection.next_message() == {"operation": "unsubscribe", "assets_ids": ["t1"]}
    assert stream.book("t1") is None and stream.token_ids == ("t2", "t3")
    assert stream.take_changed() == {"t1"}  # reported once, with no book

    await connection.close()
    second = await venue.next_connection()
    assert (await second.next_message())["assets_ids"] == ["t2", "t3"]


async def test_user_subscribe_operations_use_markets(nursery: trio.Nursery, autojump_clock: Any) -> None:
    venue = FakeVenue(nursery)
    stream = user_stream(venue, ["0xa"])
    await nursery.start(stream.run)
    connection = await venue.next_connection()
    await connection.next_message()
    await stream.subscribe(["0xb"])
    assert await connection.next_message() == {"operation": "subscribe", "markets": ["0xb"]}
    await stream.unsubscribe(["0xa"])
    assert await connection.next_message() == {"operation": "unsubscribe", "markets": ["0xa"]}
    assert stream.markets == ("0xb",)


# --- keep-alive, dead feeds, reconnects ----------------------------------------------------------------------


async def test_ping_is_sent_every_interval_at_exact_virtual_times(nursery: trio.Nursery, autojump_clock: Any) -> None:
    venue = FakeVenue(nursery)
    stream = market_stream(venue, ["t1"], ping_interval_s=10.0, dead_after_s=30.0)
    await nursery.start(stream.run)
    connection = await venue.next_connection()
    await trio.sleep(45.0)
    assert connection.ping_times() == [10.0, 20.0, 30.0, 40.0]
    stats = stream.statistics()
    # Each PONG is a frame: the connection stays alive well past dead_after_s.
    assert (stats.pings_sent, stats.control_frames, stats.connections, stats.dead_timeouts) == (4, 4, 1, 0)
    assert stats.last_frame_at_s == connection.opened_at_s + 40.0


async def test_silent_connection_is_dropped_after_dead_after_s_then_reconnected_with_backoff(
    nursery: trio.Nursery, autojump_clock: Any
) -> None:
    venue = FakeVenue(nursery)
    venue.answer_pings = False
    stream = market_stream(venue, ["t1"], ping_interval_s=10.0, dead_after_s=30.0)
    expected_delay = ReconnectBackoff(0.5, 30.0, 0.5, random.Random(1)).next_delay_s()
    await nursery.start(stream.run)
    first = await venue.next_connection()
    second = await venue.next_connection()
    await second.next_message()  # the subscription: the client counts the connection before sending it
    assert first.ping_times()[:2] == [10.0, 20.0]
    assert first.closed.is_set()
    assert venue.attempts_at_s[1] == first.opened_at_s + 30.0 + expected_delay
    assert second.opened_at_s == venue.attempts_at_s[1]
    stats = stream.statistics()
    assert (stats.dead_timeouts, stats.connections, stats.reconnects) == (1, 2, 1)


async def test_server_close_leads_to_a_reconnect_and_a_resynced_marker_before_new_events(
    nursery: trio.Nursery, autojump_clock: Any
) -> None:
    venue = FakeVenue(nursery)
    stream = user_stream(venue, ["0xcond"])
    expected_delay = ReconnectBackoff(0.5, 30.0, 0.5, random.Random(1)).next_delay_s()
    await nursery.start(stream.run)
    first = await venue.next_connection()
    t0 = first.opened_at_s
    await first.send(order_event(1))
    await trio.sleep(5.0)
    await first.close()
    second = await venue.next_connection()
    assert second.opened_at_s == t0 + 5.0 + expected_delay
    assert (await second.next_message())["type"] == "user"  # subscribed again, same message
    await second.send(order_event(2))

    received = [await stream.events.receive() for _ in range(3)]
    assert isinstance(received[0], OrderEvent) and received[0].id == f"0x{1:064x}"
    assert received[1] == Resynced(reconnects=1, at_s=t0 + 5.0 + expected_delay)
    assert isinstance(received[2], OrderEvent) and received[2].id == f"0x{2:064x}"


async def test_first_connect_emits_no_resynced_marker(nursery: trio.Nursery, autojump_clock: Any) -> None:
    venue = FakeVenue(nursery)
    stream = user_stream(venue, [])
    await nursery.start(stream.run)
    connection = await venue.next_connection()
    await connection.send(order_event(7))
    assert isinstance(await stream.events.receive(), OrderEvent)


async def test_refused_connections_back_off_exponentially_up_to_the_cap(
    nursery: trio.Nursery, autojump_clock: Any
) -> None:
    venue = FakeVenue(nursery)
    venue.refuse_next = 5
    stream = market_stream(venue, ["t1"], reconnect_min_s=0.5, reconnect_max_s=2.0, reconnect_jitter=0.0)
    t0 = trio.current_time()
    await nursery.start(stream.run)  # ready only once subscribed
    assert [at - t0 for at in venue.attempts_at_s] == [0.0, 0.5, 1.5, 3.5, 5.5, 7.5]
    stats = stream.statistics()
    assert (stats.connect_failures, stats.connections, stats.state) == (5, 1, ConnectionState.CONNECTED)


async def test_backoff_restarts_from_the_minimum_after_a_healthy_connection(
    nursery: trio.Nursery, autojump_clock: Any
) -> None:
    venue = FakeVenue(nursery)
    stream = market_stream(venue, ["t1"], reconnect_min_s=0.5, reconnect_max_s=8.0, reconnect_jitter=0.0)
    await nursery.start(stream.run)
    for _ in range(3):  # closed before any frame: the backoff grows
        await (await venue.next_connection()).close()
    fourth = await venue.next_connection()
    gaps = [b - a for a, b in zip(venue.attempts_at_s, venue.attempts_at_s[1:], strict=False)]
    assert gaps == [0.5, 1.0, 2.0]
    await fourth.send("PONG")  # a frame: the connection works
    await trio.sleep(1.0)
    await fourth.close()
    await venue.next_connection()
    assert venue.attempts_at_s[-1] - venue.attempts_at_s[-2] == 1.0 + 0.5


def test_reconnect_backoff_is_capped_jittered_and_reproducible() -> None:
    plain = ReconnectBackoff(0.5, 4.0, 0.0, random.Random(0))
    assert [plain.next_delay_s() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    plain.reset()
    assert plain.next_delay_s() == 0.5
    a = ReconnectBackoff(0.5, 4.0, 0.5, random.Random(42))
    b = ReconnectBackoff(0.5, 4.0, 0.5, random.Random(42))
    delays = [a.next_delay_s() for _ in range(50)]
    assert delays == [b.next_delay_s() for _ in range(50)]
    assert all(step / 2 < d <= step for d, step in zip(delays, [0.5, 1.0, 2.0] + [4.0] * 47, strict=True))
    with pytest.raises(ValueError):
        ReconnectBackoff(1.0, 0.5, 0.0, random.Random(0))


# --- frames and delivery -------------------------------------------------------------------------------------


async def test_a_consumer_called_back_takes_the_changed_books_in_the_frames_own_step(
    nursery: trio.Nursery, autojump_clock: Any
) -> None:
    """`on_books_changed` (the hub's fan-out): called before the frame's handling returns, once per frame that
    changed a book, so the markets wake without a task hop in between."""
    venue = FakeVenue(nursery)
    stream = market_stream(venue, ["t1", "t2"])
    taken: list[tuple[frozenset[str], int | None]] = []

    def take() -> None:
        book = stream.book("t1")
        taken.append((stream.take_changed(), book.best_bid_micro if book is not None else None))

    stream.on_books_changed = take
    await nursery.start(stream.run)
    connection = await venue.next_connection()
    await connection.send([book_event("t1", [("0.4", "10")], [("0.6", "5")]), book_event("t2", [("0.3", "1")], [])])
    await connection.send(price_change("t1", "0.45", "3", "BUY", ts=2))
    await connection.send(price_change("t9", "0.45", "3", "BUY", ts=3))  # a token we do not follow: no call
    await trio.sleep(1.0)
    assert taken == [(frozenset({"t1", "t2"}), 400_000), (frozenset({"t1"}), 450_000)]


async def test_frames_may_be_one_object_or_an_array_of_events(nursery: trio.Nursery, autojump_clock: Any) -> None:
    venue = FakeVenue(nursery)
    stream = market_stream(venue, ["t1", "t2"])
    await nursery.start(stream.run)
    connection = await venue.next_connection()
    await connection.send([book_event("t1", [("0.4", "10")], [("0.6", "5")]), book_event("t2", [("0.3", "1")], [])])
    assert await stream.books_changed() == {"t1", "t2"}
    await connection.send(price_change("t1", "0.45", "3", "BUY", ts=2))
    assert await stream.books_changed() == {"t1"}
    t1, t2 = stream.book("t1"), stream.book("t2")
    assert t1 is not None and t2 is not None
    assert t1.best_bid_level == (450_000, 3_000_000) and t1.best_ask_micro == 600_000 and t1.hash == "d2"
    assert t2.best_bid_micro == 300_000 and t2.best_ask_micro is None and not t2.needs_snapshot
    assert t1.updated_at_s == trio.current_time()


async def test_malformed_frames_are_counted_and_skipped_without_dropping_the_connection(
    nursery: trio.Nursery, autojump_clock: Any
) -> None:
    venue = FakeVenue(nursery)
    stream = market_stream(venue, ["t1"])
    await nursery.start(stream.run)
    connection = await venue.next_connection()
    for frame in ("{not json", "[1, 2]", '{"event_type": "nope"}', b"\x00\x01", "NO NEW ASSETS"):
        await connection.send(frame)
    await connection.send(book_event("t1", [("0.4", "10")], []))
    assert await stream.books_changed() == {"t1"}
    stats = stream.statistics()
    assert stats.malformed == 5 and stats.control_frames == 1 and stats.frames == 6
    assert stats.malformed_by_reason == {"json": 2, "shape": 2, "unknown_event": 1}
    assert stats.connections == 1 and stats.connected


async def test_many_deltas_are_conflated_into_the_latest_book(nursery: trio.Nursery, autojump_clock: Any) -> None:
    venue = FakeVenue(nursery)
    stream = market_stream(venue, ["t1", "t2"])
    await nursery.start(stream.run)
    connection = await venue.next_connection()
    await connection.send(book_event("t1", [("0.5", "1")], [("0.6", "1")]))
    for n in range(2, 202):
        await connection.send(price_change("t1", "0.5", str(n), "BUY", ts=n))
    await connection.send(price_change("t1", "0.6", "0", "SELL", ts=300))
    await trio.sleep(1.0)  # the consumer was busy; the reader kept up without it
    assert stream.statistics().events == 202 and stream.statistics().backpressure_waits == 0

    assert await stream.books_changed() == {"t1"}
    book = stream.book("t1")
    assert book is not None
    assert book.depth() == (((500_000, 201_000_000),), ()) and book.hash == "d300" and book.changes_applied == 201
    with trio.move_on_after(5.0) as idle:
        await stream.books_changed()
    assert idle.cancelled_caught  # nothing new: the consumer waits


async def test_disconnect_invalidates_books_until_the_resubscription_snapshot(
    nursery: trio.Nursery, autojump_clock: Any
) -> None:
    venue = FakeVenue(nursery)
    stream = market_stream(venue, ["t1"])
    await nursery.start(stream.run)
    first = await venue.next_connection()
    await first.send(book_event("t1", [("0.4", "10")], []))
    await stream.books_changed()
    await first.close()
    second = await venue.next_connection()
    assert await stream.books_changed() == {"t1"}
    book = stream.book("t1")
    assert book is not None and book.needs_snapshot and book.best_bid_micro == 400_000
    await second.send(book_event("t1", [("0.42", "7")], [], ts=2))
    assert await stream.books_changed() == {"t1"}
    assert not book.needs_snapshot and book.depth() == (((420_000, 7_000_000),), ())


async def test_tick_size_and_last_trade_notices_are_never_lost(nursery: trio.Nursery, autojump_clock: Any) -> None:
    venue = FakeVenue(nursery)
    tick = _fixture("ws/tick_size_change.json")
    token = tick["asset_id"]
    stream = market_stream(venue, [token], notice_buffer=1)
    await nursery.start(stream.run)
    connection = await venue.next_connection()
    trades = [{**_fixture("ws/last_trade_price.json"), "asset_id": token, "price": f"0.9{n}"} for n in range(5)]
    await connection.send([tick, *trades[:2]])
    for trade in trades[2:]:
        await connection.send(trade)
    await trio.sleep(60.0)  # a consumer slower than the buffer
    notices = [await stream.notices.receive() for _ in range(6)]
    assert isinstance(notices[0], TickSizeChangeEvent) and notices[0].new_tick_size_micro == 1_000
    assert [n.price_micro for n in notices[1:] if isinstance(n, LastTradePriceEvent)] == [
        900_000, 910_000, 920_000, 930_000, 940_000
    ]
    book = stream.book(token)
    assert book is not None and book.tick_size_micro == 1_000 and book.needs_snapshot
    assert book.last_trade_price_micro == 940_000
    assert stream.statistics().backpressure_waits >= 1


async def test_user_events_are_not_dropped_by_a_slow_consumer(nursery: trio.Nursery, autojump_clock: Any) -> None:
    venue = FakeVenue(nursery)
    venue.answer_pings = False  # no PONGs: only the events themselves are frames
    stream = user_stream(venue, ["0xcond"], event_buffer=4, dead_after_s=30.0)
    await nursery.start(stream.run)
    connection = await venue.next_connection()
    t0 = connection.opened_at_s
    for n in range(50):
        await connection.send(order_event(n))
    ids = []
    for _ in range(50):
        await trio.sleep(1.0)  # far slower than the feed; 50 s in all, longer than dead_after_s
        event = await stream.events.receive()
        assert isinstance(event, OrderEvent) and event.side is Side.BUY
        ids.append(event.id)
    assert ids == [f"0x{n:064x}" for n in range(50)]
    stats = stream.statistics()
    # Waiting for the consumer is not silence: no dead timeout, no reconnect, nothing lost.
    assert (stats.events, stats.dead_timeouts, stats.connections) == (50, 0, 1)
    assert stats.backpressure_waits >= 1 and trio.current_time() == t0 + 50.0


# --- lifecycle ---------------------------------------------------------------------------------------------


async def test_context_manager_runs_the_stream_for_its_body_only(nursery: trio.Nursery, autojump_clock: Any) -> None:
    venue = FakeVenue(nursery)
    async with open_market_stream(MARKET_URL, ["t1"], connector=venue.connector) as stream:
        connection = await venue.next_connection()
        await connection.send(book_event("t1", [("0.4", "10")], []))
        assert await stream.books_changed() == {"t1"}
        assert stream.state is ConnectionState.CONNECTED
    assert stream.state is ConnectionState.CLOSED
    with pytest.raises(trio.EndOfChannel):
        await stream.books_changed()
    with pytest.raises(trio.EndOfChannel):
        await stream.notices.receive()


async def test_an_exception_in_the_body_comes_out_as_itself(nursery: trio.Nursery, autojump_clock: Any) -> None:
    venue = FakeVenue(nursery)
    with pytest.raises(KeyError, match="boom"):
        async with open_user_stream(USER_URL, CREDS, ["0xc"], connector=venue.connector) as stream:
            raise KeyError("boom")
    assert stream.state is ConnectionState.CLOSED
    with pytest.raises(trio.EndOfChannel):
        await stream.events.receive()


async def test_a_stream_runs_once(nursery: trio.Nursery, autojump_clock: Any) -> None:
    venue = FakeVenue(nursery)
    stream = market_stream(venue, ["t1"])
    with trio.CancelScope() as scope:
        await nursery.start(stream.run)
        scope.cancel()
    with pytest.raises(RuntimeError, match="already ran"):
        await stream.run()


class _BreaksOnRead:
    """An open connection whose transport fails on the next read, inside the stream's per-connection nursery."""

    def __init__(self, ws: WebSocketConnection, error: Exception) -> None:
        self._ws = ws
        self._error = error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ws, name)

    async def get_message(self) -> str:
        raise self._error


@pytest.mark.parametrize("error", [trio.BrokenResourceError("transport gone"), OSError("connection reset")],
                         ids=["broken_resource", "os_error"])
async def test_a_connection_error_inside_the_open_connection_is_a_reconnect_not_an_exception_group(
    nursery: trio.Nursery, autojump_clock: Any, error: Exception
) -> None:
    venue = FakeVenue(nursery)
    attempts = 0

    @asynccontextmanager
    async def connector(url: str) -> AsyncIterator[Any]:
        nonlocal attempts
        attempts += 1
        async with venue.connector(url) as ws:
            yield _BreaksOnRead(ws, error) if attempts == 1 else ws

    stream = MarketStream(MARKET_URL, ["t1"], connector=connector, rng=random.Random(1))
    await nursery.start(stream.run)
    await venue.next_connection()
    second = await venue.next_connection()
    assert (await second.next_message())["assets_ids"] == ["t1"]  # subscribed again
    await second.send(book_event("t1", [("0.4", "10")], []))
    book = stream.book("t1")
    assert book is not None
    while book.needs_snapshot:  # the drop invalidated it; the new connection's snapshot restores it
        await stream.books_changed()
    assert book.best_bid_micro == 400_000
    stats = stream.statistics()
    assert (stats.connections, stats.reconnects, stats.state) == (2, 1, ConnectionState.CONNECTED)


async def test_a_books_freshness_comes_only_from_messages_that_change_that_book(
    nursery: trio.Nursery, autojump_clock: Any
) -> None:
    venue = FakeVenue(nursery)
    stream = market_stream(venue, ["t1", "t2"], ping_interval_s=5.0, dead_after_s=60.0)
    feed = MarketFeed(stream, ("t1", "t2"))
    assert feed.book_fresh_at("t1") is None  # no snapshot yet
    await nursery.start(stream.run)
    connection = await venue.next_connection()
    await connection.next_message()
    await connection.send([book_event("t1", [("0.4", "10")], [("0.6", "10")]),
                           book_event("t2", [("0.3", "10")], [("0.7", "10")])])
    await stream.books_changed()
    snapshot_at = trio.current_time()
    assert feed.book_fresh_at("t1") == feed.book_fresh_at("t2") == snapshot_at

    # 30 s of PONGs (our pings every 5 s) and of updates to t2 only: t1 stays as old as its snapshot.
    for n in range(30):
        await trio.sleep(1.0)
        await connection.send(price_change("t2", "0.3", str(11 + n), "BUY", ts=10 + n))
    await trio.sleep(0.5)
    assert feed.last_frame_at() is not None and feed.last_frame_at() > snapshot_at + 29.0
    assert feed.book_fresh_at("t1") == snapshot_at
    assert feed.book_fresh_at("t2") == snapshot_at + 30.0

    # A price change touching t1, a tick-size change, a new snapshot: each refreshes t1 (whether the
    # book may be used at all, e.g. after a tick change, is `needs_snapshot`'s business).
    messages = [
        price_change("t1", "0.4", "12", "BUY", ts=100),
        {"event_type": "tick_size_change", "asset_id": "t1", "market": "0xm", "old_tick_size": "0.01",
         "new_tick_size": "0.001", "timestamp": "1700000000200"},
        book_event("t1", [("0.401", "10")], [("0.6", "10")], ts=201),
    ]
    for message in messages:
        await trio.sleep(1.0)
        sent_at = trio.current_time()
        await connection.send(message)
        await trio.sleep(0.5)
        assert feed.book_fresh_at("t1") == sent_at
    assert stream.book("t1").tick_size_micro == 1_000  # type: ignore[union-attr]
    assert feed.book_fresh_at("t2") == snapshot_at + 30.0
