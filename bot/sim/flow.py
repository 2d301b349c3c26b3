"""Synthetic market flow for the simulator: a recurring Up/Down series, a fair value that walks over
each window, other makers keeping depth on both tokens, and Poisson takers trading at market.

Everything is seeded and deterministic: the same seed, schedule and call times give the same orders.
The flow's makers and takers are ordinary funded accounts that trade through `Exchange.place`, so
they meet everyone's resting orders (ours included) on both tokens of the mirrored book.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from bot.sim.engine import Exchange
from bot.sim.model import MarketSpec, NewOrder, OrderRejected
from bot.sim.wire import UNIT, units_from_decimal

__all__ = [
    "FlowParams",
    "MarketFlow",
    "SeriesSchedule",
    "SeriesSpec",
    "build_market_order",
    "build_order",
    "limit_amounts",
]

_SHARE_STEP_UNITS = UNIT // 100  # sizes carry at most 2 decimals (spec 9)
_MARKET_TAKER_STEP_UNITS = UNIT // 10_000  # market BUY share amounts: 4 decimals (spec 4)

_MAKER_STAGGER_S = 0.1

_ASSET_NAMES = {"btc": "Bitcoin", "eth": "Ethereum", "sol": "Solana", "xrp": "XRP"}


def limit_amounts(
    side: str, price: str | float | Decimal, size_shares: str | float | Decimal
) -> tuple[int, int]:
    """(makerAmount, takerAmount) of a limit order on a 2-decimal share grid (spec 3.4), exact integers."""
    price_units = units_from_decimal(str(price))
    shares_units = units_from_decimal(str(size_shares)) // _SHARE_STEP_UNITS * _SHARE_STEP_UNITS
    notional_units = shares_units * price_units // UNIT
    return (notional_units, shares_units) if side == "BUY" else (shares_units, notional_units)


def build_order(
    *,
    order_id: str,
    owner: str,
    address: str,
    token_id: str,
    side: str,
    price: str | float | Decimal,
    size: str | float | Decimal,
    order_type: str = "GTC",
    post_only: bool = False,
    expiration: int = 0,
    timestamp_ms: int = 0,
) -> NewOrder:
    """A limit `NewOrder` from a price and a size in shares (maker = signer = `address`)."""
    maker_amount, taker_amount = limit_amounts(side, price, size)
    return NewOrder(
        order_id=order_id,
        owner=owner,
        maker_address=address,
        signer=address,
        token_id=token_id,
        side=side,
        maker_amount=maker_amount,
        taker_amount=taker_amount,
        order_type=order_type,
        post_only=post_only,
        expiration=expiration,
        timestamp_ms=timestamp_ms,
    )


def build_market_order(
    *,
    order_id: str,
    owner: str,
    address: str,
    token_id: str,
    side: str,
    amount: str | float | Decimal,
    price: str | float | Decimal,
    order_type: str = "FAK",
    timestamp_ms: int = 0,
) -> NewOrder:
    """A market-type order (spec 4): a BUY `amount` is pUSD to spend, a SELL `amount` is shares.

    `price` is the cap (BUY) or floor (SELL); a BUY's shares are amount / price on 4 decimals.
    """
    amount_units = units_from_decimal(str(amount)) // _SHARE_STEP_UNITS * _SHARE_STEP_UNITS
    price_units = units_from_decimal(str(price))
    if side == "BUY":
        shares = amount_units * UNIT // price_units // _MARKET_TAKER_STEP_UNITS * _MARKET_TAKER_STEP_UNITS
        maker_amount, taker_amount = amount_units, shares
    else:
        maker_amount, taker_amount = amount_units, amount_units * price_units // UNIT
    return NewOrder(
        order_id=order_id,
        owner=owner,
        maker_address=address,
        signer=address,
        token_id=token_id,
        side=side,
        maker_amount=maker_amount,
        taker_amount=taker_amount,
        order_type=order_type,
        post_only=False,
        expiration=0,
        timestamp_ms=timestamp_ms,
    )


def _digest(*parts: object) -> bytes:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()


@dataclass(frozen=True)
class SeriesSchedule:
    """A recurring Up/Down series: one market per aligned window, listed `list_ahead_s` early.

    Slugs are `{asset}-updown-{N}m-{window_start_ts}` (spec 8) where N is `nominal_minutes`, which may
    differ from the real `window_s` (a "15m" series can run as 150 s windows in paper mode). Ids derive
    from `seed`: condition ids are 0x + 64 hex, token ids large decimal strings like the real ones.
    """

    asset: str = "btc"
    window_s: int = 900
    nominal_minutes: int | None = None
    list_ahead_s: float | None = None  # None: two windows ahead
    seed: int = 0
    tick_size: str = "0.01"
    min_order_size: float = 5.0
    fee_rate: float = 0.07
    fee_exponent: float = 1.0
    taker_delay_s: float = 0.0
    # Crypto-category incentives (spec 12.2/12.3; UNCONFIRMED values, of the order seen on the venue's
    # crypto Up/Down markets): a 3.5-cent max spread, a 20-share min size, $100 a day, 20 % rebates.
    rewards_max_spread_cents: float = 3.5
    rewards_min_size: float = 20.0
    rewards_rate_per_day: float = 100.0
    maker_rebate_share: float = 0.20

    def __post_init__(self) -> None:
        if self.window_s <= 0:
            raise ValueError("window_s must be positive")

    @property
    def minutes(self) -> int:
        return self.nominal_minutes if self.nominal_minutes is not None else max(1, self.window_s // 60)

    @property
    def lead_s(self) -> float:
        return 2.0 * self.window_s if self.list_ahead_s is None else self.list_ahead_s

    def window_start(self, t: float) -> int:
        """Start of the window containing `t` (windows are aligned to multiples of `window_s`)."""
        return int(t // self.window_s) * self.window_s

    def listed_windows(self, now: float) -> list[int]:
        """Window starts whose market is listed at `now` and not yet ended, oldest first."""
        first = self.window_start(now)
        starts = []
        start = first
        while start - self.lead_s <= now:
            starts.append(start)
            start += self.window_s
        return starts

    def next_listing_s(self, now: float) -> float:
        """When the next not-yet-listed window gets listed."""
        last = self.listed_windows(now)[-1]
        return last + self.window_s - self.lead_s

    def spec_for(self, window_start_ts: int) -> MarketSpec:
        """The market of the window starting at `window_start_ts`."""
        slug = f"{self.asset}-updown-{self.minutes}m-{window_start_ts}"
        condition_id = "0x" + _digest("sim-series", self.seed, slug).hex()
        up = str(int.from_bytes(_digest(condition_id, "Up"), "big"))
        down = str(int.from_bytes(_digest(condition_id, "Down"), "big"))
        end = window_start_ts + self.window_s
        name = _ASSET_NAMES.get(self.asset, self.asset.upper())
        when = f"{_utc(window_start_ts)}-{_utc(end)} UTC"
        return MarketSpec(
            condition_id=condition_id,
            question=f"{name} Up or Down - {when}",
            slug=slug,
            yes_token_id=up,
            no_token_id=down,
            tick_size=self.tick_size,
            min_order_size=self.min_order_size,
            fee_rate=self.fee_rate,
            fee_exponent=self.fee_exponent,
            taker_delay_s=self.taker_delay_s,
            rewards_max_spread_cents=self.rewards_max_spread_cents,
            rewards_min_size=self.rewards_min_size,
            rewards_rate_per_day=self.rewards_rate_per_day,
            maker_rebate_share=self.maker_rebate_share,
            start_ts=float(window_start_ts),
            end_ts=float(end),
            accepting_orders_ts=window_start_ts - self.lead_s,
        )


SeriesSpec = SeriesSchedule


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class FlowParams:
    """Shape of the synthetic flow of one market."""

    makers: int = 3
    maker_levels: int = 3
    maker_half_spread_ticks: int = 2  # maker i quotes i ticks wider
    maker_level_step_ticks: int = 1
    maker_size_shares: tuple[float, float] = (20.0, 80.0)
    maker_requote_s: float = 2.0
    maker_requote_move_ticks: int = 1
    fair_step_s: float = 1.0
    fair_logit_sd_per_window: float = 2.0  # sd of the logit walk accumulated over a whole window
    fair_bounds: tuple[float, float] = (0.03, 0.97)
    takers: int = 2
    taker_rate_per_s: float = 0.5
    taker_size_shares: tuple[float, float] = (5.0, 60.0)
    taker_sweep_ticks: int = 3
    sweeper_probability: float = 0.15  # a larger taker that reaches deeper levels
    sweeper_size_factor: int = 3
    sweeper_extra_ticks: int = 4
    taker_sell_probability: float = 0.2
    account_pusd: float = 1_000_000.0


class MarketFlow:
    """The synthetic participants of one market; call `step(now)` at or after `next_deadline()`."""

    def __init__(
        self, exchange: Exchange, spec: MarketSpec, rng: random.Random, params: FlowParams | None = None
    ) -> None:
        self._exchange = exchange
        self._spec = spec
        self._rng = rng
        self._params = params or FlowParams()
        p = self._params
        self._fair = 0.5
        self._makers = [self._open_account(f"maker{i}") for i in range(p.makers)]
        self._takers = [self._open_account(f"taker{i}") for i in range(p.takers)]
        self._quoted_center: list[float | None] = [None] * p.makers
        self._next_fair_s = spec.start_ts
        self._next_requote_s = [math.inf] * p.makers
        self._next_taker_s = math.inf
        self._started = False
        self._orders_placed = 0
        self._rejects = 0
        self._taker_orders = 0

    def __repr__(self) -> str:
        return f"<MarketFlow {self._spec.slug} fair={self._fair:.3f} orders={self._orders_placed}>"

    @property
    def spec(self) -> MarketSpec:
        return self._spec

    @property
    def fair_value(self) -> float:
        return self._fair

    def _open_account(self, role: str) -> tuple[str, str]:
        address = "0x" + f"{self._rng.getrandbits(160):040x}"
        api_key = f"flow-{role}-{self._rng.getrandbits(64):016x}"
        self._exchange.register_api_key(api_key, address)
        self._exchange.fund(address, pusd_units=units_from_decimal(str(self._params.account_pusd)))
        return api_key, address

    def _start_s(self) -> float:
        opens = self._spec.accepting_orders_ts
        return self._spec.start_ts if opens is None else opens

    def next_deadline(self) -> float | None:
        """When `step` next has work; None once the market has ended."""
        if not self._started:
            return self._start_s()
        times = [self._next_taker_s, *self._next_requote_s]
        if self._next_fair_s < self._spec.end_ts:
            times.append(self._next_fair_s)
        t = min(times)
        return None if t >= self._spec.end_ts else t

    def step(self, now: float) -> None:
        """Run every flow action due by `now`, in time order."""
        if now >= self._spec.end_ts:
            return
        if not self._started:
            if now < self._start_s():
                return
            self._started = True
            # Makers start a moment apart so their quotes do not all land in the same instant.
            self._next_requote_s = [now + i * _MAKER_STAGGER_S for i in range(self._params.makers)]
            if self._takers and self._params.taker_rate_per_s > 0:
                self._next_taker_s = now + self._rng.expovariate(self._params.taker_rate_per_s)
        while True:
            due = self.next_deadline()
            if due is None or due > now:
                return
            if due == self._next_fair_s:
                self._walk_fair()
            elif due == self._next_taker_s:
                self._take(due)
                self._next_taker_s = due + self._rng.expovariate(self._params.taker_rate_per_s)
            else:
                index = self._next_requote_s.index(due)
                self._requote(index, due)
                self._next_requote_s[index] = due + self._params.maker_requote_s

    # --- fair value ---------------------------------------------------------------------------

    def _walk_fair(self) -> None:
        p = self._params
        window_s = self._spec.end_ts - self._spec.start_ts
        sd = p.fair_logit_sd_per_window * math.sqrt(p.fair_step_s / window_s)
        logit = math.log(self._fair / (1 - self._fair)) + self._rng.gauss(0.0, sd)
        low, high = p.fair_bounds
        self._fair = min(high, max(low, 1 / (1 + math.exp(-logit))))
        self._next_fair_s += p.fair_step_s

    # --- makers -------------------------------------------------------------------------------

    def _tick(self) -> Decimal:
        return Decimal(self._exchange.tick_size(self._spec.yes_token_id))

    def _requote(self, index: int, now: float) -> None:
        api_key, address = self._makers[index]
        tick = self._tick()
        center = self._quoted_center[index]
        live = self._exchange.open_orders(api_key, market=self._spec.condition_id)
        full = len(live) == 2 * self._params.maker_levels
        moved = (
            center is None or abs(self._fair - center) >= float(tick) * self._params.maker_requote_move_ticks
        )
        if full and not moved:
            return
        self._quoted_center[index] = self._fair
        half = self._params.maker_half_spread_ticks + index
        with self._exchange.batch():
            try:
                self._exchange.cancel_market(api_key, market=self._spec.condition_id)
            except OrderRejected:
                return  # the engine is restarting (425): the makers wait like everyone else
            # Two calls, as a maker on the venue makes them (a cancel, then a batch post): the market
            # channel shows the cancels, then the new orders, so an order replacing one at the same price
            # reads as a new order (its rest for the rewards restarts), not a size change.
            self._exchange.end_call(self._spec.condition_id)
            for token, value in (
                (self._spec.yes_token_id, self._fair),
                (self._spec.no_token_id, 1 - self._fair),
            ):
                top = (Decimal(str(value)) / tick).to_integral_value(rounding="ROUND_FLOOR") * tick
                for level in range(self._params.maker_levels):
                    price = top - (half + level * self._params.maker_level_step_ticks) * tick
                    if price < tick:
                        continue
                    size = self._size(self._params.maker_size_shares)
                    ids = self._ids(api_key, address, now)
                    self._place(build_order(**ids, token_id=token, side="BUY", price=price, size=size))

    # --- takers -------------------------------------------------------------------------------

    def _take(self, now: float) -> None:
        p = self._params
        api_key, address = self._takers[self._rng.randrange(len(self._takers))]
        sweeper = self._rng.random() < p.sweeper_probability
        size = self._size(p.taker_size_shares) * (p.sweeper_size_factor if sweeper else 1)
        reach = p.taker_sweep_ticks + (p.sweeper_extra_ticks if sweeper else 0)
        tick = self._tick()
        held = [
            (token, self._exchange.accounts.available_tokens(address, token))
            for token in (self._spec.yes_token_id, self._spec.no_token_id)
        ]
        sellable = [(token, units) for token, units in held if units >= UNIT]
        if sellable and self._rng.random() < p.taker_sell_probability:
            token, units = sellable[self._rng.randrange(len(sellable))]
            bids = self._exchange.book(token)["bids"]
            if not bids:
                return
            floor_price = max(tick, Decimal(bids[-1]["price"]) - reach * tick)
            shares = min(Decimal(size), Decimal(units) / UNIT).quantize(
                Decimal("0.01"), rounding="ROUND_FLOOR"
            )
            order = build_market_order(
                **self._ids(api_key, address, now),
                token_id=token,
                side="SELL",
                amount=shares,
                price=floor_price,
            )
        else:
            token = self._spec.yes_token_id if self._rng.random() < self._fair else self._spec.no_token_id
            asks = self._exchange.book(token)["asks"]
            if not asks:
                return
            best = Decimal(asks[-1]["price"])
            cap = min(1 - tick, best + reach * tick)
            amount = max(Decimal(1), (Decimal(size) * best).quantize(Decimal("0.01"), rounding="ROUND_FLOOR"))
            order = build_market_order(
                **self._ids(api_key, address, now), token_id=token, side="BUY", amount=amount, price=cap
            )
        self._taker_orders += 1
        self._place(order)

    # --- helpers ------------------------------------------------------------------------------

    def _size(self, bounds: tuple[float, float]) -> Decimal:
        low, high = bounds
        return Decimal(str(round(self._rng.uniform(low, high), 2)))

    def _ids(self, api_key: str, address: str, now: float) -> dict[str, object]:
        return {
            "order_id": f"0x{self._rng.getrandbits(256):064x}",
            "owner": api_key,
            "address": address,
            "timestamp_ms": int(now * 1000),
        }

    def _place(self, order: NewOrder) -> None:
        try:
            self._exchange.place(order)
            self._orders_placed += 1
        except OrderRejected:
            # Expected now and then: a FAK meeting nothing, a market closing under the flow.
            self._rejects += 1

    def statistics(self) -> dict[str, object]:
        return {
            "slug": self._spec.slug,
            "fair_value": self._fair,
            "orders_placed": self._orders_placed,
            "taker_orders": self._taker_orders,
            "rejects": self._rejects,
        }
