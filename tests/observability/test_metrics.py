"""Prometheus metrics follow the status snapshots, count each event once, and are served at /metrics.

Also the event-loop lag probe (its samples feed the loop-lag histogram).
"""

from __future__ import annotations

import dataclasses

import httpx
import pytest
import trio

from bot.observability.loop_lag import LoopLagMonitor
from bot.observability.metrics import Metrics, metrics_asgi_app, serve_metrics
from bot.observability.snapshot import BotStatus, LadderRow, MarketStatus, TokenStatus

SLUG = "btc-updown-15m-1767225600"
# What a leak would look like: the settings' secret field names and a key-shaped value.
SECRET_MARKERS = ("private_key", "api_secret", "passphrase", "0x" + "5a" * 32)


def _token(outcome: str, rows: tuple[LadderRow, ...], shares: float) -> TokenStatus:
    return TokenStatus("tok-" + outcome, outcome, 0.48, 0.5, shares, 0.47 if shares else None, rows)


def _market(**changes: object) -> MarketStatus:
    base = MarketStatus(
        slug=SLUG,
        condition_id="0x" + "ab" * 32,
        state="quoting",
        block_reason=None,
        seconds_to_cutoff=120.0,
        seconds_to_end=180.0,
        up=_token("Up", (LadderRow(0, 0.47, 10, "live", 0), LadderRow(1, 0.46, 10, "live", 0)), 10.0),
        down=_token("Down", (LadderRow(0, 0.44, 10, "pending", 0),), 0.0),
        pair_cost=None,
        paired_shares=0.0,
        marked_pnl_pusd=-0.1,
        realised_pnl_pusd=0.0,
        orders_posted=5,
        orders_cancelled=2,
        rejects_expected=1,
        rejects_unexpected=0,
        fills=1,
        completions_sent=0,
        completions_filled=0,
        storms=0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _status(*markets: MarketStatus, now_s: float = 1000.0, **changes: object) -> BotStatus:
    base = BotStatus(
        now_s=now_s,
        mode="paper",
        markets=markets,
        heartbeat_age_s=1.5,
        ws_market_connected=True,
        ws_user_connected=False,
        ws_reconnects=2,
        loop_lag_ms=0.3,
        open_orders=3,
        finished_markets=1,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_gauges_follow_the_snapshot() -> None:
    metrics = Metrics()
    metrics.update(_status(_market(block_reason="stale_book")))
    assert _value(metrics, "pmm_orders", market=SLUG, state="live") == 2
    assert _value(metrics, "pmm_orders", market=SLUG, state="pending") == 1
    assert _value(metrics, "pmm_orders", market=SLUG, state="cancelling") == 0
    assert _value(metrics, "pmm_inventory_shares", market=SLUG, outcome="Up") == 10
    assert _value(metrics, "pmm_pnl_pusd", market=SLUG, kind="marked") == pytest.approx(-0.1)
    assert _value(metrics, "pmm_block_reason", market=SLUG, reason="stale_book") == 1
    assert _value(metrics, "pmm_market_state", market=SLUG, state="quoting") == 1
    assert _value(metrics, "pmm_heartbeat_age_seconds") == 1.5
    assert _value(metrics, "pmm_ws_connected", channel="market") == 1
    assert _value(metrics, "pmm_ws_connected", channel="user") == 0
    assert _value(metrics, "pmm_open_orders") == 3
    assert _value(metrics, "pmm_open_orders_after_cutoff", market=SLUG) == 0
    assert _value(metrics, "pmm_mode", mode="paper") == 1


def test_a_changed_block_reason_or_state_leaves_the_old_one_at_zero() -> None:
    metrics = Metrics()
    metrics.update(_status(_market(block_reason="stale_book")))
    metrics.update(_status(_market(block_reason=None, state="completing")))
    assert _value(metrics, "pmm_block_reason", market=SLUG, reason="stale_book") == 0
    assert _value(metrics, "pmm_block_reason", market=SLUG, reason="none") == 1
    assert _value(metrics, "pmm_market_state", market=SLUG, state="quoting") == 0
    assert _value(metrics, "pmm_market_state", market=SLUG, state="completing") == 1


def test_orders_open_after_the_cutoff_are_exposed_for_the_alert() -> None:
    metrics = Metrics()
    metrics.update(_status(_market(seconds_to_cutoff=-2.0)))
    assert _value(metrics, "pmm_open_orders_after_cutoff", market=SLUG) == 3


def test_cumulative_counts_become_counters_that_never_count_twice() -> None:
    metrics = Metrics()
    metrics.update(_status(_market(orders_posted=5, rejects_unexpected=1)))
    metrics.update(_status(_market(orders_posted=8, rejects_unexpected=1), ws_reconnects=4))
    metrics.update(_status(_market(orders_posted=8, rejects_unexpected=1), ws_reconnects=4))
    assert _value(metrics, "pmm_orders_posted_total", market=SLUG) == 8
    assert _value(metrics, "pmm_rejects_total", market=SLUG, **{"class": "unexpected"}) == 1
    assert _value(metrics, "pmm_rejects_total", market=SLUG, **{"class": "expected"}) == 1
    assert _value(metrics, "pmm_ws_reconnects_total") == 4
    # A runner restarted under the same slug counts from zero again: its new posts are added.
    metrics.update(_status(_market(orders_posted=2)))
    assert _value(metrics, "pmm_orders_posted_total", market=SLUG) == 10


def test_a_finished_market_is_dropped_after_the_retention() -> None:
    metrics = Metrics(stale_market_retention_s=300.0)
    metrics.update(_status(_market(), now_s=1000.0))
    metrics.update(_status(now_s=1001.0))  # the market ended
    metrics.update(_status(now_s=1300.0))
    assert _value(metrics, "pmm_orders_posted_total", market=SLUG) == 5  # still scraped for a while
    metrics.update(_status(now_s=1301.0))
    for name, labels in (
        ("pmm_orders_posted_total", {}),
        ("pmm_orders", {"state": "live"}),
        ("pmm_block_reason", {"reason": "none"}),
        ("pmm_inventory_shares", {"outcome": "Up"}),
    ):
        assert _value(metrics, name, market=SLUG, **labels) is None, name


def test_cancel_all_runs_are_observed_once_each() -> None:
    metrics = Metrics()
    runs = [("startup", 0.02, True)]
    assert metrics.sync_cancel_all_runs(SLUG, runs) == 1
    runs.append(("cutoff", 0.04, True))
    runs.append(("exit", 10.0, False))
    assert metrics.sync_cancel_all_runs(SLUG, runs) == 2
    assert metrics.sync_cancel_all_runs(SLUG, runs) == 0
    assert _value(metrics, "pmm_cancel_all_total", why="exit", verified="false") == 1
    assert _value(metrics, "pmm_cancel_all_total", why="cutoff", verified="true") == 1
    assert _value(metrics, "pmm_cancel_all_duration_seconds_count", why="startup") == 1


def test_event_observations() -> None:
    metrics = Metrics()
    metrics.observe_transition("order", "pending", "live")
    metrics.observe_transition("order", "pending", "live")
    metrics.observe_reject("unexpected", "not_enough_balance")
    metrics.observe_tick_to_order(0.003)
    metrics.observe_loop_lag(0.02)
    assert (
        _value(metrics, "pmm_transitions_total", machine="order", from_state="pending", to_state="live") == 2
    )
    assert (
        _value(metrics, "pmm_reject_kinds_total", **{"class": "unexpected", "kind": "not_enough_balance"})
        == 1
    )
    assert _value(metrics, "pmm_tick_to_order_seconds_bucket", le="0.005") == 1
    assert _value(metrics, "pmm_event_loop_lag_seconds_bucket", le="0.01") == 0
    assert _value(metrics, "pmm_event_loop_lag_seconds_bucket", le="0.02") == 1


def test_two_exporters_do_not_share_a_registry() -> None:
    first, second = Metrics(), Metrics()
    first.update(_status(_market()))
    assert _value(second, "pmm_orders", market=SLUG, state="live") is None


async def test_the_asgi_app_serves_the_page_at_metrics_only() -> None:
    metrics = Metrics()
    metrics.update(_status(_market(block_reason="stale_book")))
    transport = httpx.ASGITransport(app=metrics_asgi_app(metrics))
    async with httpx.AsyncClient(transport=transport, base_url="http://bot") as client:
        page = await client.get("/metrics")
        missing = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    for line in (
        f'pmm_orders{{market="{SLUG}",state="live"}} 2.0',
        f'pmm_block_reason{{market="{SLUG}",reason="stale_book"}} 1.0',
        f'pmm_orders_posted_total{{market="{SLUG}"}} 5.0',
        "pmm_heartbeat_age_seconds 1.5",
        "# TYPE pmm_event_loop_lag_seconds histogram",
        "# TYPE pmm_tick_to_order_seconds histogram",
        "# TYPE pmm_cancel_all_duration_seconds histogram",
    ):
        assert line in page.text, line
    assert not any(marker in page.text.lower() for marker in SECRET_MARKERS)
    assert missing.status_code == 404


async def test_serve_metrics_binds_an_ephemeral_loopback_port_and_serves_the_page() -> None:
    metrics = Metrics()
    metrics.update(_status(_market()))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_metrics, metrics, 0)
            assert port > 0
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                page = await client.get("/metrics")
            nursery.cancel_scope.cancel()
    assert page.status_code == 200
    assert f'pmm_inventory_shares{{market="{SLUG}",outcome="Up"}} 10.0' in page.text
    assert not any(marker in page.text.lower() for marker in SECRET_MARKERS)


# --- event-loop lag -------------------------------------------------------------------------------------
class _ScriptedClock:
    """Returns the given readings in order: the time before and after each sleep."""

    def __init__(self, readings: list[float]) -> None:
        self._readings = list(readings)

    def __call__(self) -> float:
        return self._readings.pop(0)


async def test_loop_lag_is_the_overshoot_of_each_sleep(autojump_clock: object) -> None:
    # Sleeps of 0.1 s measured as 0.1, 0.1125 and 0.101 s: lags 0, 12.5 ms and 1 ms.
    clock = _ScriptedClock([0.0, 0.1, 0.1, 0.2125, 0.2125, 0.3135, 0.3135])  # the last: a 4th sleep begins
    metrics = Metrics()
    monitor = LoopLagMonitor(0.1, clock=clock, on_sample=metrics.observe_loop_lag)
    async with trio.open_nursery() as nursery:
        await nursery.start(monitor.run)
        await trio.sleep(0.35)
        nursery.cancel_scope.cancel()
    assert trio.current_time() == pytest.approx(0.35)
    stats = monitor.statistics()
    assert stats.samples == 3
    assert stats.last_ms == pytest.approx(1.0)
    assert stats.p50_ms == pytest.approx(1.0)
    assert stats.p99_ms == pytest.approx(12.5)
    assert stats.max_ms == pytest.approx(12.5)
    assert _value(metrics, "pmm_event_loop_lag_seconds_count") == 3
    assert _value(metrics, "pmm_event_loop_lag_seconds_bucket", le="0.01") == 2


def test_loop_lag_keeps_a_bounded_window_and_clamps_early_wakeups() -> None:
    monitor = LoopLagMonitor(0.1, max_samples=3)
    assert monitor.statistics().samples == 0 and monitor.statistics().p99_ms is None
    for lag_s in (0.050, -0.001, 0.002, 0.004, 0.001):
        monitor.record(lag_s)
    stats = monitor.statistics()
    assert monitor.total_samples == 5
    assert stats.samples == 3  # the 50 ms sample and the clamped one fell out
    assert stats.max_ms == pytest.approx(4.0)
    assert stats.p50_ms == pytest.approx(2.0)
    monitor.record(-0.5)
    assert monitor.statistics().last_ms == 0.0


def test_loop_lag_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="period_s"):
        LoopLagMonitor(0.0)
