"""The simulated CLOB V2 exchange: validation, one mirrored matching engine per market, accounts,
trade lifecycle, heartbeats, market end and engine-level faults, emitting the venue's wire events.

Spec: docs/protocol/polymarket-clob.md (sections 1.2–1.4, 4, 5, 6.2–6.3, 9, 10). Everything is
synchronous and driven by an injected clock: `advance()` applies whatever is due at `clock()` and
`next_deadline()` says when that is, so a Trio driver (bot/sim/venue.py) or a test steps time.

Validation runs in the spec's order (10.4): mode → market accepting → tick grid and range → minimum
size → marketable BUY ≥ $1 and market-order precision → post-only with FOK/FAK → expiration →
balance/allowance with reservation (fees included) → duplicate → post-only cross → match.

Module map: `book` (mirrored book, fill planning), `settlement` (balances), `trades` (trade records
and lifecycle), `market` (per-market state and market-channel payloads), `rules` (validation, fees,
modes), `heartbeats`, `orders_wire` (order and book shapes), `model` (the public value types).
"""

from __future__ import annotations

import contextlib
import heapq
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from bot.protocol.constants import (
    ERR_DUPLICATED_FMT,
    ERR_FAK_NO_MATCH,
    ERR_FOK_NOT_FILLED,
    ERR_INVALID_PAYLOAD,
    ERR_MARKET_NOT_READY,
    ERR_MARKETABLE_BUY_MIN_FMT,
    ERR_MIN_SIZE_FMT,
    ERR_POST_ONLY_CROSSES,
    ERR_POST_ONLY_WITH_MARKET_TYPE,
    ERR_TOO_MANY_CANCELS_FMT,
    MARKET_ORDER_TYPES,
    ORDER_TYPES,
)
from bot.protocol.rewards import SAMPLES_PER_DAY
from bot.sim.accounts import Accounts
from bot.sim.book import Fill, SimOrder, ceil_div
from bot.sim.heartbeats import HeartbeatMismatch, HeartbeatRegistry
from bot.sim.market import SimMarket
from bot.sim.model import (
    MarketData,
    MarketSpec,
    NewOrder,
    OrderRejected,
    PlaceResult,
    SimConfig,
    SimEvent,
    UserData,
)
from bot.sim.orders_wire import ORDER_CANCELLATION, ORDER_PLACEMENT, ORDER_UPDATE, order_event, order_rest
from bot.sim.rewards import IncentiveLedger
from bot.sim.rules import (
    EngineMode,
    balance_error,
    check_expiration,
    check_limit_precision,
    check_market_precision,
    limit_price_units,
    taker_fee_units,
)
from bot.sim.settlement import apply_delta, release, reserve, settle_fills
from bot.sim.trades import TRADE_FAILED, TradeBook, TradeRecord
from bot.sim.wallets import WalletRegistry
from bot.sim.wire import UNIT, fmt_units, units_from_decimal

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


