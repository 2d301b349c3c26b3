"""The supervisor: one API key's markets, heartbeat, shared streams, rollover and the way out.

Guarantees:
- One nursery per market under the supervisor's markets nursery: a market that fails (crash, storm,
  fatal error) runs its own shielded cancel-all and stops **without** taking the others down.
- Account-level failures (heartbeat lapse, auth refused) stop every market through the same path.
- A stop request (signal, `--duration`, `--markets N` reached) records the reason on every runner, then
  cancels the markets nursery: each runner's shielded cancel-all runs before `run()` returns.
- A journal that cannot be written stops every market (`journal_failed`); their cancel-alls never need it.
- When a market's cancel-all cannot verify, every market stops and the key's heartbeat is stopped on
  purpose: the venue's dead-man switch then cancels every order of the key. The supervisor waits out
  the sweep (`heartbeat_sweep_wait_s`), lists the key's orders once more, and reports
  `cancel_all_unverified` (exit code 11).
- The overall exit reason is the most severe of the stop reason and every market's (`most_severe`).
- With `BOT_MARKET=auto` it keeps discovering each series' next windows and starts each market's runner
  `rollover_lead_s` before its window opens; overlapping markets run side by side. A single market
  (`BOT_MARKET=<condition id>` or a slug) or a fixed list stops the bot (MARKET_END) once it has ended.
- Every task it starts runs under `_guarded`, the scheduler included: a bug anywhere stops every market
  as a CRASH through its cancel-all. Discovery trouble (`DiscoveryError`) is retried with capped
  backoff and never reaches a running market.
- The reason it reports is the most severe of every stop it was asked for and every market's own exit
  (`bot.exit_codes.most_severe`): a market's crash is not hidden by a later signal or `--duration`.
- Finished markets keep a summary each (for the final summary); only the last few keep their runner.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import trio

from bot.engine.clock import VenueClock, check_clock_skew
from bot.engine.discovery import DiscoveryError, GammaClient
from bot.engine.dry_run import DryRunGateway
from bot.engine.feeds import MarketDataHub, UserEventHub
from bot.engine.gateway import VenueGateway
from bot.engine.market import MarketRunner
from bot.engine.market_selection import Selection, SelectionParams, rank_markets
from bot.engine.markets import MarketInfo
from bot.engine.our_markets import SeriesPlan, our_series, series_plan, window_source
from bot.engine.wait_reasons import WaitReasons
from bot.exit_codes import most_severe
from bot.protocol.auth import ApiCreds
from bot.protocol.errors import VenueError
from bot.protocol.heartbeat import Heartbeat
from bot.protocol.money import micro_from_float
from bot.protocol.rest import ClobRestClient
from bot.protocol.signing import OrderSigner
from bot.protocol.ws import Connector, MarketStream, UserStream
from settings import BotSettings
from statemachines.market import ExitReason

__all__ = ["Supervisor", "VenueLinks"]

log = logging.getLogger(__name__)

# How often the rollover scheduler looks for the next windows. Windows are minutes long and the
# lead is tens of seconds, so a few seconds' resolution starts every runner in time.
_DISCOVERY_PERIOD_S = 2.0
# Reconciliations after a user-channel reconnect are spread this far apart across markets, in at most
# this many slots (100 markets: over one second).
_RESYNC_SPACING_S = 0.01
_RESYNC_SLOTS = 100
# With nothing due, look again at least this often (new series windows, a re-listed market).
_DISCOVERY_IDLE_MAX_S = 60.0
_DISCOVERY_MIN_SLEEP_S = 0.05
# Discovery retries (Gamma unreachable or answering garbage) back off up to this: a window's runner
# starts `rollover_lead_s` early, so a few tens of seconds late is still in time for its cutoff.
_DISCOVERY_BACKOFF_MAX_S = 30.0
# Finished markets keep their runner (for inspection, tests, the fault matrix) only this many at a time;
# older ones keep just their summary, so a long series run holds no runner per market it ever traded.
_FINISHED_RUNNERS_KEPT = 8
# A reason for waiting (no market listed, next window not open yet) is logged once, then this often.
_WAIT_REPEAT_S = 60.0
# A window not listed yet is normal for a few seconds (Gamma/CLOB hydration); longer, it is logged.
_UNLISTED_GRACE_S = 10.0


@dataclass(frozen=True, slots=True)
class VenueLinks:
    """Where the venue is, and the transport seams (in-process simulator in tests)."""

    rest_url: str
    ws_market_url: str
    ws_user_url: str
    gamma_url: str | None
    http_transport: httpx.AsyncBaseTransport | None = None
    gamma_transport: httpx.AsyncBaseTransport | None = None
    ws_connector: Connector | None = None
    # Placements and cancels over the order lane: None = only without `http_transport` (see ClobRestClient).
    order_lane: bool | None = None


@dataclass(slots=True)
class MarketRecord:
    """One market the supervisor started; once finished, its summary (and, for a while, its runner)."""

    info: MarketInfo
    runner: MarketRunner | None
    reason: ExitReason | None = None
    finished_at_s: float | None = None
    summary: dict[str, Any] | None = None


def _window_minutes(info: MarketInfo) -> float:
    """The series' nominal window (`…-updown-15m-…`), else the window's own length."""
    for part in info.slug.split("-"):
        if part.endswith("m") and part[:-1].isdigit():
            return float(part[:-1])
    return max(1.0, (info.end_s - info.start_s) / 60.0)


@dataclass(slots=True)
class SupervisorStats:
    markets_started: int = 0
    markets_finished: int = 0
    account_stop: str | None = None
    discovery_failures: int = 0
    records: list[MarketRecord] = field(default_factory=list)


class Supervisor:
    """Runs markets for one API key until stopped; `await run()` returns the overall exit reason."""

    def __init__(
        self,
        settings: BotSettings,
        links: VenueLinks,
        *,
        signer: OrderSigner,
        clock: VenueClock,
        journal: Any,
        creds: ApiCreds | None = None,
        markets: list[MarketInfo] | None = None,
        max_markets_total: int | None = None,
        on_runner: Callable[[MarketRunner], None] | None = None,
        dry_run: bool = False,
    ) -> None:
        self.settings = settings
        self.links = links
        self.signer = signer
        self.clock = clock
        self.journal = journal
        self.creds = creds
        self._fixed_markets = markets
        # The series this process follows: its shard's share of BOT_SERIES (all of them with one shard).
        self._series = our_series(settings)
        # Why nothing trades right now (said once, then periodically), also shown on the status screen.
        self.waits = WaitReasons(log, repeat_s=_WAIT_REPEAT_S)
        self._max_total = max_markets_total
        self._on_runner = on_runner
        self.stats = SupervisorStats()
        self.runners: dict[str, MarketRunner] = {}
        self.selections: dict[str, Selection] = {}  # series mode: why each candidate was picked or skipped
        self.heartbeat: Heartbeat | None = None
        self.market_hub: MarketDataHub | None = None
        self.user_hub: UserEventHub | None = None
        self.rest: ClobRestClient | None = None
        self._stop_reason: ExitReason | None = None
        self._stop_detail = ""
        # Every reason a stop was asked for (the first one is `_stop_reason`): a crash after a signal counts.
        self._stop_reasons: set[ExitReason] = set()
        self._finished_with_runner: deque[MarketRecord] = deque()
        # Latest window start started per series (slug without its start): no scan of every record.
        self._latest_start_s: dict[str, float] = {}
        self._markets_scope: trio.CancelScope | None = None
        self._seen: set[str] = set()
        self._ready = trio.Event()
        self.dry_run = dry_run
        # Dry run: markets get a user-event channel on which nothing ever arrives (no user stream).
        self._silent_user_send: trio.MemorySendChannel[Any] | None = None
        self._heartbeat_scope = trio.CancelScope()
        self._dead_man_wanted = False
        self.orders_left_after_sweep: int | None = None
        if getattr(journal, "on_failure", None) is None and hasattr(journal, "on_failure"):
            journal.on_failure = self._on_journal_failure

    # --- control ---------------------------------------------------------------------------------------
    def stop(self, reason: ExitReason, detail: str = "") -> None:
        """Stop every market (each through its cancel-all). The first reason is the stop reason; the
        overall reason is the most severe of all (`overall_reason`)."""
        self._stop_reasons.add(reason)
        if self._stop_reason is None:
            self._stop_reason = reason
            self._stop_detail = detail
            log.info("stopping: %s %s", reason.value, detail)
            self.journal.write("bot_stop", reason=reason.value, detail=detail)
        for runner in self.runners.values():
            runner.request_stop(reason)
        if self._markets_scope is not None:
            self._markets_scope.cancel()

    def _on_journal_failure(self, exc: OSError) -> None:
        self.stop(ExitReason.JOURNAL, f"journal write failed: {exc.strerror or exc}")

    @property
    def stop_reason(self) -> ExitReason | None:
        return self._stop_reason

    async def wait_ready(self) -> None:
        await self._ready.wait()

    # --- run ---------------------------------------------------------------------------------------------
    async def run(self) -> ExitReason:
        s = self.settings
        async with ClobRestClient(
            self.links.rest_url,
            address=self.signer.address,
            creds=self.creds,
            transport=self.links.http_transport,
            max_post_batch=s.max_post_batch,
            max_cancel_batch=s.max_cancel_batch,
            time_s=lambda: int(self.clock.now_s()),
            order_lane=self.links.order_lane if s.order_lane else False,
            order_lane_idle_s=s.order_lane_idle_s,
        ) as rest:
            self.rest = rest
            if not self.dry_run:
                # Before the first signed request: a skewed host clock turns every POLY_TIMESTAMP into a 401.
                with trio.move_on_after(s.request_timeout_s):
                    await check_clock_skew(rest.get_server_time, self.clock.now_s)
            if self.dry_run:
                # No account call at all: the owner field of the (never sent) bodies is a placeholder.
                self.creds = self.creds or ApiCreds("dry-run", "", "")
            elif self.creds is None:
                with trio.fail_after(s.request_timeout_s * 2):
                    self.creds = await rest.create_or_derive_api_key(self.signer)
                rest.use_creds(self.creds)
            gateway_cls = DryRunGateway if self.dry_run else VenueGateway
            gateway = gateway_cls(rest, self.signer, self.creds, request_timeout_s=s.request_timeout_s,
                                  journal=self.journal)
            gamma = GammaClient(self.links.gamma_url, transport=self.links.gamma_transport,
                                timeout_s=s.request_timeout_s) if self.links.gamma_url else None
            try:
                async with trio.open_nursery() as nursery:
                    if not self.dry_run:
                        self.heartbeat = Heartbeat(rest, interval_s=s.heartbeat_interval_s,
                                                   max_failures=s.heartbeat_max_failures,
                                                   beat_timeout_s=s.request_timeout_s)
                        await nursery.start(self._guarded, self._run_heartbeat)
                        await nursery.start(self._guarded, rest.keep_order_lane_warm)
                        nursery.start_soon(self._guarded, self._watch_heartbeat)
                        user_stream = UserStream(self.links.ws_user_url, self.creds, (), **self._ws_options())
                        await nursery.start(self._guarded, user_stream.run)
                        self.user_hub = UserEventHub(user_stream)
                        nursery.start_soon(self._guarded, self.user_hub.run)
                    self.market_hub = MarketDataHub(nursery, self.links.ws_market_url,
                                                    stream_factory=self._market_stream, guard=self._guarded)
                    await self._run_markets(gateway, gamma)
                    if self._dead_man_wanted:
                        await self._dead_man_sweep(gateway)
                    nursery.cancel_scope.cancel()
            finally:
                if gamma is not None:
                    with trio.move_on_after(1.0, shield=True):
                        await gamma.aclose()
        return self.overall_reason()

    async def _guarded(self, fn: Callable[..., Any], *args: Any, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Run an account-level task; if it crashes, stop every market as a CRASH (each through its
        cancel-all) before the error cancels the nursery, so no market mistakes it for a signal."""
        try:
            if task_status is trio.TASK_STATUS_IGNORED:
                await fn(*args)
            else:
                await fn(*args, task_status=task_status)
        except Exception as exc:
            self.stop(ExitReason.CRASH, f"{getattr(fn, '__qualname__', fn)}: {type(exc).__name__}: {exc}")
            raise

    async def _run_heartbeat(self, *, task_status: trio.TaskStatus[bool] = trio.TASK_STATUS_IGNORED) -> None:
        assert self.heartbeat is not None
        with self._heartbeat_scope:  # cancelled on purpose to let the venue's dead-man switch fire
            await self.heartbeat.run(task_status=task_status)

    async def _dead_man_sweep(self, gateway: VenueGateway) -> None:
        """A cancel-all could not verify: stop beating so the venue cancels every order of the key,
        wait out its sweep, then list the key's orders once more (logged; the exit code says 11)."""
        if self.heartbeat is None:
            log.error("a cancel-all did not verify and there is no heartbeat to stop (dry run)")
            return
        self._heartbeat_scope.cancel()
        wait_s = self.settings.heartbeat_sweep_wait_s
        log.critical("cancel-all not verified: heartbeat stopped on purpose; waiting %.0f s for the venue's "
                     "dead-man switch to cancel every order of the key", wait_s)
        self.journal.write("dead_man_switch", wait_s=wait_s)
        with trio.CancelScope(shield=True):
            await trio.sleep(wait_s)
            try:
                left = await gateway.open_orders(None)
            except VenueError as exc:
                log.critical("after the dead-man sweep the open-orders check failed: %s", exc)
                return
        self.orders_left_after_sweep = len(left)
        self.journal.write("dead_man_switch_checked", open_orders_left=len(left))
        # Orders that rested unseen may have filled until the sweep: count those fills from the venue.
        with trio.move_on_after(self.settings.cancel_all_timeout_s, shield=True):
            for record in self.stats.records:
                if record.runner is not None and record.runner.cancel_all_unverified:
                    await record.runner.reconciler.catch_up_fills()
        if left:
            log.critical("after the dead-man sweep the venue still lists %d open order(s) of the key", len(left))
        else:
            log.warning("after the dead-man sweep the venue lists no open order of the key")

    def _ws_options(self) -> dict[str, Any]:
        s = self.settings
        options: dict[str, Any] = {
            "ping_interval_s": s.ws_ping_interval_s,
            "dead_after_s": s.ws_dead_after_s,
            "reconnect_max_s": s.ws_reconnect_max_s,
        }
        if self.links.ws_connector is not None:
            options["connector"] = self.links.ws_connector
        return options

    def _market_stream(self, url: str, token_ids: tuple[str, ...]) -> MarketStream:
        return MarketStream(url, token_ids, **self._ws_options())

    async def _watch_heartbeat(self) -> None:
        assert self.heartbeat is not None
        await self.heartbeat.lapsed.wait()
        # The venue may already have cancelled everything of ours: stop all markets (they verify).
        self.stats.account_stop = "heartbeat lapsed"
        self.stop(ExitReason.ACCOUNT, "heartbeat lapsed")

    async def _run_markets(self, gateway: VenueGateway, gamma: GammaClient | None) -> None:
        with trio.CancelScope() as scope:
            self._markets_scope = scope
            if self._stop_reason is not None:
                scope.cancel()
            async with trio.open_nursery() as markets:
                markets.start_soon(self._guarded, self._schedule, markets, gateway, gamma)
        self._markets_scope = None

    async def _schedule(self, markets: trio.Nursery, gateway: VenueGateway, gamma: GammaClient | None) -> None:
        s = self.settings
        backoff_s = _DISCOVERY_PERIOD_S
        while True:
            if self._max_total is not None and self.stats.markets_started >= self._max_total:
                if self.stats.markets_finished >= self._max_total:
                    self.stop(ExitReason.MARKET_END, f"{self._max_total} market(s) traded")
                    return
                await trio.sleep(_DISCOVERY_PERIOD_S)
                continue
            now = self.clock.now_s()
            try:
                candidates = await self._discover(gamma, now)
                backoff_s = _DISCOVERY_PERIOD_S
                self.waits.clear("discovery")
            except DiscoveryError as exc:
                self.stats.discovery_failures += 1
                backoff_s = min(backoff_s * 2, _DISCOVERY_BACKOFF_MAX_S)
                log.warning("discovery failed (retry in %.0f s): %s", backoff_s, exc)
                self.waits.say("discovery", now, f"market discovery failing: {exc}", level=logging.DEBUG)
                await trio.sleep(backoff_s)
                continue
            next_due = now + _DISCOVERY_IDLE_MAX_S
            due: list[MarketInfo] = []
            for info in sorted(candidates, key=lambda m: m.start_s):
                if info.condition_id in self._seen:
                    continue
                cutoff = info.cutoff_s(s.quote_cutoff_s)
                if now >= cutoff or not info.accepting_orders:
                    if not self._series_mode:
                        self._seen.add(info.condition_id)
                    continue  # nothing to quote in this window any more
                if now < info.start_s - s.rollover_lead_s:
                    next_due = min(next_due, info.start_s - s.rollover_lead_s)
                    continue  # too early; a later pass starts it
                due.append(info)
            for info in self._ranked(due):  # series mode: best expected income first (market_selection)
                if len(self.runners) >= s.max_markets:
                    break
                if self._max_total is not None and self.stats.markets_started >= self._max_total:
                    break
                self._seen.add(info.condition_id)
                await self._start_market(markets, gateway, info)
            self._ready.set()
            if self._stop_if_all_ended():
                return
            if self._expecting_unlisted(now):
                # A series window should be listed but is not (Gamma/CLOB hydration): look again soon.
                next_due = min(next_due, now + _DISCOVERY_PERIOD_S)
            self._explain_wait(now, next_due)
            await self.clock.sleep_until_s(max(next_due, now + _DISCOVERY_MIN_SLEEP_S))

    def _ranked(self, due: list[MarketInfo]) -> list[MarketInfo]:
        """Series mode: the due markets by expected income, each verdict kept for the status view."""
        if not self._series_mode or not due:
            return due
        s = self.settings
        ranked = rank_markets(
            due,
            slots=max(0, s.max_markets - len(self.runners)),
            window_minutes=_window_minutes,
            params=SelectionParams(s.selection_reward_share, s.selection_fill_shares,
                                   s.selection_adverse_cost_per_share, s.min_pair_edge),
        )
        for sel in ranked:
            if self.selections.get(sel.condition_id, sel).reason != sel.reason:
                log.info("market selection %s", sel.describe())
            self.selections[sel.condition_id] = sel
        by_id = {info.condition_id: info for info in due}
        return [by_id[sel.condition_id] for sel in ranked]

    @property
    def _series_mode(self) -> bool:
        """Following recurring series (`BOT_MARKET=auto`), as opposed to one market or a fixed list."""
        return self._fixed_markets is None and self.settings.market == "auto"

    def _stop_if_all_ended(self) -> bool:
        """Outside series mode: once every configured market was seen and none runs, stop (MARKET_END)."""
        if self._series_mode or self.runners or not self._seen:
            return False
        if self._fixed_markets is not None and not self._seen >= {m.condition_id for m in self._fixed_markets}:
            return False
        self.stop(ExitReason.MARKET_END, "every configured market has ended")
        return True

    def _expecting_unlisted(self, now: float) -> bool:
        return bool(self._unlisted(now)) if self._series_mode else not self._seen

    def _unlisted(self, now: float) -> list[SeriesPlan]:
        """Series whose window due now (with the rollover lead) should be listed but has not been started."""
        s = self.settings
        missing = []
        for plan in series_plan(s, now):
            window = plan.window_s
            start = math.floor((now + s.rollover_lead_s) / window) * window
            if self._latest_start_s.get(plan.series, -math.inf) < start and now < start + window - s.quote_cutoff_s:
                missing.append(plan)
        return missing

    def _explain_wait(self, now: float, next_due: float) -> None:
        """Say why nothing trades (once, then every `_WAIT_REPEAT_S` while it lasts): no market found for a
        series (the slugs tried, the window assumed), or waiting for the next window."""
        if self._series_mode:
            missing = self._unlisted(now)
            for series in set(self._series) - {plan.series for plan in missing}:
                self.waits.clear(f"unlisted:{series}")
            for plan in missing:
                self.waits.say(
                    f"unlisted:{plan.series}", now,
                    f"no market found for series {plan.series}: tried {', '.join(plan.slugs)} (window "
                    f"{plan.window_s:g} s assumed, from {window_source(self.settings)}); looking again",
                    grace_s=_UNLISTED_GRACE_S,
                )
        if not self.runners and next_due > now + _DISCOVERY_MIN_SLEEP_S:
            self.waits.say("next-window", now,
                           f"waiting for the next window: its runner starts in {next_due - now:.0f} s",
                           level=logging.INFO)
        elif self.runners:
            self.waits.clear("next-window")

    async def _discover(self, gamma: GammaClient | None, now: float) -> list[MarketInfo]:
        s = self.settings
        if self._fixed_markets is not None:
            return list(self._fixed_markets)
        if gamma is None:
            raise RuntimeError("market discovery needs a Gamma URL")
        if s.market != "auto":
            if s.market.startswith("0x"):
                found = await gamma.market_by_condition(s.market)
                return [found] if found else []
            return await gamma.markets_by_slug([s.market])
        found: list[MarketInfo] = []
        for plan in series_plan(s, now):  # the one resolver of our markets (operator commands use it too)
            found.extend(await gamma.markets_by_slug(plan.slugs))
        return found

    async def _start_market(self, markets: trio.Nursery, gateway: VenueGateway, info: MarketInfo) -> None:
        assert self.market_hub is not None
        feed = await self.market_hub.add_market(info.token_ids)
        if self.user_hub is not None:
            user_rx = await self.user_hub.add_market(info.condition_id, info.token_ids)
        else:
            # Dry run: no user stream; a channel that stays open and silent (zero buffer: nothing is sent).
            send, user_rx = trio.open_memory_channel[Any](0)
            self._silent_user_send = send
        if isinstance(gateway, DryRunGateway):
            gateway.register_market(info.condition_id, info.token_ids)
        runner = MarketRunner(info, self.settings, gateway, books=feed, user_events=user_rx, clock=self.clock,
                              journal=self.journal, account_budget=self._account_budget)
        runner.resync_delay_s = _RESYNC_SPACING_S * (len(self.runners) % _RESYNC_SLOTS)
        self.runners[info.condition_id] = runner
        self.stats.markets_started += 1
        record = MarketRecord(info, runner)
        self.stats.records.append(record)
        series = info.slug.rsplit("-", 1)[0]
        self._latest_start_s[series] = max(self._latest_start_s.get(series, -math.inf), info.start_s)
        self.journal.write("market_start", market=info.condition_id, slug=info.slug, start_s=info.start_s,
                           end_s=info.end_s, up_token_id=info.up_token_id, down_token_id=info.down_token_id)
        if self._on_runner is not None:
            self._on_runner(runner)
        # Guarded too: the runner never raises but Cancelled, so only a bug in the bookkeeping around it can
        # land here, and it must stop the other markets as a CRASH, not cancel them as if by a signal.
        markets.start_soon(self._guarded, self._run_one, record, feed)

    async def _run_one(self, record: MarketRecord, feed: Any) -> None:
        info = record.info
        runner = record.runner
        assert runner is not None
        try:
            record.reason = await runner.run()
        finally:
            if runner.cancel_all_unverified:
                # Also when the runner was cancelled from outside (a signal): its exit cancel-all failed.
                record.reason = ExitReason.CANCEL_UNVERIFIED
                self._dead_man_wanted = True
            # Cancelled from outside, `run` re-raised after its cancel-all: the machine has the reason.
            record.reason = record.reason or runner.machine.exit_reason
            record.summary = runner.summary()
            self._keep_runner_for_a_while(record)
            record.finished_at_s = self.clock.now_s()
            self.stats.markets_finished += 1
            self.runners.pop(info.condition_id, None)
            with trio.move_on_after(1.0, shield=True):
                if self.market_hub is not None:
                    await self.market_hub.remove_market(feed)
                if self.user_hub is not None:
                    await self.user_hub.remove_market(info.condition_id)
            self.journal.write("market_done", market=info.condition_id,
                               reason=record.reason.value if record.reason else None)
        if record.reason is ExitReason.ACCOUNT:
            # Auth refused is the account's, not the market's: everything stops.
            self.stop(ExitReason.ACCOUNT, "auth refused")
        elif record.reason is ExitReason.CANCEL_UNVERIFIED:
            # Orders of ours may rest unseen: stop everything and let the venue's dead-man switch clear them.
            self._dead_man_wanted = True
            self.stop(ExitReason.CANCEL_UNVERIFIED, f"cancel-all of {info.slug} did not verify")
        self._stop_if_all_ended()

    def _keep_runner_for_a_while(self, record: MarketRecord) -> None:
        self._finished_with_runner.append(record)
        while len(self._finished_with_runner) > _FINISHED_RUNNERS_KEPT:
            self._finished_with_runner.popleft().runner = None

    def _account_budget(self, runner: MarketRunner) -> int:
        """What `runner` may commit under `max_total_notional_pusd`, given every other market's commitments
        as they stand at the call.

        Summed at every call, never from a snapshot: a snapshot kept for a scheduler instant missed the
        orders another market registered in that instant (on a fake clock, every market's first ladder).
        Each market keeps its own sum until its orders or inventory change (`committed_micro`), so a call
        costs one comparison per market."""
        others = sum(r.committed_micro() for r in self.runners.values() if r is not runner)
        return max(0, micro_from_float(self.settings.max_total_notional_pusd) - others)

    def overall_reason(self) -> ExitReason:
        """The most severe of every stop asked for and every market's exit; MARKET_END if none."""
        return most_severe([*self._stop_reasons, *(r.reason for r in self.stats.records)])

    def summaries(self) -> list[dict[str, Any]]:
        return [r.summary if r.summary is not None else r.runner.summary()  # type: ignore[union-attr]
                for r in self.stats.records]

    def __repr__(self) -> str:
        return f"<Supervisor markets={len(self.runners)} started={self.stats.markets_started}>"
