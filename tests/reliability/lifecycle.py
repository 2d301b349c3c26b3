"""Property-based order lifecycles: random venue events, faults and clock steps against the real engine.

Guarantees checked after **every** step of every generated sequence:

1. every order of the cache is in exactly one legal state, and the cache's level map is consistent;
2. never two open orders on one `(token, level)`, in the cache or on the venue;
3. never more than `ladder_levels` open orders per token, in the cache or on the venue;
4. from the cutoff on, the venue holds no order of ours;
5. inventory = the seed + the sum of the counted fills, and every counted fill exists on the venue;
6. no order stays pending longer than `pending_settle_s` unless the venue could not be asked;
7. every order of ours resting on the venue is known to the cache as open (never "terminal" while live);
8. with every event delivered and none lost since the last reconciliation, inventory = the venue's balance;
9. a foreign or unknown event never changes an order or the inventory.

What runs is the real `MarketRunner` (strategy, order manager, machines, inventory, reconciliation,
cancel-all, seeding) and the real `VenueGateway`, over the simulator's real matching engine
(`bot.sim.engine.Exchange`). Only the transport is replaced (`_ModelRest`: the REST client's surface,
answered synchronously by the engine, with injectable faults) and signatures are skipped (order ids are
still the real EIP-712 hashes). The runner's tasks are not started: the model calls the same methods
its loops call (`_tick`, `_reconcile`, the event handlers, the cutoff cancel-all) in the order the
generated sequence says, synchronously, so thousands of sequences run in seconds.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import trio
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from bot.engine.gateway import VenueGateway
from bot.engine.journal import NullJournal
from bot.engine.market import MarketRunner, MarketStop
from bot.engine.markets import MarketInfo
from bot.protocol.auth import ApiCreds
from bot.protocol.book import OrderBook
from bot.protocol.errors import OutcomeUnknown, RateLimited, RejectKind, error_for
from bot.protocol.messages import (
    PostOrderResponse,
    parse_book,
    parse_open_order,
    parse_trade,
    parse_user_event,
)
from bot.protocol.money import parse_micro
from bot.protocol.rest import CancelResult, PostResult
from bot.protocol.signing import OrderSigner
from bot.sim.engine import Exchange
from bot.sim.flow import build_market_order, build_order
from bot.sim.model import MarketSpec, NewOrder, OrderRejected, SimConfig, UserData
from settings import BotSettings
from statemachines.market import MarketState, MarketTrigger
from statemachines.order import OrderState

__all__ = ["LifecycleMachine", "LifecycleStats", "run_lifecycle_examples"]

# --- the market and the model's constants -----------------------------------------------------------

_START_S = 1_800_000_000.0
_WINDOW_S = 300.0
_END_S = _START_S + _WINDOW_S
_CONDITION_ID = "0x" + "c0" * 32
_UP, _DOWN = "71321045679252212594626385532706912750332728571942532289631379312455583992563", (
    "52114319501245915516055106046884209969926127482827954674443846427813813222426"
)
_MODEL_KEY = "0x" + "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
_FAKE_SIGNATURE = "0x" + "00" * 65  # the model's venue trusts the order fields; ids stay real hashes
_TIMESTAMP_MS = 1_800_000_000_000
_UNIT = 1_000_000
_OTHER_KEY, _OTHER_ADDRESS = "model-other", "0x" + "0b" * 20
_OTHER_PUSD_UNITS = 10**12
_OTHER_SHARES_UNITS = 10**12
_EPS = 1e-6  # one wire unit of shares
_MAX_STEP_S = 15.0

# Settings of the model's runner. Completion stays on (its FOK/FAK answers are never faulted, so it
# never waits); the storm guard is off (foreign events must change nothing, not stop the market).
_SETTINGS: dict[str, Any] = dict(
    mode="paper",
    ladder_levels=3,
    size_per_level_shares=5.0,
    quote_cutoff_s=60.0,
    reconcile_interval_s=60.0,
    reconcile_grace_s=5.0,
    pending_settle_s=30.0,
    storm_threshold=100_000,
    max_inventory_skew_shares=200.0,
    max_unpaired_shares=400.0,
    completion_settle_s=0.0,
    completion_cooldown_s=5.0,
    request_timeout_s=5.0,
    # The model steps each coroutine synchronously without a scheduler, so it drives the sequential
    # re-price; the concurrent one (a cancel and its replacements in flight together) has its own tests in
    # tests/scenarios/test_concurrent_reprice.py, and runs against the loopback venue in the fault matrix.
    concurrent_reprice=False,
)
_CUTOFF_S = _END_S - _SETTINGS["quote_cutoff_s"]

# Examples per run of the lifecycle test, by hypothesis profile (tests/conftest.py, HYPOTHESIS_PROFILE):
# the CI run stays within seconds of CPU; the nightly one runs on demand.
_EXAMPLES = {"ci": 1000, "nightly": 20_000}
_STEPS = {"ci": 30, "nightly": 60}


_SETTINGS_CACHE: dict[bool, BotSettings] = {}


def _runner_settings(startup_cancel_all: bool) -> BotSettings:
    # Built once: validating settings (environment and .env sources included) costs more than a step.
    if startup_cancel_all not in _SETTINGS_CACHE:
        _SETTINGS_CACHE[startup_cancel_all] = BotSettings(**_SETTINGS, startup_cancel_all=startup_cancel_all)
    return _SETTINGS_CACHE[startup_cancel_all]


class BlockedStep(AssertionError):
    """A step awaited something other than the in-memory venue (the model drives only non-blocking paths)."""


def drive(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never blocks to completion, synchronously, inside the current Trio task."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise BlockedStep(f"{coro.__qualname__} tried to wait")


# --- the runner's surroundings ---------------------------------------------------------------------


class _Clock:
    """The runner's clock (unix seconds), moved by the model."""

    epoch_offset_s = 0.0

    def __init__(self, now_s: float) -> None:
        self.t = now_s

    def now_s(self) -> float:
        return self.t

    def to_trio(self, unix_s: float) -> float:
        return unix_s

    async def sleep_until_s(self, unix_s: float) -> None:
        raise BlockedStep("the model never sleeps")


