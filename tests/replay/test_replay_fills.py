"""Hand-checked fills: recorded Parquet files (PMXT v2 schema) replayed through the simulator's exchange,
our orders placed as the venue receives them, every fill asserted exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from bot.replay.matcher import ReplayBook
from bot.replay.queue import queue_model
from bot.replay.reader import load_recording
from bot.replay.venue import ReplayDriver
from bot.sim.engine import Exchange
from bot.sim.model import MarketSpec, OrderRejected, SimConfig
from bot.sim.wire import UNIT
from tests.replay.builders import MARKET, NO, T0_MS, YES, book, level, tick, trade, write_recording
from tests.sim.orders import limit

OWNER = "us"


class Replay:
    """The exchange on a hand-moved clock, fed by a recording one receive time at a time."""

    def __init__(self, path: Path, queue: str = "conservative", tick_size: str = "0.01") -> None:
        self.now_s = T0_MS / 1000 - 1
        self.exchange = Exchange(clock=lambda: self.now_s, config=SimConfig(auto_tick_size=False))
        self.spec = MarketSpec(condition_id=MARKET, question="q", slug="s", yes_token_id=YES, no_token_id=NO,
                               tick_size=tick_size, start_ts=self.now_s, end_ts=self.now_s + 3600)
        self.exchange.add_market(self.spec)
        self.exchange.register_api_key(OWNER, f"0x{OWNER}")
        self.exchange.fund(f"0x{OWNER}", pusd_units=10_000 * UNIT)
        self.events = load_recording(path).events
        self.book = ReplayBook(YES, NO, queue_model(queue))
        self.driver = ReplayDriver(self.exchange, self.spec, self.events, self.book, epoch_s=0.0)
        self._next = 0
        self.trades: list[tuple[str, str]] = []  # (order id, matched_amount) of our maker fills
        self.exchange.subscribe(self._on_event)

    def _on_event(self, event) -> None:
        payload = getattr(event, "payload", {})
        if getattr(event, "owner", None) == OWNER and payload.get("event_type") == "trade":
            self.trades.extend((m["order_id"], m["matched_amount"]) for m in payload["maker_orders"]
                               if m["owner"] == OWNER)

    def until(self, t_ms: int) -> None:
        """Apply every recorded event received up to `t_ms` (inclusive)."""
        self.now_s = t_ms / 1000
        while self._next < len(self.events) and self.events[self._next].received_ms <= t_ms:
            with self.exchange.batch():
                self.driver.apply(self.events[self._next])
            self._next += 1

    def bid(self, price: str, size: float, token: str = YES) -> str:
        order = limit(OWNER, token, "BUY", price, size, post_only=True)
        self.exchange.place(order)
        return order.order_id

    def filled(self, order_id: str) -> float:
        return sum(float(amount) for oid, amount in self.trades if oid == order_id)


def test_an_order_behind_100_shares_fills_only_after_100_trade_at_its_price(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "a.parquet", [
        book(T0_MS, [("0.48", "100"), ("0.47", "50")], [("0.52", "80")]),
        trade(T0_MS + 1000, "SELL", "0.48", "60"),
        level(T0_MS + 1001, "BUY", "0.48", "40"),
        trade(T0_MS + 2000, "SELL", "0.49", "500"),  # above our price: not ours
        trade(T0_MS + 3000, "SELL", "0.48", "40"),  # the last of the 100 ahead: still nothing
        level(T0_MS + 3001, "BUY", "0.48", "0"),
        trade(T0_MS + 4000, "SELL", "0.48", "7"),
        trade(T0_MS + 5000, "SELL", "0.48", "30"),
    ])
    replay = Replay(path)
    replay.until(T0_MS)
    ours = replay.bid("0.48", 10)
    assert replay.book.ours[ours].spot.ahead == 100 * UNIT
    replay.until(T0_MS + 3001)
    assert replay.filled(ours) == 0
    assert replay.book.ours[ours].spot.ahead == 0
    replay.until(T0_MS + 4000)
    assert replay.filled(ours) == 7
    replay.until(T0_MS + 5000)
    assert replay.filled(ours) == 10
    assert ours not in replay.book.ours
    # The exchange settled it as a real match: 10 shares bought at 0.48.
    assert replay.exchange.accounts.tokens(f"0x{OWNER}", YES) == 10 * UNIT


def test_a_trade_through_our_price_fills_us_first_up_to_its_size(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "a.parquet", [
        book(T0_MS, [("0.48", "100")], [("0.52", "80")]),
        trade(T0_MS + 1000, "SELL", "0.47", "4"),  # a taker sold below our 0.49 bid: it met us first
        trade(T0_MS + 2000, "BUY", "0.51", "9", asset=NO),  # BUY No at 0.51 = SELL Yes at 0.49: at our price
    ])
    replay = Replay(path)
    replay.until(T0_MS)
    ours = replay.bid("0.49", 10)
    assert replay.book.ours[ours].spot.ahead == 0
    replay.until(T0_MS + 1000)
    assert replay.filled(ours) == 4
    replay.until(T0_MS + 2000)
    assert replay.filled(ours) == 10


def test_size_decreases_move_the_probabilistic_queue_but_not_the_conservative_one(tmp_path: Path) -> None:
    frames = [
        book(T0_MS, [("0.48", "100")], [("0.52", "80")]),
        level(T0_MS + 1000, "BUY", "0.48", "20"),  # 80 cancelled somewhere in the queue
        trade(T0_MS + 2000, "SELL", "0.48", "20"),
    ]
    conservative = Replay(write_recording(tmp_path / "c.parquet", frames))
    probabilistic = Replay(write_recording(tmp_path / "p.parquet", frames), queue="probabilistic")
    for replay in (conservative, probabilistic):
        replay.until(T0_MS)
        replay.order = replay.bid("0.48", 10)  # type: ignore[attr-defined]
        replay.until(T0_MS + 1000)
    # Conservative: ahead = min(100, 20) = 20. Probabilistic (power 3): front 100, back 0 -> the whole
    # decrease was ahead of us, 20 left ahead too; the trade of 20 then reaches nobody behind.
    assert conservative.book.ours[conservative.order].spot.ahead == 20 * UNIT  # type: ignore[attr-defined]
    assert probabilistic.book.ours[probabilistic.order].spot.ahead == 20 * UNIT  # type: ignore[attr-defined]


async def test_a_cancel_that_arrives_after_a_trade_does_not_prevent_that_fill(tmp_path: Path, autojump_clock) -> None:
    path = write_recording(tmp_path / "a.parquet", [
        book(T0_MS, [("0.48", "5")], [("0.52", "80")]),
        trade(T0_MS + 1000, "SELL", "0.48", "15"),
    ])
    events = load_recording(path).events
    epoch = T0_MS / 1000 - 1
    exchange = Exchange(clock=lambda: epoch + trio.current_time(), config=SimConfig(auto_tick_size=False))
    spec = MarketSpec(condition_id=MARKET, question="q", slug="s", yes_token_id=YES, no_token_id=NO,
                      start_ts=epoch, end_ts=epoch + 3600)
    exchange.add_market(spec)
    exchange.register_api_key(OWNER, f"0x{OWNER}")
    exchange.fund(f"0x{OWNER}", pusd_units=10_000 * UNIT)
    driver = ReplayDriver(exchange, spec, events, ReplayBook(YES, NO, queue_model("conservative")), epoch)
    latency_s = 0.050
    outcome: dict[str, object] = {}

    async def we_cancel() -> None:
        await trio.sleep_until(1.5)  # the book is there (t = 1 s)
        order = limit(OWNER, YES, "BUY", "0.48", 10, post_only=True)
        exchange.place(order)
        # We decide to cancel 20 ms before the trade; the request reaches the venue 30 ms after it.
        await trio.sleep_until(2.0 - 0.020)
        await trio.sleep(latency_s)
        outcome["cancel"] = exchange.cancel(OWNER, [order.order_id])
        outcome["t"] = trio.current_time()
        outcome["id"] = order.order_id

    async with trio.open_nursery() as nursery:
        nursery.start_soon(driver.run)
        nursery.start_soon(we_cancel)
    canceled, not_canceled = outcome["cancel"]  # type: ignore[misc]
    assert outcome["t"] == pytest.approx(2.030)
    assert canceled == [] and outcome["id"] in not_canceled  # already matched
    # 15 traded at 0.48 with 5 ahead of us: all 10 of ours filled before the cancel got there.
    assert [(f.order_id, f.shares) for f in driver.fills] == [(outcome["id"], 10 * UNIT)]
    assert exchange.accounts.tokens(f"0x{OWNER}", YES) == 10 * UNIT


def test_a_tick_size_change_mid_file_moves_the_grid_and_fills_at_the_finer_price(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "a.parquet", [
        book(T0_MS, [("0.96", "100")], [("0.97", "80")]),
        tick(T0_MS + 1000, "0.01", "0.001"),
        tick(T0_MS + 1000, "0.01", "0.001", asset=NO),
        level(T0_MS + 1001, "BUY", "0.965", "30"),
        trade(T0_MS + 2000, "SELL", "0.965", "40"),
    ])
    replay = Replay(path)
    replay.until(T0_MS)
    with pytest.raises(OrderRejected):
        replay.bid("0.965", 10)  # off the 0.01 grid
    replay.until(T0_MS + 1001)
    assert replay.exchange.tick_size(YES) == "0.001"
    assert replay.book.tick_units == 1000
    ours = replay.bid("0.965", 10)
    assert replay.book.ours[ours].spot.ahead == 30 * UNIT
    replay.until(T0_MS + 2000)
    assert replay.filled(ours) == 10


def test_conflating_what_the_bot_sees_keeps_the_fills_exact(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "a.parquet", [
        book(T0_MS, [("0.48", "100")], [("0.52", "80")]),
        level(T0_MS + 100, "BUY", "0.48", "150"),  # behind us
        trade(T0_MS + 200, "SELL", "0.48", "104"),
        level(T0_MS + 201, "BUY", "0.48", "46"),
    ])
    exact, conflated = Replay(path), Replay(path)
    conflated.driver.conflate_ms = 1000
    for replay in (exact, conflated):
        replay.until(T0_MS)
        replay.order = replay.bid("0.48", 10)  # type: ignore[attr-defined]
        replay.until(T0_MS + 201)
    assert exact.filled(exact.order) == conflated.filled(conflated.order) == 4  # type: ignore[attr-defined]

    def shown(replay: Replay) -> dict[str, str]:
        return {lv["price"]: lv["size"] for lv in replay.exchange.book(YES)["bids"]}

    assert shown(exact) == {"0.48": "52"}  # 46 recorded + our 6 left
    assert shown(conflated) == {"0.48": "6"}  # the recorded depth is not shown yet: only ours
    conflated.driver.flush()
    assert shown(conflated) == shown(exact)
