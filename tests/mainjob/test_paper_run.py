"""The main job in paper mode, end to end on the fake clock: it ends by itself, and its summary agrees
with the simulator's own records."""

import math
import os
import signal

import pytest
import trio

import bot.main_job as main_job
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


# Paper time from fixed instants (not the wall clock's next window: its markets and flow change every
# 100 s). At 1_800_000_500 three of our orders fill in the very moment the run stops, and their trade events
# were still on their way when the user stream stopped being read: 49 fills counted against the venue's 52
# until the exit's fill check (the venue's trade records after the verified cancel-all) was added.
@pytest.mark.parametrize("paper_start", [1_800_000_000, 1_800_000_500])
async def test_paper_summary_counts_equal_the_venue_records(autojump_clock, monkeypatch, paper_start):
    monkeypatch.setattr(main_job, "_paper_epoch_s", lambda w: math.ceil(paper_start / w) * w - trio.current_time())
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


# --- issue 17: the first command ends by itself; the summary marks what is left honestly -------------


def test_the_paper_run_plans_two_markets_unless_told_otherwise():
    import argparse

    from bot.main_job import run_plan

    paper = BotSettings(mode="paper")
    plan = run_plan(argparse.Namespace(duration=None, markets=None, forever=False), paper)
    assert (plan.max_markets, plan.duration_s, plan.journal_path) == (2, None, None)
    assert "ends after 2 markets" in plan.stop_hint and "Ctrl-C" in plan.stop_hint
    assert "no journal (set BOT_JOURNAL_PATH or --journal PATH" in plan.start_line(paper, dry_run=False)
    assert run_plan(argparse.Namespace(duration=None, markets=None, forever=True), paper).max_markets is None
    assert run_plan(argparse.Namespace(duration=40.0, markets=None, forever=False), paper).max_markets is None


def test_live_mode_keeps_a_journal_by_default_in_the_state_directory(monkeypatch, tmp_path):
    import argparse

    from bot.main_job import default_journal_path, run_plan

    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    live = BotSettings(mode="live", private_key="0x" + "7e" * 32)
    plan = run_plan(argparse.Namespace(duration=None, markets=None, forever=False, journal=None), live)
    assert plan.journal_path == tmp_path / "state" / "journal.jsonl" and plan.max_markets is None
    assert f"journal {tmp_path / 'state' / 'journal.jsonl'}" in plan.start_line(live, dry_run=False)
    flagged = run_plan(argparse.Namespace(duration=None, markets=None, forever=False, journal=tmp_path / "j"), live)
    assert flagged.journal_path == tmp_path / "j"
    assert default_journal_path({"HOME": "/h", "XDG_STATE_HOME": "/x"}).as_posix() == "/x/polymarket-maker/journal.jsonl"


async def test_two_consecutive_markets_with_rollover_then_the_run_ends_with_marks_that_outlive_the_book(
    autojump_clock,
):
    settings = BotSettings(mode="paper", paper_seed=3)  # the defaults of the README's first command
    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(
            lambda task_status: run_bot(settings, max_markets=2, inprocess=True, show_status=False,
                                        task_status=task_status)
        )
    started = trio.current_time()
    assert supervisor.overall_reason() is ExitReason.MARKET_END
    first, second = supervisor.stats.records
    assert second.info.start_s == first.info.end_s  # consecutive windows
    assert second.runner is not None and first.finished_at_s is not None
    assert started <= 360.0  # the README promises an end within six minutes
    summaries = supervisor.summaries()
    for market in summaries:
        for side in ("up", "down"):
            if market[f"unresolved_{side}_shares"] > 0:
                # Marked at the last mid seen, not at 0 because the book is gone at the end.
                assert market[f"mark_{side}"] is not None and 0 < market[f"mark_{side}"] < 1
        assert market["liquidation_pnl_pusd"] <= market["marked_pnl_pusd"] + 1e-9
    assert any(m["unresolved_up_shares"] + m["unresolved_down_shares"] > 0 for m in summaries)


async def test_the_venue_fill_check_asks_only_for_this_runs_trades():
    """After a restart the key's earlier trades in the market are not this run's: the check asks the
    venue for trades matched since the run started (it once counted the market's whole history)."""
    import types

    import httpx

    from bot.engine.markets import MarketInfo
    from bot.engine.supervisor import VenueLinks
    from bot.main_job import _venue_records
    from bot.protocol.auth import ApiCreds
    from bot.protocol.signing import OrderSigner

    asked: list[dict[str, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/data/trades":
            asked.append(dict(request.url.params))
        return httpx.Response(200, json={"data": [], "next_cursor": "LTE=", "limit": 100, "count": 0})

    info = MarketInfo("0x" + "11" * 32, "btc-updown-15m-1", "1", "2", 0.0, 900.0)
    supervisor = types.SimpleNamespace(
        creds=ApiCreds("k", "c2VjcmV0", "p"), signer=OrderSigner("0x" + "7e" * 32),
        clock=types.SimpleNamespace(now_s=lambda: 1_800_000_500.0),
        stats=types.SimpleNamespace(records=[types.SimpleNamespace(info=info)]),
    )
    links = VenueLinks("http://venue.invalid", "", "", None, http_transport=httpx.MockTransport(handle))
    left, fills = await _venue_records(supervisor, links, since_s=1_800_000_123.7)
    assert (left, fills) == (0, 0)
    assert [(q["market"], q.get("after")) for q in asked] == [(info.condition_id, "1800000123")]
