"""A backtest's numbers and how they are shown: a summary table, JSON, and an HTML page of inline SVG
plots (no plotting dependency).

P&L is marked to the Yes mid (the No mid is 1 − it) and split into: spread (each fill's price against
the mid at its time), fees paid as taker, estimated maker rebates (the pool's share of the taker fee our
maker fills generate: `rebate_share × C × fee_rate × p(1 − p)`, spec 12.3), rewards (0: not modelled
yet) and inventory (the rest: the mid moving under what we hold). Markouts: the mid 1/10/60 s after a
fill against its price, per share, averaged over shares.
"""

from __future__ import annotations

import bisect
import html
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bot.replay.backtest import BacktestResult
from bot.sim.wire import UNIT

__all__ = ["format_summary", "summarise", "write_html"]

MARKOUTS_S = (1, 10, 60)


def _mid_at(result: BacktestResult, t_ms: int) -> float | None:
    """The last sampled Yes mid at or before `t_ms` (price as a fraction)."""
    times = [t for t, _, _ in result.top]
    i = bisect.bisect_right(times, t_ms) - 1
    while i >= 0:
        _, bid, ask = result.top[i]
        if bid is not None and ask is not None:
            return (bid + ask) / 2 / UNIT
        i -= 1
    return None


def _token_mid(result: BacktestResult, token: str, t_ms: int) -> float | None:
    mid = _mid_at(result, t_ms)
    if mid is None:
        return None
    return mid if token == result.yes_token else 1.0 - mid


def summarise(result: BacktestResult) -> dict[str, Any]:
    """Every figure of the report, JSON-ready; `series` holds the plotted time series."""
    cash = fees = spread = rebates = 0.0
    inventory = {result.yes_token: 0.0, result.no_token: 0.0}
    bought = {result.yes_token: [0.0, 0.0], result.no_token: [0.0, 0.0]}  # shares, cost
    markout_sum = dict.fromkeys(MARKOUTS_S, 0.0)
    markout_shares = dict.fromkeys(MARKOUTS_S, 0.0)
    series: list[dict[str, float]] = []
    fills = sorted(result.fills, key=lambda f: f.t_ms)
    for fill in fills:
        shares, price, fee = fill.shares / UNIT, fill.price / UNIT, fill.fee / UNIT
        sign = 1.0 if fill.side == "BUY" else -1.0
        cash -= sign * shares * price + fee
        fees += fee
        inventory[fill.token_id] = inventory.get(fill.token_id, 0.0) + sign * shares
        if sign > 0:
            entry = bought.setdefault(fill.token_id, [0.0, 0.0])
            entry[0] += shares
            entry[1] += shares * price
        mid = _token_mid(result, fill.token_id, fill.t_ms)
        if mid is not None:
            spread += sign * (mid - price) * shares
        if fill.maker:
            rebates += result.rebate_share * shares * result.fee_rate * price * (1 - price)
        for horizon in MARKOUTS_S:
            later = _token_mid(result, fill.token_id, fill.t_ms + horizon * 1000)
            if later is not None:
                markout_sum[horizon] += sign * (later - price) * shares
                markout_shares[horizon] += shares
    # P&L over time: replay the fills against each sampled mid.
    k, c, inv_yes, inv_no, sp, fe, rb = 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    for t_ms, bid, ask in result.top:
        while k < len(fills) and fills[k].t_ms <= t_ms:
            f = fills[k]
            shares, price, fee = f.shares / UNIT, f.price / UNIT, f.fee / UNIT
            sign = 1.0 if f.side == "BUY" else -1.0
            c -= sign * shares * price + fee
            fe += fee
            if f.token_id == result.yes_token:
                inv_yes += sign * shares
            else:
                inv_no += sign * shares
            m = _token_mid(result, f.token_id, f.t_ms)
            sp += sign * (m - price) * shares if m is not None else 0.0
            rb += result.rebate_share * shares * result.fee_rate * price * (1 - price) if f.maker else 0.0
            k += 1
        if bid is None or ask is None:
            continue
        mid = (bid + ask) / 2 / UNIT
        series.append({"t": (t_ms - result.start_ms) / 1000, "pnl": c + inv_yes * mid + inv_no * (1 - mid) + rb,
                       "spread": sp, "fees": -fe, "rebates": rb, "inv_yes": inv_yes, "inv_no": inv_no, "mid": mid})
    final_mid = _mid_at(result, result.end_ms)
    marked = cash + (inventory[result.yes_token] * final_mid + inventory[result.no_token] * (1 - final_mid)
                     if final_mid is not None else 0.0)
    pnl = marked + rebates
    duration_s = max(1e-9, (result.end_ms - result.start_ms) / 1000)
    pair_cost = None
    y, n = bought[result.yes_token], bought[result.no_token]
    if y[0] > 0 and n[0] > 0:
        pair_cost = y[1] / y[0] + n[1] / n[0]
    return {
        "market": result.market,
        "duration_s": duration_s,
        "events": result.events,
        "fills": len(fills),
        "maker_fills": sum(1 for f in fills if f.maker),
        "taker_fills": sum(1 for f in fills if not f.maker),
        "volume_shares": sum(f.shares for f in fills) / UNIT,
        "pnl_pusd": pnl,
        "pnl_split": {"spread": spread, "fees": -fees, "rebates": rebates, "rewards": 0.0,
                      "inventory": pnl - spread + fees - rebates},
        "inventory_shares": {"yes": inventory[result.yes_token], "no": inventory[result.no_token]},
        "pair_cost": pair_cost,
        "markouts_per_share": {f"{h}s": (markout_sum[h] / markout_shares[h] if markout_shares[h] else None)
                               for h in MARKOUTS_S},
        "quote_uptime": min(1.0, result.quoting_ms / 1000 / duration_s),
        "orders_placed": result.orders_placed,
        "orders_cancelled": result.orders_cancelled,
        "exit_reason": result.exit_reason,
        "wall_s": result.wall_s,
        "speed_x_real_time": duration_s / result.wall_s if result.wall_s else None,
        "config": result.config,
        "series": series,
        "fill_list": [asdict(f) for f in fills],
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4f}"
    return str(value)


