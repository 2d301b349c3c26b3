"""The simulated CLOB V2 exchange: validation, one mirrored matching engine per market, accounts,
trade lifecycle, heartbeats, market end and engine-level faults, emitting the venue's wire events.

Spec: ../shared/protocol/polymarket-clob.md (sections 1.2–1.4, 4, 5, 6.2–6.3, 9, 10). Everything is
synchronous and driven by an injected clock: `advance()` applies whatever is due at `clock()` and
`next_deadline()` says when that is, so a Trio driver (bot/sim/venue.py) or a test steps time.

Validation runs in the spec's order (10.4): mode → market accepting → tick grid and range → minimum
size → marketable BUY ≥ $1 and market-order precision → post-only with FOK/FAK → expiration →
balance/allowance with reservation (fees included) → duplicate → post-only cross → match.
"""

from __future__ import annotations

import contextlib
import heapq
import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from bot.protocol.constants import (
    ERR_BALANCE_PREFIX,
    ERR_CANCEL_ONLY,
    ERR_DUPLICATED_FMT,
    ERR_ENGINE_RESTARTING,
    ERR_FAK_NO_MATCH,
    ERR_FOK_NOT_FILLED,
    ERR_INVALID_EXPIRATION,
    ERR_INVALID_PAYLOAD,
    ERR_MARKET_NOT_READY,
    ERR_MARKET_PRECISION,
    ERR_MARKETABLE_BUY_MIN_FMT,
    ERR_MIN_SIZE_FMT,
    ERR_POST_ONLY_CROSSES,
    ERR_POST_ONLY_MODE,
    ERR_POST_ONLY_MODE_CODE,
    ERR_POST_ONLY_WITH_MARKET_TYPE,
    ERR_SELL_PRECISION,
    ERR_TICK_FMT,
    ERR_TOO_MANY_CANCELS_FMT,
    ERR_TRADING_DISABLED,
    MARKET_ORDER_TYPES,
    ORDER_TYPES,
    ROUNDING_CONFIG,
)
from bot.sim.accounts import Accounts
from bot.sim.book import BID, Fill, MirroredBook, SimOrder
from bot.sim.heartbeats import HeartbeatMismatch, HeartbeatRegistry
from bot.sim.model import (
    MODES,
    MarketData,
    MarketSpec,
    NewOrder,
    OrderRejected,
    PlaceResult,
    SimConfig,
    SimEvent,
    UserData,
)
from bot.sim.orders_wire import (
    ORDER_CANCELLATION,
    ORDER_PLACEMENT,
    ORDER_UPDATE,
    book_summary,
    order_event,
    order_rest,
    top_of_book,
)
from bot.sim.trades import TRADE_FAILED, BalanceDelta, MakerFillRecord, TradeBook, TradeRecord
from bot.sim.wire import UNIT, fmt_units, ms_string, units_from_decimal

__all__ = [
    "Exchange",
    "HeartbeatMismatch",
    "MarketData",
    "MarketSpec",
    "NewOrder",
    "OrderRejected",
    "PlaceResult",
    "SimConfig",
    "SimEvent",
    "UserData",
]

# Order statuses (spec 1.2, 6.3).
LIVE = "LIVE"
DELAYED = "DELAYED"
MATCHED = "MATCHED"
CANCELED = "CANCELED"
INVALID = "INVALID"
CANCELED_MARKET_RESOLVED = "CANCELED_MARKET_RESOLVED"

# Spec 4 "Precision rules": FOK/FAK maker amounts carry at most 2 decimals.
_MARKET_MAKER_AMOUNT_DECIMALS = 2
# Spec 9 "Fees (V2)": the fee is rounded to 5 decimals, with 0.00001 as the smallest charged fee.
_FEE_DECIMALS = 5
# An implied price (maker/taker) within this fraction of a tick of the grid is on the grid: market
# orders' share amounts are rounded, so their implied price is a hair off the cap (spec 4).
_TICK_TOLERANCE_FRACTION = Fraction(1, 100)


@dataclass
class _Market:
    spec: MarketSpec
    tick: str
    tick_units: int
    min_size_units: int
    listed_at_s: float
    book: MirroredBook = field(default_factory=MirroredBook)
    last_trade_units: dict[str, int] = field(default_factory=dict)
    closed: bool = False  # past end_ts: no new orders
    resolved: bool = False  # resting orders cancelled with CANCELED_MARKET_RESOLVED
    dirty: set[tuple[str, int]] = field(default_factory=set)  # (book side, Yes price) changed
    traded: bool = False
    last_bbo: dict[str, tuple[int, int]] = field(default_factory=dict)

    def is_yes(self, token_id: str) -> bool:
        return token_id == self.spec.yes_token_id

    def outcome(self, token_id: str) -> str:
        return self.spec.outcomes[0] if self.is_yes(token_id) else self.spec.outcomes[1]

    def tokens(self) -> tuple[str, str]:
        return (self.spec.yes_token_id, self.spec.no_token_id)

    def accepting_from_s(self) -> float:
        ts = self.spec.accepting_orders_ts
        return self.listed_at_s if ts is None else ts


def _tick_units(tick: str) -> int:
    if tick not in ROUNDING_CONFIG:
        raise ValueError(f"unknown tick size {tick!r}; expected one of {sorted(ROUNDING_CONFIG)}")
    return units_from_decimal(tick)


