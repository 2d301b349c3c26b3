"""The money tunables of a market, converted from settings to integers once (the settings edge).

Settings are validated decimal numbers (`settings/model.py`); the engine compares money in integers
(`bot.protocol.money`). `micro_from_float` is exact for every value with at most 6 decimals, which is
every value a person writes in a configuration file.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.protocol.money import micro_from_float

__all__ = ["MoneyLimits"]


@dataclass(frozen=True, slots=True)
class MoneyLimits:
    completion_min_imbalance_micro: int  # shares × 10⁶
    completion_min_edge_micro: int  # pUSD per pair × 10⁶ (negative: a set loss)
    completion_max_pair_cost_micro: int | None  # pUSD per pair × 10⁶, None = only the edge rule

    @classmethod
    def from_settings(cls, settings: object) -> MoneyLimits:
        max_pair_cost = settings.completion_max_pair_cost
        return cls(
            completion_min_imbalance_micro=micro_from_float(settings.completion_min_imbalance_shares),
            completion_min_edge_micro=micro_from_float(settings.completion_min_edge),
            completion_max_pair_cost_micro=None if max_pair_cost is None else micro_from_float(max_pair_cost),
        )
