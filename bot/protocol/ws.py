"""Market and user WebSocket clients: subscribe, keep alive, detect a dead feed, reconnect, never crash on input.

Spec: docs/protocol/polymarket-clob.md 6.1 (endpoints, first message, operations, text PING every 10 s,
~30 s without a frame = dead, frames are an object or an array, no replay after a reconnect), 6.2, 6.3.

Two tiers, as in trio-websocket: `MarketStream.run` / `UserStream.run` for `nursery.start` (ready once the
first subscription is sent), and `open_market_stream` / `open_user_stream` async context managers.
The socket comes from a `Connector` (default `trio_websocket.open_websocket_url`), the seam through which
tests and the in-process simulator connect over in-memory streams.

Delivery, and why each buffer has its size:

- Market data is conflated: the stream keeps one `OrderBook` per token and applies every snapshot and delta
  itself. The consumer is told only *which* books changed (`books_changed()` returns the set of token ids
  changed since its last call). That set is bounded by the number of subscribed tokens, the reader never
  waits for the consumer, and a slow consumer simply sees the latest book.
- Tick-size changes, last trades and market listing/resolution must not be lost, so they go through
  `notices`, a small bounded channel (`MARKET_NOTICE_BUFFER`). When it is full the reader waits (backpressure)
  instead of dropping; books then stop updating until the consumer drains it, so drain it.
- User events are never dropped: `events` is a bounded channel (`USER_EVENT_BUFFER`) and a full channel
  makes the reader wait, which pushes back through the socket to the venue. After every reconnect (not the
  first connect) a `Resynced` marker comes first: there is no replay, so the engine must reconcile over REST.

Liveness: a PING text every `ping_interval_s` (at exact multiples of it after the connect); a connection on
which no frame at all (PONG included) arrives for `dead_after_s` while we wait for one is dead. Time spent
waiting for a slow consumer does not count. A dead connection is dropped without a close handshake;
reconnects back off exponentially with jitter from a seedable RNG, capped at `reconnect_max_s`, reset by the
first frame of a connection. Malformed frames are counted (`statistics()`) and skipped.

Secrets: the user channel's first message carries the raw API secret and passphrase (the venue's protocol).
It is built at send time and never logged, stored, or shown by any repr or statistics.
"""

from __future__ import annotations

import enum
import logging
import random
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn, TypeAlias

import orjson
import trio
import trio_websocket
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection
from wsproto.utilities import LocalProtocolError

from bot.protocol.auth import ApiCreds
from bot.protocol.book import OrderBook, apply_price_change
from bot.protocol.messages import (
    BookEvent,
    LastTradePriceEvent,
    MarketResolvedEvent,
    NewMarketEvent,
    ParseStats,
    PriceChangeEvent,
    TickSizeChangeEvent,
    UserEvent,
    parse_market_frame,
    parse_user_frame,
)

__all__ = [
    "DEAD_AFTER_S",
    "MARKET_NOTICE_BUFFER",
    "PING_INTERVAL_S",
    "PING_TEXT",
    "USER_EVENT_BUFFER",
    "ConnectionState",
    "Connector",
    "MarketNotice",
    "MarketStream",
    "ReconnectBackoff",
    "Resynced",
    "StreamStatistics",
    "UserStream",
    "UserStreamItem",
    "default_connector",
    "open_market_stream",
    "open_user_stream",
]

logger = logging.getLogger(__name__)

Connector: TypeAlias = Callable[[str], AbstractAsyncContextManager[WebSocketConnection]]
"""Opens one WebSocket to a URL for the life of the context (the transport seam tests replace)."""

# --- protocol constants (spec 6.1) ---------------------------------------------------------------------
PING_TEXT: Final = "PING"  # keep-alive text; the server answers the text PONG. source: spec 6.1
PING_INTERVAL_S: Final = 10.0  # source: spec 6.1 ("send the text PING every 10 s"); RS1 config.rs
DEAD_AFTER_S: Final = 30.0  # source: spec 6.1 ("SDKs treat ~30 s without PONG as dead"); RS1 config.rs
_OP_SUBSCRIBE: Final = "subscribe"
_OP_UNSUBSCRIBE: Final = "unsubscribe"