class Exchange:
    """A CLOB V2 venue in memory. Not thread-safe; every public call finishes by emitting its events.

    Listeners get `MarketData`/`UserData` events synchronously, after the state change is complete;
    a listener may call back into the exchange (its events are delivered after the current ones).
    """

    def __init__(self, *, clock: Callable[[], float], config: SimConfig | None = None, seed: int = 0) -> None:
        self._clock = clock
        self._config = config or SimConfig()
        self._rng = random.Random(seed)
        self._markets: dict[str, _Market] = {}
        self._by_token: dict[str, _Market] = {}
        self._unresolved: set[str] = set()
        self._orders: dict[str, SimOrder] = {}
        self._open_by_owner: defaultdict[str, dict[str, SimOrder]] = defaultdict(dict)
        self._api_keys: dict[str, str] = {}
        self._accounts = Accounts()
        self._trades = TradeBook(
            mined_delay_s=self._config.trade_mined_delay_s,
            confirmed_delay_s=self._config.trade_confirmed_delay_s,
            new_tx_hash=self._new_tx_hash,
        )
        self._heartbeats = HeartbeatRegistry(
            timeout_s=self._config.heartbeat_timeout_s,
            sweep_s=self._config.heartbeat_sweep_s,
            origin_s=clock(),
            new_id=self._new_uuid,
        )
        self._gtd_due: list[tuple[float, int, str]] = []
        self._delayed_due: list[tuple[float, int, str]] = []
        self._seq = 0
        self._mode = "normal"
        self._mode_until_s: float | None = None
        self._fail_next_trades = 0
        self._listeners: list[Callable[[SimEvent], None]] = []
        self._schedule_listeners: list[Callable[[], None]] = []
        self._outbox: list[SimEvent] = []
        self._flushing = False
        self._batch_depth = 0
        self._touched: dict[str, _Market] = {}
        self._counts: defaultdict[str, int] = defaultdict(int)
        self._fees_collected_units = 0

    def __repr__(self) -> str:
        open_orders = sum(len(orders) for orders in self._open_by_owner.values())
        return (
            f"<Exchange markets={len(self._markets)} open_orders={open_orders} "
            f"trades={self._trades.statistics()['trades']} mode={self._mode}>"
        )

    # --- ids ----------------------------------------------------------------------------------

    def _new_uuid(self) -> str:
        value = self._rng.getrandbits(128)
        value = (value & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
        value = (value & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
        text = f"{value:032x}"
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

    def _new_tx_hash(self) -> str:
        return f"0x{self._rng.getrandbits(256):064x}"

    # --- markets ------------------------------------------------------------------------------

    def add_market(self, spec: MarketSpec) -> None:
        """List a market; ValueError if its condition id or a token id is already listed."""
        if spec.condition_id in self._markets:
            raise ValueError(f"market {spec.condition_id} already listed")
        for token in (spec.yes_token_id, spec.no_token_id):
            if token in self._by_token:
                raise ValueError(f"token {token} already listed")
        market = _Market(
            spec=spec,
            tick=spec.tick_size,
            tick_units=_tick_units(spec.tick_size),
            min_size_units=units_from_decimal(spec.min_order_size),
            listed_at_s=self._clock(),
        )
        self._markets[spec.condition_id] = market
        self._by_token[spec.yes_token_id] = market
        self._by_token[spec.no_token_id] = market
        self._unresolved.add(spec.condition_id)
        for token in market.tokens():
            market.last_bbo[token] = top_of_book(market.book, yes=market.is_yes(token))
        self._finish()

    def markets(self) -> list[MarketSpec]:
        return [market.spec for market in self._markets.values()]

    def market_by_condition(self, condition_id: str) -> MarketSpec | None:
        market = self._markets.get(condition_id)
        return market.spec if market else None

    def market_by_token(self, token_id: str) -> MarketSpec | None:
        market = self._by_token.get(token_id)
        return market.spec if market else None

    def accepting_orders(self, condition_id: str) -> bool:
        """Whether the market takes new orders now (spec 8 `acceptingOrders`)."""
        market = self._markets.get(condition_id)
        if market is None:
            return False
        now = self._clock()
        return not market.closed and market.accepting_from_s() <= now < market.spec.end_ts

    def is_closed(self, condition_id: str) -> bool:
        """Whether the market's end has passed (its resting orders are or will be cancelled)."""
        market = self._markets.get(condition_id)
        return market is None or market.closed or self._clock() >= market.spec.end_ts

    def tick_size(self, token_id: str) -> str:
        return self._market_for_token(token_id).tick

    def neg_risk(self, token_id: str) -> bool:
        return self._market_for_token(token_id).spec.neg_risk

    def _market_for_token(self, token_id: str) -> _Market:
        market = self._by_token.get(token_id)
        if market is None:
            raise KeyError(token_id)
        return market

    def set_tick_size(self, condition_id: str, new_tick: str) -> None:
        """Change the market's tick and emit `tick_size_change` for both tokens (spec 6.2).

        Resting orders off the new grid stay; new orders must use the new tick.
        """
        market = self._markets[condition_id]
        new_units = _tick_units(new_tick)
        old_tick = market.tick
        market.tick, market.tick_units = new_tick, new_units
        now = self._clock()
        for token in market.tokens():
            payload = {
                "event_type": "tick_size_change",
                "asset_id": token,
                "market": condition_id,
                "old_tick_size": old_tick,
                "new_tick_size": new_tick,
                "timestamp": ms_string(now),
            }
            self._emit(MarketData((token,), condition_id, payload))
        self._finish()

    def book(self, token_id: str) -> dict[str, Any]:
        """`GET /book` for one token (spec 1.3); KeyError for an unknown token."""
        market = self._market_for_token(token_id)
        return self._summary(market, token_id, self._clock())

    def _summary(self, market: _Market, token_id: str, now: float) -> dict[str, Any]:
        last = market.last_trade_units.get(token_id)
        return book_summary(
            market.book,
            market=market.spec.condition_id,
            asset_id=token_id,
            yes=market.is_yes(token_id),
            now_s=now,
            min_order_size=fmt_units(market.min_size_units),
            tick_size=market.tick,
            neg_risk=market.spec.neg_risk,
            last_trade_price="" if last is None else fmt_units(last),
        )

    # --- accounts -----------------------------------------------------------------------------

    def ensure_account(self, address: str) -> None:
        """Open a paper account funded with `paper_balance_pusd`, allowances set; idempotent."""
        self._accounts.open(address, units_from_decimal(round(self._config.paper_balance_pusd, 6)))

    def register_api_key(self, api_key: str, address: str) -> None:
        """Bind an API key (order `owner`) to its signer address, whose account is opened if new."""
        self._api_keys[api_key] = address
        self.ensure_account(address)

    def address_for_key(self, api_key: str) -> str | None:
        return self._api_keys.get(api_key)

    def fund(self, address: str, *, pusd_units: int = 0, token_id: str | None = None, shares_units: int = 0) -> None:
        """Credit pUSD and/or shares to an account (opening it empty if needed); for tests and flow."""
        self._accounts.open(address, 0)
        if pusd_units:
            self._accounts.credit_pusd(address, pusd_units)
        if token_id is not None and shares_units:
            self._accounts.credit_tokens(address, token_id, shares_units)

    def balance(self, address: str, asset_type: str, token_id: str | None) -> dict[str, Any]:
        """`GET /balance-allowance` body; ValueError on a bad asset type."""
        return self._accounts.balance_wire(address, asset_type, token_id, self._config.allowance_units)

    @property
    def accounts(self) -> Accounts:
        return self._accounts

    # --- heartbeats ---------------------------------------------------------------------------

    def heartbeat(self, owner: str, heartbeat_id: str | None) -> str:
        """Extend `owner`'s chain and return the next id; HeartbeatMismatch(expected_id) on a wrong id."""
        try:
            return self._heartbeats.beat(owner, heartbeat_id, self._clock())
        finally:
            self._finish()

    # --- faults -------------------------------------------------------------------------------

    def set_mode(self, mode: str, until_s: float | None = None) -> None:
        """Engine mode until the clock time `until_s` (None: until changed).

        A "restarting" window (425) is followed by `post_only_mode_s` of post-only mode (spec 9).
        """
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {sorted(MODES)}")
        self._mode, self._mode_until_s = mode, until_s
        self._finish()

    @property
    def mode(self) -> str:
        self._update_mode(self._clock())
        return self._mode

    def fail_next_trades(self, n: int) -> None:
        """Make the next `n` trades end FAILED (balances reversed) instead of CONFIRMED."""
        self._fail_next_trades += n

    def _update_mode(self, now: float) -> None:
        while self._mode_until_s is not None and now >= self._mode_until_s:
            if self._mode == "restarting":
                self._mode, self._mode_until_s = "post_only", self._mode_until_s + self._config.post_only_mode_s
            else:
                self._mode, self._mode_until_s = "normal", None

    def _retry_after(self, now: float) -> int | None:
        return None if self._mode_until_s is None else max(1, math.ceil(self._mode_until_s - now))

    def _check_place_mode(self, post_only: bool, now: float) -> None:
        self._update_mode(now)
        if self._mode == "restarting":
            raise OrderRejected(ERR_ENGINE_RESTARTING, 425, retry_after_s=self._retry_after(now))
        if self._mode == "disabled":
            raise OrderRejected(ERR_TRADING_DISABLED, 503)
        if self._mode == "cancel_only":
            raise OrderRejected(ERR_CANCEL_ONLY, 503)
        if self._mode == "post_only" and not post_only:
            raise OrderRejected(
                ERR_POST_ONLY_MODE, 503, code=ERR_POST_ONLY_MODE_CODE, retry_after_s=self._retry_after(now)
            )

    def _check_cancel_mode(self, now: float) -> None:
        self._update_mode(now)
        if self._mode == "restarting":
            raise OrderRejected(ERR_ENGINE_RESTARTING, 425, retry_after_s=self._retry_after(now))

    # --- placement ----------------------------------------------------------------------------

    def place(self, order: NewOrder) -> PlaceResult:
        """Validate and execute one order; OrderRejected with the venue's exact text and status.

        A killed FOK/FAK raises too, after its CANCELLATION event (spec 4: a 400 with the order id).
        """
        try:
            return self._place(order)
        except OrderRejected as exc:
            self._counts["rejected"] += 1
            self._counts[f"rejected:{exc.status}"] += 1
            raise
        finally:
            self._finish()

    def place_many(self, orders: list[NewOrder]) -> list[PlaceResult | OrderRejected]:
        """Place orders in sequence (`POST /orders`): one result or rejection per order, in order."""
        results: list[PlaceResult | OrderRejected] = []
        with self.batch():
            for order in orders:
                try:
                    results.append(self.place(order))
                except OrderRejected as exc:
                    results.append(exc)
        return results

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group calls: market data is summarised and listeners run once, when the outermost batch ends."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            self._finish()

    def _place(self, order: NewOrder) -> PlaceResult:
        now = self._clock()
        self._check_place_mode(order.post_only, now)
        market = self._by_token.get(order.token_id)
        if market is None or market.closed or not market.accepting_from_s() <= now < market.spec.end_ts:
            raise OrderRejected(ERR_MARKET_NOT_READY)
        if (
            order.side not in ("BUY", "SELL")
            or order.order_type not in ORDER_TYPES
            or order.maker_amount <= 0
            or order.taker_amount <= 0
        ):
            raise OrderRejected(ERR_INVALID_PAYLOAD)
        price_units = self._limit_price(order, market)
        is_buy = order.side == "BUY"
        is_market_type = order.order_type in MARKET_ORDER_TYPES
        size_units = order.taker_amount if is_buy else order.maker_amount
        if (not is_market_type or self._config.min_size_applies_to_market_orders) and (
            size_units < market.min_size_units
        ):
            raise OrderRejected(
                ERR_MIN_SIZE_FMT.format(
                    id=order.order_id, size=fmt_units(size_units), min=fmt_units(market.min_size_units)
                )
            )
        self._seq += 1
        sim = SimOrder(
            order_id=order.order_id,
            owner=order.owner,
            maker_address=order.maker_address,
            market=market.spec.condition_id,
            token_id=order.token_id,
            outcome=market.outcome(order.token_id),
            is_yes=market.is_yes(order.token_id),
            side=order.side,
            order_type=order.order_type,
            post_only=order.post_only,
            expiration=order.expiration,
            created_at_s=now,
            price_units=price_units,
            maker_amount=order.maker_amount,
            taker_amount=order.taker_amount,
            seq=self._seq,
            budget_units=order.maker_amount,
        )
        crosses = market.book.crosses(sim.book_side, sim.yes_price)
        marketable = is_market_type or (crosses and not order.post_only)
        min_buy_units = units_from_decimal(round(self._config.marketable_buy_min_pusd, 6))
        if is_buy and marketable and order.maker_amount < min_buy_units:
            raise OrderRejected(ERR_MARKETABLE_BUY_MIN_FMT.format(amount=fmt_units(order.maker_amount)))
        if is_market_type and self._config.enforce_market_order_precision:
            self._check_market_precision(order, market)
        if order.post_only and is_market_type:
            raise OrderRejected(ERR_POST_ONLY_WITH_MARKET_TYPE)
        self._check_expiration(order, now)
        fills, left = self._plan(market, sim) if marketable else ([], sim.budget_units)
        self._check_balance(sim, fills, market)
        if order.order_id in self._orders:
            raise OrderRejected(ERR_DUPLICATED_FMT.format(id=order.order_id))
        if order.post_only and crosses:
            raise OrderRejected(ERR_POST_ONLY_CROSSES)

        # Accepted: from here the order exists (a duplicate of it is rejected) and reserves funds.
        self._orders[sim.order_id] = sim
        self._reserve(sim)
        self._counts["placed"] += 1
        if marketable and market.spec.taker_delay_s > 0:
            sim.status = DELAYED
            self._open_by_owner[sim.owner][sim.order_id] = sim
            heapq.heappush(self._delayed_due, (now + market.spec.taker_delay_s, sim.seq, sim.order_id))
            return PlaceResult(sim.order_id, "delayed", "", "", [])
        outcome = self._execute(market, sim, fills, left, now)
        if isinstance(outcome, str):
            raise OrderRejected(outcome)
        return outcome

    def _limit_price(self, order: NewOrder, market: _Market) -> int:
        """The order's limit in its token's space, on the tick grid within [tick, 1 − tick]."""
        if order.side == "BUY":
            implied = Fraction(order.maker_amount, order.taker_amount)
        else:
            implied = Fraction(order.taker_amount, order.maker_amount)
        tick = Fraction(market.tick_units, UNIT)
        grid = math.floor(implied / tick + Fraction(1, 2)) * tick
        if abs(implied - grid) > tick * _TICK_TOLERANCE_FRACTION or not tick <= grid <= 1 - tick:
            shown = fmt_units(round(implied * UNIT))
            raise OrderRejected(ERR_TICK_FMT.format(id=order.order_id, price=shown, tick=market.tick))
        return int(grid * UNIT)

    def _check_market_precision(self, order: NewOrder, market: _Market) -> None:
        maker_step = 10 ** (6 - _MARKET_MAKER_AMOUNT_DECIMALS)
        if order.side == "BUY":
            taker_step = 10 ** (6 - ROUNDING_CONFIG[market.tick].amount)
            if order.maker_amount % maker_step or order.taker_amount % taker_step:
                raise OrderRejected(ERR_MARKET_PRECISION)
        elif order.maker_amount % maker_step:
            raise OrderRejected(ERR_SELL_PRECISION)

    def _check_expiration(self, order: NewOrder, now: float) -> None:
        if order.order_type == "GTD":
            if order.expiration <= now + self._config.gtd_security_s:
                raise OrderRejected(ERR_INVALID_EXPIRATION)
        elif order.expiration != 0 and self._config.reject_expiration_on_non_gtd:
            raise OrderRejected(ERR_INVALID_EXPIRATION)

    def _plan(self, market: _Market, sim: SimOrder) -> tuple[list[Fill], int]:
        skip = sim.owner if self._config.prevent_self_trade else None
        return market.book.plan(sim, sim.budget_units, skip_owner=skip)

    def _fee_units(self, market: _Market, shares_units: int, price_units: int) -> int:
        """Taker fee = C × rate × (p(1−p))^exponent, rounded to 5 decimals, at least 0.00001 (spec 9)."""
        rate = market.spec.fee_rate
        if rate <= 0:
            return 0
        p = price_units / UNIT
        raw = shares_units / UNIT * rate * (p * (1 - p)) ** market.spec.fee_exponent
        if raw <= 0:
            return 0
        fee = max(round(raw, _FEE_DECIMALS), 10.0**-_FEE_DECIMALS)
        return round(fee * UNIT)

    def _check_balance(self, sim: SimOrder, fills: list[Fill], market: _Market) -> None:
        """Balance/allowance with reservation; a BUY's fees on its crossing part count (spec 5.3)."""
        address = sim.maker_address
        if sim.is_buy:
            fees = sum(self._fee_units(market, fill.shares, fill.taker_price) for fill in fills)
            required = sim.maker_amount + fees
            balance = self._accounts.pusd(address)
            reserved = self._accounts.reserved_pusd(address)
        else:
            fees = 0
            required = sim.maker_amount
            balance = self._accounts.tokens(address, sim.token_id)
            reserved = self._accounts.reserved_tokens(address, sim.token_id)
        if self._accounts.exists(address) and balance - reserved >= required:
            return
        parts = [f"balance: {balance}"]
        if reserved:
            parts.append(f"sum of active orders: {reserved}")
        parts.append(f"order amount (inc. fees): {required}" if fees else f"order amount: {required}")
        raise OrderRejected(f"{ERR_BALANCE_PREFIX}: the balance is not enough -> {', '.join(parts)}")

    def _reserve(self, sim: SimOrder) -> None:
        sim.reserved_units = sim.maker_amount
        if sim.is_buy:
            self._accounts.reserve_pusd(sim.maker_address, sim.reserved_units)
        else:
            self._accounts.reserve_tokens(sim.maker_address, sim.token_id, sim.reserved_units)

    def _release(self, sim: SimOrder, units: int) -> None:
        units = min(units, sim.reserved_units)
        sim.reserved_units -= units
        if sim.is_buy:
            self._accounts.release_pusd(sim.maker_address, units)
        else:
            self._accounts.release_tokens(sim.maker_address, sim.token_id, units)

    def _fully_filled(self, sim: SimOrder, budget_left: int) -> bool:
        if sim.is_buy:
            return budget_left * UNIT < sim.price_units
        return budget_left == 0

    def _execute(
        self, market: _Market, sim: SimOrder, fills: list[Fill], left: int, now: float
    ) -> PlaceResult | str:
        """Match an accepted order, then rest, finish or kill it. Returns the kill text for FOK/FAK."""
        if sim.order_type == "FOK" and not self._fully_filled(sim, left):
            self._kill(sim, ERR_FOK_NOT_FILLED, now)
            return ERR_FOK_NOT_FILLED
        if sim.order_type == "FAK" and not fills:
            self._kill(sim, ERR_FAK_NO_MATCH, now)
            return ERR_FAK_NO_MATCH
        trade = self._apply_fills(market, sim, fills, now) if fills else None
        self._touch(market)
        if sim.order_type in MARKET_ORDER_TYPES or sim.open_shares() == 0:
            filled = self._fully_filled(sim, sim.budget_units)
            sim.status = MATCHED if filled else CANCELED
            self._release(sim, sim.reserved_units)
            self._open_by_owner[sim.owner].pop(sim.order_id, None)
            if trade is not None:
                self._emit_order(sim, ORDER_UPDATE, now, status=MATCHED if filled else LIVE)
            if not filled:
                self._emit_order(sim, ORDER_CANCELLATION, now)
        else:
            sim.status = LIVE
            market.book.add(sim)
            market.dirty.add((sim.book_side, sim.yes_price))
            self._open_by_owner[sim.owner][sim.order_id] = sim
            if sim.order_type == "GTD":
                at_s = sim.expiration - self._config.gtd_security_s
                heapq.heappush(self._gtd_due, (at_s, sim.seq, sim.order_id))
            self._emit_order(sim, ORDER_UPDATE if trade else ORDER_PLACEMENT, now)
        if trade is None:
            return PlaceResult(sim.order_id, "live", "", "", [])
        spent = sum(f.taker_notional for f in fills)
        shares = sum(f.shares for f in fills)
        making, taking = (spent, shares) if sim.is_buy else (shares, spent)
        return PlaceResult(sim.order_id, "matched", fmt_units(making), fmt_units(taking), [trade.trade_id])

    def _kill(self, sim: SimOrder, reason: str, now: float) -> None:
        sim.status = CANCELED
        self._release(sim, sim.reserved_units)
        self._open_by_owner[sim.owner].pop(sim.order_id, None)
        self._counts["killed"] += 1
        self._emit_order(sim, ORDER_CANCELLATION, now, status=f"{CANCELED}_{reason}", killed=True)

    def _apply_fills(self, market: _Market, taker: SimOrder, fills: list[Fill], now: float) -> TradeRecord:
        """Move balances for every fill, update both sides, record one trade and emit its events."""
        trade_id = self._new_uuid()
        deltas: list[BalanceDelta] = []
        maker_records: list[MakerFillRecord] = []
        touched_makers: list[SimOrder] = []
        fee_total = notional_total = shares_total = 0
        for fill in fills:
            maker = fill.maker
            fee = self._fee_units(market, fill.shares, fill.taker_price)
            fee_total += fee
            notional_total += fill.taker_notional
            shares_total += fill.shares
            if taker.is_buy:
                taker_pusd, taker_shares = -(fill.taker_notional + fee), fill.shares
                self._release(taker, fill.taker_notional)
                taker.budget_units -= fill.taker_notional
            else:
                taker_pusd, taker_shares = fill.taker_notional - fee, -fill.shares
                self._release(taker, fill.shares)
                taker.budget_units -= fill.shares
            if maker.is_buy:
                maker_pusd, maker_shares = -fill.maker_notional, fill.shares
                self._release(maker, fill.maker_notional)
                maker.budget_units -= fill.maker_notional
            else:
                maker_pusd, maker_shares = fill.maker_notional, -fill.shares
                self._release(maker, fill.shares)
                maker.budget_units -= fill.shares
            for delta in (
                BalanceDelta(taker.maker_address, taker_pusd, taker.token_id, taker_shares),
                BalanceDelta(maker.maker_address, maker_pusd, maker.token_id, maker_shares),
            ):
                self._apply_delta(delta, sign=1)
                deltas.append(delta)
            market.dirty.add((maker.book_side, maker.yes_price))
            maker.matched_shares += fill.shares
            if trade_id not in maker.trade_ids:
                maker.trade_ids.append(trade_id)
            if maker not in touched_makers:
                touched_makers.append(maker)
            maker_records.append(
                MakerFillRecord(
                    order_id=maker.order_id,
                    owner=maker.owner,
                    maker_address=maker.maker_address,
                    matched_units=fill.shares,
                    price_units=fill.maker_price,
                    asset_id=maker.token_id,
                    outcome=maker.outcome,
                    side=maker.side,
                )
            )
        taker.matched_shares += shares_total
        taker.trade_ids.append(trade_id)
        self._fees_collected_units += fee_total
        will_fail = self._fail_next_trades > 0
        if will_fail:
            self._fail_next_trades -= 1
        trade = TradeRecord(
            trade_id=trade_id,
            taker_order_id=taker.order_id,
            market=market.spec.condition_id,
            asset_id=taker.token_id,
            side=taker.side,
            size_units=shares_total,
            price_units=(2 * notional_total * UNIT + shares_total) // (2 * shares_total),
            outcome=taker.outcome,
            taker_owner=taker.owner,
            taker_address=taker.maker_address,
            match_time_s=now,
            maker_fills=maker_records,
            deltas=deltas,
            taker_fee_units=fee_total,
            will_fail=will_fail,
        )
        self._trades.add(trade)
        self._counts["trades"] += 1
        market.traded = True
        self._emit_last_trades(market, taker, fills, now)
        self._emit_trade(trade, now)
        for maker in touched_makers:
            if maker.open_shares() == 0:
                market.book.remove(maker)
                maker.status = MATCHED
                self._release(maker, maker.reserved_units)
                self._open_by_owner[maker.owner].pop(maker.order_id, None)
            self._emit_order(maker, ORDER_UPDATE, now)
        return trade

    def _apply_delta(self, delta: BalanceDelta, *, sign: int) -> None:
        if delta.pusd_units:
            self._accounts.credit_pusd(delta.address, sign * delta.pusd_units)
        if delta.token_id is not None and delta.token_units:
            self._accounts.credit_tokens(delta.address, delta.token_id, sign * delta.token_units)

    # --- cancels ------------------------------------------------------------------------------

    def cancel(self, owner: str, order_ids: list[str]) -> tuple[list[str], dict[str, str]]:
        """Cancel orders by id: (canceled, not_canceled{id: reason}). Duplicate ids are ignored.

        OrderRejected 400 beyond `max_cancel_batch` ids, 425 while the engine restarts.
        """
        try:
            now = self._clock()
            self._check_cancel_mode(now)
            if len(order_ids) > self._config.max_cancel_batch:
                raise OrderRejected(ERR_TOO_MANY_CANCELS_FMT.format(max=self._config.max_cancel_batch))
            canceled: list[str] = []
            not_canceled: dict[str, str] = {}
            for order_id in dict.fromkeys(order_ids):
                sim = self._orders.get(order_id)
                if sim is None or sim.owner != owner:
                    not_canceled[order_id] = self._config.cancel_not_found_reason
                elif order_id not in self._open_by_owner[owner]:
                    not_canceled[order_id] = self._config.cancel_done_reason
                else:
                    self._close(sim, CANCELED, now)
                    canceled.append(order_id)
            return canceled, not_canceled
        finally:
            self._finish()

    def cancel_market(
        self, owner: str, *, market: str | None = None, asset_id: str | None = None
    ) -> tuple[list[str], dict[str, str]]:
        """Cancel `owner`'s open orders in a market and/or token; with neither filter, all of them."""
        try:
            now = self._clock()
            self._check_cancel_mode(now)
            canceled: list[str] = []
            for sim in list(self._open_by_owner[owner].values()):
                if market and sim.market != market:
                    continue
                if asset_id and sim.token_id != asset_id:
                    continue
                self._close(sim, CANCELED, now)
                canceled.append(sim.order_id)
            return canceled, {}
        finally:
            self._finish()

    def cancel_all(self, owner: str) -> tuple[list[str], dict[str, str]]:
        """Cancel every open order of `owner`."""
        return self.cancel_market(owner)

    def _close(self, sim: SimOrder, status: str, now: float) -> None:
        """Take an open order off the venue (its unfilled remainder only) with a CANCELLATION event."""
        market = self._markets[sim.market]
        if sim.resting:
            market.book.remove(sim)
            market.dirty.add((sim.book_side, sim.yes_price))
            self._touch(market)
        sim.status = status
        self._release(sim, sim.reserved_units)
        self._open_by_owner[sim.owner].pop(sim.order_id, None)
        self._counts[f"closed:{status}"] += 1
        self._emit_order(sim, ORDER_CANCELLATION, now)

    # --- queries ------------------------------------------------------------------------------

    def open_orders(
        self,
        owner: str,
        *,
        market: str | None = None,
        asset_id: str | None = None,
        order_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """`owner`'s resting orders as wire `OpenOrder` dicts, in creation order."""
        result = []
        for sim in self._open_by_owner.get(owner, {}).values():
            if sim.status != LIVE:
                continue
            if (market and sim.market != market) or (asset_id and sim.token_id != asset_id):
                continue
            if order_id and sim.order_id != order_id:
                continue
            result.append(order_rest(sim, market_buy_in_pusd=self._config.market_buy_original_size_in_pusd))
        return result

    def get_order(self, owner: str, order_id: str) -> dict[str, Any] | None:
        """One of `owner`'s orders (finished ones too unless configured otherwise); None if not theirs."""
        sim = self._orders.get(order_id)
        if sim is None or sim.owner != owner:
            return None
        if not self._config.get_order_returns_finished and order_id not in self._open_by_owner[owner]:
            return None
        return order_rest(sim, market_buy_in_pusd=self._config.market_buy_original_size_in_pusd)

    def trades(
        self,
        owner: str,
        *,
        market: str | None = None,
        asset_id: str | None = None,
        trade_id: str | None = None,
        after_s: float | None = None,
    ) -> list[dict[str, Any]]:
        """`owner`'s trades as wire `Trade` dicts (spec 1.2), as taker and/or maker, in match order."""
        result = []
        for trade in self._trades.for_owner(owner):
            if (trade_id and trade.trade_id != trade_id) or (market and trade.market != market):
                continue
            if asset_id and not trade.involves_asset(owner, asset_id):
                continue
            if after_s is not None and trade.match_time_s < after_s:
                continue
            for view_owner, trader_side, address in trade.views():
                if view_owner == owner:
                    result.append(trade.rest(owner, trader_side, address))
        return result

    # --- time ---------------------------------------------------------------------------------

    def advance(self) -> None:
        """Apply everything due at `clock()`: delayed takers, GTD expiry, trade lifecycle,
        heartbeat sweeps, market end and resolution, mode windows."""
        try:
            now = self._clock()
            self._update_mode(now)
            self._run_delayed(now)
            self._expire_gtd(now)
            self._advance_trades(now)
            for owner in self._heartbeats.sweep(now):
                self._counts["heartbeat_expiries"] += 1
                for sim in list(self._open_by_owner[owner].values()):
                    self._close(sim, CANCELED, now)
            self._end_markets(now)
        finally:
            self._finish()

    def next_deadline(self) -> float | None:
        """The earliest clock time at which `advance()` has work, or None."""
        self._drop_stale(self._gtd_due)
        self._drop_stale(self._delayed_due)
        candidates = [
            self._mode_until_s,
            self._gtd_due[0][0] if self._gtd_due else None,
            self._delayed_due[0][0] if self._delayed_due else None,
            self._trades.next_deadline(),
            self._heartbeats.next_deadline(),
        ]
        for condition_id in self._unresolved:
            market = self._markets[condition_id]
            end = market.spec.end_ts
            candidates.append(end + self._config.market_resolve_delay_s if market.closed else end)
        times = [t for t in candidates if t is not None]
        return min(times) if times else None

    def _drop_stale(self, heap: list[tuple[float, int, str]]) -> None:
        while heap and heap[0][2] not in self._open_by_owner[self._orders[heap[0][2]].owner]:
            heapq.heappop(heap)

    def _run_delayed(self, now: float) -> None:
        while self._delayed_due and self._delayed_due[0][0] <= now:
            _at, _seq, order_id = heapq.heappop(self._delayed_due)
            sim = self._orders[order_id]
            if order_id not in self._open_by_owner[sim.owner]:
                continue  # cancelled while delayed
            market = self._markets[sim.market]
            sim.status = LIVE
            fills, left = self._plan(market, sim)
            if sim.is_buy:
                cost = sum(f.taker_notional + self._fee_units(market, f.shares, f.taker_price) for f in fills)
                if self._accounts.available_pusd(sim.maker_address) + sim.reserved_units < cost:
                    self._close(sim, INVALID, now)
                    continue
            self._execute(market, sim, fills, left, now)

    def _expire_gtd(self, now: float) -> None:
        while self._gtd_due and self._gtd_due[0][0] <= now:
            _at, _seq, order_id = heapq.heappop(self._gtd_due)
            sim = self._orders[order_id]
            if order_id in self._open_by_owner[sim.owner]:
                self._counts["gtd_expired"] += 1
                self._close(sim, CANCELED, now)

    def _advance_trades(self, now: float) -> None:
        def changed(trade: TradeRecord) -> None:
            if trade.status == TRADE_FAILED:
                for delta in reversed(trade.deltas):
                    self._apply_delta(delta, sign=-1)
                self._fees_collected_units -= trade.taker_fee_units
            self._emit_trade(trade, now)

        self._trades.advance(now, changed)

    def _end_markets(self, now: float) -> None:
        for condition_id in sorted(self._unresolved):
            market = self._markets[condition_id]
            if not market.closed and now >= market.spec.end_ts:
                market.closed = True
            if market.closed and now >= market.spec.end_ts + self._config.market_resolve_delay_s:
                market.resolved = True
                self._unresolved.discard(condition_id)
                for sim in list(market.book.orders()) + self._delayed_in(condition_id):
                    self._close(sim, CANCELED_MARKET_RESOLVED, now)

    def _delayed_in(self, condition_id: str) -> list[SimOrder]:
        return [
            self._orders[order_id]
            for _at, _seq, order_id in self._delayed_due
            if self._orders[order_id].market == condition_id and self._orders[order_id].status == DELAYED
        ]

    # --- events -------------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[SimEvent], None]) -> Callable[[], None]:
        """Receive every event; returns the unsubscribe function."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def add_schedule_listener(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Be told after every public call that `next_deadline()` may have changed (driver wake-up)."""
        self._schedule_listeners.append(callback)

        def remove() -> None:
            if callback in self._schedule_listeners:
                self._schedule_listeners.remove(callback)

        return remove

    def _emit(self, event: SimEvent) -> None:
        self._outbox.append(event)

    def _touch(self, market: _Market) -> None:
        self._touched[market.spec.condition_id] = market

    def _emit_order(self, sim: SimOrder, kind: str, now: float, *, status: str | None = None, killed: bool = False) -> None:
        payload = order_event(
            sim,
            kind,
            now,
            status=status,
            killed=killed,
            market_buy_in_pusd=self._config.market_buy_original_size_in_pusd,
        )
        self._emit(UserData(sim.owner, sim.market, payload))

    def _emit_trade(self, trade: TradeRecord, now: float) -> None:
        for owner, trader_side, address in trade.views():
            self._emit(UserData(owner, trade.market, trade.ws(owner, trader_side, address, now)))

    def _emit_last_trades(self, market: _Market, taker: SimOrder, fills: list[Fill], now: float) -> None:
        """`last_trade_price` per execution price, on both tokens (the book is one, mirrored)."""
        by_price: dict[int, int] = {}
        for fill in fills:
            by_price[fill.taker_price] = by_price.get(fill.taker_price, 0) + fill.shares
        other = market.spec.no_token_id if taker.is_yes else market.spec.yes_token_id
        other_side = "SELL" if taker.is_buy else "BUY"
        for price, shares in by_price.items():
            for token, token_price, side in ((taker.token_id, price, taker.side), (other, UNIT - price, other_side)):
                market.last_trade_units[token] = token_price
                payload = {
                    "event_type": "last_trade_price",
                    "asset_id": token,
                    "market": market.spec.condition_id,
                    "price": fmt_units(token_price),
                    "side": side,
                    "size": fmt_units(shares),
                    "fee_rate_bps": "0",
                    "timestamp": ms_string(now),
                }
                self._emit(MarketData((token,), market.spec.condition_id, payload))

    def _emit_market_changes(self, market: _Market, now: float) -> None:
        cid = market.spec.condition_id
        tokens = market.tokens()
        if market.traded:
            for token in tokens:
                self._emit(MarketData((token,), cid, {"event_type": "book", **self._summary(market, token, now)}))
        elif market.dirty:
            hashes = {token: self._summary(market, token, now)["hash"] for token in tokens}
            tops = {token: top_of_book(market.book, yes=market.is_yes(token)) for token in tokens}
            entries = []
            for side, yes_price in sorted(market.dirty):
                size = fmt_units(market.book.level_shares(side, yes_price))
                yes_side, no_side = ("BUY", "SELL") if side == BID else ("SELL", "BUY")
                for token, price, token_side in ((tokens[0], yes_price, yes_side), (tokens[1], UNIT - yes_price, no_side)):
                    bid, ask = tops[token]
                    entries.append(
                        {
                            "asset_id": token,
                            "price": fmt_units(price),
                            "size": size,
                            "side": token_side,
                            "hash": hashes[token],
                            "best_bid": fmt_units(bid),
                            "best_ask": fmt_units(ask),
                        }
                    )
            payload = {"event_type": "price_change", "market": cid, "timestamp": ms_string(now), "price_changes": entries}
            self._emit(MarketData(tokens, cid, payload))
        market.dirty.clear()
        market.traded = False
        for token in tokens:
            bbo = top_of_book(market.book, yes=market.is_yes(token))
            if bbo != market.last_bbo.get(token):
                market.last_bbo[token] = bbo
                payload = {
                    "event_type": "best_bid_ask",
                    "market": cid,
                    "asset_id": token,
                    "best_bid": fmt_units(bbo[0]),
                    "best_ask": fmt_units(bbo[1]),
                    "spread": fmt_units(bbo[1] - bbo[0]),
                    "timestamp": ms_string(now),
                }
                self._emit(MarketData((token,), cid, payload))

    def _finish(self) -> None:
        """Emit the market-data consequences of the call, deliver all events, wake the driver."""
        if self._batch_depth:
            return
        if self._touched:
            now = self._clock()
            touched, self._touched = self._touched, {}
            for market in touched.values():
                self._emit_market_changes(market, now)
        if self._flushing:
            return
        self._flushing = True
        try:
            while self._outbox:
                event = self._outbox.pop(0)
                self._counts["events"] += 1
                for listener in list(self._listeners):
                    listener(event)
        finally:
            self._flushing = False
        for callback in list(self._schedule_listeners):
            callback()

    # --- introspection ------------------------------------------------------------------------

    def statistics(self) -> dict[str, Any]:
        """Counts that matter: orders, trades, fees, heartbeats, accounts, events, mode."""
        return {
            "markets": len(self._markets),
            "open_orders": sum(len(orders) for orders in self._open_by_owner.values()),
            "orders_total": len(self._orders),
            "mode": self._mode,
            "fees_collected_units": self._fees_collected_units,
            "counts": dict(self._counts),
            "trades": self._trades.statistics(),
            "heartbeats": self._heartbeats.statistics(),
            "accounts": self._accounts.statistics(),
        }
