"""The status screen, the plain lines, the display task and the end-of-run summary show what operators rely on."""

from __future__ import annotations

import io
import logging

import pytest
import trio
from rich.console import Console

from bot.engine.clock import VenueClock
from bot.engine.journal import NullJournal
from bot.engine.market import MarketRunner
from bot.engine.markets import MarketInfo
from bot.observability.snapshot import (
    BotStatus,
    LadderRow,
    MarketStatus,
    TokenStatus,
    market_status_from_runner,
)
from bot.observability.status import StatusDisplay, format_countdown, format_summary, plain_lines, render
from bot.protocol.book import OrderBook
from bot.protocol.constants import Side
from settings import BotSettings
from statemachines.order import Order, OrderTrigger

SLUG = "btc-updown-15m-1767225600"


def _market(*, slug: str = SLUG, block: str | None = "stale_book", to_cutoff_s: float = 83.4) -> MarketStatus:
    up = TokenStatus(
        token_id="111",
        outcome="Up",
        best_bid=0.48,
        best_ask=0.5,
        inventory_shares=10.0,
        avg_cost=0.47,
        ladder=(LadderRow(0, 0.47, 10.0, "live", 2.5), LadderRow(1, 0.46, 10.0, "pending", 0.0)),
    )
    down = TokenStatus(
        token_id="222",
        outcome="Down",
        best_bid=0.49,
        best_ask=0.51,
        inventory_shares=7.5,
        avg_cost=0.485,
        ladder=(LadderRow(0, 0.44, 10.0, "cancelling", 0.0),),
    )
    return MarketStatus(
        slug=slug,
        condition_id="0x" + "ab" * 32,
        state="quoting",
        block_reason=block,
        seconds_to_cutoff=to_cutoff_s,
        seconds_to_end=to_cutoff_s + 60,
        up=up,
        down=down,
        pair_cost=0.955,
        paired_shares=7.5,
        marked_pnl_pusd=0.3375,
        realised_pnl_pusd=0.0,
        orders_posted=12,
        orders_cancelled=6,
        rejects_expected=2,
        rejects_unexpected=1,
        fills=4,
        completions_sent=1,
        completions_filled=1,
        storms=0,
    )


def _status(*markets: MarketStatus) -> BotStatus:
    return BotStatus(
        now_s=1_767_225_000.0,
        mode="paper",
        markets=markets or (_market(),),
        heartbeat_age_s=1.25,
        ws_market_connected=True,
        ws_user_connected=False,
        ws_reconnects=3,
        loop_lag_ms=0.42,
        open_orders=3,
        finished_markets=2,
    )


