"""The official client's `is_order_scoring` / `are_orders_scoring` on the paper bot's own ladder (issue 18).

A real paper run on loopback (wall clock: the official client is synchronous and runs in a worker
thread, as a user's script would). The bot's key is fixed for the test so the client derives the same
API credentials and asks about the bot's orders.
"""

from __future__ import annotations

import math

import pytest
import trio
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import OpenOrderParams, OrderScoringParams, OrdersScoringParams

import bot.main_job as main_job
from bot.main_job import run_bot
from settings import BotSettings
from statemachines.market import ExitReason

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# The paper run's own account (its key is made from the paper seed), so the official client sees its orders.
KEY = main_job.paper_key(7)
# Paper time starts at a fixed instant, so the market and its flow are the same every run: some windows'
# flow keeps the ladder out of the reward spread for minutes (from the wall clock's window, a loaded CI
# machine once found no scoring order in 100 s). In this one an order scores about 7 s in (re-taken when the
# rewards ladder stopped quoting the side ahead to score: the earlier instant's first scoring order came
# from that side).
PAPER_START_S = 1_800_001_800
RUN_LIMIT_S = 120.0


def _official_view(url: str, condition_id: str) -> tuple[list[str], dict[str, bool], dict[str, bool]]:
    client = ClobClient(url, key=KEY, chain_id=137, use_server_time=True)  # paper time runs ahead
    client.set_api_creds(client.create_or_derive_api_key())
    orders = [o["id"] for o in client.get_open_orders(OpenOrderParams(market=condition_id))]
    many = client.are_orders_scoring(OrdersScoringParams(orderIds=orders))
    one = {oid: client.is_order_scoring(OrderScoringParams(orderId=oid))["scoring"] for oid in orders}
    return orders, many, one


async def test_the_official_client_says_the_ladders_orders_score(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(main_job, "_paper_epoch_s",
                        lambda w: math.ceil(PAPER_START_S / w) * w - trio.current_time())
    settings = BotSettings(mode="paper", paper_window_s=300, quote_cutoff_s=30, paper_seed=7,
                           rewards_check_interval_s=2.0)
    with trio.fail_after(RUN_LIMIT_S):
        async with trio.open_nursery() as nursery:
            supervisor = await nursery.start(
                lambda task_status: run_bot(settings, duration_s=100, show_status=False, task_status=task_status)
            )
            # Wait until a ladder has rested past the (compressed) minimum rest and the estimator says
            # some of its orders score; then ask the venue through the official client. The answer is about
            # that moment's book: a re-price or a moved midpoint between our look and the client's calls
            # (seconds apart on a loaded machine) can end an order's scoring, so a look is retried (3 at most).
            attempts: list[tuple[list[str], dict[str, bool], dict[str, bool]]] = []
            while len(attempts) < 3:
                expected: list[str] = []
                runner = None
                while not expected and supervisor.stop_reason is None:
                    await trio.sleep(0.5)
                    for runner in list(supervisor.runners.values()):
                        expected = runner.incentives._expected_scoring()
                        if expected:
                            break
                assert expected and runner is not None, f"no order of ours scored before the run ended ({len(attempts)} looks)"
                url = supervisor.links.rest_url
                orders, many, one = await trio.to_thread.run_sync(_official_view, url, runner.info.condition_id)
                live = [oid for oid in expected if oid in orders]  # still resting when the client asked
                attempts.append((live, many, one))
                if live and all(many[oid] and one[oid] for oid in live):
                    break
            supervisor.stop(ExitReason.OPERATOR, "test done")
    live, many, one = attempts[-1]
    assert live, f"no scoring order of ours was still resting ({len(attempts)} looks)"
    assert all(many[oid] for oid in live), (many, attempts)
    assert all(one[oid] for oid in live), (one, attempts)
