"""Real captured market-channel frames (tests/fixtures/polymarket/ws) through the recorder's row
conversion, the Parquet writer and the reader; malformed frames counted and skipped."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from bot.record import MarketRecorder
from bot.replay.matcher import ASK, BID, ReplayBook
from bot.replay.queue import queue_model
from bot.replay.reader import KIND_TICK, KIND_TRADE, load_recording
from bot.replay.schema import PMXT_V2_SCHEMA
from bot.replay.writer import RotatingParquetWriter

WS = Path(__file__).resolve().parent.parent / "fixtures" / "polymarket" / "ws"


def _units(text: str) -> int:
    return round(float(text) * 1_000_000)


def test_a_captured_burst_replays_to_the_venues_own_last_book(tmp_path: Path) -> None:
    burst = json.loads((WS / "price_change_burst_captured.json").read_text())
    writer = RotatingParquetWriter(tmp_path)
    recorder = MarketRecorder(writer, now_ms=lambda: 1_790_658_661_300)
    recorder.on_text(orjson.dumps(burst))
    writer.close()
    assert recorder.malformed == 0
    [path] = writer.files
    assert pq.read_schema(path).remove_metadata() == PMXT_V2_SCHEMA
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
    entries = sum(len(f.get("price_changes", [])) or 1 for f in burst)
    recording = load_recording(tmp_path)
    assert len(recording.events) == entries
    last_book = [f for f in burst if f.get("event_type") == "book"][-1]
    asset = last_book["asset_id"]
    other = next(a for a in recording.markets[last_book["market"]] if a != asset)
    book = ReplayBook(asset, other, queue_model("conservative"))
    for event in recording.events:
        book.apply(event)
    assert book.depth[BID] == {_units(lv["price"]): _units(lv["size"]) for lv in last_book["bids"]}
    assert book.depth[ASK] == {_units(lv["price"]): _units(lv["size"]) for lv in last_book["asks"]}


def test_every_captured_event_type_becomes_its_row(tmp_path: Path) -> None:
    writer = RotatingParquetWriter(tmp_path)
    recorder = MarketRecorder(writer, now_ms=lambda: 1_739_068_041_900)
    for name in ("book.json", "price_change.json", "price_change_v2.json", "last_trade_price.json",
                 "tick_size_change.json", "best_bid_ask.json"):
        recorder.on_text((WS / name).read_text())
    writer.close()
    assert recorder.malformed == 0
    events = load_recording(tmp_path).events
    trade = next(e for e in events if e.kind == KIND_TRADE)
    assert (trade.price, trade.size, trade.side) == (491_000, 85_360_000, "SELL")
    tick = next(e for e in events if e.kind == KIND_TICK)
    assert (tick.old_tick, tick.new_tick) == (10_000, 1_000)


def test_malformed_frames_are_counted_and_skipped(tmp_path: Path) -> None:
    writer = RotatingParquetWriter(tmp_path)
    recorder = MarketRecorder(writer, now_ms=lambda: 1_700_000_000_000)
    recorder.on_text("not json{")
    recorder.on_text('{"event_type": "last_trade_price", "market": "0x' + "1" * 64 + '", "asset_id": "1"}')
    recorder.on_text('[42]')
    recorder.on_text("PONG")
    recorder.on_text((WS / "last_trade_price.json").read_text())
    writer.close()
    assert recorder.malformed == 3
    assert recorder.rows == 1
