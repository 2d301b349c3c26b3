"""`backtest`: the production engine, unchanged, against a recording on Trio's fake clock.

The simulator runs in process with no synthetic flow; the `ReplayDriver` moves its market as recorded
(see `bot.replay.venue`). The bot is the real `Supervisor` with its market runner, strategy, order
manager, completion executor, reconciler, heartbeat and cutoff, talking REST and WebSocket to the
simulator's fronts through latency seams. A `MockClock` jumps over idle time, so an hour replays in
seconds; the result depends only on the recording, the settings and the seed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import trio
import trio.testing

from bot.engine.clock import VenueClock
from bot.engine.journal import NullJournal
from bot.engine.markets import MarketInfo
from bot.engine.supervisor import Supervisor, VenueLinks
from bot.protocol.signing import OrderSigner
from bot.replay.latency import FixedLatency, LatencyModel, LatencyTransport, delayed_connector
from bot.replay.matcher import ASK, BID, ReplayBook
from bot.replay.queue import queue_model
from bot.replay.reader import KIND_BOOK, KIND_PRICE_CHANGE, KIND_TICK, Event, Recording, load_recording
from bot.replay.venue import OUTSIDE_OWNER, ReplayDriver, ReplayVenue
from bot.sim.model import MarketSpec, SimConfig, SimEvent, UserData
from bot.sim.rules import taker_fee_units
from bot.sim.server import open_inprocess_sim
from bot.sim.wire import UNIT, fmt_units
from settings import BotSettings

__all__ = ["BacktestConfig", "BacktestResult", "OurFill", "pick_market", "run_backtest", "seed_everything"]

# The bot starts this long before the first recorded event: it connects, reconciles and subscribes
# (several round trips: with seconds of order latency that takes seconds of virtual time).
_WARMUP_S = 30.0
_SAMPLE_MS = 1000  # the market's top of book is sampled once a second for marks and markouts


@dataclass(frozen=True)
class BacktestConfig:
    data: Path
    settings: BotSettings
    market: str | None = None
    from_ms: int | None = None
    to_ms: int | None = None
    queue: str = "conservative"
    queue_power: float = 3.0
    order_latency: LatencyModel = field(default_factory=lambda: FixedLatency(0.0))
    feed_latency: LatencyModel = field(default_factory=lambda: FixedLatency(0.0))
    seed: int = 0
    fee_rate: float = 0.07  # crypto taker rate (spec 12.3)
    taker_delay_s: float = 0.0  # crypto markets: 0.05 (spec 12.4)
    rebate_share: float = 0.20  # crypto maker rebate pool share of taker fees (spec 12.3)
    conflate_ms: int = 0  # > 0: the bot's view of the recorded depth is conflated (see ReplayDriver)
    # True: market frames pass through the WebSocket protocol (wsproto, both ends) as they do live; False:
    # whole messages, the same texts in the same order (a fifth less CPU; the pinned results are identical).
    ws_framing: bool = False


def _feed_connector(connector: Callable[[str], Any], model: LatencyModel) -> Callable[[str], Any]:
    """The bot's WebSocket connector: frames delayed by the feed latency, or as they come when it is zero."""
    if isinstance(model, FixedLatency) and model.seconds == 0:
        return connector
    return delayed_connector(connector, model)


@dataclass(frozen=True)
class OurFill:
    """One fill of ours: time (ms), token, BUY/SELL, price and shares in 1e6 units, maker or taker, fee."""

    t_ms: int
    token_id: str
    side: str
    price: int
    shares: int
    maker: bool
    fee: int


@dataclass
class BacktestResult:
    market: str
    yes_token: str
    no_token: str
    start_ms: int
    end_ms: int
    events: int
    fills: list[OurFill]
    top: list[tuple[int, int | None, int | None]]  # (ms, best bid, best ask) in Yes space, once a second
    orders_placed: int
    orders_cancelled: int
    quoting_ms: int  # time with at least one order of ours resting
    exit_reason: str
    fee_rate: float
    rebate_share: float
    summaries: list[dict[str, Any]]
    wall_s: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)


