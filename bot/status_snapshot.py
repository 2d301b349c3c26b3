"""The bot's `BotStatus` at one instant, built from the supervisor: what the screen and metrics show."""

from __future__ import annotations

from typing import Any

from bot.engine.clock import VenueClock
from bot.engine.supervisor import Supervisor
from bot.observability.snapshot import BotStatus, market_status_from_runner

__all__ = ["snapshot"]

# The latest market-selection verdicts shown (series mode keeps one per candidate ever seen).
_SELECTIONS_SHOWN = 6


def snapshot(
    supervisor: Supervisor, clock: VenueClock, mode: str, loop_lag: Any = None, *, dry_run: bool = False,
    stop_hint: str = "",
) -> BotStatus:
    """Read-only: safe to call from any task between checkpoints."""
    now = clock.now_s()
    markets = tuple(market_status_from_runner(r, now) for r in list(supervisor.runners.values()))
    hb = supervisor.heartbeat
    hb_age = None
    if hb is not None and hb.last_ok_time is not None:
        hb_age = max(0.0, clock.to_trio(now) - hb.last_ok_time)
    user_connected = False
    reconnects = 0
    if supervisor.user_hub is not None:
        stats = supervisor.user_hub.stream.statistics()
        user_connected = stats.connected
        reconnects += stats.reconnects
    market_connected = False
    market_streams = 0
    if supervisor.market_hub is not None:
        hub_stats = supervisor.market_hub.statistics()
        market_connected = bool(hub_stats["connected"])
        market_streams = int(hub_stats["tokens"])
        reconnects += int(hub_stats["reconnects"])
    lag_ms = None
    if loop_lag is not None:
        lag_ms = loop_lag.statistics().p99_ms
    return BotStatus(
        now_s=now,
        mode=mode,
        markets=markets,
        heartbeat_age_s=hb_age,
        ws_market_connected=market_connected,
        ws_user_connected=user_connected,
        ws_reconnects=reconnects,
        loop_lag_ms=lag_ms,
        open_orders=sum(m.open_orders for m in markets),
        finished_markets=supervisor.stats.markets_finished,
        selections=tuple(sel.describe() for sel in list(supervisor.selections.values())[-_SELECTIONS_SHOWN:]),
        dry_run=dry_run,
        notes=supervisor.waits.current(),
        stop_hint=stop_hint,
        ws_market_tokens=market_streams,
    )