def _screen(renderable: object) -> str:
    console = Console(record=True, width=120, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_screen_shows_state_countdowns_ladder_block_reason_and_health() -> None:
    text = _screen(render(_status()))
    for expected in (
        SLUG,
        "state quoting",
        "cutoff in 1m23s",
        "end in 2m23s",
        "block stale_book",
        "0.47",
        "0.46",
        "0.44",
        "cancelling",
        "bid 0.48 / ask 0.5",
        "inv 10 @ 0.4700",
        "pair cost 0.9550",
        "P&L marked +0.34",
        "2 expected / 1 unexpected",
        "heartbeat 1.2s ago",
        "ws market ok",
        "user DOWN",
        "loop lag 0.4 ms",
        "open orders 3",
    ):
        assert expected in text, f"{expected!r} missing from the screen:\n{text}"


def test_screen_says_none_when_nothing_blocks_quoting_and_passed_after_the_cutoff() -> None:
    text = _screen(render(_status(_market(block=None, to_cutoff_s=-5.0))))
    assert "block none" in text
    assert "cutoff in passed" in text


def test_venue_text_is_never_taken_as_rich_markup() -> None:
    text = _screen(render(_status(_market(slug="[bold]odd[/bold]-slug"))))
    assert "[bold]odd[/bold]-slug" in text


def test_plain_lines_are_key_value_pairs_one_per_market() -> None:
    lines = plain_lines(_status(_market(), _market(slug="eth-updown-15m-1767225600", block=None)))
    assert len(lines) == 3
    head, first, second = lines
    assert head.startswith("bot ")
    assert first.startswith("market ") and second.startswith("market ")
    for line in lines:
        assert all(token.count("=") >= 1 for token in line.split(" ")[1:]), line
    fields = dict(token.split("=", 1) for token in first.split(" ")[1:])
    assert fields["slug"] == SLUG
    assert fields["state"] == "quoting"
    assert fields["block"] == "stale_book"
    assert fields["cutoff_in_s"] == "83.4"
    assert fields["up_prices"] == "0.47,0.46"
    assert fields["down_orders"] == "1"
    assert fields["pair_cost"] == "0.955"
    assert fields["rejects_unexpected"] == "1"
    assert dict(token.split("=", 1) for token in second.split(" ")[1:])["block"] == "-"
    head_fields = dict(token.split("=", 1) for token in head.split(" ")[1:])
    assert head_fields == {
        "mode": "paper",
        "heartbeat_age_s": "1.25",
        "ws_market": "up",
        "ws_user": "down",
        "ws_reconnects": "3",
        "loop_lag_ms": "0.42",
        "open_orders": "3",
        "markets": "2",
        "finished_markets": "2",
    }


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-1.0, "passed"), (0.0, "passed"), (42.46, "42.5s"), (83.9, "1m23s"), (3723.0, "1h02m03s")],
)
def test_countdown_format(seconds: float, text: str) -> None:
    assert format_countdown(seconds) == text


def _runner_summary(market: str, **overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "market": market,
        "condition_id": "0x01",
        "state": "shutdown",
        "exit_reason": "market_end",
        "posted": 10,
        "accepted": 9,
        "rejected_expected": 1,
        "rejected_unexpected": 0,
        "cancelled": 7,
        "filled": 2,
        "open": 0,
        "fills": 3,
        "fills_reversed": 0,
        "up_shares": 10.0,
        "down_shares": 10.0,
        "paired_shares": 10.0,
        "pair_cost": 0.96,
        "completions_sent": 1,
        "completions_filled": 1,
        "marked_pnl_pusd": 0.4,
        "realised_pnl_pusd": 0.0,
        "cancel_all_runs": [("startup", 0.010, True), ("cutoff", 0.030, True)],
        "open_orders_left": 0,
        "storms": 0,
    }
    base.update(overrides)
    return base


def test_summary_totals_markets_and_reports_what_is_left_on_the_venue() -> None:
    summary = {
        "markets": [
            _runner_summary("m-1"),
            _runner_summary(
                "m-2",
                posted=20,
                rejected_unexpected=2,
                paired_shares=30.0,
                pair_cost=0.92,
                cancel_all_runs=[("exit", 0.020, True)],
            ),
        ],
        "open_orders_left": 0,
        "exit_reason": "signal",
        "duration_s": 305.0,
    }
    text = format_summary(summary)
    assert text.splitlines()[0] == "run summary: exit signal after 5m05s"
    assert "markets traded: 2" in text
    assert "orders posted: 30, cancelled: 14, rejected: 2 expected / 2 unexpected" in text
    assert "fills: 6" in text
    assert "pairs completed: 40 shares (completion orders 2 filled / 2 sent)" in text
    # Weighted by paired shares: (10 * 0.96 + 30 * 0.92) / 40.
    assert "average pair cost: 0.9300 pUSD" in text
    assert "P&L: realised +0.00 pUSD, marked at last mid +0.80 pUSD" in text
    assert "cancel-all: 3 runs, max 30.0 ms, median 20.0 ms, all verified: yes" in text
    assert "open orders left on venue: 0" in text
    assert "market=m-2" in text


