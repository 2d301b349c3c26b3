"""Recorded market data → one time-ordered list of events in 1e6 units (prices and shares).

Reads PMXT v2 Parquet files (a file, or every `*.parquet` under a folder), optionally one market and a
receive-time window, and merges them by `timestamp_received` (a stable sort: rows received in the same
millisecond keep the file's order). Decimal columns are converted once per column, not per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bot.replay.schema import BOOK, LAST_TRADE_PRICE, PMXT_V2_SCHEMA, PRICE_CHANGE, TICK_SIZE_CHANGE

__all__ = ["Event", "Recording", "data_files", "load_recording", "read_table"]

KIND_BOOK = 0
KIND_PRICE_CHANGE = 1
KIND_TRADE = 2
KIND_TICK = 3
_KINDS = {BOOK: KIND_BOOK, PRICE_CHANGE: KIND_PRICE_CHANGE, LAST_TRADE_PRICE: KIND_TRADE, TICK_SIZE_CHANGE: KIND_TICK}


class Event(NamedTuple):
    """One recorded row. `price`/`size` in 1e6 units (None where the row has none); `side` BUY/SELL;
    `bids`/`asks` raw JSON on book rows; `old_tick`/`new_tick` in 1e6 units on tick rows."""

    received_ms: int
    kind: int
    market: str
    asset_id: str
    price: int | None
    size: int | None
    side: str | None
    bids: str | None
    asks: str | None
    old_tick: int | None
    new_tick: int | None
    fee_rate_bps: int | None
    transaction_hash: str | None


@dataclass
class Recording:
    """The events of a recording and what it covers: markets → their asset ids in order of first sight."""

    events: list[Event]
    markets: dict[str, list[str]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    skipped_rows: int = 0

    @property
    def start_ms(self) -> int:
        return self.events[0].received_ms if self.events else 0

    @property
    def end_ms(self) -> int:
        return self.events[-1].received_ms if self.events else 0


def data_files(data: Path | str) -> list[Path]:
    """The Parquet files of `data` (a file, or a folder searched recursively), in name order."""
    path = Path(data)
    if path.is_dir():
        return sorted(p for p in path.rglob("*.parquet") if not p.name.startswith("."))
    if path.exists():
        return [path]
    raise FileNotFoundError(f"no recorded data at {path}")


def read_table(files: Iterable[Path], *, market: str | None = None, from_ms: int | None = None,
               to_ms: int | None = None) -> pa.Table:
    """The rows of `files` (filtered), merged in receive-time order."""
    filters: list[Any] = []
    if market is not None:
        filters.append(("market", "=", market.encode()))
    tables = [pq.read_table(f, filters=filters or None) for f in files]
    table = pa.concat_tables(tables) if tables else PMXT_V2_SCHEMA.empty_table()
    if from_ms is not None or to_ms is not None:
        received = pc.cast(table["timestamp_received"], pa.int64())
        mask = pc.and_(
            pc.greater_equal(received, from_ms if from_ms is not None else -(2**62)),
            pc.less(received, to_ms if to_ms is not None else 2**62),
        )
        table = table.filter(mask)
    return table.sort_by([("timestamp_received", "ascending")])


def _units(column: pa.ChunkedArray) -> list[int | None]:
    scaled = pc.round(pc.multiply(pc.cast(column, pa.float64()), 1_000_000.0))
    return pc.cast(scaled, pa.int64()).to_pylist()


def load_recording(data: Path | str, *, market: str | None = None, from_ms: int | None = None,
                   to_ms: int | None = None) -> Recording:
    """Every event of the recording at `data` (see `read_table`); rows of an unknown event type are
    counted in `skipped_rows` and dropped."""
    files = data_files(data)
    table = read_table(files, market=market, from_ms=from_ms, to_ms=to_ms)
    if table.num_rows == 0:
        return Recording(events=[], files=files)
    received = pc.cast(table["timestamp_received"], pa.int64()).to_pylist()
    kinds = table["event_type"].to_pylist()
    markets = [m.decode() for m in table["market"].to_pylist()]
    assets = table["asset_id"].to_pylist()
    prices, sizes = _units(table["price"]), _units(table["size"])
    old_ticks, new_ticks = _units(table["old_tick_size"]), _units(table["new_tick_size"])
    columns = zip(
        received, kinds, markets, assets, prices, sizes, table["side"].to_pylist(), table["bids"].to_pylist(),
        table["asks"].to_pylist(), old_ticks, new_ticks, table["fee_rate_bps"].to_pylist(),
        table["transaction_hash"].to_pylist(), strict=True,
    )
    events: list[Event] = []
    seen: dict[str, list[str]] = {}
    skipped = 0
    for row in columns:
        kind = _KINDS.get(row[1])
        if kind is None:
            skipped += 1
            continue
        events.append(Event(row[0], kind, *row[2:]))
        asset_ids = seen.setdefault(row[2], [])
        if row[3] not in asset_ids:
            asset_ids.append(row[3])
    return Recording(events=events, markets=seen, files=files, skipped_rows=skipped)
