"""The cancel-all service: cancel every order of ours in a market (or of the whole key), then prove it.

Guarantees:
- Always ends by the caller's deadline (a Trio time): startup gives the cutoff, the cutoff gives the
  market's end, the exit gives `cancel_all_timeout_s`, the operator's kill switch its own bound.
  Nothing in it waits without a bound; each request has the gateway's request deadline too.
- Between attempts that did not verify it backs off, capped and jittered (`cancel_all_retry_base_s`
  doubling to `cancel_all_retry_max_s`), so a venue answering 500 sees a handful of requests a
  minute, not five a second.
- The cancel is sent first; the journal line is written after, and a journal that cannot be written
  never stops or delays it (`Journal.write` never raises).
- "Verified" means a fresh open-orders listing, taken after a cancel, came back empty. Anything less
  (listing failing, orders still listed, the deadline) is "not verified", and the caller escalates:
  the supervisor stops the key's heartbeat on purpose so the venue's dead-man switch clears the key.

It runs in the task of its caller and never inside a consumer other markets depend on: a market's
storm rebuild runs it from the market's own maintenance task, not from the user-event consumer.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import trio

from bot.engine.gateway import CancelOutcome
from bot.engine.journal import JournalLike
from bot.protocol.errors import VenueError

__all__ = ["CancelAllResult", "CancelAllService", "CancelGateway"]

log = logging.getLogger(__name__)


class CancelGateway(Protocol):
    """What cancel-all needs of the venue (`VenueGateway`)."""

    async def cancel_market(self, condition_id: str) -> CancelOutcome: ...

    async def cancel_everything(self) -> CancelOutcome: ...

    async def cancel_ids(self, order_ids: list[str]) -> CancelOutcome: ...

    async def open_orders(self, condition_id: str | None) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class CancelAllResult:
    """How one cancel-all ended. `left` is the count of the last listing that worked (None: none did)."""

    why: str
    verified: bool
    attempts: int
    duration_s: float
    left: int | None
    fatal: bool = False


class CancelAllService:
    """Bounded, backing-off, verified cancel-all for one market (`market`) or the key (`market=None`)."""

    def __init__(
        self,
        gateway: CancelGateway,
        *,
        journal: JournalLike,
        retry_base_s: float,
        retry_max_s: float,
        rng: random.Random | None = None,
    ) -> None:
        self._gateway = gateway
        self._journal = journal
        self._retry_base_s = retry_base_s
        self._retry_max_s = max(retry_max_s, retry_base_s)
        self._rng = rng or random.Random()
        self.runs = 0
        self.requests = 0

    def _pause_s(self, attempt: int) -> float:
        # Full jitter over the upper half: never 0 (no hot loop), never all markets in step.
        cap = min(self._retry_max_s, self._retry_base_s * 2 ** max(0, attempt - 1))
        return cap * (0.5 + 0.5 * self._rng.random())

    async def run(
        self,
        market: str | None,
        *,
        deadline: float,
        why: str,
        on_outcome: Callable[[CancelOutcome], None] | None = None,
    ) -> CancelAllResult:
        """Cancel and verify until `deadline` (Trio time). Never raises `VenueError`; returns the result."""
        started = trio.current_time()
        attempts = 0
        left: int | None = None
        verified = False
        fatal = False
        self.runs += 1
        with trio.move_on_at(deadline):
            while True:
                attempts += 1
                outcome = await self._cancel(market)
                if on_outcome is not None:
                    on_outcome(outcome)
                if outcome.fatal:  # auth refused: nothing we send will be obeyed; the caller escalates
                    fatal = True
                    break
                try:
                    self.requests += 1
                    listed = await self._gateway.open_orders(market)
                except VenueError as exc:
                    log.warning("cancel-all (%s) %s: verify failed (attempt %d): %s", why, market or "key",
                                attempts, exc)
                else:
                    left = len(listed)
                    if not listed:
                        verified = True
                        break
                    self.requests += 1
                    by_id = await self._gateway.cancel_ids([o.id for o in listed])
                    if on_outcome is not None:
                        on_outcome(by_id)
                await trio.sleep(self._pause_s(attempts))
        duration = trio.current_time() - started
        result = CancelAllResult(why, verified, attempts, duration, left, fatal)
        self._journal.write("cancel_all", market=market, why=why, verified=verified, attempts=attempts,
                            duration_s=round(duration, 6), left=left)
        if not verified:
            log.error("cancel-all (%s) of %s NOT verified after %d attempt(s) in %.1f s (last listing: %s)",
                      why, market or "the key", attempts, duration, "failed" if left is None else f"{left} left")
        return result

    async def _cancel(self, market: str | None) -> CancelOutcome:
        self.requests += 1
        if market is None:
            return await self._gateway.cancel_everything()
        return await self._gateway.cancel_market(market)

    def statistics(self) -> dict[str, int]:
        return {"runs": self.runs, "requests": self.requests}

    def __repr__(self) -> str:
        return f"<CancelAllService runs={self.runs} requests={self.requests}>"
