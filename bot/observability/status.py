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
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.text import Text

from bot.observability.incentives_view import incentives_pairs, incentives_summary_line, incentives_text
from bot.observability.snapshot import BotStatus, MarketStatus, TokenStatus

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

_MISSING: Final = "-"
_SECONDS_PER_MINUTE: Final = 60
_SECONDS_PER_HOUR: Final = 3600


# --- small formatters ---------------------------------------------------------------------------------
def format_countdown(seconds: float) -> str:
    """`1h02m03s`, `1m23s` or `42.5s`; `passed` when the moment is behind us."""
    if seconds <= 0:
        return "passed"
    if seconds < _SECONDS_PER_MINUTE:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    hours, rest = divmod(whole, _SECONDS_PER_HOUR)
    minutes, secs = divmod(rest, _SECONDS_PER_MINUTE)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s"


def _price(value: float | None) -> str:
    """A price with up to 4 decimals and no trailing zeros (`0.48`, `0.4825`)."""
    if value is None:
        return _MISSING
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text or "0"


def _shares(value: float) -> str:
    return f"{value:g}"


def _pusd(value: float) -> str:
    return f"{value:+.2f}"


# --- rich rendering -----------------------------------------------------------------------------------
def _header(status: BotStatus) -> Text:
    def health(ok: bool) -> tuple[str, str]:
        return ("ok", "green") if ok else ("DOWN", "bold red")

    hb = _MISSING if status.heartbeat_age_s is None else f"{status.heartbeat_age_s:.1f}s ago"
    lag = _MISSING if status.loop_lag_ms is None else f"{status.loop_lag_ms:.1f} ms"
    return Text.assemble(
        ("mode ", "dim"), (status.mode, "bold"),
        ("  heartbeat ", "dim"), hb,
        ("  ws market ", "dim"), health(status.ws_market_connected),
        (" user ", "dim"), health(status.ws_user_connected),
        (f" (reconnects {status.ws_reconnects})", "dim"),
        ("  loop lag ", "dim"), lag,
        ("  open orders ", "dim"), str(status.open_orders),
        ("  markets ", "dim"), f"{len(status.markets)} (+{status.finished_markets} done)",
    )  # fmt: skip


# Ladder columns: level, price, size, state, matched. Fixed widths, so the two tokens sit side by side
# as plain text: rich's nested tables cost ~8 ms per market to lay out, a blocking stall on the Trio loop.
_LADDER_HEAD: Final = f"{'lvl':>3} {'price':>7} {'size':>8} {'state':<17} {'matched':>8}"
_TOKEN_WIDTH: Final = len(_LADDER_HEAD)
_TOKEN_GAP: Final = "    "


def _token_lines(token: TokenStatus) -> list[Text]:
    """One token's block: a title line, the column heads, one line per open order (best level first)."""
    avg = _MISSING if token.avg_cost is None else f"{token.avg_cost:.4f}"
    title = Text.assemble(
        (token.outcome, "bold"),
        f"  bid {_price(token.best_bid)} / ask {_price(token.best_ask)}",
        f"  inv {_shares(token.inventory_shares)} @ {avg}",
    )
    lines = [title, Text(_LADDER_HEAD, style="dim")]
    if not token.ladder:
        lines.append(Text("    no orders", style="dim"))
    for row in token.ladder:
        lines.append(
            Text(
                f"{row.level:>3} {_price(row.price):>7} {_shares(row.size_shares):>8} "
                f"{row.state[:17]:<17} {_shares(row.matched_shares):>8}"
            )
        )
    for line in lines:
        line.truncate(_TOKEN_WIDTH, pad=True)
    return lines


def _side_by_side(left: list[Text], right: list[Text]) -> Text:
    blank = Text(" " * _TOKEN_WIDTH)
    rows = []
    for index in range(max(len(left), len(right))):
        a = left[index] if index < len(left) else blank
        b = right[index] if index < len(right) else Text("")
        rows.append(Text.assemble(a, _TOKEN_GAP, b))
    return Text("\n").join(rows)


