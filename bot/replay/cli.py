"""Handlers of `python -m bot backtest` and `python -m bot sweep`."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from bot.replay.backtest import BacktestConfig, run_backtest
from bot.replay.latency import latency_model
from bot.replay.report import format_summary, summarise, write_html
from bot.replay.sweep import format_ranking, parse_grid, run_sweep

__all__ = ["cli_backtest", "cli_sweep"]


def _config(args: argparse.Namespace, settings: Any) -> BacktestConfig:
    return BacktestConfig(
        data=args.data, settings=settings, market=args.market, from_ms=args.from_ms, to_ms=args.to_ms,
        queue=args.queue, queue_power=args.queue_power, order_latency=latency_model(args.latency, seed=args.seed),
        feed_latency=latency_model(args.feed_latency, seed=args.seed + 1), seed=args.seed,
        fee_rate=args.fee_rate, taker_delay_s=args.taker_delay_s, rebate_share=args.rebate_share,
        conflate_ms=args.conflate_ms,
    )


def _report_path(data: Path, market: str, suffix: str = "") -> Path:
    folder = data if data.is_dir() else data.parent
    return folder / f"backtest-{market[2:12]}{suffix}.html"


def cli_backtest(args: argparse.Namespace, settings: Any) -> int:
    try:
        config = _config(args, settings)
    except (OSError, ValueError) as exc:
        print(f"backtest: {exc}", file=sys.stderr)
        return 2
    try:
        result = run_backtest(config)
    except (FileNotFoundError, ValueError) as exc:
        print(f"backtest: {exc}", file=sys.stderr)
        return 2
    summary = summarise(result)
    report = write_html(summary, args.report or _report_path(args.data, result.market))
    if args.json:
        sys.stdout.write(orjson.dumps({**summary, "report": str(report)}).decode() + "\n")
    else:
        sys.stdout.write(format_summary(summary) + f"report: {report}\n")
    return 0


def cli_sweep(args: argparse.Namespace, settings: Any) -> int:
    try:
        grid = parse_grid(args.grid)
        config = _config(args, settings)
        results = run_sweep(config, grid, workers=args.workers)
    except (OSError, ValueError) as exc:  # pydantic's ValidationError is a ValueError: one line per field
        print(f"sweep: {exc}", file=sys.stderr)
        return 2
    if args.reports:
        for rank, row in enumerate(results, 1):
            combo_settings = settings.model_validate({**settings.model_dump(), **row["params"]})
            result = run_backtest(replace(config, settings=combo_settings))
            row["report"] = str(write_html(summarise(result), _report_path(args.data, result.market, f"-rank{rank}")))
    if args.json:
        sys.stdout.write(orjson.dumps(results).decode() + "\n")
    else:
        sys.stdout.write(format_ranking(results))
    return 0