# --- our tunables (the defaults mirror settings/model.py ws_*; callers pass the settings values) ----------
RECONNECT_MIN_S: Final = 0.5  # first retry soon: a dropped feed blocks quoting until it is back
RECONNECT_MAX_S: Final = 30.0  # settings ws_reconnect_max_s
RECONNECT_JITTER: Final = 0.5  # each delay is drawn from (1 - jitter, 1] x the exponential step
CLOSE_TIMEOUT_S: Final = 2.0  # bound on a polite close handshake; a dead peer is dropped without one
CONNECT_TIMEOUT_S: Final = 10.0  # default connector: TCP + TLS + upgrade
# The initial dump of up to ~500 token books (spec 6.1 practical limit) can come as one array frame, well
# over trio-websocket's 1 MiB default.
MAX_FRAME_BYTES: Final = 16 * 2**20
_BACKOFF_MAX_DOUBLINGS: Final = 32  # keeps 2**n finite; the cap is reached long before

# A market's burst of matches (one last_trade_price each, plus the rare tick change or resolution) fits
# with room to spare; a consumer further behind than this gets backpressure, never a drop.
MARKET_NOTICE_BUFFER: Final = 64
# A full burst of fills on a full ladder (2 tokens x 20 levels x order UPDATE + trade MATCHED/MINED/CONFIRMED
# ≈ 160 events) fits several times over; beyond that the reader waits (backpressure), never drops.
USER_EVENT_BUFFER: Final = 1024

# Failures of one connection attempt or of an open connection: all lead to a reconnect, none is fatal.
_CONNECTION_ERRORS: Final = (
    OSError,
    HandshakeError,
    ConnectionClosed,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
)
# What sending on a socket that is closing may raise (wsproto refuses a send after the peer's close frame).
_SEND_ERRORS: Final = (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError, LocalProtocolError)


_MESSAGE_QUEUE_FRAMES: Final = 256
_RECEIVE_BUFFER_BYTES: Final = 65_536


def default_connector(url: str) -> AbstractAsyncContextManager[WebSocketConnection]:
    """A real WebSocket to `url` (ws:// or wss://) with our timeouts and frame size limit."""
    return trio_websocket.open_websocket_url(
        url,
        connect_timeout=CONNECT_TIMEOUT_S,
        disconnect_timeout=CLOSE_TIMEOUT_S,
        max_message_size=MAX_FRAME_BYTES,
        # The library's reader task keeps draining the socket into this queue while the engine is busy
        # (a burst, a collection pause); with its default of 1 the socket backs up at once and the
        # venue sees a slow consumer. Bounded: market data is conflated into books as it is read.
        message_queue_size=_MESSAGE_QUEUE_FRAMES,
        receive_buffer_size=_RECEIVE_BUFFER_BYTES,
    )


class ConnectionState(enum.Enum):
    """Where a stream's connection loop is."""

    IDLE = "idle"  # constructed, `run` not started
    CONNECTING = "connecting"  # opening the socket and subscribing
    CONNECTED = "connected"  # subscribed and reading
    BACKOFF = "backoff"  # lost the connection (or failed to open it); waiting to retry
    CLOSED = "closed"  # `run` has ended; the stream cannot be restarted


@dataclass(frozen=True, slots=True)
class Resynced:
    """Marker on the user stream: the connection was re-established and events may have been missed.

    There is no replay (spec 6.1), so the engine must reconcile open orders and trades over REST.
    """

    reconnects: int  # how many reconnects this stream has made, this one included
    at_s: float  # trio.current_time() when the new subscription was sent


MarketNotice: TypeAlias = TickSizeChangeEvent | LastTradePriceEvent | MarketResolvedEvent | NewMarketEvent
UserStreamItem: TypeAlias = UserEvent | Resynced


@dataclass(frozen=True, slots=True)
class StreamStatistics:
    """A snapshot of one stream's counters (no secrets)."""

    state: ConnectionState
    connected: bool
    connections: int  # successful connects, the first included
    reconnects: int  # successful connects after the first
    connect_failures: int  # attempts that failed before subscribing
    dead_timeouts: int  # connections dropped because no frame came for dead_after_s
    frames: int
    events: int
    control_frames: int
    malformed: int
    malformed_by_reason: Mapping[str, int] = field(default_factory=dict)
    pings_sent: int = 0
    backpressure_waits: int = 0  # deliveries that had to wait for the consumer
    last_frame_at_s: float | None = None  # trio.current_time() of the latest frame
    subscriptions: int = 0  # tokens (market) or condition ids (user) currently subscribed


