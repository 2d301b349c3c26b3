"""Scenario harness: the real bot (supervisor, runners, REST/WS clients) against the in-process simulator.

Everything runs on Trio's clock, so tests use `autojump_clock` and assert exact virtual times. The
simulator's unix time and the bot's are the same `EPOCH_S + trio.current_time()`.

Besides `scenario()` (the bot and the venue, wired), the harness gives tests eyes on both sides:
- `RecordingTransport`: every HTTP request the bot sent, with its Trio time and JSON body (the order
  bodies exactly as the venue received them), and the status it got back;
- `MemoryJournal`: the engine's journal records in memory (optionally teed into a real `Journal`);
- `Scenario.start()` / `first_runner()` / `wait_until()`: run the supervisor in the background and
  step the fake clock until a condition holds, returning the Trio time it first held.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import trio

from bot.engine.clock import VenueClock
from bot.engine.journal import Journal, NullJournal
from bot.engine.market import MarketRunner
from bot.engine.supervisor import Supervisor, VenueLinks
from bot.protocol.auth import ApiCreds
from bot.protocol.rest import ClobRestClient
from bot.protocol.signing import OrderSigner
from bot.sim.faults import FaultPlan
from bot.sim.flow import FlowParams, SeriesSchedule, build_market_order, build_order
from bot.sim.model import OrderRejected, PlaceResult, SimConfig
from bot.sim.server import InProcessSim, open_inprocess_sim
from bot.sim.venue import SimVenue
from bot.sim.wire import UNIT
from settings import BotSettings
from statemachines.market import ExitReason

__all__ = [
    "EPOCH_S",
    "QUIET_FLOW",
    "TEST_PRIVATE_KEY",
    "WINDOW_S",
    "HttpRecord",
    "MemoryJournal",
    "RecordingTransport",
    "Scenario",
    "Trader",
    "best_ask",
    "best_bid",
    "bot_settings",
    "scenario",
]

# A window boundary (multiple of 900 s and of every paper window below), so markets align with t = 0.
EPOCH_S = 1_800_000_000 - 1_800_000_000 % 900
TEST_PRIVATE_KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
WINDOW_S = 300
# A market with depth on both tokens, no takers and a fair value that never moves: after the makers'
# first quotes (t = 0, 0.1, 0.2 s) nothing happens unless the test acts, so every event is the test's.
# (`takers=0` would be the natural spelling, but the flow then crashes on its first taker slot: a
# vanishing taker rate is the same market.)
QUIET_FLOW = FlowParams(taker_rate_per_s=1e-9, fair_logit_sd_per_window=0.0)
# How often `wait_until` looks again (virtual seconds); fine enough for the engine's 0.25 s tick.
_POLL_S = 0.01


def bot_settings(**overrides: Any) -> BotSettings:
    base: dict[str, Any] = dict(
        mode="paper",
        market="auto",
        series=["btc-updown-15m"],
        paper_window_s=WINDOW_S,
        rollover_lead_s=30.0,
        ladder_levels=3,
        size_per_level_shares=10.0,
        quote_cutoff_s=60.0,
        request_timeout_s=2.0,
        cancel_all_timeout_s=10.0,
        # The series' markets carry a reward pool (crypto defaults): these scenarios pin the plain pair
        # ladder's mechanics; the rewards-aware ladder has its own tests (tests/engine/test_rewards_*).
        rewards_mode="off",
    )
    base.update(overrides)
    return BotSettings(**base)


@dataclass
class HttpRecord:
    """One request the bot sent: Trio time it left, method, path, query, JSON body, and the answer's status."""

    t: float
    method: str
    path: str
    query: str
    body: Any
    status: int | None = None  # None: no answer (hung until the deadline, or the connection dropped)
    t_done: float | None = None  # Trio time the answer (or the failure) came back


