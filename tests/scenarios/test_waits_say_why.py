"""Every wait says why (issue 17, finding 2): a live run whose series window does not match the venue's
trades nothing, and says so, naming the slugs it tried and the window it assumed; waiting for the next
window is said too, and shown on the screen."""

import logging

import trio

from statemachines.market import ExitReason
from tests.scenarios.harness import TEST_PRIVATE_KEY, scenario


async def test_a_wrong_series_window_is_said_with_the_slugs_tried_and_the_window_assumed(autojump_clock, caplog):
    caplog.set_level(logging.INFO, logger="bot.engine.supervisor")
    # The venue's windows are 70 s long; the bot is told 900 s (BOT_SERIES_WINDOW_S), so it looks for slugs
    # the venue does not list (900 s boundaries are no 70 s boundaries here).
    async with scenario(window_s=70, mode="live", private_key=TEST_PRIVATE_KEY, series_window_s=900,
                        max_markets=None) as sc:
        async with trio.open_nursery() as nursery:
            async def stop_later():
                await trio.sleep(150.0)
                sc.supervisor.stop(ExitReason.OPERATOR, "test over")

            nursery.start_soon(stop_later)
            await sc.supervisor.run()
        said = [r.getMessage() for r in caplog.records if "no market found for series" in r.getMessage()]
        # Once after the grace, then once a minute while it lasts: never silent, never a flood.
        assert 1 <= len(said) <= 3, said
        assert "btc-updown-15m-" in said[0] and "window 900 s assumed, from BOT_SERIES_WINDOW_S" in said[0]
        assert sc.supervisor.stats.markets_started == 0


async def test_waiting_for_the_next_window_is_said_and_shown(autojump_clock, caplog):
    caplog.set_level(logging.INFO, logger="bot.engine.supervisor")
    async with scenario(window_s=100, max_markets=None, rollover_lead_s=5.0) as sc:
        notes: list[tuple[str, ...]] = []
        async with trio.open_nursery() as nursery:
            async def watch():
                while True:
                    await trio.sleep(1.0)
                    notes.append(sc.supervisor.waits.current())

            async def stop_later():
                await trio.sleep(150.0)
                sc.supervisor.stop(ExitReason.OPERATOR, "test over")
                nursery.cancel_scope.cancel()

            # Start 50 s into a 100 s window: its cutoff (60 s before its end) has passed, so the bot waits for
            # the next window, whose runner starts 5 s before it opens.
            await trio.sleep(50.0)
            nursery.start_soon(watch)
            nursery.start_soon(stop_later)
            await sc.supervisor.run()
        assert any("waiting for the next window" in r.getMessage() for r in caplog.records)
        assert any(any("waiting for the next window" in n for n in ns) for ns in notes)
