"""Periodic reconciliation (every `reconcile_interval_s`, and right after a user-WS reconnect): an order
the venue lost or a stray order of ours is repaired, or the market exits with `reconcile_action=exit`;
an order younger than `reconcile_grace_s` is not judged missing.

`QUIET_FLOW` keeps the venue still, so the only open-orders queries are the reconciler's (and the
startup/exit cancel-all verifications at t = 0 and at the stop).
"""

from __future__ import annotations

import trio

from bot.protocol.signing import Side
from bot.sim.faults import HttpFault, SimAction
from statemachines.market import ExitReason
from statemachines.order import OrderState
from tests.scenarios.harness import QUIET_FLOW, Scenario, scenario

INTERVAL_S = 10.0
QUIET = dict(flow=QUIET_FLOW, window_s=100, quote_cutoff_s=30.0, stale_book_s=600.0, record=True,
             reconcile_interval_s=INTERVAL_S)


def _reconciles(sc: Scenario) -> list[float]:
    """Times of the open-orders queries after startup (the startup verification is at t = 0)."""
    return [r.t for r in sc.http.of("GET", "/data/orders") if r.t > 0.0]


async def _lose_silently(sc: Scenario, order_id: str) -> None:
    """The venue drops one of our orders and its user event never reaches us."""
    sc.sim.admin.user_events.drop = 1
    canceled, _ = sc.exchange.cancel(sc.owner, [order_id])
    assert canceled == [order_id]