class RecordingTransport(httpx.AsyncBaseTransport):
    """Wraps the simulator's transport; keeps every request (never its headers: they carry the L2 HMAC)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.records: list[HttpRecord] = []
        # Called as each request leaves, before the venue sees it: tests snapshot the venue's state here.
        self.on_request: list[Callable[[HttpRecord], None]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        content = request.content
        body = orjson.loads(content) if content else None
        record = HttpRecord(trio.current_time(), request.method, request.url.path, request.url.query.decode(), body)
        self.records.append(record)
        for hook in self.on_request:
            hook(record)
        # Writing to a socket is a checkpoint: a request sent in a scope whose deadline has passed is
        # cancelled there, as it would be on the wire (the in-memory venue alone would answer first).
        await trio.lowlevel.checkpoint()
        trace = request.extensions.get("trace")
        if trace is not None:
            # As a socket transport reports it (httpcore's trace): the request is written, its answer
            # not yet read. The in-memory venue would otherwise answer before anyone heard it was sent.
            await trace("http11.send_request_body.complete", {"request": request})
        try:
            response = await self._inner.handle_async_request(request)
        finally:
            record.t_done = trio.current_time()
        record.status = response.status_code
        return response

    def of(self, method: str, path: str) -> list[HttpRecord]:
        return [r for r in self.records if r.method == method and r.path == path]

    async def aclose(self) -> None:
        await self._inner.aclose()


class MemoryJournal:
    """The engine's journal kept in memory (`records`, each with `t` in unix seconds), teed into `inner`."""

    def __init__(self, clock_s: Callable[[], float], inner: Any = None) -> None:
        self._clock_s = clock_s
        self._inner = inner
        self.records: list[dict[str, Any]] = []
        self.lines_written = 0

    def write(self, kind: str, **fields: Any) -> None:
        self.records.append({"t": self._clock_s(), "kind": kind, **fields})
        self.lines_written += 1
        if self._inner is not None:
            self._inner.write(kind, **fields)

    def write_many(self, kind: str, records: Sequence[dict[str, Any]]) -> None:
        for fields in records:
            self.write(kind, **fields)

    @property
    def on_failure(self) -> Any:
        return getattr(self._inner, "on_failure", None)

    @on_failure.setter
    def on_failure(self, handler: Any) -> None:
        if self._inner is not None:
            self._inner.on_failure = handler

    def reopen(self) -> bool:
        return self._inner.reopen() if self._inner is not None else True

    def of(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        return [r for r in self.records if r["kind"] == kind and all(r.get(k) == v for k, v in match.items())]

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()


def best_bid(exchange: Any, token_id: str) -> float | None:
    bids = exchange.book(token_id)["bids"]  # best level last on the wire (spec 1.3)
    return float(bids[-1]["price"]) if bids else None


def best_ask(exchange: Any, token_id: str) -> float | None:
    asks = exchange.book(token_id)["asks"]
    return float(asks[-1]["price"]) if asks else None


class Trader:
    """Another participant with its own funded account, trading straight on the simulated exchange.

    `place` returns the venue's `PlaceResult`, or the `OrderRejected` it raised (a FAK that met
    nothing, a post-only cross): tests assert on either.
    """

    def __init__(self, exchange: Any, name: str = "trader", *, pusd: float = 1_000_000.0) -> None:
        self.exchange = exchange
        self.api_key = f"test-{name}"
        self.address = "0x" + hashlib.sha256(name.encode()).hexdigest()[:40]
        self._rng = random.Random(name)
        exchange.register_api_key(self.api_key, self.address)
        exchange.fund(self.address, pusd_units=int(pusd * UNIT))

    def give_shares(self, token_id: str, shares: float) -> None:
        self.exchange.fund(self.address, token_id=token_id, shares_units=int(shares * UNIT))

    def _ids(self) -> dict[str, Any]:
        return {"order_id": f"0x{self._rng.getrandbits(256):064x}", "owner": self.api_key, "address": self.address}

    def place(self, order: Any) -> PlaceResult | OrderRejected:
        try:
            return self.exchange.place(order)
        except OrderRejected as exc:
            return exc

    def limit(self, token_id: str, side: str, price: float, size: float, order_type: str = "GTC") -> Any:
        return self.place(build_order(**self._ids(), token_id=token_id, side=side, price=f"{price:.4f}",
                                      size=f"{size:.2f}", order_type=order_type))

    def market(self, token_id: str, side: str, amount: float, price: float, order_type: str = "FAK") -> Any:
        """A FAK/FOK: BUY `amount` is pUSD to spend up to the cap `price`; SELL `amount` is shares."""
        return self.place(build_market_order(**self._ids(), token_id=token_id, side=side, amount=f"{amount:.2f}",
                                             price=f"{price:.4f}", order_type=order_type))

    def cancel_all(self) -> None:
        self.exchange.cancel_all(self.api_key)


@dataclass
class Scenario:
    sim: InProcessSim
    settings: BotSettings
    signer: OrderSigner
    clock: VenueClock
    supervisor: Supervisor
    journal: Any = None
    http: RecordingTransport | None = None
    runners: list[MarketRunner] = field(default_factory=list)
    reason: ExitReason | None = None
    error: BaseException | None = None
    done: trio.Event = field(default_factory=trio.Event)
    _runner_seen: trio.Event = field(default_factory=trio.Event)
    # Called with each runner before it starts (tests swap a feed, patch a method, ...).
    runner_hooks: list[Callable[[MarketRunner], None]] = field(default_factory=list)

    @property
    def exchange(self) -> Any:
        return self.sim.venue.exchange

    @property
    def owner(self) -> str:
        creds = self.supervisor.creds
        assert creds is not None
        return creds.api_key

    def our_open_orders(self, token_id: str | None = None) -> list[dict[str, Any]]:
        creds = self.supervisor.creds
        assert creds is not None
        return self.exchange.open_orders(creds.api_key, asset_id=token_id)

    def trader(self, name: str = "trader", **kwargs: Any) -> Trader:
        return Trader(self.exchange, name, **kwargs)

    # --- running the bot in the background ------------------------------------------------------
    def on_runner(self, runner: MarketRunner) -> None:
        self.runners.append(runner)
        for hook in self.runner_hooks:
            hook(runner)
        self._runner_seen.set()

    async def _run_supervisor(self) -> None:
        try:
            self.reason = await self.supervisor.run()
        except BaseException as exc:  # recorded for the test to assert on, then re-raised
            self.error = exc
            raise
        finally:
            self.done.set()

    def start(self, nursery: trio.Nursery) -> None:
        """Run the supervisor in `nursery`; its reason lands in `self.reason`, `self.done` fires at the end."""
        nursery.start_soon(self._run_supervisor)

    async def first_runner(self) -> MarketRunner:
        await self._runner_seen.wait()
        return self.runners[0]

    async def wait_until(self, predicate: Callable[[], Any], *, timeout_s: float = 600.0) -> float:
        """Step the fake clock until `predicate()` is truthy; returns the Trio time it first was."""
        with trio.fail_after(timeout_s):
            while True:
                if predicate():
                    return trio.current_time()
                # Polling, not an Event: the conditions are about the venue's and the engine's state,
                # which offer no notification; on the fake clock a poll costs no wall time.
                await trio.sleep(_POLL_S)

    async def stop_and_wait(self, reason: ExitReason = ExitReason.OPERATOR) -> ExitReason | None:
        self.supervisor.stop(reason, "test")
        await self.done.wait()
        return self.reason

    # --- acting on the venue as ourselves (same key), outside the bot --------------------------------
    @asynccontextmanager
    async def venue_client(self):
        """A REST client on the simulator with the bot's key (derived from the same private key)."""
        async with ClobRestClient(self.sim.rest_url, address=self.signer.address, creds=None,
                                  transport=self.sim.transport, time_s=lambda: int(self.clock.now_s())) as rest:
            creds: ApiCreds = await rest.create_or_derive_api_key(self.signer)
            rest.use_creds(creds)
            yield rest

    def unix(self, trio_time_s: float) -> float:
        return EPOCH_S + trio_time_s


@asynccontextmanager
async def scenario(
    *,
    seed: int = 1,
    window_s: int = WINDOW_S,
    sim_config: SimConfig | None = None,
    journal_path: Path | None = None,
    max_markets: int | None = 1,
    flow: FlowParams | None = None,
    plan: FaultPlan | None = None,
    record: bool = False,
    tick_size: str = "0.01",
    assets: tuple[str, ...] = ("btc",),
    signer: OrderSigner | None = None,
    **settings_overrides: Any,
):
    """The bot and an in-process venue, wired: one recurring series per asset, `window_s` windows.

    With `record=True` the journal is a `MemoryJournal` (teed into `journal_path` when given) and the
    bot's HTTP goes through a `RecordingTransport`.
    """
    venue = SimVenue(
        clock_epoch_s=EPOCH_S,
        config=sim_config or SimConfig(),
        series=[SeriesSchedule(asset=asset, window_s=window_s, nominal_minutes=15, seed=seed, tick_size=tick_size)
                for asset in assets],
        seed=seed,
        flow=flow,
    )
    settings_overrides.setdefault("series", [f"{asset}-updown-15m" for asset in assets])
    settings = bot_settings(paper_window_s=window_s, **settings_overrides)
    async with open_inprocess_sim(venue, seed=seed, plan=plan) as sim:
        clock = VenueClock(EPOCH_S)
        file_journal = Journal(journal_path, clock.now_s) if journal_path else None
        journal: Any
        if record:
            journal = MemoryJournal(clock.now_s, file_journal)
        else:
            journal = file_journal or NullJournal()
        signer = signer or OrderSigner(TEST_PRIVATE_KEY)  # another wallet kind: the test's own signer
        http = RecordingTransport(sim.transport) if record else None
        links = VenueLinks(
            rest_url=sim.rest_url,
            ws_market_url=sim.ws_market_url,
            ws_user_url=sim.ws_user_url,
            gamma_url=sim.gamma_url,
            http_transport=http or sim.transport,
            gamma_transport=sim.transport,
            ws_connector=sim.connector,
        )
        holder: list[Scenario] = []
        supervisor = Supervisor(settings, links, signer=signer, clock=clock, journal=journal,
                                max_markets_total=max_markets, on_runner=lambda r: holder[0].on_runner(r))
        sc = Scenario(sim, settings, signer, clock, supervisor, journal=journal, http=http)
        holder.append(sc)
        try:
            yield sc
        finally:
            if file_journal is not None:
                file_journal.close()
