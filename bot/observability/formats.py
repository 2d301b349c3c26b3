"""Small text formatters shared by the status screen, the plain lines and the summary."""

from __future__ import annotations

from typing import Final

__all__ = ["MISSING", "format_countdown", "fmt_price", "fmt_pusd", "fmt_shares"]

MISSING: Final = "-"
_SECONDS_PER_MINUTE: Final = 60
_SECONDS_PER_HOUR: Final = 3600


def format_countdown(seconds: float) -> str:
    """`1h02m03s`, `1m23s` or `42.5s`; `passed` when the moment is behind us."""
    if seconds <= 0:
        return "passed"
    if seconds < _SECONDS_PER_MINUTE:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    hours, rest = divmod(whole, _SECONDS_PER_HOUR)
    minutes, secs = divmod(rest, _SECONDS_PER_MINUTE)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s"


def fmt_price(value: float | None) -> str:
    """A price with up to 4 decimals and no trailing zeros (`0.48`, `0.4825`)."""
    if value is None:
        return MISSING
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text or "0"


def fmt_shares(value: float) -> str:
    return f"{value:g}"


def fmt_pusd(value: float) -> str:
    return f"{value:+.2f}"
