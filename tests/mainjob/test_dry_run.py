"""--dry-run: the ladder is computed and shown from real market data, and no order reaches the venue."""

from bot.main_job import run_bot
from settings import BotSettings
from statemachines.market import ExitReason


async def test_dry_run_quotes_locally_and_sends_nothing(autojump_clock, tmp_path):
    journal = tmp_path / "journal.jsonl"
    settings = BotSettings(mode="paper", paper_window_s=100, quote_cutoff_s=30, journal_path=journal)
    reason, summary = await run_bot(settings, duration_s=50, inprocess=True, show_status=False, dry_run=True)
    assert reason is ExitReason.OPERATOR
    assert summary["orders_posted"] > 0  # the ladder was computed and "placed" locally
    assert summary["fills"] == 0
    text = journal.read_text()
    assert '"kind":"dry_run_post"' in text
    assert '"kind":"post"' not in text  # nothing was sent


async def test_a_dry_run_is_labelled_in_the_summary_and_the_journal(autojump_clock, tmp_path):
    from bot.main_job import format_summary

    journal = tmp_path / "journal.jsonl"
    settings = BotSettings(mode="paper", paper_window_s=100, quote_cutoff_s=30, journal_path=journal)
    _, summary = await run_bot(settings, duration_s=30, inprocess=True, show_status=False, dry_run=True)
    assert summary["dry_run"] is True
    text = format_summary(summary)
    assert "DRY RUN: nothing was sent to the venue" in text and "orders computed (not sent)" in text
    records = journal.read_text()
    assert '"kind":"dry_run"' in records
    assert '"dry_run":true' in records.splitlines()[-1]  # the journaled summary
