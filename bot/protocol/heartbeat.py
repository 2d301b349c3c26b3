"""The venue's dead-man's switch: a valid heartbeat every `interval_s`, or the caller is told it lapsed.

Spec: docs/protocol/polymarket-clob.md section 1.4. Once a heartbeat has been accepted, the venue
cancels every open order of these API credentials if no valid beat arrives within 10 s (checked every
5 s). Each beat sends the id the previous answer returned ("" starts a chain). An unknown or stale id
is answered `400 {"error_msg": "Invalid Heartbeat ID", "heartbeat_id": <expected>}`: we adopt the
expected id and re-send at once.

Beats are scheduled on a fixed grid (`start + k * interval_s`), not "interval after the last answer",
so slow answers do not stretch the cadence; a beat that overruns its slot moves to the next free one.

Reporting (one mechanism, chosen for the supervisor's nursery): `lapsed`, a `trio.Event`, is set when
`max_failures` beats in a row have failed. It stays set: orders may already have been cancelled by
the venue, so the caller must stop or reconcile, even if later beats succeed again (they keep being
sent so the chain can recover). A callback was rejected: it would run inside this task, where a slow
or raising handler would delay or kill the beats themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

import trio

from bot.protocol.errors import InvalidHeartbeatId, OutcomeUnknown, RejectKind, VenueError
from settings.model import BotSettings

__all__ = ["Heartbeat", "HeartbeatSender", "HeartbeatStatistics"]

# Defaults come from the settings model, so there is one source of truth for them.
_DEFAULT_INTERVAL_S: Final[float] = BotSettings.model_fields["heartbeat_interval_s"].default
_DEFAULT_MAX_FAILURES: Final[int] = BotSettings.model_fields["heartbeat_max_failures"].default
_DEFAULT_BEAT_TIMEOUT_S: Final[float] = BotSettings.model_fields["request_timeout_s"].default


class HeartbeatSender(Protocol):
    """What the heartbeat needs from the REST client (`ClobRestClient.post_heartbeat`)."""

    async def post_heartbeat(self, heartbeat_id: str) -> str: ...


@dataclass(frozen=True, slots=True)
class HeartbeatStatistics:
    beats_sent: int
    beats_ok: int
    failures: int
    consecutive_failures: int
    adoptions: int
    last_ok_time: float | None
    last_error: str | None
    lapsed: bool


class Heartbeat:
    """Keeps the venue's dead-man's switch fed; sets `lapsed` after `max_failures` failed beats in a row.

    `run` is the task (start it with `nursery.start(hb.run)`): it reports started after the first beat
    attempt, accepted or not (`armed` says which), so `nursery.start` never hangs on a dead venue.
    Every beat is bounded by `beat_timeout_s` (a `trio.fail_after`); an expired beat is a failure.
    `clock` (default `trio.current_time`) is only for the recorded times.
    """

    def __init__(
        self,
        sender: HeartbeatSender,
        *,
        interval_s: float = _DEFAULT_INTERVAL_S,
        max_failures: int = _DEFAULT_MAX_FAILURES,
        beat_timeout_s: float = _DEFAULT_BEAT_TIMEOUT_S,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        if not interval_s > 0 or not beat_timeout_s > 0 or max_failures < 1:
            raise ValueError("need interval_s > 0, beat_timeout_s > 0, max_failures >= 1")
        self._sender = sender
        self._interval_s = interval_s
        self._max_failures = max_failures
        self._beat_timeout_s = beat_timeout_s
        self._clock = clock
        self._heartbeat_id = ""
        self.lapsed = trio.Event()
        self.last_ok_time: float | None = None
        self._beats_sent = 0
        self._beats_ok = 0
        self._failures = 0
        self._consecutive_failures = 0
        self._adoptions = 0
        self._last_error: VenueError | None = None

    @property
    def armed(self) -> bool:
        """True once a beat was accepted (the venue's switch is then armed for these credentials)."""
        return self.last_ok_time is not None

    @property
    def consecutive_failures(self) -> int:
        return self._consecutive_failures

    async def _post(self, heartbeat_id: str) -> str:
        self._beats_sent += 1
        try:
            with trio.fail_after(self._beat_timeout_s):
                return await self._sender.post_heartbeat(heartbeat_id)
        except trio.TooSlowError as exc:
            raise OutcomeUnknown(
                f"heartbeat: no answer within {self._beat_timeout_s} s", kind=RejectKind.TIMEOUT
            ) from exc

    async def beat(self) -> bool:
        """Send one beat (re-sending once at once with the venue's expected id); True if accepted."""
        try:
            try:
                next_id = await self._post(self._heartbeat_id)
            except InvalidHeartbeatId as stale:
                if not stale.expected_id:
                    raise
                # The venue told us the id it expects: adopt it and re-send now, not a beat later.
                self._heartbeat_id = stale.expected_id
                self._adoptions += 1
                next_id = await self._post(self._heartbeat_id)
        except InvalidHeartbeatId as stale:
            # A second mismatch in one slot counts as a failure; keep its id for the next slot.
            if stale.expected_id:
                self._heartbeat_id = stale.expected_id
                self._adoptions += 1
            self._record_failure(stale)
            return False
        except VenueError as error:
            self._record_failure(error)
            return False
        self._heartbeat_id = next_id
        self._beats_ok += 1
        self._consecutive_failures = 0
        self.last_ok_time = self._clock()
        return True

    def _record_failure(self, error: VenueError) -> None:
        self._failures += 1
        self._consecutive_failures += 1
        self._last_error = error
        if self._consecutive_failures >= self._max_failures:
            self.lapsed.set()

    async def run(self, *, task_status: trio.TaskStatus[bool] = trio.TASK_STATUS_IGNORED) -> None:
        """Beat at start, start + interval_s, ... until cancelled; `started(ok)`: first beat accepted?"""
        start = trio.current_time()
        ok = await self.beat()
        task_status.started(ok)
        slot = 1
        while True:
            next_time = start + slot * self._interval_s
            now = trio.current_time()
            if next_time < now:
                # The last beat overran one or more slots: skip to the next slot still ahead.
                slot = math.floor((now - start) / self._interval_s) + 1
                next_time = start + slot * self._interval_s
            await trio.sleep_until(next_time)
            await self.beat()
            slot += 1

    def statistics(self) -> HeartbeatStatistics:
        return HeartbeatStatistics(
            beats_sent=self._beats_sent,
            beats_ok=self._beats_ok,
            failures=self._failures,
            consecutive_failures=self._consecutive_failures,
            adoptions=self._adoptions,
            last_ok_time=self.last_ok_time,
            last_error=None if self._last_error is None else str(self._last_error),
            lapsed=self.lapsed.is_set(),
        )

    def __repr__(self) -> str:
        # The chain id is not shown: with the API credentials it would let another process feed the switch.
        return (
            f"<Heartbeat interval_s={self._interval_s} ok={self._beats_ok}/{self._beats_sent} "
            f"consecutive_failures={self._consecutive_failures} lapsed={self.lapsed.is_set()}>"
        )
