"""Append-only JSON-lines audit journal: every order as posted, every venue answer, every transition.

Guarantees:
- `write` never raises and never blocks a cancel: a failed write (ENOSPC, EFBIG, EIO, …) is logged
  to stderr once, recorded in `failure`, reported through `on_failure` (the supervisor stops every
  market and exits with `EXIT_JOURNAL`), and every later line is dropped and counted. The audit
  trail ends at the failure; the cancel-all that follows never waits for it.
- Each record is written with one `os.write` on an `O_APPEND` descriptor, so a `kill -9` loses at
  most the line being written (`write_many`: a batch's lines, e.g. a POST's orders, in one write, so at
  most that batch). A short write (a full disk or a file-size limit mid-line) is a failure:
  the partial line is cut off again (`ftruncate` to the size before it), so the file holds whole lines
  only, and the line is not retried, so no line is written twice.
- The file is created owner-only (0600): it holds signed orders (never headers, keys or secrets —
  callers pass bodies, and `_scrub` drops any field named like a credential as a second line of defence).
- `open_journal` fails fast with `JournalOpenError` (naming the path) when the file cannot be opened
  for append: the CLI turns that into a configuration error (exit 2) before anything trades.
- `reopen()` (on SIGHUP) closes and reopens the path, so logrotate's move-then-signal works.

Writes are synchronous on purpose: a few hundred bytes to the page cache take microseconds, and an
audit line that a cancelled thread-offload never wrote would defeat the journal's purpose.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import orjson

__all__ = ["Journal", "JournalLike", "JournalOpenError", "NullJournal", "open_journal"]

log = logging.getLogger(__name__)

_SECRET_KEYS = frozenset(
    {"secret", "passphrase", "private_key", "privatekey", "api_secret", "api_passphrase", "poly_signature",
     "poly_passphrase", "poly_api_key", "auth", "headers"}
)
_OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
# A key named like a credential, as orjson writes it (`"name":`; a quote inside a string value is always
# escaped, so values never match). Searching the encoded line is one C pass; `_scrub` walks every field in
# Python, which cost more than the encoding and the write together (a posted order is a nested record).
_SECRET_KEY_IN_LINE = re.compile(
    rb'"(?:' + rb"|".join(re.escape(k.encode()) for k in sorted(_SECRET_KEYS)) + rb')":', re.IGNORECASE
)


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("<redacted>" if str(k).lower() in _SECRET_KEYS else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


class JournalLike(Protocol):
    """What the engine needs of a journal: a `write` and a `write_many` that never raise."""

    def write(self, kind: str, **fields: Any) -> None: ...

    def write_many(self, kind: str, records: Sequence[dict[str, Any]]) -> None: ...


class JournalOpenError(Exception):
    """The journal path cannot be opened for append (a configuration error, exit 2)."""


def _open_fd(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    # An existing file keeps its owner but never stays readable by others.
    os.fchmod(fd, 0o600)
    return fd


def open_journal(path: Path, clock_s: Callable[[], float],
                 on_failure: Callable[[OSError], None] | None = None) -> Journal:
    """Open `path` for append; raise `JournalOpenError` naming the path when it cannot be."""
    try:
        return Journal(path, clock_s, on_failure=on_failure)
    except OSError as exc:
        raise JournalOpenError(f"journal {path} cannot be opened for append: {exc.strerror or exc}") from None


class Journal:
    """One audit file; `write(kind, **fields)` appends one line `{"t": ..., "kind": ..., ...}`."""

    def __init__(self, path: Path, clock_s: Callable[[], float],
                 on_failure: Callable[[OSError], None] | None = None) -> None:
        self._path = path
        self._clock_s = clock_s
        self._fd = _open_fd(path)
        self._size = os.fstat(self._fd).st_size  # where the next line starts (one writer per file)
        self.on_failure = on_failure
        self.lines_written = 0
        self.lines_dropped = 0
        self.failure: OSError | None = None

    @property
    def path(self) -> Path:
        return self._path

    def write(self, kind: str, **fields: Any) -> None:
        self.write_many(kind, (fields,))

    def write_many(self, kind: str, records: Sequence[dict[str, Any]]) -> None:
        """One line per record, all of the same kind and instant, in one `os.write` (a POST's ten orders
        cost one system call, not ten: ~70 µs less on the path to the new quotes, measured cold)."""
        if self.failure is not None or self._fd < 0:
            self.lines_dropped += len(records)
            return
        head = {"t": round(self._clock_s(), 6), "kind": kind}
        try:
            data = b"".join([orjson.dumps({**head, **fields}, option=_OPTIONS) for fields in records])
            if _SECRET_KEY_IN_LINE.search(data) is not None:  # rare: encode again with those fields redacted
                data = b"".join([orjson.dumps({**head, **_scrub(fields)}, option=_OPTIONS) for fields in records])
        except TypeError:  # a field the encoder does not know: a bug in the caller, never a reason to stop
            log.error("journal: %s record not serialisable; dropped", kind, exc_info=True)
            self.lines_dropped += len(records)
            return
        if not data:
            return
        try:
            written = os.write(self._fd, data)
        except OSError as exc:
            self._fail(exc, len(records))
            return
        if written != len(data):
            try:  # keep the file to whole lines
                os.ftruncate(self._fd, self._size)
            except OSError:
                log.error("journal %s: the partial last line could not be cut off", self._path)
            self._fail(OSError(0, f"short write ({written} of {len(data)} bytes): disk full or file size limit"),
                       len(records))
            return
        self._size += written
        self.lines_written += len(records)

    def _fail(self, exc: OSError, lines: int) -> None:
        self.failure = exc
        self.lines_dropped += lines
        log.critical("journal %s: write failed (%s); stopping every market", self._path, exc.strerror or exc)
        if self.on_failure is not None:
            try:
                self.on_failure(exc)
            except Exception:  # the stop must not turn into a crash of the writer's task
                log.exception("journal failure handler failed")

    def reopen(self) -> bool:
        """Close and reopen the path (log rotation); True if the journal is writable again.

        A journal that already failed stays failed: the run is stopping, and its audit trail has a gap
        that a reopen would hide."""
        if self.failure is not None:
            return False
        old = self._fd
        try:
            self._fd = _open_fd(self._path)
            self._size = os.fstat(self._fd).st_size
        except OSError as exc:
            self._fd = -1
            self._fail(exc, 0)  # no line was lost: the next write counts as dropped
            return False
        finally:
            if old >= 0:
                os.close(old)
        log.info("journal %s reopened", self._path)
        return True

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def statistics(self) -> dict[str, Any]:
        return {"lines_written": self.lines_written, "lines_dropped": self.lines_dropped,
                "failed": None if self.failure is None else str(self.failure.strerror or self.failure)}

    def __repr__(self) -> str:
        state = "FAILED " if self.failure is not None else ""
        return f"<Journal {state}{self._path} lines={self.lines_written} dropped={self.lines_dropped}>"


class NullJournal:
    """A journal that keeps nothing (no path configured)."""

    lines_written = 0
    lines_dropped = 0
    failure = None
    on_failure = None

    def write(self, kind: str, **fields: Any) -> None:
        return None

    def write_many(self, kind: str, records: Sequence[dict[str, Any]]) -> None:
        """Each record through `write` (a subclass that keeps lines sees every one)."""
        for fields in records:
            self.write(kind, **fields)

    def reopen(self) -> bool:
        return True

    def close(self) -> None:
        return None

    def statistics(self) -> dict[str, Any]:
        return {"lines_written": 0, "lines_dropped": 0, "failed": None}