def pick_market(recording: Recording, market: str | None) -> tuple[str, str, str]:
    """(condition id, yes token, no token): `market`, or the recording's busiest. ValueError if absent."""
    if market is None:
        if not recording.markets:
            raise ValueError("the recording holds no events")
        counts: dict[str, int] = {}
        for event in recording.events:
            counts[event.market] = counts.get(event.market, 0) + 1
        market = max(sorted(counts), key=lambda m: counts[m])
    if market not in recording.markets:
        raise ValueError(f"market {market} is not in the recording")
    assets = sorted(recording.markets[market])
    if len(assets) == 1:  # one token recorded: the other is its mirror, under a derived id
        assets.append(str(int(assets[0]) + 1) if assets[0].isdigit() else assets[0] + "-complement")
    return market, assets[0], assets[1]


def _initial_tick(events: list[Event]) -> str:
    """The market's tick when the recording starts: the first tick change's old tick, else 0.001 when
    a price before it needs three decimals, else 0.01."""
    for event in events:
        if event.kind == KIND_TICK and event.old_tick:
            return fmt_units(event.old_tick)
        prices: list[int] = []
        if event.kind == KIND_PRICE_CHANGE and event.price is not None:
            prices.append(event.price)
        elif event.kind == KIND_BOOK:
            for raw in (event.bids, event.asks):
                prices.extend(round(float(level[0]) * UNIT) for level in orjson.loads(raw or "[]"))
        if any(price % 10_000 for price in prices):
            return "0.001"
    return "0.01"


def _fills_of(payload: dict[str, Any], owner: str, t_ms: int, cfg: BacktestConfig) -> list[OurFill]:
    """Our fills in a user-channel trade event (first report, MATCHED, only)."""
    if payload.get("event_type") != "trade" or payload.get("status") != "MATCHED":
        return []

    def units(text: Any) -> int:
        whole, _, frac = str(text).partition(".")
        return int(whole or "0") * UNIT + int((frac + "000000")[:6])

    if payload.get("trader_side") == "TAKER":
        shares, price = units(payload["size"]), units(payload["price"])
        fee = taker_fee_units(shares, price, cfg.fee_rate, 1.0)
        return [OurFill(t_ms, payload["asset_id"], payload["side"], price, shares, False, fee)]
    return [
        OurFill(t_ms, m["asset_id"], m["side"], units(m["price"]), units(m["matched_amount"]), True, 0)
        for m in payload.get("maker_orders", []) if m.get("owner") == owner
    ]


