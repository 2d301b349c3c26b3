"""The `record`, `backtest` and `sweep` commands' arguments (argparse only: nothing heavy imported)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_replay_commands"]


def _time_ms(text: str) -> int:
    """Unix seconds, unix milliseconds, or ISO 8601 (UTC if no zone)."""
    from datetime import UTC, datetime

    try:
        value = float(text)
        return int(value if value > 1e11 else value * 1000)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a time: {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _replay_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", type=Path, metavar="DATA", help="a Parquet file or a folder of them (PMXT v2 schema)")
    parser.add_argument("--market", metavar="CID", help="condition id to replay (default: the busiest in DATA)")
    parser.add_argument("--from", dest="from_ms", type=_time_ms, metavar="T", help="start (unix s/ms or ISO 8601)")
    parser.add_argument("--to", dest="to_ms", type=_time_ms, metavar="T", help="end, exclusive")
    parser.add_argument("--queue", choices=("conservative", "probabilistic"), default="conservative",
                        help="queue-position model (default conservative)")
    parser.add_argument("--queue-power", type=float, default=3.0, metavar="N", help="probabilistic model's power")
    parser.add_argument("--latency", default="0", metavar="L",
                        help="order latency each way: seconds, '25ms', or a file of measured samples in ms")
    parser.add_argument("--feed-latency", default="0", metavar="L", help="market-data latency, same forms")
    parser.add_argument("--taker-delay-s", type=float, default=0.0, metavar="S",
                        help="the venue's taker delay (crypto markets: 0.05)")
    parser.add_argument("--fee-rate", type=float, default=0.07, help="taker fee rate (crypto 0.07)")
    parser.add_argument("--rebate-share", type=float, default=0.20, help="maker rebate share of taker fees")
    parser.add_argument("--conflate-ms", type=int, default=0, metavar="MS",
                        help="show the bot the recorded depth at most every MS ms (faster; fills stay exact)")
    parser.add_argument("--seed", type=int, default=0, help="seed (latency samples, keys)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")


def add_replay_commands(command: Any) -> None:
    """Declare the commands on the CLI's `command(name, help)` factory."""
    record = command("record", "record the market channel (live or simulator) to rotated Parquet files "
                     "in the PMXT v2 schema")
    record.add_argument("--markets", nargs="+", metavar="CID", help="condition ids to record")
    record.add_argument("--series", nargs="+", metavar="S", help="series ('{asset}-updown-{N}m'): current windows")
    record.add_argument("--assets", nargs="+", metavar="TOKEN", help="token ids to record")
    record.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the files")
    record.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (default: until ^C)")
    record.add_argument("--sim", action="store_true", help="record the embedded simulator's synthetic market")
    record.add_argument("--window-s", type=float, metavar="S", help="series window (simulator / paper)")
    record.add_argument("--seed", type=int, default=7, help="simulator flow seed")

    backtest = command("backtest", "replay recorded market data through the simulator's matching engine "
                       "and run the production engine against it; report next to the data")
    _replay_options(backtest)
    backtest.add_argument("--report", type=Path, metavar="FILE", help="HTML report path (default: next to DATA)")

    sweep = command("sweep", "backtest every combination of a settings grid on all cores, ranked by P&L")
    _replay_options(sweep)
    sweep.add_argument("--grid", nargs="+", required=True, metavar="NAME=V1,V2",
                       help="settings and their values, e.g. ladder_levels=2,3 top_offset_ticks=0,1")
    sweep.add_argument("--workers", type=int, metavar="N", help="processes (default: every core)")
    sweep.add_argument("--reports", action="store_true", help="also write each combination's HTML report")
