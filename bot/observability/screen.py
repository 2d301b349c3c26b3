"""The status screen's layout: a header, then one panel per market, fitted to the terminal's width.

Guarantees: no line is wider than the width it is laid out for (a test renders at 80 and 120 columns),
and nothing wraps mid-row: the two sides' ladders sit side by side, with full columns from 102
columns, with compact ones (no level column, short state names) at 80, and stacked (Up, then Down)
when narrower still. At 80x24 two markets fit during a rollover (one quoting, one past its cutoff). Lines of labelled fields are packed greedily, so a narrow
screen gets more lines rather than wrapped ones. Each side shows its own block reason (e.g. the
inventory-skew cap on the leading side while the market quotes).

The layout is built from small functions, one per part (header, notes, a side's block, a market panel,
footer), so another part (e.g. a rewards estimate) is one more function and one more line in `render`.
Text from the venue (slugs, reasons) is never parsed as rich markup. Plain text layout, not nested rich
tables: those cost ~8 ms per market to lay out, a blocking stall on the Trio loop.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Final

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from bot.observability.formats import MISSING, fmt_price, fmt_pusd, fmt_shares, format_countdown
from bot.observability.incentives_view import incentives_text
from bot.observability.snapshot import BotStatus, MarketStatus, TokenStatus

__all__ = ["DEFAULT_WIDTH", "render"]

DEFAULT_WIDTH: Final = 120
# Ladder columns: level, price, size, state, matched. Fixed widths, so a side is one block of text.
_LADDER_HEAD: Final = f"{'lvl':>3} {'price':>7} {'size':>8} {'state':<17} {'matched':>8}"
_SIDE_WIDTH: Final = len(_LADDER_HEAD)
_SIDE_GAP: Final = "    "
_PANEL_CHROME: Final = 4  # a panel's two borders and two padding columns
_FIELD_GAP: Final = "  "
_MIN_WIDTH: Final = 40

Segment = tuple[str, str]  # (text, style)
Field = tuple[Segment, ...]  # one labelled field: never split across lines


def _pack(fields: Sequence[Field], width: int) -> list[Text]:
    """Fields joined by two spaces, as many per line as fit in `width`; a field wider than the line is cut."""
    lines: list[Text] = []
    current = Text()
    for field in fields:
        piece = Text.assemble(*field)
        if current.cell_len and current.cell_len + len(_FIELD_GAP) + piece.cell_len > width:
            lines.append(current)
            current = Text()
        if current.cell_len:
            current.append(_FIELD_GAP)
        current.append_text(piece)
    if current.cell_len or not lines:
        lines.append(current)
    for line in lines:
        line.truncate(width, overflow="ellipsis")
    return lines


def _label(name: str, value: str, style: str = "") -> Field:
    return ((f"{name} ", "dim"), (value, style))


# --- header, notes, footer -------------------------------------------------------------------------------
def _header(status: BotStatus, width: int) -> list[Text]:
    def health(ok: bool) -> tuple[str, str]:
        return ("ok", "green") if ok else ("DOWN", "bold red")

    hb = MISSING if status.heartbeat_age_s is None else f"{status.heartbeat_age_s:.1f}s ago"
    lag = MISSING if status.loop_lag_ms is None else f"{status.loop_lag_ms:.1f} ms"
    # Nothing subscribed yet (waiting for a window) is idle, not a failure.
    market_ws = ("idle (no market subscribed yet)", "yellow") if status.ws_market_tokens == 0 else health(
        status.ws_market_connected)
    mode: Field = (("mode ", "dim"), (status.mode, "bold"))
    if status.dry_run:
        mode = (*mode, (" DRY RUN: nothing is sent", "bold magenta"))
    fields: list[Field] = [
        mode,
        _label("heartbeat", hb),
        (("ws market ", "dim"), market_ws, (" user ", "dim"), health(status.ws_user_connected),
         (f" (reconnects {status.ws_reconnects})", "dim")),
        _label("loop lag", lag),
        _label("open orders", str(status.open_orders)),
        _label("markets", f"{len(status.markets)} (+{status.finished_markets} done)"),
    ]
    return _pack(fields, width)


def _notes(status: BotStatus, width: int) -> list[Text]:
    lines = []
    for note in status.notes:
        # Wrapped at word boundaries, not cut: the slugs tried and the window assumed are the point.
        lines.extend(Text(part, style="yellow") for part in textwrap.wrap(note, width, break_on_hyphens=False))
    return lines


def _footer(status: BotStatus, width: int) -> list[Text]:
    # "how it ends; how to stop it": one field per clause, so a narrow screen gets two lines, not a cut.
    return _pack([((clause, "dim"),) for clause in status.stop_hint.split("; ") if clause], width)


# --- one market ------------------------------------------------------------------------------------------
# Compact ladder columns for narrow terminals: both sides still side by side in 80 columns.
_COMPACT_HEAD: Final = f"{'price':>6} {'size':>7} {'state':<10} {'matched':>7}"
_COMPACT_WIDTH: Final = len(_COMPACT_HEAD)
_STATE_SHORT: Final = {"unknown_outcome": "unknown?", "cancelling": "cancelling"}


def _row(level: int, price: float, size: float, state: str, matched: float, compact: bool) -> str:
    if compact:
        short = _STATE_SHORT.get(state, state)[:10]
        return f"{fmt_price(price):>6} {fmt_shares(size):>7} {short:<10} {fmt_shares(matched):>7}"
    return f"{level:>3} {fmt_price(price):>7} {fmt_shares(size):>8} {state[:17]:<17} {fmt_shares(matched):>8}"


def _side_lines(token: TokenStatus, market_blocked: bool, width: int, *, compact: bool = False) -> list[Text]:
    """One side: title (top of book, inventory), its block reason, the column heads, one line per order.

    A side with no orders says so in one line instead of the column heads."""
    avg = MISSING if token.avg_cost is None else f"{token.avg_cost:.4f}"
    if compact:  # one title line: "Up 0.48/0.5 inv 10@0.4700" (bid/ask, inventory @ average cost)
        title = Text.assemble((token.outcome, "bold"), f" {fmt_price(token.best_bid)}/{fmt_price(token.best_ask)}",
                              (" inv ", "dim"), f"{fmt_shares(token.inventory_shares)}@{avg}")
        lines = [title]
    else:
        lines = _pack(
            [
                ((token.outcome, "bold"),),
                _label("bid", f"{fmt_price(token.best_bid)} / ask {fmt_price(token.best_ask)}"),
                _label("inv", f"{fmt_shares(token.inventory_shares)} @ {avg}"),
            ],
            width,
        )
    if not market_blocked:  # the market's own reason, shown once above, covers both sides
        block = (token.block_reason, "yellow") if token.block_reason else ("none", "green")
        lines.append(Text.assemble(("block ", "dim"), block))
    if not token.ladder:
        lines.append(Text("no orders", style="dim"))
    else:
        lines.append(Text(_COMPACT_HEAD if compact else _LADDER_HEAD, style="dim"))
    for row in token.ladder:
        lines.append(Text(_row(row.level, row.price, row.size_shares, row.state, row.matched_shares, compact)))
    for line in lines:
        line.truncate(width, overflow="ellipsis", pad=True)
    return lines


def _beside(left: list[Text], right: list[Text], left_width: int, gap: str) -> list[Text]:
    blank = Text(" " * left_width)
    return [
        Text.assemble(left[i] if i < len(left) else blank, gap, right[i] if i < len(right) else Text(""))
        for i in range(max(len(left), len(right)))
    ]


def _sides(market: MarketStatus, inner: int) -> list[Text]:
    """Both sides: side by side with full columns when they fit in `inner` columns, side by side with
    compact columns in 80 columns, stacked when narrower still."""
    blocked = market.block_reason is not None
    if inner >= 2 * _SIDE_WIDTH + len(_SIDE_GAP):
        left = _side_lines(market.up, blocked, _SIDE_WIDTH)
        return _beside(left, _side_lines(market.down, blocked, _SIDE_WIDTH), _SIDE_WIDTH, _SIDE_GAP)
    half = (inner - len(_FIELD_GAP)) // 2
    if half >= _COMPACT_WIDTH:
        left = _side_lines(market.up, blocked, half, compact=True)
        return _beside(left, _side_lines(market.down, blocked, half, compact=True), half, _FIELD_GAP)
    width = min(inner, _SIDE_WIDTH)
    return [*_side_lines(market.up, blocked, width), *_side_lines(market.down, blocked, width)]


def _market_top(market: MarketStatus, inner: int) -> list[Text]:
    block = (market.block_reason, "yellow") if market.block_reason else ("none", "green")
    return _pack(
        [
            _label("state", market.state, "bold cyan"),
            _label("cutoff in", format_countdown(market.seconds_to_cutoff)),
            _label("end in", format_countdown(market.seconds_to_end)),
            (("block ", "dim"), block),
        ],
        inner,
    )


def _market_bottom(market: MarketStatus, inner: int) -> list[Text]:
    pair_cost = MISSING if market.pair_cost is None else f"{market.pair_cost:.4f}"
    return _pack(
        [
            _label("pair cost", pair_cost),
            _label("paired", fmt_shares(market.paired_shares)),
            _label("P&L marked", fmt_pusd(market.marked_pnl_pusd)),
            _label("realised", fmt_pusd(market.realised_pnl_pusd)),
        ],
        inner,
    ) + _pack(
        [
            _label("posted", str(market.orders_posted)),
            _label("cancelled", str(market.orders_cancelled)),
            _label("rejects", f"{market.rejects_expected} expected / {market.rejects_unexpected} unexpected"),
            _label("fills", str(market.fills)),
            _label("completions", f"{market.completions_filled}/{market.completions_sent}"),
            _label("storms", str(market.storms)),
        ],
        inner,
    )


def _market_panel(market: MarketStatus, width: int) -> Panel:
    inner = max(_MIN_WIDTH, width) - _PANEL_CHROME
    lines = [*_market_top(market, inner), *_sides(market, inner), *_market_bottom(market, inner)]
    if market.incentives is not None:
        lines.append(Text(incentives_text(market.incentives), style="dim"))  # the panel wraps it to its width
    body = Text("\n").join(lines)
    title = Text(market.slug, style="bold")
    title.truncate(inner, overflow="ellipsis")
    return Panel(body, title=title, title_align="left", width=min(width, _panel_width(inner)))


def _panel_width(inner: int) -> int:
    return min(inner, 2 * _SIDE_WIDTH + len(_SIDE_GAP)) + _PANEL_CHROME


def render(status: BotStatus, width: int = DEFAULT_WIDTH) -> RenderableType:
    """The whole screen for one snapshot, laid out for `width` columns."""
    width = max(_MIN_WIDTH, width)
    parts: list[RenderableType] = [*_header(status, width), *_notes(status, width)]
    if not status.markets:
        parts.append(Text("no market active", style="dim"))
    parts.extend(_market_panel(market, width) for market in status.markets)
    parts.extend(Text(f"selection {line}", style="dim") for line in status.selections)
    parts.extend(_footer(status, width))
    return Group(*parts)
