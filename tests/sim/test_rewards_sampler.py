"""The simulator's reward sampler and rebates against hand-computed values of the venue's rule (spec 12.2/12.3).

A background maker keeps a two-sided book around a chosen midpoint; "we" rest orders beside it; the
clock moves over many sampled minutes and the accrual is compared with the formula, exactly.
"""

from __future__ import annotations

from fractions import Fraction

from bot.protocol.rewards import SAMPLES_PER_DAY, RewardRules, ScoredOrder, maker_scores
from bot.sim.engine import Exchange
from bot.sim.flow import build_market_order, build_order
from bot.sim.model import MarketSpec, SimConfig
from bot.sim.rules import taker_fee_units

T0 = 1_800_000_000.0
UNIT = 1_000_000
RATE_PER_DAY = 144.0  # $0.10 a sampled minute
US = ("us-key", "0x" + "01" * 20)
BG = ("bg-key", "0x" + "02" * 20)
TAKER = ("taker-key", "0x" + "03" * 20)
RULES = RewardRules.of(3.5, 20)


def _spec() -> MarketSpec:
    return MarketSpec(
        condition_id="0x" + "22" * 32,
        question="q",
        slug="btc-updown-15m-1800000000",
        yes_token_id="2001",
        no_token_id="2002",
        start_ts=T0,
        end_ts=T0 + 86_000,
        accepting_orders_ts=T0 - 10,
        rewards_max_spread_cents=3.5,
        rewards_min_size=20,
        rewards_rate_per_day=RATE_PER_DAY,
    )


class Venue:
    def __init__(self) -> None:
        self.now = T0
        self.spec = _spec()
        self.exchange = Exchange(clock=lambda: self.now, config=SimConfig(), seed=3)
        self.exchange.add_market(self.spec)
        for key, address in (US, BG, TAKER):
            self.exchange.register_api_key(key, address)
            self.exchange.fund(address, pusd_units=1_000_000 * UNIT)
        self._n = 0

    def buy(self, who: tuple[str, str], token: str, price: str, size: str) -> str:
        self._n += 1
        order_id = f"0x{self._n:064x}"
        self.exchange.place(
            build_order(order_id=order_id, owner=who[0], address=who[1], token_id=token, side="BUY",
                        price=price, size=size, post_only=True)
        )
        return order_id

    def book_around(self, mid: str, size: str = "100", half: str = "0.01") -> None:
        """Background: BUY Up `half` under `mid`, BUY Down `half` under 1 − mid (an ask `half` above)."""
        m, h = Fraction(mid), Fraction(half)
        self.buy(BG, self.spec.yes_token_id, str(float(m - h)), size)
        self.buy(BG, self.spec.no_token_id, str(float(1 - m - h)), size)

    def run(self, seconds: float) -> None:
        self.now += seconds
        self.exchange.advance()

    def epoch(self):
        [(_date, epoch)] = self.exchange.incentives.epochs()
        return epoch

    def earned(self, who: tuple[str, str]) -> Fraction:
        return self.exchange.incentives.earnings_units(who[1])


def _q(mid_units: int, *orders: tuple[int, bool, int]) -> Fraction:
    return maker_scores(RULES, Fraction(mid_units), [ScoredOrder(p, bid, s) for p, bid, s in orders]).q_min


def _expected(v: Venue, q_us: Fraction, q_bg: Fraction) -> Fraction:
    """Every scored sample gave us the same share: the pool paid so far times that share."""
    epoch = v.epoch()
    assert epoch.scored_samples >= 1
    pool = Fraction(str(RATE_PER_DAY)) * UNIT * epoch.samples / SAMPLES_PER_DAY
    return pool * q_us / (q_us + q_bg)


def test_an_order_below_the_min_size_or_beyond_the_max_spread_earns_nothing() -> None:
    v = Venue()
    v.book_around("0.50")
    small = v.buy(US, v.spec.yes_token_id, "0.49", "19.99")  # one hundredth under the 20-share minimum
    far = v.buy(US, v.spec.no_token_id, "0.46", "50")  # an ask at 0.54: 4 cents out, the limit is 3.5
    v.run(3600)
    assert v.epoch().scored_samples > 50
    assert v.earned(US) == 0
    assert v.earned(BG) == v.epoch().pool_units()  # the only maker that scores takes the whole pool
    assert not v.exchange.order_scoring(US[0], small) and not v.exchange.order_scoring(US[0], far)


def test_a_one_sided_ladder_at_mid_0_05_earns_nothing_and_two_sided_earns() -> None:
    v = Venue()
    v.book_around("0.05")  # bid 0.04, ask 0.06: midpoint 0.05, outside [0.10, 0.90]
    one_sided = v.buy(US, v.spec.yes_token_id, "0.04", "50")
    v.run(1800)
    assert v.earned(US) == 0
    assert v.exchange.order_scoring(US[0], one_sided)  # the order itself scores; its Q_min is zero
    v.buy(US, v.spec.no_token_id, "0.94", "50")  # the other side: an ask at 0.06
    before = v.earned(US)
    v.run(1800)
    assert v.earned(US) > before


