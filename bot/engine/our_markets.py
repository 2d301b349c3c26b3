"""The one answer to "which markets are ours": the series windows the trading loop follows.

The supervisor's discovery and every operator command (`orders`, `cancel-all`, `doctor`) read the
series, their window length and the look-ahead from here, so they can never disagree (they once did:
the operator commands ignored `BOT_SERIES_WINDOW_S` and reported an empty scope while the bot quoted).

A series window is the simulator's compressed one in paper mode (`BOT_PAPER_WINDOW_S`), the configured
`BOT_SERIES_WINDOW_S` when set, else the series' own N minutes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.engine.discovery import series_slugs, series_window_s
from bot.engine.sharding import owned
from settings import BotMode, BotSettings

__all__ = ["SeriesPlan", "our_series", "series_plan", "window_source", "window_of"]


def window_of(settings: BotSettings, series: str) -> float:
    """The real window length (s) of `series` under `settings`."""
    compressed = settings.paper_window_s if settings.mode is BotMode.PAPER else settings.series_window_s
    return series_window_s(series, compressed)


def window_source(settings: BotSettings) -> str:
    """Where the window length comes from, for messages that say what was assumed."""
    if settings.mode is BotMode.PAPER:
        return "BOT_PAPER_WINDOW_S"
    if settings.series_window_s is not None:
        return "BOT_SERIES_WINDOW_S"
    return "the series' own minutes (BOT_SERIES_WINDOW_S unset)"


def our_series(settings: BotSettings) -> tuple[str, ...]:
    """The series this process follows: its shard's share of BOT_SERIES."""
    return tuple(owned(settings.series, settings.shard_index, settings.shard_count))


@dataclass(frozen=True, slots=True)
class SeriesPlan:
    """One series' windows to look up around a moment: their length and slugs, oldest first."""

    series: str
    window_s: float
    slugs: tuple[str, ...]


def series_plan(settings: BotSettings, now_s: float, *, windows_behind: int = 0) -> list[SeriesPlan]:
    """The windows the trading loop looks up at `now_s` (the current one and enough ahead to start each
    runner `rollover_lead_s` early), plus `windows_behind` earlier ones (they may still hold orders)."""
    plans = []
    for series in our_series(settings):
        window = window_of(settings, series)
        ahead = max(2, math.ceil(settings.rollover_lead_s / window) + 2)
        slugs = series_slugs(series, now_s - windows_behind * window, window, ahead + windows_behind)
        plans.append(SeriesPlan(series, window, tuple(slugs)))
    return plans
