"""The simulator's WebSocket front: the market and user channels on trio-websocket (not ASGI).

Spec: docs/protocol/polymarket-clob.md section 6. One handler, `WsHub.serve_connection(ws,
channel)`, serves both a loopback `trio_websocket.serve_websocket` listener (paths `/ws/market`,
`/ws/user`) and in-process clients: `WsHub.connector(nursery)` returns `connect(url)`, an async context
manager that wires a client `WebSocketConnection` to the hub over a bounded in-memory pipe — no
sockets, real WebSocket framing, real backpressure.

- Market: `{"type":"market","assets_ids":[...],"custom_feature_enabled":..,"initial_dump":..}` → one
  frame with the `book` of each known asset (a JSON array, as the venue sends snapshots), then every
  engine `MarketData` event touching a subscribed asset (`best_bid_ask`, `new_market`,
  `market_resolved` only with custom features). `{"operation":"subscribe"|"unsubscribe",...}` later.
- User: `{"type":"user","auth":{apiKey,secret,passphrase},"markets":[...]}`: wrong credentials close the
  socket (1008, `Unauthorized/Invalid api key`); then that key's `UserData` events for the subscribed
  markets (empty = all). The fault plan may drop, duplicate or reorder them.
- Text `PING` → `PONG`. No frame from the client for `idle_timeout_s` closes the connection.
- Strict subscriptions (`WsConfig.strict_subscriptions`, default on; docs/protocol/NOTES-simstrict.md):
  the first frame must be a valid initial subscription, else close 1008 `invalid subscription payload`
  (a PING first: nautilus_trader issue #4864); afterwards a second initial message (nautilus_trader
  PR #3717), non-JSON, lowercase `ping`, unknown keys, empty id lists and unknown assets are answered
  with the text `INVALID OPERATION` and change nothing.

Slow consumers: every connection has a bounded outgoing queue filled synchronously from the engine's
event callback. When it is full the connection is closed (1008, "slow consumer"), never the engine
blocked and never a frame silently skipped. That is the venue-faithful choice: a real exchange cannot
let one client's TCP window stall its matching engine, and dropping individual deltas would leave the
client's book silently wrong (`price_change` is incremental); a disconnect is visible, and a client
rebuilds from the fresh `book` snapshot it gets on reconnect (the venue has no replay, spec 6.1).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
import trio
from trio_websocket import (
    CloseReason,
    ConnectionClosed,
    WebSocketConnection,
    WebSocketRequest,
    wrap_client_stream,
    wrap_server_stream,
)

from bot.protocol.constants import ERR_UNAUTHORIZED
from bot.sim.apikeys import ApiKeyStore
from bot.sim.faults import FaultPlan, UserEventAction
from bot.sim.model import MarketData, SimEvent, UserData

if TYPE_CHECKING:
    from bot.sim.engine import Exchange

__all__ = ["CLOSE_GOING_AWAY", "CLOSE_POLICY", "WsConfig", "WsHub", "channel_for_path", "memory_pipe_pair"]

# RFC 6455 close codes the hub uses.
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001  # kicked by a fault (like a venue restart)
CLOSE_POLICY = 1008  # bad auth, slow consumer

_PING = "PING"
_PONG = "PONG"
# source: nautilus_trader PR #3717 ("Polymarket sends back `INVALID OPERATION` when we try to send the
# initial message twice"); the simulator gives the same answer to every refused frame after the first.
INVALID_OPERATION = "INVALID OPERATION"
# source: nautilus_trader issue #4864 (a PING before any subscription: close 1008 "invalid subscription
# payload"); the simulator closes so on any first frame that is not a valid initial subscription.
INVALID_SUBSCRIPTION = "invalid subscription payload"
# The keys the venue's documented frames use (spec 6.1); anything else is a typo (`asset_ids`).
_MARKET_INITIAL_KEYS = frozenset({"type", "assets_ids", "custom_feature_enabled", "initial_dump", "level"})
_MARKET_OPERATION_KEYS = frozenset(
    {"operation", "assets_ids", "custom_feature_enabled", "initial_dump", "level"}
)
_USER_INITIAL_KEYS = frozenset({"type", "auth", "markets", "assets_ids"})
_USER_OPERATION_KEYS = frozenset({"operation", "markets", "assets_ids"})
# Events sent only to connections that enabled custom features (spec 6.1).
_CUSTOM_EVENTS = frozenset({"best_bid_ask", "new_market", "market_resolved"})
# Sent to every custom-feature connection, whatever it subscribed to.
_BROADCAST_EVENTS = frozenset({"new_market"})
_PATHS = {"/ws/market": "market", "/ws/user": "user"}


def channel_for_path(path: str) -> str | None:
    """`market`/`user` for the venue's paths (`/ws/market`, `/ws/user`), None otherwise."""
    return _PATHS.get(path.rstrip("/") or "/")


