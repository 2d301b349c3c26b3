"""Issue-12 safety scenarios: a journal that fails, a venue that keeps refusing cancels, the storm rebuild
outside the user-event consumer, reconciliation racing WS events, loud refused transitions.

Each test reproduces a finding of the review against the real supervisor and runners on the in-process
simulator and Trio's fake clock, with faults the simulator (or the OS) really produces.
"""

from __future__ import annotations

import errno
import logging
import os

import pytest
import trio

from bot.engine import illegal
from bot.engine.journal import Journal, JournalOpenError, open_journal
from bot.exit_codes import EXIT_CANCEL_UNVERIFIED, EXIT_JOURNAL, exit_code_for, most_severe
from bot.sim.faults import HttpFault
from statemachines.market import ExitReason
from statemachines.order import Order, OrderTrigger
from tests.scenarios.harness import QUIET_FLOW, scenario

QUIET = dict(flow=QUIET_FLOW, window_s=100, quote_cutoff_s=30.0, stale_book_s=600.0)


# --- 1. a journal that cannot be written -----------------------------------------------------------


async def test_a_journal_that_stops_accepting_writes_stops_every_market_with_zero_orders(autojump_clock, tmp_path):
    path = tmp_path / "journal.jsonl"
    async with scenario(journal_path=path, **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        await trio.sleep(1.0)
        assert len(sc.our_open_orders()) == 6
        journal = sc.journal
        assert isinstance(journal, Journal)
        # From now on the journal's descriptor is /dev/full: every write fails with ENOSPC, for real.
        full = os.open("/dev/full", os.O_WRONLY)
        os.dup2(full, journal._fd)
        os.close(full)
        failed_at = trio.current_time()
        sc.trader().limit(runner.info.up_token_id, "BUY", 0.50, 5)  # the bot reprices: it must journal
        with trio.fail_after(60):
            await sc.done.wait()
    assert journal.failure is not None and journal.failure.errno == errno.ENOSPC
    assert sc.reason is ExitReason.JOURNAL and exit_code_for(sc.reason) == EXIT_JOURNAL
    assert sc.our_open_orders() == []
    why, duration_s, verified = runner.stats.cancel_all_runs[-1]
    assert why == "exit" and verified
    assert trio.current_time() - failed_at <= sc.settings.cancel_all_timeout_s + 2.0
    assert journal.lines_dropped > 0


def test_a_journal_path_that_cannot_be_opened_is_a_configuration_error_naming_it(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(JournalOpenError, match="not-a-dir"):
        open_journal(blocker / "journal.jsonl", lambda: 0.0)


def test_reopen_after_a_rotation_appends_to_a_new_file(tmp_path):
    path = tmp_path / "journal.jsonl"
    journal = open_journal(path, lambda: 1.0)
    journal.write("a")
    path.rename(tmp_path / "journal.jsonl.1")  # logrotate's move, then SIGHUP
    assert journal.reopen()
    journal.write("b")
    journal.close()
    assert "\"a\"" in (tmp_path / "journal.jsonl.1").read_text()
    assert "\"b\"" in path.read_text() and "\"a\"" not in path.read_text()


def test_a_failed_write_is_reported_once_and_never_raises(tmp_path):
    seen: list[OSError] = []
    journal = open_journal(tmp_path / "j.jsonl", lambda: 0.0, on_failure=seen.append)
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, journal._fd)
    os.close(full)
    for _ in range(3):
        journal.write("x", n=1)
    assert len(seen) == 1 and seen[0].errno == errno.ENOSPC
    assert journal.lines_dropped == 3
    assert not journal.reopen()  # a failed journal stays failed: its trail has a gap
    journal.close()


def test_a_batch_of_lines_is_one_write_in_order_scrubbed_and_dropped_whole_on_failure(tmp_path, monkeypatch):
    """`write_many` (a POST's orders): the same lines `write` gives, in order, in one `os.write`."""
    import orjson

    path = tmp_path / "journal.jsonl"
    journal = open_journal(path, lambda: 2.0)
    writes: list[int] = []
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: writes.append(len(data)) or real_write(fd, data))
    journal.write_many("post", [{"order": {"n": n}} for n in range(10)])
    journal.write_many("post", [{"order": {"n": 10}, "secret": "s3cret"}, {"order": {"n": 11}}])
    journal.write_many("post", [])
    assert len(writes) == 2 and journal.lines_written == 12
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [line["order"]["n"] for line in lines] == list(range(12))
    assert {(line["t"], line["kind"]) for line in lines} == {(2.0, "post")}
    assert lines[10]["secret"] == "<redacted>" and b"s3cret" not in path.read_bytes()
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, journal._fd)
    os.close(full)
    journal.write_many("post", [{"order": {"n": n}} for n in range(3)])
    assert journal.failure is not None and journal.lines_dropped == 3 and journal.lines_written == 12
    journal.close()


# --- 2. a cancel-all bounded by its caller's deadline, with backoff --------------------------------


