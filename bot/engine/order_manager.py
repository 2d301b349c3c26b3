"""The order manager: a cache of our orders keyed by `(token_id, level)`, diffed against the desired ladder.

Guarantees:
- A level never has two orders that are not being cancelled, and never more than one replacement in flight
  beside its predecessor. A re-price (`sync`) is concurrent where the settings allow (`concurrent_reprice`):
  the DELETE leaves first, before any per-order bookkeeping; the new orders are signed while it is in
  flight, and the orders it names turn `cancelling` once the POST was written (at the DELETE's write when
  nothing is posted), always before the DELETE's answer is applied; new levels on free slots and the
  replacements that fit the overlap caps are posted at once, their predecessors moving to `retiring` until
  their cancel is answered; the other replacements wait for that answer. While a predecessor may still
  fill, both count against the caps (`OverlapCaps`: the market's notional and each token's open shares, in
  micro-units) and in every view of our open orders (`open_orders`: the strategy's resting orders, the
  account's commitments, the cancel-all, the reconciliation). A retiring order whose cancel failed is
  cancelled again, never re-posted; a level with a retiring order gets no second overlap. With
  `concurrent_reprice` off: cancel, await its answer, then post on the levels it freed.
- An order's id (its EIP-712 hash) and its `(token, level)` are recorded **before** its POST leaves, so a
  WS event that beats the response, or a POST that timed out, still maps to the level.
- An order whose POST outcome is unknown is `unknown` (a state of the order machine) and blocks its level
  until a WS event, the venue's listing or reconciliation settles it; it is never posted again.
- Every change is stamped with a sequence number (`seq`, `changed_seq`), so a reconciliation judges only
  orders that did not change after its snapshot was requested.
- Never more than `ladder_levels` open orders per token are created by a diff: posts for a token are
  limited to the room left after its open orders.
- Expected rejects (post-only would cross, ...) are not failures; every unexpected one is reported to the
  failure backoff through `on_failure`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import trio

from bot.engine.gateway import CancelOutcome, PostOutcome, PostOutcomeKind, VenueGateway
from bot.engine.illegal import IllegalTransition, report_illegal
from bot.engine.strategy import Ladder, Quote, params_from_settings
from bot.protocol.money import notional_micro, tick_grid
from statemachines.order import ORDER_ALLOWED, Order, OrderState, OrderTrigger

__all__ = ["ManagerParams", "OrderManager", "OverlapCaps", "SyncReport"]

log = logging.getLogger(__name__)

_PERCENT = 100


@dataclass(frozen=True, slots=True)
class ManagerParams:
    ladder_levels: int
    reprice_ticks: int
    resize_pct: float
    max_post_batch: int
    max_cancel_batch: int
    cancel_retry_s: float
    gtd_at_cutoff: bool
    concurrent_reprice: bool = False

    @classmethod
    def from_settings(cls, settings: object) -> ManagerParams:
        return params_from_settings(cls, settings)


@dataclass(frozen=True, slots=True)
class OverlapCaps:
    """How far a re-price may reach while old orders are still being cancelled (both count until confirmed).

    `notional_micro`: pUSD × 10⁶ our open BUYs of this market may hold (the market's cap, or the account's
    budget if lower, minus the inventory's cost). `open_shares_micro`: per token, the shares × 10⁶ our open
    BUYs may hold so that every one of them filling keeps the token's unpaired excess within
    `max_unpaired_shares`. A token not named allows no overlap.
    """

    notional_micro: int
    open_shares_micro: Mapping[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class SyncReport:
    """What one diff did, for metrics and tests.

    `first_request_at_s`: the clock's time (unix s) as the first request was started. `quotes_sent_at`: trio
    time once the first POST of new orders was written (after signing); None if none was sent.
    """

    cancels_sent: int = 0
    posts_sent: int = 0
    accepted: int = 0
    expected_rejects: int = 0
    unexpected_failures: int = 0
    outcome_unknown: int = 0
    overlapped: int = 0  # replacements posted while their predecessor's cancel was in flight
    first_request_at_s: float | None = None
    quotes_sent_at: float | None = None

    def quotes_sent(self) -> None:
        """The gateway's `on_sent` for a POST of new quotes: the first one written sets `quotes_sent_at`."""
        if self.quotes_sent_at is None:
            self.quotes_sent_at = trio.current_time()


class OrderManager:
    """Diffs desired quotes against our open orders and executes the difference in batches."""

    def __init__(
        self,
        *,
        condition_id: str,
        params: ManagerParams,
        gateway: VenueGateway,
        clock_s: Callable[[], float],
        journal: object,
        on_failure: Callable[[PostOutcome | None], None],
        on_success: Callable[[], None],
        on_transition: Callable[[Order, OrderState, str], None] | None = None,
        may_post: Callable[[], bool] = lambda: True,
        account_room: Callable[[], int | None] = lambda: None,
    ) -> None:
        self.condition_id = condition_id
        # pUSD × 10⁶ the whole account may still commit, counted now (None: no account-wide cap). Asked
        # where new orders are registered, with no await between the answer and the registration.
        self._account_room = account_room
        self._p = params
        self._gateway = gateway
        self._clock_s = clock_s
        self._journal = journal
        self._on_failure = on_failure
        self._on_success = on_success
        self._on_transition = on_transition
        # False while the market is backing off: a diff whose cancels failed posts nothing after them.
        self._may_post = may_post
        self.slots: dict[tuple[str, int], Order] = {}
        # Predecessors of replacements posted beside their cancel, until it is answered: off their slot,
        # still open (in `by_id` and `open_orders`), never re-posted; cancelled again if their cancel failed.
        self.retiring: dict[str, Order] = {}
        self.by_id: dict[str, Order] = {}
        # The orders of `by_id` not yet seen terminal, in `by_id`'s order: `open_orders` reads this on
        # every tick instead of scanning every order the market placed. Terminal is absorbing, so an
        # order dropped here (by `transition`, once terminal) never has to come back.
        self._open: dict[str, Order] = {}
        # The ids of orders in state `unknown` (an index kept by `transition`, not a state of its own).
        self.unknown_outcome: set[str] = set()
        # Orders the venue reported matched (in part): until the inventory holds their fills, the matched
        # size is on its way (`matched_ahead`).
        self._matched: dict[str, None] = {}  # a set kept in insertion order: the views it feeds are deterministic
        # A counter bumped by every creation and state change; `changed_seq[id]` is the order's last.
        self.seq = 0
        self.changed_seq: dict[str, int] = {}
        self._cancel_sent_at: dict[str, float] = {}
        # (quotes, tick size, seq) of the last plan that found nothing to do with no cancel awaiting a
        # re-send: the same inputs give the same empty plan (only a re-send's pause depends on the time).
        self._idle_plan: tuple[tuple[Quote, ...], str | None, int] | None = None
        self.counts = {
            "posted": 0,
            "accepted": 0,
            "rejected_expected": 0,
            "rejected_unexpected": 0,
            "outcome_unknown": 0,
            "cancels_sent": 0,
            "overlapped": 0,  # replacements posted while their predecessor's cancel was in flight
            "account_cap_trimmed": 0,  # quotes left out where registered: the account-wide cap was reached
            "cancelled": 0,
            "filled": 0,
        }

    # --- views ---------------------------------------------------------------------------------
    def open_orders(self) -> list[Order]:
        # Filtered too: an order changed outside `transition` (a test's direct trigger) stays exact.
        return [o for o in self._open.values() if o.is_open]

    def open_count(self, token_id: str) -> int:
        # Ladder orders live in `slots` until terminal, so the slots (at most 2 x ladder_levels) are the
        # whole answer; scanning `by_id` would grow with every order the market ever placed.
        return sum(1 for (t, _), o in self.slots.items() if t == token_id and o.is_open)

    def live_ladder(self, token_id: str) -> list[Order]:
        return sorted(
            (o for (t, _), o in self.slots.items() if t == token_id and o.is_open),
            key=lambda o: o.level if o.level is not None else -1,
        )

    # --- state changes -------------------------------------------------------------------------
    @staticmethod
    def allows(order: Order, trigger: OrderTrigger) -> bool:
        """Whether the table allows `trigger` from the order's state (ask before an optional event)."""
        return (order.state, trigger) in ORDER_ALLOWED

    def touch(self, order: Order) -> None:
        """Stamp a change of `order` (created, request sent, event applied)."""
        self.seq += 1
        self.changed_seq[order.order_id] = self.seq

    def changed_since(self, order_id: str, seq: int) -> bool:
        return self.changed_seq.get(order_id, 0) > seq

    def register(self, order: Order) -> None:
        """Record a new order of ours before its POST leaves (its id is its hash)."""
        self.by_id[order.order_id] = order
        if order.is_open:
            self._open[order.order_id] = order
        if order.matched_micro:
            self._matched[order.order_id] = None
        self.touch(order)

    def transition(self, order: Order, trigger: OrderTrigger, *, reason: str, matched_micro: int | None = None) -> bool:
        """Apply a trigger; log, journal and report. Returns True if applied.

        `matched_micro` is the venue's cumulative matched size in micro-shares (see `Order.trigger`).

        A trigger the table refuses is loud (`report_illegal`: WARNING and a metric, an exception in
        tests): callers whose event may legitimately not apply ask `allows` first."""
        before = order.state
        self.touch(order)
        try:
            order.trigger(trigger, matched_micro=matched_micro, reason=reason, at_s=self._clock_s())
        except IllegalTransition as exc:
            report_illegal(exc, reason)
            return False
        if order.matched_micro:
            self._matched[order.order_id] = None
        if order.state is OrderState.UNKNOWN:
            self.unknown_outcome.add(order.order_id)
        else:
            self.unknown_outcome.discard(order.order_id)
        if order.state is not before:
            self._journal.write(  # type: ignore[attr-defined]
                "transition", order_id=order.order_id, token_id=order.token_id, level=order.level,
                src=before.value, trigger=trigger.value, dst=order.state.value, reason=reason,
                matched=order.matched_shares,
            )
            if order.state is OrderState.CANCELLED:
                self.counts["cancelled"] += 1
            elif order.state is OrderState.FILLED:
                self.counts["filled"] += 1
            if self._on_transition is not None:
                self._on_transition(order, before, reason)
        if order.is_terminal:
            self._cancel_sent_at.pop(order.order_id, None)
            self._open.pop(order.order_id, None)
            self._free_slot(order)
        return True

    def matched_ahead(self, held_on: Callable[[str], int]) -> list[tuple[Order, int]]:
        """(order, micro-shares) the venue reported matched beyond what the inventory holds of its fills
        (`held_on(order_id)`): the order update came before its trade. Those shares are bought; the caps
        count them as held until the trade arrives. A terminal order whose fills are all held is dropped."""
        ahead: list[tuple[Order, int]] = []
        for oid in list(self._matched):
            order = self.by_id.get(oid)
            extra = 0 if order is None else order.matched_micro - held_on(oid)
            if extra > 0:
                ahead.append((order, extra))  # type: ignore[arg-type]
            elif order is None or order.is_terminal:
                del self._matched[oid]
        return ahead

    def _free_slot(self, order: Order) -> None:
        self.retiring.pop(order.order_id, None)
        if order.level is None:
            return
        key = (order.token_id, order.level)
        if self.slots.get(key) is order:
            del self.slots[key]

    def adopt(self, order: Order) -> None:
        """Put an order found on the venue (seeding) into the cache; it must be on a free level."""
        self.register(order)
        if order.level is not None:
            self.slots[(order.token_id, order.level)] = order

    def forget_terminal(self, keep_s: float) -> None:
        """Drop terminal orders older than `keep_s` so the id map stays bounded over long runs."""
        cutoff = self._clock_s() - keep_s
        for oid in [oid for oid, o in self.by_id.items() if o.is_terminal and o.updated_at_s < cutoff]:
            del self.by_id[oid]
            self._open.pop(oid, None)
            self.changed_seq.pop(oid, None)
            if oid in self._matched:  # its matched size leaves the views (`matched_ahead`): a change
                del self._matched[oid]
                self.seq += 1

    # --- the diff --------------------------------------------------------------------------------
    def plan(self, ladder: Ladder, tick_size: str | None) -> tuple[list[Order], list[Quote]]:
        """(orders to cancel, quotes to post) for this ladder. Pure: changes nothing (but a memo)."""
        idle = self._idle_plan
        if idle is not None and idle[2] == self.seq and idle[1] == tick_size and idle[0] == ladder.quotes:
            return [], []
        desired = {(q.token_id, q.level): q for q in ladder.quotes}
        tick_micro = tick_grid(tick_size).tick_micro if tick_size else None
        now = self._clock_s()
        cancels: list[Order] = []
        cancelling = False
        for key, order in self.slots.items():
            if not order.is_open:
                continue
            if order.state is OrderState.CANCELLING:
                cancelling = True
                # Re-send a cancel whose answer was lost or failed, after a pause.
                sent = self._cancel_sent_at.get(order.order_id)
                if sent is None or now - sent >= self._p.cancel_retry_s:
                    cancels.append(order)
                continue
            if order.state in (OrderState.PENDING, OrderState.UNKNOWN):
                continue  # in flight or outcome unknown: decided by WS or reconciliation
            quote = desired.get(key)
            if quote is None or self._needs_replace(order, quote, tick_micro):
                cancels.append(order)
        # Orders without a level (seeded extras) are never desired.
        cancels.extend(o for o in self._open.values() if o.level is None and o.state is OrderState.LIVE)
        # Nor is a retiring order, whose replacement holds its level: cancelled again if its cancel was
        # refused (back to `live`), re-sent after a pause if its answer was lost.
        for order in self.retiring.values():
            if order.state is OrderState.LIVE:
                cancels.append(order)
            elif order.state is OrderState.CANCELLING:
                cancelling = True
                sent = self._cancel_sent_at.get(order.order_id)
                if sent is None or now - sent >= self._p.cancel_retry_s:
                    cancels.append(order)

        room: dict[str, int] = {}
        for q in ladder.quotes:
            if q.token_id not in room:
                room[q.token_id] = self._p.ladder_levels - self.open_count(q.token_id)
        posts: list[Quote] = []
        for q in ladder.quotes:
            if (q.token_id, q.level) in self.slots:
                continue
            if room[q.token_id] <= 0:
                continue
            room[q.token_id] -= 1
            posts.append(q)
        self._idle_plan = None if cancels or posts or cancelling else (ladder.quotes, tick_size, self.seq)
        return cancels, posts

    def _needs_replace(self, order: Order, quote: Quote, tick_micro: int | None) -> bool:
        """Moved more than `reprice_ticks` ticks, or the remaining size drifted more than `resize_pct` %.

        In integers: |Δprice| > reprice_ticks × tick and |Δsize| × 100 > resize_pct × size, so a move of
        exactly the bound keeps the order (no epsilon needed)."""
        moved_micro = abs(order.price_micro - quote.price_micro)
        if tick_micro is not None:
            if moved_micro > self._p.reprice_ticks * tick_micro:
                return True
        elif moved_micro:
            return True
        remaining = max(order.size_micro - order.matched_micro, 0)
        return abs(remaining - quote.size_micro) * _PERCENT > self._p.resize_pct * quote.size_micro

    async def sync(
        self,
        ladder: Ladder,
        *,
        tick_size: str | None,
        neg_risk: bool,
        expiration_s: int,
        report: SyncReport | None = None,
        caps: OverlapCaps | Callable[[], OverlapCaps] | None = None,
    ) -> SyncReport:
        """Cancel what is not desired and post what is missing (the order: see the module docstring).

        `caps` (or a function giving them, asked only when a replacement could overlap) bound the overlap
        of replacements with their predecessors' cancel; None: no replacement overlaps."""
        report = report or SyncReport()
        cancels, posts = self.plan(ladder, tick_size)
        if cancels and self._p.concurrent_reprice:
            await self._concurrent(cancels, posts, ladder, tick_size, neg_risk, expiration_s, report, caps)
            _, posts = self.plan(ladder, tick_size)  # the replacements that waited for their cancel's answer
        elif cancels:
            await self.cancel(cancels, reason="not_desired", report=report)
            _, posts = self.plan(ladder, tick_size)  # the levels the cancels freed
        # (No cancels: nothing ran in between, so the first plan's posts are the second's.)
        if posts and tick_size is not None and self._may_post():
            await self._post(posts, tick_size=tick_size, neg_risk=neg_risk, expiration_s=expiration_s, report=report)
        return report

    async def _concurrent(
        self, cancels: list[Order], posts: list[Quote], ladder: Ladder, tick_size: str | None, neg_risk: bool,
        expiration_s: int, report: SyncReport, caps: OverlapCaps | Callable[[], OverlapCaps] | None,
    ) -> None:
        """The DELETE first; beside it, once written, the posts on free levels and the overlapping replacements."""
        may_post = tick_size is not None and self._may_post()
        overlap: list[Quote] = []
        if may_post and caps is not None:
            overlap = self._overlap(cancels, ladder, posts, caps() if callable(caps) else caps)
        targets = [o for o in cancels if o.is_open]
        ids = [o.order_id for o in targets]
        for quote in overlap:
            predecessor = self.slots.pop((quote.token_id, quote.level))
            self.retiring[predecessor.order_id] = predecessor
            self.touch(predecessor)  # the strategy's resting view tells retiring orders apart
        now_posts = sorted([*posts, *overlap], key=lambda q: (q.token_id, q.level)) if may_post else []
        report.overlapped += len(overlap)
        self.counts["overlapped"] += len(overlap)
        if not ids:  # nothing left open to cancel (cannot happen from `plan`, which lists open orders)
            if now_posts:
                await self._post(now_posts, tick_size=tick_size,  # type: ignore[arg-type]
                                 neg_risk=neg_risk, expiration_s=expiration_s, report=report)
            return
        marked = False

        def mark() -> None:
            # The orders the DELETE names turn `cancelling` (a transition and a journal line each, ~25 µs):
            # after it was written, never before it, and before its answer is applied.
            nonlocal marked
            if not marked:
                marked = True
                self._mark_cancelling(targets, reason="not_desired", report=report)

        cancel_sent = trio.Event()

        def sent() -> None:
            cancel_sent.set()
            if not now_posts:
                mark()  # nothing to sign: marked as soon as the DELETE is written

        async with trio.open_nursery() as nursery:
            if now_posts:
                # Signing waits until the DELETE is written (or answered, on a transport that cannot tell):
                # the cancel is the first thing on the wire, the signatures fill its round trip, and the
                # marking comes once the POST is written too (`_post`'s `after_send`).
                nursery.start_soon(self._post_after, cancel_sent, now_posts, tick_size, neg_risk, expiration_s,
                                   report, mark)
            try:
                outcome = await self._gateway.cancel_ids(ids, on_sent=sent)
            finally:
                cancel_sent.set()
                # Unless the posting task marked them already: the posts were left out, they have not
                # signed yet (a fast answer), or the call failed (the DELETE may have left all the same).
                mark()
            self.apply_cancel_outcome(outcome)

    def _overlap(self, cancels: list[Order], ladder: Ladder, posts: list[Quote], caps: OverlapCaps) -> list[Quote]:
        """The replacements to post beside their predecessor's cancel: lowest levels first, within `caps`.

        Counts every open BUY of ours (slots, retiring, level-less), the free-level posts about to go out
        and each replacement taken; a predecessor keeps counting until its cancel is confirmed. A level whose
        older order is still retiring gets no second overlap (its replacement waits for the answer)."""
        desired = {(q.token_id, q.level): q for q in ladder.quotes}
        busy = {(o.token_id, o.level) for o in self.retiring.values()}
        candidates = sorted(
            (o for o in cancels if o.state is OrderState.LIVE and o.level is not None
             and self.slots.get((o.token_id, o.level)) is o and (o.token_id, o.level) in desired
             and (o.token_id, o.level) not in busy),
            key=lambda o: (o.level, o.token_id),
        )
        if not candidates:
            return []
        notional = 0
        shares: dict[str, int] = {}
        for order in self._open.values():
            if order.is_open and order.side == "BUY":
                remaining = order.remaining_micro
                notional += notional_micro(remaining, order.price_micro)
                shares[order.token_id] = shares.get(order.token_id, 0) + remaining
        for q in posts:
            notional += notional_micro(q.size_micro, q.price_micro)
            shares[q.token_id] = shares.get(q.token_id, 0) + q.size_micro
        chosen: list[Quote] = []
        for order in candidates:
            quote = desired[(order.token_id, order.level)]  # type: ignore[index]
            cost = notional_micro(quote.size_micro, quote.price_micro)
            held = shares.get(quote.token_id, 0)
            if notional + cost > caps.notional_micro or held + quote.size_micro > caps.open_shares_micro.get(
                quote.token_id, 0
            ):
                continue
            notional += cost
            shares[quote.token_id] = held + quote.size_micro
            chosen.append(quote)
        return chosen

    # --- execution ---------------------------------------------------------------------------------
    async def cancel(self, orders: Iterable[Order], *, reason: str, report: SyncReport | None = None) -> CancelOutcome | None:
        """Cancel by id in batches; pending orders go to `cancelling` too (their id is their hash)."""
        ids = self._mark_cancelling(orders, reason=reason, report=report)
        if not ids:
            return None
        outcome = await self._gateway.cancel_ids(ids)
        self.apply_cancel_outcome(outcome)
        return outcome

    def _mark_cancelling(self, orders: Iterable[Order], *, reason: str, report: SyncReport | None) -> list[str]:
        """Mark the open ones of `orders` as being cancelled now; their ids, for the DELETE."""
        targets = [o for o in orders if o.is_open]
        if not targets:
            return []
        now = self._clock_s()
        for order in targets:
            self.request_cancel(order, reason)
            self._cancel_sent_at[order.order_id] = now
        ids = [o.order_id for o in targets]
        self.counts["cancels_sent"] += len(ids)
        if report is not None:
            report.cancels_sent += len(ids)
            if report.first_request_at_s is None:
                report.first_request_at_s = now
        return ids

    async def _post_after(
        self, cancel_sent: trio.Event, quotes: list[Quote], tick_size: str, neg_risk: bool, expiration_s: int,
        report: SyncReport, after_send: Callable[[], None],
    ) -> None:
        """The posts of a concurrent re-price, once its cancel is on the wire."""
        await cancel_sent.wait()
        await self._post(quotes, tick_size=tick_size, neg_risk=neg_risk, expiration_s=expiration_s, report=report,
                         after_send=after_send)

    def request_cancel(self, order: Order, reason: str) -> None:
        """Mark an open order as being cancelled (an `unknown` one stays unknown; see the machine)."""
        if order.state is OrderState.CANCELLING:
            self.touch(order)
        else:
            self.transition(order, OrderTrigger.CANCEL_REQUESTED, reason=reason)

    def apply_cancel_outcome(self, outcome: CancelOutcome) -> None:
        for oid in outcome.canceled:
            order = self.by_id.get(oid)
            if order is not None and self.allows(order, OrderTrigger.CANCEL_CONFIRMED):
                self.transition(order, OrderTrigger.CANCEL_CONFIRMED, reason="canceled")
        for oid, why in outcome.done.items():
            # Already matched or cancelled on the venue: terminal either way. A fill, if any, is
            # counted from its trade event; the state records the likelier end.
            order = self.by_id.get(oid)
            if order is None or order.is_terminal:
                continue
            if order.matched_micro >= order.size_micro:
                self.transition(order, OrderTrigger.FILLED, reason=why)
            else:
                self.transition(order, OrderTrigger.VENUE_CANCELLED, reason=why)
        for oid, why in outcome.not_found.items():
            order = self.by_id.get(oid)
            if order is None or order.is_terminal:
                continue
            if order.state is OrderState.UNKNOWN:
                # Never landed (or landed and ended): reconciliation decides after the settle bound.
                continue
            self.transition(order, OrderTrigger.VENUE_CANCELLED, reason=why)
        for oid, why in outcome.failed.items():
            order = self.by_id.get(oid)
            if order is not None and self.allows(order, OrderTrigger.CANCEL_FAILED):
                self.transition(order, OrderTrigger.CANCEL_FAILED, reason=why)
                self._on_failure(None)
        if outcome.unknown:
            # The request's fate is unknown: orders stay `cancelling` and the cancel is re-sent.
            self._on_failure(None)

    async def _post(
        self, quotes: list[Quote], *, tick_size: str, neg_risk: bool, expiration_s: int, report: SyncReport,
        after_send: Callable[[], None] | None = None,
    ) -> None:
        """Sign `quotes` that fit the account's room, register them, POST them; `after_send` is called once,
        when the first POST was written (in memory: when it ended), or at once if no quote fits."""
        now = self._clock_s()
        order_type = "GTD" if self._p.gtd_at_cutoff and expiration_s > 0 else "GTC"
        expiration = expiration_s if order_type == "GTD" else 0
        quotes = self._within_account_room(quotes)
        if not quotes:
            if after_send is not None:
                after_send()
            return
        signed = []
        for q in quotes:
            so = self._gateway.sign_buy(token_id=q.token_id, price_ticks=q.price_ticks, size_micro=q.size_micro,
                                        tick_size=q.tick_size, neg_risk=neg_risk, expiration_s=expiration)
            order = Order(so.order_id, q.token_id, side="BUY", price_micro=q.price_micro, size_micro=q.size_micro,
                          order_type=order_type, created_at_s=now, level=q.level)
            # Recorded before the POST leaves: a WS event or a timeout still maps to the level.
            self.register(order)
            self.slots[(q.token_id, q.level)] = order
            signed.append((order, so))
        self.counts["posted"] += len(signed)
        report.posts_sent += len(signed)
        if report.first_request_at_s is None:
            report.first_request_at_s = now
        on_sent = report.quotes_sent
        if after_send is not None:
            def on_sent() -> None:
                report.quotes_sent()
                after_send()
        for start in range(0, len(signed), self._p.max_post_batch):
            chunk = signed[start : start + self._p.max_post_batch]
            outcomes = await self._gateway.post_orders(
                [so for _, so in chunk], order_type=order_type, post_only=True, on_sent=on_sent
            )
            on_sent = report.quotes_sent
            for (order, _), outcome in zip(chunk, outcomes, strict=True):
                self.apply_post_outcome(order, outcome, report)

    def _within_account_room(self, quotes: list[Quote]) -> list[Quote]:
        """The quotes that fit the account-wide cap as it stands now, top levels first (level by level
        across the tokens; a token whose level does not fit gets none deeper).

        The ladder was sized against the account's budget when the tick began; another market may have
        posted since (while this one awaited its cancel's answer, or in the same instant of a fake
        clock). Checked here, and registered before any other task runs, the sum over every market
        never exceeds the cap. A quote left out leaves its level empty until a later tick finds room."""
        room = self._account_room()
        if room is None:
            return quotes
        kept: set[int] = set()
        full: set[str] = set()  # tokens whose next level did not fit: nothing deeper (no gap in a ladder)
        for index, q in sorted(enumerate(quotes), key=lambda iq: (iq[1].level, iq[1].token_id)):
            cost = notional_micro(q.size_micro, q.price_micro)
            if q.token_id in full:
                continue
            if cost <= room:
                room -= cost
                kept.add(index)
            else:
                full.add(q.token_id)
        if len(kept) == len(quotes):
            return quotes
        self.counts["account_cap_trimmed"] += len(quotes) - len(kept)
        log.info("%s: %d of %d quotes left out: the account-wide cap (max_total_notional_pusd) is reached",
                 self.condition_id[:10], len(quotes) - len(kept), len(quotes))
        return [q for index, q in enumerate(quotes) if index in kept]

    def apply_post_outcome(self, order: Order, outcome: PostOutcome, report: SyncReport | None = None) -> None:
        kind = outcome.kind
        if kind is PostOutcomeKind.LIVE:
            self.counts["accepted"] += 1
            self.transition(order, OrderTrigger.ACCEPTED, reason="live")
            self._on_success()
            if report:
                report.accepted += 1
        elif kind is PostOutcomeKind.MATCHED:
            self.counts["accepted"] += 1
            # Fill sizes come from the trade and order events; the order is at least live.
            self.transition(order, OrderTrigger.ACCEPTED, reason="matched")
            self._on_success()
            if report:
                report.accepted += 1
        elif kind is PostOutcomeKind.DELAYED:
            self.counts["accepted"] += 1
            if order.state is OrderState.PENDING:  # a WS event may already have settled it
                self.transition(order, OrderTrigger.OUTCOME_UNKNOWN, reason="delayed")
        elif kind is PostOutcomeKind.EXPECTED_REJECT:
            self.counts["rejected_expected"] += 1
            if self.allows(order, OrderTrigger.REJECTED_EXPECTED):  # a verified cancel-all may have ended it
                self.transition(order, OrderTrigger.REJECTED_EXPECTED, reason=outcome.message)
            if report:
                report.expected_rejects += 1
        elif kind is PostOutcomeKind.UNKNOWN:
            self.counts["outcome_unknown"] += 1
            # Only while still pending: an order a WS event already settled (live, filled) has a
            # known fate, and left in the set it would ask for a reconciliation on every tick.
            if order.state is OrderState.PENDING:
                self.transition(order, OrderTrigger.OUTCOME_UNKNOWN, reason=outcome.message or "unknown")
            self._on_failure(outcome)
            if report:
                report.outcome_unknown += 1
        else:  # REJECTED, THROTTLED, FATAL: the order did not land
            self.counts["rejected_unexpected"] += 1
            if self.allows(order, OrderTrigger.REJECTED):
                self.transition(order, OrderTrigger.REJECTED, reason=outcome.message)
            self._on_failure(outcome)
            if report:
                report.unexpected_failures += 1

    def statistics(self) -> dict[str, int]:
        return {**self.counts, "open": len(self.open_orders()), "unknown_outcome": len(self.unknown_outcome)}

    def __repr__(self) -> str:
        return f"<OrderManager {self.condition_id[:10]} open={len(self.open_orders())} posted={self.counts['posted']}>"
