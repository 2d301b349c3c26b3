"""User stream through the real runner and venue: order events move our orders (venue-side cancels
included), fills count once at MATCHED and are reversed when the trade FAILS, maker fills are found in
`maker_orders` even on the complementary token, and duplicated or reordered events change nothing.

`QUIET_FLOW`: the book is still (Up bids 0.48 maker / 0.47 ours; Down the same) and nobody trades
but the test's own traders.
"""

from __future__ import annotations

import math

import trio

from bot.sim.faults import HttpFault
from bot.sim.model import SimConfig
from statemachines.market import ExitReason
from statemachines.order import OrderState
from tests.scenarios.harness import QUIET_FLOW, Scenario, scenario

QUIET = dict(flow=QUIET_FLOW, window_s=100, quote_cutoff_s=30.0, stale_book_s=600.0, record=True,
             completion_min_imbalance_shares=1000.0)


async def _stop(sc: Scenario) -> None:
    await sc.stop_and_wait(ExitReason.OPERATOR)
    assert sc.our_open_orders() == []


async def test_update_events_grow_the_matched_size_of_a_live_order(autojump_clock):
    async with scenario(top_offset_ticks=0, resize_pct=1000.0, **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        up = runner.info.up_token_id
        await trio.sleep(1.0)
        # Put our level 0 first in the queue at the top: a bid we join, another bid behind ours in time,
        # then the first one leaves (the ladder pegs to somebody else's bid, never to its own).
        buyer, behind, seller = sc.trader("buyer"), sc.trader("behind"), sc.trader("seller")
        buyer.limit(up, "BUY", 0.50, 5)
        await trio.sleep(1.0)
        behind.limit(up, "BUY", 0.50, 5)
        buyer.cancel_all()
        await trio.sleep(1.0)
        top = runner.manager.slots[(up, 0)]
        assert top.price == 0.50 and top.state is OrderState.LIVE and top.matched_shares == 0.0
        seller.give_shares(up, 100)
        seller.market(up, "SELL", amount=4, price=0.50)
        await trio.sleep(0.5)
        assert top.state is OrderState.LIVE and top.matched_shares == 4.0
        assert top.last_reason.startswith("ws UPDATE")
        seller.market(up, "SELL", amount=6, price=0.50)
        await trio.sleep(0.5)
        assert top.state is OrderState.FILLED and top.matched_shares == 10.0
        assert [(r["src"], r["dst"], r["matched"]) for r in sc.journal.of("transition", order_id=top.order_id)] == [
            ("pending", "live", 0.0), ("live", "filled", 10.0)]
        assert runner.inventory.up.shares == 10.0 and runner.inventory.fills_counted == 2
        await _stop(sc)


async def test_a_heartbeat_lapse_cancels_on_the_venue_and_the_orders_follow(autojump_clock):
    async with scenario(heartbeat_max_failures=100, **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        await trio.sleep(1.0)
        ours = [o.order_id for o in runner.manager.slots.values()]
        # After the first beat (t = 0) every beat fails: the venue's switch fires on its t = 10 sweep.
        sc.sim.admin.http.append(HttpFault(kind="status", families=["heartbeat"], count=1000, status=500))
        await trio.sleep(10.0)
        for oid in ours:
            order = runner.manager.by_id[oid]
            assert order.state is OrderState.CANCELLED and order.last_reason.startswith("ws CANCELLATION")
            (line,) = sc.journal.of("transition", order_id=oid, dst="cancelled")
            assert line["trigger"] == "venue_cancelled" and line["t"] == sc.unix(10.0)
        assert sc.exchange.statistics()["counts"]["heartbeat_expiries"] == 1
        # The levels are free again: the ladder is rebuilt with new orders in the same instant.
        assert len(sc.our_open_orders()) == 6 and not {o["id"] for o in sc.our_open_orders()} & set(ours)
        await _stop(sc)


async def test_a_gtd_expiry_on_the_venue_cancels_the_orders(autojump_clock):
    # The venue expires a GTD `gtd_security_s` before its expiration; with 65 s instead of 60 it does
    # so 5 s before our cutoff (t = 70), so the expiry is the venue's doing, not our cutoff.
    async with scenario(sim_config=SimConfig(gtd_security_s=65.0), **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        await sc.wait_until(lambda: trio.current_time() >= 64.0)
        ours = [o.order_id for o in runner.manager.slots.values()]
        assert len(ours) == 6
        await trio.sleep(1.5)
        for oid in ours:
            order = runner.manager.by_id[oid]
            # Whichever report arrives first ends it: the WS CANCELLATION, or the venue's "already
            # canceled" answer to a cancel the engine sent meanwhile. Either way, the venue's doing.
            assert order.state is OrderState.CANCELLED
            assert order.last_reason.startswith("ws CANCELLATION") or order.last_reason == "already canceled or matched"
            (line,) = sc.journal.of("transition", order_id=oid, dst="cancelled")
            # A re-price may have asked to cancel it in the same instant (another level had expired): the
            # venue's report then confirms that cancel, but it is still the report that ended it.
            assert line["t"] == sc.unix(65.0)
            assert line["trigger"] == "venue_cancelled" or (
                line["trigger"] == "cancel_confirmed" and line["reason"].startswith("ws CANCELLATION"))
        assert any(runner.manager.by_id[oid].last_reason.startswith("ws CANCELLATION") for oid in ours)
        assert sc.exchange.statistics()["counts"]["gtd_expired"] == 6
        await _stop(sc)


async def test_a_fill_counts_once_at_matched_and_is_reversed_when_its_trade_fails(autojump_clock):
    async with scenario(**QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        up, down = runner.info.up_token_id, runner.info.down_token_id
        await trio.sleep(1.0)
        ours = runner.manager.slots[(up, 0)]
        sc.exchange.fail_next_trades(1)
        # A taker buys Down up to 0.53: it mints against Up bids >= 0.47, ours among them.
        sc.trader().market(down, "BUY", amount=100.0, price=0.53)
        await sc.wait_until(lambda: runner.inventory.fills_counted == 1)
        # Exactly $4.70 (in floats 10 * 0.47 is 4.699999999999999): money is counted in micro-units.
        assert runner.inventory.up.shares_micro == 10_000_000 and runner.inventory.up.cost_micro == 4_700_000
        await sc.wait_until(lambda: runner.inventory.fills_reversed == 1, timeout_s=30.0)
        assert runner.inventory.up.shares == 0.0 and runner.inventory.down.shares == 0.0
        assert runner.inventory.fills_counted == 1  # MINED/RETRYING/FAILED sightings never add a fill
        fills = sc.journal.of("fill")
        # One line when counted, one when reversed; the maker leg sits on Up though the taker bought Down.
        assert [(f["status"], f["order_id"], f["token_id"], f["side"], f["price"], f["taker"]) for f in fills] == [
            ("MATCHED", ours.order_id, up, "BUY", 0.47, False),
            ("FAILED", ours.order_id, up, "BUY", 0.47, False),
        ]
        assert fills[0]["t"] == sc.unix(1.0) < fills[1]["t"]
        await _stop(sc)


async def test_duplicated_and_reordered_user_events_never_count_twice(autojump_clock):
    async with scenario(**QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        up, down = runner.info.up_token_id, runner.info.down_token_id
        await trio.sleep(1.0)
        plan = sc.sim.admin
        plan.user_events.duplicate = 12
        plan.user_events.reorder = 12
        taker = sc.trader()
        taker.market(down, "BUY", amount=100.0, price=0.53)  # fills our Up level 0 at 0.47
        await trio.sleep(1.0)
        taker.market(up, "BUY", amount=100.0, price=0.53)  # fills our Down level 0 at 0.47
        await trio.sleep(10.0)  # every trade MINED and CONFIRMED
        stats = sc.sim.fronts.hub.statistics()
        assert stats["user_events_duplicate"] == 12 and stats["user_events_reorder"] == 12
        assert runner.inventory.fills_counted == 2 and runner.inventory.fills_reversed == 0
        assert runner.inventory.up.shares == 10.0 and runner.inventory.down.shares == 10.0
        assert math.isclose(runner.inventory.pair_cost, 0.94)
        assert len(sc.journal.of("fill")) == 2
        filled = [o for o in runner.manager.by_id.values() if o.state is OrderState.FILLED]
        assert sorted(o.token_id for o in filled) == sorted([up, down])
        await _stop(sc)


async def test_a_fill_whose_order_update_comes_before_its_trade_counts_as_held_for_the_caps(autojump_clock):
    # The venue does not say in which order a fill's two reports arrive. With the trade held back, the
    # order update alone says our 10-share Up level filled: the shares are bought, and the unpaired cap
    # (30: exactly the 3 levels) must count them before the inventory does, or the level is re-posted
    # and 40 Up shares could end unpaired.
    async with scenario(max_unpaired_shares=30.0, **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        up, down = runner.info.up_token_id, runner.info.down_token_id
        await trio.sleep(1.0)
        held_back: list = []
        apply_trade = runner.user_handler.on_trade_event
        runner.user_handler.on_trade_event = held_back.append  # type: ignore[method-assign]
        ours = runner.manager.slots[(up, 0)]
        sc.trader().market(down, "BUY", amount=100.0, price=0.53)  # mints against Up bids >= 0.47, ours too
        await sc.wait_until(lambda: ours.state is OrderState.FILLED)
        assert held_back and runner.inventory.up.shares_micro == 0
        await trio.sleep(3.0)  # ticks and re-prices with only the order update known

        def up_open_shares() -> float:
            return sum(float(o["original_size"]) - float(o["size_matched"]) for o in sc.our_open_orders()
                       if o["asset_id"] == up)

        assert 10.0 + up_open_shares() <= 30.0
        assert [(o.token_id, extra) for o, extra in runner.manager.matched_ahead(runner.inventory.held_on)] == [
            (up, 10_000_000)]
        for event in held_back:
            apply_trade(event)
        assert runner.inventory.up.shares_micro == 10_000_000
        assert runner.manager.matched_ahead(runner.inventory.held_on) == []
        await trio.sleep(3.0)
        assert 10.0 + up_open_shares() <= 30.0
        await _stop(sc)
