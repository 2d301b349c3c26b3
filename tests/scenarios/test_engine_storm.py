"""Unknown-order storm guard: a burst of order events for ids we never placed, at or over the threshold
inside the window, cancels all the market's orders and shuts it down (or rebuilds it); fewer are ignored.

The storm is the simulator's fault action: `storm_threshold` (or one fewer) `order` events for random
ids on our key and our market, delivered at once at t = 1.
"""

from __future__ import annotations

import trio

from bot.sim.faults import SimAction
from statemachines.market import ExitReason
from tests.scenarios.harness import QUIET_FLOW, Scenario, scenario

THRESHOLD = 20
QUIET = dict(flow=QUIET_FLOW, window_s=100, quote_cutoff_s=30.0, stale_book_s=600.0, record=True,
             storm_threshold=THRESHOLD, storm_window_s=10.0)


async def _storm(sc: Scenario, count: int) -> None:
    runner = await sc.first_runner()
    result = sc.sim.controller.apply(SimAction(kind="storm", count=count, api_key=sc.owner,
                                               market=runner.info.condition_id))
    assert result["delivered"] == count


async def test_unknown_order_events_below_the_threshold_are_ignored(autojump_clock):
    async with scenario(**QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        await trio.sleep(1.0)
        before = {o["id"] for o in sc.our_open_orders()}
        await _storm(sc, THRESHOLD - 1)
        await trio.sleep(2.0)
        assert runner.stats.storms == 0 and sc.journal.of("storm") == []
        assert runner.machine.state.value == "quoting"
        assert {o["id"] for o in sc.our_open_orders()} == before
        assert sc.journal.of("cancel_all", why="storm") == []
        await sc.stop_and_wait()
        assert sc.our_open_orders() == []


async def test_a_storm_at_the_threshold_cancels_everything_and_shuts_the_market_down(autojump_clock):
    async with scenario(**QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        await trio.sleep(1.0)
        assert len(sc.our_open_orders()) == 6
        await _storm(sc, THRESHOLD)
        await sc.done.wait()
        assert sc.reason is ExitReason.STORM
        assert runner.machine.exit_reason is ExitReason.STORM and runner.machine.state.value == "shutdown"
        assert sc.our_open_orders() == []
        (storm,) = sc.journal.of("storm")
        assert storm["t"] == sc.unix(1.0) and storm["unknown_total"] == THRESHOLD
        (stop,) = sc.journal.of("market_stop")
        assert stop["reason"] == "storm" and stop["t"] == sc.unix(1.0)
        (exit_cancel,) = sc.journal.of("cancel_all", why="exit")
        assert exit_cancel["verified"] is True and exit_cancel["t"] == sc.unix(1.0)


async def test_a_storm_with_rebuild_cancels_everything_then_quotes_again(autojump_clock):
    async with scenario(storm_action="rebuild", **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        await trio.sleep(1.0)
        before = {o["id"] for o in sc.our_open_orders()}
        await _storm(sc, THRESHOLD)
        await trio.sleep(2.0)
        assert runner.stats.storms == 1
        (cancel,) = sc.journal.of("cancel_all", why="storm")
        assert cancel["verified"] is True and cancel["t"] == sc.unix(1.0)
        states = [(r["src"], r["dst"], r["reason"]) for r in sc.journal.of("market_transition")]
        assert states[-2:] == [("quoting", "reconciling", "storm rebuild"), ("reconciling", "quoting", "storm rebuild done")]
        after = {o["id"] for o in sc.our_open_orders()}
        assert len(after) == 6 and not after & before
        assert runner.machine.state.value == "quoting" and not sc.done.is_set()
        await sc.stop_and_wait()
        assert sc.our_open_orders() == []