class ReconnectBackoff:
    """Capped exponential backoff with jitter; deterministic for a seeded `rng`.

    The n-th delay since the last `reset()` is `min(max_s, min_s * 2**n) * (1 - jitter * u)`, u uniform in
    [0, 1) from `rng`. Full-size steps would make every client of a restarted venue retry in lockstep.
    """

    __slots__ = ("_attempt", "_jitter", "_max_s", "_min_s", "_rng")

    def __init__(self, min_s: float, max_s: float, jitter: float, rng: random.Random) -> None:
        if not (0 < min_s <= max_s and 0 <= jitter < 1):
            raise ValueError("need 0 < min_s <= max_s and 0 <= jitter < 1")
        self._min_s = min_s
        self._max_s = max_s
        self._jitter = jitter
        self._rng = rng
        self._attempt = 0

    def next_delay_s(self) -> float:
        """The next delay, in seconds; each call doubles the step until the cap."""
        step = min(self._max_s, self._min_s * 2 ** min(self._attempt, _BACKOFF_MAX_DOUBLINGS))
        self._attempt += 1
        return step * (1.0 - self._jitter * self._rng.random())

    def reset(self) -> None:
        """Start again from `min_s` (called when a connection proved healthy)."""
        self._attempt = 0

    def __repr__(self) -> str:
        return f"<ReconnectBackoff attempt={self._attempt} min={self._min_s}s max={self._max_s}s>"


def _dumps(message: Mapping[str, Any]) -> str:
    return orjson.dumps(message).decode()


