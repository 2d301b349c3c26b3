"""Shared streams fanned out to markets: market-data shards and the one user channel of the account.

- `MarketDataHub` keeps market-data connections sharded (at most `max_assets_per_connection` tokens
  each, spec 6.1: ~500 works, 200 is the safe default) and tells each market's `MarketFeed` when one
  of its books changed. Books are conflated: a market reads the latest book, never a backlog.
- `UserEventHub` owns the single user-channel connection (one per API key) and routes each event to
  its market's channel. User events are never dropped: a slow market applies backpressure instead.
  A reconnect (`Resynced`) goes to every market, so each reconciles over REST.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import trio

from bot.protocol.book import OrderBook
from bot.protocol.messages import (
    MarketResolvedEvent,
    OrderEvent,
    TickSizeChangeEvent,
    TradeEvent,
)
from bot.protocol.ws import MarketStream, Resynced, UserStream

__all__ = ["MarketDataHub", "MarketFeed", "UserEventHub"]

log = logging.getLogger(__name__)

# A market's user-event queue: a burst of a few hundred events (a ladder of fills, a venue-side
# cancel of every order) fits; beyond that the hub waits for the market rather than drop events.
_MARKET_USER_BUFFER = 1024


class MarketFeed:
    """One market's view of the shared market data (implements the runner's `BookFeed`)."""

    def __init__(self, stream: MarketStream, token_ids: tuple[str, ...]) -> None:
        self.stream = stream
        self.token_ids = token_ids
        self._event = trio.Event()
        self._listeners: list[Callable[[], None]] = []
        self.changes = 0

    def book(self, token_id: str) -> OrderBook | None:
        return self.stream.book(token_id)

    def book_fresh_at(self, token_id: str) -> float | None:
        """Trio time of the latest book-changing message for `token_id` (snapshot, price change touching
        it, tick-size change), or None: what the stale-book guard must judge, per token."""
        return self.stream.book_fresh_at_s(token_id)

    def last_frame_at(self) -> float | None:
        """Trio time of the connection's latest frame (PONGs included). Says the connection lives, not
        that any one book is current: the stale-book guard reads `book_fresh_at`."""
        return self.stream.last_frame_at_s

    def notify(self) -> None:
        self.changes += 1
        self._event.set()
        for listener in self._listeners:
            listener()

    def listen(self, listener: Callable[[], None]) -> None:
        """Call `listener` (synchronously, in the notifying task) on every change, beside `changed()`; at
        once too if a change came before (the first snapshots can beat the market's start)."""
        self._listeners.append(listener)
        if self.changes:
            listener()

    async def changed(self) -> None:
        await self._event.wait()
        self._event = trio.Event()


class MarketDataHub:
    """Market-data connections, each for at most `max_assets_per_connection` tokens."""

    def __init__(
        self,
        nursery: trio.Nursery,
        url: str,
        *,
        stream_factory: Callable[[str, tuple[str, ...]], MarketStream],
        max_assets_per_connection: int = 200,
        guard: Callable[..., Any] | None = None,
    ) -> None:
        self._nursery = nursery
        # Wraps each task this hub starts (the supervisor turns a crash into a recorded stop).
        self._guard = guard
        self._url = url
        self._factory = stream_factory
        self._max_assets = max_assets_per_connection
        self._shards: list[MarketStream] = []
        self._feeds_by_token: dict[str, MarketFeed] = {}
        self.reconnects_base = 0

    @property
    def shards(self) -> list[MarketStream]:
        return list(self._shards)

    async def add_market(self, token_ids: tuple[str, ...]) -> MarketFeed:
        shard = next((s for s in self._shards if len(s.token_ids) + len(token_ids) <= self._max_assets), None)
        if shard is None:
            shard = self._factory(self._url, token_ids)
            # Fanned out in the frame's own task step: a fan-out task would add a scheduler pass (~40-60 µs
            # on a cold path, measured) between every frame and the markets it wakes.
            shard.on_books_changed = lambda shard=shard: self._fan_out(shard)
            if self._guard is not None:
                await self._nursery.start(self._guard, shard.run)
                self._nursery.start_soon(self._guard, self._drain_notices, shard)
            else:
                await self._nursery.start(shard.run)
                self._nursery.start_soon(self._drain_notices, shard)
            self._shards.append(shard)
        else:
            await shard.subscribe(token_ids)
        feed = MarketFeed(shard, token_ids)
        for token in token_ids:
            self._feeds_by_token[token] = feed
        return feed

    async def remove_market(self, feed: MarketFeed) -> None:
        for token in feed.token_ids:
            self._feeds_by_token.pop(token, None)
        try:
            await feed.stream.unsubscribe(feed.token_ids)
        except trio.ClosedResourceError:
            pass

    def _fan_out(self, shard: MarketStream) -> None:
        """Notify each market whose books `shard` changed (once per market), synchronously."""
        notified: set[int] = set()
        for token in shard.take_changed():
            feed = self._feeds_by_token.get(token)
            if feed is not None and id(feed) not in notified:
                notified.add(id(feed))
                feed.notify()

    async def _drain_notices(self, shard: MarketStream) -> None:
        # The stream waits for its reader when notices pile up: drain them, wake the markets concerned.
        async for notice in shard.notices:
            if isinstance(notice, TickSizeChangeEvent | MarketResolvedEvent):
                asset = getattr(notice, "asset_id", "")
                feed = self._feeds_by_token.get(asset)
                if feed is not None:
                    feed.notify()

    def statistics(self) -> dict[str, Any]:
        stats = [s.statistics() for s in self._shards]
        return {
            "shards": len(self._shards),
            "tokens": len(self._feeds_by_token),
            "reconnects": sum(s.reconnects for s in stats),
            "connected": all(s.state.value == "connected" for s in self._shards) if self._shards else False,
        }


class UserEventHub:
    """The account's one user-channel connection, routed by market (condition id)."""

    def __init__(self, stream: UserStream) -> None:
        self.stream = stream
        self._routes: dict[str, trio.MemorySendChannel[Any]] = {}
        self._token_to_market: dict[str, str] = {}
        self.unrouted = 0

    async def add_market(self, condition_id: str, token_ids: tuple[str, ...]) -> trio.MemoryReceiveChannel[Any]:
        send, receive = trio.open_memory_channel[Any](_MARKET_USER_BUFFER)
        self._routes[condition_id] = send
        for token in token_ids:
            self._token_to_market[token] = condition_id
        await self.stream.subscribe([condition_id])
        return receive

    async def remove_market(self, condition_id: str) -> None:
        send = self._routes.pop(condition_id, None)
        for token in [t for t, m in self._token_to_market.items() if m == condition_id]:
            del self._token_to_market[token]
        if send is not None:
            send.close()
        try:
            await self.stream.unsubscribe([condition_id])
        except trio.ClosedResourceError:
            pass

    def _route(self, event: Any) -> trio.MemorySendChannel[Any] | None:
        if isinstance(event, OrderEvent | TradeEvent):
            market = event.market or self._token_to_market.get(event.asset_id, "")
            return self._routes.get(market)
        return None

    async def run(self) -> None:
        async for event in self.stream.events:
            if isinstance(event, Resynced):
                for send in list(self._routes.values()):
                    await _send(send, event)
                continue
            send = self._route(event)
            if send is None:
                self.unrouted += 1
                continue
            await _send(send, event)


async def _send(send: trio.MemorySendChannel[Any], item: Any) -> None:
    try:
        await send.send(item)
    except (trio.ClosedResourceError, trio.BrokenResourceError):
        pass  # the market finished while the event was in flight
