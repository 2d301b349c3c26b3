"""Quote cutoff: the cutoff's cancel goes out at exactly `end - quote_cutoff_s` (virtual time), nothing of
ours rests after it, GTD ladder orders carry `expiration = cutoff + 60` (the venue's own expiry lands
on the cutoff too), and at the market's end the runner finishes cleanly.

Window [0, 100) s, `quote_cutoff_s = 30`: the cutoff is at t = 70.
"""

from __future__ import annotations

import pytest
import trio

from statemachines.market import ExitReason
from tests.scenarios.harness import QUIET_FLOW, Scenario, scenario

END_S, CUTOFF_S = 100.0, 70.0
WINDOW = dict(window_s=100, quote_cutoff_s=END_S - CUTOFF_S, record=True)


async def _watch_nothing_rests_after(sc: Scenario, start_s: float, counts: list[int]) -> None:
    await trio.sleep_until(start_s)
    while not sc.done.is_set():
        counts.append(len(sc.our_open_orders()))
        await trio.sleep(0.05)


def _ladder_posts(sc: Scenario) -> list[dict]:
    bodies = [b for r in sc.http.of("POST", "/orders") for b in r.body]
    return bodies + [r.body for r in sc.http.of("POST", "/order") if r.body["orderType"] in ("GTC", "GTD")]


async def test_the_cutoff_cancels_at_exactly_end_minus_quote_cutoff_and_nothing_rests_after(autojump_clock):
    # The default (active) flow: quotes move, fill and complete right up to the cutoff.
    async with scenario(**WINDOW) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        counts_after: list[int] = []
        nursery.start_soon(_watch_nothing_rests_after, sc, CUTOFF_S + 1e-6, counts_after)
        await sc.done.wait()
        assert sc.reason is ExitReason.MARKET_END
        # The first cancel-by-market after startup is the cutoff's, sent at t = 70 exactly.
        cutoff_cancel = [r for r in sc.http.of("DELETE", "/cancel-market-orders") if r.t > 0.0][0]
        assert cutoff_cancel.t == CUTOFF_S
        (cutoff,) = sc.journal.of("cancel_all", why="cutoff")
        assert cutoff["t"] == sc.unix(CUTOFF_S) and cutoff["verified"] is True
        assert runner.manager.counts["posted"] > 0 and runner.inventory.fills_counted > 0
        # No maker quote is posted in the cutoff's last second (a GTD expiring then would be refused),
        # and nothing of ours rests from the cutoff to the end.
        assert max(r.t for r in sc.http.records if r.path in ("/orders", "/order") and r.method == "POST") < CUTOFF_S
        assert counts_after and set(counts_after) == {0}
        assert [r["reason"] for r in sc.journal.of("block")][-1] == "cutoff"
        # Every ladder order was a GTD expiring at cutoff + 60: the venue's own expiry is the cutoff.
        bodies = _ladder_posts(sc)
        assert {b["orderType"] for b in bodies} == {"GTD"}
        assert {b["order"]["expiration"] for b in bodies} == {str(int(sc.unix(CUTOFF_S)) + 60)}
        # At the end the runner finishes cleanly: state, reason and a verified exit cancel-all.
        transitions = [(r["src"], r["dst"]) for r in sc.journal.of("market_transition")]
        assert ("quoting", "cutoff") in transitions or ("completing", "cutoff") in transitions
        assert transitions[-2:] == [("cutoff", "shutting_down"), ("shutting_down", "shutdown")]
        (stop,) = sc.journal.of("market_stop")
        assert stop["reason"] == "market_end" and stop["t"] == sc.unix(END_S)
        assert sc.journal.of("cancel_all", why="exit")[0]["verified"] is True
        assert runner.machine.exit_reason is ExitReason.MARKET_END
        assert sc.our_open_orders() == []


@pytest.mark.parametrize("gtd", [True, False])
async def test_a_post_in_flight_at_the_cutoff_is_cut_off_with_it(autojump_clock, gtd):
    async with scenario(flow=QUIET_FLOW, stale_book_s=600.0, gtd_at_cutoff=gtd, **WINDOW) as sc, \
            trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        await sc.wait_until(lambda: trio.current_time() >= 68.0)
        # A reprice whose POST takes 5 s to reach the venue: still in flight when the cutoff comes.
        sc.sim.admin.latency_s["orders"] = 5.0
        sc.trader().limit(runner.info.up_token_id, "BUY", 0.50, 5)
        await trio.sleep(0.5)
        (in_flight,) = [r for r in sc.http.of("POST", "/orders") if r.t >= 68.0]
        assert in_flight.status is None
        await sc.wait_until(lambda: trio.current_time() >= CUTOFF_S + 1.0)
        assert in_flight.t_done == CUTOFF_S  # the cutoff's cancel scope ended it
        cutoff_cancel = [r for r in sc.http.of("DELETE", "/cancel-market-orders") if r.t > 0.0][0]
        assert cutoff_cancel.t == CUTOFF_S
        assert sc.our_open_orders() == []
        bodies = _ladder_posts(sc)
        expected_type, expected_expiration = ("GTD", str(int(sc.unix(CUTOFF_S)) + 60)) if gtd else ("GTC", "0")
        assert {b["orderType"] for b in bodies} == {expected_type}
        assert {b["order"]["expiration"] for b in bodies} == {expected_expiration}
        await sc.wait_until(lambda: trio.current_time() >= CUTOFF_S + 10.0)
        assert sc.our_open_orders() == []
        await sc.stop_and_wait(ExitReason.OPERATOR)


async def test_a_cutoff_of_zero_still_gives_the_cutoff_cancel_all_its_time_and_ends_the_market(autojump_clock):
    # Quoting to the very end: the cutoff instant is the market's end, so "until the end" leaves the
    # cutoff's cancel-all no time at all; it gets the exit's bound instead, verifies, and the run ends
    # as a market end, not as an unverified cancel.
    async with scenario(window_s=100, quote_cutoff_s=0.0, gtd_at_cutoff=False, record=True) as sc, \
            trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        await sc.wait_until(lambda: trio.current_time() >= END_S - 5.0)
        assert sc.our_open_orders()  # still quoting five seconds before the end
        await sc.done.wait()
        assert sc.reason is ExitReason.MARKET_END
        (cutoff,) = sc.journal.of("cancel_all", why="cutoff")
        assert cutoff["verified"] is True and cutoff["t"] >= sc.unix(END_S)
        assert runner.machine.exit_reason is ExitReason.MARKET_END
        assert sc.our_open_orders() == []