class _Stream:
    """The connection loop both channels share: connect, subscribe, ping, read, detect death, reconnect."""

    _kind = "stream"

    def __init__(
        self,
        url: str,
        *,
        connector: Connector | None,
        ping_interval_s: float,
        dead_after_s: float,
        reconnect_min_s: float,
        reconnect_max_s: float,
        reconnect_jitter: float,
        rng: random.Random | None,
        close_timeout_s: float,
    ) -> None:
        if ping_interval_s <= 0 or dead_after_s <= 0 or close_timeout_s <= 0:
            raise ValueError("ping_interval_s, dead_after_s and close_timeout_s must be positive")
        self._url = url
        self._connector: Connector = connector or default_connector
        self._ping_interval_s = ping_interval_s
        self._dead_after_s = dead_after_s
        self._close_timeout_s = close_timeout_s
        self._backoff = ReconnectBackoff(reconnect_min_s, reconnect_max_s, reconnect_jitter, rng or random.Random())
        self._parse_stats = ParseStats()
        self._state = ConnectionState.IDLE
        self._ws: WebSocketConnection | None = None
        # Held while a subscription set is sent, so an operation never races the connect-time subscription.
        self._subscription_lock = trio.Lock()
        self._started = False
        self._connections = 0
        self._connect_failures = 0
        self._dead_timeouts = 0
        self._pings_sent = 0
        self._backpressure_waits = 0
        self._last_frame_at_s: float | None = None

    # --- hooks for the two channels ----------------------------------------------------------------------

    def _subscription_message(self) -> str:
        raise NotImplementedError

    async def _after_subscribe(self, first: bool) -> None:
        """Runs once per connection, after the subscription is sent and before the first frame is read."""

    def _after_disconnect(self) -> None:
        """Runs once per lost connection."""

    async def _handle_frame(self, raw: str | bytes) -> None:
        raise NotImplementedError

    def _subscription_count(self) -> int:
        return 0

    def _close_outputs(self) -> None:
        """Close what the consumer reads from, so it sees the end of the stream."""

    # --- the loop ----------------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> NoReturn:
        """Keep a subscribed connection until cancelled; `task_status.started()` after the first subscription.

        Never returns and never raises for connection failures or bad frames; only cancellation ends it.
        A stream runs once: its outputs are closed when `run` ends.
        """
        if self._state is not ConnectionState.IDLE:
            raise RuntimeError(f"{self._kind} stream already ran (state {self._state.value})")
        try:
            while True:
                self._state = ConnectionState.CONNECTING
                await self._connect_once(task_status)
                self._state = ConnectionState.BACKOFF
                delay_s = self._backoff.next_delay_s()
                logger.info("%s stream: reconnecting to %s in %.2f s", self._kind, self._url, delay_s)
                await trio.sleep(delay_s)
        finally:
            self._state = ConnectionState.CLOSED
            self._ws = None
            self._close_outputs()

    async def _connect_once(self, task_status: trio.TaskStatus[None]) -> None:
        """One connection's life: returns when it is lost, failed to open, or was found dead."""
        dead = False
        subscribed = False
        with trio.CancelScope() as connection_scope:
            try:
                async with self._connector(self._url) as ws:
                    async with self._subscription_lock:
                        await ws.send_message(self._subscription_message())
                        self._ws = ws
                    subscribed = True
                    self._connections += 1
                    self._state = ConnectionState.CONNECTED
                    logger.info("%s stream: subscribed on %s (connection %d)", self._kind, self._url, self._connections)
                    await self._after_subscribe(first=self._connections == 1)
                    if not self._started:
                        self._started = True
                        task_status.started()
                    try:
                        async with trio.open_nursery() as nursery:
                            nursery.start_soon(self._ping_loop, ws)
                            dead = await self._read_loop(ws)
                            nursery.cancel_scope.cancel()
                    finally:
                        self._ws = None
                    if dead:
                        # No close handshake with a peer that stopped talking: leave the connector's context
                        # cancelled, which closes the transport at once.
                        connection_scope.cancel()
                    else:
                        with trio.move_on_after(self._close_timeout_s, shield=True):
                            await ws.aclose()
            # `except*`: an error raised inside the per-connection nursery (the reader or the pinger)
            # arrives wrapped in an ExceptionGroup (strict exception groups); a plain `except` would let
            # it escape and end the stream. Bare errors (connect, handshake) match too. Anything else,
            # Cancelled included, propagates unchanged.
            except* _CONNECTION_ERRORS as group:
                if not subscribed:
                    self._connect_failures += 1
                logger.warning("%s stream: connection to %s failed: %s", self._kind, self._url,
                               ", ".join(sorted({type(exc).__name__ for exc in group.exceptions})))
        if subscribed:
            self._after_disconnect()
        if dead:
            self._dead_timeouts += 1
            logger.warning("%s stream: no frame for %.1f s, dropping the connection", self._kind, self._dead_after_s)

    async def _ping_loop(self, ws: WebSocketConnection) -> None:
        """Send PING at connect + k * ping_interval_s; a late send does not cause a burst of catch-up pings."""
        next_at = trio.current_time() + self._ping_interval_s
        while True:
            await trio.sleep_until(next_at)
            try:
                await ws.send_message(PING_TEXT)
            except _SEND_ERRORS:
                return  # the reader sees the close too
            self._pings_sent += 1
            next_at += self._ping_interval_s
            now = trio.current_time()
            if next_at <= now:
                next_at = now + self._ping_interval_s

    async def _read_loop(self, ws: WebSocketConnection) -> bool:
        """Read and handle frames; returns False when the peer closed, True when the connection went silent."""
        first_frame = True
        while True:
            with trio.move_on_after(self._dead_after_s) as silence:
                try:
                    raw = await ws.get_message()
                except ConnectionClosed as exc:
                    logger.info("%s stream: closed by peer (%s)", self._kind, exc.reason)
                    return False
            if silence.cancelled_caught:
                return True
            self._last_frame_at_s = trio.current_time()
            if first_frame:
                first_frame = False
                self._backoff.reset()  # the connection works: the next drop starts from the short delay
            await self._handle_frame(raw)

    async def _send_operation(self, message: Mapping[str, Any]) -> None:
        """Send a subscribe/unsubscribe operation on the open socket; without one, the next connect covers it."""
        ws = self._ws
        if ws is None:
            return
        try:
            await ws.send_message(_dumps(message))
        except _SEND_ERRORS:
            pass  # the reconnect subscribes to the whole current set

    async def _deliver(self, channel: trio.MemorySendChannel[Any], item: object) -> None:
        """Put `item` on a bounded channel; when it is full, count it and wait (never drop)."""
        try:
            channel.send_nowait(item)
        except trio.WouldBlock:
            self._backpressure_waits += 1
            await channel.send(item)

    # --- observation ---------------------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def last_frame_at_s(self) -> float | None:
        """trio.current_time() of the latest frame (control frames included); None before the first."""
        return self._last_frame_at_s

    def statistics(self) -> StreamStatistics:
        """Counters for status displays and metrics."""
        stats = self._parse_stats
        return StreamStatistics(
            state=self._state,
            connected=self._state is ConnectionState.CONNECTED,
            connections=self._connections,
            reconnects=max(0, self._connections - 1),
            connect_failures=self._connect_failures,
            dead_timeouts=self._dead_timeouts,
            frames=stats.frames,
            events=stats.events,
            control_frames=stats.control_frames,
            malformed=stats.malformed,
            malformed_by_reason=dict(stats.malformed_by_reason),
            pings_sent=self._pings_sent,
            backpressure_waits=self._backpressure_waits,
            last_frame_at_s=self._last_frame_at_s,
            subscriptions=self._subscription_count(),
        )

    def __repr__(self) -> str:
        stats = self._parse_stats
        return (
            f"<{type(self).__name__} {self._url} state={self._state.value} subscriptions={self._subscription_count()} "
            f"connections={self._connections} frames={stats.frames} malformed={stats.malformed}>"
        )


