"""A world whose every interleaving hypothesis chooses: the real market runner's tasks, a scripted venue.

What runs is the real `MarketRunner` with all its tasks (quoting loop, reconciler, completion executor,
user-event consumer, book pump, cancel-all service), the real `VenueGateway` and, behind a scripted REST
surface, the simulator's real matching engine (`bot.sim.engine.Exchange`), all on Trio's `MockClock`
with the autojump off. Nothing moves unless the driver (`World.step`, fed by hypothesis) says so:

- every REST request parks until the driver lets the venue **process** it (the engine applies it and
  emits its WS events) and, separately, **answers** it: ok, a 500 (with or without the request having
  landed), a refusal (a cancel refused per id, a 400 on a POST or a FOK/FAK) — or never, until the
  gateway's deadline turns it into a timeout;
- user-channel events (placements, fills and trades, cancellations, unknown-order updates, a reconnect
  marker) wait in a queue until delivered, in any order relative to the REST answers;
- market-channel book changes reach the runner only when published;
- time moves only by the driver: to the next timer of any task (reconcile period, quote interval,
  backoff, cancel-all retry, request deadline, cutoff, market end) or by a drawn step.

The one rule on the venue that keeps the model honest: a request whose caller gave up (a timeout, a
cancelled task) may still land, but the venue settles it (landed or lost) before it processes any request
sent after it, as a venue that answers within its callers' deadlines does. Without it, a POST could land
after the final verified listing, which no client can prevent.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

import trio
import trio.testing
from hypothesis import strategies as st

from bot.engine.gateway import VenueGateway
from bot.engine.illegal import illegal_transitions
from bot.engine.journal import NullJournal
from bot.engine.market import MarketRunner
from bot.engine.markets import MarketInfo
from bot.protocol.auth import ApiCreds
from bot.protocol.book import OrderBook
from bot.protocol.errors import error_for
from bot.protocol.messages import (
    PostOrderResponse,
    parse_book,
    parse_open_order,
    parse_trade,
    parse_user_event,
)
from bot.protocol.money import MICRO, parse_micro
from bot.protocol.rest import CancelResult, PostResult
from bot.protocol.ws import Resynced
from bot.sim.engine import Exchange
from bot.sim.flow import build_order
from bot.sim.model import MarketSpec, NewOrder, OrderRejected, SimConfig, UserData
from settings import BotSettings, CompletionOrderType, StormAction, UnknownOrderAction
from statemachines.market import ExitReason, MarketState
from statemachines.order import OrderState
from tests.reliability.lifecycle import _DOWN, _UP, _FastSigner, _Other

__all__ = ["Options", "PropertyFailure", "World", "play", "settings_for"]

EPOCH_S = 1_800_000_000.0
_CONDITION_ID = "0x" + "1e" * 32
_OWNER = "interleave-key"
_START_S = EPOCH_S - 5.0  # the market is open when the runner starts (Trio time 0)
_END_S = EPOCH_S + 40.0
_UNIT = 1_000_000
_EPS = 1e-6
# A refusal that is neither "already done" nor "not found": the order still rests (spec 5.4 not_canceled).
_CANCEL_REFUSED = "order is being matched, try again"
# A POST refused outright (a 400 the venue did not act on): the order did not land.
_POST_REFUSED = "invalid order: not enough balance / allowance"

_BASE: dict[str, Any] = dict(
    mode="paper",
    ladder_levels=2,
    size_per_level_shares=5.0,
    quote_cutoff_s=10.0,
    quote_interval_s=1.0,
    stale_book_s=8.0,
    reconcile_interval_s=6.0,
    reconcile_grace_s=1.0,
    cancel_retry_s=1.0,
    pending_settle_s=30.0,
    request_timeout_s=2.0,
    cancel_all_timeout_s=4.0,
    cancel_all_retry_base_s=0.2,
    cancel_all_retry_max_s=1.0,
    backoff_base_s=1.0,
    backoff_max_s=4.0,
    backoff_failures=2,
    storm_threshold=3,
    storm_window_s=5.0,
    max_inventory_skew_shares=10.0,
    max_unpaired_shares=15.0,
    max_notional_per_market_pusd=8.0,
    completion_min_imbalance_shares=5.0,
    completion_settle_s=0.5,
    completion_cooldown_s=2.0,
)
CUTOFF_S = _END_S - _BASE["quote_cutoff_s"]


@dataclass(frozen=True, slots=True)
class Options:
    """What one example's runner is configured with (drawn per example)."""

    startup_cancel_all: bool = True
    storm_rebuild: bool = False
    reconcile_exit: bool = False
    complete_after_cutoff: bool = False
    fok: bool = False
    gtd_at_cutoff: bool = False
    resting_before_start: int = 0  # orders of ours a previous process left on the venue
    # A notional cap wide enough for a concurrent re-price to post replacements beside their retiring
    # predecessors (the default 8 pUSD leaves no room: every replacement waits for its cancel's answer).
    overlap_room: bool = False


