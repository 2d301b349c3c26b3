"""The supervisor's ways out, on the fake clock: discovery trouble never reaches running markets, a bug
in scheduling is a CRASH (every market through its cancel-all), the most severe reason is the one
reported, and a single-market run ends when its market does.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from bot.engine.supervisor import Supervisor
from bot.exit_codes import EXIT_CRASH, exit_code_for
from bot.sim.faults import HttpFault
from bot.sim.flow import SeriesSchedule
from statemachines.market import ExitReason
from tests.scenarios.harness import EPOCH_S, QUIET_FLOW, scenario

QUIET = dict(flow=QUIET_FLOW, window_s=100, quote_cutoff_s=30.0, stale_book_s=600.0, rollover_lead_s=10.0)
# Bounds a broken run; every run below ends by itself well within it.
_RUN_BOUND_S = 900.0


def _first_window_condition_id(window_s: int = 100) -> str:
    """The condition id the simulator gives the series window opening at t = 0 (harness seed 1)."""
    return SeriesSchedule(asset="btc", window_s=window_s, nominal_minutes=15, seed=1).spec_for(EPOCH_S).condition_id


def _gamma_garbage(body: str) -> HttpFault:
    # Far more answers than the runs below ask for: Gamma never recovers.
    return HttpFault(kind="garbage", families=["gamma"], count=10_000, message=body)


@pytest.mark.parametrize(
    "body, lookup_fails",
    [("<html>502 Bad Gateway</html>", True), ('{"data": 7}', True), ('["not a market"]', False)],
    ids=["not_json", "no_list", "list_of_non_objects"],
)
async def test_gamma_garbage_while_markets_run_leaves_them_quoting_to_their_end(autojump_clock, body, lookup_fails):
    async with scenario(max_markets=2, **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        first = await sc.first_runner()
        await sc.wait_until(lambda: len(sc.our_open_orders()) == 6)
        # Gamma answers garbage from now until the next window should have been found.
        sc.sim.admin.http.append(_gamma_garbage(body))
        await trio.sleep(120.0)
        sc.sim.admin.http.clear()
        with trio.fail_after(_RUN_BOUND_S):
            await sc.done.wait()
    assert sc.error is None and sc.reason is ExitReason.MARKET_END
    records = sc.supervisor.stats.records
    assert [r.reason for r in records] == [ExitReason.MARKET_END, ExitReason.MARKET_END]
    # The first market never stopped early: it traded through its cutoff.
    assert any(why == "cutoff" and ok for why, _, ok in records[0].summary["cancel_all_runs"])
    assert first.machine.exit_reason is ExitReason.MARKET_END
    # A whole answer that is garbage is a failed lookup (retried with backoff); a bad item is skipped.
    assert (sc.supervisor.stats.discovery_failures > 0) is lookup_fails
    assert sc.our_open_orders() == []


async def test_a_bug_in_scheduling_stops_every_market_as_a_crash_through_its_cancel_all(autojump_clock, monkeypatch):
    original = Supervisor._expecting_unlisted

    def buggy(self: Supervisor, now: float) -> bool:
        if trio.current_time() >= 20.0:
            raise ZeroDivisionError("injected into the scheduler")
        return original(self, now)

    monkeypatch.setattr(Supervisor, "_expecting_unlisted", buggy)
    async with scenario(max_markets=None, **QUIET) as sc:
        # The bug surfaces from `run` (main_job logs it and exits 3), after every market's cancel-all.
        with pytest.raises(BaseExceptionGroup) as raised, trio.fail_after(_RUN_BOUND_S):
            await sc.supervisor.run()
    assert raised.group_contains(ZeroDivisionError, depth=None)
    assert sc.supervisor.stop_reason is ExitReason.CRASH
    assert sc.supervisor.overall_reason() is ExitReason.CRASH
    (record,) = sc.supervisor.stats.records
    assert record.reason is ExitReason.CRASH
    assert any(why == "exit" and ok for why, _, ok in record.summary["cancel_all_runs"])
    assert sc.our_open_orders() == []


async def test_a_bug_in_a_finished_markets_bookkeeping_stops_the_others_as_a_crash(autojump_clock, monkeypatch):
    original = Supervisor._keep_runner_for_a_while

    def buggy(self: Supervisor, record: Any) -> None:
        if record.info.slug.startswith("eth"):
            raise KeyError("injected into the bookkeeping")
        original(self, record)

    monkeypatch.setattr(Supervisor, "_keep_runner_for_a_while", buggy)
    async with scenario(max_markets=None, assets=("btc", "eth"), **QUIET) as sc:

        async def crash_eth_once_both_quote() -> None:
            await sc.wait_until(lambda: len(sc.runners) == 2 and len(sc.our_open_orders()) == 12)

            async def crash(*args: Any, **kwargs: Any) -> None:
                raise RuntimeError("injected crash in the quote loop")

            eth = next(r for r in sc.runners if r.info.slug.startswith("eth"))
            eth.tick = crash  # type: ignore[method-assign]

        # The bookkeeping bug surfaces from `run` (main_job: exit 3), after every market's cancel-all.
        with pytest.raises(BaseExceptionGroup) as raised, trio.fail_after(_RUN_BOUND_S):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(crash_eth_once_both_quote)
                await sc.supervisor.run()
        btc = next(r for r in sc.runners if r.info.slug.startswith("btc"))
    assert raised.group_contains(KeyError, depth=None)
    assert sc.supervisor.overall_reason() is ExitReason.CRASH
    assert btc.machine.exit_reason is ExitReason.CRASH  # not "signal / cancelled from outside"
    assert sc.our_open_orders() == []


async def test_an_operator_stop_after_a_market_crashed_still_reports_the_crash(autojump_clock):
    async with scenario(max_markets=None, assets=("btc", "eth"), **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        await sc.wait_until(lambda: len(sc.runners) == 2 and len(sc.our_open_orders()) == 12)
        crashed = next(r for r in sc.runners if r.info.slug.startswith("eth"))

        async def crash(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("injected crash in the quote loop")

        crashed.tick = crash  # type: ignore[method-assign]
        await sc.wait_until(lambda: crashed.machine.exit_reason is not None)
        reason = await sc.stop_and_wait(ExitReason.OPERATOR)
    assert reason is ExitReason.CRASH
    assert exit_code_for(reason) == EXIT_CRASH
    assert sc.our_open_orders() == []


@pytest.mark.parametrize("gamma_ok", [True, False], ids=["gamma_ok", "gamma_garbage_after_start"])
async def test_a_single_market_run_by_condition_id_ends_when_its_market_ends(autojump_clock, gamma_ok):
    cid = _first_window_condition_id()
    async with scenario(max_markets=None, market=cid, **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        await sc.wait_until(lambda: len(sc.our_open_orders()) == 6)
        if not gamma_ok:
            sc.sim.admin.http.append(_gamma_garbage("<html>502 Bad Gateway</html>"))
        with trio.fail_after(_RUN_BOUND_S):
            await sc.done.wait()
    assert runner.info.condition_id == cid
    assert sc.error is None and sc.reason is ExitReason.MARKET_END
    # It stopped at the market's end, not a discovery period later.
    assert sc.supervisor.stats.records[0].finished_at_s == EPOCH_S + 100.0
    assert sc.supervisor.stats.markets_started == 1
    assert sc.our_open_orders() == []


async def test_a_single_market_run_by_slug_ends_when_its_market_ends(autojump_clock):
    async with scenario(max_markets=None, market=f"btc-updown-15m-{EPOCH_S}", **QUIET) as sc:
        with trio.fail_after(_RUN_BOUND_S):
            reason = await sc.supervisor.run()
        ended_at = trio.current_time()
    assert reason is ExitReason.MARKET_END
    assert sc.supervisor.stats.markets_started == 1
    assert 100.0 <= ended_at < 101.0


async def test_series_mode_runs_on_after_a_market_ends(autojump_clock):
    async with scenario(max_markets=None, **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        await trio.sleep(250.0)
        assert not sc.done.is_set()
        assert sc.supervisor.stats.markets_finished >= 2
        assert sc.supervisor.runners  # the next window trades
        await sc.stop_and_wait(ExitReason.OPERATOR)
    assert sc.reason is ExitReason.OPERATOR


class _CountingList(list):
    """A list that counts the passes over it (iterations), to show a hot path does not walk it."""

    iterations = 0

    def __iter__(self):  # type: ignore[no-untyped-def]
        type(self).iterations += 1
        return super().__iter__()


async def test_finished_markets_keep_a_summary_each_and_only_the_last_few_keep_their_runner(autojump_clock):
    windows = 12
    async with scenario(max_markets=windows, **QUIET) as sc:
        sc.supervisor.stats.records = _CountingList()
        with trio.fail_after(windows * 100.0 + _RUN_BOUND_S):
            reason = await sc.supervisor.run()
        # Discovery passes (several per window) never walked the finished markets.
        scans = _CountingList.iterations
    assert reason is ExitReason.MARKET_END
    assert scans <= 1  # at most the final overall-reason pass
    records = sc.supervisor.stats.records
    assert len(records) == windows and all(r.reason is ExitReason.MARKET_END for r in records)
    assert [r.runner is not None for r in records] == [False] * (windows - 8) + [True] * 8
    summaries = sc.supervisor.summaries()
    assert [s["condition_id"] for s in summaries] == [r.info.condition_id for r in records]
    assert all(s["exit_reason"] == "market_end" and s["open_orders_left"] == 0 for s in summaries)