def test_at_mid_0_50_a_one_sided_ladder_earns_a_third_of_a_two_sided_one() -> None:
    mid = 500_000
    s_bid = (490_000, True, 50 * UNIT)
    s_ask = (510_000, False, 50 * UNIT)
    q_bg = _q(mid, (490_000, True, 100 * UNIT), (510_000, False, 100 * UNIT))
    q_two = _q(mid, s_bid, s_ask)
    q_one = _q(mid, s_bid)
    assert q_one == q_two / 3  # the rule itself: c = 3 inside [0.10, 0.90]
    # S(3.5, 1) = (2.5 / 3.5)² = 25/49; 50 shares a side.
    assert q_two == Fraction(25, 49) * 50

    one = Venue()
    one.book_around("0.50")
    one.buy(US, one.spec.yes_token_id, "0.49", "50")
    one.run(3600)
    assert one.earned(US) == _expected(one, q_one, q_bg)

    two = Venue()
    two.book_around("0.50")
    two.buy(US, two.spec.yes_token_id, "0.49", "50")
    two.buy(US, two.spec.no_token_id, "0.49", "50")
    two.run(3600)
    assert two.earned(US) == _expected(two, q_two, q_bg)


def test_samples_come_once_a_minute_at_a_random_moment_and_orders_must_have_rested() -> None:
    v = Venue()
    v.book_around("0.50")
    moments = []
    for _ in range(30):
        moments.append(v.exchange.incentives.next_sample_s)
        v.run(60)
    offsets = [m - T0 - 60 * i for i, m in enumerate(moments)]
    assert all(0 <= o < 60 for o in offsets) and len({round(o, 6) for o in offsets}) == 30
    assert v.epoch().samples == 30
    fresh = v.buy(US, v.spec.yes_token_id, "0.49", "50")
    assert not v.exchange.order_scoring(US[0], fresh)  # placed this instant
    v.now += 3.5
    assert v.exchange.order_scoring(US[0], fresh)


def test_the_adjusted_midpoint_ignores_dust_at_the_touch() -> None:
    v = Venue()
    v.book_around("0.50", half="0.02")  # bid 0.48, ask 0.52
    v.buy(BG, v.spec.no_token_id, "0.50", "5")  # dust: an ask at 0.50 of 5 shares, under the 20 minimum
    # Our ask at 0.53 is 3 cents from the adjusted midpoint 0.50 (it scores), 4 from the raw one 0.49.
    order = v.buy(US, v.spec.no_token_id, "0.47", "50")
    v.now += 10
    assert v.exchange.order_scoring(US[0], order)
    v.buy(BG, v.spec.no_token_id, "0.50", "15")  # now 20 shares at 0.50: the adjusted ask is 0.50
    v.now += 10
    assert not v.exchange.order_scoring(US[0], order)


def test_maker_rebates_are_the_share_of_taker_fees_pro_rata_to_fee_equivalent() -> None:
    v = Venue()
    v.book_around("0.50")
    ours = v.buy(US, v.spec.yes_token_id, "0.49", "40")  # joins the background's 0.49 bid behind it
    assert ours
    # A taker SELLs... it has no Up tokens; it BUYs Down at up to 0.52 instead: that meets the Up bids
    # at 0.49 as a mint (Down at 0.51), 140 shares: the background's 100 first, then our 40.
    taker = build_market_order(order_id="0x" + "fe" * 32, owner=TAKER[0], address=TAKER[1],
                               token_id=v.spec.no_token_id, side="BUY", amount="71.4", price="0.51")
    v.exchange.place(taker)
    epoch = v.epoch()
    fee_us = taker_fee_units(40 * UNIT, 490_000, 0.07, 1.0)
    fee_bg = taker_fee_units(100 * UNIT, 490_000, 0.07, 1.0)
    assert epoch.fee_equivalent_units[US[1]] == fee_us
    assert epoch.fee_equivalent_units[BG[1]] == fee_bg
    pool = Fraction(1, 5) * epoch.taker_fees_units
    assert epoch.taker_fees_units > 0
    assert v.exchange.incentives.rebate_units(US[1]) == pool * fee_us / (fee_us + fee_bg)


def test_a_market_without_a_pool_is_never_sampled_and_nothing_scores() -> None:
    v = Venue()
    v.exchange = Exchange(clock=lambda: v.now, seed=3)
    spec = MarketSpec(**{**v.spec.__dict__, "rewards_rate_per_day": 0.0})
    v.spec = spec
    v.exchange.add_market(spec)
    for key, address in (US, BG):
        v.exchange.register_api_key(key, address)
        v.exchange.fund(address, pusd_units=1_000 * UNIT)
    v.book_around("0.50")
    order = v.buy(US, spec.yes_token_id, "0.49", "50")
    v.run(600)
    assert v.exchange.incentives.epochs() == []
    assert not v.exchange.order_scoring(US[0], order)
