"""Live status of the bot: a rich screen on a terminal, structured key=value lines elsewhere, a final summary.

- `render(status)`: a rich renderable (a header line, then one panel per market with its state,
  countdowns, block reason, both tokens' ladders, top of book, inventory, pair cost and P&L).
- `plain_lines(status)`: one `key=value` line for the bot, then one per market, for logs and pipes.
- `StatusDisplay`: a Trio task that redraws the screen every `refresh_s` on a terminal, or logs the
  plain lines every `plain_interval_s` when stdout is not one. A failure to build or draw a status is
  logged and skipped: the display never stops the trading it reports on.
- `format_summary(summary)`: the end-of-run text.

Text from the venue (slugs, reasons) is never parsed as rich markup.
"""

from __future__ import annotations

import logging
import statistics as stats
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final, TextIO

import trio
from rich.console import Console
from rich.live import Live

from bot.observability.formats import MISSING, fmt_price, fmt_pusd, fmt_shares, format_countdown
from bot.observability.incentives_view import incentives_pairs, incentives_summary_line
from bot.observability.screen import render
from bot.observability.snapshot import BotStatus, TokenStatus

__all__ = [
    "DEFAULT_PLAIN_INTERVAL_S",
    "DEFAULT_REFRESH_S",
    "StatusDisplay",
    "format_countdown",
    "format_summary",
    "plain_lines",
    "render",
]

log = logging.getLogger(__name__)

# Two redraws a second. A frame costs about 1 ms of the Trio thread per market (rich's layout and
# terminal write, measured on the 2-core dev box), so faster redraws would show up as loop lag.
# Under systemd stdout is no terminal and the cheap plain lines are used instead.
DEFAULT_REFRESH_S: Final = 0.5
# A log line per market every 10 s: enough to follow a 15-minute market, little enough to read back.
DEFAULT_PLAIN_INTERVAL_S: Final = 10.0

_MISSING: Final = MISSING
_price = fmt_price
_shares = fmt_shares
_pusd = fmt_pusd


# --- plain lines ------------------------------------------------------------------------------------------
def _kv(pairs: Iterable[tuple[str, object]]) -> str:
    def text(value: object) -> str:
        if value is None:
            return _MISSING
        if isinstance(value, bool):
            return "up" if value else "down"
        if isinstance(value, float):
            return f"{value:.6g}"
        # One token per value, whatever the venue put in a slug or reason.
        return str(value).replace(" ", "_") or _MISSING

    return " ".join(f"{key}={text(value)}" for key, value in pairs)


def _token_pairs(prefix: str, token: TokenStatus) -> list[tuple[str, object]]:
    return [
        (f"{prefix}_bid", token.best_bid),
        (f"{prefix}_ask", token.best_ask),
        (f"{prefix}_inv", token.inventory_shares),
        (f"{prefix}_avg", token.avg_cost),
        (f"{prefix}_orders", len(token.ladder)),
        (f"{prefix}_block", token.block_reason),
        (f"{prefix}_prices", ",".join(_price(r.price) for r in token.ladder) or None),
    ]


def plain_lines(status: BotStatus) -> list[str]:
    """`bot k=v …` then one `market k=v …` line per market: greppable, one value per key, no spaces in values."""
    lines = [
        "bot "
        + _kv(
            [
                ("mode", status.mode + ("(dry-run)" if status.dry_run else "")),
                ("heartbeat_age_s", status.heartbeat_age_s),
                # No market subscribed yet (waiting for a window) is idle, not down.
                ("ws_market", "idle" if status.ws_market_tokens == 0 else status.ws_market_connected),
                ("ws_user", status.ws_user_connected),
                ("ws_reconnects", status.ws_reconnects),
                ("loop_lag_ms", status.loop_lag_ms),
                ("open_orders", status.open_orders),
                ("markets", len(status.markets)),
                ("finished_markets", status.finished_markets),
            ]
        )
    ]
    for m in status.markets:
        pairs: list[tuple[str, object]] = [
            ("slug", m.slug),
            ("state", m.state),
            ("block", m.block_reason),
            ("cutoff_in_s", round(m.seconds_to_cutoff, 1)),
            ("end_in_s", round(m.seconds_to_end, 1)),
            *_token_pairs("up", m.up),
            *_token_pairs("down", m.down),
            ("pair_cost", m.pair_cost),
            ("paired", m.paired_shares),
            ("pnl_marked", round(m.marked_pnl_pusd, 4)),
            ("pnl_realised", round(m.realised_pnl_pusd, 4)),
            ("posted", m.orders_posted),
            ("cancelled", m.orders_cancelled),
            ("rejects_expected", m.rejects_expected),
            ("rejects_unexpected", m.rejects_unexpected),
            ("fills", m.fills),
            ("completions", f"{m.completions_filled}/{m.completions_sent}"),
            ("storms", m.storms),
            *incentives_pairs(m.incentives),
        ]
        lines.append("market " + _kv(pairs))
    lines.extend(f"selection {line}" for line in status.selections)
    return lines