class _Books:
    """Real `OrderBook`s rebuilt from the engine's snapshot on every read (our own orders included, as on
    the wire); staleness is a fault the model switches on and off."""

    def __init__(self, exchange: Exchange, clock: _Clock) -> None:
        self._exchange = exchange
        self._clock = clock
        self.stale_since_s: float | None = None

    def book(self, token_id: str) -> OrderBook:
        book = OrderBook(token_id, _CONDITION_ID)
        updated = self.stale_since_s if self.stale_since_s is not None else self._clock.t
        book.apply_snapshot(parse_book(self._exchange.book(token_id)), received_at_s=updated)
        return book

    async def changed(self) -> None:
        raise BlockedStep("the model never waits for market data")


class _FastSigner(OrderSigner):
    """The real order builder (amounts, checks, EIP-712 hash = order id) without the ECDSA signature."""

    __slots__ = ("_salt", "issued")

    def __init__(self) -> None:
        super().__init__(_MODEL_KEY)
        self.issued: dict[int, str] = {}
        self._salt = 0

    def sign_digest(self, digest: bytes) -> str:
        return _FAKE_SIGNATURE

    def _sign(self, token_id: str, maker_amount: int, taker_amount: int, side: Any, neg_risk: bool,
              salt: int | None, timestamp_ms: int | None, expiration: int) -> Any:
        self._salt += 1  # deterministic ids: a failing sequence replays exactly
        signed = super()._sign(token_id, maker_amount, taker_amount, side, neg_risk, self._salt, _TIMESTAMP_MS,
                               expiration)
        self.issued[signed.salt] = signed.order_id
        return signed


