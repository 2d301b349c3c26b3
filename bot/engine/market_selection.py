"""Market selection in series/auto mode: rank the markets due to start by expected income, with a reason.

Guarantees:
- Pure: from each candidate's public terms (reward pool, max spread, fee rate, rebate share, window
  length) and the settings' assumptions, an expected income per market window and its parts; no I/O.
- The ranking only orders the markets the supervisor may start now; the exposure caps (`max_markets`,
  the notional caps the strategy enforces) still decide how many run. Every candidate gets a stated
  reason: picked with its rank and expected income, or skipped and why.

The model (per window, pUSD), each part stated so an operator can check it:
- rewards  = pool per day × window minutes / 1440 × `selection_reward_share` (the share we expect to
  hold; our estimator measures the real one while quoting);
- rebates  = `selection_fill_shares` × fee rate × ¼ (p(1 − p) at 0.5) × rebate share;
- spread   = `selection_fill_shares` / 2 pairs × `min_pair_edge`;
- adverse  = `selection_fill_shares` × `selection_adverse_cost_per_share` (the price moving against a
  fill before its pair completes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.engine.markets import MarketInfo

__all__ = ["SelectionParams", "Selection", "expected_income", "rank_markets"]

_MINUTES_PER_DAY = 1440.0
_P_ONE_MINUS_P_AT_HALF = 0.25


@dataclass(frozen=True, slots=True)
class SelectionParams:
    reward_share: float
    fill_shares: float
    adverse_cost_per_share: float
    min_pair_edge: float


@dataclass(frozen=True, slots=True)
class Selection:
    """One candidate's verdict: the parts of its expected income and why it was picked or skipped."""

    condition_id: str
    slug: str
    rewards_pusd: float
    rebates_pusd: float
    spread_pusd: float
    adverse_pusd: float
    picked: bool = False
    reason: str = ""

    @property
    def expected_pusd(self) -> float:
        return self.rewards_pusd + self.rebates_pusd + self.spread_pusd - self.adverse_pusd

    def describe(self) -> str:
        return (
            f"{self.slug}: {self.reason}; expected {self.expected_pusd:+.3f} pUSD = rewards {self.rewards_pusd:.3f}"
            f" + rebates {self.rebates_pusd:.3f} + spread {self.spread_pusd:.3f} − adverse {self.adverse_pusd:.3f}"
        )


def expected_income(info: MarketInfo, window_minutes: float, p: SelectionParams) -> Selection:
    rewards = info.rewards_rate_per_day * window_minutes / _MINUTES_PER_DAY * p.reward_share
    rebates = p.fill_shares * info.fee_rate * _P_ONE_MINUS_P_AT_HALF * info.maker_rebate_share
    spread = p.fill_shares / 2 * p.min_pair_edge
    adverse = p.fill_shares * p.adverse_cost_per_share
    return Selection(info.condition_id, info.slug, rewards, rebates, spread, adverse)


def rank_markets(
    candidates: Iterable[MarketInfo],
    *,
    slots: int,
    window_minutes: Callable[[MarketInfo], float],
    params: SelectionParams,
) -> list[Selection]:
    """Every candidate ranked by expected income (ties: earlier start, then slug); the first `slots` picked."""
    infos = list(candidates)
    order = {info.condition_id: info for info in infos}
    scored = [expected_income(info, window_minutes(info), params) for info in infos]
    scored.sort(key=lambda s: (-s.expected_pusd, order[s.condition_id].start_s, s.slug))
    out = []
    for rank, sel in enumerate(scored, start=1):
        if rank <= slots:
            out.append(_with(sel, True, f"picked: rank {rank} of {len(scored)}"))
        else:
            out.append(_with(sel, False, f"skipped: rank {rank} of {len(scored)}, only {slots} free slot(s) under max_markets"))
    return out


def _with(sel: Selection, picked: bool, reason: str) -> Selection:
    return Selection(sel.condition_id, sel.slug, sel.rewards_pusd, sel.rebates_pusd, sel.spread_pusd,
                     sel.adverse_pusd, picked, reason)