_SETTINGS: dict[Options, BotSettings] = {}
_BASE_SETTINGS: list[BotSettings] = []


def settings_for(options: Options) -> BotSettings:
    """The runner's settings for `options`: validated once, then copied (validation costs more than an example)."""
    if not _BASE_SETTINGS:
        _BASE_SETTINGS.append(BotSettings(**_BASE))
    key = replace(options, resting_before_start=0)
    if key not in _SETTINGS:
        _SETTINGS[key] = _BASE_SETTINGS[0].model_copy(update=dict(
            startup_cancel_all=options.startup_cancel_all,
            storm_action=StormAction.REBUILD if options.storm_rebuild else StormAction.SHUTDOWN,
            reconcile_action=UnknownOrderAction.EXIT if options.reconcile_exit else UnknownOrderAction.REPAIR,
            complete_after_cutoff=options.complete_after_cutoff,
            completion_order_type=CompletionOrderType.FOK if options.fok else CompletionOrderType.FAK,
            gtd_at_cutoff=options.gtd_at_cutoff,
            **({"max_notional_per_market_pusd": 100.0} if options.overlap_room else {}),
        ))
    return _SETTINGS[key]


# --- the scripted venue ------------------------------------------------------------------------------


@dataclass(eq=False)
class Request:
    """One REST request of the runner, parked until the driver processes and answers it."""

    seq: int
    kind: str  # post, cancel, cancel_market, cancel_all, orders, order, trades, tick, balance
    args: Any
    sent_at: float
    done: trio.Event = field(default_factory=trio.Event)
    processed: bool = False
    value: Any = None
    error: BaseException | None = None
    orphan: bool = False  # its caller gave up (deadline, cancellation): it may still land
    listing: int = 0  # the how-manieth open-orders listing this is (for the user channel's latency bound)

    @property
    def maker_post(self) -> bool:
        return self.kind == "post" and all(w["orderType"] in ("GTC", "GTD") for w in self.args)

    @property
    def taker_post(self) -> bool:
        return self.kind == "post" and not self.maker_post


