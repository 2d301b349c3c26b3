"""Rotated, ZSTD-compressed Parquet files in the PMXT v2 schema.

Rows are buffered per hour of `timestamp_received` (the archive's file unit) and written when the hour
ends, when the buffer reaches `max_rows` (a further part of the same hour), or on `close()`. Each file is
sorted by (market, asset_id, timestamp_received) like the archive's, and appears atomically (written
under a temporary name, then renamed), so a reader never sees half a file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bot.replay.schema import PMXT_V2_SCHEMA

__all__ = ["RotatingParquetWriter", "write_rows"]

_HOUR_MS = 3_600_000
# An hour of a busy market is ~10^5 rows: about 100 MB of Python dicts before it is written.
_DEFAULT_MAX_ROWS = 500_000


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write `rows` (dicts keyed by column) as one sorted ZSTD Parquet file at `path`, atomically."""
    table = pa.Table.from_pylist(rows, schema=PMXT_V2_SCHEMA)
    table = table.sort_by([("market", "ascending"), ("asset_id", "ascending"), ("timestamp_received", "ascending")])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
    return path


class RotatingParquetWriter:
    """One file per hour of receive time (and per `max_rows` within an hour) under `out_dir`.

    `add(rows)` never blocks on I/O except at a rotation; `close()` writes what is buffered. The file
    names sort in time order: `{prefix}-YYYY-MM-DDTHH[-partN].parquet`.
    """

    def __init__(self, out_dir: Path, *, prefix: str = "market", max_rows: int = _DEFAULT_MAX_ROWS) -> None:
        self._dir = Path(out_dir)
        self._prefix = prefix
        self._max_rows = max_rows
        self._rows: list[dict[str, Any]] = []
        self._hour: int | None = None
        self._parts: dict[int, int] = {}
        self.files: list[Path] = []
        self.rows_written = 0

    def __repr__(self) -> str:
        return f"<RotatingParquetWriter {self._dir} buffered={len(self._rows)} files={len(self.files)}>"

    def add(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            hour = row["timestamp_received"] // _HOUR_MS
            if self._hour is not None and hour != self._hour:
                self.flush()
            self._hour = hour
            self._rows.append(row)
            if len(self._rows) >= self._max_rows:
                self.flush()

    def flush(self) -> Path | None:
        """Write the buffered rows as a file now; None when there is nothing to write."""
        if not self._rows or self._hour is None:
            return None
        stamp = time.strftime("%Y-%m-%dT%H", time.gmtime(self._hour * 3600))
        part = self._parts.get(self._hour, 0)
        self._parts[self._hour] = part + 1
        name = f"{self._prefix}-{stamp}{f'-part{part}' if part else ''}.parquet"
        path = write_rows(self._dir / name, self._rows)
        self.rows_written += len(self._rows)
        self._rows = []
        self.files.append(path)
        return path

    def close(self) -> None:
        self.flush()

    def statistics(self) -> dict[str, Any]:
        return {"buffered": len(self._rows), "rows_written": self.rows_written, "files": [str(f) for f in self.files]}
