"""The production engine, unchanged, against hand-made recordings: its own order queues behind the
recorded size and fills exactly when the recorded trades reach it."""

from __future__ import annotations

from pathlib import Path

from bot.replay.backtest import BacktestConfig, run_backtest
from bot.replay.latency import FixedLatency
from bot.sim.wire import UNIT
from settings import BotSettings
from tests.replay.builders import NO, T0_MS, YES, book, level, trade, write_recording

SETTINGS = BotSettings(mode="paper", ladder_levels=1, size_per_level_shares=10.0, top_offset_ticks=0,
                       quote_cutoff_s=5.0)


def _recording(tmp_path: Path) -> Path:
    # Up: bid 0.48 x 100, ask 0.52. Down's best bid is 1 - 0.52 = 0.48: the bot joins both at 0.48
    # (0.48 + 0.48 <= 1 - 0.02).
    return write_recording(tmp_path / "day.parquet", [
        book(T0_MS, [("0.48", "100")], [("0.52", "100")]),
        trade(T0_MS + 1_000, "SELL", "0.48", "60"),
        level(T0_MS + 1_001, "BUY", "0.48", "40"),
        trade(T0_MS + 2_000, "SELL", "0.48", "45"),  # 40 ahead, then 5 of ours
        level(T0_MS + 2_001, "BUY", "0.48", "0"),
        trade(T0_MS + 3_000, "SELL", "0.48", "20"),  # the other 5
        level(T0_MS + 4_000, "BUY", "0.47", "10"),
    ])


# Requests take up to 2 x 2.5 s here: give them the time (the default deadline would call them unknown).
SLOW_VENUE = SETTINGS.model_copy(update={"request_timeout_s": 10.0, "cancel_all_timeout_s": 30.0})


def _up_fills(result) -> list[tuple[int, int, int]]:
    return [(f.t_ms - T0_MS, f.price, f.shares) for f in result.fills if f.token_id == YES]


def test_the_engines_order_fills_only_after_the_100_shares_ahead_of_it_trade(tmp_path: Path) -> None:
    result = run_backtest(BacktestConfig(data=_recording(tmp_path), settings=SETTINGS))
    assert result.exit_reason == "market_end"
    # The partial fill leaves the level at 5 of 10 and nobody else bidding at 0.48 (the recorded level is 0
    # without our size): the engine, reading the book without its own orders, re-prices the replacement up
    # to the pair guard's 0.50 (Down's bid 0.48 + 0.50 <= 1 - 0.02); the third trade, a SELL through 0.50,
    # fills all 10 there.
    assert _up_fills(result) == [(2_000, 480_000, 5 * UNIT), (3_000, 500_000, 10 * UNIT)]
    assert all(f.maker for f in result.fills)
    assert not [f for f in result.fills if f.token_id == NO]  # nobody traded Down's side


def test_order_latency_puts_the_order_behind_what_the_market_did_meanwhile(tmp_path: Path) -> None:
    # 1.2 s each way: the order reaches the venue after the first trade and size change (40 left ahead),
    # so the second trade's 45 fill 5. The engine then replaces the half-filled order, but its cancel
    # reaches the venue at 3.2 s, after the third trade: that trade still fills the 5 left, not 10.
    late = run_backtest(BacktestConfig(data=_recording(tmp_path), settings=SLOW_VENUE,
                                       order_latency=FixedLatency(1.2)))
    assert _up_fills(late) == [(2_000, 480_000, 5 * UNIT), (3_000, 480_000, 5 * UNIT)]
    # 2.5 s: it arrives after the second trade emptied the level: nothing ahead, the third trade's 20
    # fill all 10.
    later = run_backtest(BacktestConfig(data=_recording(tmp_path), settings=SLOW_VENUE,
                                        order_latency=FixedLatency(2.5)))
    assert _up_fills(later) == [(3_000, 480_000, 10 * UNIT)]


def test_conflating_the_bots_view_keeps_its_fills(tmp_path: Path) -> None:
    # The bot sees the recorded depth once a second; each of its requests brings the venue up to date
    # first, so its order still queues behind the 100 shares shown when it arrives.
    result = run_backtest(BacktestConfig(data=_recording(tmp_path), settings=SETTINGS, conflate_ms=1000))
    assert _up_fills(result) == [(2_000, 480_000, 5 * UNIT), (3_000, 480_000, 10 * UNIT)]
