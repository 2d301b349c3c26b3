"""The bot's side of the loopback benchmarks: the real supervisor and clients against `bench_simserver.py`.

Probes, both on `trio.current_time()` (the monotonic clock in a real run, virtual time on a MockClock):
- `TimingTransport` wraps the REST client's httpx transport and records when each request is handed to
  it (after the client built the body, signed the L2 headers; the bytes go out next) and when its answer
  came back. Headers are never kept (they carry the L2 HMAC).
- `TimingMarketStream` records when each market-channel frame enters `_handle_frame`, i.e. when the socket
  reader has the whole frame in hand, before parsing: "frame received" without the network.

`SimProcess` starts the simulator child and sends it commands; `start_bot` runs a `Supervisor` for the
simulator's markets (fixed list, no discovery) with these probes in place.
"""

from __future__ import annotations

import gc
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import orjson
import trio
from bench_common import REPO_ROOT, LineReader, child_env, ensure_repo_on_path

ensure_repo_on_path()

from bot.engine.clock import VenueClock  # noqa: E402
from bot.engine.journal import NullJournal  # noqa: E402
from bot.engine.market import MarketRunner  # noqa: E402
from bot.engine.markets import MarketInfo  # noqa: E402
from bot.engine.supervisor import Supervisor, VenueLinks  # noqa: E402
from bot.protocol.order_lane import LaneAnswer, OrderLane  # noqa: E402
from bot.protocol.rest import ClobRestClient  # noqa: E402
from bot.protocol.signing import OrderSigner  # noqa: E402
from bot.protocol.ws import Connector, MarketStream  # noqa: E402
from settings import BotSettings  # noqa: E402
from statemachines.order import OrderState  # noqa: E402

__all__ = [
    "ORDER_PATHS",
    "BotHandle",
    "LoopProfile",
    "RequestRecord",
    "SimProcess",
    "TimingMarketStream",
    "TimingTransport",
    "bench_settings",
    "live_orders",
    "market_infos",
    "open_sim_process",
    "start_bot",
    "wait_until",
]

# Requests that place or cancel orders (the "order requests" of the latency figure).
ORDER_PATHS: Final = frozenset({"/order", "/orders", "/cancel-market-orders", "/cancel-all"})
_SIM_READY_TIMEOUT_S: Final = 60.0  # the child imports the simulator (seconds on a loaded machine)
_POLL_S: Final = 0.002  # wait_until's period: fine against the millisecond figures it waits for
# A frame carrying a book delta (the event that makes the ladder move) names its event type so.
_PRICE_CHANGE_TEXT: Final = '"price_change"'
_PRICE_CHANGE_BYTES: Final = b'"price_change"'


# Requests whose market (condition id) is worth knowing: the cutoff's cancel-all and its verification.
_MARKET_PATHS: Final = frozenset({"/cancel-market-orders", "/data/orders"})


@dataclass(slots=True)
class RequestRecord:
    """One REST request: when it was handed to the transport, when its answer came back (trio time)."""

    t_start: float
    method: str
    path: str
    market: str = ""  # for cancel-market and open-orders requests only
    t_end: float | None = None
    status: int | None = None


def _market_in_body(content: bytes) -> str:
    if content:
        body = orjson.loads(content)
        if isinstance(body, dict):
            return str(body.get("market", ""))
    return ""


def _market_of(request: httpx.Request) -> str:
    return request.url.params.get("market") or _market_in_body(request.content)


class TimingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport; records each request's start and end (never its headers).

    `on_request` hooks run as each request is handed over, before the venue sees it.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.records: list[RequestRecord] = []
        self.on_request: list[Callable[[RequestRecord], None]] = []

    def _handed(self, method: str, path: str, market: Callable[[], str]) -> RequestRecord:
        """Record a request as it is handed over and run the hooks (`market` is read only for the paths that
        name one)."""
        record = RequestRecord(trio.current_time(), method, path)
        if path in _MARKET_PATHS:
            record.market = market()
        self.records.append(record)
        for hook in self.on_request:
            hook(record)
        return record

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        record = self._handed(request.method, request.url.path, lambda: _market_of(request))
        try:
            response = await self._inner.handle_async_request(request)
        finally:
            record.t_end = trio.current_time()
        record.status = response.status_code
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()

    def observe_lane(self, lane: OrderLane) -> None:
        """Record the order lane's requests here too, as handed to the lane (instance attribute, this
        bench only)."""
        request = lane.request

        async def timed(method: str, path: str, headers: Any, content: bytes, **kwargs: Any) -> LaneAnswer:
            record = self._handed(method, path, lambda: _market_in_body(content))
            try:
                answer = await request(method, path, headers, content, **kwargs)
            finally:
                record.t_end = trio.current_time()
            record.status = answer.status_code
            return answer

        lane.request = timed  # type: ignore[method-assign]


