"""How the status screen, plain lines, summary and metrics show a market's incentives (spec 12.2/12.3).

One place for the incentive fields, so the displays in `status.py` and `metrics.py` each call one
function: our reward score (Q_one, Q_two, Q_min), our estimated share of the sample, the scoring-check
alerts, and the P&L split into spread, fees, rebates and rewards (estimated beside the venue's report).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.engine.market import MarketRunner

__all__ = ["IncentivesStatus", "incentives_pairs", "incentives_status", "incentives_summary_line", "incentives_text"]

_MISSING = "-"


@dataclass(frozen=True, slots=True)
class IncentivesStatus:
    """One market's incentives at one instant."""

    pool_per_day_pusd: float
    mode: str  # "rewards" (rewards-aware ladder) or "plain"
    midpoint: float | None
    q_one: float
    q_two: float
    q_min: float
    share: float
    scoring_orders: int
    not_scoring_alerts: int
    spread_pnl_pusd: float
    fees_paid_pusd: float
    rebates_estimated_pusd: float
    rebates_reported_pusd: float | None
    rewards_estimated_pusd: float
    rewards_reported_pusd: float | None
    total_pnl_pusd: float


def incentives_status(runner: MarketRunner) -> IncentivesStatus:
    watch = runner.incentives
    last = watch.estimator.last
    pnl = watch.pnl()
    return IncentivesStatus(
        pool_per_day_pusd=watch.terms.rate_per_day_pusd,
        mode="rewards" if type(runner.strategy).__name__ == "RewardsAwareLadder" else "plain",
        midpoint=None if last is None else last.midpoint,
        q_one=float(last.ours.q_one) if last else 0.0,
        q_two=float(last.ours.q_two) if last else 0.0,
        q_min=float(last.ours.q_min) if last else 0.0,
        share=float(last.share) if last else 0.0,
        scoring_orders=last.scoring_orders if last else 0,
        not_scoring_alerts=watch.stats.not_scoring,
        spread_pnl_pusd=pnl.spread_pusd,
        fees_paid_pusd=pnl.fees_paid_pusd,
        rebates_estimated_pusd=pnl.rebates_estimated_pusd,
        rebates_reported_pusd=pnl.rebates_reported_pusd,
        rewards_estimated_pusd=pnl.rewards_estimated_pusd,
        rewards_reported_pusd=pnl.rewards_reported_pusd,
        total_pnl_pusd=pnl.total_pusd,
    )


def _money(value: float | None) -> str:
    return _MISSING if value is None else f"{value:+.4f}"


def incentives_text(inc: IncentivesStatus) -> str:
    """Two lines for the market panel."""
    mid = _MISSING if inc.midpoint is None else f"{inc.midpoint:.3f}"
    alert = f"  NOT SCORING x{inc.not_scoring_alerts}" if inc.not_scoring_alerts else ""
    return (
        f"rewards {inc.mode} pool {inc.pool_per_day_pusd:g}/day  mid {mid}  Q_one {inc.q_one:.2f}  "
        f"Q_two {inc.q_two:.2f}  Q_min {inc.q_min:.2f}  share {inc.share:.1%}  scoring {inc.scoring_orders}{alert}\n"
        f"P&L spread {_money(inc.spread_pnl_pusd)}  fees {_money(-inc.fees_paid_pusd)}  "
        f"rebates {_money(inc.rebates_estimated_pusd)} est / {_money(inc.rebates_reported_pusd)} venue  "
        f"rewards {_money(inc.rewards_estimated_pusd)} est / {_money(inc.rewards_reported_pusd)} venue  "
        f"total {_money(inc.total_pnl_pusd)}"
    )


def incentives_pairs(inc: IncentivesStatus | None) -> list[tuple[str, object]]:
    """`k=v` pairs for the plain status line."""
    if inc is None:
        return []
    return [
        ("rewards_mode", inc.mode),
        ("q_min", round(inc.q_min, 4)),
        ("reward_share", round(inc.share, 4)),
        ("not_scoring", inc.not_scoring_alerts),
        ("pnl_spread", round(inc.spread_pnl_pusd, 4)),
        ("fees", round(inc.fees_paid_pusd, 4)),
        ("rebates_est", round(inc.rebates_estimated_pusd, 4)),
        ("rewards_est", round(inc.rewards_estimated_pusd, 4)),
        ("rewards_venue", None if inc.rewards_reported_pusd is None else round(inc.rewards_reported_pusd, 4)),
    ]


def _sum(markets: list[Mapping[str, Any]], key: str) -> float | None:
    values = [float(m[key]) for m in markets if m.get(key) is not None]
    return sum(values) if values else None


def incentives_summary_line(markets: list[Mapping[str, Any]]) -> str:
    """The end-of-run P&L split across markets (estimated beside the venue's reported accruals)."""
    return (
        f"P&L split: spread {_money(_sum(markets, 'spread_pnl_pusd'))}, fees {_money(_sum(markets, 'fees_paid_pusd'))}, "
        f"rebates {_money(_sum(markets, 'rebates_estimated_pusd'))} est / {_money(_sum(markets, 'rebates_reported_pusd'))} venue, "
        f"rewards {_money(_sum(markets, 'rewards_estimated_pusd'))} est / {_money(_sum(markets, 'rewards_reported_pusd'))} venue, "
        f"total {_money(_sum(markets, 'total_pnl_pusd'))} pUSD"
    )
