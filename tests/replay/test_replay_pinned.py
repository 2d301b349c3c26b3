"""Backtests of a small synthetic busy market pinned to their full results, bit for bit.

The replay is tuned for speed (issue "record, replay, backtest", item 5); an optimisation may change
how fast a result comes, never the result. Each case pins what the JSON report is made of: every fill
(time, token, side, price, shares, maker, fee), the sampled top of book, the order counts, the quoting
time and the P&L, as a digest plus the few figures a reader checks first. The pinned values were taken
from the replay before any speed work; a change that moves them is a change of behaviour, to be made
on purpose (and the pins updated with the reason) or not at all.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest

from bot.replay.backtest import BacktestConfig, BacktestResult, run_backtest
from bot.replay.latency import FixedLatency
from bot.replay.report import summarise
from bot.replay.synthetic import write_busy_market
from settings import BotSettings

# The benchmark's settings: caps far above what the fills need, so the bot quotes the whole stretch.
SETTINGS = BotSettings(mode="paper", ladder_levels=3, size_per_level_shares=10.0, quote_cutoff_s=60.0,
                       max_notional_per_market_pusd=1_000_000.0, max_total_notional_pusd=1_000_000.0,
                       paper_balance_pusd=10_000_000.0)

CASES = {
    "exact": {},
    # The backtest passes whole messages to the bot; framed as the live WebSocket does, the same result.
    "exact_framed": {"ws_framing": True},
    "conflated_250ms": {"conflate_ms": 250},
    "probabilistic_with_latency": {"queue": "probabilistic", "order_latency": FixedLatency(0.02),
                                   "feed_latency": FixedLatency(0.005), "taker_delay_s": 0.05, "seed": 3},
}


@pytest.fixture(scope="module")
def busy_market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pinned") / "busy.parquet"
    write_busy_market(path, seconds=150, rate=20.0, seed=5)
    return path


def fingerprint(result: BacktestResult) -> dict[str, object]:
    """The figures a reader checks first, and a digest of everything the report is computed from."""
    summary = summarise(result)
    content = {
        "fill_list": summary["fill_list"],
        "top": result.top,
        "series": summary["series"],
        "figures": {k: summary[k] for k in ("events", "fills", "maker_fills", "taker_fills", "volume_shares",
                                            "pnl_pusd", "pnl_split", "inventory_shares", "pair_cost",
                                            "markouts_per_share", "quote_uptime", "orders_placed",
                                            "orders_cancelled", "exit_reason")},
        "quoting_ms": result.quoting_ms,
    }
    return {
        "fills": summary["fills"],
        "orders_placed": result.orders_placed,
        "orders_cancelled": result.orders_cancelled,
        "pnl_pusd": repr(summary["pnl_pusd"]),
        "digest": hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16],
    }


# Taken from the replay before the speed work (commit 538b0f8), and the same under any PYTHONHASHSEED.
# Re-pinned for issue 18, on purpose: the leading side's ladder now keeps its excess plus its open BUYs
# within max_inventory_skew_shares. Here that means 17 fills instead of 19/21 and 1.94 pUSD instead of
# 2.11/2.16, with 50 shares unpaired at the end instead of 65 (this synthetic market never resolves and
# barely trends, so the unpaired shares cost little here; in the paper bench's resolving markets they
# decided most of the loss).
PINNED: dict[str, dict[str, object]] = {
    "conflated_250ms": {"fills": 17, "orders_placed": 28, "orders_cancelled": 14, "pnl_pusd": "1.9411446000000123",
                        "digest": "20f0dbd8483cbbcf"},
    "exact": {"fills": 17, "orders_placed": 28, "orders_cancelled": 14, "pnl_pusd": "1.9411446000000123",
              "digest": "094de67b906c068b"},
    "exact_framed": {"fills": 17, "orders_placed": 28, "orders_cancelled": 14, "pnl_pusd": "1.9411446000000123",
                     "digest": "094de67b906c068b"},
    "probabilistic_with_latency": {"fills": 17, "orders_placed": 27, "orders_cancelled": 12,
                                   "pnl_pusd": "1.9781376000000277", "digest": "087d37bba7276118"},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_backtest_of_the_busy_market_gives_its_pinned_result(busy_market: Path, case: str) -> None:
    result = run_backtest(BacktestConfig(data=busy_market, settings=SETTINGS, **CASES[case]))
    assert result.exit_reason == "market_end"
    assert fingerprint(result) == PINNED[case]


# A longer conflated run: a change in which task sees a frame first can move one order in twenty minutes
# and none in 150 s (a message-level connector tried for speed did, before the speed work). Taken at
# 532ef74 (before the integer market data and the speed work) and unchanged by both, nor by the
# message-level connector the backtest now uses: 111 fills, 206 orders placed, 57.22 pUSD.
# Re-pinned for issue 18 (the leading side's ladder bounded by the skew limit, see above): 94 fills, 184
# orders placed, 46.32 pUSD, both sides even at the end as before; the pair cost is 0.9144 (was 0.9155).
LONG_PINNED = {"fills": 94, "orders_placed": 184, "orders_cancelled": 116, "pnl_pusd": "46.31874179999997",
               "digest": "8e9889b00e44d362"}


def test_twenty_minutes_of_the_busy_market_conflated_give_their_pinned_result(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    path = tmp_path_factory.mktemp("pinned_long") / "busy.parquet"
    write_busy_market(path, seconds=1200, rate=20.0, seed=5)
    result = run_backtest(BacktestConfig(data=path, settings=SETTINGS, conflate_ms=250))
    assert result.exit_reason == "market_end"
    assert fingerprint(result) == LONG_PINNED
