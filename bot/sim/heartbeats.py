"""The venue's dead-man's switch: heartbeat id chains per API key and the periodic expiry sweep.

Spec 1.4: the first beat carries an empty id and starts a chain; each later beat must carry the id
the previous one returned. Once a chain exists, if no valid beat arrives for `timeout_s`, every open
order of that key is cancelled. The check runs on a fixed `sweep_s` grid, so the cancel lands between
`timeout_s` and `timeout_s + sweep_s` after the last good beat.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

__all__ = ["HeartbeatMismatch", "HeartbeatRegistry"]


class HeartbeatMismatch(Exception):
    """A beat carried the wrong id; `expected_id` is the id the venue wants next ("" = start a chain).

    The front answers 400 `{"error_msg": "Invalid Heartbeat ID", "heartbeat_id": expected_id}`.
    """

    def __init__(self, expected_id: str) -> None:
        super().__init__("Invalid Heartbeat ID")
        self.expected_id = expected_id


class HeartbeatRegistry:
    """Chains per owner and the sweep grid `origin_s + k * sweep_s`. Pure: time is passed in."""

    def __init__(
        self, *, timeout_s: float, sweep_s: float, origin_s: float, new_id: Callable[[], str]
    ) -> None:
        if timeout_s <= 0 or sweep_s <= 0:
            raise ValueError("timeout_s and sweep_s must be positive")
        self._timeout_s = timeout_s
        self._sweep_s = sweep_s
        self._origin_s = origin_s
        self._new_id = new_id
        self._expected: dict[str, str] = {}  # owner -> id the next beat must carry
        self._last_beat_s: dict[str, float] = {}
        self._next_sweep_s: float | None = None
        self._beats = 0
        self._mismatches = 0
        self._expiries = 0

    def __repr__(self) -> str:
        return f"<HeartbeatRegistry chains={len(self._expected)} next_sweep={self._next_sweep_s}>"

    def beat(self, owner: str, heartbeat_id: str | None, now_s: float) -> str:
        """Accept a beat and return the next id; HeartbeatMismatch if the id is not the expected one.

        With no live chain only an empty (or null, V1 SDKs) id starts one.
        """
        expected = self._expected.get(owner, "")
        given = heartbeat_id or ""
        if given != expected:
            self._mismatches += 1
            raise HeartbeatMismatch(expected)
        next_id = self._new_id()
        self._expected[owner] = next_id
        self._last_beat_s[owner] = now_s
        self._beats += 1
        if self._next_sweep_s is None:
            steps = math.floor((now_s - self._origin_s) / self._sweep_s) + 1
            self._next_sweep_s = self._origin_s + steps * self._sweep_s
        return next_id

    def active(self, owner: str) -> bool:
        return owner in self._expected

    def next_deadline(self) -> float | None:
        """The next sweep time while any chain is live."""
        return self._next_sweep_s

    def sweep(self, now_s: float) -> list[str]:
        """Run every sweep due by `now_s`; returns owners whose chain lapsed (their chains end)."""
        expired: list[str] = []
        while self._next_sweep_s is not None and self._next_sweep_s <= now_s:
            at_s = self._next_sweep_s
            for owner, last_s in list(self._last_beat_s.items()):
                if at_s - last_s >= self._timeout_s:
                    del self._last_beat_s[owner]
                    del self._expected[owner]
                    expired.append(owner)
                    self._expiries += 1
            self._next_sweep_s = at_s + self._sweep_s if self._expected else None
        return expired

    def statistics(self) -> dict[str, Any]:
        return {
            "chains": len(self._expected),
            "beats": self._beats,
            "mismatches": self._mismatches,
            "expiries": self._expiries,
        }
