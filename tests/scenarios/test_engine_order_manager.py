"""Order manager through the real runner and venue: the `(token, level)` cache, reprice and resize
thresholds, batching of posts and cancels, and the id recorded before the POST leaves (a WS event that
beats the answer, a POST that timed out but landed).

`QUIET_FLOW` keeps the book still, so every change below is the test's own doing: Up's best bid is
0.48 (a maker), our ladder rests at 0.47 / 0.46 / 0.45 on each token.
"""

from __future__ import annotations

import trio

from bot.engine.market import MarketRunner
from bot.sim.faults import HttpFault
from statemachines.market import ExitReason
from statemachines.order import OrderState
from tests.scenarios.harness import QUIET_FLOW, HttpRecord, Scenario, scenario

QUIET = dict(flow=QUIET_FLOW, window_s=100, quote_cutoff_s=30.0, record=True)


def _prices(record: HttpRecord) -> list[float]:
    """Limit prices of the BUY orders in a POST /orders body (makerAmount pUSD / takerAmount shares)."""
    return [round(int(o["order"]["makerAmount"]) / int(o["order"]["takerAmount"]), 4) for o in record.body]


def _ids_on(runner: MarketRunner, token_id: str) -> list[str]:
    return [runner.manager.slots[(token_id, level)].order_id for level in range(runner.settings.ladder_levels)]


async def _stop(sc: Scenario) -> None:
    await sc.stop_and_wait(ExitReason.OPERATOR)
    assert sc.our_open_orders() == []