async def test_reconciliation_runs_every_interval(autojump_clock):
    async with scenario(**QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        await trio.sleep(3 * INTERVAL_S + 1.0)
        assert _reconciles(sc) == [INTERVAL_S, 2 * INTERVAL_S, 3 * INTERVAL_S]
        assert runner.stats.reconciliations == 3 and runner.stats.reconcile_repairs == 0
        await sc.stop_and_wait(ExitReason.OPERATOR)


async def test_a_user_stream_reconnect_is_followed_by_a_reconciliation(autojump_clock):
    async with scenario(**QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        await trio.sleep(3.0)
        sc.sim.controller.apply(SimAction(kind="ws_disconnect", channel="user"))
        stream = sc.supervisor.user_hub.stream
        # The stream reconnects after a jittered backoff; `wait_until` sees it within one poll (10 ms).
        seen = await sc.wait_until(lambda: stream.statistics().reconnects == 1)
        await trio.sleep(0.5)
        (after_reconnect,) = _reconciles(sc)
        assert seen - 0.01 < after_reconnect <= seen < 3.0 + sc.settings.ws_reconnect_max_s
        assert runner.stats.reconciliations == 1
        await sc.stop_and_wait(ExitReason.OPERATOR)


async def test_an_order_the_venue_lost_is_found_missing_and_its_level_rebuilt(autojump_clock):
    async with scenario(**QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        up = runner.info.up_token_id
        await trio.sleep(1.0)
        lost = runner.manager.slots[(up, 0)]
        await _lose_silently(sc, lost.order_id)
        await trio.sleep(2.0)
        assert lost.state is OrderState.LIVE  # we cannot know yet
        await sc.wait_until(lambda: runner.stats.reconcile_repairs == 1)
        assert lost.state is OrderState.CANCELLED and lost.last_reason == "missing on venue"
        (mismatch,) = sc.journal.of("reconcile_mismatch")
        # Absent and unknown to the venue at two reconciliations in a row: a venue may answer null for an
        # order it ended whose report is still on its way, so the first sighting only defers.
        assert mismatch["t"] == sc.unix(2 * INTERVAL_S) and mismatch["lost"] == [lost.order_id]
        await trio.sleep(0.5)
        rebuilt = runner.manager.slots[(up, 0)]
        assert rebuilt is not lost and rebuilt.state is OrderState.LIVE and rebuilt.price == lost.price
        assert len(sc.our_open_orders()) == 6
        await sc.stop_and_wait(ExitReason.OPERATOR)
        assert sc.our_open_orders() == []


async def test_a_stray_order_of_ours_is_cancelled_by_reconciliation(autojump_clock):
    async with scenario(**QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        up = runner.info.up_token_id
        await trio.sleep(1.0)
        async with sc.venue_client() as rest:  # another process with our key places an order
            stray = sc.signer.build_limit(token_id=up, price=0.30, size_shares=10, side=Side.BUY, tick_size="0.01")
            assert (await rest.post_order(stray.to_wire(sc.owner, "GTC"))).ok
        await trio.sleep(2.0)
        assert stray.order_id in {o["id"] for o in sc.our_open_orders()}  # one unknown event: ignored
        await sc.wait_until(lambda: runner.stats.reconcile_repairs == 1)
        (mismatch,) = sc.journal.of("reconcile_mismatch")
        assert mismatch["strays"] == [stray.order_id] and mismatch["lost"] == []
        await trio.sleep(0.1)
        assert sc.exchange.get_order(sc.owner, stray.order_id)["status"] == "CANCELED"
        assert [r.body for r in sc.http.of("DELETE", "/orders") if r.t == INTERVAL_S] == [[stray.order_id]]
        assert len(sc.our_open_orders()) == 6
        await sc.stop_and_wait(ExitReason.OPERATOR)
        assert sc.our_open_orders() == []


async def test_with_reconcile_action_exit_a_mismatch_stops_the_market(autojump_clock):
    async with scenario(reconcile_action="exit", **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        await trio.sleep(1.0)
        await _lose_silently(sc, runner.manager.slots[(runner.info.up_token_id, 0)].order_id)
        await sc.done.wait()
        assert sc.reason is ExitReason.RECONCILE_MISMATCH
        assert runner.machine.exit_reason is ExitReason.RECONCILE_MISMATCH
        (stop,) = sc.journal.of("market_stop")
        assert stop["t"] == sc.unix(2 * INTERVAL_S)  # the second reconciliation that finds it missing
        assert sc.journal.of("cancel_all", why="exit")[0]["verified"] is True
        assert sc.our_open_orders() == []


async def _reprice_into_a_hung_post(sc):
    """At t = 8.5 a trader's bid re-prices the Up ladder and its POST hangs at the venue: the runner, the Up
    token and the three orders left pending by that POST."""
    runner = await sc.first_runner()
    up = runner.info.up_token_id
    await trio.sleep(8.5)
    sc.sim.admin.http.append(HttpFault(kind="hang", families=["orders"], count=1))
    sc.trader().limit(up, "BUY", 0.50, 5)
    await trio.sleep(0.1)
    return runner, up, [runner.manager.slots[(up, level)] for level in range(3)]


async def test_orders_younger_than_the_grace_window_are_not_judged_missing(autojump_clock):
    grace_s = 5.0
    async with scenario(reconcile_grace_s=grace_s, backoff_failures=10, **QUIET) as sc, \
            trio.open_nursery() as nursery:
        sc.start(nursery)
        # A reprice whose POST never reaches the venue and never answers (the client gives up at 2 s).
        runner, up, pending = await _reprice_into_a_hung_post(sc)
        assert all(o.state is OrderState.PENDING and o.created_at_s == sc.unix(8.5) for o in pending)
        await trio.sleep(2.5)
        # The t = 10 reconciliation waited for the in-flight POST, then found them 2 s old: not judged.
        assert _reconciles(sc) == [10.5]
        assert all(o.state is OrderState.UNKNOWN for o in pending)  # the POST timed out: outcome unknown
        await sc.wait_until(lambda: pending[0].state is OrderState.FAILED)
        failed_at = sc.journal.of("transition", order_id=pending[0].order_id, dst="failed")[0]["t"] - sc.unix(0)
        # Looked up once past the grace window (no record: deferred), called lost a grace window later.
        assert 8.5 + 2 * grace_s <= failed_at <= 8.5 + 2 * grace_s + sc.settings.quote_interval_s
        assert all(o.state is OrderState.FAILED and o.last_reason == "not on venue after grace" for o in pending)
        await trio.sleep(0.5)
        assert len(sc.our_open_orders(up)) == 3  # the levels were rebuilt once their fate was known
        await sc.stop_and_wait(ExitReason.OPERATOR)
        assert sc.our_open_orders() == []


async def test_a_post_of_unknown_outcome_landing_after_the_venues_first_no_record_is_never_called_lost(autojump_clock):
    """An overloaded venue may still hold a POST that timed out when the grace window ends: its lookup says
    "no record", then the POST lands, rests and fills. Called lost at that first miss, it would rest
    uncounted by our caps; the verdict waits for a second miss a grace window later."""
    grace_s = 5.0
    async with scenario(reconcile_grace_s=grace_s, backoff_failures=10, **QUIET) as sc, \
            trio.open_nursery() as nursery:
        sc.start(nursery)
        # A reprice whose POST sits at the venue unprocessed (the client gives up at 2 s) ...
        runner, up, pending = await _reprice_into_a_hung_post(sc)
        (queued,) = [r for r in sc.http.of("POST", "/orders") if r.t >= 8.5]
        await trio.sleep(6.0)
        # ... past the grace window, the venue has no record of them: not a verdict yet.
        lookups = [r.t for r in sc.http.of("GET", "/data/order/" + pending[0].order_id)]
        assert lookups == [8.5 + grace_s]
        assert all(o.state is OrderState.UNKNOWN for o in pending)
        assert sc.journal.of("transition", dst="failed") == []
        # ... and now it lands, as the venue gets to it.
        async with sc.venue_client() as rest:
            assert all(result.ok for result in await rest.post_orders(queued.body))
        await sc.wait_until(lambda: all(o.state is OrderState.LIVE for o in pending))
        assert {o.order_id for o in pending} <= {o["id"] for o in sc.our_open_orders(up)}
        assert runner.reconciler.declared_lost == set() and runner.stats.reconcile_repairs == 0
        # They count as ours (their level, the caps) and are never posted again.
        assert all(runner.manager.slots[(up, level)] is o for level, o in enumerate(pending))
        assert len(sc.our_open_orders(up)) == 3
        await trio.sleep(10.0)
        assert sc.journal.of("transition", dst="failed") == []
        await sc.stop_and_wait(ExitReason.OPERATOR)
        assert sc.our_open_orders() == []