async def test_a_venue_refusing_cancels_from_the_cutoff_on_sees_a_bounded_backing_off_cancel_all(autojump_clock):
    async with scenario(record=True, **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        cutoff = sc.clock.to_trio(runner.cutoff_s)
        end = sc.clock.to_trio(runner.info.end_s)
        await trio.sleep_until(cutoff - 0.5)
        assert sc.our_open_orders()
        # From just before the cutoff on, every cancel and every open-orders listing answers 500.
        sc.sim.admin.http.append(HttpFault(kind="status", status=500, families=["cancels", "data"], count=100_000))
        with trio.fail_after(end + 120.0):
            await sc.done.wait()
        deletes = [r for r in sc.http.of("DELETE", "/cancel-market-orders") if r.t >= cutoff]
        gets = [r for r in sc.http.of("GET", "/data/orders") if r.t >= cutoff]
        # 30 s to the end, then the 10 s exit bound: doubling pauses from 0.2 s capped at 5 s, not 0.2 s.
        assert 3 <= len(deletes) <= 25 and len(gets) <= 25
        assert runner.stats.cancel_all_runs[0][0] == "startup"
        cutoff_run = next(run for run in runner.stats.cancel_all_runs if run[0] == "cutoff")
        assert cutoff_run[2] is False and cutoff_run[1] <= end - cutoff + 0.01
        # The runner did not spin forever: it stopped at the market's end and the supervisor escalated.
        assert sc.reason is ExitReason.CANCEL_UNVERIFIED
        assert exit_code_for(sc.reason) == EXIT_CANCEL_UNVERIFIED
        # Heartbeats were stopped on purpose: the venue's dead-man switch cleared the book.
        assert sc.our_open_orders() == []


# --- 3. exit reasons by severity -------------------------------------------------------------------


@pytest.mark.parametrize("masking", [ExitReason.SIGNAL, ExitReason.OPERATOR, ExitReason.MARKET_END])
@pytest.mark.parametrize("severe", [ExitReason.CRASH, ExitReason.STORM, ExitReason.JOURNAL,
                                    ExitReason.CANCEL_UNVERIFIED])
def test_a_severe_reason_outranks_signal_operator_and_duration(masking, severe):
    assert most_severe([masking, severe]) is severe
    assert most_severe([severe, masking]) is severe
    assert exit_code_for([masking, severe]) == exit_code_for(severe) != 0


# --- 5. refused transitions are loud -----------------------------------------------------------------


def test_a_refused_transition_raises_in_tests_and_warns_and_counts_in_production(caplog):
    from bot.engine.order_manager import ManagerParams, OrderManager

    manager = OrderManager(
        condition_id="0xabc", params=ManagerParams(3, 0, 10.0, 15, 1000, 1.0, False), gateway=None,  # type: ignore[arg-type]
        clock_s=lambda: 0.0, journal=type("J", (), {"write": lambda *a, **k: None})(),
        on_failure=lambda _o: None, on_success=lambda: None,
    )
    order = Order("0x01", "tok", side="BUY", price_micro=500_000, size_micro=5_000_000, order_type="GTC", created_at_s=0.0, level=0)
    manager.register(order)
    manager.transition(order, OrderTrigger.REJECTED_EXPECTED, reason="post-only would cross")
    with pytest.raises(illegal.IllegalTransition):
        manager.transition(order, OrderTrigger.ACCEPTED, reason="late placement")
    illegal.set_strict(False)
    try:
        before = illegal.illegal_transitions()
        with caplog.at_level(logging.WARNING, logger="bot.engine.illegal"):
            assert manager.transition(order, OrderTrigger.ACCEPTED, reason="late placement") is False
        assert illegal.illegal_transitions() == before + 1
        assert any("refused transition" in r.message and "rejected_expected" in r.message for r in caplog.records)
    finally:
        illegal.set_strict(True)


def test_a_post_of_unknown_outcome_is_a_state_of_the_order_machine():
    order = Order("0x02", "tok", side="BUY", price_micro=500_000, size_micro=5_000_000, order_type="GTC", created_at_s=0.0, level=0)
    assert order.trigger(OrderTrigger.OUTCOME_UNKNOWN).value == "unknown"
    assert order.is_open
    # A cancel by id settles nothing; evidence does.
    assert order.trigger(OrderTrigger.CANCEL_REQUESTED).value == "unknown"
    assert order.trigger(OrderTrigger.ACCEPTED).value == "live"


# --- cancels are journaled after they are sent, under the request's own kind ---------------------------


async def test_a_cancel_answer_with_refused_ids_is_journaled_under_its_request_kind():
    from bot.engine.gateway import VenueGateway
    from bot.protocol.auth import ApiCreds
    from bot.protocol.errors import RejectKind
    from bot.protocol.rest import CancelResult
    from bot.protocol.signing import OrderSigner
    from tests.scenarios.harness import TEST_PRIVATE_KEY, MemoryJournal

    class _Rest:
        async def cancel_orders(self, ids):
            return CancelResult(canceled=[ids[0]], not_canceled={ids[1]: "order not found"},
                                not_canceled_kinds={ids[1]: RejectKind.NOT_FOUND})

    journal = MemoryJournal(lambda: 0.0)
    gateway = VenueGateway(_Rest(), OrderSigner(TEST_PRIVATE_KEY), ApiCreds("k", "s", "p"),  # type: ignore[arg-type]
                           request_timeout_s=1.0, journal=journal)
    outcome = await gateway.cancel_ids(["0xa", "0xb"])
    assert outcome.canceled == ["0xa"] and outcome.not_found == {"0xb": "order not found"}
    (line,) = journal.records
    assert line["kind"] == "cancel" and line["order_ids"] == ["0xa", "0xb"] and line["canceled"] == ["0xa"]