class ScriptedRest:
    """`ClobRestClient`'s surface as the gateway uses it; each call waits for the driver."""

    def __init__(self, world: World) -> None:
        self._w = world
        self.pending: list[Request] = []  # sent, not answered (orphans included until settled)
        self._seq = 0
        self.listings_sent = 0

    async def _call(self, kind: str, args: Any, on_sent: Any = None) -> Any:
        self._seq += 1
        req = Request(self._seq, kind, args, trio.current_time())
        if kind == "orders":
            self.listings_sent += 1
            req.listing = self.listings_sent
        self._w.on_send(req)
        self.pending.append(req)
        if on_sent is not None:
            on_sent()  # written: the caller may work while the venue has not answered (a concurrent re-price)
        try:
            await req.done.wait()
        except BaseException:
            req.orphan = True
            if trio.current_time() >= req.sent_at + self._w.settings.request_timeout_s:
                self._w.faults += 1  # the venue did not answer within the deadline: a timeout
            if req.processed:  # landed; only its answer is lost
                self.pending.remove(req)
            raise
        if req.error is not None:
            raise req.error
        return req.value

    # --- what the venue does with a request ----------------------------------------------------------
    def process(self, req: Request) -> None:
        """The venue applies `req` now (earlier orphans settled first); its answer is kept for later."""
        w = self._w
        for earlier in [r for r in self.pending if r.orphan and not r.processed and r.seq < req.seq]:
            self.settle_orphan(earlier, landed=w.draw_bool("orphan lands"))
        req.processed = True
        ex, owner = w.exchange, _OWNER
        kind, args = req.kind, req.args
        if kind == "post":
            results = []
            with ex.batch():
                for wire in args:
                    results.append(self._place(w.new_order(wire)))
            req.value = results
        elif kind == "cancel":
            canceled, not_canceled = ex.cancel(owner, list(args))
            kinds = {oid: error_for(None, reason).kind for oid, reason in not_canceled.items()}
            req.value = CancelResult(canceled=list(canceled), not_canceled=dict(not_canceled),
                                     not_canceled_kinds=kinds)
        elif kind in ("cancel_market", "cancel_all"):
            canceled, _ = ex.cancel_market(owner, market=args) if kind == "cancel_market" else ex.cancel_all(owner)
            req.value = CancelResult(canceled=list(canceled))
        elif kind == "orders":
            req.value = [parse_open_order(o) for o in ex.open_orders(owner, market=args)]
        elif kind == "order":
            found = ex.get_order(owner, args, as_venue=True)  # null for a finished order (the sim's default)
            req.value = None if found is None else parse_open_order(found)
        elif kind == "trades":
            market, after_s = args
            req.value = [parse_trade(t) for t in ex.trades(owner, market=market, after_s=after_s)]
        elif kind == "tick":
            req.value = ex.tick_size(args)
        elif kind == "balance":
            req.value = ex.balance(w.signer.address, "CONDITIONAL", args)
        if req.orphan:
            self.pending.remove(req)

    def _place(self, new: NewOrder) -> PostResult:
        try:
            placed = self._w.exchange.place(new)
        except OrderRejected as exc:
            error = error_for(exc.status, exc.message, code=exc.code or "", retry_after_s=exc.retry_after_s,
                              order_id=new.order_id)
            return PostResult(ok=False, order_id=new.order_id, error=error)
        response = PostOrderResponse(True, placed.order_id, placed.status, parse_micro(placed.making_amount or "0"),
                                     parse_micro(placed.taking_amount or "0"), tuple(placed.trade_ids), (), "")
        return PostResult(ok=True, order_id=placed.order_id, status=placed.status, response=response)

    def settle_orphan(self, req: Request, *, landed: bool) -> None:
        """A request nobody waits for: the venue got it late (`landed`) or never."""
        if landed:
            self.process(req)  # removes it
        else:
            self.pending.remove(req)

    def answer(self, req: Request, how: str) -> None:
        """Answer a request its caller still waits for: `ok`, `500` (not landed), `landed500`, `refuse`.

        A listing whose overdue user events are still queued is not answered yet: they go first."""
        if req.kind == "orders" and self._w.deliver_overdue(req.listing):
            return
        if how in ("ok", "landed500") and not req.processed:
            self.process(req)
        self.pending.remove(req)
        if how == "ok":
            pass
        elif how == "refuse" and req.kind == "cancel" and not req.processed:
            ids = list(dict.fromkeys(req.args))
            kinds = {oid: error_for(None, _CANCEL_REFUSED).kind for oid in ids}
            req.value = CancelResult(not_canceled=dict.fromkeys(ids, _CANCEL_REFUSED), not_canceled_kinds=kinds)
        elif how == "refuse" and req.kind == "post" and not req.processed:
            error = error_for(400, _POST_REFUSED)
            req.value = [PostResult(ok=False, order_id="", error=error) for _ in req.args]
        else:  # a 500: the POST legs and the cancel ids read as unknown, the rest raises
            error = error_for(500, "Internal Server Error")
            if req.kind == "post":
                req.value = [PostResult(ok=False, order_id="", error=error) for _ in req.args]
            elif req.kind == "cancel":
                req.value = CancelResult(failed=dict.fromkeys(req.args, error))
            else:
                req.value, req.error = None, error
        req.done.set()

    # --- the surface ---------------------------------------------------------------------------------
    async def post_order(self, wire: dict[str, Any], *, on_sent: Any = None) -> PostResult:
        return (await self._call("post", [wire], on_sent))[0]

    async def post_orders(self, wires: list[dict[str, Any]], *, on_sent: Any = None) -> list[PostResult]:
        return await self._call("post", list(wires), on_sent)

    async def cancel_orders(self, order_ids: list[str], *, on_sent: Any = None) -> CancelResult:
        return await self._call("cancel", list(order_ids), on_sent)

    async def cancel_market_orders(self, market: str | None = None, asset_id: str | None = None) -> CancelResult:
        return await self._call("cancel_market", market)

    async def cancel_all(self) -> CancelResult:
        return await self._call("cancel_all", None)

    async def get_open_orders(self, market: str | None = None, asset_id: str | None = None,
                              order_id: str | None = None) -> list[Any]:
        return await self._call("orders", market)

    async def get_order(self, order_id: str) -> Any:
        return await self._call("order", order_id)

    async def get_trades(self, market: str | None = None, asset_id: str | None = None,
                         trade_id: str | None = None, after_s: int | None = None) -> list[Any]:
        return await self._call("trades", (market, after_s))

    async def get_tick_size(self, token_id: str) -> str:
        return await self._call("tick", token_id)

    async def get_balance_allowance(self, asset_type: str, token_id: str | None = None,
                                    signature_type: int | None = None) -> dict[str, Any]:
        return await self._call("balance", token_id)


class ScriptedBooks:
    """The market channel: books as of the last published change; `crash` makes the pump's wait raise."""

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        self._books: dict[str, OrderBook] = {}
        self._fresh_at: dict[str, float] = {}
        self._event = trio.Event()
        self.crash = False

    def publish(self) -> None:
        now = trio.current_time()
        for token in (_UP, _DOWN):
            book = OrderBook(token, _CONDITION_ID)
            book.apply_snapshot(parse_book(self._exchange.book(token)), received_at_s=now)
            self._books[token] = book
            self._fresh_at[token] = now
        self._event.set()

    def book(self, token_id: str) -> OrderBook | None:
        return self._books.get(token_id)

    def book_fresh_at(self, token_id: str) -> float | None:
        return self._fresh_at.get(token_id)

    async def changed(self) -> None:
        await self._event.wait()
        self._event = trio.Event()
        if self.crash:
            raise RuntimeError("injected crash in the book pump")

    def kick(self) -> None:
        self._event.set()


# --- the world ---------------------------------------------------------------------------------------


class PropertyFailure(AssertionError):
    pass