class MarketStream(_Stream):
    """Market channel for a set of tokens: keeps their books current and says which changed (conflated).

    Read `book(token_id)` after `await books_changed()`; drain `notices` (tick changes, last trades, market
    listings/resolutions), or the reader waits for you. Books are invalidated (`needs_snapshot`) when the
    connection drops and rebuilt from the snapshots the re-subscription brings.
    """

    _kind = "market"

    def __init__(
        self,
        url: str,
        token_ids: Iterable[str],
        *,
        connector: Connector | None = None,
        ping_interval_s: float = PING_INTERVAL_S,
        dead_after_s: float = DEAD_AFTER_S,
        reconnect_min_s: float = RECONNECT_MIN_S,
        reconnect_max_s: float = RECONNECT_MAX_S,
        reconnect_jitter: float = RECONNECT_JITTER,
        rng: random.Random | None = None,
        close_timeout_s: float = CLOSE_TIMEOUT_S,
        custom_features: bool = True,
        notice_buffer: int = MARKET_NOTICE_BUFFER,
    ) -> None:
        super().__init__(
            url,
            connector=connector,
            ping_interval_s=ping_interval_s,
            dead_after_s=dead_after_s,
            reconnect_min_s=reconnect_min_s,
            reconnect_max_s=reconnect_max_s,
            reconnect_jitter=reconnect_jitter,
            rng=rng,
            close_timeout_s=close_timeout_s,
        )
        self._custom_features = custom_features
        # Insertion-ordered: the subscription lists tokens in the order they were asked for.
        self._books: dict[str, OrderBook] = {token_id: OrderBook(token_id) for token_id in token_ids}
        self._changed: set[str] = set()
        self._changed_event = trio.Event()
        # Called (synchronously, in the frame's own task step) whenever `changed` grows: a consumer that
        # takes the ids at once spares its task hop between a frame and the markets it wakes.
        self.on_books_changed: Callable[[], None] | None = None
        self._notice_send, self.notices = trio.open_memory_channel[MarketNotice](notice_buffer)

    # --- consumer API ----------------------------------------------------------------------------------

    @property
    def token_ids(self) -> tuple[str, ...]:
        return tuple(self._books)

    def book(self, token_id: str) -> OrderBook | None:
        """The live book of a subscribed token (updated in place by the stream), or None."""
        return self._books.get(token_id)

    def book_fresh_at_s(self, token_id: str) -> float | None:
        """Trio time of the latest message that changed `token_id`'s book (its snapshot, a price change
        touching it, a tick-size change); None before the first one or for an unsubscribed token.

        Only book-changing messages count: a PONG, another token's update or a last-trade notice on the
        same connection say nothing about this book (rejected: the connection's last frame, which kept
        every book of a shard "fresh" as long as anything at all arrived). Whether the book may be used
        at all (`needs_snapshot` after a drop or a tick change) is the book's own flag.
        """
        book = self._books.get(token_id)
        return book.updated_at_s if book is not None else None

    async def books_changed(self) -> frozenset[str]:
        """Wait until some book changed since the last call (or take it at once); return their token ids.

        Meant for one consumer: concurrent callers would split the notifications between them. An id whose
        `book()` is None was unsubscribed. Raises `trio.EndOfChannel` once the stream has ended.
        """
        while not self._changed:
            if self._state is ConnectionState.CLOSED:
                raise trio.EndOfChannel(f"{self._kind} stream has ended")
            if self._changed_event.is_set():
                self._changed_event = trio.Event()
            await self._changed_event.wait()
        return self.take_changed()

    def take_changed(self) -> frozenset[str]:
        """The ids changed since the last call, without waiting (empty if none)."""
        changed = frozenset(self._changed)
        self._changed.clear()
        self._changed_event = trio.Event()
        return changed

    async def subscribe(self, token_ids: Iterable[str]) -> None:
        """Add tokens: new empty books now, snapshots from the venue soon (sent at once when connected)."""
        async with self._subscription_lock:
            new = [t for t in dict.fromkeys(token_ids) if t not in self._books]
            if not new:
                return
            for token_id in new:
                self._books[token_id] = OrderBook(token_id)
            await self._send_operation(
                {"operation": _OP_SUBSCRIBE, "assets_ids": new, "custom_feature_enabled": self._custom_features}
            )

    async def unsubscribe(self, token_ids: Iterable[str]) -> None:
        """Drop tokens and their books; they are reported once more by `books_changed` (with no book)."""
        async with self._subscription_lock:
            gone = [t for t in dict.fromkeys(token_ids) if t in self._books]
            if not gone:
                return
            for token_id in gone:
                del self._books[token_id]
            self._mark_changed(gone)
            await self._send_operation({"operation": _OP_UNSUBSCRIBE, "assets_ids": gone})

    # --- internals ---------------------------------------------------------------------------------------

    def _mark_changed(self, token_ids: Iterable[str]) -> None:
        self._changed.update(token_ids)
        if self._changed:
            self._signal_changed()

    def _signal_changed(self) -> None:
        # Invariant: a non-empty `changed` always has its event set (take_changed resets both together).
        self._changed_event.set()
        if self.on_books_changed is not None:
            self.on_books_changed()

    def _subscription_message(self) -> str:
        return _dumps(
            {
                "type": "market",
                "assets_ids": list(self._books),
                "custom_feature_enabled": self._custom_features,
                "initial_dump": True,
            }
        )

    def _subscription_count(self) -> int:
        return len(self._books)

    def _after_disconnect(self) -> None:
        # No replay (spec 6.1): until the re-subscription's snapshots arrive the books are not to be trusted.
        for book in self._books.values():
            book.invalidate()
        self._mark_changed(self._books)

    def _close_outputs(self) -> None:
        self._notice_send.close()
        self._changed_event.set()  # wake a waiting consumer; it will find nothing new and wait again

    async def _handle_frame(self, raw: str | bytes) -> None:
        events = parse_market_frame(raw, self._parse_stats)
        if not events:
            return
        now_s = trio.current_time()
        books = self._books
        changed = self._changed
        before = len(changed)
        for event in events:
            if type(event) is PriceChangeEvent:
                apply_price_change(books, event, received_at_s=now_s, changed=changed)
            elif type(event) is BookEvent:
                book = books.get(event.asset_id)
                if book is not None:
                    book.apply_snapshot(event, received_at_s=now_s)
                    changed.add(book.asset_id)
            elif type(event) is TickSizeChangeEvent:
                book = books.get(event.asset_id)
                if book is not None:
                    book.apply_tick_size_change(event, received_at_s=now_s)
                    changed.add(book.asset_id)
                    await self._deliver(self._notice_send, event)
            elif type(event) is LastTradePriceEvent:
                book = books.get(event.asset_id)
                if book is not None:
                    book.last_trade_price_micro = event.price_micro
                    await self._deliver(self._notice_send, event)
            elif type(event) is MarketResolvedEvent or type(event) is NewMarketEvent:
                await self._deliver(self._notice_send, event)
            # best_bid_ask: the books already know their top of book. Events for tokens we do not follow
            # (in flight around an unsubscribe) are dropped here on purpose.
        if len(changed) != before:
            self._signal_changed()