def _rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, shown value) of every line of the summary table."""
    rows = [
        ("market", summary["market"]), ("replayed", f"{summary['duration_s']:.0f} s, {summary['events']} events"),
        ("P&L (pUSD)", summary["pnl_pusd"]),
        *((f"  {k}", v) for k, v in summary["pnl_split"].items()),
        ("fills (maker/taker)", f"{summary['fills']} ({summary['maker_fills']}/{summary['taker_fills']})"),
        ("volume (shares)", summary["volume_shares"]),
        ("inventory yes / no", f"{summary['inventory_shares']['yes']:.2f} / {summary['inventory_shares']['no']:.2f}"),
        ("pair cost", summary["pair_cost"]),
        *((f"markout {k} (per share)", v) for k, v in summary["markouts_per_share"].items()),
        ("quote uptime", f"{summary['quote_uptime']:.1%}"),
        ("orders placed / cancelled", f"{summary['orders_placed']} / {summary['orders_cancelled']}"),
        ("exit", summary["exit_reason"]),
        ("speed", f"{summary['speed_x_real_time']:.0f}x real time" if summary["speed_x_real_time"] else "-"),
    ]
    return [(name, _fmt(value)) for name, value in rows]


def format_summary(summary: dict[str, Any]) -> str:
    """The summary table (text)."""
    rows = _rows(summary)
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows) + "\n"


def _svg(series: list[dict[str, float]], keys: list[str], title: str, width: int = 720, height: int = 200) -> str:
    colours = ["#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e"]
    pad = 30
    if not series:
        return f"<h3>{html.escape(title)}</h3><p>no data</p>"
    xs = [p["t"] for p in series]
    values = [p[k] for p in series for k in keys]
    x0, x1 = min(xs), max(xs) or 1.0
    y0, y1 = min(values), max(values)
    if y1 == y0:
        y0, y1 = y0 - 1, y1 + 1

    def sx(x: float) -> float:
        return pad + (x - x0) / ((x1 - x0) or 1) * (width - 2 * pad)

    def sy(y: float) -> float:
        return height - pad - (y - y0) / (y1 - y0) * (height - 2 * pad)

    lines = []
    for colour, key in zip(colours, keys, strict=False):
        points = " ".join(f"{sx(p['t']):.1f},{sy(p[key]):.1f}" for p in series)
        lines.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>')
    legend = " ".join(f'<span style="color:{c}">■ {html.escape(k)}</span>' for c, k in zip(colours, keys, strict=False))
    axis = (f'<text x="2" y="{pad}" font-size="10">{y1:.3f}</text>'
            f'<text x="2" y="{height - pad}" font-size="10">{y0:.3f}</text>'
            f'<text x="{width - pad - 40}" y="{height - 8}" font-size="10">{x1:.0f} s</text>'
            f'<line x1="{pad}" y1="{sy(0) if y0 < 0 < y1 else height - pad:.1f}" x2="{width - pad}" '
            f'y2="{sy(0) if y0 < 0 < y1 else height - pad:.1f}" stroke="#ccc"/>')
    return (f"<h3>{html.escape(title)}</h3><div>{legend}</div>"
            f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">{axis}{"".join(lines)}</svg>')


def write_html(summary: dict[str, Any], path: Path) -> Path:
    """The report page: the summary table and the plots."""
    series = summary["series"]
    table = "".join(f"<tr><td>{html.escape(name.strip())}</td><td>{html.escape(value)}</td></tr>"
                    for name, value in _rows(summary))
    body = "".join([
        f"<h1>Backtest of {html.escape(summary['market'])}</h1><table>{table}</table>",
        _svg(series, ["pnl", "spread", "fees", "rebates"], "P&L over time (pUSD): total and its parts"),
        _svg(series, ["inv_yes", "inv_no"], "Inventory (shares)"),
        _svg(series, ["mid"], "Yes mid"),
    ])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>backtest</title>"
                    f"<style>body{{font-family:sans-serif}}td{{padding:2px 10px}}</style></head>"
                    f"<body>{body}</body></html>", encoding="utf-8")
    return path