def test_summary_flags_an_unverified_cancel_all_and_an_unchecked_venue() -> None:
    summary = {
        "markets": [_runner_summary("m-1", cancel_all_runs=[("exit", 10.0, False)], pair_cost=None)],
        "open_orders_left": None,
        "exit_reason": "crash",
        "duration_s": 12.0,
    }
    text = format_summary(summary)
    assert "all verified: NO (1 not verified)" in text
    assert "open orders left on venue: - (not checked)" in text
    assert "average pair cost: - pUSD" in text


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[float, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((trio.current_time(), record.getMessage()))


def _capture_logger(name: str) -> tuple[logging.Logger, _ListHandler]:
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = _ListHandler()
    logger.handlers[:] = [handler]
    return logger, handler


async def test_without_a_terminal_the_display_logs_plain_lines_every_interval(autojump_clock: object) -> None:
    logger, handler = _capture_logger("test.status.plain")
    display = StatusDisplay(plain_interval_s=10.0, tty=False, logger=logger)
    async with trio.open_nursery() as nursery:
        await nursery.start(display.run, lambda: _status())
        await trio.sleep(25.0)
        nursery.cancel_scope.cancel()
    assert sorted({t for t, _ in handler.lines}) == [0.0, 10.0, 20.0]
    assert len(handler.lines) == 3 * 2  # the bot line and one market line, three times
    assert handler.lines[1][1].startswith(f"market slug={SLUG} state=quoting")


async def test_a_failing_snapshot_is_logged_once_and_never_stops_the_display(autojump_clock: object) -> None:
    logger, handler = _capture_logger("test.status.failing")
    calls = 0

    def flaky() -> BotStatus:
        nonlocal calls
        calls += 1
        if calls <= 3:
            raise RuntimeError("runner gone")
        return _status()

    display = StatusDisplay(plain_interval_s=1.0, tty=False, logger=logger)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(display.run, flaky)
        await trio.sleep(4.5)
        nursery.cancel_scope.cancel()
    assert display.errors == 3
    assert display.frames == 2  # at t=3 and t=4
    messages = [m for _, m in handler.lines]
    assert messages.count("status display skipped a frame") == 1


async def test_on_a_terminal_the_display_redraws_every_refresh(autojump_clock: object) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    async with StatusDisplay(lambda: _status(), 0.25, console=console) as display:
        assert display.tty
        await trio.sleep(0.9)
    assert display.frames == 4  # t = 0, 0.25, 0.5, 0.75
    assert "cutoff in 1m23s" in out.getvalue()


async def test_the_context_manager_needs_a_status_source() -> None:
    with pytest.raises(ValueError, match="get_status"):
        async with StatusDisplay(tty=False):
            pass


class _Books:
    def __init__(self, books: dict[str, OrderBook]) -> None:
        self._books = books

    def book(self, token_id: str) -> OrderBook | None:
        return self._books.get(token_id)

    async def changed(self) -> None:
        await trio.sleep_forever()


async def test_snapshot_of_a_real_runner_shows_its_ladder_book_inventory_and_block(
    autojump_clock: object,
) -> None:
    clock = VenueClock(epoch_offset_s=1_767_225_000.0)
    start = clock.now_s()
    info = MarketInfo(
        condition_id="0x" + "cd" * 32,
        slug=SLUG,
        up_token_id="111",
        down_token_id="222",
        start_s=start,
        end_s=start + 900.0,
        tick_size="0.01",
    )
    up_book = OrderBook("111")
    up_book.set_level(Side.BUY, 480_000, 100_000_000)
    up_book.set_level(Side.SELL, 500_000, 80_000_000)
    up_book.needs_snapshot = False
    down_book = OrderBook("222")  # still waiting for its snapshot: no top of book shown
    down_book.set_level(Side.BUY, 400_000, 5_000_000)
    _, receive = trio.open_memory_channel[object](0)
    runner = MarketRunner(
        info,
        BotSettings(),
        gateway=object(),  # type: ignore[arg-type]  # never called: nothing here runs
        books=_Books({"111": up_book, "222": down_book}),
        user_events=receive,
        clock=clock,
        journal=NullJournal(),
    )
    order = Order(
        "0xorder",
        "111",
        side="BUY",
        price_micro=470_000,
        size_micro=10_000_000,
        order_type="GTD",
        created_at_s=start,
        level=0,
    )
    order.trigger(OrderTrigger.ACCEPTED, at_s=start)
    order.trigger(OrderTrigger.PARTIALLY_FILLED, matched_micro=4_000_000, at_s=start)
    runner.manager.adopt(order)
    runner.inventory.seed("111", 4_000_000, 1_880_000)

    await trio.sleep(100.0)
    status = market_status_from_runner(runner, clock.now_s())

    assert status.slug == SLUG and status.state == "starting"
    assert status.block_reason == "not_started"
    assert status.seconds_to_cutoff == pytest.approx(900.0 - 60.0 - 100.0)
    assert status.seconds_to_end == pytest.approx(800.0)
    assert status.up.ladder == (LadderRow(0, 0.47, 10.0, "live", 4.0),)
    assert (status.up.best_bid, status.up.best_ask) == (0.48, 0.50)
    assert (status.down.best_bid, status.down.best_ask) == (None, None)
    assert status.up.inventory_shares == 4.0 and status.up.avg_cost == pytest.approx(0.47)
    assert status.down.ladder == () and status.pair_cost is None
    assert status.open_orders == 1
    text = _screen(render(_status(status)))
    assert "not_started" in text and "cutoff in 12m20s" in text


def test_a_display_on_a_file_that_is_no_terminal_uses_plain_lines() -> None:
    assert StatusDisplay(out=io.StringIO()).tty is False
    assert StatusDisplay(console=Console(file=io.StringIO(), force_terminal=True)).tty is True
    with pytest.raises(ValueError, match="not both"):
        StatusDisplay(console=Console(), out=io.StringIO())


# --- issue 17: a screen that fits, per-side blocks, an honest summary ---------------------------------


def _screen_at(renderable: object, width: int) -> list[str]:
    console = Console(record=True, width=width, color_system=None)
    console.print(renderable)
    return console.export_text().splitlines()


def _wide_market() -> MarketStatus:
    """Numbers as wide as a real market shows: long inventories, five levels a side."""
    rows = tuple(LadderRow(i, 0.47 - i / 100, 123.45, "cancelling", 12.3456) for i in range(5))
    up = TokenStatus("111", "Up", 0.4825, 0.4975, 1234.5678, 0.4712, rows, block_reason="inventory_cap")
    down = TokenStatus("222", "Down", 0.5025, 0.5175, 51.74, 0.5536, rows)
    base = _market(block=None)
    return MarketStatus(**{**{f: getattr(base, f) for f in base.__slots__}, "up": up, "down": down})


@pytest.mark.parametrize("width", [60, 80, 120])
def test_the_screen_fits_its_width_and_no_ladder_row_is_wrapped(width: int) -> None:
    status = BotStatus(**{**{f: getattr(_status(), f) for f in BotStatus.__slots__},
                          "markets": (_wide_market(),), "dry_run": True,
                          "notes": ("no market found for series btc-updown-15m: tried btc-updown-15m-1, "
                                    "btc-updown-15m-2 (window 900 s assumed)",),
                          "stop_hint": "ends after 2 markets (--duration S, --markets N, --forever); Ctrl-C stops"})
    lines = _screen_at(render(status, width), width)
    assert all(len(line) <= width for line in lines), "\n".join(lines)
    full = f"{0:>3} {'0.47':>7} {'123.45':>8} {'cancelling':<17} {'12.3456':>8}"
    compact = f"{'0.47':>6} {'123.45':>7} {'cancelling':<10} {'12.3456':>7}"
    row = full if width != 80 else compact
    # Every order row whole on one line: both sides on one line at 120 (full columns) and 80 (compact
    # columns), one side per line when stacked at 60.
    holding = [line for line in lines if row in line]
    assert len(holding) == (2 if width == 60 else 1), "\n".join(lines)
    if width != 60:
        assert holding[0].count(row) == 2
    text = "\n".join(lines)
    assert "DRY RUN" in text and "no market found for series" in text and "Ctrl-C stops" in text


def test_a_rollover_fits_80_by_24() -> None:
    """Two markets during a rollover: the old one past its cutoff (no orders), the new one quoting."""
    old = _wide_market()
    empty = {"ladder": (), "block_reason": None}
    old = MarketStatus(**{**{f: getattr(old, f) for f in old.__slots__}, "state": "cutoff", "block_reason": "cutoff",
                          "up": TokenStatus(**{**{f: getattr(old.up, f) for f in TokenStatus.__slots__}, **empty}),
                          "down": TokenStatus(**{**{f: getattr(old.down, f) for f in TokenStatus.__slots__},
                                                 **empty})})
    rows = tuple(LadderRow(i, 0.47 - i / 100, 10.0, "live", 0.0) for i in range(3))
    new = _wide_market()
    new = MarketStatus(**{**{f: getattr(new, f) for f in new.__slots__},
                          "up": TokenStatus(**{**{f: getattr(new.up, f) for f in TokenStatus.__slots__},
                                               "ladder": rows}),
                          "down": TokenStatus(**{**{f: getattr(new.down, f) for f in TokenStatus.__slots__},
                                                 "ladder": rows})})
    status = BotStatus(**{**{f: getattr(_status(), f) for f in BotStatus.__slots__}, "markets": (old, new),
                          "stop_hint": "ends after 2 markets (--duration S, --markets N, --forever); "
                                       "Ctrl-C stops, cancelling every order first"})
    lines = _screen_at(render(status, 80), 80)
    assert len(lines) <= 24 and all(len(line) <= 80 for line in lines), "\n".join(lines)


def test_a_side_blocked_by_the_skew_cap_says_so_while_the_market_quotes() -> None:
    text = "\n".join(_screen_at(render(_status(_wide_market()), 80), 80))
    assert "block inventory_cap" in text  # the Up side, capped
    assert "block none" in text  # the market and the Down side
    plain = plain_lines(_status(_wide_market()))[1]
    assert "up_block=inventory_cap" in plain and "down_block=-" in plain


def test_waiting_for_a_window_shows_market_data_idle_not_down() -> None:
    idle = BotStatus(**{**{f: getattr(_status(), f) for f in BotStatus.__slots__}, "markets": (),
                        "ws_market_connected": False, "ws_market_tokens": 0})
    text = "\n".join(_screen_at(render(idle, 80), 80))
    assert "ws market idle (no market subscribed yet)" in text and "ws market DOWN" not in text


def test_summary_marks_unsold_shares_at_the_last_mid_lists_them_unresolved_and_labels_a_dry_run() -> None:
    market = _runner_summary("m-1", up_shares=60.0, down_shares=10.0, paired_shares=10.0, marked_pnl_pusd=-4.22,
                             liquidation_pnl_pusd=-6.5, unresolved_up_shares=50.0, unresolved_down_shares=0.0,
                             mark_up=0.41, mark_down=0.58)
    text = format_summary({"markets": [market], "open_orders_left": 0, "exit_reason": "market_end",
                           "duration_s": 300.0, "venue_fills": 2, "dry_run": True})
    assert text.splitlines()[0].startswith("run summary (DRY RUN: nothing was sent to the venue)")
    assert "orders computed (not sent): 10" in text
    assert "marked at last mid -4.22 pUSD, at best bid (liquidation) -6.50 pUSD" in text
    assert "unresolved position: m-1 Up 50 shares (marked at last mid 0.4100" in text
    assert "Down 0 shares" not in text
    assert "fills in the venue's trade records since this run started: 2 (DIFFER from ours (3))" in text
