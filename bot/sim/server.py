"""Run the simulator's fronts: on loopback (hypercorn + trio-websocket) or in-process (for tests).

- `serve_loopback(venue, host=..., port=..., task_status=...)`: REST + Gamma + admin on hypercorn's Trio
  worker, the WS channels on a trio-websocket listener; reports a `LoopbackServer` (its URLs) when bound.
  Only loopback hosts are accepted unless `allow_non_loopback=True`: this must never face a network.
- `open_inprocess_sim(venue)`: the same fronts without sockets: `sim.transport` (an
  `httpx.ASGITransport`), `sim.connector` (WS over in-memory streams), URLs to pair them with, and
  `sim.admin` (the live `FaultPlan`).
- `cli_sim(args)`: `python -m bot sim [--host] [--port] [--window-s] [--seed] [--faults FILE]` prints ONE
  JSON line with the URLs and the listed markets once ready, and runs until SIGINT/SIGTERM (exit 0).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import math
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve
from trio_websocket import serve_websocket

from bot.sim.apikeys import ApiKeyStore
from bot.sim.faults import FaultController, FaultPlan
from bot.sim.flow import SeriesSchedule
from bot.sim.gamma import market_state, rfc3339
from bot.sim.rest_app import ADMIN_PREFIX, ConnectionDropped, RestConfig, SimRestApp
from bot.sim.venue import SimVenue
from bot.sim.ws_server import WsConfig, WsHub

__all__ = [
    "DEFAULT_SERIES_ASSET",
    "InProcessSim",
    "LoopbackServer",
    "SimFronts",
    "SimTransport",
    "SimUrls",
    "build_fronts",
    "cli_sim",
    "ensure_loopback_host",
    "main",
    "markets_summary",
    "open_inprocess_sim",
    "serve_loopback",
]

_log = logging.getLogger(__name__)

# `python -m bot sim` default series: BTC "15m" markets (slug btc-updown-15m-<ts>) run as --window-s windows.
DEFAULT_SERIES_ASSET = "btc"
DEFAULT_SERIES_NOMINAL_MINUTES = 15
DEFAULT_WINDOW_S = 150  # same as settings' paper_window_s default
DEFAULT_SEED = 7  # same as settings' paper_seed default
# Hypercorn waits this long for in-flight requests at shutdown; hung (faulted) requests must not stall exit.
_GRACEFUL_TIMEOUT_S = 1.0
_INPROCESS_HOST = "sim.invalid"  # RFC 6761: never resolves, so an in-process URL cannot leak onto a network
_EXIT_USAGE = 2


def ensure_loopback_host(host: str, *, allow_non_loopback: bool = False) -> None:
    """ValueError unless `host` is a loopback address (or `allow_non_loopback`)."""
    if allow_non_loopback or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"refusing to serve the simulator on non-loopback host {host!r}")


@dataclass(frozen=True, slots=True)
class SimUrls:
    """Where each front is reached."""

    rest: str
    ws_market: str
    ws_user: str
    gamma: str
    admin: str

    def as_dict(self) -> dict[str, str]:
        return {
            "rest": self.rest,
            "ws_market": self.ws_market,
            "ws_user": self.ws_user,
            "gamma": self.gamma,
            "admin": self.admin,
        }


def _urls(rest_base: str, ws_base: str) -> SimUrls:
    return SimUrls(
        rest=rest_base,
        ws_market=f"{ws_base}/ws/market",
        ws_user=f"{ws_base}/ws/user",
        gamma=f"{rest_base}/gamma",
        admin=f"{rest_base}{ADMIN_PREFIX}",
    )


@dataclass
class SimFronts:
    """The wired fronts of one venue: REST app, WS hub, fault plan and controller, API keys."""

    venue: SimVenue
    app: SimRestApp
    hub: WsHub
    plan: FaultPlan
    controller: FaultController
    keys: ApiKeyStore

    @asynccontextmanager
    async def running(self) -> AsyncIterator[trio.Nursery]:
        """Attach the hub to the engine and run the fault controller; yields the fronts' nursery."""
        detach = self.hub.attach()
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(self.controller.run)
                yield nursery
                nursery.cancel_scope.cancel()
        finally:
            detach()


def build_fronts(
    venue: SimVenue,
    *,
    plan: FaultPlan | None = None,
    rest_config: RestConfig | None = None,
    ws_config: WsConfig | None = None,
    seed: int = 0,
) -> SimFronts:
    """Wire REST, WS and faults to `venue` (nothing runs yet; see `SimFronts.running`)."""
    plan = plan or FaultPlan()
    keys = ApiKeyStore(seed)
    hub = WsHub(venue.exchange, keys, plan, config=ws_config)
    controller = FaultController(plan, venue.exchange, hub, now_s=venue.now, seed=seed)
    app = SimRestApp(
        venue.exchange,
        now_s=venue.now,
        keys=keys,
        plan=plan,
        controller=controller,
        config=rest_config,
        hub_stats=hub.statistics,
    )
    return SimFronts(venue=venue, app=app, hub=hub, plan=plan, controller=controller, keys=keys)


