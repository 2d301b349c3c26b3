"""Parameter sweeps: one backtest per combination of a settings grid, spread over every core, ranked
by P&L. Each worker reads the recording itself (it is cheap next to a replay) and returns the summary
without its time series, so the results stay small."""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from typing import Any

from bot.replay.backtest import BacktestConfig, run_backtest
from bot.replay.report import summarise

__all__ = ["combinations", "format_ranking", "parse_grid", "run_sweep"]


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """`["ladder_levels=2,3", "top_offset_ticks=0,1"]` → {name: [values]} (numbers parsed); ValueError."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise ValueError(f"grid item {item!r}: expected name=v1,v2,...")
        parsed: list[Any] = []
        for text in values.split(","):
            text = text.strip()
            for convert in (int, float):
                try:
                    parsed.append(convert(text))
                    break
                except ValueError:
                    continue
            else:
                parsed.append({"true": True, "false": False}.get(text.lower(), text))
        grid[name.strip()] = parsed
    return grid


def combinations(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    names = sorted(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*(grid[n] for n in names))]


def _one(args: tuple[BacktestConfig, dict[str, Any]]) -> dict[str, Any]:
    base, combo = args
    settings = base.settings.model_validate({**base.settings.model_dump(), **combo})
    summary = summarise(run_backtest(replace(base, settings=settings)))
    summary.pop("series")
    summary.pop("fill_list")
    return {"params": combo, **summary}


def run_sweep(base: BacktestConfig, grid: Mapping[str, Sequence[Any]], *, workers: int | None = None) -> list[dict[str, Any]]:
    """Every combination's summary, best P&L first (ties: fewer orders placed first)."""
    combos = combinations(grid)
    for combo in combos:  # invalid values fail here, once, with pydantic's message per field
        base.settings.model_validate({**base.settings.model_dump(), **combo})
    jobs = [(base, combo) for combo in combos]
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(jobs) == 1:
        results = [_one(job) for job in jobs]
    else:
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            results = list(pool.map(_one, jobs))
    return sorted(results, key=lambda r: (-r["pnl_pusd"], r["orders_placed"]))


def format_ranking(results: Sequence[dict[str, Any]]) -> str:
    if not results:
        return "no combinations\n"
    names = list(results[0]["params"])
    header = ["rank", *names, "pnl_pusd", "fills", "pair_cost", "uptime", "orders"]
    lines = [header]
    for rank, r in enumerate(results, 1):
        pair = "-" if r["pair_cost"] is None else f"{r['pair_cost']:.4f}"
        lines.append([str(rank), *(str(r["params"][n]) for n in names), f"{r['pnl_pusd']:.4f}", str(r["fills"]),
                      pair, f"{r['quote_uptime']:.0%}", str(r["orders_placed"])])
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in lines) + "\n"
