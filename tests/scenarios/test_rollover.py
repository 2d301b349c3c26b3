"""Recurring series: rollover across many windows, overlapping markets, and one market's crash isolated."""

import os
import resource

import trio

from bot.engine.market import MarketRunner
from bot.sim.faults import HttpFault, SimAction
from bot.sim.flow import FlowParams
from statemachines.market import ExitReason
from tests.scenarios.harness import scenario

# A light synthetic flow: the point is many windows, not many trades per window.
LIGHT_FLOW = FlowParams(makers=2, maker_levels=2, maker_requote_s=30.0, fair_step_s=15.0, takers=1,
                        taker_rate_per_s=0.02)
# CI runs six hours (24 windows, every fault kind once); the nightly profile runs the full day.
HOURS = 24 if os.environ.get("HYPOTHESIS_PROFILE") == "nightly" else 6
RUN_S = HOURS * 3600
WINDOWS = RUN_S // 900
# Peak RSS sampled every half hour; from half the run on it must stay flat.
_RSS_SAMPLE_S = 1800
_SETTLED_SAMPLE = RUN_S // _RSS_SAMPLE_S // 2 - 1


async def test_hours_of_15_minute_markets_roll_over_with_faults_and_leave_nothing(autojump_clock):
    async with scenario(
        window_s=900, max_markets=None, flow=LIGHT_FLOW, quote_interval_s=10.0, ladder_levels=1, reprice_ticks=2,
        reconcile_interval_s=120.0, rollover_lead_s=20.0,
    ) as sc:
        plan = sc.sim.admin
        rss_samples: list[int] = []

        async def faults():
            # One fault every few hours: 5xx bursts, a user-WS drop, a market-WS drop, FAILED trades,
            # rate limits; spread over the run whatever its length.
            spacing_h = HOURS / 6
            for hour, fault in enumerate([
                lambda: plan.http.append(HttpFault(kind="status", status=500, families=["post_orders"], count=3)),
                lambda: sc.sim.controller.apply(SimAction(kind="ws_disconnect", channel="user")),
                lambda: sc.sim.controller.apply(SimAction(kind="ws_disconnect", channel="market")),
                lambda: sc.sim.controller.apply(SimAction(kind="fail_trades", count=2)),
                lambda: plan.http.append(HttpFault(kind="rate_limit", retry_after_s=2, count=4,
                                                  families=["post_orders", "cancel_orders"])),
            ]):
                await trio.sleep_until(3600.0 * spacing_h * (1 + hour) + 123.0)
                fault()

        async def sample_memory():
            while True:
                await trio.sleep(_RSS_SAMPLE_S)
                rss_samples.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(faults)
            nursery.start_soon(sample_memory)

            async def stop_after_the_run():
                await trio.sleep_until(RUN_S)
                sc.supervisor.stop(ExitReason.OPERATOR, f"{HOURS} hours have passed")

            nursery.start_soon(stop_after_the_run)
            reason = await sc.supervisor.run()
            nursery.cancel_scope.cancel()

        assert reason is ExitReason.OPERATOR
        records = sc.supervisor.stats.records
        assert len(records) >= WINDOWS
        finished = [r for r in records if r.reason is ExitReason.MARKET_END]
        # Every market that ended on its own went through its cutoff's verified cancel-all.
        assert len(finished) >= WINDOWS - 1
        for record in finished:
            assert record.summary is not None
            runs = record.summary["cancel_all_runs"]
            assert any(why == "cutoff" and verified for why, _, verified in runs), record.info.slug
        assert sc.our_open_orders() == []
        # Finished markets keep a summary each; only the last few keep their runner.
        kept = [r.runner for r in records if r.runner is not None]
        assert len(kept) <= 8 + len(sc.supervisor.runners)
        # Terminal orders are forgotten after a while: the id map stays bounded by recent activity.
        assert all(len(runner.manager.by_id) < 2000 for runner in kept)
        # Memory stops growing once the first half of the run is done (bounded, not a leak per market).
        assert len(rss_samples) >= 2 * _SETTLED_SAMPLE
        assert rss_samples[-1] - rss_samples[_SETTLED_SAMPLE] < 64 * 1024  # kB


async def test_a_crashing_market_is_cancelled_alone_while_the_others_keep_quoting(autojump_clock, monkeypatch):
    crash_asset = "eth"
    original_tick = MarketRunner.tick

    async def tick(self):
        if self.info.slug.startswith(crash_asset) and self.clock.now_s() - self.info.start_s > 60:
            raise RuntimeError("injected crash in the quote loop")
        await original_tick(self)

    monkeypatch.setattr(MarketRunner, "tick", tick)
    async with scenario(window_s=300, max_markets=2, assets=("btc", "eth")) as sc:
        with trio.fail_after(900):
            reason = await sc.supervisor.run()
        by_asset = {r.info.slug.split("-")[0]: r for r in sc.supervisor.stats.records}
        assert by_asset["eth"].reason is ExitReason.CRASH
        assert by_asset["btc"].reason is ExitReason.MARKET_END
        # The healthy market kept quoting after the crash, until its own cutoff.
        btc = by_asset["btc"].runner
        crash_at = by_asset["eth"].finished_at_s
        assert btc.manager.counts["posted"] > 0
        assert btc.machine.history[-1].to_state.value == "shutdown"
        assert any(rec.at_s > crash_at for rec in btc.machine.history)
        # The crashed market's cancel-all verified, and nothing of ours is left anywhere.
        assert any(verified for why, _, verified in by_asset["eth"].runner.stats.cancel_all_runs if why == "exit")
        assert sc.our_open_orders() == []
        assert reason is ExitReason.CRASH