class _ModelRest:
    """The REST client's surface (`ClobRestClient`), answered by the engine; faults are one-shot queues.

    Faults touch maker orders (GTC/GTD) and per-id cancels only: a completion (FOK/FAK) always gets a
    definite answer and the market cancel-all always reaches the venue, so no step has to wait.
    """

    def __init__(self, exchange: Exchange, signer: _FastSigner, owner: str) -> None:
        self._exchange = exchange
        self._signer = signer
        self._owner = owner
        self.post_faults: deque[str] = deque()
        self.cancel_faults: deque[str] = deque()
        self.data_down = 0
        # Called once each after the next open-orders snapshot is taken, before it is answered.
        self.after_snapshot: list[Any] = []
        # Called after a FOK/FAK is placed, before its answer: the user events of its match beat the
        # REST answer (as they can on the venue), so the completion's wait for its fill never waits.
        self.before_taker_answer: Any = None

    def _new_order(self, wire: dict[str, Any]) -> NewOrder:
        order = wire["order"]
        return NewOrder(
            order_id=self._signer.issued[order["salt"]], owner=wire["owner"], maker_address=order["maker"],
            signer=order["signer"], token_id=order["tokenId"], side=order["side"],
            maker_amount=int(order["makerAmount"]), taker_amount=int(order["takerAmount"]),
            order_type=wire["orderType"], post_only=wire["postOnly"], expiration=int(order["expiration"]),
            timestamp_ms=int(order["timestamp"]),
        )

    def _place(self, new: NewOrder) -> PostResult:
        try:
            placed = self._exchange.place(new)
        except OrderRejected as exc:
            error = error_for(exc.status, exc.message, code=exc.code or "", retry_after_s=exc.retry_after_s,
                              order_id=new.order_id)
            return PostResult(ok=False, order_id=new.order_id, error=error)
        response = PostOrderResponse(
            True, placed.order_id, placed.status, parse_micro(placed.making_amount or "0"),
            parse_micro(placed.taking_amount or "0"), tuple(placed.trade_ids), (), "",
        )
        return PostResult(ok=True, order_id=placed.order_id, status=placed.status, response=response)

    def _post(self, wires: list[dict[str, Any]]) -> list[PostResult]:
        news = [self._new_order(w) for w in wires]
        maker = all(n.order_type in ("GTC", "GTD") for n in news)
        fault = self.post_faults.popleft() if maker and self.post_faults else None
        if fault is None:
            results = [self._place(n) for n in news]
            if not maker and self.before_taker_answer is not None:
                self.before_taker_answer()
            return results
        if fault == "landed":
            for n in news:
                self._place(n)
        error: Any
        if fault == "429":
            error = RateLimited("too many requests", retry_after_s=2.0, status=429)
        elif fault == "5xx":
            error = error_for(500, "Internal Server Error")
        else:  # "lost" or "landed": the answer never came
            error = OutcomeUnknown("POST: no answer within the deadline", kind=RejectKind.TIMEOUT)
        return [PostResult(ok=False, order_id=n.order_id, error=error) for n in news]

    async def post_order(self, wire: dict[str, Any], *, on_sent: Any = None) -> PostResult:
        return self._post([wire])[0]

    async def post_orders(self, wires: list[dict[str, Any]], *, on_sent: Any = None) -> list[PostResult]:
        return self._post(list(wires))

    async def cancel_orders(self, order_ids: list[str], *, on_sent: Any = None) -> CancelResult:
        ids = list(dict.fromkeys(order_ids))
        fault = self.cancel_faults.popleft() if self.cancel_faults else None
        unknown = OutcomeUnknown("DELETE /orders: no answer within the deadline", kind=RejectKind.TIMEOUT)
        if fault == "lost":
            return CancelResult(failed=dict.fromkeys(ids, unknown))
        try:
            canceled, not_canceled = self._exchange.cancel(self._owner, ids)
        except OrderRejected as exc:
            return CancelResult(failed=dict.fromkeys(ids, error_for(exc.status, exc.message)))
        if fault == "landed":
            return CancelResult(failed=dict.fromkeys(ids, unknown))
        kinds = {oid: error_for(None, reason).kind for oid, reason in not_canceled.items()}
        return CancelResult(canceled=list(canceled), not_canceled=dict(not_canceled), not_canceled_kinds=kinds)

    async def cancel_market_orders(self, market: str | None = None, asset_id: str | None = None) -> CancelResult:
        try:
            canceled, _ = self._exchange.cancel_market(self._owner, market=market, asset_id=asset_id)
        except OrderRejected as exc:
            raise error_for(exc.status, exc.message) from None
        return CancelResult(canceled=list(canceled))

    async def get_open_orders(self, market: str | None = None, asset_id: str | None = None,
                              order_id: str | None = None) -> list[Any]:
        if self.data_down:
            self.data_down -= 1
            raise error_for(503, "Service Unavailable")
        snapshot = [parse_open_order(o) for o in self._exchange.open_orders(self._owner, market=market)]
        # What happens while the listing is on its way back (the reconciliation's race), then the answer.
        while self.after_snapshot:
            self.after_snapshot.pop(0)()
        return snapshot

    async def get_order(self, order_id: str) -> Any:
        found = self._exchange.get_order(self._owner, order_id)
        return None if found is None else parse_open_order(found)

    async def get_trades(self, market: str | None = None, asset_id: str | None = None,
                         trade_id: str | None = None, after_s: int | None = None) -> list[Any]:
        return [parse_trade(t) for t in self._exchange.trades(self._owner, market=market, after_s=after_s)]

    async def get_tick_size(self, token_id: str) -> str:
        return self._exchange.tick_size(token_id)

    async def get_balance_allowance(self, asset_type: str, token_id: str | None = None,
                                    signature_type: int | None = None) -> dict[str, Any]:
        return self._exchange.balance(self._signer.address, asset_type, token_id)


