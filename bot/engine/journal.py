"""Append-only JSON-lines audit journal: every order as posted, every venue answer, every transition.

Each record is written with one `os.write` on an `O_APPEND` descriptor, so a `kill -9` loses at most
the line being written and concurrent writers never interleave inside a line. The file is created
owner-only (0600): it holds signed orders (never headers, keys or secrets — callers pass bodies, and
`_scrub` drops any field named like a credential as a second line of defence).

Writes are synchronous on purpose: a few hundred bytes to the page cache take microseconds, and an
audit line that a cancelled thread-offload never wrote would defeat the journal's purpose.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

__all__ = ["Journal", "NullJournal"]

_SECRET_KEYS = frozenset(
    {"secret", "passphrase", "private_key", "privatekey", "api_secret", "api_passphrase", "poly_signature",
     "poly_passphrase", "poly_api_key", "auth", "headers"}
)


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("<redacted>" if str(k).lower() in _SECRET_KEYS else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


class Journal:
    """One audit file; `write(kind, **fields)` appends one line `{"t": ..., "kind": ..., ...}`."""

    def __init__(self, path: Path, clock_s: Any) -> None:
        self._path = path
        self._clock_s = clock_s
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        # An existing file keeps its owner but never stays readable by others.
        os.fchmod(self._fd, 0o600)
        self.lines_written = 0

    def write(self, kind: str, **fields: Any) -> None:
        record = {"t": round(self._clock_s(), 6), "kind": kind, **_scrub(fields)}
        os.write(self._fd, orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS))
        self.lines_written += 1

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __repr__(self) -> str:
        return f"<Journal {self._path} lines={self.lines_written}>"


class NullJournal:
    """A journal that keeps nothing (no path configured)."""

    lines_written = 0

    def write(self, kind: str, **fields: Any) -> None:
        return None

    def close(self) -> None:
        return None
