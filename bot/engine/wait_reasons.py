"""Why the bot is waiting or refusing, said once and then periodically, and kept for the status screen.

A wait that lasts (no market listed for a series, the next window not open yet, discovery failing) must
never be silent: the first time a reason appears it is logged, then again every `repeat_s` while it
lasts, and `current()` gives the screen the reasons in force. A reason that ends is cleared.
"""

from __future__ import annotations

import logging

__all__ = ["WaitReasons"]


class WaitReasons:
    """Reasons by key (one per kind of wait); `say` logs a new or changed reason, and a lasting one
    again every `repeat_s`."""

    def __init__(self, logger: logging.Logger, *, repeat_s: float) -> None:
        self._log = logger
        self._repeat_s = repeat_s
        self._reasons: dict[str, str] = {}
        self._said_at: dict[str, float] = {}
        self._first_at: dict[str, float] = {}

    def say(self, key: str, now_s: float, text: str, *, level: int = logging.WARNING, grace_s: float = 0.0) -> None:
        """Record `text` as the reason `key`; log it if new (once it has lasted `grace_s`) or due again."""
        first = self._first_at.setdefault(key, now_s)
        self._reasons[key] = text
        if now_s - first < grace_s:
            return  # a normal, short wait (a market not hydrated yet): shown, not logged
        last = self._said_at.get(key)
        # A changed text within the period is a countdown ticking, not news: only the key's first
        # appearance, or the period passing, logs.
        if last is None or now_s - last >= self._repeat_s:
            self._said_at[key] = now_s
            self._log.log(level, "%s", text)

    def clear(self, key: str) -> None:
        self._reasons.pop(key, None)
        self._said_at.pop(key, None)
        self._first_at.pop(key, None)

    def current(self) -> tuple[str, ...]:
        return tuple(self._reasons.values())

    def __repr__(self) -> str:
        return f"<WaitReasons {sorted(self._reasons)}>"
