"""One market, start to end, against the in-process simulator on the fake clock."""

import trio

from statemachines.market import ExitReason
from tests.scenarios.harness import WINDOW_S, scenario


async def test_one_market_quotes_gets_fills_and_leaves_nothing_at_cutoff(autojump_clock):
    async with scenario() as sc:
        with trio.fail_after(2 * WINDOW_S + 120):
            reason = await sc.supervisor.run()
        assert reason is ExitReason.MARKET_END
        summaries = sc.supervisor.summaries()
        assert len(summaries) == 1
        s = summaries[0]
        assert s["posted"] > 0
        assert s["fills"] > 0
        assert sc.our_open_orders() == []
        cutoffs = [run for run in s["cancel_all_runs"] if run[0] == "cutoff"]
        assert cutoffs and cutoffs[0][2] is True
