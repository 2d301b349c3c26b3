import trio
from tests.scenarios.harness import scenario, QUIET_FLOW, best_bid, best_ask
from statemachines.market import ExitReason
from bot.sim.faults import HttpFault
from bot.sim.model import SimConfig

async def test_explore(autojump_clock):
    async with scenario(record=True, window_s=100, quote_cutoff_s=30, flow=QUIET_FLOW, stale_book_s=600, sim_config=SimConfig(gtd_security_s=65.0)) as sc:
        async with trio.open_nursery() as n:
            sc.start(n)
            r = await sc.first_runner()
            await trio.sleep(66)
            sc.supervisor.stop(ExitReason.OPERATOR)
        for rec in sc.journal.records:
            if rec["t"]-1800000000 > 60 and rec["kind"] not in ("post",): print(round(rec["t"]-1800000000,3), rec)