def markets_summary(venue: SimVenue) -> list[dict[str, Any]]:
    """The listed markets as the CLI prints them: ids, end time and the current tick."""
    now = venue.now()
    out = []
    for spec in venue.exchange.markets():
        state = market_state(venue.exchange, spec, now)
        out.append(
            {
                "condition_id": spec.condition_id,
                "slug": spec.slug,
                "token_ids": [spec.yes_token_id, spec.no_token_id],
                "outcomes": list(spec.outcomes),
                "start_ts": spec.start_ts,
                "end_ts": spec.end_ts,
                "end_date": rfc3339(spec.end_ts),
                "tick_size": state.tick_size,
                "accepting_orders": state.accepting_orders,
            }
        )
    return out


# --- in-process -------------------------------------------------------------------------------------


class SimTransport(httpx.ASGITransport):
    """`httpx.ASGITransport` that turns the app's simulated connection drop into a transport error."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except ConnectionDropped:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None


@dataclass
class InProcessSim:
    """Handles to an in-process simulator (see `open_inprocess_sim`)."""

    fronts: SimFronts
    transport: SimTransport
    connector: Callable[[str], Any]
    urls: SimUrls

    @property
    def venue(self) -> SimVenue:
        return self.fronts.venue

    @property
    def admin(self) -> FaultPlan:
        return self.fronts.plan

    @property
    def controller(self) -> FaultController:
        return self.fronts.controller

    @property
    def rest_url(self) -> str:
        return self.urls.rest

    @property
    def ws_market_url(self) -> str:
        return self.urls.ws_market

    @property
    def ws_user_url(self) -> str:
        return self.urls.ws_user

    @property
    def gamma_url(self) -> str:
        return self.urls.gamma

    @property
    def admin_url(self) -> str:
        return self.urls.admin

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An `httpx.AsyncClient` on the in-process transport, based at the REST URL."""
        return httpx.AsyncClient(transport=self.transport, base_url=self.rest_url, **kwargs)


@asynccontextmanager
async def open_inprocess_sim(
    venue: SimVenue,
    *,
    plan: FaultPlan | None = None,
    rest_config: RestConfig | None = None,
    ws_config: WsConfig | None = None,
    run_venue: bool = True,
    seed: int = 0,
    framing: bool = True,
) -> AsyncIterator[InProcessSim]:
    """The simulator's fronts in this process, no sockets; runs the venue's driver too unless
    `run_venue=False` (then the caller runs `venue.run`; never both).

    Works under Trio's fake clock: every timeout and delay in the fronts is on Trio's clock.
    `framing=False`: the WebSocket connector passes whole messages (no WebSocket protocol on either end).
    """
    if rest_config is None:
        # In process the venue's clock is Trio's (usually a MockClock that jumps minutes at a time) while
        # clients sign POLY_TIMESTAMP with the wall clock: the freshness check would measure the fake
        # clock, not a client's skew. Loopback servers (`python -m bot sim`) keep the strict default.
        rest_config = RestConfig(timestamp_tolerance_s=None)
    fronts = build_fronts(venue, plan=plan, rest_config=rest_config, ws_config=ws_config, seed=seed)
    async with trio.open_nursery() as outer:
        if run_venue:
            await outer.start(venue.run)
        async with fronts.running() as nursery:
            base = f"http://{_INPROCESS_HOST}"
            sim = InProcessSim(
                fronts=fronts,
                transport=SimTransport(app=fronts.app),
                connector=fronts.hub.connector(nursery) if framing else fronts.hub.message_connector(nursery),
                urls=_urls(base, f"ws://{_INPROCESS_HOST}"),
            )
            yield sim
        outer.cancel_scope.cancel()


# --- loopback ----------------------------------------------------------------------------------------


@dataclass
class LoopbackServer:
    """A running loopback simulator: its URLs and fronts; `shutdown()` stops it gracefully."""

    urls: SimUrls
    fronts: SimFronts
    _shutdown: trio.Event

    def shutdown(self) -> None:
        self._shutdown.set()