class UserStream(_Stream):
    """User channel for a set of markets (condition ids): every order and trade event, in order, none dropped.

    Read `events` (an async-iterable receive channel of `OrderEvent`, `TradeEvent` and `Resynced`).
    """

    _kind = "user"

    def __init__(
        self,
        url: str,
        creds: ApiCreds,
        markets: Iterable[str] = (),
        *,
        connector: Connector | None = None,
        ping_interval_s: float = PING_INTERVAL_S,
        dead_after_s: float = DEAD_AFTER_S,
        reconnect_min_s: float = RECONNECT_MIN_S,
        reconnect_max_s: float = RECONNECT_MAX_S,
        reconnect_jitter: float = RECONNECT_JITTER,
        rng: random.Random | None = None,
        close_timeout_s: float = CLOSE_TIMEOUT_S,
        event_buffer: int = USER_EVENT_BUFFER,
    ) -> None:
        super().__init__(
            url,
            connector=connector,
            ping_interval_s=ping_interval_s,
            dead_after_s=dead_after_s,
            reconnect_min_s=reconnect_min_s,
            reconnect_max_s=reconnect_max_s,
            reconnect_jitter=reconnect_jitter,
            rng=rng,
            close_timeout_s=close_timeout_s,
        )
        self._creds = creds
        self._markets: dict[str, None] = dict.fromkeys(markets)  # an ordered set
        self._event_send, self.events = trio.open_memory_channel[UserStreamItem](event_buffer)

    @property
    def markets(self) -> tuple[str, ...]:
        return tuple(self._markets)

    async def subscribe(self, markets: Iterable[str]) -> None:
        """Add markets (condition ids); sent at once when connected, else on the next connect."""
        async with self._subscription_lock:
            new = [m for m in dict.fromkeys(markets) if m not in self._markets]
            if not new:
                return
            self._markets.update(dict.fromkeys(new))
            await self._send_operation({"operation": _OP_SUBSCRIBE, "markets": new})

    async def unsubscribe(self, markets: Iterable[str]) -> None:
        """Remove markets (condition ids)."""
        async with self._subscription_lock:
            gone = [m for m in dict.fromkeys(markets) if m in self._markets]
            if not gone:
                return
            for market in gone:
                del self._markets[market]
            await self._send_operation({"operation": _OP_UNSUBSCRIBE, "markets": gone})

    def _subscription_message(self) -> str:
        # Holds the raw secret (spec 6.1: the user channel takes the creds themselves, no HMAC): built here,
        # handed to the socket, never kept or logged.
        creds = self._creds
        return _dumps(
            {
                "type": "user",
                "auth": {"apiKey": creds.api_key, "secret": creds.secret, "passphrase": creds.passphrase},
                "markets": list(self._markets),
                "assets_ids": [],
            }
        )

    def _subscription_count(self) -> int:
        return len(self._markets)

    async def _after_subscribe(self, first: bool) -> None:
        if not first:
            await self._deliver(self._event_send, Resynced(reconnects=self._connections - 1, at_s=trio.current_time()))

    def _close_outputs(self) -> None:
        self._event_send.close()

    async def _handle_frame(self, raw: str | bytes) -> None:
        for event in parse_user_frame(raw, self._parse_stats):
            await self._deliver(self._event_send, event)


