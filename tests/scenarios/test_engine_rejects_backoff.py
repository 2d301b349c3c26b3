"""Expected rejects are part of trading; unexpected failures back off (exponential, capped) and the
market recovers.

`QUIET_FLOW` keeps the book still (Up's best bid 0.48, ask 0.52) and `stale_book_s` is raised so a
book that nobody touches for a while stays usable: every failure below is the test's.
"""

from __future__ import annotations

import trio

from bot.sim.faults import HttpFault
from bot.sim.model import SimConfig
from bot.sim.wire import UNIT
from statemachines.market import ExitReason
from statemachines.order import OrderState
from tests.scenarios.harness import QUIET_FLOW, Scenario, best_ask, scenario

QUIET = dict(flow=QUIET_FLOW, window_s=100, quote_cutoff_s=30.0, stale_book_s=600.0, record=True)


async def _stop(sc: Scenario) -> None:
    await sc.stop_and_wait(ExitReason.OPERATOR)
    assert sc.our_open_orders() == []


def _backoff_starts(sc: Scenario) -> list[float]:
    return [r["t"] - sc.unix(0) for r in sc.journal.of("market_transition", dst="backoff")]


async def test_a_burst_of_post_only_rejects_from_a_fast_move_never_backs_off(autojump_clock):
    async with scenario(ladder_levels=5, backoff_failures=3, **QUIET) as sc, trio.open_nursery() as nursery:
        # Our first ladder takes half a second to reach the venue...
        sc.sim.admin.latency_s["orders"] = 0.5
        sc.start(nursery)
        runner = await sc.first_runner()
        up = runner.info.up_token_id
        await trio.sleep(0.25)
        assert [r.status for r in sc.http.of("POST", "/orders")] == [None]
        sc.sim.admin.latency_s.clear()
        # ...and meanwhile the price falls: a seller sweeps Up's bids and rests its remainder at 0.44.
        seller = sc.trader("seller")
        seller.give_shares(up, 1000)
        seller.limit(up, "SELL", 0.44, 1000)
        assert best_ask(sc.exchange, up) == 0.44
        await trio.sleep(2.0)
        rejects = sc.journal.of("post_result", outcome="expected_reject")
        # Up levels 0.47, 0.46, 0.45 and 0.44 now cross: four post-only rejects, all at t = 0.5.
        assert [r["t"] for r in rejects] == [sc.unix(0.5)] * 4
        assert all("post-only" in r["message"] for r in rejects)
        assert runner.manager.counts["rejected_expected"] == 4
        assert runner.backoff.statistics()["failures_total"] == 0
        assert _backoff_starts(sc) == [] and sc.journal.of("block", reason="backoff") == []
        assert runner.machine.state.value == "quoting"
        # The ladder re-forms behind the new ask.
        up_prices = sorted(float(o["price"]) for o in sc.our_open_orders(up))
        assert len(up_prices) == 5 and max(up_prices) < 0.44
        await _stop(sc)


async def test_unexpected_rejects_back_off_exponentially_capped_and_the_market_recovers(autojump_clock):
    base_s, max_s = 1.0, 4.0
    async with scenario(sim_config=SimConfig(paper_balance_pusd=1.0), backoff_base_s=base_s, backoff_max_s=max_s,
                        backoff_failures=3, **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        # Every leg of every ladder is refused: "not enough balance / allowance".
        await sc.wait_until(lambda: len(sc.http.of("POST", "/orders")) >= 5)
        posts = [r.t for r in sc.http.of("POST", "/orders")]
        starts = _backoff_starts(sc)
        assert starts == posts  # each refused ladder starts one backoff, in the same instant
        delays = [min(max_s, base_s * 2**k) for k in range(len(starts))]
        assert delays[:5] == [1.0, 2.0, 4.0, 4.0, 4.0]
        for k, delay in enumerate(delays[: len(posts) - 1]):
            # The next attempt is the first quote tick after the backoff ends.
            assert 0.0 <= posts[k + 1] - posts[k] - delay <= sc.settings.quote_interval_s
        untils = [float(r["reason"].split()[-1]) for r in sc.journal.of("market_transition", dst="backoff")]
        assert [round(u - sc.unix(t), 3) for u, t in zip(untils, starts, strict=True)] == delays
        assert [r["reason"] for r in sc.journal.of("block")][:3] == [None, "backoff", None]
        assert runner.manager.counts["accepted"] == 0
        # Money arrives; the attempt after the current backoff succeeds and quoting resumes.
        sc.exchange.fund(sc.signer.address, pusd_units=1000 * UNIT)
        funded_at = trio.current_time()
        await sc.wait_until(lambda: len(sc.our_open_orders()) == 6)
        assert trio.current_time() <= funded_at + max_s + sc.settings.quote_interval_s
        await trio.sleep(5.0)
        assert runner.machine.state.value == "quoting" and runner.block_reason is None
        assert len(_backoff_starts(sc)) == len([r for r in sc.http.of("POST", "/orders") if r.t < funded_at])
        assert runner.backoff.statistics()["consecutive"] == 0
        await _stop(sc)


async def test_a_5xx_on_the_ladder_backs_off_and_the_unlanded_orders_are_settled_before_reposting(autojump_clock):
    grace_s = 3.0
    async with scenario(reconcile_grace_s=grace_s, backoff_failures=3, **QUIET) as sc, \
            trio.open_nursery() as nursery:
        sc.sim.admin.http.append(HttpFault(kind="status", families=["orders"], count=1, status=500))
        sc.start(nursery)
        runner = await sc.first_runner()
        await trio.sleep(0.5)
        first = sc.http.of("POST", "/orders")[0]
        assert first.status == 500 and first.t == 0.0
        assert _backoff_starts(sc) == [0.0]
        lost_ids = [o["order"]["signature"] for o in first.body]
        pending = [o for o in runner.manager.by_id.values() if o.state is OrderState.UNKNOWN]
        assert len(pending) == len(lost_ids) == 6
        # Outcome unknown: the levels stay blocked by their pending orders after the backoff ends.
        await trio.sleep(1.0)
        assert len(sc.http.of("POST", "/orders")) == 1
        await sc.wait_until(lambda: len(sc.our_open_orders()) == 6)
        failed_at = {r["t"] - sc.unix(0) for r in sc.journal.of("transition", dst="failed")}
        assert len(failed_at) == 1
        (t_failed,) = failed_at
        # Looked up once past the grace window (no record: deferred), called lost a grace window later.
        assert 2 * grace_s <= t_failed <= 2 * grace_s + sc.settings.quote_interval_s
        for order in pending:
            assert order.state is OrderState.FAILED and order.last_reason == "not on venue after grace"
        second = sc.http.of("POST", "/orders")[1]
        assert t_failed <= second.t <= t_failed + sc.settings.quote_interval_s and second.status == 200
        assert runner.machine.state.value == "quoting"
        await _stop(sc)