def _market_panel(market: MarketStatus) -> Panel:
    block = Text(market.block_reason, style="yellow") if market.block_reason else Text("none", style="green")
    top = Text.assemble(
        ("state ", "dim"), (market.state, "bold cyan"),
        ("  cutoff in ", "dim"), format_countdown(market.seconds_to_cutoff),
        ("  end in ", "dim"), format_countdown(market.seconds_to_end),
        ("  block ", "dim"), block,
    )  # fmt: skip
    ladders = _side_by_side(_token_lines(market.up), _token_lines(market.down))
    pair_cost = _MISSING if market.pair_cost is None else f"{market.pair_cost:.4f}"
    bottom = Text.assemble(
        ("pair cost ", "dim"), pair_cost, ("  paired ", "dim"), _shares(market.paired_shares),
        ("  P&L marked ", "dim"), _pusd(market.marked_pnl_pusd), ("  realised ", "dim"), _pusd(market.realised_pnl_pusd),
        "\n",
        ("posted ", "dim"), str(market.orders_posted), ("  cancelled ", "dim"), str(market.orders_cancelled),
        ("  rejects ", "dim"), f"{market.rejects_expected} expected / {market.rejects_unexpected} unexpected",
        ("  fills ", "dim"), str(market.fills),
        ("  completions ", "dim"), f"{market.completions_filled}/{market.completions_sent}",
        ("  storms ", "dim"), str(market.storms),
    )  # fmt: skip
    parts = [top, ladders, bottom]
    if market.incentives is not None:
        parts.append(Text(incentives_text(market.incentives), style="dim"))
    body = Text("\n").join(parts)
    return Panel(body, title=Text(market.slug, style="bold"), title_align="left")


def render(status: BotStatus) -> RenderableType:
    """The whole screen for one snapshot: a header line, then a panel per market."""
    parts: list[RenderableType] = [_header(status)]
    if not status.markets:
        parts.append(Text("no market active", style="dim"))
    parts.extend(_market_panel(market) for market in status.markets)
    parts.extend(Text(f"selection {line}", style="dim") for line in status.selections)
    return Group(*parts)


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
        (f"{prefix}_prices", ",".join(_price(r.price) for r in token.ladder) or None),
    ]


def plain_lines(status: BotStatus) -> list[str]:
    """`bot k=v …` then one `market k=v …` line per market: greppable, one value per key, no spaces in values."""
    lines = [
        "bot "
        + _kv(
            [
                ("mode", status.mode),
                ("heartbeat_age_s", status.heartbeat_age_s),
                ("ws_market", status.ws_market_connected),
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
                frame = self._frame(source, render)
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
    head = f"run summary: exit {summary.get('exit_reason') or _MISSING}"
    if duration is not None:
        head += f" after {format_countdown(float(duration)) if float(duration) > 0 else '0s'}"
    lines = [head]
    lines.append(f"markets traded: {len(markets)}")
    lines.append(
        f"orders posted: {_sum(markets, 'posted'):g}, cancelled: {_sum(markets, 'cancelled'):g}, "
        f"rejected: {_sum(markets, 'rejected_expected'):g} expected / {_sum(markets, 'rejected_unexpected'):g} unexpected"
    )
    lines.append(f"fills: {_sum(markets, 'fills'):g} (reversed {_sum(markets, 'fills_reversed'):g})")
    if summary.get("venue_fills") is not None:
        lines.append(f"fills in the venue's trade records: {summary['venue_fills']}")
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
        f"P&L: realised {_pusd(_sum(markets, 'realised_pnl_pusd'))} pUSD, marked {_pusd(_sum(markets, 'marked_pnl_pusd'))} pUSD"
    )
    lines.append(incentives_summary_line(markets))
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


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)
