"""What the engine knows of one binary market it trades (from discovery or the CLOB)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MarketInfo"]


@dataclass(frozen=True, slots=True)
class MarketInfo:
    """One binary market: its two outcome tokens, its window and its trading rules."""

    condition_id: str
    slug: str
    up_token_id: str
    down_token_id: str
    start_s: float
    end_s: float
    tick_size: str | None = None  # from discovery; the CLOB's answer and tick_size_change events win
    min_order_size_shares: float = 5.0
    neg_risk: bool = False
    fee_rate: float = 0.0
    fee_exponent: float = 1.0
    accepting_orders: bool = True
    accepting_orders_since_s: float | None = None  # Gamma `acceptingOrdersTimestamp`: reward samples from then
    # Incentives (spec 12.2/12.3): Gamma `rewardsMaxSpread` (cents), `rewardsMinSize` (shares),
    # `clobRewards[].rewardsDailyRate` (pUSD a day; 0: no pool) and `feeSchedule.rebateRate`.
    rewards_max_spread_cents: float = 0.0
    rewards_min_size_shares: float = 0.0
    rewards_rate_per_day: float = 0.0
    maker_rebate_share: float = 0.0

    @property
    def token_ids(self) -> tuple[str, str]:
        return (self.up_token_id, self.down_token_id)

    def cutoff_s(self, quote_cutoff_s: float) -> float:
        return self.end_s - quote_cutoff_s

    def other(self, token_id: str) -> str:
        return self.down_token_id if token_id == self.up_token_id else self.up_token_id
