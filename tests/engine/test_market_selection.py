"""Market selection: expected income per window from a market's public terms, ranked, each with a reason."""

from __future__ import annotations

import pytest

from bot.engine.market_selection import SelectionParams, expected_income, rank_markets
from bot.engine.markets import MarketInfo

PARAMS = SelectionParams(reward_share=0.25, fill_shares=100.0, adverse_cost_per_share=0.01, min_pair_edge=0.02)


def market(slug: str, *, pool: float = 0.0, fee: float = 0.07, rebate: float = 0.2, start: float = 0.0) -> MarketInfo:
    return MarketInfo(condition_id="0x" + slug, slug=slug, up_token_id=slug + "u", down_token_id=slug + "d",
                      start_s=start, end_s=start + 900, fee_rate=fee, rewards_max_spread_cents=3.5,
                      rewards_min_size_shares=20, rewards_rate_per_day=pool, maker_rebate_share=rebate)


def test_expected_income_adds_rewards_rebates_and_spread_and_takes_off_adverse_selection() -> None:
    sel = expected_income(market("a", pool=144.0), 15.0, PARAMS)
    assert sel.rewards_pusd == pytest.approx(144.0 * 15 / 1440 * 0.25)  # 0.375
    assert sel.rebates_pusd == pytest.approx(100 * 0.07 * 0.25 * 0.2)  # 0.35
    assert sel.spread_pusd == pytest.approx(50 * 0.02)
    assert sel.adverse_pusd == pytest.approx(1.0)
    assert sel.expected_pusd == pytest.approx(0.375 + 0.35 + 1.0 - 1.0)


def test_the_best_markets_take_the_free_slots_and_the_rest_say_why_they_were_skipped() -> None:
    ranked = rank_markets(
        [market("plain", start=0.0), market("pooled", pool=500.0, start=900.0), market("nofee", fee=0.0)],
        slots=2, window_minutes=lambda info: 15.0, params=PARAMS,
    )
    assert [s.slug for s in ranked] == ["pooled", "plain", "nofee"]
    assert [s.picked for s in ranked] == [True, True, False]
    assert ranked[0].reason == "picked: rank 1 of 3"
    assert ranked[2].reason == "skipped: rank 3 of 3, only 2 free slot(s) under max_markets"
    assert "rewards 1.302" in ranked[0].describe()
