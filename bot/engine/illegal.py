"""Refused transitions are loud: a WARNING and a count in production, an exception in tests.

The machines (`statemachines/`) raise `IllegalTransition` when their table does not allow a trigger.
The engine never uses that as control flow: it asks the table first (`ORDER_ALLOWED`) where an event
may legitimately not apply, so what reaches `report_illegal` is a bug or a venue behaviour the table
does not know yet — both worth an operator's attention (metric `illegal_transitions_total`).
"""

from __future__ import annotations

import logging

from statemachines._core import IllegalTransition

__all__ = ["IllegalTransition", "illegal_transitions", "report_illegal", "set_strict"]

log = logging.getLogger(__name__)

_strict = False
_count = 0


def set_strict(strict: bool) -> None:
    """Tests turn this on: a refused transition then raises instead of being logged and counted."""
    global _strict
    _strict = strict


def illegal_transitions() -> int:
    """How many refused transitions this process has seen."""
    return _count


def report_illegal(exc: IllegalTransition, context: str) -> None:
    """Log and count a refused transition (or re-raise it in strict mode)."""
    global _count
    _count += 1
    if _strict:
        raise exc
    log.warning("refused transition (%s): %s", context, exc)