class World:
    """One example: the venue, the runner and the record of what the driver did."""

    def __init__(self, data: Any, options: Options, clock: trio.testing.MockClock) -> None:
        self._data = data
        self.options = options
        self.mock = clock
        self.settings = settings_for(options)
        self.exchange = Exchange(clock=self.now_s, config=SimConfig(), seed=0)
        self.exchange.add_market(MarketSpec(
            condition_id=_CONDITION_ID, question="interleaving market", slug="btc-updown-interleave",
            yes_token_id=_UP, no_token_id=_DOWN, start_ts=_START_S, end_ts=_END_S, fee_rate=0.07,
        ))
        self.signer = _FastSigner()
        self.exchange.register_api_key(_OWNER, self.signer.address)
        self.rest = ScriptedRest(self)
        self.gateway = VenueGateway(self.rest, self.signer, ApiCreds(_OWNER, "unused", "unused"),  # type: ignore[arg-type]
                                    request_timeout_s=self.settings.request_timeout_s, journal=NullJournal())
        self.other = _Other(self.exchange)
        self.other.quote("0.47", "5")
        self.books = ScriptedBooks(self.exchange)
        self.books.publish()
        for i in range(options.resting_before_start):
            self.exchange.place(build_order(
                order_id=f"0x{0xdead0000 + i:064x}", owner=_OWNER, address=self.signer.address,
                token_id=(_UP, _DOWN)[i % 2], side="BUY", price="0.30", size="5", order_type="GTC",
            ))
        self.queue: deque[Any] = deque()
        self.exchange.subscribe(self._on_venue_event)  # from now on: what a fresh connection hears
        self.user_send, user_receive = trio.open_memory_channel[Any](math.inf)  # the test's feed never blocks
        info = MarketInfo(_CONDITION_ID, "btc-updown-interleave", _UP, _DOWN, _START_S, _END_S, fee_rate=0.07)
        self.clock = _TrioUnixClock()
        self.runner = MarketRunner(info, self.settings, self.gateway, books=self.books,
                                   user_events=user_receive, clock=self.clock, journal=NullJournal())  # type: ignore[arg-type]
        if options.overlap_room:
            self._judge_overlaps()
        # Seeding sets a position from the venue's balance; what the counted fills do not explain is the seed.
        self.seed_shares = {_UP: 0.0, _DOWN: 0.0}
        inventory, seed = self.runner.inventory, self.runner.inventory.seed

        def recording_seed(token_id: str, shares_micro: int, cost_micro: int,
                           listed: frozenset[tuple[str, str]] = frozenset()) -> None:
            held = sum(f.shares if f.side == "BUY" else -f.shares for f in inventory.counted_fills()
                       if f.token_id == token_id and (f.trade_id, f.order_id) in listed)
            self.seed_shares[token_id] = shares_micro / 1_000_000 - held
            seed(token_id, shares_micro, cost_micro, listed)

        inventory.seed = recording_seed  # type: ignore[method-assign]
        self.runner.cancel_all._rng = random.Random(0)  # its jitter, reproducible per example
        self.cancel_scope = trio.CancelScope()
        self.reason: ExitReason | None = None
        self.exited_at: float | None = None
        self.exit_state: dict[str, Any] = {}
        self.illegal_before = illegal_transitions()
        # What the driver did that makes some exits legitimate.
        self.faults = 0
        self.crashed = False
        self.signalled = False
        self.unknown_events = 0
        self.dead_venue = False
        self.our_ids: set[str] = set()
        self.taker_spend_pusd = 0.0
        self.events_lost = False
        self.venue_version = 0
        self._checked: tuple[Any, ...] | None = None
        self.reconnects = 0
        self.decision_failures: list[str] = []  # what `_judge_overlaps` found wrong where it was decided

    # --- plumbing ----------------------------------------------------------------------------------
    def now_s(self) -> float:
        return EPOCH_S + trio.current_time()

    def draw(self, strategy: st.SearchStrategy[Any], label: str) -> Any:
        return self._data.draw(strategy, label=label)

    def draw_bool(self, label: str) -> bool:
        return bool(self._data.draw(st.booleans(), label=label))

    def new_order(self, wire: dict[str, Any]) -> NewOrder:
        order = wire["order"]
        return NewOrder(
            order_id=self.signer.issued[order["salt"]], owner=wire["owner"], maker_address=order["maker"],
            signer=order["signer"], token_id=order["tokenId"], side=order["side"],
            maker_amount=int(order["makerAmount"]), taker_amount=int(order["takerAmount"]),
            order_type=wire["orderType"], post_only=wire["postOnly"], expiration=int(order["expiration"]),
            timestamp_ms=int(order["timestamp"]),
        )

    def _on_venue_event(self, event: Any) -> None:
        if isinstance(event, UserData) and event.owner == _OWNER:
            self.enqueue(event.payload)

    def enqueue(self, item: Any) -> None:
        self.venue_version += 1  # every change of our orders or fills on the venue tells us an event
        self.queue.append((self.rest.listings_sent, item))

    def deliver(self, item: Any) -> None:
        self.user_send.send_nowait(item if isinstance(item, Resynced) else parse_user_event(item))

    def deliver_overdue(self, listing: int) -> bool:
        """The user channel's latency is bounded: an event queued before listing k-1 was requested is
        delivered before listing k is answered. True when some had to go first (answer later)."""
        sent = False
        while self.queue and self.queue[0][0] <= listing - 2:
            self.deliver(self.queue.popleft()[1])
            sent = True
        return sent

    async def run_runner(self) -> None:
        with self.cancel_scope:
            await self.runner.run()
        self.reason = self.runner.exit_reason
        self.exited_at = trio.current_time()
        self.exit_state = {
            "venue_orders": self.exchange.open_orders(_OWNER),
            "drained": not self.queue and self.user_send.statistics().current_buffer_used == 0,
        }

    @property
    def running(self) -> bool:
        return self.exited_at is None

    # --- invariants at the moment a request leaves ------------------------------------------------------
    def on_send(self, req: Request) -> None:
        r = self.runner
        if req.kind != "post":
            return
        for wire in req.args:
            self.our_ids.add(self.signer.issued[wire["order"]["salt"]])
        if req.maker_post:
            _check(self.now_s() < r.cutoff_s, f"a maker POST left at {self.now_s() - EPOCH_S:.3f}, after the cutoff")
            _check(r.machine.state is MarketState.QUOTING, f"a maker POST left in state {r.machine.state.value}")
        else:
            in_flight = [p for p in self.rest.pending if p.taker_post and not p.orphan]
            _check(not in_flight, "two completions in flight")
            wire = req.args[0]["order"]
            self.taker_spend_pusd += int(wire["makerAmount"]) / _UNIT

    # --- invariants after every step --------------------------------------------------------------------
    def check_step(self) -> None:
        r = self.runner
        _check(illegal_transitions() == self.illegal_before, "a refused transition")
        _check(not self.decision_failures, f"{self.decision_failures}")
        inv = r.inventory
        key = (self.venue_version, r.manager.seq, inv.fills_counted, inv.fills_reversed, len(r.stats.cancel_all_runs))
        if key == self._checked:
            return  # nothing the checks read has changed since the last step
        self._checked = key
        manager = r.manager
        levels = self.settings.ladder_levels
        per_token: dict[str, int] = {}
        for (token, level), order in manager.slots.items():
            _check(order.is_open, f"slot {(token[:4], level)} holds {order!r}")
            per_token[token] = per_token.get(token, 0) + 1
        _check(all(n <= levels for n in per_token.values()), f"cache levels {per_token}")
        for order in manager.retiring.values():
            _check(order.is_open and order.level is not None, f"retiring {order!r}")
            key = (order.token_id, order.level)
            _check(manager.slots.get(key) is not order, f"retiring {order!r} still holds its slot")
        retiring_levels = [(o.token_id, o.level) for o in manager.retiring.values()]
        _check(len(retiring_levels) == len(set(retiring_levels)), f"two retiring orders on a level {retiring_levels}")
        venue = self.exchange.open_orders(_OWNER)
        # A concurrent re-price rests a level's replacement beside its retiring predecessor: per level, at
        # most one order that is not retiring, and at most one retiring (never two replacements in flight).
        seen: set[tuple[str, int | None, bool]] = set()
        venue_per_token: dict[str, int] = {}
        cut_verified = any(why == "cutoff" and ok for why, _, ok in r.stats.cancel_all_runs)
        for wire in venue:
            oid = wire["id"]
            _check(not cut_verified, f"order {oid[:10]} rests after the cutoff cancel-all verified")
            if oid not in self.our_ids:
                continue  # left by a previous process: the startup's cancel-all or seeding owns it
            order = manager.by_id.get(oid)
            _check(order is not None and order.is_open, f"order {oid[:10]} rests on the venue, cache: {order!r}")
            assert order is not None
            retiring = oid in manager.retiring
            if order.level is not None:
                level_key = (order.token_id, order.level, retiring)
                _check(level_key not in seen, f"two {'retiring ' if retiring else ''}orders rest on level {level_key}")
                seen.add(level_key)
            if not retiring:
                venue_per_token[wire["asset_id"]] = venue_per_token.get(wire["asset_id"], 0) + 1
        _check(all(n <= levels for n in venue_per_token.values()), f"venue levels {venue_per_token}")
        self._check_inventory()

    def _judge_overlaps(self) -> None:
        """Judge every overlap where it is decided (`OrderManager._overlap`), on what the bot knows then:
        every open BUY of ours filling (retiring ones and their replacements alike, the posts leaving and
        the replacements chosen), none on the other token, keeps the unpaired excess within
        `max_unpaired_shares`.

        Not judged after the fact on the venue's truth: a fill the venue made before confirming a cancel,
        its reports not delivered yet, is unknown to any bot deciding meanwhile (the sequential path posts
        its ladder from the same view)."""
        manager = self.runner.manager
        decide = manager._overlap

        def judged(cancels: list[Any], ladder: Any, posts: list[Any], caps: Any) -> list[Any]:
            chosen = decide(cancels, ladder, posts, caps)
            if chosen:
                try:
                    self._check_open_shares([*posts, *chosen], {q.token_id for q in chosen})
                except PropertyFailure as exc:  # raised in the runner's task: kept, so no exit path hides it
                    self.decision_failures.append(str(exc))
                    raise
            return chosen

        manager._overlap = judged  # type: ignore[method-assign]

    def _check_open_shares(self, leaving: list[Any], tokens: set[str]) -> None:
        """The unpaired cap on each token in `tokens` (those the overlap adds to). Another token may stand
        over its cap on what the bot knows by now, from fills reported after its orders were posted: the
        overlap adds nothing there (its caps leave no room), and this judges the overlap's decision."""
        r = self.runner
        inv = r.inventory
        cap = round(self.settings.max_unpaired_shares * MICRO)
        # A fill reaches the bot twice, in either order: the order update (its matched size) and the trade
        # (the inventory). Per order, what is held or may still be: the larger of the two, less what the
        # inventory already holds, plus what is still open; then the new orders about to leave.
        counted: dict[str, int] = {}
        for fill in inv.counted_fills():
            counted[fill.order_id] = counted.get(fill.order_id, 0) + fill.shares_micro
        exposure: dict[str, int] = {}
        for order in r.manager.by_id.values():
            if order.side != "BUY":
                continue
            done = max(order.matched_micro, counted.get(order.order_id, 0))
            pending = done - counted.get(order.order_id, 0) + (order.size_micro - done if order.is_open else 0)
            exposure[order.token_id] = exposure.get(order.token_id, 0) + pending
        for quote in leaving:
            exposure[quote.token_id] = exposure.get(quote.token_id, 0) + quote.size_micro
        for token, other in ((r.info.up_token_id, r.info.down_token_id), (r.info.down_token_id, r.info.up_token_id)):
            if token not in tokens:
                continue
            lead = inv.position(token).shares_micro - inv.position(other).shares_micro
            worst = exposure.get(token, 0)
            _check(lead + worst <= cap, f"{token[:4]}: lead {lead} + matched or open BUYs {worst} > {cap} µshares "
                                        "in an overlap decided")

    def _check_inventory(self) -> None:
        inv = self.runner.inventory
        venue_fills = _our_fills(self.exchange.trades(_OWNER), _OWNER)
        totals = dict(self.seed_shares)
        for fill in inv.counted_fills():
            key = (fill.trade_id, fill.order_id)
            _check(key in venue_fills, f"a counted fill the venue never made: {fill}")
            _check(abs(venue_fills[key] - fill.shares) < _EPS, f"fill {key} counted {fill.shares}, venue {venue_fills[key]}")
            totals[fill.token_id] += fill.shares if fill.side == "BUY" else -fill.shares
        for token, shares in totals.items():
            held = inv.position(token).shares
            _check(abs(held - shares) < _EPS, f"inventory {held} != seed + counted fills {shares}")
        p = self.settings
        lead = abs(inv.imbalance_shares)
        cap = min(p.max_inventory_skew_shares, p.max_unpaired_shares) + 2 * p.ladder_levels * p.size_per_level_shares
        _check(lead <= cap + _EPS, f"one side leads by {lead} shares (cap {cap})")

    # --- what the example must show at its end ---------------------------------------------------------
    def check_end(self) -> None:
        r = self.runner
        _check(not self.running, "the runner never exited")
        _check(illegal_transitions() == self.illegal_before, "a refused transition")
        _check(not self.decision_failures, f"{self.decision_failures}")
        assert self.exited_at is not None and self.reason is not None
        bound = r.clock.to_trio(_END_S) + self.settings.cancel_all_timeout_s + 1.0
        _check(self.exited_at <= bound + _EPS, f"the runner exited at {self.exited_at:.3f} (bound {bound:.3f})")
        reason = self.reason
        allowed = {ExitReason.MARKET_END}
        if self.crashed:
            allowed.add(ExitReason.CRASH)
        if self.signalled:
            allowed.add(ExitReason.SIGNAL)
        # A previous process's orders are unknown to this one: their events (the startup cancel-all's
        # CANCELLATIONs, fills) count towards a storm like any other unknown order's.
        if (self.unknown_events or self.options.resting_before_start) and not self.options.storm_rebuild:
            allowed.add(ExitReason.STORM)
        if self.events_lost and self.options.reconcile_exit:
            allowed.add(ExitReason.RECONCILE_MISMATCH)  # an order ended unseen: the venue cannot say how
        if self.faults or self.dead_venue:
            allowed.add(ExitReason.CANCEL_UNVERIFIED)
        _check(reason in allowed, f"exit reason {reason.value} ({r._stop.detail if r._stop else ''}; "
                                   f"allowed: {sorted(a.value for a in allowed)})")
        if reason is not ExitReason.CANCEL_UNVERIFIED:
            left = self.exit_state["venue_orders"]
            _check(not left, f"{len(left)} order(s) of ours rest on the venue after a {reason.value} exit")
            open_in_cache = r.manager.open_orders()
            _check(not open_in_cache, f"the cache keeps open orders after a verified exit: {open_in_cache}")
        _check(r.stats.reconcile_repairs == 0 or self.events_lost, f"a spurious reconcile repair: strays {r.reconciler.last.strays if r.reconciler.last else None}, lost {r.reconciler.last.lost if r.reconciler.last else None}")
        self._check_inventory()
        # A seeding start that never got its listing by the cutoff has no starting position by design
        # (reconciler.seed): the fills of a previous process are then unknown to it, so the balance check
        # holds only for a start that cancelled everything or seeded.
        unseeded = not self.options.startup_cancel_all and not r.reconciler.seeded
        if self.exit_state["drained"] and not self.events_lost and not unseeded:
            for token in (_UP, _DOWN):
                venue = self.exchange.accounts.tokens(self.signer.address, token) / _UNIT
                held = r.inventory.position(token).shares
                _check(abs(held - venue) < _EPS, f"{token[:6]}: inventory {held} shares, venue balance {venue}")


    # --- the driver's moves -----------------------------------------------------------------------------
    def moves(self) -> list[str]:
        """The moves that can change something now (hypothesis picks one)."""
        moves = ["advance", "advance", "advance", "taker", "taker", "requote", "venue_cancel", "unknown_order"]
        live = [r for r in self.rest.pending if not r.orphan]
        if live:
            moves += ["answer", "answer", "answer", "process"]
        if any(r.orphan for r in self.rest.pending):
            moves.append("orphan")
        if self.queue:
            moves += ["deliver", "deliver", "deliver_reordered"]
        if not self.signalled:
            moves.append("signal")
        if not self.crashed:
            moves.append("crash")
        moves.append("resync")
        return moves

    async def move(self, name: str) -> None:
        rest = self.rest
        if name == "answer":
            live = [r for r in rest.pending if not r.orphan]
            req = live[self.draw(st.integers(0, len(live) - 1), "which request")]
            how = self.draw(st.sampled_from(_ANSWERS), f"answer to {req.kind}")
            if how != "ok":
                self.faults += 1
            rest.answer(req, how)
        elif name == "process":
            live = [r for r in rest.pending if not r.orphan and not r.processed]
            if live:
                rest.process(live[self.draw(st.integers(0, len(live) - 1), "which request")])
        elif name == "orphan":
            orphans = [r for r in rest.pending if r.orphan]
            req = orphans[self.draw(st.integers(0, len(orphans) - 1), "which orphan")]
            rest.settle_orphan(req, landed=self.draw_bool("orphan lands"))
        elif name in ("deliver", "deliver_reordered"):
            n = min(len(self.queue), self.draw(st.integers(1, 4), "events"))
            batch = [self.queue.popleft()[1] for _ in range(n)]
            if name == "deliver_reordered":
                batch.reverse()
            for item in batch:
                self.deliver(item)
        elif name == "taker":
            token = self.draw(st.sampled_from((_UP, _DOWN)), "token")
            with self.exchange.batch():  # one market-data summary per move, as one venue call makes
                self.other.sell(token, self.draw(st.integers(1, 20), "shares"))
            if self.draw_bool("book published"):
                self.books.publish()
        elif name == "requote":
            with self.exchange.batch():
                self.other.quote(self.draw(st.sampled_from(_OTHER_PRICES), "price"), "5")
            self.books.publish()
        elif name == "venue_cancel":
            orders = self.exchange.open_orders(_OWNER)
            if orders:
                pick = self.draw(st.integers(0, len(orders) - 1), "which order")
                self.exchange.cancel(_OWNER, [orders[pick]["id"]])
        elif name == "unknown_order":
            self.unknown_events += 1
            self.enqueue(_unknown_order_update(self.unknown_events))
        elif name == "resync":  # the user connection dropped and came back: what was in flight may be lost
            if self.queue and self.draw_bool("events lost"):
                self.queue.clear()
                self.events_lost = True
            self.reconnects += 1
            self.enqueue(Resynced(self.reconnects, trio.current_time()))
        elif name == "signal":
            self.signalled = True
            self.runner.request_stop(ExitReason.SIGNAL)
            self.cancel_scope.cancel()
        elif name == "crash":
            self.crashed = True
            self.books.crash = True
            self.books.kick()
        elif name == "advance":
            step = self.draw(st.sampled_from(_STEPS_S), "advance")
            self.advance(self.next_timer_s() if step is None else step)

    def next_timer_s(self) -> float:
        """Seconds to the earliest timer of any task (or of the venue's own schedule)."""
        dt = trio.lowlevel.current_statistics().seconds_to_next_deadline
        venue = self.exchange.next_deadline()
        if venue is not None and venue < _END_S:
            dt = min(dt, max(0.0, venue - self.now_s()))
        return dt

    def advance(self, dt: float) -> None:
        if math.isinf(dt):
            raise PropertyFailure("every task waits without a deadline and nothing is in flight")
        self.mock.jump(dt)
        if self.now_s() < _END_S:  # past the end the venue would close the market and sweep it itself
            self.exchange.advance()

    def drain_once(self) -> None:
        """Bring the example to its end: answer everything (healthy, or 500s when the venue is dead),
        deliver the user events, then let time run to the next timer."""
        rest = self.rest
        live = [r for r in rest.pending if not r.orphan]
        if live:
            for req in live:
                rest.answer(req, "500" if self.dead_venue else "ok")
            return
        for req in [r for r in rest.pending if r.orphan]:
            rest.settle_orphan(req, landed=False)
        if self.queue and not self.dead_venue:
            while self.queue:
                self.deliver(self.queue.popleft()[1])
            return
        self.advance(self.next_timer_s())