async def test_cache_maps_each_token_and_level_to_the_order_resting_there(autojump_clock):
    async with scenario(**QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        await trio.sleep(1.0)
        tokens = runner.info.token_ids
        assert set(runner.manager.slots) == {(t, level) for t in tokens for level in range(3)}
        venue = {o["id"]: o for o in sc.our_open_orders()}
        assert set(venue) == {o.order_id for o in runner.manager.slots.values()}
        for (token, level), order in runner.manager.slots.items():
            assert order.level == level and order.token_id == token and order.state is OrderState.LIVE
            assert venue[order.order_id]["asset_id"] == token
            assert float(venue[order.order_id]["price"]) == order.price == [0.47, 0.46, 0.45][level]
            assert runner.manager.by_id[order.order_id] is order
        await _stop(sc)


async def test_a_level_is_repriced_only_when_its_price_moved_more_than_reprice_ticks(autojump_clock):
    async with scenario(reprice_ticks=1, **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        up = runner.info.up_token_id
        await trio.sleep(1.0)
        before = _ids_on(runner, up)
        trader = sc.trader()
        # A better bid one tick up: the desired top moves 0.47 -> 0.48, one tick: nothing is replaced.
        trader.limit(up, "BUY", 0.49, 5)
        await trio.sleep(1.0)
        assert _ids_on(runner, up) == before
        assert [r for r in sc.http.records if r.t >= 1.0 and r.path in ("/orders", "/order")] == []
        # Two ticks (0.47 -> 0.49): every Up level is cancelled, then reposted two ticks higher.
        trader.limit(up, "BUY", 0.50, 5)
        await trio.sleep(0.5)
        cancels = [r for r in sc.http.of("DELETE", "/orders") if r.t >= 2.0]
        posts = [r for r in sc.http.of("POST", "/orders") if r.t >= 2.0]
        assert len(cancels) == 1 and sorted(cancels[0].body) == sorted(before)
        assert len(posts) == 1 and _prices(posts[0]) == [0.49, 0.48, 0.47]
        assert cancels[0].t == posts[0].t == 2.0
        assert sc.http.records.index(cancels[0]) < sc.http.records.index(posts[0])  # never two per level
        assert sorted(float(o["price"]) for o in sc.our_open_orders(up)) == [0.47, 0.48, 0.49]
        await _stop(sc)


async def test_a_partly_filled_level_is_resized_only_beyond_resize_pct(autojump_clock):
    # top_offset_ticks=0: level 0 joins the best bid; once the trader's bid there leaves, ours is alone
    # at the top, so a seller's shares reach it first and the fills are exact.
    # A second buyer keeps a bid at 0.50 behind ours in time: the seller's shares reach the first
    # buyer, then us, and the level stays the best bid throughout.
    async with scenario(top_offset_ticks=0, resize_pct=25.0, completion_min_imbalance_shares=1000.0,
                        **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        up = runner.info.up_token_id
        await trio.sleep(1.0)
        buyer, behind, seller = sc.trader("buyer"), sc.trader("behind"), sc.trader("seller")
        buyer.limit(up, "BUY", 0.50, 5)
        await trio.sleep(1.0)
        behind.limit(up, "BUY", 0.50, 5)

        def joined() -> bool:
            order = runner.manager.slots.get((up, 0))
            return order is not None and order.price == 0.50 and order.state is OrderState.LIVE

        await sc.wait_until(joined, timeout_s=30.0)
        top = runner.manager.slots[(up, 0)]
        assert top.price == 0.50 and top.state is OrderState.LIVE
        seller.give_shares(up, 100)
        seller.market(up, "SELL", amount=7, price=0.50)  # the buyer's 5, then 2 of ours: 20 % drift, kept
        await trio.sleep(1.0)
        assert runner.manager.slots[(up, 0)] is top
        assert top.matched_shares == 2.0 and top.state is OrderState.LIVE
        seller.market(up, "SELL", amount=1, price=0.50)  # 7 of 10 left: 30 % drift, replaced
        t_fill = trio.current_time()
        await trio.sleep(2.0)
        assert top.state is OrderState.CANCELLED and top.matched_shares == 3.0
        cancel = [r for r in sc.http.of("DELETE", "/orders") if r.t >= t_fill]
        post = [r for r in sc.http.of("POST", "/order") + sc.http.of("POST", "/orders") if r.t >= t_fill]
        assert cancel[0].body == [top.order_id] and cancel[0].t == t_fill
        replacement = runner.manager.slots[(up, 0)]
        assert replacement.price == 0.50 and replacement.size_shares == 10.0 and post[0].t == t_fill
        await _stop(sc)


async def test_posts_go_out_in_batches_of_max_post_batch(autojump_clock):
    async with scenario(ladder_levels=10, max_post_batch=15, **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        await trio.sleep(1.0)
        posts = sc.http.of("POST", "/orders")
        assert [len(p.body) for p in posts] == [15, 5]
        assert posts[0].t == posts[1].t == 0.0
        assert len({o["order"]["signature"] for p in posts for o in p.body}) == 20
        for token in runner.info.token_ids:
            assert len(sc.our_open_orders(token)) == 10
        await _stop(sc)


async def test_cancels_go_out_in_batches_of_max_cancel_batch(autojump_clock):
    async with scenario(ladder_levels=10, max_cancel_batch=4, **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        up = runner.info.up_token_id
        await trio.sleep(1.0)
        before = _ids_on(runner, up)
        sc.trader().limit(up, "BUY", 0.50, 5)  # every Up level moves two ticks: ten cancels
        await trio.sleep(0.5)
        cancels = [r for r in sc.http.of("DELETE", "/orders") if r.t >= 1.0]
        assert [len(c.body) for c in cancels] == [4, 4, 2]
        assert sorted(i for c in cancels for i in c.body) == sorted(before)
        assert {c.t for c in cancels} == {1.0}
        await _stop(sc)


async def test_a_ws_placement_that_beats_the_post_answer_maps_to_its_level(autojump_clock):
    async with scenario(backoff_failures=10, **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        up = runner.info.up_token_id
        await trio.sleep(1.0)
        # The next POST lands, but its answer never comes back (the client gives up after 2 s).
        sc.sim.admin.http.append(HttpFault(kind="hang", families=["orders"], count=1, landed=True))
        sc.trader().limit(up, "BUY", 0.50, 5)
        await trio.sleep(0.5)
        posts = [r for r in sc.http.of("POST", "/orders") if r.t >= 1.0]
        assert len(posts) == 1 and posts[0].status is None  # still hanging
        new_ids = _ids_on(runner, up)
        for level, oid in enumerate(new_ids):
            order = runner.manager.by_id[oid]
            assert order.state is OrderState.LIVE and order.level == level
            assert order.last_reason.startswith("ws PLACEMENT")
        live_at = [r["t"] for r in sc.journal.of("transition", dst="live") if r["order_id"] in new_ids]
        assert live_at == [sc.unix(1.0)] * 3
        await trio.sleep(6.5)  # past the answer's deadline (t = 3) and the grace window after it
        assert [(r["t"], r["outcome"]) for r in sc.journal.of("post_error")] == [(sc.unix(3.0), "unknown")]
        # The late "unknown" changes nothing: same orders, live, and nothing left to settle.
        assert _ids_on(runner, up) == new_ids
        assert all(runner.manager.by_id[oid].state is OrderState.LIVE for oid in new_ids)
        assert runner.manager.unknown_outcome == set()
        assert len([r for r in sc.http.of("POST", "/orders") if r.t >= 1.0]) == 1
        # A settled order needs no reconciliation: no open-orders query after the answer was lost.
        assert [r for r in sc.http.of("GET", "/data/orders") if r.t > 1.0] == []
        await _stop(sc)


async def test_a_post_that_timed_out_but_landed_stays_unknown_until_reconciliation_finds_it(autojump_clock):
    grace_s = 5.0
    async with scenario(backoff_failures=10, reconcile_grace_s=grace_s, **QUIET) as sc, \
            trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        up = runner.info.up_token_id
        await trio.sleep(1.0)
        sc.trader().limit(up, "BUY", 0.50, 5)
        # Our three cancels' and three placements' user events are lost, and the POST's answer too.
        sc.sim.admin.user_events.drop = 6
        sc.sim.admin.http.append(HttpFault(kind="hang", families=["orders"], count=1, landed=True))
        await trio.sleep(0.5)
        new_ids = _ids_on(runner, up)
        assert len(sc.our_open_orders(up)) == 3 and {o["id"] for o in sc.our_open_orders(up)} == set(new_ids)
        await trio.sleep(3.0)  # the POST timed out at t = 3
        for oid in new_ids:
            assert runner.manager.by_id[oid].state is OrderState.UNKNOWN
        assert runner.manager.unknown_outcome == set(new_ids)
        await sc.wait_until(lambda: runner.manager.by_id[new_ids[0]].state is OrderState.LIVE)
        t_live = sc.journal.of("transition", order_id=new_ids[0], dst="live")[0]["t"] - sc.unix(0)
        # Settled by the first reconciliation once the orders are older than the grace window.
        assert 1.0 + grace_s <= t_live <= 1.0 + grace_s + sc.settings.quote_interval_s
        reconciles = [r for r in sc.http.of("GET", "/data/orders") if r.t > 1.0]
        assert len(reconciles) == 1 and reconciles[0].t == t_live
        for level, oid in enumerate(new_ids):
            order = runner.manager.by_id[oid]
            assert order.state is OrderState.LIVE and order.last_reason == "found on venue"
            assert runner.manager.slots[(up, level)] is order
        # Never posted again while its fate was unknown: one POST, three orders on the venue.
        assert len([r for r in sc.http.of("POST", "/orders") if r.t >= 1.0]) == 1
        assert len(sc.our_open_orders(up)) == 3
        assert runner.manager.unknown_outcome == set()
        await _stop(sc)