class _Other:
    """The rest of the market: a maker that keeps a thin book and takers that sweep it."""

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        self._n = 0
        exchange.register_api_key(_OTHER_KEY, _OTHER_ADDRESS)
        exchange.fund(_OTHER_ADDRESS, pusd_units=_OTHER_PUSD_UNITS)
        for token in (_UP, _DOWN):
            exchange.fund(_OTHER_ADDRESS, token_id=token, shares_units=_OTHER_SHARES_UNITS)

    def _ids(self) -> dict[str, str]:
        self._n += 1
        return {"order_id": f"0x{self._n:064x}", "owner": _OTHER_KEY, "address": _OTHER_ADDRESS}

    def place(self, order: NewOrder) -> None:
        try:
            self._exchange.place(order)
        except OrderRejected:
            pass  # a FAK that met nothing, a closed market: the market moves on

    def quote(self, price: str, shares: str) -> None:
        """Thin bids on both tokens (each is the other's ask in the mirrored book)."""
        self._exchange.cancel_all(_OTHER_KEY)
        for token in (_UP, _DOWN):
            self.place(build_order(**self._ids(), token_id=token, side="BUY", price=price, size=shares))

    def sell(self, token: str, shares: int) -> None:
        """A marketable SELL: fills the best bids of `token`, ours among them."""
        self.place(build_market_order(**self._ids(), token_id=token, side="SELL", amount=str(shares),
                                      price="0.01", order_type="FAK"))

    def buy_other(self, token: str, pusd: int) -> None:
        """A marketable BUY of the complementary token: mints against the bids of `token`."""
        other = _DOWN if token == _UP else _UP
        self.place(build_market_order(**self._ids(), token_id=other, side="BUY", amount=str(pusd),
                                      price="0.99", order_type="FAK"))


# --- the machine -----------------------------------------------------------------------------------


@dataclass(slots=True)
class LifecycleStats:
    examples: int = 0
    steps: int = 0


STATS = LifecycleStats()

_FOREIGN_KINDS = ("unknown_order", "other_market", "foreign_trade", "other_owner_leg")