# --- the display task -------------------------------------------------------------------------------------
class StatusDisplay:
    """Shows `get_status()` until cancelled: a rich Live screen on a terminal, logged plain lines otherwise.

    Two ways to run it: `await display.run(get_status, refresh_s)` in a nursery of yours, or
    `async with StatusDisplay(get_status) as display:` which runs it in a nursery of its own for the
    body of the block. The screen goes to `console`, or to a console on `out` (default stdout);
    `tty=None` asks that console whether it is a terminal.
    """

    def __init__(
        self,
        get_status: Callable[[], BotStatus] | None = None,
        refresh_s: float = DEFAULT_REFRESH_S,
        *,
        plain_interval_s: float = DEFAULT_PLAIN_INTERVAL_S,
        console: Console | None = None,
        out: TextIO | None = None,
        tty: bool | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if not refresh_s > 0 or not plain_interval_s > 0:
            raise ValueError("refresh_s and plain_interval_s must be > 0")
        if console is not None and out is not None:
            raise ValueError("give console or out, not both")
        self._get_status = get_status
        self.refresh_s = refresh_s
        self.plain_interval_s = plain_interval_s
        self.console = console if console is not None else Console(file=out)
        self.tty = self.console.is_terminal if tty is None else tty
        self._log = logger if logger is not None else log
        self.frames = 0
        self.errors = 0
        self._last_error: str | None = None
        self._cm: Any = None

    async def run(
        self,
        get_status: Callable[[], BotStatus] | None = None,
        refresh_s: float | None = None,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Refresh until cancelled (every `refresh_s` on a terminal, every `plain_interval_s` otherwise).

        ValueError if no `get_status` was given here or to the constructor.
        """
        source = get_status or self._get_status
        if source is None:
            raise ValueError("StatusDisplay.run needs get_status")
        period = refresh_s if refresh_s is not None else self.refresh_s
        if self.tty:
            await self._run_live(source, period, task_status)
        else:
            await self._run_plain(source, task_status)

    async def _run_live(
        self, source: Callable[[], BotStatus], period_s: float, task_status: trio.TaskStatus[None]
    ) -> None:
        # auto_refresh=False: rich would otherwise redraw from a thread of its own; here the Trio task
        # draws, so no thread ever reads a half-updated snapshot.
        with Live(console=self.console, auto_refresh=False, transient=False, redirect_stderr=True) as live:
            task_status.started()
            while True:
                frame = self._frame(source, lambda status: render(status, self.console.width))
                if frame is not None:
                    live.update(frame, refresh=True)
                await trio.sleep(period_s)

    async def _run_plain(self, source: Callable[[], BotStatus], task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        while True:
            lines = self._frame(source, plain_lines)
            for line in lines or ():
                self._log.info("%s", line)
            await trio.sleep(self.plain_interval_s)

    def _frame(self, source: Callable[[], BotStatus], draw: Callable[[BotStatus], Any]) -> Any:
        try:
            frame = draw(source())
        except Exception as exc:
            self.errors += 1
            text = f"{type(exc).__name__}: {exc}"
            # Log a failing snapshot once per distinct error, not four times a second.
            if text != self._last_error:
                self._last_error = text
                self._log.exception("status display skipped a frame")
            return None
        self.frames += 1
        self._last_error = None
        return frame

    @asynccontextmanager
    async def _running(self) -> AsyncIterator[StatusDisplay]:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.run)
            try:
                yield self
            finally:
                nursery.cancel_scope.cancel()

    async def __aenter__(self) -> StatusDisplay:
        if self._get_status is None:
            raise ValueError("async with StatusDisplay(...) needs get_status")
        self._cm = self._running()
        return await self._cm.__aenter__()

    async def __aexit__(self, *exc_info: object) -> bool | None:
        cm, self._cm = self._cm, None
        return await cm.__aexit__(*exc_info)

    def __repr__(self) -> str:
        kind = "live" if self.tty else "plain"
        return f"<StatusDisplay {kind} frames={self.frames} errors={self.errors}>"


# --- end-of-run summary -----------------------------------------------------------------------------------
def _sum(markets: list[Mapping[str, Any]], key: str) -> float:
    return sum(float(m.get(key) or 0) for m in markets)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def format_summary(summary: Mapping[str, Any]) -> str:
    """The end-of-run text: totals across markets, cancel-all timings, what is left on the venue, per-market lines.

    `summary` has `markets` (a list of `MarketRunner.summary()` dicts), `open_orders_left` (int, or
    None when the final venue check could not run), `exit_reason` and `duration_s`. Missing keys are
    shown as `-`, never guessed.
    """
    markets: list[Mapping[str, Any]] = list(summary.get("markets") or [])
    duration = summary.get("duration_s")
    dry_run = bool(summary.get("dry_run"))
    head = f"run summary{' (DRY RUN: nothing was sent to the venue)' if dry_run else ''}: " \
        f"exit {summary.get('exit_reason') or _MISSING}"
    if duration is not None:
        head += f" after {format_countdown(float(duration)) if float(duration) > 0 else '0s'}"
    lines = [head]
    lines.append(f"markets traded: {len(markets)}")
    verb = "computed (not sent)" if dry_run else "posted"
    lines.append(
        f"orders {verb}: {_sum(markets, 'posted'):g}, cancelled: {_sum(markets, 'cancelled'):g}, "
        f"rejected: {_sum(markets, 'rejected_expected'):g} expected / {_sum(markets, 'rejected_unexpected'):g} unexpected"
    )
    lines.append(f"fills: {_sum(markets, 'fills'):g} (reversed {_sum(markets, 'fills_reversed'):g})")
    if summary.get("venue_fills") is not None:
        venue_fills = summary["venue_fills"]
        ours = _sum(markets, "fills") - _sum(markets, "fills_reversed")
        verdict = "agree" if venue_fills == ours else f"DIFFER from ours ({ours:g})"
        lines.append(f"fills in the venue's trade records since this run started: {venue_fills} ({verdict})")
    lines.append(
        f"pairs completed: {_sum(markets, 'paired_shares'):g} shares "
        f"(completion orders {_sum(markets, 'completions_filled'):g} filled / {_sum(markets, 'completions_sent'):g} sent)"
    )
    weighted = [
        (float(m["pair_cost"]), float(m.get("paired_shares") or 0))
        for m in markets
        if m.get("pair_cost") is not None and float(m.get("paired_shares") or 0) > 0
    ]
    paired = sum(w for _, w in weighted)
    avg = f"{sum(c * w for c, w in weighted) / paired:.4f}" if paired > 0 else _MISSING
    lines.append(f"average pair cost: {avg} pUSD")
    lines.append(
        f"P&L: realised {_pusd(_sum(markets, 'realised_pnl_pusd'))} pUSD, marked at last mid "
        f"{_pusd(_sum(markets, 'marked_pnl_pusd'))} pUSD"
        + (f", at best bid (liquidation) {_pusd(_sum(markets, 'liquidation_pnl_pusd'))} pUSD"
           if any("liquidation_pnl_pusd" in m for m in markets) else "")
    )
    lines.append(incentives_summary_line(markets))
    lines.extend(_unresolved_lines(markets))
    runs = [run for m in markets for run in (m.get("cancel_all_runs") or [])]
    if runs:
        durations = [float(run[1]) for run in runs]
        unverified = sum(1 for run in runs if not run[2])
        verdict = "yes" if unverified == 0 else f"NO ({unverified} not verified)"
        lines.append(
            f"cancel-all: {len(runs)} runs, max {_ms(max(durations))}, median {_ms(stats.median(durations))}, "
            f"all verified: {verdict}"
        )
    else:
        lines.append("cancel-all: 0 runs")
    left = summary.get("open_orders_left")
    lines.append(f"open orders left on venue: {_MISSING + ' (not checked)' if left is None else left}")
    for m in markets:
        pair_cost = m.get("pair_cost")
        lines.append(
            "  "
            + _kv(
                [
                    ("market", m.get("market")),
                    ("state", m.get("state")),
                    ("exit", m.get("exit_reason")),
                    ("posted", m.get("posted")),
                    ("fills", m.get("fills")),
                    ("up", m.get("up_shares")),
                    ("down", m.get("down_shares")),
                    ("pair_cost", None if pair_cost is None else round(float(pair_cost), 4)),
                    ("pnl_marked", _round(m.get("marked_pnl_pusd"))),
                    ("storms", m.get("storms")),
                    ("open_left", m.get("open_orders_left")),
                ]
            )
        )
    return "\n".join(lines)


def _unresolved_lines(markets: list[Mapping[str, Any]]) -> list[str]:
    """Unpaired shares are open positions until their market resolves: say so, with the mark they got."""
    lines = []
    for m in markets:
        for side, key, mark_key in (("Up", "unresolved_up_shares", "mark_up"), ("Down", "unresolved_down_shares",
                                                                               "mark_down")):
            shares = float(m.get(key) or 0)
            if shares <= 0:
                continue
            mark = m.get(mark_key)
            marked = f"marked at last mid {float(mark):.4f}" if mark is not None else "never priced: marked at 0"
            lines.append(f"unresolved position: {m.get('market')} {side} {shares:g} shares ({marked}; "
                         "pays $1 or $0 when the market resolves)")
    return lines


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)
