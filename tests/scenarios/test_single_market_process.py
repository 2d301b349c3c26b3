"""As processes: `python -m bot run` in live mode with `BOT_MARKET=<condition id>` against `python -m bot sim`
exits 0 by itself once its market has ended, and leaves nothing on the venue.

The simulator runs short windows (wall clock) so the market ends within the test; the bot gets no
`--duration` and no `--markets`: only the end of its market can stop it.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest
import trio

from tests.reliability.processes import BotProcess, Venue, bot_env, read_journal, running_sim

pytestmark = pytest.mark.slow

WINDOW_S = 20
# The bot needs a few seconds to start (imports, key derivation, first quotes) before its market ends.
_MIN_LEFT_S = 10.0
# After the market's end: its runner finishes at once, then the final venue check and the summary.
_EXIT_AFTER_END_S = 20.0


async def test_a_single_market_run_exits_0_after_its_market_ends(tmp_path: Path) -> None:
    async with running_sim(window_s=WINDOW_S, seed=21, stderr=tmp_path / "sim.err") as sim:
        now = time.time()
        market = min((m for m in sim.markets if m["end_ts"] - now >= _MIN_LEFT_S), key=lambda m: m["end_ts"])
        key = "0x" + secrets.token_hex(32)
        journal = tmp_path / "journal.jsonl"
        env = bot_env(sim, private_key=key, market=market["condition_id"], journal=journal,
                      quote_cutoff_s=3, rollover_lead_s=WINDOW_S)
        bot = await BotProcess.start(env, tmp_path, "bot")
        try:
            with trio.fail_after(market["end_ts"] - time.time() + _EXIT_AFTER_END_S):
                code = await bot.process.wait()
        finally:
            if bot.process.returncode is None:
                await bot.kill9()
        exited_at = time.time()
        assert code == 0, bot.output()[-3000:]
        assert exited_at >= market["end_ts"]
        assert await Venue(sim, key).open_orders(market["condition_id"]) == []
    records, broken = read_journal(journal)
    assert broken == 0
    assert [r["market"] for r in records if r["kind"] == "market_start"] == [market["condition_id"]]
    assert [r["reason"] for r in records if r["kind"] == "market_stop"] == ["market_end"]
    assert any(r["kind"] == "post" for r in records)
