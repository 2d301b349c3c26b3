"""The main job in paper mode, end to end on the fake clock: it ends by itself, and its summary agrees
with the simulator's own records."""

import os
import signal

import pytest
import trio

from bot.engine.market import MarketRunner
from bot.exit_codes import EXIT_CRASH, exit_code_for
from bot.main_job import format_summary, run_bot
from settings import BotSettings
from statemachines.market import ExitReason


async def test_paper_run_with_duration_rolls_over_and_ends_cleanly(autojump_clock):
    settings = BotSettings(mode="paper", paper_window_s=100, quote_cutoff_s=30, paper_seed=3)
    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(
            lambda task_status: run_bot(settings, duration_s=150, inprocess=True, show_status=False,
                                        task_status=task_status)
        )
    assert supervisor.stop_reason is ExitReason.OPERATOR
    summaries = supervisor.summaries()
    assert len(summaries) >= 2  # 150 s of 100 s windows: the next market took over
    assert summaries[0]["exit_reason"] == "market_end"
    assert sum(s["posted"] for s in summaries) > 0
    assert all(s["open_orders_left"] == 0 for s in summaries)


async def test_paper_summary_counts_equal_the_venue_records(autojump_clock):
    settings = BotSettings(mode="paper", paper_window_s=100, quote_cutoff_s=30, paper_seed=5)
    reason, summary = await run_bot(settings, duration_s=150, inprocess=True, show_status=False)
    assert reason is ExitReason.OPERATOR
    assert summary["open_orders_left"] == 0
    assert summary["markets_traded"] >= 2
    assert summary["fills"] > 0
    assert summary["fills"] == summary["venue_fills"]
    text = format_summary(summary)
    assert "open orders left on venue: 0" in text


@pytest.mark.parametrize("stop", ["duration", "sigterm"])
async def test_a_stop_after_a_market_crashed_exits_3_and_the_summary_says_crash(autojump_clock, monkeypatch, stop):
    original_tick = MarketRunner.tick

    async def tick(self: MarketRunner) -> None:
        if trio.current_time() >= 20.0:
            raise RuntimeError("injected crash in the quote loop")
        await original_tick(self)

    monkeypatch.setattr(MarketRunner, "tick", tick)
    settings = BotSettings(mode="paper", paper_window_s=100, quote_cutoff_s=30, paper_seed=3)

    async def sigterm_later() -> None:
        await trio.sleep(60.0)
        os.kill(os.getpid(), signal.SIGTERM)

    async with trio.open_nursery() as nursery:
        if stop == "sigterm":
            nursery.start_soon(sigterm_later)
        reason, summary = await run_bot(settings, duration_s=60 if stop == "duration" else None, inprocess=True,
                                        show_status=False)
    assert reason is ExitReason.CRASH
    assert exit_code_for(reason) == EXIT_CRASH == 3
    assert summary["exit_reason"] == "crash"
    assert summary["markets"][0]["exit_reason"] == "crash"
    assert summary["open_orders_left"] == 0