class _QuietDropFilter(logging.Filter):
    """Drop hypercorn's traceback for a deliberately dropped connection (a fault, not a bug)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


_HYPERCORN_LOG = logging.getLogger("bot.sim.hypercorn")
_HYPERCORN_LOG.addFilter(_QuietDropFilter())


def _hypercorn_config(host: str, port: int) -> HypercornConfig:
    config = HypercornConfig()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.graceful_timeout = _GRACEFUL_TIMEOUT_S
    config.accesslog = None
    # Through `logging` (quiet by default); a simulated connection drop is logged there, not on stderr.
    config.errorlog = _HYPERCORN_LOG
    return config


async def serve_loopback(
    venue: SimVenue,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ws_port: int = 0,
    plan: FaultPlan | None = None,
    rest_config: RestConfig | None = None,
    ws_config: WsConfig | None = None,
    allow_non_loopback: bool = False,
    run_venue: bool = True,
    seed: int = 0,
    task_status: trio.TaskStatus[LoopbackServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve REST/Gamma/admin (hypercorn) and WS (trio-websocket) until cancelled or `shutdown()`.

    Runs the venue's driver too unless `run_venue=False` (then the caller runs `venue.run`; never both).
    ValueError for a non-loopback host. Reports a `LoopbackServer` with the bound URLs when listening.
    """
    ensure_loopback_host(host, allow_non_loopback=allow_non_loopback)
    fronts = build_fronts(venue, plan=plan, rest_config=rest_config, ws_config=ws_config, seed=seed)
    shutdown = trio.Event()
    async with trio.open_nursery() as outer:
        if run_venue:
            await outer.start(venue.run)
        async with fronts.running() as nursery:
            binds = await nursery.start(
                lambda task_status: hypercorn_serve(
                    fronts.app,
                    _hypercorn_config(host, port),
                    shutdown_trigger=shutdown.wait,
                    task_status=task_status,
                )
            )
            ws_server = await nursery.start(
                lambda task_status: serve_websocket(
                    fronts.hub.handle_request,
                    host,
                    ws_port,
                    None,
                    handler_nursery=nursery,
                    task_status=task_status,
                )
            )
            rest_base = binds[0]
            host_part = f"[{host}]" if ":" in host else host
            urls = _urls(rest_base, f"ws://{host_part}:{ws_server.port}")
            task_status.started(LoopbackServer(urls=urls, fronts=fronts, _shutdown=shutdown))
            await shutdown.wait()
            nursery.cancel_scope.cancel()
        outer.cancel_scope.cancel()


# --- CLI ------------------------------------------------------------------------------------------------


def _series(window_s: float, seed: int) -> SeriesSchedule:
    return SeriesSchedule(
        asset=DEFAULT_SERIES_ASSET,
        window_s=int(window_s),
        nominal_minutes=DEFAULT_SERIES_NOMINAL_MINUTES,
        seed=seed,
    )


async def _run_cli(args: argparse.Namespace, plan: FaultPlan, out: Any) -> int:
    # Signals first: a SIGINT that arrives right after the ready line must end us cleanly, not as a
    # KeyboardInterrupt from Trio's default handler.
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        venue = SimVenue(series=[_series(args.window_s, args.seed)], seed=args.seed)
        async with trio.open_nursery() as nursery:
            server: LoopbackServer = await nursery.start(
                lambda task_status: serve_loopback(
                    venue,
                    host=args.host,
                    port=args.port,
                    ws_port=getattr(args, "ws_port", 0),
                    plan=plan,
                    allow_non_loopback=getattr(args, "allow_non_loopback", False),
                    seed=args.seed,
                    task_status=task_status,
                )
            )
            line = {**server.urls.as_dict(), "markets": markets_summary(venue)}
            out.write(orjson.dumps(line).decode() + "\n")
            out.flush()
            async for signum in signals:
                _log.info("simulator stopping on signal %s", signum)
                break
            server.shutdown()
            nursery.cancel_scope.cancel()
    return 0


def cli_sim(args: argparse.Namespace, settings: Any = None) -> int:
    """`python -m bot sim`: serve a simulator on loopback until SIGINT/SIGTERM. Returns the exit code.

    `args` needs host, port, window_s, seed, faults (a JSON fault-plan path or None). Exit 2 on a
    non-loopback host or an unreadable fault plan; 0 after a signal.
    """
    del settings  # the simulator needs none of the bot's settings (reserved for the CLI's signature)
    args = argparse.Namespace(**vars(args))
    for name, default in (
        ("host", "127.0.0.1"),
        ("port", 0),
        ("window_s", DEFAULT_WINDOW_S),
        ("seed", DEFAULT_SEED),
    ):
        if getattr(args, name, None) is None:
            setattr(args, name, default)
    args.faults = getattr(args, "faults", None)
    try:
        ensure_loopback_host(args.host, allow_non_loopback=getattr(args, "allow_non_loopback", False))
        if not math.isfinite(args.window_s) or args.window_s < 1:
            raise ValueError("--window-s must be a number of seconds >= 1")
        plan = FaultPlan.from_json_file(args.faults) if args.faults else FaultPlan()
    except (ValueError, OSError) as exc:
        print(f"bot sim: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    return trio.run(_run_cli, args, plan, sys.stdout)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot.sim.server", description="Serve the CLOB simulator on loopback."
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="REST/Gamma port (0 = any free port)")
    parser.add_argument("--ws-port", type=int, default=0, help="WebSocket port (0 = any free port)")
    parser.add_argument(
        "--window-s", type=float, default=DEFAULT_WINDOW_S, help="real length of each market window"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the market flow and ids")
    parser.add_argument("--faults", type=Path, default=None, help="JSON fault plan to load at start")
    return parser


def main(argv: list[str] | None = None) -> int:
    return cli_sim(_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
