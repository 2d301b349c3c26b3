"""Exit guarantee: an exception in any engine task, or a stop from outside, ends with the market's
shielded, bounded cancel-all and a venue that lists zero open orders of ours; a second stop during the
cleanup does not cut it short; a venue that stops answering cannot hold the exit past its bound, and
the heartbeat it no longer gets clears the orders.

Each crash is injected by patching one method of the runner to raise from a chosen virtual time on.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
import trio

from bot.engine.market import MarketRunner
from bot.sim.faults import HttpFault
from statemachines.market import ExitReason
from tests.scenarios.harness import QUIET_FLOW, Scenario, scenario

CRASH_AT_S = 5.0
QUIET = dict(flow=QUIET_FLOW, window_s=100, quote_cutoff_s=30.0, stale_book_s=600.0, record=True,
             reconcile_interval_s=2.0)


class InjectedCrash(RuntimeError):
    pass


def _raise_from(runner: MarketRunner, name: str) -> None:
    """Make `runner.<part>.<method>` raise (sync or async) once the virtual clock reaches CRASH_AT_S."""
    *parts, method = name.split(".")
    target: Any = runner
    for part in parts:
        target = getattr(target, part)
    original: Callable[..., Any] = getattr(target, method)
    if not inspect.iscoroutinefunction(original):

        def crashing_sync(*args: Any, **kwargs: Any) -> Any:
            if trio.current_time() >= CRASH_AT_S:
                raise InjectedCrash(f"injected into {name}")
            return original(*args, **kwargs)

        setattr(target, method, crashing_sync)
        return

    async def crashing(*args: Any, **kwargs: Any) -> Any:
        if trio.current_time() >= CRASH_AT_S:
            raise InjectedCrash(f"injected into {name}")
        return await original(*args, **kwargs)

    setattr(target, method, crashing)


async def _provoke_order_events(sc: Scenario, runner: MarketRunner) -> None:
    """At the crash time, a better bid makes the runner reprice: our cancels and posts come back as events."""
    await trio.sleep_until(CRASH_AT_S)
    sc.trader().limit(runner.info.up_token_id, "BUY", 0.50, 5)


@pytest.mark.parametrize(
    "task, method",
    [("quote loop", "tick"), ("reconcile loop", "reconciler.reconcile"), ("user consumer", "user_handler.on_order_event")],
)
async def test_a_crash_in_any_engine_task_cancels_everything_and_exits_crash(autojump_clock, task, method):
    async with scenario(**QUIET) as sc, trio.open_nursery() as nursery:
        sc.runner_hooks.append(lambda runner: _raise_from(runner, method))
        sc.start(nursery)
        runner = await sc.first_runner()
        await trio.sleep(1.0)
        assert len(sc.our_open_orders()) == 6
        if task == "user consumer":
            nursery.start_soon(_provoke_order_events, sc, runner)
        await sc.done.wait()
        assert sc.reason is ExitReason.CRASH
        assert runner.machine.exit_reason is ExitReason.CRASH
        assert runner.machine.exit_detail == f"InjectedCrash: injected into {method}"
        (stop,) = sc.journal.of("market_stop")
        crashed_at = stop["t"] - sc.unix(0)
        assert stop["reason"] == "crash" and CRASH_AT_S <= crashed_at <= CRASH_AT_S + 2.0
        why, duration_s, verified = runner.stats.cancel_all_runs[-1]
        assert why == "exit" and verified and duration_s <= sc.settings.cancel_all_timeout_s
        exit_cancel = [r for r in sc.http.of("DELETE", "/cancel-market-orders") if r.t > 0.0]
        assert exit_cancel[0].t == crashed_at
        assert sc.our_open_orders() == []


async def test_a_signal_mid_window_cancels_everything_and_exits_signal(autojump_clock):
    async with scenario(**QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        await trio.sleep(CRASH_AT_S)
        assert len(sc.our_open_orders()) == 6
        assert await sc.stop_and_wait(ExitReason.SIGNAL) is ExitReason.SIGNAL
        assert runner.machine.exit_reason is ExitReason.SIGNAL
        (stop,) = sc.journal.of("market_stop")
        assert stop["t"] == sc.unix(CRASH_AT_S) and stop["reason"] == "signal"
        assert runner.stats.cancel_all_runs[-1][0] == "exit" and runner.stats.cancel_all_runs[-1][2] is True
        assert sc.our_open_orders() == []


async def test_a_second_stop_during_the_cleanup_does_not_skip_the_cancel_all(autojump_clock):
    async with scenario(**QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        await trio.sleep(CRASH_AT_S)
        # The venue is slow to cancel: the exit's cancel-by-market takes a full second.
        sc.sim.admin.latency_s["cancel_market"] = 1.0
        sc.supervisor.stop(ExitReason.SIGNAL, "first signal")
        await trio.sleep(0.5)
        assert runner.machine.state.value == "shutting_down" and len(sc.our_open_orders()) == 6
        sc.supervisor.stop(ExitReason.SIGNAL, "second signal")
        sc.supervisor.stop(ExitReason.OPERATOR, "and an operator")
        await sc.done.wait()
        assert sc.reason is ExitReason.SIGNAL  # the first reason wins
        (cancel,) = [r for r in sc.http.of("DELETE", "/cancel-market-orders") if r.t > 0.0]
        assert (cancel.t, cancel.t_done, cancel.status) == (CRASH_AT_S, CRASH_AT_S + 1.0, 200)
        assert sorted(cancel.body) == ["market"]
        (verify,) = [r for r in sc.http.of("GET", "/data/orders") if r.t >= CRASH_AT_S]
        assert verify.t == CRASH_AT_S + 1.0
        assert runner.stats.cancel_all_runs[-1] == ("exit", 1.0, True)
        assert runner.machine.state.value == "shutdown"
        assert sc.our_open_orders() == []


async def test_a_venue_that_stops_answering_bounds_the_cleanup_and_the_heartbeat_is_stopped_on_purpose(autojump_clock):
    async with scenario(**QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        await trio.sleep(CRASH_AT_S)
        # From now on no cancel of any kind is ever answered.
        sc.sim.admin.http.append(HttpFault(kind="hang", families=["cancels"], count=1000))
        sc.supervisor.stop(ExitReason.SIGNAL, "signal")
        await sc.done.wait()
        bound_s = sc.settings.cancel_all_timeout_s
        # The cancel went out at once, and the cleanup gave up at its bound instead of hanging the exit...
        first_cancel = min(r.t for r in sc.http.of("DELETE", "/cancel-market-orders") if r.t >= CRASH_AT_S)
        assert first_cancel == CRASH_AT_S
        why, duration_s, verified = runner.stats.cancel_all_runs[-1]
        assert (why, verified) == ("exit", False) and duration_s <= bound_s + 1.0
        (stop,) = sc.journal.of("market_stop")
        assert stop["t"] <= sc.unix(CRASH_AT_S + bound_s + 1.0)
        # ...then the supervisor stopped the heartbeat on purpose: the venue's switch cancelled what was
        # left, the last check saw an empty book, and the run reports the unverified cancel-all (exit 11).
        last_beat = max(r.t for r in sc.http.of("POST", "/v1/heartbeats") if r.status == 200)
        assert last_beat <= CRASH_AT_S + bound_s + 1.0
        assert sc.our_open_orders() == []
        assert sc.supervisor.orders_left_after_sweep == 0
        assert sc.reason is ExitReason.CANCEL_UNVERIFIED
        assert trio.current_time() <= CRASH_AT_S + bound_s + 1.0 + sc.settings.heartbeat_sweep_wait_s + 5.0
