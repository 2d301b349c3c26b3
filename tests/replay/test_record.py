"""`record` against the simulator's market channel, and a backtest of what it wrote."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing

from bot.cli import main as cli_main
from bot.record import MarketRecorder, record_channel
from bot.replay.backtest import BacktestConfig, run_backtest
from bot.replay.matcher import ASK, BID, ReplayBook
from bot.replay.queue import queue_model
from bot.replay.reader import KIND_BOOK, KIND_PRICE_CHANGE, KIND_TRADE, load_recording
from bot.replay.report import summarise
from bot.replay.writer import RotatingParquetWriter
from bot.sim.flow import SeriesSchedule
from bot.sim.server import open_inprocess_sim
from bot.sim.venue import SimVenue
from bot.sim.wire import UNIT
from settings import BotSettings

EPOCH_S = 1_800_000_000 - 1_800_000_000 % 900
RECORD_S = 40.0


def _record(out: Path) -> dict:
    """Record the simulator's first market for RECORD_S on the fake clock; the venue's final Up book."""

    async def main() -> dict:
        venue = SimVenue(clock_epoch_s=EPOCH_S, seed=3,
                         series=[SeriesSchedule(asset="btc", window_s=300, nominal_minutes=15, seed=3)])
        writer = RotatingParquetWriter(out)
        recorder = MarketRecorder(writer, now_ms=lambda: int(round((EPOCH_S + trio.current_time()) * 1000)))
        async with open_inprocess_sim(venue, seed=3, run_venue=False) as sim, trio.open_nursery() as nursery:
            spec = venue.exchange.markets()[0]
            venue_scope = trio.CancelScope()

            async def run_venue() -> None:
                with venue_scope:
                    await venue.run()

            nursery.start_soon(run_venue)
            nursery.start_soon(record_channel, sim.connector, sim.ws_market_url,
                               [spec.yes_token_id, spec.no_token_id], recorder)
            await trio.sleep(RECORD_S)
            venue_scope.cancel()  # the market stops moving; what it sent drains to the recorder
            await trio.sleep(1.0)
            final = venue.exchange.book(spec.yes_token_id)
            nursery.cancel_scope.cancel()
        writer.close()
        return {"spec": spec, "final": final, "recorder": recorder}

    return trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("rec")
    return out, _record(out)


def test_record_writes_every_market_channel_event_in_the_pmxt_v2_schema(recorded) -> None:
    out, info = recorded
    recorder, spec = info["recorder"], info["spec"]
    assert recorder.malformed == 0 and recorder.rows > 0
    recording = load_recording(out)
    assert len(recording.events) == recorder.rows
    assert set(recording.markets) == {spec.condition_id}
    assert set(recording.markets[spec.condition_id]) == {spec.yes_token_id, spec.no_token_id}
    kinds = {event.kind for event in recording.events}
    assert {KIND_BOOK, KIND_PRICE_CHANGE, KIND_TRADE} <= kinds
    # The recorded depth, replayed, is the venue's book as it was when recording stopped.
    book = ReplayBook(spec.yes_token_id, spec.no_token_id, queue_model("conservative"))
    for event in recording.events:
        book.apply(event)
    venue_bids = {round(float(lv["price"]) * UNIT): round(float(lv["size"]) * UNIT) for lv in info["final"]["bids"]}
    venue_asks = {round(float(lv["price"]) * UNIT): round(float(lv["size"]) * UNIT) for lv in info["final"]["asks"]}
    assert book.depth[BID] == venue_bids
    assert book.depth[ASK] == venue_asks


def test_the_production_engine_backtests_a_recording_deterministically(recorded) -> None:
    out, info = recorded
    settings = BotSettings(mode="paper", ladder_levels=2, size_per_level_shares=5.0, quote_cutoff_s=10.0,
                           top_offset_ticks=0)
    config = BacktestConfig(data=out, settings=settings, seed=1)
    first, second = summarise(run_backtest(config)), summarise(run_backtest(config))
    assert first["market"] == info["spec"].condition_id
    assert first["exit_reason"] == "market_end"
    assert first["orders_placed"] > 0
    for key in ("fill_list", "pnl_pusd", "orders_placed", "orders_cancelled", "series"):
        assert first[key] == second[key]


def test_backtest_command_prints_json_and_writes_the_report_next_to_the_data(recorded, capsys) -> None:
    out, _ = recorded
    code = cli_main(["backtest", str(out), "--json", "--latency", "20ms"])
    assert code == 0
    text = capsys.readouterr().out
    assert '"exit_reason":"market_end"' in text
    reports = list(out.glob("backtest-*.html"))
    page = reports[0].read_text() if len(reports) == 1 else ""
    assert page.count("<svg") == 3 and "<tr><td>spread</td><td>" in page


def test_backtest_and_sweep_refuse_bad_input_with_exit_2(tmp_path: Path, capsys) -> None:
    assert cli_main(["backtest", str(tmp_path / "missing")]) == 2
    assert "no recorded data" in capsys.readouterr().err
    assert cli_main(["backtest", str(tmp_path)]) == 2  # a folder without recordings
    assert "holds no events" in capsys.readouterr().err
    assert cli_main(["backtest", str(tmp_path), "--latency", "not-a-latency-or-file"]) == 2
    assert cli_main(["sweep", str(tmp_path), "--grid", "ladder_levels"]) == 2
    assert "expected name=v1,v2" in capsys.readouterr().err