async def _run(cfg: BacktestConfig, recording: Recording) -> BacktestResult:
    market, yes, no = pick_market(recording, cfg.market)
    events = [e for e in recording.events if e.market == market]
    start_s, last_s = events[0].received_ms / 1000.0, events[-1].received_ms / 1000.0
    settings = cfg.settings.model_copy(update={"market": market})
    epoch = start_s - _WARMUP_S
    end_s = last_s + settings.quote_cutoff_s + 1.0
    tick = _initial_tick(events)
    slug = f"replay-{market[2:10]}"
    spec = MarketSpec(condition_id=market, question=f"Replay of {market}", slug=slug, yes_token_id=yes,
                      no_token_id=no, tick_size=tick, start_ts=epoch, end_ts=end_s, fee_rate=cfg.fee_rate,
                      taker_delay_s=cfg.taker_delay_s, accepting_orders_ts=epoch)
    venue = ReplayVenue(clock_epoch_s=epoch, config=SimConfig(auto_tick_size=False,
                                                              paper_balance_pusd=settings.paper_balance_pusd),
                        markets=[spec], seed=cfg.seed)
    book = ReplayBook(yes, no, queue_model(cfg.queue, power=cfg.queue_power))
    driver = ReplayDriver(venue.exchange, spec, events, book, epoch, conflate_ms=cfg.conflate_ms)
    fills: list[OurFill] = []
    top: list[tuple[int, int | None, int | None]] = []
    counts = {"placed": 0, "cancelled": 0, "quoting_ms": 0}
    resting: set[str] = set()
    since = [0.0]

    def now_ms() -> int:
        return int(round((epoch + trio.current_time()) * 1000))

    def on_event(event: SimEvent) -> None:
        if not isinstance(event, UserData) or event.owner == OUTSIDE_OWNER:
            return
        payload = event.payload
        if payload.get("event_type") == "order":
            was = bool(resting)
            if payload.get("type") == "PLACEMENT":
                counts["placed"] += 1
                resting.add(payload["id"])
            elif payload.get("type") == "CANCELLATION" or payload.get("status") == "MATCHED":
                counts["cancelled"] += payload.get("type") == "CANCELLATION"
                resting.discard(payload["id"])
            t = trio.current_time()
            if was and not resting:
                counts["quoting_ms"] += int((t - since[0]) * 1000)
            elif resting and not was:
                since[0] = t
        else:
            fills.extend(_fills_of(payload, event.owner, now_ms(), cfg))

    def on_step(received_ms: int) -> None:
        if not top or received_ms - top[-1][0] >= _SAMPLE_MS:
            bids, asks = book.depth[BID], book.depth[ASK]
            top.append((received_ms, max(bids) if bids else None, min(asks) if asks else None))

    driver.on_step = on_step
    venue.exchange.subscribe(on_event)
    key = hashlib.sha256(f"replay-{cfg.seed}".encode()).hexdigest()
    signer = OrderSigner("0x" + key, chain_id=settings.chain_id)
    info = MarketInfo(condition_id=market, slug=slug, up_token_id=yes, down_token_id=no, start_s=epoch,
                      end_s=end_s, tick_size=tick, fee_rate=cfg.fee_rate)
    async with open_inprocess_sim(venue, seed=cfg.seed, framing=cfg.ws_framing) as sim:
        links = VenueLinks(sim.rest_url, sim.ws_market_url, sim.ws_user_url, sim.gamma_url,
                           LatencyTransport(sim.transport, cfg.order_latency,
                                            driver.catch_up if cfg.conflate_ms else None), sim.transport,
                           _feed_connector(sim.connector, cfg.feed_latency))
        supervisor = Supervisor(settings, links, signer=signer, clock=VenueClock(epoch), journal=NullJournal(),
                                markets=[info], max_markets_total=1)
        async with trio.open_nursery() as nursery:
            await nursery.start(driver.run)
            reason = await supervisor.run()
            nursery.cancel_scope.cancel()
    if resting:
        counts["quoting_ms"] += int((trio.current_time() - since[0]) * 1000)
    return BacktestResult(
        market=market, yes_token=yes, no_token=no, start_ms=events[0].received_ms, end_ms=events[-1].received_ms,
        events=driver.events_applied, fills=fills, top=top, orders_placed=counts["placed"],
        orders_cancelled=counts["cancelled"], quoting_ms=counts["quoting_ms"], exit_reason=reason.value,
        fee_rate=cfg.fee_rate, rebate_share=cfg.rebate_share, summaries=supervisor.summaries(),
        config={"queue": cfg.queue, "seed": cfg.seed, "order_latency": repr(cfg.order_latency),
                "feed_latency": repr(cfg.feed_latency), "conflate_ms": cfg.conflate_ms},
    )


def seed_everything(seed: int) -> None:
    """Make one run a function of its input and seed. Trio breaks ties between tasks woken at the same
    instant with its own `random.Random` (`trio._core._run._r`, private: the hook Hypothesis uses for
    the same purpose); order salts come from the global `random`. Both are seeded here."""
    import random

    random.seed(seed)
    trio_random = getattr(getattr(trio._core, "_run", None), "_r", None)
    if isinstance(trio_random, random.Random):
        trio_random.seed(seed)


def run_backtest(cfg: BacktestConfig, recording: Recording | None = None, *,
                 instruments: Sequence[trio.abc.Instrument] = ()) -> BacktestResult:
    """Run one backtest to the end (blocking; its own Trio run on a fake clock). `instruments` observe
    the run (the benchmark's CPU time per task); they do not change it."""
    recording = recording or load_recording(cfg.data, market=cfg.market, from_ms=cfg.from_ms, to_ms=cfg.to_ms)
    started = time.perf_counter()
    seed_everything(cfg.seed)
    result = trio.run(_run, cfg, recording, clock=trio.testing.MockClock(autojump_threshold=0),
                      instruments=instruments)
    result.wall_s = time.perf_counter() - started
    return result
