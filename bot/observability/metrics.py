"""Prometheus metrics of the bot, on a registry of its own, served at `/metrics` under hypercorn's Trio worker.

Two ways in:
- `Metrics.update(status)` takes a `BotStatus` snapshot (the same one the screen shows). Gauges are
  set from it; cumulative counts in it (orders posted, fills, rejects, storms, WS reconnects) feed
  counters by their increase since the previous snapshot, so no event is counted twice.
- `observe_*` methods record what a snapshot cannot carry: state transitions, reject kinds, loop lag
  samples, tick-to-order latencies, cancel-all durations.

Per-market series are removed `stale_market_retention_s` after a market leaves the snapshots, so a
bot following a 15-minute series for weeks does not grow without bound; the retention leaves a few
scrapes to see a finished market's final values.

Nothing here receives a secret; labels are market slugs, states and reasons.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_asgi_app
from prometheus_client.metrics import MetricWrapperBase

from bot.observability.incentives_view import IncentivesStatus
from bot.observability.snapshot import BotStatus, MarketStatus

__all__ = [
    "METRIC_PREFIX",
    "METRICS_PATH",
    "Metrics",
    "metrics_asgi_app",
    "serve_metrics",
]

METRIC_PREFIX: Final = "pmm"
METRICS_PATH: Final = "/metrics"

# Loop lag buckets straddle the 10 ms alert threshold (ops/prometheus/alerts.yml), finer below it.
_LOOP_LAG_BUCKETS_S: Final = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, math.inf)
# From a book change to the first order request: a few ms when healthy, a REST round trip when not.
_TICK_TO_ORDER_BUCKETS_S: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    math.inf,
)
# A cancel-all is one DELETE plus one verifying GET (~100 ms live); its bound is at most 120 s.
_CANCEL_ALL_BUCKETS_S: Final = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, math.inf)
# Long enough for several scrapes at any sane interval to see a finished market's last values.
DEFAULT_STALE_MARKET_RETENTION_S: Final = 300.0
# A hypercorn shutdown waits this long for an in-flight scrape; a scrape is a few ms.
_GRACEFUL_TIMEOUT_S: Final = 1.0
# Order states counted per market; listed so an empty state reports 0 rather than vanishing.
_OPEN_ORDER_STATES: Final = ("pending", "live", "cancelling")

_NO_BLOCK: Final = "none"


@dataclass(slots=True)
class _MarketSeries:
    """What the exporter remembers of one market: its label values and its last cumulative counts."""

    slug: str
    last_counts: dict[str, int] = field(default_factory=dict)
    states_seen: set[str] = field(default_factory=set)
    reasons_seen: set[str] = field(default_factory=set)
    # Every (metric, label values) child created for this market, so expiry can remove exactly those.
    children: set[tuple[MetricWrapperBase, tuple[str, ...]]] = field(default_factory=set)
    gone_since_s: float | None = None
    cancel_all_runs_seen: int = 0

    def child(self, metric: MetricWrapperBase, *labels: str) -> Any:
        """`metric.labels(self.slug, *labels)`, remembered for removal."""
        values = (self.slug, *labels)
        self.children.add((metric, values))
        return metric.labels(*values)


class Metrics:
    """The bot's Prometheus metrics on their own `CollectorRegistry` (`self.registry`).

    Not thread-safe beyond what prometheus-client guarantees; call it from the Trio thread.
    """

    def __init__(
        self,
        *,
        registry: CollectorRegistry | None = None,
        stale_market_retention_s: float = DEFAULT_STALE_MARKET_RETENTION_S,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._retention_s = stale_market_retention_s
        self._markets: dict[str, _MarketSeries] = {}
        self._bot_counts: dict[str, int] = {}
        p = METRIC_PREFIX
        r = self.registry
        m = ("market",)
        self.info = Gauge(
            f"{p}_mode", "1 for the mode the bot runs in (paper or live)", ("mode",), registry=r
        )
        # --- orders -----------------------------------------------------------------------------
        self.orders = Gauge(f"{p}_orders", "Open ladder orders by state", ("market", "state"), registry=r)
        self.open_orders = Gauge(f"{p}_open_orders", "Open orders of ours across markets", registry=r)
        self.open_orders_after_cutoff = Gauge(
            f"{p}_open_orders_after_cutoff",
            "Open ladder orders of a market past its quote cutoff (must be 0)",
            m,
            registry=r,
        )
        self.orders_posted = Counter(f"{p}_orders_posted", "Orders posted", m, registry=r)
        self.orders_cancelled = Counter(f"{p}_orders_cancelled", "Orders that ended cancelled", m, registry=r)
        self.rejects = Counter(f"{p}_rejects", "Rejected orders by class", ("market", "class"), registry=r)
        self.reject_kinds = Counter(
            f"{p}_reject_kinds", "Rejected orders by class and error kind", ("class", "kind"), registry=r
        )
        self.transitions = Counter(
            f"{p}_transitions", "State-machine transitions", ("machine", "from_state", "to_state"), registry=r
        )
        self.fills = Counter(
            f"{p}_fills", "Fills counted (each once; reversed trades not subtracted)", m, registry=r
        )
        self.completions_sent = Counter(f"{p}_completions_sent", "Completion orders sent", m, registry=r)
        self.completions_filled = Counter(
            f"{p}_completions_filled", "Completion orders matched", m, registry=r
        )
        self.storms = Counter(f"{p}_storms", "Unknown-order storms", m, registry=r)
        # --- inventory and P&L ------------------------------------------------------------------
        self.inventory_shares = Gauge(
            f"{p}_inventory_shares", "Shares held per outcome", ("market", "outcome"), registry=r
        )
        self.paired_shares = Gauge(f"{p}_paired_shares", "Shares held as complete pairs", m, registry=r)
        self.pair_cost = Gauge(
            f"{p}_pair_cost", "Average cost of one Up + one Down, pUSD (NaN: none)", m, registry=r
        )
        self.pnl = Gauge(f"{p}_pnl_pusd", "Profit and loss, pUSD", ("market", "kind"), registry=r)
        # --- incentives (spec 12.2/12.3) ----------------------------------------------------------
        self.rewards_q = Gauge(
            f"{p}_rewards_q", "Our reward score now: Q_one, Q_two, Q_min (share-units)", ("market", "q"), registry=r
        )
        self.rewards_share = Gauge(f"{p}_rewards_share", "Our estimated share of a reward sample now", m, registry=r)
        self.incentives_pusd = Gauge(
            f"{p}_incentives_pusd",
            "Rewards and rebates accrued, pUSD, by source (estimated by us or reported by the venue)",
            ("market", "kind", "source"),
            registry=r,
        )
        self.rewards_not_scoring = Counter(
            f"{p}_rewards_not_scoring", "Our orders the venue said do not score though our rule said they do", m,
            registry=r,
        )
        # --- market state -----------------------------------------------------------------------
        self.market_state = Gauge(
            f"{p}_market_state", "1 for the market machine's state", ("market", "state"), registry=r
        )
        self.block_reason = Gauge(
            f"{p}_block_reason",
            "1 for the reason quoting is blocked ('none' while quoting)",
            ("market", "reason"),
            registry=r,
        )
        self.seconds_to_cutoff = Gauge(
            f"{p}_seconds_to_cutoff", "Seconds until the quote cutoff", m, registry=r
        )
        self.markets_active = Gauge(f"{p}_markets_active", "Markets being traded", registry=r)
        self.markets_finished = Gauge(f"{p}_markets_finished", "Markets finished since start", registry=r)
        # --- account health ---------------------------------------------------------------------
        self.heartbeat_age = Gauge(
            f"{p}_heartbeat_age_seconds",
            "Seconds since the last accepted heartbeat (NaN: none yet)",
            registry=r,
        )
        self.heartbeat_age.set(math.nan)  # not 0: "no heartbeat yet" must not read as "fresh"
        self.ws_connected = Gauge(
            f"{p}_ws_connected", "1 while the WebSocket channel is connected", ("channel",), registry=r
        )
        self.ws_reconnects = Counter(f"{p}_ws_reconnects", "WebSocket reconnects", registry=r)
        self.loop_lag = Histogram(
            f"{p}_event_loop_lag_seconds",
            "Scheduler overshoot of a fixed sleep",
            buckets=_LOOP_LAG_BUCKETS_S,
            registry=r,
        )
        self.tick_to_order = Histogram(
            f"{p}_tick_to_order_seconds",
            "Market-data change handled to the POST of the new quotes written (after signing)",
            buckets=_TICK_TO_ORDER_BUCKETS_S,
            registry=r,
        )
        self.cancel_all_duration = Histogram(
            f"{p}_cancel_all_duration_seconds",
            "Cancel-all duration, verification included",
            ("why",),
            buckets=_CANCEL_ALL_BUCKETS_S,
            registry=r,
        )
        self.cancel_all = Counter(
            f"{p}_cancel_all",
            "Cancel-all runs by cause and whether the venue then listed none",
            ("why", "verified"),
            registry=r,
        )

    # --- snapshots ----------------------------------------------------------------------------------
    def update(self, status: BotStatus) -> None:
        """Set every gauge from `status` and advance counters by what its cumulative counts grew."""
        self.info.clear()
        self.info.labels(status.mode).set(1)
        self.open_orders.set(status.open_orders)
        self.markets_active.set(len(status.markets))
        self.markets_finished.set(status.finished_markets)
        self.heartbeat_age.set(math.nan if status.heartbeat_age_s is None else status.heartbeat_age_s)
        self.ws_connected.labels("market").set(int(status.ws_market_connected))
        self.ws_connected.labels("user").set(int(status.ws_user_connected))
        _advance(self.ws_reconnects, self._bot_counts, "ws_reconnects", status.ws_reconnects)
        present: set[str] = set()
        for market in status.markets:
            present.add(market.slug)
            self._update_market(market)
        self._expire_markets(present, status.now_s)

    def _update_market(self, ms: MarketStatus) -> None:
        series = self._markets.get(ms.slug)
        if series is None:
            series = self._markets[ms.slug] = _MarketSeries(ms.slug)
        series.gone_since_s = None
        child = series.child
        counts = series.last_counts
        _advance(child(self.orders_posted), counts, "posted", ms.orders_posted)
        _advance(child(self.orders_cancelled), counts, "cancelled", ms.orders_cancelled)
        _advance(child(self.rejects, "expected"), counts, "rejects_expected", ms.rejects_expected)
        _advance(child(self.rejects, "unexpected"), counts, "rejects_unexpected", ms.rejects_unexpected)
        _advance(child(self.fills), counts, "fills", ms.fills)
        _advance(child(self.completions_sent), counts, "completions_sent", ms.completions_sent)
        _advance(child(self.completions_filled), counts, "completions_filled", ms.completions_filled)
        _advance(child(self.storms), counts, "storms", ms.storms)

        by_state = dict.fromkeys(_OPEN_ORDER_STATES, 0)
        for row in (*ms.up.ladder, *ms.down.ladder):
            by_state[row.state] = by_state.get(row.state, 0) + 1
        for state, count in by_state.items():
            child(self.orders, state).set(count)
        child(self.open_orders_after_cutoff).set(ms.open_orders if ms.seconds_to_cutoff <= 0 else 0)

        for token in (ms.up, ms.down):
            child(self.inventory_shares, token.outcome).set(token.inventory_shares)
        child(self.paired_shares).set(ms.paired_shares)
        child(self.pair_cost).set(math.nan if ms.pair_cost is None else ms.pair_cost)
        child(self.pnl, "marked").set(ms.marked_pnl_pusd)
        child(self.pnl, "realised").set(ms.realised_pnl_pusd)
        if ms.incentives is not None:
            self._update_incentives(series, ms.incentives)
        child(self.seconds_to_cutoff).set(ms.seconds_to_cutoff)
        _set_one_hot(series, self.market_state, series.states_seen, ms.state)
        _set_one_hot(series, self.block_reason, series.reasons_seen, ms.block_reason or _NO_BLOCK)

    def _update_incentives(self, series: _MarketSeries, inc: IncentivesStatus) -> None:
        child = series.child
        child(self.rewards_q, "one").set(inc.q_one)
        child(self.rewards_q, "two").set(inc.q_two)
        child(self.rewards_q, "min").set(inc.q_min)
        child(self.rewards_share).set(inc.share)
        child(self.incentives_pusd, "rewards", "estimated").set(inc.rewards_estimated_pusd)
        child(self.incentives_pusd, "rebates", "estimated").set(inc.rebates_estimated_pusd)
        if inc.rewards_reported_pusd is not None:
            child(self.incentives_pusd, "rewards", "venue").set(inc.rewards_reported_pusd)
        if inc.rebates_reported_pusd is not None:
            child(self.incentives_pusd, "rebates", "venue").set(inc.rebates_reported_pusd)
        child(self.pnl, "spread").set(inc.spread_pnl_pusd)
        child(self.pnl, "fees").set(-inc.fees_paid_pusd)
        _advance(child(self.rewards_not_scoring), series.last_counts, "not_scoring", inc.not_scoring_alerts)

    def _expire_markets(self, present: set[str], now_s: float) -> None:
        for slug, series in list(self._markets.items()):
            if slug in present:
                continue
            if series.gone_since_s is None:
                series.gone_since_s = now_s
            elif now_s - series.gone_since_s >= self._retention_s:
                self._remove_market(slug)

    def _remove_market(self, slug: str) -> None:
        series = self._markets.pop(slug)
        for metric, labels in series.children:
            try:
                metric.remove(*labels)
            except KeyError:  # already gone (prometheus-client raises for an unknown child)
                pass

    # --- events -------------------------------------------------------------------------------------
    def observe_transition(self, machine: str, from_state: str, to_state: str) -> None:
        """Count one state change of the `order` or `market` machine."""
        self.transitions.labels(machine, from_state, to_state).inc()

    def observe_reject(self, reject_class: str, kind: str) -> None:
        """Count one reject by class (`expected`/`unexpected`) and error kind (e.g. `post_only_cross`)."""
        self.reject_kinds.labels(reject_class, kind).inc()

    def observe_loop_lag(self, lag_s: float) -> None:
        """One event-loop lag sample (pass as `LoopLagMonitor(on_sample=...)`)."""
        self.loop_lag.observe(lag_s)

    def observe_tick_to_order(self, latency_s: float) -> None:
        """One market-data-change-to-first-request latency."""
        self.tick_to_order.observe(latency_s)

    def observe_cancel_all(self, why: str, duration_s: float, verified: bool) -> None:
        """One cancel-all run: its cause (`startup`, `cutoff`, `exit`, `storm`), duration and verdict."""
        self.cancel_all_duration.labels(why).observe(duration_s)
        self.cancel_all.labels(why, "true" if verified else "false").inc()

    def sync_cancel_all_runs(self, market: str, runs: Iterable[tuple[str, float, bool]]) -> int:
        """Observe the runs of a runner's `stats.cancel_all_runs` not seen yet (the list only grows).

        Returns how many were new. Call it with every snapshot; repeated runs are not double counted.
        """
        series = self._markets.get(market)
        if series is None:
            series = self._markets[market] = _MarketSeries(market)
        runs = list(runs)
        new = runs[series.cancel_all_runs_seen :]
        for why, duration_s, verified in new:
            self.observe_cancel_all(why, duration_s, verified)
        series.cancel_all_runs_seen = len(runs)
        return len(new)

    def __repr__(self) -> str:
        return f"<Metrics markets={len(self._markets)}>"


def _advance(counter: Any, memory: dict[str, int], key: str, value: int) -> None:
    """Increase `counter` by how much the cumulative `value` grew since last time.

    A value lower than the last one (a restarted runner under the same name) counts from zero again.
    """
    last = memory.get(key, 0)
    delta = value - last if value >= last else value
    if delta > 0:
        counter.inc(delta)
    memory[key] = value


def _set_one_hot(series: _MarketSeries, gauge: Gauge, seen: set[str], active: str) -> None:
    # Every value seen so far stays listed at 0, so a query for the old value finds 0, not nothing.
    seen.add(active)
    for value in seen:
        series.child(gauge, value).set(1 if value == active else 0)


# --- serving --------------------------------------------------------------------------------------------
_ASGIReceive = Callable[[], Awaitable[dict[str, Any]]]
_ASGISend = Callable[[dict[str, Any]], Awaitable[None]]
_ASGIApp = Callable[[dict[str, Any], _ASGIReceive, _ASGISend], Awaitable[None]]


def metrics_asgi_app(metrics: Metrics) -> _ASGIApp:
    """An ASGI app: `GET /metrics` is prometheus-client's exposition of `metrics.registry`; other paths 404.

    It answers the ASGI lifespan protocol itself (prometheus-client's app asserts on it, which would
    make hypercorn log a lifespan error at every start).
    """
    prometheus_app = make_asgi_app(metrics.registry)

    async def app(scope: dict[str, Any], receive: _ASGIReceive, send: _ASGISend) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope.get("path") != METRICS_PATH:
            await send(
                {"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]}
            )
            await send({"type": "http.response.body", "body": b"not found; metrics are at /metrics\n"})
            return
        await prometheus_app(scope, receive, send)

    return app


def _port_of(bind: str) -> int:
    # hypercorn reports binds as "http://127.0.0.1:54321" or "http://[::1]:54321".
    return int(bind.rsplit(":", 1)[1])


async def serve_metrics(
    metrics: Metrics,
    port: int,
    *,
    host: str = "127.0.0.1",
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `/metrics` on `host:port` until cancelled; start with `nursery.start`, which returns the bound port.

    Port 0 picks a free one. OSError (port in use, address not available) propagates before `started`.
    The default host is loopback: exposing metrics beyond the host is the operator's decision.
    """
    config = HypercornConfig()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.graceful_timeout = _GRACEFUL_TIMEOUT_S
    # Through `logging` (and so through the secret filter and the JSON formatter like every other line).
    config.errorlog = logging.getLogger(f"{__name__}.hypercorn")
    app = metrics_asgi_app(metrics)
    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(
            lambda task_status: hypercorn_serve(app, config, mode="asgi", task_status=task_status)
        )
        task_status.started(_port_of(binds[0]))