class LifecycleMachine(RuleBasedStateMachine):
    """One market's runner against the engine; rules are venue events, faults and the passing of time."""

    def __init__(self) -> None:
        super().__init__()
        STATS.examples += 1
        self.clock = _Clock(_START_S + 1.0)
        self.exchange = Exchange(clock=self.clock.now_s, config=SimConfig(), seed=0)
        self.exchange.add_market(MarketSpec(
            condition_id=_CONDITION_ID, question="model market", slug="btc-updown-model", yes_token_id=_UP,
            no_token_id=_DOWN, start_ts=_START_S, end_ts=_END_S, fee_rate=0.07,
        ))
        self.signer = _FastSigner()
        self.owner = "model-key"
        self.exchange.register_api_key(self.owner, self.signer.address)
        self.rest = _ModelRest(self.exchange, self.signer, self.owner)
        self.rest.before_taker_answer = self._deliver_all
        self.gateway = VenueGateway(self.rest, self.signer, ApiCreds(self.owner, "unused", "unused"),  # type: ignore[arg-type]
                                    request_timeout_s=_SETTINGS["request_timeout_s"], journal=NullJournal())
        self.books = _Books(self.exchange, self.clock)
        self.other = _Other(self.exchange)
        self.other.quote("0.47", "5")
        self.queue: deque[dict[str, Any]] = deque()
        self.exchange.subscribe(self._on_venue_event)
        self.cut = False
        self.lives = 0
        self.first_life = True
        self.lost_since_reconcile = False
        self.outage_at_s: list[float] = []
        self.seed_shares: dict[str, float] = {}
        self.runner = self._start_runner(startup_cancel_all=True)

    # --- plumbing ---------------------------------------------------------------------------------
    def _on_venue_event(self, event: Any) -> None:
        if isinstance(event, UserData) and event.owner == self.owner:
            self.queue.append(event.payload)

    def _start_runner(self, *, startup_cancel_all: bool) -> MarketRunner:
        """A fresh runner on the same venue: what a restarted process does before it quotes."""
        self.lives += 1
        info = MarketInfo(_CONDITION_ID, "btc-updown-model", _UP, _DOWN, _START_S, _END_S, tick_size=None,
                          fee_rate=0.07)
        settings_ = _runner_settings(startup_cancel_all)
        _, receive = trio.open_memory_channel[Any](0)  # unused: the model feeds the handlers itself
        runner = MarketRunner(info, settings_, self.gateway, books=self.books, user_events=receive,
                              clock=self.clock, journal=NullJournal())  # type: ignore[arg-type]
        # `_startup` without its lock (nothing else runs here).
        runner.transition(MarketTrigger.BEGIN_RECONCILE, "startup")
        runner.tick_size = drive(self.gateway.tick_size(_UP))
        if startup_cancel_all:
            assert drive(runner.cancel_all_verified("startup")).verified, "startup cancel-all did not verify"
        else:
            drive(runner.reconciler.seed())
        runner.transition(MarketTrigger.RECONCILED, "startup reconciled")
        # What the seed added beyond the fills it counted (shares the market's trades do not explain).
        counted = {t: 0.0 for t in (_UP, _DOWN)}
        for fill in runner.inventory.counted_fills():
            counted[fill.token_id] += fill.shares if fill.side == "BUY" else -fill.shares
        self.seed_shares = {t: runner.inventory.position(t).shares - counted[t] for t in (_UP, _DOWN)}
        self.last_reconcile_s = self.clock.t
        self.lost_since_reconcile = False
        return runner

    def _deliver_all(self) -> None:
        while self.queue:
            self._deliver(self.queue.popleft())

    def _deliver(self, payload: dict[str, Any]) -> None:
        event = parse_user_event(payload)
        try:
            if event.__class__.__name__ == "OrderEvent":
                self.runner.user_handler.on_order_event(event)  # type: ignore[arg-type]
            else:
                self.runner.user_handler.on_trade_event(event)  # type: ignore[arg-type]
        except MarketStop as stop:  # pragma: no cover - storms are off; a stop here is a finding
            raise AssertionError(f"an event stopped the market: {stop}") from None

    def _reconcile(self) -> None:
        self.runner.reconcile_wanted = trio.Event()
        ok_before = self.runner.stats.reconciliations
        down_before = self.rest.data_down
        drive(self.runner.reconciler.reconcile())
        if self.rest.data_down == down_before and self.runner.stats.reconciliations > ok_before:
            self.lost_since_reconcile = False
        self.last_reconcile_s = self.clock.t

    def _cutoff(self) -> None:
        """What the runner does at the cutoff instant (its quoting scope's deadline)."""
        self.runner.transition(MarketTrigger.REACH_CUTOFF, "cutoff")
        assert drive(self.runner.cancel_all_verified("cutoff")).verified, "cutoff cancel-all did not verify"
        self.cut = True

    def _react(self, react: bool) -> None:
        """The quote loop's wake-up: a user event or a book change is followed by a tick (when drawn)."""
        if react and not self.cut:
            drive(self.runner.tick())

    def _move_to(self, target_s: float) -> None:
        self.clock.t = target_s
        self.exchange.advance()

    # --- rules: the bot's own loops ---------------------------------------------------------------
    @precondition(lambda self: not self.cut)
    @rule()
    def tick(self) -> None:
        drive(self.runner.tick())

    @precondition(lambda self: not self.cut)
    @rule()
    def reconcile(self) -> None:
        self._reconcile()

    @precondition(lambda self: self.clock.t < _END_S)
    @rule(dt=st.sampled_from([0.1, 0.5, 1.0, 2.0, 5.0, _MAX_STEP_S]), deliver=st.booleans())
    def advance(self, dt: float, deliver: bool) -> None:
        target = min(self.clock.t + dt, _END_S)
        if not self.cut and target >= _CUTOFF_S:
            self._move_to(_CUTOFF_S)
            self._cutoff()
        self._move_to(target)
        if deliver:  # the user stream kept up while time passed (else its events wait in the queue)
            self._deliver_all()
        if self.cut:
            return
        # The quote loop's tick and the reconcile loop's triggers, as the runner's tasks would act.
        drive(self.runner.tick())
        if self.runner.reconcile_wanted.is_set() or self.clock.t - self.last_reconcile_s >= _SETTINGS[
            "reconcile_interval_s"
        ]:
            self._reconcile()

    # --- rules: the user channel ------------------------------------------------------------------
    @precondition(lambda self: self.queue)
    @rule(n=st.integers(1, 8), react=st.booleans())
    def deliver(self, n: int, react: bool) -> None:
        for _ in range(min(n, len(self.queue))):
            self._deliver(self.queue.popleft())
        self._react(react)

    @precondition(lambda self: self.queue)
    @rule(react=st.booleans())
    def deliver_twice(self, react: bool) -> None:
        payload = self.queue.popleft()
        self._deliver(payload)
        self._deliver(payload)
        self._react(react)

    @precondition(lambda self: len(self.queue) >= 2)
    @rule()
    def reorder(self) -> None:
        first = self.queue.popleft()
        second = self.queue.popleft()
        self.queue.extendleft([first, second])  # second now comes first

    @precondition(lambda self: self.queue)
    @rule()
    def drop(self) -> None:
        self.queue.popleft()
        self.lost_since_reconcile = True

    @rule(kind=st.sampled_from(_FOREIGN_KINDS), pick=st.integers(0, 1000))
    def foreign_event(self, kind: str, pick: int) -> None:
        before = self._snapshot()
        self._deliver(self._foreign(kind, pick))
        assert self._snapshot() == before, f"a foreign event ({kind}) changed our state"

    # --- rules: the market ------------------------------------------------------------------------
    @precondition(lambda self: self.clock.t < _END_S)
    @rule(token=st.sampled_from([_UP, _DOWN]), shares=st.integers(1, 30), mint=st.booleans(), react=st.booleans())
    def taker(self, token: str, shares: int, mint: bool, react: bool) -> None:
        if mint:
            self.other.buy_other(token, max(1, shares // 2))
        else:
            self.other.sell(token, shares)
        self._react(react)

    @precondition(lambda self: self.clock.t < _END_S)
    @rule(price=st.sampled_from(["0.30", "0.40", "0.47", "0.49", "0.55", "0.70"]), shares=st.sampled_from(["5", "50"]),
          react=st.booleans())
    def requote_others(self, price: str, shares: str, react: bool) -> None:
        self.other.quote(price, shares)
        self._react(react)

    @precondition(lambda self: not self.cut)
    @rule(stale=st.booleans())
    def market_data(self, stale: bool) -> None:
        self.books.stale_since_s = self.clock.t if stale else None

    @precondition(lambda self: self.clock.t < _END_S)
    @rule(react=st.booleans())
    def tick_size_change(self, react: bool) -> None:
        self.exchange.set_tick_size(_CONDITION_ID, "0.001")
        self._react(react)

    # --- rules: the venue's own actions and faults --------------------------------------------------
    @precondition(lambda self: self.exchange.open_orders(self.owner))
    @rule(pick=st.integers(0, 100))
    def venue_cancels_one(self, pick: int) -> None:
        orders = self.exchange.open_orders(self.owner)
        self.exchange.cancel(self.owner, [orders[pick % len(orders)]["id"]])

    @rule()
    def venue_cancels_all(self) -> None:
        """Heartbeat lapse: the venue cancels every order of the key."""
        self.exchange.cancel_all(self.owner)

    @rule(kind=st.sampled_from(["lost", "landed", "429", "5xx"]))
    def post_fault(self, kind: str) -> None:
        self.rest.post_faults.append(kind)

    @rule(kind=st.sampled_from(["lost", "landed"]))
    def cancel_fault(self, kind: str) -> None:
        self.rest.cancel_faults.append(kind)

    @precondition(lambda self: not self.cut)
    @rule(n=st.integers(0, 8), race=st.sampled_from(["none", "taker_up", "taker_down", "venue_cancel", "mint"]),
          shares=st.integers(1, 30), pick=st.integers(0, 100))
    def reconcile_racing_events(self, n: int, race: str, shares: int, pick: int) -> None:
        """Between the snapshot and the judgement: the market trades or the venue cancels one of ours,
        and WS events (of changes from before or after the snapshot) arrive. None of that is a mismatch."""
        clean = not self.lost_since_reconcile

        def in_flight() -> None:
            if race in ("taker_up", "taker_down"):
                self.other.sell(_UP if race == "taker_up" else _DOWN, shares)
            elif race == "mint":
                self.other.buy_other(_UP if pick % 2 else _DOWN, max(1, shares // 2))
            elif race == "venue_cancel":
                orders = self.exchange.open_orders(self.owner)
                if orders:
                    self.exchange.cancel(self.owner, [orders[pick % len(orders)]["id"]])
            for _ in range(min(n, len(self.queue))):
                self._deliver(self.queue.popleft())

        self.rest.after_snapshot.append(in_flight)
        repairs_before = self.runner.stats.reconcile_repairs
        self._reconcile()
        self.rest.after_snapshot.clear()
        report = self.runner.reconciler.last
        if clean and report is not None:
            assert not report.strays and not report.lost, (
                f"spurious repair: strays {report.strays}, lost {report.lost}"
            )
            assert self.runner.stats.reconcile_repairs == repairs_before

    @precondition(lambda self: not self.cut)
    @rule()
    def reconcile_during_outage(self) -> None:
        self.rest.data_down += 1
        self.outage_at_s.append(self.clock.t)
        self._reconcile()

    @rule(mode=st.sampled_from(["cancel_only", "post_only"]), duration_s=st.sampled_from([2.0, 10.0]))
    def engine_mode(self, mode: str, duration_s: float) -> None:
        self.exchange.set_mode(mode, until_s=self.clock.t + duration_s)

    @rule()
    def fail_next_trade(self) -> None:
        self.exchange.fail_next_trades(1)

    @precondition(lambda self: not self.cut)
    @rule(startup_cancel_all=st.booleans(), clean=st.booleans())
    def restart(self, startup_cancel_all: bool, clean: bool) -> None:
        """The process stops (cleanly: its exit cancel-all; or kill -9: nothing) and starts again."""
        if clean:
            assert drive(self.runner.cancel_all_verified("exit")).verified, "exit cancel-all did not verify"
        self.queue.clear()  # the dead process's connection and whatever was in flight on it
        self.first_life = False
        self.runner = self._start_runner(startup_cancel_all=startup_cancel_all)
        self.seeded = not startup_cancel_all

    # --- invariants --------------------------------------------------------------------------------
    @invariant()
    def count_step(self) -> None:
        STATS.steps += 1

    @invariant()
    def orders_in_legal_states_and_levels_consistent(self) -> None:
        manager = self.runner.manager
        for oid, order in manager.by_id.items():
            assert isinstance(order.state, OrderState), order
            assert order.order_id == oid
        for (token, level), order in manager.slots.items():
            assert order.is_open, f"slot {(token, level)} holds a finished order {order!r}"
            assert (order.token_id, order.level) == (token, level), order
            assert manager.by_id.get(order.order_id) is order, f"slot order not in the id map: {order!r}"
        for order in manager.open_orders():
            if order.level is not None:
                assert manager.slots.get((order.token_id, order.level)) is order, f"open order off its slot: {order!r}"
        for oid in manager.unknown_outcome:
            order = manager.by_id.get(oid)
            assert order is not None and order.is_open, f"unknown outcome on a finished order {oid[:10]}"
        assert isinstance(self.runner.machine.state, MarketState)

    @invariant()
    def one_order_per_level_and_at_most_ladder_levels_per_token(self) -> None:
        levels = _SETTINGS["ladder_levels"]
        manager = self.runner.manager
        per_token: dict[str, int] = {}
        for order in manager.open_orders():
            if order.level is not None:
                per_token[order.token_id] = per_token.get(order.token_id, 0) + 1
        assert all(n <= levels for n in per_token.values()), f"cache: {per_token}"
        on_venue = self.exchange.open_orders(self.owner)
        venue_per_token: dict[str, int] = {}
        venue_levels: set[tuple[str, int | None]] = set()
        for wire in on_venue:
            venue_per_token[wire["asset_id"]] = venue_per_token.get(wire["asset_id"], 0) + 1
            order = manager.by_id.get(wire["id"])
            assert order is not None and order.is_open, (
                f"order {wire['id'][:10]} rests on the venue but the cache has it as {order!r}"
            )
            key = (order.token_id, order.level)
            assert key not in venue_levels, f"two orders rest on the venue for level {key}"
            venue_levels.add(key)
        assert all(n <= levels for n in venue_per_token.values()), f"venue: {venue_per_token}"

    @invariant()
    def nothing_rests_from_the_cutoff_on(self) -> None:
        if self.cut:
            assert self.exchange.open_orders(self.owner) == [], "an order of ours rests after the cutoff"

    @invariant()
    def inventory_is_the_seed_plus_counted_fills_all_real(self) -> None:
        inv = self.runner.inventory
        venue_keys = _venue_keys(self.exchange.trades(self.owner), self.owner)
        totals = dict(self.seed_shares)
        for fill in inv.counted_fills():
            assert (fill.trade_id, fill.order_id) in venue_keys, f"a counted fill the venue never made: {fill}"
            totals[fill.token_id] = totals.get(fill.token_id, 0.0) + (fill.shares if fill.side == "BUY" else -fill.shares)
        failed_keys = _venue_keys([t for t in self.exchange.trades(self.owner) if t.get("status") == "FAILED"], self.owner)
        for fill in inv.seed_reversals:  # a fill the seed's balance held, taken back when its trade failed
            assert (fill.trade_id, fill.order_id) in failed_keys, f"a seeded fill reversed without a FAILED trade: {fill}"
            totals[fill.token_id] = totals.get(fill.token_id, 0.0) - (fill.shares if fill.side == "BUY" else -fill.shares)
        for token in (_UP, _DOWN):
            assert abs(inv.position(token).shares - totals.get(token, 0.0)) < _EPS, (
                f"{token[:6]}: inventory {inv.position(token).shares} != seed + counted fills {totals.get(token)}"
            )

    @invariant()
    def no_pending_order_past_the_settle_bound(self) -> None:
        bound = _SETTINGS["pending_settle_s"]
        for order in self.runner.manager.open_orders():
            if order.state is not OrderState.PENDING or self.clock.t - order.created_at_s <= bound:
                continue
            outage = any(at >= order.created_at_s for at in self.outage_at_s)
            assert outage or self.cut, f"{order!r} pending for {self.clock.t - order.created_at_s:.1f} s"

    @invariant()
    def drained_inventory_equals_the_venue(self) -> None:
        if self.queue or self.lost_since_reconcile:
            return
        if not (self.first_life or getattr(self, "seeded", False)):
            return  # a cancel-all restart starts its inventory at zero by design
        for token in (_UP, _DOWN):
            venue = self.exchange.accounts.tokens(self.signer.address, token) / _UNIT
            ours = self.runner.inventory.position(token).shares
            assert abs(ours - venue) < _EPS, f"{token[:6]}: inventory {ours} shares, venue balance {venue}"

    # --- helpers ------------------------------------------------------------------------------------
    def _snapshot(self) -> tuple[Any, ...]:
        manager = self.runner.manager
        orders = tuple(sorted((o.order_id, o.state, o.matched_shares) for o in manager.by_id.values()))
        inv = self.runner.inventory
        return orders, inv.up.shares, inv.down.shares, inv.fills_counted, inv.fills_reversed

    def _foreign(self, kind: str, pick: int) -> dict[str, Any]:
        ours = sorted(self.runner.manager.by_id)
        some_id = ours[pick % len(ours)] if ours else "0x" + "ab" * 32
        unknown_id = f"0x{(pick + 1) * 7919:064x}"
        order_event = {
            "event_type": "order", "type": "UPDATE", "id": unknown_id, "owner": self.owner, "market": _CONDITION_ID,
            "asset_id": _UP, "side": "BUY", "price": "0.45", "original_size": "5", "size_matched": "5",
            "status": "MATCHED", "order_type": "GTC", "timestamp": "1800000000000",
        }
        if kind == "unknown_order":
            return order_event
        if kind == "other_market":
            # One of our ids, but in another market and token: not ours to act on.
            return {**order_event, "id": some_id, "market": "0x" + "99" * 32, "asset_id": "123", "type": "CANCELLATION",
                    "status": "CANCELED"}
        trade = {
            "event_type": "trade", "id": f"foreign-{pick}", "taker_order_id": unknown_id, "market": "0x" + "99" * 32,
            "asset_id": "123", "side": "BUY", "size": "5", "price": "0.5", "status": "MATCHED", "owner": "someone",
            "trader_side": "TAKER", "maker_orders": [{"order_id": some_id, "owner": "someone", "matched_amount": "5",
                                                      "price": "0.5", "asset_id": "123", "side": "SELL"}],
        }
        if kind == "foreign_trade":
            return trade
        # On our market and token, but the maker leg is someone else's unknown order.
        return {**trade, "market": _CONDITION_ID, "asset_id": _UP,
                "maker_orders": [{"order_id": unknown_id, "owner": "someone", "matched_amount": "5", "price": "0.5",
                                  "asset_id": _DOWN, "side": "BUY"}]}


def _venue_keys(trades: list[dict[str, Any]], owner: str) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    for trade in trades:
        if trade.get("trader_side") == "TAKER" and trade.get("owner") == owner:
            keys.add((trade["id"], trade["taker_order_id"]))
        for leg in trade.get("maker_orders") or ():
            if leg.get("owner") == owner:
                keys.add((trade["id"], leg["order_id"]))
    return keys


def _profile() -> str:
    return os.environ.get("HYPOTHESIS_PROFILE", "ci")


def lifecycle_settings(profile: str | None = None) -> settings:
    """The hypothesis settings of one lifecycle run for `profile` (default: the loaded profile)."""
    name = profile or _profile()
    try:
        base = settings.get_profile(name)
    except Exception:  # outside pytest (ops/reliability_report.py) tests/conftest.py registered nothing
        base = settings()
    return settings(
        base,
        max_examples=_EXAMPLES.get(name, base.max_examples),
        stateful_step_count=_STEPS.get(name, _STEPS["ci"]),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        database=None,
        # CI replays the same 1,000 examples every run (a red CI is a change's doing, not a draw's); the
        # nightly profile draws new ones (it found the seeded-fill reversal, now a fixed regression test).
        derandomize=name != "nightly",
    )


def run_lifecycle_examples(profile: str | None = None) -> dict[str, int]:
    """Run the lifecycle machine under `profile`; returns how many examples and steps ran.

    Must run inside a Trio task (the engine's deadlines are Trio cancel scopes); from plain code it
    starts one itself.
    """
    def run() -> dict[str, int]:
        STATS.examples = STATS.steps = 0
        run_state_machine_as_test(LifecycleMachine, settings=lifecycle_settings(profile))
        return {"examples": STATS.examples, "steps": STATS.steps}

    try:
        trio.lowlevel.current_task()
    except RuntimeError:

        async def in_trio() -> dict[str, int]:
            return run()

        return trio.run(in_trio)
    return run()