async def play(world: World, max_moves: int) -> None:
    """Run the runner under `world`'s driver: up to `max_moves` drawn moves, then the drain to its exit."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(world.run_runner)
        try:
            await _drive(world, max_moves)
        except BaseException:
            # The runner's shielded cleanup would wait for a clock nobody moves any more: let it run out.
            world.mock.autojump_threshold = 0
            raise
    world.check_end()


async def _warm_up(world: World) -> None:
    """The overlap world starts from a live ladder: its start's requests are answered `ok`, its events
    delivered and its timers run, without a draw, so the drawn moves all go to re-pricing resting orders
    (which an overlap needs; from a cold start most examples never got there)."""
    for _ in range(40):
        await trio.testing.wait_all_tasks_blocked()
        if not world.running:
            return
        world.check_step()
        slots = world.runner.manager.slots
        if slots and all(o.state is OrderState.LIVE for o in slots.values()) and not world.rest.pending:
            return
        while world.queue:
            world.deliver(world.queue.popleft()[1])
        pending = [r for r in world.rest.pending if not r.orphan]
        for req in pending:
            if req in world.rest.pending:
                world.rest.answer(req, "ok")
        if not pending:
            dt = world.next_timer_s()
            if not math.isfinite(dt):
                return
            world.advance(dt)


async def _drive(world: World, max_moves: int) -> None:
    if world.options.overlap_room:
        await _warm_up(world)
    for _ in range(max_moves):
        await trio.testing.wait_all_tasks_blocked()
        if not world.running:
            return
        world.check_step()
        await world.move(world.draw(st.sampled_from(world.moves()), "move"))
    world.dead_venue = world.draw(st.sampled_from((False, False, False, True)), "venue dies")
    while True:
        await trio.testing.wait_all_tasks_blocked()
        if not world.running:
            return
        world.check_step()
        world.drain_once()


_ANSWERS = ("ok", "ok", "ok", "ok", "500", "landed500", "refuse")
_OTHER_PRICES = ("0.30", "0.40", "0.47", "0.49", "0.55")
_STEPS_S = (None, None, None, 0.05, 0.3, 1.0, 2.5)  # None: to the next timer


def _unknown_order_update(n: int) -> dict[str, Any]:
    """A user-channel UPDATE for an order of our market that no cache knows (what a storm is made of)."""
    return {
        "event_type": "order", "type": "UPDATE", "id": f"0x{0xbad000 + n:064x}", "owner": _OWNER,
        "market": _CONDITION_ID, "asset_id": _UP, "side": "BUY", "price": "0.45", "original_size": "5",
        "size_matched": "5", "status": "MATCHED", "order_type": "GTC", "timestamp": "1800000000000",
    }


class _TrioUnixClock:
    """The runner's `VenueClock`: unix seconds = `EPOCH_S` + Trio time."""

    epoch_offset_s = EPOCH_S

    def now_s(self) -> float:
        return EPOCH_S + trio.current_time()

    def to_trio(self, unix_s: float) -> float:
        return unix_s - EPOCH_S

    async def sleep_until_s(self, unix_s: float) -> None:
        await trio.sleep_until(unix_s - EPOCH_S)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise PropertyFailure(message)


def _our_fills(trades: list[dict[str, Any]], owner: str) -> dict[tuple[str, str], float]:
    """(trade id, order id) -> shares of every execution of ours the venue made (FAILED ones excluded)."""
    fills: dict[tuple[str, str], float] = {}
    for trade in trades:
        if trade.get("status") == "FAILED":
            continue
        if trade.get("trader_side") == "TAKER" and trade.get("owner") == owner:
            legs = [float(m["matched_amount"]) for m in trade.get("maker_orders") or ()]
            fills[(trade["id"], trade["taker_order_id"])] = sum(legs) if legs else float(trade["size"])
        for leg in trade.get("maker_orders") or ():
            if leg.get("owner") == owner:
                fills[(trade["id"], leg["order_id"])] = float(leg["matched_amount"])
    return fills