class Exchange:
    """A CLOB V2 venue in memory. Not thread-safe; every public call finishes by emitting its events.

    Listeners get `MarketData`/`UserData` events synchronously, after the state change is complete;
    a listener may call back into the exchange (its events are delivered after the current ones).
    """

    def __init__(self, *, clock: Callable[[], float], config: SimConfig | None = None, seed: int = 0) -> None:
        self._clock = clock
        self._config = config or SimConfig()
        self._rng = random.Random(seed)
        self._markets: dict[str, SimMarket] = {}
        self._by_token: dict[str, SimMarket] = {}
        self._unresolved: set[str] = set()
        self._orders: dict[str, SimOrder] = {}
        self._open_by_owner: defaultdict[str, dict[str, SimOrder]] = defaultdict(dict)
        self._api_keys: dict[str, str] = {}
        self._accounts = Accounts()
        self.wallets = WalletRegistry()  # who may sign for which maker; per-account switches
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
        self._mode = EngineMode(self._config.post_only_mode_s)
        self._gtd_due: list[tuple[float, int, str]] = []
        self._delayed_due: list[tuple[float, int, str]] = []
        self._seq = 0
        self._fail_next_trades = 0
        self._listeners: list[Callable[[SimEvent], None]] = []
        self._schedule_listeners: list[Callable[[], None]] = []
        self._outbox: list[SimEvent] = []
        self._flushing = False
        self._batch_depth = 0
        self._touched: dict[str, SimMarket] = {}
        # Recorded outside liquidity by (market, book side, Yes price): see `set_outside_level`.
        self._outside: dict[tuple[str, str, int], SimOrder] = {}
        self._counts: defaultdict[str, int] = defaultdict(int)
        self._fees_collected_units = 0
        self._has_pools = False  # reward samples are scheduled only once a market with a pool is listed
        # Its own generator: drawing sample moments must not shift the ids the exchange hands out.
        self.incentives = IncentiveLedger(
            sample_period_s=self._config.rewards_sample_period_s,
            min_rest_s=self._config.scoring_min_rest_s,
            origin_s=clock(),
            rng=random.Random(f"rewards:{seed}"),
        )

        self.reference_incentives: IncentiveLedger | None = None
        subsamples = self._config.rewards_reference_subsamples
        if subsamples > 0:
            self.reference_incentives = IncentiveLedger(
                sample_period_s=self._config.rewards_sample_period_s / subsamples,
                min_rest_s=self._config.scoring_min_rest_s,
                origin_s=clock(),
                rng=random.Random(f"reference:{seed}"),
                samples_per_day=SAMPLES_PER_DAY * subsamples,
            )

    def __repr__(self) -> str:
        return (
            f"<Exchange markets={len(self._markets)} open_orders={self._open_count()} "
            f"trades={self._counts['trades']} mode={self._mode.mode}>"
        )

    def _open_count(self) -> int:
        return sum(len(orders) for orders in self._open_by_owner.values())

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
        """List a market (emits `new_market`); ValueError if its condition id or a token is listed."""
        if spec.condition_id in self._markets:
            raise ValueError(f"market {spec.condition_id} already listed")
        for token in (spec.yes_token_id, spec.no_token_id):
            if token in self._by_token:
                raise ValueError(f"token {token} already listed")
        market = SimMarket(spec=spec, listed_at_s=self._clock(), auto_tick=self._config.auto_tick_size)
        self._markets[spec.condition_id] = market
        self._by_token[spec.yes_token_id] = market
        self._by_token[spec.no_token_id] = market
        self._unresolved.add(spec.condition_id)
        self._has_pools = self._has_pools or spec.rewards_rate_per_day > 0
        self._emit(MarketData(market.tokens(), spec.condition_id, market.new_market_payload(self._clock())))
        self._finish()

    def resolve_market(self, condition_id: str, winning_token_id: str) -> None:
        """Announce the winner with the custom-feature `market_resolved` event (spec 6.2).

        Redemption is on-chain, not a CLOB action, so balances do not change here; resting orders are
        cancelled at the market's end by `advance()` whether or not this is called.
        """
        market = self._markets[condition_id]
        payload = market.resolved_payload(winning_token_id, self._clock())
        self._emit(MarketData(market.tokens(), condition_id, payload))
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
        return market is not None and market.accepts_at(self._clock())

    def accepting_from_s(self, condition_id: str) -> float:
        """Since when the market takes orders (Gamma `acceptingOrdersTimestamp`)."""
        return self._markets[condition_id].accepting_from_s()

    def is_closed(self, condition_id: str) -> bool:
        """Whether the market's end has passed (resting orders are or will be cancelled); True if unknown."""
        market = self._markets.get(condition_id)
        return market is None or market.closed or self._clock() >= market.spec.end_ts

    def tick_size(self, token_id: str) -> str:
        """The token's current tick (it may have changed since listing). KeyError if unknown."""
        return self._by_token[token_id].tick

    def neg_risk(self, token_id: str) -> bool:
        return self._by_token[token_id].spec.neg_risk

    def set_tick_size(self, condition_id: str, new_tick: str) -> None:
        """Change the market's tick and emit `tick_size_change` for both tokens (spec 6.2).

        Resting orders off the new grid stay; new orders must use the new tick.
        """
        market = self._markets[condition_id]
        for payload in market.set_tick(new_tick, self._clock()):
            self._emit(MarketData((payload["asset_id"],), condition_id, payload))
        self._finish()

    def book(self, token_id: str) -> dict[str, Any]:
        """`GET /book` for one token (spec 1.3): best level LAST; KeyError for an unknown token."""
        return self._by_token[token_id].summary(token_id, self._clock())

    def book_snapshot(self, token_id: str) -> dict[str, Any]:
        """The market channel's `book` on subscribe (fewer fields than REST); KeyError if unknown."""
        return self._by_token[token_id].snapshot(token_id, self._clock())

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

    def fund(
        self, address: str, *, pusd_units: int = 0, token_id: str | None = None, shares_units: int = 0
    ) -> None:
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

    # --- heartbeats and faults ----------------------------------------------------------------

    def heartbeat(self, owner: str, heartbeat_id: str | None) -> str:
        """Extend `owner`'s chain and return the next id; HeartbeatMismatch(expected_id) on a wrong id."""
        try:
            return self._heartbeats.beat(owner, heartbeat_id, self._clock())
        finally:
            self._finish()

    def set_mode(self, mode: str, until_s: float | None = None) -> None:
        """Engine mode until the clock time `until_s` (None: until changed). ValueError on an unknown mode.

        "restarting": orders and cancels get 425; afterwards `post_only_mode_s` of "post_only" (only
        post-only orders, 503 otherwise). "cancel_only" and "disabled": orders get 503, cancels work.
        """
        self._mode.set(mode, until_s)
        self._finish()

    @property
    def mode(self) -> str:
        self._mode.update(self._clock())
        return self._mode.mode

    def fail_next_trades(self, n: int) -> None:
        """Make the next `n` trades end FAILED (balances reversed) instead of CONFIRMED."""
        self._fail_next_trades += n

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
        self._mode.check_place(order.post_only, now)
        market = self._by_token.get(order.token_id)
        if market is None or not market.accepts_at(now):
            raise OrderRejected(ERR_MARKET_NOT_READY)
        if (
            order.side not in ("BUY", "SELL")
            or order.order_type not in ORDER_TYPES
            or order.maker_amount <= 0
            or order.taker_amount <= 0
        ):
            raise OrderRejected(ERR_INVALID_PAYLOAD)
        price_units = limit_price_units(order, market.tick)
        is_buy = order.side == "BUY"
        is_market_type = order.order_type in MARKET_ORDER_TYPES
        size_units = order.taker_amount if is_buy else order.maker_amount
        if (not is_market_type or self._config.min_size_applies_to_market_orders) and (
            size_units < market.min_size_units
        ):
            shown, minimum = fmt_units(size_units), fmt_units(market.min_size_units)
            raise OrderRejected(ERR_MIN_SIZE_FMT.format(id=order.order_id, size=shown, min=minimum))
        sim = self._new_sim_order(order, market, price_units, now)
        crosses = market.book.crosses(sim.book_side, sim.yes_price)
        marketable = is_market_type or (crosses and not order.post_only)
        min_buy_units = units_from_decimal(round(self._config.marketable_buy_min_pusd, 6))
        if is_buy and marketable and order.maker_amount < min_buy_units:
            raise OrderRejected(ERR_MARKETABLE_BUY_MIN_FMT.format(amount=fmt_units(order.maker_amount)))
        if is_market_type and self._config.enforce_market_order_precision:
            check_market_precision(order, market.tick)
        if not is_market_type and self._config.enforce_limit_order_precision:
            check_limit_precision(order, market.tick)
        if order.post_only and is_market_type:
            raise OrderRejected(ERR_POST_ONLY_WITH_MARKET_TYPE)
        check_expiration(
            order,
            now,
            security_s=self._config.gtd_security_s,
            reject_on_non_gtd=self._config.reject_expiration_on_non_gtd,
            accept_at_boundary=self._config.gtd_accepts_boundary,
        )
        fills, left = self._plan(market, sim) if marketable else ([], sim.budget_units)
        self._check_balance(market, sim, fills)
        if order.order_id in self._orders:
            raise OrderRejected(ERR_DUPLICATED_FMT.format(id=order.order_id))
        if order.post_only and crosses:
            raise OrderRejected(ERR_POST_ONLY_CROSSES)

        # Accepted: from here the order exists (a repost of it is a duplicate) and reserves its funds.
        self._seq += 1
        sim.seq = self._seq
        self._orders[sim.order_id] = sim
        reserve(self._accounts, sim)
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

    def _new_sim_order(self, order: NewOrder, market: SimMarket, price_units: int, now: float) -> SimOrder:
        return SimOrder(
            order_id=order.order_id,
            owner=order.owner,
            maker_address=order.maker_address,
            market=market.condition_id,
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
            seq=0,
            budget_units=order.maker_amount,
        )

    def _plan(self, market: SimMarket, sim: SimOrder) -> tuple[list[Fill], int]:
        skip = sim.owner if self._config.prevent_self_trade else None
        return market.book.plan(sim, sim.budget_units, skip_owner=skip)

    def _fee(self, market: SimMarket) -> Callable[[int, int], int]:
        spec = market.spec
        return lambda shares, price: taker_fee_units(shares, price, spec.fee_rate, spec.fee_exponent)

    def _check_balance(self, market: SimMarket, sim: SimOrder, fills: list[Fill]) -> None:
        """Balance/allowance net of reservations; a BUY's fees on its crossing part count (spec 5.3)."""
        address = sim.maker_address
        if sim.is_buy:
            fee = self._fee(market)
            fees = sum(fee(f.shares, f.taker_price) for f in fills)
            balance, reserved = self._accounts.pusd(address), self._accounts.reserved_pusd(address)
        else:
            fees = 0
            balance = self._accounts.tokens(address, sim.token_id)
            reserved = self._accounts.reserved_tokens(address, sim.token_id)
        required = sim.maker_amount + fees
        if not self._accounts.exists(address) or balance - reserved < required:
            raise balance_error(balance, reserved, required, fees=fees > 0)

    @staticmethod
    def _fully_filled(sim: SimOrder, budget_left: int) -> bool:
        if sim.is_buy:
            return budget_left * UNIT < sim.price_units
        return budget_left == 0

    def _execute(
        self, market: SimMarket, sim: SimOrder, fills: list[Fill], left: int, now: float
    ) -> PlaceResult | str:
        """Match an accepted order, then rest, finish or kill it. Returns the kill text of a FOK/FAK."""
        if sim.order_type == "FOK" and not self._fully_filled(sim, left):
            self._kill(sim, ERR_FOK_NOT_FILLED, now)
            return ERR_FOK_NOT_FILLED
        if sim.order_type == "FAK" and not fills:
            self._kill(sim, ERR_FAK_NO_MATCH, now)
            return ERR_FAK_NO_MATCH
        trade = self._apply_fills(market, sim, fills, now) if fills else None
        self._touched[market.condition_id] = market
        if sim.order_type in MARKET_ORDER_TYPES or sim.open_shares() == 0:
            filled = self._fully_filled(sim, sim.budget_units)
            sim.status = MATCHED if filled else CANCELED
            release(self._accounts, sim)
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
                heapq.heappush(
                    self._gtd_due, (sim.expiration - self._config.gtd_security_s, sim.seq, sim.order_id)
                )
            if trade is None or self._config.placement_when_partly_filled_on_entry:
                self._emit_order(sim, ORDER_PLACEMENT, now)
            if trade is not None:
                self._emit_order(sim, ORDER_UPDATE, now)
        if trade is None:
            return PlaceResult(sim.order_id, "live", "", "", [])
        spent, shares = sum(f.taker_notional for f in fills), trade.size_units
        making, taking = (spent, shares) if sim.is_buy else (shares, spent)
        return PlaceResult(sim.order_id, "matched", fmt_units(making), fmt_units(taking), [trade.trade_id])

    def _kill(self, sim: SimOrder, reason: str, now: float) -> None:
        sim.status = CANCELED
        release(self._accounts, sim)
        self._open_by_owner[sim.owner].pop(sim.order_id, None)
        self._counts["killed"] += 1
        self._emit_order(sim, ORDER_CANCELLATION, now, status=f"{CANCELED}_{reason}", killed=True)

    def _apply_fills(self, market: SimMarket, taker: SimOrder, fills: list[Fill], now: float) -> TradeRecord:
        """Settle every fill, record one trade and emit its events (market data, trades, maker updates)."""
        trade_id = self._new_uuid()
        settled = settle_fills(self._accounts, taker, fills, trade_id, self._fee(market))
        for fill in fills:
            market.dirty.add((fill.maker.book_side, fill.maker.yes_price))
        self._fees_collected_units += settled.fee_units
        self.incentives.record_trade(market.spec, now, settled.fee_units, settled.maker_fills)
        will_fail = self._fail_next_trades > 0
        self._fail_next_trades -= int(will_fail)
        shares = settled.shares_units
        trade = TradeRecord(
            trade_id=trade_id,
            taker_order_id=taker.order_id,
            market=market.condition_id,
            asset_id=taker.token_id,
            side=taker.side,
            size_units=shares,
            price_units=(2 * settled.notional_units * UNIT + shares) // (2 * shares),  # VWAP, rounded
            outcome=taker.outcome,
            taker_owner=taker.owner,
            taker_address=taker.maker_address,
            match_time_s=now,
            maker_fills=settled.maker_fills,
            deltas=settled.deltas,
            taker_fee_units=settled.fee_units,
            will_fail=will_fail,
        )
        self._trades.add(trade)
        self._counts["trades"] += 1
        for payload in market.record_trades(taker, fills, now):
            self._emit(MarketData((payload["asset_id"],), market.condition_id, payload))
        self._emit_trade(trade, now)
        for maker in settled.makers:
            if maker.open_shares() == 0:
                market.book.remove(maker)
                maker.status = MATCHED
                release(self._accounts, maker)
                self._open_by_owner[maker.owner].pop(maker.order_id, None)
            self._emit_order(maker, ORDER_UPDATE, now)
        return trade

    # --- cancels ------------------------------------------------------------------------------

    def cancel(self, owner: str, order_ids: list[str]) -> tuple[list[str], dict[str, str]]:
        """Cancel orders by id: (canceled, not_canceled{id: reason}). Duplicate ids are ignored.

        OrderRejected 400 beyond `max_cancel_batch` ids, 425 while the engine restarts.
        """
        try:
            now = self._clock()
            self._mode.check_cancel(now)
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
            self._mode.check_cancel(now)
            canceled: list[str] = []
            for sim in list(self._open_by_owner[owner].values()):
                if (market and sim.market != market) or (asset_id and sim.token_id != asset_id):
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
            self._touched[market.condition_id] = market
        sim.status = status
        release(self._accounts, sim)
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
        """`owner`'s resting orders as wire `OpenOrder` dicts (spec 1.2), in creation order."""
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

    def get_order(self, owner: str, order_id: str, *, as_venue: bool = False) -> dict[str, Any] | None:
        """One of `owner`'s orders, finished ones too; None if not theirs.

        `as_venue`: what `GET /data/order/{id}` answers, finished orders only if
        `get_order_returns_finished` (tests inspecting state use the default).
        """
        sim = self._orders.get(order_id)
        if sim is None or sim.owner != owner:
            return None
        finished = order_id not in self._open_by_owner[owner]
        if as_venue and finished and not self._config.get_order_returns_finished:
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
        """Apply everything due at `clock()`: mode windows, delayed takers, GTD expiry, trade lifecycle,
        heartbeat sweeps, market end."""
        try:
            now = self._clock()
            self._mode.update(now)
            self._run_delayed(now)
            self._expire_gtd(now)
            self._trades.advance(now, lambda trade: self._trade_changed(trade, now))
            for owner in self._heartbeats.sweep(now):
                self._counts["heartbeat_expiries"] += 1
                for sim in list(self._open_by_owner[owner].values()):
                    self._close(sim, CANCELED, now)
            self.incentives.advance(now, self._sampled_markets)
            if self.reference_incentives is not None:
                self.reference_incentives.advance(now, self._sampled_markets)
            self._end_markets(now)
        finally:
            self._finish()

    def next_deadline(self) -> float | None:
        """The earliest clock time at which `advance()` has work, or None."""
        self._drop_stale(self._gtd_due)
        self._drop_stale(self._delayed_due)
        candidates = [
            self._mode.until_s,
            self._gtd_due[0][0] if self._gtd_due else None,
            self._delayed_due[0][0] if self._delayed_due else None,
            self._trades.next_deadline(),
            self._heartbeats.next_deadline(),
        ]
        if self._has_pools:
            candidates.append(self.incentives.next_sample_s)
            if self.reference_incentives is not None:
                candidates.append(self.reference_incentives.next_sample_s)
        for condition_id in self._unresolved:
            market = self._markets[condition_id]
            end_s = market.spec.end_ts
            candidates.append(end_s + self._config.market_resolve_delay_s if market.closed else end_s)
        times = [t for t in candidates if t is not None]
        return min(times) if times else None

    def _is_open(self, order_id: str) -> bool:
        return order_id in self._open_by_owner[self._orders[order_id].owner]

    def _drop_stale(self, heap: list[tuple[float, int, str]]) -> None:
        while heap and not self._is_open(heap[0][2]):
            heapq.heappop(heap)

    def _run_delayed(self, now: float) -> None:
        while self._delayed_due and self._delayed_due[0][0] <= now:
            _at, _seq, order_id = heapq.heappop(self._delayed_due)
            if not self._is_open(order_id):
                continue  # cancelled while delayed
            sim = self._orders[order_id]
            market = self._markets[sim.market]
            sim.status = LIVE
            fills, left = self._plan(market, sim)
            if sim.is_buy:
                fee = self._fee(market)
                cost = sum(f.taker_notional + fee(f.shares, f.taker_price) for f in fills)
                if self._accounts.available_pusd(sim.maker_address) + sim.reserved_units < cost:
                    self._close(sim, INVALID, now)  # the fees are no longer covered
                    continue
            self._execute(market, sim, fills, left, now)

    def _expire_gtd(self, now: float) -> None:
        while self._gtd_due and self._gtd_due[0][0] <= now:
            _at, _seq, order_id = heapq.heappop(self._gtd_due)
            if self._is_open(order_id):
                self._counts["gtd_expired"] += 1
                self._close(self._orders[order_id], CANCELED, now)

    def _trade_changed(self, trade: TradeRecord, now: float) -> None:
        if trade.status == TRADE_FAILED:
            for delta in reversed(trade.deltas):
                apply_delta(self._accounts, delta, sign=-1)
            self._fees_collected_units -= trade.taker_fee_units
            spec = self._markets[trade.market].spec
            self.incentives.record_trade(spec, trade.match_time_s, trade.taker_fee_units, trade.maker_fills, sign=-1)
        self._emit_trade(trade, now)

    def _end_markets(self, now: float) -> None:
        for condition_id in sorted(self._unresolved):
            market = self._markets[condition_id]
            if now >= market.spec.end_ts:
                market.closed = True
            if market.closed and now >= market.spec.end_ts + self._config.market_resolve_delay_s:
                market.resolved = True
                self._unresolved.discard(condition_id)
                delayed = [sim for sim in self._orders_of(condition_id) if sim.status == DELAYED]
                for sim in [*market.book.orders(), *delayed]:
                    self._close(sim, CANCELED_MARKET_RESOLVED, now)

    def _sampled_markets(self) -> list[tuple[MarketSpec, Any]]:
        """Markets a reward sample looks at: listed, accepting orders, with a pool."""
        now = self._clock()
        return [
            (m.spec, m.book)
            for m in self._markets.values()
            if m.spec.rewards_rate_per_day > 0 and m.accepts_at(now)
        ]

    def order_scoring(self, owner: str, order_id: str) -> bool:
        """Whether `owner`'s order would score in a reward sample now (spec 12.2); False if not theirs."""
        sim = self._orders.get(order_id)
        if sim is None or sim.owner != owner or order_id not in self._open_by_owner[owner]:
            return False
        market = self._markets[sim.market]
        return self.incentives.scoring(market.spec, market.book, sim, self._clock())

    def _orders_of(self, condition_id: str) -> list[SimOrder]:
        return [
            sim
            for orders in self._open_by_owner.values()
            for sim in orders.values()
            if sim.market == condition_id
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

    def _emit_order(
        self, sim: SimOrder, kind: str, now: float, *, status: str | None = None, killed: bool = False
    ) -> None:
        in_pusd = self._config.market_buy_original_size_in_pusd
        payload = order_event(sim, kind, now, status=status, killed=killed, market_buy_in_pusd=in_pusd)
        self._emit(UserData(sim.owner, sim.market, payload))

    def _emit_trade(self, trade: TradeRecord, now: float) -> None:
        for owner, trader_side, address in trade.views():
            self._emit(UserData(owner, trade.market, trade.ws(owner, trader_side, address, now)))

    def end_call(self, condition_id: str) -> None:
        """One call on a market ends here inside a batch (a maker's cancel, before its new orders): the
        batch's market data then shows each level it changed as it stood here before its final size
        (`SimMarket.close_call`), so an order replaced at the same price reads as a cancel and a new
        order, not a size change."""
        market = self._touched.get(condition_id)
        if market is not None:
            market.close_call(self._clock())

    def _finish(self) -> None:
        """Summarise the call's book changes, deliver all events in order, wake the driver."""
        if self._batch_depth:
            return
        if self._touched:
            now = self._clock()
            touched, self._touched = self._touched, {}
            for market in touched.values():
                for token_ids, payload in market.changes(now):
                    self._emit(MarketData(token_ids, market.condition_id, payload))
        if self._flushing:
            return  # a listener called back into us: the outer flush delivers these events
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

    # --- replay hooks (bot/replay/venue.py) ------------------------------------------------------

    def set_outside_level(self, condition_id: str, book_side: str, yes_price: int, shares: int, *,
                          owner: str, address: str) -> None:
        """Make everyone else's resting size at one Yes-space level `shares` (a recorded book's level).

        The level is one SELL order of `owner` (SELL Yes for an ask, SELL No at 1 − p for a bid, so its
        size is exact shares), resting ahead of later orders at that price. It is no order of an API key
        the fronts know: only takers of ours can meet it (their balances move as usual), and a recorded
        trade fills our orders through `fill_resting`, not through it.
        """
        market = self._markets[condition_id]
        key = (condition_id, book_side, yes_price)
        order = self._outside.get(key)
        if order is not None and not order.resting:
            order = None  # taken by one of our takers since
        if shares <= 0:
            if order is not None:
                market.book.remove(order)
                del self._outside[key]
        elif order is not None:
            order.budget_units = shares
        else:
            is_yes = book_side == "ask"
            price = yes_price if is_yes else UNIT - yes_price
            self._seq += 1
            order = SimOrder(
                order_id=f"outside-{self._seq}", owner=owner, maker_address=address, market=condition_id,
                token_id=market.spec.yes_token_id if is_yes else market.spec.no_token_id,
                outcome=market.spec.outcomes[0 if is_yes else 1], is_yes=is_yes, side="SELL",
                order_type="GTC", post_only=False, expiration=0, created_at_s=self._clock(), price_units=price,
                maker_amount=shares, taker_amount=shares * price // UNIT, seq=self._seq, budget_units=shares,
            )
            market.book.add(order)
            self._outside[key] = order
        market.dirty.add((book_side, yes_price))
        self._touched[condition_id] = market
        self._finish()

    def fill_resting(self, order_id: str, shares: int, *, owner: str, address: str) -> None:
        """A recorded taker of `owner` trades `shares` with our resting order `order_id` at its price:
        the same settlement, trade record and events as any match. Ignored if the order is not resting."""
        maker = self._orders.get(order_id)
        if maker is None or not maker.resting or shares <= 0:
            return
        market = self._markets[maker.market]
        shares = min(shares, maker.open_shares())
        now = self._clock()
        notional = ceil_div(shares * maker.price_units, UNIT)
        self._seq += 1
        taker = SimOrder(
            order_id=f"recorded-{self._seq}", owner=owner, maker_address=address, market=maker.market,
            token_id=maker.token_id, outcome=maker.outcome, is_yes=maker.is_yes,
            side="SELL" if maker.is_buy else "BUY", order_type="FAK", post_only=False, expiration=0,
            created_at_s=now, price_units=maker.price_units, maker_amount=notional if not maker.is_buy else shares,
            taker_amount=shares if not maker.is_buy else notional, seq=self._seq,
            budget_units=notional if not maker.is_buy else shares,
        )
        fill = Fill(maker=maker, shares=shares, taker_price=maker.price_units, maker_price=maker.price_units,
                    taker_notional=notional, maker_notional=notional, same_token=True)
        try:
            self._execute(market, taker, [fill], 0, now)
        finally:
            self._finish()

    # --- introspection ------------------------------------------------------------------------

    def statistics(self) -> dict[str, Any]:
        """Counts that matter: orders, trades, fees, heartbeats, accounts, events, mode."""
        return {
            "markets": len(self._markets),
            "open_orders": self._open_count(),
            "orders_total": len(self._orders),
            "mode": self._mode.mode,
            "fees_collected_units": self._fees_collected_units,
            "counts": dict(self._counts),
            "trades": self._trades.statistics(),
            "heartbeats": self._heartbeats.statistics(),
            "accounts": self._accounts.statistics(),
        }
