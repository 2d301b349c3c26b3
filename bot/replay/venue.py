"""The replay driver: recorded market-channel events move the simulator's market on Trio's clock.

At each recorded receive time the driver (1) applies the event to the `ReplayBook` (recorded depth and
our queue positions), (2) mirrors the recorded depth into the exchange's book as outside liquidity, so
the bot's market channel and REST book show the recorded market plus our own orders, and (3) turns the
fills the queue model grants into real matches (`Exchange.fill_resting`): the bot gets the same order
and trade events, balances and fees as against any taker. Our orders are followed through the
exchange's own user events: a PLACEMENT queues an order behind the recorded size at its price at the
moment the venue accepted it (after any request latency).

Recorded tick-size changes are applied to the exchange (its automatic tick rule is off in replay).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import trio

from bot.replay.matcher import ASK, BID, MakerFill, ReplayBook
from bot.replay.reader import KIND_BOOK, KIND_PRICE_CHANGE, KIND_TICK, KIND_TRADE, Event
from bot.sim.engine import Exchange
from bot.sim.model import MarketSpec, SimEvent, UserData
from bot.sim.venue import SimVenue
from bot.sim.wire import UNIT, fmt_units

__all__ = ["OUTSIDE_ADDRESS", "OUTSIDE_OWNER", "ReplayDriver", "ReplayVenue"]

# The recorded market's other participants, as one account (never an API key the fronts accept).
OUTSIDE_OWNER = "replay-outside"
OUTSIDE_ADDRESS = "0x" + "5e" * 20
_OUTSIDE_FUNDS_UNITS = 10**18  # every recorded taker can pay and deliver


# Every sleep of the replay venue lasts at least this long (SimVenue's floor, same reason).
_MIN_SLEEP_S = 1e-6


class ReplayVenue(SimVenue):
    """The simulator's driver for a replay: no synthetic flow, no series. A call into the exchange
    (the fronts', the replay driver's) wakes it only when it brings an exchange deadline (a delayed
    taker, a trade status, a heartbeat sweep, the market's end) closer than the one it sleeps towards.

    The plain `SimVenue` wakes after every call so its flows can react; with no flows that is one
    useless task switch per recorded event (about a quarter of a conflated backtest's time).
    """

    def __init__(self, **kwargs: Any) -> None:
        self._sleep_until = float("inf")  # Trio time the run loop sleeps towards
        super().__init__(with_flow=False, **kwargs)

    def _on_schedule_change(self) -> None:
        deadline = self.exchange.next_deadline()
        if deadline is not None and deadline - self._epoch_s < self._sleep_until:
            self._wake.set()

    async def run(self, *, task_status: trio.TaskStatus[SimVenue] = trio.TASK_STATUS_IGNORED) -> None:
        self._step()
        task_status.started(self)
        while True:
            self._wake = trio.Event()
            target = self._next_deadline(self.now()) - self._epoch_s
            self._sleep_until = max(target, trio.current_time() + _MIN_SLEEP_S)
            with trio.move_on_at(self._sleep_until):
                await self._wake.wait()
            self._iterations += 1
            self._step()


def _units(text: Any) -> int:
    if text in (None, ""):
        return 0
    whole, _, frac = str(text).partition(".")
    return int(whole or "0") * UNIT + int((frac + "000000")[:6])


@dataclass
class ReplayDriver:
    """Feeds `events` (one market, time-ordered) into `exchange` at `epoch_s`-relative Trio times."""

    exchange: Exchange
    spec: MarketSpec
    events: list[Event]
    book: ReplayBook
    epoch_s: float
    on_fills: Callable[[list[MakerFill]], None] | None = None
    on_step: Callable[[int], None] | None = None  # called with each receive time (ms) after it is applied
    # > 0: the recorded depth reaches the exchange's book (what the bot sees, what our takers meet) at
    # most this often, changed levels together; matching against our resting orders stays exact.
    conflate_ms: int = 0
    events_applied: int = 0
    fills: list[MakerFill] = field(default_factory=list)
    done: trio.Event = field(default_factory=trio.Event)

    def __post_init__(self) -> None:
        self._dirty: set[tuple[str, int]] = set()
        self._next_flush_ms = 0
        self._next = 0  # index of the first event not applied yet
        self.exchange.fund(OUTSIDE_ADDRESS, pusd_units=_OUTSIDE_FUNDS_UNITS)
        for token in (self.spec.yes_token_id, self.spec.no_token_id):
            self.exchange.fund(OUTSIDE_ADDRESS, token_id=token, shares_units=_OUTSIDE_FUNDS_UNITS)
        self.exchange.subscribe(self._on_exchange_event)

    def __repr__(self) -> str:
        return f"<ReplayDriver {self.spec.condition_id[:10]} applied={self.events_applied}/{len(self.events)}>"

    # --- our orders, as the exchange reports them ---------------------------------------------

    def _on_exchange_event(self, event: SimEvent) -> None:
        if not isinstance(event, UserData) or event.owner == OUTSIDE_OWNER:
            return
        payload = event.payload
        if payload.get("event_type") != "order" or event.condition_id != self.spec.condition_id:
            return
        order_id = payload["id"]
        open_shares = _units(payload.get("original_size")) - _units(payload.get("size_matched"))
        kind, status = payload.get("type"), payload.get("status")
        if kind == "PLACEMENT" and status == "LIVE":
            side, price = self.book.yes_level(payload["asset_id"], payload["side"], _units(payload["price"]))
            if order_id not in self.book.ours:
                self.book.add_order(order_id, side, price, open_shares)
        elif kind == "UPDATE":
            self.book.set_open(order_id, open_shares if status == "LIVE" else 0)
        elif kind == "CANCELLATION":
            self.book.remove_order(order_id)

    # --- recorded events ----------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Apply one recorded event now (inside an exchange batch)."""
        book, exchange, cid = self.book, self.exchange, self.spec.condition_id
        kind = event.kind
        if kind == KIND_TRADE:
            fills = book.apply(event)
            for fill in fills:
                exchange.fill_resting(fill.order_id, fill.shares, owner=OUTSIDE_OWNER, address=OUTSIDE_ADDRESS)
            if fills:
                self.fills.extend(fills)
                if self.on_fills is not None:
                    self.on_fills(fills)
        elif kind == KIND_PRICE_CHANGE:
            if event.asset_id != book.depth_asset or event.price is None:
                return
            book.apply(event)
            side, price = book.yes_level(event.asset_id, event.side, event.price)
            if self.conflate_ms:
                self._dirty.add((side, price))
            else:
                exchange.set_outside_level(cid, side, price, book.level(side, price), owner=OUTSIDE_OWNER,
                                           address=OUTSIDE_ADDRESS)
        elif kind == KIND_BOOK:
            if event.asset_id != book.depth_asset:
                return
            before = {BID: dict(book.depth[BID]), ASK: dict(book.depth[ASK])}
            book.apply(event)
            for side in (BID, ASK):
                after = book.depth[side]
                for price in set(before[side]) | set(after):
                    size = after.get(price, 0)
                    if before[side].get(price, 0) == size:
                        continue
                    if self.conflate_ms:
                        self._dirty.add((side, price))
                    else:
                        exchange.set_outside_level(cid, side, price, size, owner=OUTSIDE_OWNER,
                                                   address=OUTSIDE_ADDRESS)
        elif kind == KIND_TICK:
            book.apply(event)
            if event.asset_id == book.depth_asset and event.new_tick:
                new_tick = fmt_units(event.new_tick)
                if exchange.tick_size(self.spec.yes_token_id) != new_tick:
                    exchange.set_tick_size(cid, new_tick)

    def flush(self) -> None:
        """Bring the exchange's outside liquidity up to the recorded depth (conflated mode)."""
        if not self._dirty:
            return
        book, cid = self.book, self.spec.condition_id
        with self.exchange.batch():
            for side, price in sorted(self._dirty):
                self.exchange.set_outside_level(cid, side, price, book.level(side, price), owner=OUTSIDE_OWNER,
                                                address=OUTSIDE_ADDRESS)
        self._dirty.clear()

    def catch_up(self) -> None:
        """Apply every event received up to now. In conflated mode the driver wakes only once a window,
        so this runs as each of our requests reaches the venue: the venue's state is exact whenever
        we act (a cancel still lands after the trades before it, an order behind the size shown then).
        """
        self._apply_until(math.floor((self.epoch_s + trio.current_time()) * 1000 + 1e-6))

    def _apply_until(self, limit_ms: int) -> None:
        """Apply the events received up to `limit_ms`; those of one millisecond as one batch."""
        events, i, n = self.events, self._next, len(self.events)
        while i < n and events[i].received_ms <= limit_ms:
            received_ms = events[i].received_ms
            with self.exchange.batch():
                while i < n and events[i].received_ms == received_ms:
                    self.apply(events[i])
                    i += 1
            self._next = self.events_applied = i
            if self.on_step is not None:
                self.on_step(received_ms)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Apply every event at its receive time (conflated: at the end of its window, or earlier
        through `catch_up`), until the recording ends."""
        task_status.started()
        while self._next < len(self.events):
            due_ms = self.events[self._next].received_ms
            if self.conflate_ms:
                due_ms = max(due_ms, self._next_flush_ms)
            target = due_ms / 1000.0 - self.epoch_s
            if target > trio.current_time():
                await trio.sleep_until(target)
            self._apply_until(due_ms)
            if self.conflate_ms:
                self.flush()
                self._next_flush_ms = due_ms + self.conflate_ms
        self.flush()
        self.done.set()
