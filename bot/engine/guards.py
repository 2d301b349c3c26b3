"""Guards of one market: the unknown-order storm detector and the failure backoff.

Both are pure and clocked by the caller (`now_s` arguments), so scenario tests pin exact times.
"""

from __future__ import annotations

from collections import deque

__all__ = ["FailureBackoff", "StormGuard"]


class StormGuard:
    """Says "storm" once more than `threshold` unknown-order events fall inside a sliding window.

    An event for an order we know resets the count: a storm is a run of events for orders that map to
    nothing (someone else's key, a stale cache, a venue bug), not a slow trickle between our own.
    """

    def __init__(self, threshold: int, window_s: float) -> None:
        self._threshold = threshold
        self._window_s = window_s
        # Bounded by the threshold: once it is reached we have our answer, older stamps add nothing.
        self._stamps: deque[float] = deque(maxlen=threshold + 1)
        self._total_unknown = 0
        self._storms = 0

    def record_unknown(self, now_s: float) -> bool:
        """Count one unknown-order event; True when this one makes a storm."""
        self._total_unknown += 1
        self._stamps.append(now_s)
        while self._stamps and self._stamps[0] < now_s - self._window_s:
            self._stamps.popleft()
        if len(self._stamps) >= self._threshold:
            self._storms += 1
            self._stamps.clear()
            return True
        return False

    def record_known(self) -> None:
        self._stamps.clear()

    def statistics(self) -> dict[str, int]:
        return {"unknown_total": self._total_unknown, "in_window": len(self._stamps), "storms": self._storms}

    def __repr__(self) -> str:
        return f"<StormGuard in_window={len(self._stamps)}/{self._threshold} storms={self._storms}>"


class FailureBackoff:
    """Exponential, capped backoff that starts after `failures_before_backoff` unexpected failures in a row.

    Expected rejects never reach it. A success resets both the run of failures and the exponent, so a
    market that recovers goes back to the base delay next time.
    """

    def __init__(self, base_s: float, max_s: float, failures_before_backoff: int) -> None:
        self._base_s = base_s
        self._max_s = max_s
        self._limit = failures_before_backoff
        self._consecutive = 0
        self._backoffs_in_row = 0
        self._until_s: float | None = None
        self._total_failures = 0
        self._total_backoffs = 0

    def record_failure(self, now_s: float, retry_after_s: float | None = None) -> float | None:
        """Count one unexpected failure; returns the backoff end time when this one starts a backoff."""
        self._total_failures += 1
        self._consecutive += 1
        if self._consecutive < self._limit and retry_after_s is None:
            return None
        delay_s = min(self._max_s, self._base_s * (2**self._backoffs_in_row))
        if retry_after_s is not None:
            delay_s = max(delay_s, retry_after_s)
        self._backoffs_in_row += 1
        self._total_backoffs += 1
        self._consecutive = 0
        self._until_s = now_s + delay_s
        return self._until_s

    def record_success(self) -> None:
        self._consecutive = 0
        self._backoffs_in_row = 0

    def active(self, now_s: float) -> bool:
        return self._until_s is not None and now_s < self._until_s

    @property
    def until_s(self) -> float | None:
        return self._until_s

    def statistics(self) -> dict[str, float | int | None]:
        return {
            "failures_total": self._total_failures,
            "consecutive": self._consecutive,
            "backoffs_total": self._total_backoffs,
            "until_s": self._until_s,
        }

    def __repr__(self) -> str:
        return f"<FailureBackoff consecutive={self._consecutive}/{self._limit} backoffs={self._total_backoffs}>"