@dataclass(frozen=True, slots=True)
class WsConfig:
    """Tunables of the WS front."""

    idle_timeout_s: float = 60.0
    # Outgoing frames buffered per connection before it counts as a slow consumer. 1024 frames is
    # seconds of a busy market's deltas: a client that is merely scheduled late never hits it, one that
    # stopped reading does within a few seconds.
    outgoing_queue_frames: int = 1024
    # Spec 6.1: above ~500 assets per connection the initial snapshots are not delivered.
    max_initial_dump_assets: int = 500
    # Refuse bad subscription frames as the venue does (module docstring). Confirmed: a second initial
    # message and a PING before subscribing. UNCONFIRMED, strict by choice: non-JSON, lowercase `ping`,
    # unknown keys, empty lists, unknown assets. False = the old leniency (ignore what is not understood).
    strict_subscriptions: bool = True
    close_timeout_s: float = 2.0
    # In-process transport: frames in flight per direction, like a socket buffer of a few frames.
    pipe_capacity_chunks: int = 16


class _PipeEnd(trio.abc.Stream):
    """One end of a bounded in-memory byte pipe: `send_all` blocks while `capacity` chunks are unread.

    Rejected alternative: `trio.testing.lockstep_stream_pair`, whose cancelled `send_all` corrupts the
    stream; here a cancelled send sent nothing (a memory-channel send is atomic), so a server that cuts
    a stalled client can still close its side cleanly.
    """

    def __init__(self, send: trio.MemorySendChannel[bytes], recv: trio.MemoryReceiveChannel[bytes]) -> None:
        self._send = send
        self._recv = recv
        self._leftover = b""

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        try:
            await self._send.send(bytes(data))
        except trio.BrokenResourceError:
            raise trio.BrokenResourceError("peer closed the pipe") from None

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if not self._leftover:
            try:
                self._leftover = await self._recv.receive()
            except (trio.EndOfChannel, trio.BrokenResourceError):
                return b""
        else:
            await trio.lowlevel.checkpoint()
        size = len(self._leftover) if max_bytes is None else max_bytes
        chunk, self._leftover = self._leftover[:size], self._leftover[size:]
        return chunk

    async def aclose(self) -> None:
        self._send.close()
        self._recv.close()
        await trio.lowlevel.checkpoint()


class _MessageEnd:
    """One end of an in-process message connection: the part of a WebSocketConnection the hub and the
    bot's streams use (send_message, get_message, aclose, closed), whole messages in bounded channels.

    The two ends share one close reason: the first `aclose` sets it, and both ends report it.
    """

    def __init__(self, send: trio.MemorySendChannel[str], recv: trio.MemoryReceiveChannel[str],
                 reason: list[CloseReason]) -> None:
        self._send = send
        self._recv = recv
        self._reason = reason  # shared with the peer: empty while open

    @property
    def closed(self) -> CloseReason | None:
        return self._reason[0] if self._reason else None

    async def send_message(self, message: str | bytes) -> None:
        if self._reason:
            raise ConnectionClosed(self._reason[0])
        try:
            await self._send.send(message.decode() if isinstance(message, bytes) else message)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise ConnectionClosed(self.closed or CloseReason(1006, "peer closed")) from None

    async def get_message(self) -> str:
        try:
            return await self._recv.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError, trio.BrokenResourceError):
            raise ConnectionClosed(self.closed or CloseReason(1006, "peer closed")) from None

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        if not self._reason:
            self._reason.append(CloseReason(code, reason))
        self._send.close()
        self._recv.close()
        await trio.lowlevel.checkpoint()