class TimingMarketStream(MarketStream):
    """A `MarketStream` that notes (trio time, carries a price_change) as each frame reaches `_handle_frame`.

    Not the frame itself: a long run would keep every frame alive and inflate the memory figure.
    """

    frames: list[tuple[float, bool]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.frames = []

    async def _handle_frame(self, raw: str | bytes) -> None:
        now = trio.current_time()
        mark = _PRICE_CHANGE_TEXT if isinstance(raw, str) else _PRICE_CHANGE_BYTES
        self.frames.append((now, mark in raw))  # type: ignore[operator]
        await super()._handle_frame(raw)


class _ProbedSupervisor(Supervisor):
    """The real supervisor, whose market-data shards are `TimingMarketStream`s."""

    streams: list[TimingMarketStream]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.streams = []

    @property
    def rest(self) -> ClobRestClient | None:
        return self._rest

    @rest.setter
    def rest(self, client: ClobRestClient | None) -> None:
        # The REST client is made inside `run`: its order lane's requests join the transport's records.
        self._rest = client
        transport = self.links.http_transport
        if client is not None and client.order_lane is not None and isinstance(transport, TimingTransport):
            transport.observe_lane(client.order_lane)

    def _market_stream(self, url: str, token_ids: tuple[str, ...]) -> MarketStream:
        stream = TimingMarketStream(url, token_ids, **self._ws_options())
        self.streams.append(stream)
        return stream


class LoopProfile(trio.abc.Instrument):
    """CPU time of each task step and of each scheduler batch (between two I/O waits), this thread only.

    Why beside the loop-lag monitor: lag is wall time, so on a busy machine it mostly measures how long
    the OS kept the process off a CPU. CPU time per batch is what our own code costs the loop: a batch
    must finish before a sleeping task (the lag probe, a market frame) can run. Long steps are kept with
    their task's name so a slow path can be found. Costs two `thread_time()` calls per step.
    """

    LONG_STEP_S: Final = 0.002

    def __init__(self) -> None:
        self._step_started = 0.0
        self._batch_started: float | None = None
        self._gc_started = 0.0
        self.steps = 0
        self.batch_cpu_s: list[float] = []
        self.long_steps: list[tuple[float, str]] = []  # (cpu s, task name) of steps ≥ LONG_STEP_S
        self.gc_pauses: list[tuple[int, float]] = []  # (generation, wall s) of each collection
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        # A collection runs inside whichever task step allocated last; its pause is charged there.
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_pauses.append((info["generation"], time.perf_counter() - self._gc_started))

    def close(self) -> None:
        """Stop listening to the garbage collector."""
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self._step_started = time.thread_time()

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        spent = time.thread_time() - self._step_started
        self.steps += 1
        if spent >= self.LONG_STEP_S:
            self.long_steps.append((spent, task.name))

    def after_io_wait(self, timeout: float) -> None:
        self._batch_started = time.thread_time()

    def before_io_wait(self, timeout: float) -> None:
        if self._batch_started is not None:
            self.batch_cpu_s.append(time.thread_time() - self._batch_started)

    def reset(self) -> None:
        """Forget what was seen so far (e.g. the start-up)."""
        self.steps = 0
        self.batch_cpu_s = []
        self.long_steps = []
        self.gc_pauses = []

    def summary(self) -> dict[str, Any]:
        """Batch CPU p50/p99/max (ms), step count, and the tasks behind the long steps."""
        batches = sorted(self.batch_cpu_s)
        by_task: dict[str, list[float]] = {}
        for spent, name in self.long_steps:
            by_task.setdefault(name, []).append(spent)
        top = sorted(by_task.items(), key=lambda item: -sum(item[1]))[:8]
        gc_by_generation: dict[str, Any] = {}
        for generation in (0, 1, 2):
            pauses = [p for g, p in self.gc_pauses if g == generation]
            if pauses:
                gc_by_generation[f"gen{generation}"] = {
                    "n": len(pauses), "max_ms": round(max(pauses) * 1e3, 2), "total_ms": round(sum(pauses) * 1e3, 1)
                }
        return {
            "steps": self.steps,
            "batches": len(batches),
            "batch_cpu_p50_ms": round(batches[len(batches) // 2] * 1e3, 3) if batches else None,
            "batch_cpu_p99_ms": round(batches[int(len(batches) * 0.99)] * 1e3, 3) if batches else None,
            "batch_cpu_max_ms": round(batches[-1] * 1e3, 3) if batches else None,
            "gc_pauses": gc_by_generation,
            "gc_objects_tracked": len(gc.get_objects()),
            "long_steps": len(self.long_steps),
            "long_steps_by_task": {
                name: {"n": len(v), "max_ms": round(max(v) * 1e3, 2), "total_ms": round(sum(v) * 1e3, 1)}
                for name, v in top
            },
        }


def bench_settings(**overrides: Any) -> BotSettings:
    """Default settings with a 5-level ladder (2 tokens x 5 levels = 10 orders per market)."""
    base: dict[str, Any] = {"mode": "paper", "ladder_levels": 5, "journal_path": None, "metrics_port": None}
    base.update(overrides)
    return BotSettings(**base)


def market_infos(ready: dict[str, Any]) -> list[MarketInfo]:
    """The engine's view of the simulator's markets, from its ready line."""
    return [
        MarketInfo(
            condition_id=m["condition_id"], slug=m["slug"], up_token_id=m["up"], down_token_id=m["down"],
            start_s=m["start_s"], end_s=m["end_s"], tick_size=m["tick_size"],
            min_order_size_shares=m["min_order_size"], fee_rate=m["fee_rate"], fee_exponent=m["fee_exponent"],
        )
        for m in ready["markets"]
    ]


def live_orders(runner: MarketRunner) -> int:
    """How many of the runner's orders the venue has acknowledged and not yet seen end."""
    return sum(1 for o in runner.manager.open_orders() if o.state is OrderState.LIVE)


async def wait_until(predicate: Callable[[], Any], *, timeout_s: float, what: str) -> float:
    """Poll until `predicate()` holds; returns trio time. TimeoutError naming `what` otherwise."""
    with trio.move_on_after(timeout_s):
        while True:
            if predicate():
                return trio.current_time()
            # Polling, not an Event: the conditions are about the engine's state, which offers no
            # notification; a 2 ms period costs nothing against the figures measured around it.
            await trio.sleep(_POLL_S)
    raise TimeoutError(f"timed out after {timeout_s:g} s waiting for {what}")


@dataclass
class SimProcess:
    """The simulator child: its ready line, and a command channel."""

    process: trio.Process
    ready: dict[str, Any]
    _lines: LineReader
    _lock: trio.Lock = field(default_factory=trio.Lock)

    async def command(self, line: str) -> str:
        """Send one command, return its one-line answer."""
        async with self._lock:
            assert self.process.stdin is not None
            await self.process.stdin.send_all(line.encode() + b"\n")
            return await self._lines.readline()


@asynccontextmanager
async def open_sim_process(args: list[str]) -> AsyncIterator[SimProcess]:
    """Start `bench_simserver.py` with `args`; yields once it listens; stops it (quit, then kill) on exit."""
    command = [sys.executable, str(REPO_ROOT / "ops" / "bench_simserver.py"), "--child", *args]
    process = await trio.lowlevel.open_process(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=child_env(), cwd=str(REPO_ROOT)
    )
    try:
        assert process.stdout is not None
        lines = LineReader(process.stdout)
        with trio.fail_after(_SIM_READY_TIMEOUT_S):
            ready = orjson.loads(await lines.readline())
        yield SimProcess(process, ready, lines)
    finally:
        with trio.move_on_after(5, shield=True):
            try:
                assert process.stdin is not None
                await process.stdin.send_all(b"quit\n")
                await process.stdin.aclose()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            await process.wait()
        if process.returncode is None:
            process.kill()
            with trio.move_on_after(2, shield=True):
                await process.wait()


@dataclass
class BotHandle:
    """A running bot: its supervisor, the REST probe, and its first runners as they appear."""

    supervisor: _ProbedSupervisor
    transport: TimingTransport
    runners: list[MarketRunner]
    done: trio.Event

    @property
    def frames(self) -> list[tuple[float, bool]]:
        """Every market frame of the first shard (one shard holds up to 200 tokens)."""
        return self.supervisor.streams[0].frames if self.supervisor.streams else []


async def start_bot(
    nursery: trio.Nursery,
    markets: list[MarketInfo],
    urls: dict[str, str],
    settings: BotSettings,
    *,
    inner_transport: httpx.AsyncBaseTransport | None = None,
    ws_connector: Connector | None = None,
    clock: VenueClock | None = None,
    journal: Any = None,
) -> BotHandle:
    """Run a supervisor for `markets` in `nursery`, with a fresh throwaway key.

    The venue is at `urls` (rest, ws_market, ws_user): real sockets by default, or the in-process
    simulator's `inner_transport` and `ws_connector`.
    """
    transport = TimingTransport(inner_transport or httpx.AsyncHTTPTransport())
    # Orders over the order lane on real sockets (as in production), recorded beside httpx's requests.
    links = VenueLinks(urls["rest"], urls["ws_market"], urls["ws_user"], None, http_transport=transport,
                       ws_connector=ws_connector, order_lane=inner_transport is None)
    runners: list[MarketRunner] = []
    supervisor = _ProbedSupervisor(
        settings, links, signer=OrderSigner("0x" + secrets.token_hex(32)), clock=clock or VenueClock(),
        journal=journal or NullJournal(), markets=markets, on_runner=runners.append,
    )
    done = trio.Event()

    async def run() -> None:
        try:
            await supervisor.run()
        finally:
            done.set()

    nursery.start_soon(run)
    return BotHandle(supervisor, transport, runners, done)