# --- context-manager tier -----------------------------------------------------------------------------------


def _raise_single(group: BaseExceptionGroup[BaseException]) -> NoReturn:
    """Re-raise the one exception of a group as itself, so `async with` bodies see their own exception."""
    if len(group.exceptions) != 1:
        raise group
    exc = group.exceptions[0]
    context = exc.__context__
    try:
        raise exc
    finally:
        exc.__context__ = context  # keep the body's own context, not the group's
        del exc, context


@asynccontextmanager
async def _running(stream: MarketStream | UserStream) -> AsyncIterator[None]:
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(stream.run)
            try:
                yield
            finally:
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        _raise_single(group)


@asynccontextmanager
async def open_market_stream(url: str, token_ids: Iterable[str], **options: Any) -> AsyncIterator[MarketStream]:
    """A running `MarketStream` for the body of the `async with` (subscribed on entry, stopped on exit).

    `options` are `MarketStream`'s keyword arguments.
    """
    stream = MarketStream(url, token_ids, **options)
    async with _running(stream):
        yield stream


@asynccontextmanager
async def open_user_stream(
    url: str, creds: ApiCreds, markets: Iterable[str] = (), **options: Any
) -> AsyncIterator[UserStream]:
    """A running `UserStream` for the body of the `async with` (subscribed on entry, stopped on exit).

    `options` are `UserStream`'s keyword arguments.
    """
    stream = UserStream(url, creds, markets, **options)
    async with _running(stream):
        yield stream