def memory_pipe_pair(capacity_chunks: int) -> tuple[trio.abc.Stream, trio.abc.Stream]:
    """Two connected in-memory stream ends, each direction holding at most `capacity_chunks` sends."""
    a_to_b_send, a_to_b_recv = trio.open_memory_channel[bytes](capacity_chunks)
    b_to_a_send, b_to_a_recv = trio.open_memory_channel[bytes](capacity_chunks)
    return _PipeEnd(a_to_b_send, b_to_a_recv), _PipeEnd(b_to_a_send, a_to_b_recv)


class _Connection:
    """One client: its subscription, its bounded outgoing queue, and why it was closed."""

    __slots__ = (
        "api_key",
        "assets",
        "channel",
        "close_code",
        "close_reason",
        "custom",
        "markets",
        "recv",
        "scope",
        "send",
        "subscribed",
        "ws",
    )

    def __init__(self, ws: WebSocketConnection, channel: str, queue_frames: int) -> None:
        self.ws = ws
        self.channel = channel
        self.send, self.recv = trio.open_memory_channel[str](queue_frames)
        self.assets: set[str] = set()
        self.markets: set[str] = set()
        self.custom = False
        self.api_key: str | None = None  # set once a user connection authenticated
        self.subscribed = False  # the initial subscription was accepted
        self.scope: trio.CancelScope | None = None
        self.close_code = CLOSE_NORMAL
        self.close_reason: str | None = None

    def close(self, code: int, reason: str) -> None:
        """Ask the connection's task to close it (sync: callable from the engine callback)."""
        if self.close_reason is None:
            self.close_code, self.close_reason = code, reason
        if self.scope is not None:
            self.scope.cancel()

    def offer(self, frame: str) -> bool:
        """Queue one frame; on overflow close the connection as a slow consumer. True if queued."""
        if self.close_reason is not None:
            return False
        try:
            self.send.send_nowait(frame)
        except trio.WouldBlock:
            self.close(CLOSE_POLICY, "slow consumer")
            return False
        return True


