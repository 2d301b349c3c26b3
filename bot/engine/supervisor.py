"""The supervisor: one API key's markets, heartbeat, shared streams, rollover and the way out.

Guarantees:
- One nursery per market under the supervisor's markets nursery: a market that fails (crash, storm,
  fatal error) runs its own shielded cancel-all and stops **without** taking the others down.
- Account-level failures (heartbeat lapse, auth refused) stop every market through the same path.
- A stop request (signal, `--duration`, `--markets N` reached) records the reason on every runner, then
  cancels the markets nursery: each runner's shielded cancel-all runs before `run()` returns.
- With `BOT_MARKET=auto` it keeps discovering each series' next windows and starts each market's runner
  `rollover_lead_s` before its window opens; overlapping markets run side by side.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import trio

from bot.engine.clock import VenueClock, check_clock_skew
from bot.engine.discovery import GammaClient, series_window_s
from bot.engine.dry_run import DryRunGateway
from bot.engine.feeds import MarketDataHub, UserEventHub
from bot.engine.gateway import VenueGateway
from bot.engine.market import MarketRunner
from bot.engine.markets import MarketInfo
from bot.protocol.auth import ApiCreds
from bot.protocol.errors import VenueError
from bot.protocol.heartbeat import Heartbeat
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
# Discovery retries inside the Gamma/CLOB hydration window back off up to this.
_DISCOVERY_BACKOFF_MAX_S = 30.0


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


@dataclass(slots=True)
class MarketRecord:
    info: MarketInfo
    runner: MarketRunner
    reason: ExitReason | None = None
    finished_at_s: float | None = None


@dataclass(slots=True)
class SupervisorStats:
    markets_started: int = 0
    markets_finished: int = 0
    account_stop: str | None = None
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
        self._max_total = max_markets_total
        self._on_runner = on_runner
        self.stats = SupervisorStats()
        self.runners: dict[str, MarketRunner] = {}
        self.heartbeat: Heartbeat | None = None
        self.market_hub: MarketDataHub | None = None
        self.user_hub: UserEventHub | None = None
        self.rest: ClobRestClient | None = None
        self._stop_reason: ExitReason | None = None
        self._stop_detail = ""
        self._markets_scope: trio.CancelScope | None = None
        self._seen: set[str] = set()
        self._ready = trio.Event()
        self.dry_run = dry_run
        self._committed: dict[str, float] = {}
        self._committed_at: float | None = None
        # Dry run: markets get a user-event channel on which nothing ever arrives (no user stream).
        self._silent_user_send: trio.MemorySendChannel[Any] | None = None

    # --- control ---------------------------------------------------------------------------------------
    def stop(self, reason: ExitReason, detail: str = "") -> None:
        """Stop every market (each through its cancel-all). The first reason wins."""
        if self._stop_reason is None:
            self._stop_reason = reason
            self._stop_detail = detail
            log.info("stopping: %s %s", reason.value, detail)
            self.journal.write("bot_stop", reason=reason.value, detail=detail)
        for runner in self.runners.values():
            runner.request_stop(reason)
        if self._markets_scope is not None:
            self._markets_scope.cancel()

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
                        await nursery.start(self._guarded, self.heartbeat.run)
                        nursery.start_soon(self._guarded, self._watch_heartbeat)
                        user_stream = UserStream(self.links.ws_user_url, self.creds, (), **self._ws_options())
                        await nursery.start(self._guarded, user_stream.run)
                        self.user_hub = UserEventHub(user_stream)
                        nursery.start_soon(self._guarded, self.user_hub.run)
                    self.market_hub = MarketDataHub(nursery, self.links.ws_market_url,
                                                    stream_factory=self._market_stream, guard=self._guarded)
                    await self._run_markets(gateway, gamma)
                    nursery.cancel_scope.cancel()
            finally:
                if gamma is not None:
                    with trio.move_on_after(1.0, shield=True):
                        await gamma.aclose()
        return self._overall_reason()

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
                markets.start_soon(self._schedule, markets, gateway, gamma)
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
            except (VenueError, httpx.HTTPError, OSError) as exc:
                log.warning("discovery failed: %s", exc)
                backoff_s = min(backoff_s * 2, _DISCOVERY_BACKOFF_MAX_S)
                await trio.sleep(backoff_s)
                continue
            next_due = now + _DISCOVERY_IDLE_MAX_S
            for info in sorted(candidates, key=lambda m: m.start_s):
                if info.condition_id in self._seen:
                    continue
                cutoff = info.cutoff_s(s.quote_cutoff_s)
                if now >= cutoff or not info.accepting_orders:
                    if self._fixed_markets is not None:
                        self._seen.add(info.condition_id)
                    continue  # nothing to quote in this window any more
                if now < info.start_s - s.rollover_lead_s:
                    next_due = min(next_due, info.start_s - s.rollover_lead_s)
                    continue  # too early; a later pass starts it
                if len(self.runners) >= s.max_markets:
                    break
                if self._max_total is not None and self.stats.markets_started >= self._max_total:
                    break
                self._seen.add(info.condition_id)
                await self._start_market(markets, gateway, info)
            self._ready.set()
            if self._fixed_markets is not None and not self.runners and self._seen >= {
                m.condition_id for m in self._fixed_markets
            }:
                self.stop(ExitReason.MARKET_END, "every configured market has ended")
                return
            if self._expecting_unlisted(now):
                # A series window should be listed but is not (Gamma/CLOB hydration): look again soon.
                next_due = min(next_due, now + _DISCOVERY_PERIOD_S)
            await self.clock.sleep_until_s(max(next_due, now + _DISCOVERY_MIN_SLEEP_S))

    def _expecting_unlisted(self, now: float) -> bool:
        s = self.settings
        if self._fixed_markets is not None or s.market != "auto":
            return not self._seen
        paper_window = s.paper_window_s if s.mode.value == "paper" else s.series_window_s
        for series in s.series:
            window = series_window_s(series, paper_window)
            start = math.floor((now + s.rollover_lead_s) / window) * window
            if not any(r.info.slug.startswith(series) and r.info.start_s >= start for r in self.stats.records):
                if now < start + window - s.quote_cutoff_s:
                    return True
        return False

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
        paper_window = s.paper_window_s if s.mode.value == "paper" else s.series_window_s
        found: list[MarketInfo] = []
        for series in s.series:
            window = series_window_s(series, paper_window)
            ahead = max(2, math.ceil(s.rollover_lead_s / window) + 2)
            found.extend(await gamma.series_markets(series, now, window, ahead))
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
        self.journal.write("market_start", market=info.condition_id, slug=info.slug, start_s=info.start_s,
                           end_s=info.end_s, up_token_id=info.up_token_id, down_token_id=info.down_token_id)
        if self._on_runner is not None:
            self._on_runner(runner)
        markets.start_soon(self._run_one, record, feed)

    async def _run_one(self, record: MarketRecord, feed: Any) -> None:
        info = record.info
        try:
            record.reason = await record.runner.run()
        finally:
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

    def _account_budget(self, runner: MarketRunner) -> float:
        """What `runner` may commit under `max_total_notional_pusd`, given every other market's commitments.

        The per-market commitments are summed once per scheduler instant (every runner asks on every
        tick: recomputing per call would cost markets² per instant)."""
        now = trio.current_time()
        if self._committed_at != now:
            self._committed = {cid: r.committed_pusd() for cid, r in self.runners.items()}
            self._committed_at = now
        total = sum(self._committed.values())
        mine = self._committed.get(runner.info.condition_id, 0.0)
        return max(0.0, self.settings.max_total_notional_pusd - (total - mine))

    def _overall_reason(self) -> ExitReason:
        if self._stop_reason is not None and self._stop_reason is not ExitReason.MARKET_END:
            return self._stop_reason
        worst = [r.reason for r in self.stats.records if r.reason not in (None, ExitReason.MARKET_END)]
        return worst[0] if worst else ExitReason.MARKET_END

    def summaries(self) -> list[dict[str, Any]]:
        return [r.runner.summary() for r in self.stats.records]

    def __repr__(self) -> str:
        return f"<Supervisor markets={len(self.runners)} started={self.stats.markets_started}>"
