"""Why a market stops: the `MarketStop` exception and how a runner reads one out of an exception group."""

from __future__ import annotations

import trio

from statemachines.market import ExitReason

__all__ = ["MarketStop", "find_stop", "first_error", "has_cancelled", "only_cancelled"]


class MarketStop(Exception):
    """Raised inside the runner to stop the market for a recorded reason (storm, fatal venue, …)."""

    def __init__(self, reason: ExitReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


def only_cancelled(exc: BaseException) -> bool:
    if isinstance(exc, trio.Cancelled):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(only_cancelled(e) for e in exc.exceptions)
    return False


def has_cancelled(exc: BaseException) -> bool:
    if isinstance(exc, trio.Cancelled):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return any(has_cancelled(e) for e in exc.exceptions)
    return False


def first_error(exc: BaseException) -> BaseException:
    """The first exception in `exc` (a group, possibly nested) that is not a cancellation."""
    if isinstance(exc, BaseExceptionGroup):
        for e in exc.exceptions:
            if not only_cancelled(e):
                return first_error(e)
    return exc


def find_stop(exc: BaseException) -> MarketStop | None:
    if isinstance(exc, MarketStop):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for e in exc.exceptions:
            found = find_stop(e)
            if found is not None:
                return found
    return None
