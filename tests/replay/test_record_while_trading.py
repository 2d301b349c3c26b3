"""The `record_dir` setting: the paper bot records its markets' market channel as it trades, with our own
resting size taken out of every level."""

from __future__ import annotations

from pathlib import Path

from bot.main_job import run_bot
from bot.replay.reader import KIND_BOOK, KIND_PRICE_CHANGE, load_recording
from settings import BotSettings


async def test_the_running_bot_records_its_market_without_its_own_orders(tmp_path: Path, autojump_clock) -> None:
    settings = BotSettings(mode="paper", paper_window_s=100, quote_cutoff_s=30, paper_seed=3, record_dir=tmp_path)
    own_seen: list[dict] = []
    import bot.record as record

    real_own_size = record.own_size

    def spy(supervisor):
        own = real_own_size(supervisor)
        if own:
            own_seen.append(own)
        return own

    record.own_size = spy
    try:
        reason, _ = await run_bot(settings, duration_s=60, inprocess=True, show_status=False)
    finally:
        record.own_size = real_own_size
    recording = load_recording(tmp_path)
    kinds = {e.kind for e in recording.events}
    assert {KIND_BOOK, KIND_PRICE_CHANGE} <= kinds
    assert own_seen, "the bot quoted while recording, so some frames had our size to take out"