class WsHub:
    """Fans engine events out to WebSocket clients; never blocks the engine (see module docstring)."""

    def __init__(
        self,
        exchange: Exchange,
        keys: ApiKeyStore,
        plan: FaultPlan | None = None,
        *,
        config: WsConfig | None = None,
    ) -> None:
        self._exchange = exchange
        self._keys = keys
        self.plan = plan or FaultPlan()
        self.config = config or WsConfig()
        self._connections: dict[str, set[_Connection]] = {"market": set(), "user": set()}
        self._held: dict[str, UserData] = {}  # owner → a user event held back by a `reorder` fault
        self._stats: Counter[str] = Counter()
        # Bench hook (`bot/sim/bench_stamps.py`): told (channel, frame) as each frame is written.
        self.on_frame_written: Callable[[str, str], None] | None = None

    def __repr__(self) -> str:
        return (
            f"<WsHub market={len(self._connections['market'])} user={len(self._connections['user'])} "
            f"frames={self._stats['frames']}>"
        )

    # --- engine side --------------------------------------------------------------------------------

    def attach(self) -> Callable[[], None]:
        """Subscribe to the engine's events; returns the unsubscribe function."""
        return self._exchange.subscribe(self.on_event)

    def on_event(self, event: SimEvent) -> None:
        """Engine callback: route one event to the interested connections without ever blocking."""
        if isinstance(event, MarketData):
            self._on_market(event)
        elif isinstance(event, UserData):
            self._on_user(event)

    def _on_market(self, event: MarketData) -> None:
        event_type = event.payload.get("event_type")
        frame: str | None = None
        tokens = set(event.token_ids)
        for conn in list(self._connections["market"]):
            if event_type in _CUSTOM_EVENTS and not conn.custom:
                continue
            if event_type not in _BROADCAST_EVENTS and not tokens & conn.assets:
                continue
            if frame is None:
                frame = orjson.dumps(event.payload).decode()
            self._deliver(conn, frame)

    def _has_listener(self, event: UserData) -> bool:
        return any(
            conn.api_key == event.owner and (not conn.markets or event.condition_id in conn.markets)
            for conn in self._connections["user"]
        )

    def _on_user(self, event: UserData) -> None:
        if not self._has_listener(event) and event.owner not in self._held:
            # Nobody would receive it: the plan's "next N events" counts only events that reach a client.
            return
        action = self.plan.user_event_action()
        self._stats[f"user_events_{action.value}"] += 1
        if action is UserEventAction.DROP:
            return
        if action is UserEventAction.REORDER:
            # Hold it; it goes out right after the next event of the same owner.
            previous = self._held.pop(event.owner, None)
            self._held[event.owner] = event
            if previous is not None:
                self._fan_out_user(previous)
            return
        self._fan_out_user(event)
        if action is UserEventAction.DUPLICATE:
            self._fan_out_user(event)
        held = self._held.pop(event.owner, None)
        if held is not None:
            self._fan_out_user(held)

    def _fan_out_user(self, event: UserData) -> None:
        frame: str | None = None
        for conn in list(self._connections["user"]):
            if conn.api_key != event.owner:
                continue
            if conn.markets and event.condition_id not in conn.markets:
                continue
            if frame is None:
                frame = orjson.dumps(event.payload).decode()
            self._deliver(conn, frame)

    def _deliver(self, conn: _Connection, frame: str) -> None:
        if conn.offer(frame):
            self._stats["frames"] += 1
        elif conn.close_reason == "slow consumer":
            self._stats["slow_consumers"] += 1

    # --- fault hooks ----------------------------------------------------------------------------------

    def kick(self, channel: str) -> int:
        """Close every connection of `channel` now (fault `ws_disconnect`); returns how many."""
        conns = list(self._connections.get(channel, ()))
        for conn in conns:
            conn.close(CLOSE_GOING_AWAY, "going away")
        self._stats["kicked"] += len(conns)
        return len(conns)

    def inject_user_events(self, api_key: str | None, payloads: Iterable[dict[str, Any]]) -> int:
        """Send raw user-channel payloads to `api_key`'s connections (all if None); frames queued."""
        frames = [orjson.dumps(p).decode() for p in payloads]
        delivered = 0
        for conn in list(self._connections["user"]):
            if conn.api_key is None or (api_key is not None and conn.api_key != api_key):
                continue
            for frame in frames:
                if conn.offer(frame):
                    delivered += 1
        self._stats["injected"] += delivered
        return delivered

    def api_keys_connected(self) -> list[str]:
        return sorted({c.api_key for c in self._connections["user"] if c.api_key is not None})

    def statistics(self) -> dict[str, int]:
        return {
            "market_connections": len(self._connections["market"]),
            "user_connections": len(self._connections["user"]),
            **self._stats,
        }

    # --- connection side --------------------------------------------------------------------------------

    async def handle_request(self, request: WebSocketRequest) -> None:
        """`serve_websocket` handler: route `/ws/market` and `/ws/user`, reject other paths (404)."""
        channel = channel_for_path(request.path.split("?", 1)[0])
        if channel is None:
            await request.reject(404)
            return
        ws = await request.accept()
        await self.serve_connection(ws, channel)

    async def serve_connection(self, ws: WebSocketConnection, channel: str) -> None:
        """Serve one accepted connection of `channel` ("market" | "user") until it closes.

        Never raises for client behaviour (bad frames, disconnects); closes the socket on the way out.
        """
        if channel not in self._connections:
            raise ValueError(f"unknown channel {channel!r}")
        conn = _Connection(ws, channel, self.config.outgoing_queue_frames)
        self._connections[channel].add(conn)
        self._stats[f"{channel}_accepted"] += 1
        try:
            with trio.CancelScope() as scope:
                conn.scope = scope
                if conn.close_reason is not None:
                    scope.cancel()
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._writer, conn)
                    await self._reader(conn)
                    nursery.cancel_scope.cancel()
        finally:
            self._connections[channel].discard(conn)
            if conn.close_reason is not None:
                self._stats[f"closed_{conn.close_reason}"] += 1
            with trio.move_on_after(self.config.close_timeout_s, shield=True):
                await ws.aclose(conn.close_code, conn.close_reason)

    async def _writer(self, conn: _Connection) -> None:
        try:
            async for frame in conn.recv:
                if self.on_frame_written is not None:
                    self.on_frame_written(conn.channel, frame)
                await conn.ws.send_message(frame)
                # Counted on frames actually sent, so "drop after N frames" means N arrive.
                if self.plan.ws_frame_decision(conn.channel):
                    self._stats["fault_drops"] += 1
                    conn.close(CLOSE_GOING_AWAY, "connection dropped (fault)")
                    return
        except ConnectionClosed:
            conn.close(CLOSE_NORMAL, "closed by client")

    async def _reader(self, conn: _Connection) -> None:
        while True:
            with trio.move_on_after(self.config.idle_timeout_s) as idle:
                try:
                    message = await conn.ws.get_message()
                except ConnectionClosed:
                    return
            if idle.cancelled_caught:
                conn.close(CLOSE_NORMAL, "idle timeout")
                return
            if isinstance(message, bytes):
                message = message.decode("utf-8", errors="replace")
            if not self._handle_frame(conn, message):
                return

    def _handle_frame(self, conn: _Connection, message: str) -> bool:
        """One client frame; False when the connection must close."""
        strict = self.config.strict_subscriptions
        if message == _PING and (conn.subscribed or not strict):
            conn.offer(_PONG)
            return True
        try:
            payload = orjson.loads(message)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            return self._refuse(conn)
        if not conn.subscribed:
            if conn.channel == "market":
                return self._handle_market_initial(conn, payload)
            return self._handle_user_initial(conn, payload)
        if conn.channel == "market":
            self._handle_market_operation(conn, payload)
        else:
            self._handle_user_operation(conn, payload)
        return True

    def _refuse(self, conn: _Connection) -> bool:
        """A frame the venue would not accept: close before the subscription, `INVALID OPERATION` after."""
        self._stats["malformed"] += 1
        if not self.config.strict_subscriptions:
            return True
        if not conn.subscribed:
            conn.close(CLOSE_POLICY, INVALID_SUBSCRIPTION)
            return False
        conn.offer(INVALID_OPERATION)
        return True

    # --- subscriptions ------------------------------------------------------------------------------------

    def _ids(self, payload: dict[str, Any], key: str, allowed: frozenset[str]) -> list[str] | None:
        """The id list under `key`, or None when the frame is not one the venue would accept."""
        values = payload.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            return None if self.config.strict_subscriptions else []
        if self.config.strict_subscriptions and not payload.keys() <= allowed:
            return None
        return list(values)

    def _handle_market_initial(self, conn: _Connection, payload: dict[str, Any]) -> bool:
        assets = self._ids(payload, "assets_ids", _MARKET_INITIAL_KEYS)
        custom = bool(payload.get("custom_feature_enabled", False))
        is_initial = str(payload.get("type", "")).lower() == "market" and "operation" not in payload
        strict = self.config.strict_subscriptions
        # No assets is valid only as the new-market discovery subscription (custom features on, issue #4864).
        if assets is None or (strict and (not is_initial or (not assets and not custom))):
            return self._refuse(conn)
        if not is_initial:  # lenient mode: a bare operation first works like an initial message
            self._handle_market_operation(conn, payload)
            conn.subscribed = True
            return True
        conn.subscribed = True
        conn.custom = custom
        # Unknown tokens in the initial message get no snapshot (spec 6.1: the venue ignores them).
        self._add_assets(conn, assets, payload)
        return True

    def _handle_market_operation(self, conn: _Connection, payload: dict[str, Any]) -> None:
        operation = str(payload.get("operation", "")).lower()
        assets = self._ids(payload, "assets_ids", _MARKET_OPERATION_KEYS)
        strict = self.config.strict_subscriptions
        unknown = assets is not None and any(self._exchange.market_by_token(a) is None for a in assets)
        if (
            assets is None
            or operation not in ("subscribe", "unsubscribe")
            or (strict and (not assets or (operation == "subscribe" and unknown)))
        ):
            self._refuse(conn)
            return
        if "custom_feature_enabled" in payload:
            conn.custom = bool(payload["custom_feature_enabled"])
        if operation == "unsubscribe":
            conn.assets.difference_update(assets)
            return
        self._add_assets(conn, assets, payload)

    def _add_assets(self, conn: _Connection, assets: list[str], payload: dict[str, Any]) -> None:
        new = [a for a in dict.fromkeys(assets) if a not in conn.assets]
        conn.assets.update(new)
        if payload.get("initial_dump", True) and len(conn.assets) <= self.config.max_initial_dump_assets:
            self._send_books(conn, new)

    def _send_books(self, conn: _Connection, assets: list[str]) -> None:
        books = []
        for asset in assets:
            if self._exchange.market_by_token(asset) is None:
                continue  # unknown tokens are silently ignored, like the venue
            books.append(self._exchange.book_snapshot(asset))
        if books:
            self._deliver(conn, orjson.dumps(books).decode())

    def _handle_user_initial(self, conn: _Connection, payload: dict[str, Any]) -> bool:
        """False when the connection must close (bad frame, bad credentials)."""
        markets = self._ids(payload, "markets", _USER_INITIAL_KEYS)
        is_initial = str(payload.get("type", "")).lower() == "user" and "operation" not in payload
        if markets is None or not is_initial:
            if not self.config.strict_subscriptions:
                self._stats["malformed"] += 1  # anything before a valid auth message is ignored
                return True
            return self._refuse(conn)
        auth = payload.get("auth")
        record = None
        if isinstance(auth, dict):
            api_key, secret, passphrase = (auth.get(k) for k in ("apiKey", "secret", "passphrase"))
            if all(isinstance(v, str) for v in (api_key, secret, passphrase)):
                record = self._keys.verify(api_key, secret, passphrase)  # type: ignore[arg-type]
        if record is None:
            self._stats["auth_failures"] += 1
            conn.close(CLOSE_POLICY, ERR_UNAUTHORIZED)
            return False
        conn.api_key = record.api_key
        conn.markets = set(markets)
        conn.subscribed = True
        return True

    def _handle_user_operation(self, conn: _Connection, payload: dict[str, Any]) -> None:
        operation = str(payload.get("operation", "")).lower()
        markets = self._ids(payload, "markets", _USER_OPERATION_KEYS)
        strict = self.config.strict_subscriptions
        if markets is None or operation not in ("subscribe", "unsubscribe") or (strict and not markets):
            self._refuse(conn)
            return
        if operation == "subscribe":
            conn.markets.update(markets)
        else:
            conn.markets.difference_update(markets)

    # --- in-process transport ---------------------------------------------------------------------------

    def connector(self, nursery: trio.Nursery) -> Callable[[str], Any]:
        """`connect(url)`: an async context manager yielding a client WebSocketConnection served by this
        hub in-process. The server side and the client's reader task live in `nursery` (the simulator's)."""

        @asynccontextmanager
        async def connect(url: str) -> AsyncIterator[WebSocketConnection]:
            parts = urlsplit(url)
            resource = parts.path or "/"
            if parts.query:
                resource += "?" + parts.query
            # Bounded: a client that stops reading fills the pipe, then our per-connection queue,
            # exactly like a full TCP window.
            client_stream, server_stream = memory_pipe_pair(self.config.pipe_capacity_chunks)
            nursery.start_soon(self._serve_stream, server_stream)
            host = parts.hostname or "sim"
            ws = await wrap_client_stream(nursery, client_stream, host, resource)  # type: ignore[arg-type]
            try:
                yield ws
            finally:
                with trio.move_on_after(self.config.close_timeout_s, shield=True):
                    await ws.aclose()

        return connect

    def message_connector(self, nursery: trio.Nursery) -> Callable[[str], Any]:
        """`connect(url)` like `connector`, but messages pass whole, with no WebSocket framing: for the
        backtest, where the framing of one process talking to itself costs a fifth of the run."""

        @asynccontextmanager
        async def connect(url: str) -> AsyncIterator[_MessageEnd]:
            channel = channel_for_path(urlsplit(url).path or "/")
            if channel is None:
                raise ConnectionClosed(CloseReason(4004, "not found"))
            capacity = self.config.pipe_capacity_chunks
            to_server, from_client = trio.open_memory_channel[str](capacity)
            to_client, from_server = trio.open_memory_channel[str](capacity)
            reason: list[CloseReason] = []
            client = _MessageEnd(to_server, from_server, reason)
            server = _MessageEnd(to_client, from_client, reason)
            nursery.start_soon(self.serve_connection, server, channel)
            try:
                yield client
            finally:
                with trio.move_on_after(self.config.close_timeout_s, shield=True):
                    await client.aclose()

        return connect

    async def _serve_stream(self, stream: trio.abc.Stream) -> None:
        async with trio.open_nursery() as nursery:
            try:
                request = await wrap_server_stream(nursery, stream)
                await self.handle_request(request)
            except ConnectionClosed:
                pass
            finally:
                with trio.move_on_after(self.config.close_timeout_s, shield=True):
                    await stream.aclose()
            nursery.cancel_scope.cancel()
