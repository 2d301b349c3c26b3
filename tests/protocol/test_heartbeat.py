"""The dead-man's switch on the fake clock against an in-memory venue: cadence, chaining, adoption, lapse."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
import trio

from bot.protocol.auth import ApiCreds
from bot.protocol.heartbeat import Heartbeat
from bot.protocol.rest import ClobRestClient

CREDS = ApiCreds("key-1", base64.urlsafe_b64encode(b"k" * 32).decode(), "pass")
INTERVAL_S = 5.0


class HeartbeatVenue:
    """A venue's /v1/heartbeats: issues hb-1, hb-2, ... and demands the latest id, like spec 1.4."""

    def __init__(self) -> None:
        self.log: list[tuple[float, str]] = []  # (virtual time, id sent)
        self.expected = ""
        self.issued = 0
        self.down_until = -1.0  # answer 500 before this virtual time
        self.hang_until = -1.0  # never answer before this virtual time

    async def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/heartbeats"
        sent = json.loads(request.content)["heartbeat_id"]
        now = trio.current_time()
        self.log.append((now, sent))
        if now < self.hang_until:
            await trio.sleep_forever()
        if now < self.down_until:
            return httpx.Response(500, json={"error": "internal"})
        if sent != self.expected:
            return httpx.Response(
                400, json={"error_msg": "Invalid Heartbeat ID", "heartbeat_id": self.expected}
            )
        self.issued += 1
        self.expected = f"hb-{self.issued}"
        return httpx.Response(200, json={"heartbeat_id": self.expected})

    def client(self) -> ClobRestClient:
        return ClobRestClient(
            "http://clob.test",
            address="0x" + "1" * 40,
            creds=CREDS,
            transport=httpx.MockTransport(self.handle),
            time_s=lambda: 0,
        )


async def run_for(hb: Heartbeat, seconds: float) -> Any:
    async with trio.open_nursery() as nursery:
        started = await nursery.start(hb.run)
        await trio.sleep(seconds)
        nursery.cancel_scope.cancel()
    return started


async def test_beats_at_exact_times_and_chain_the_returned_ids(autojump_clock: trio.abc.Clock) -> None:
    venue = HeartbeatVenue()
    async with venue.client() as client:
        hb = Heartbeat(client, interval_s=INTERVAL_S, max_failures=2, beat_timeout_s=2.0)
        assert await run_for(hb, 21.0) is True
    assert venue.log == [(0.0, ""), (5.0, "hb-1"), (10.0, "hb-2"), (15.0, "hb-3"), (20.0, "hb-4")]
    assert hb.last_ok_time == 20.0
    assert hb.armed
    stats = hb.statistics()
    assert (stats.beats_sent, stats.beats_ok, stats.failures, stats.lapsed) == (5, 5, 0, False)


async def test_a_stale_id_is_replaced_by_the_expected_one_and_resent_at_once(
    autojump_clock: trio.abc.Clock,
) -> None:
    venue = HeartbeatVenue()
    async with venue.client() as client:
        hb = Heartbeat(client, interval_s=INTERVAL_S, beat_timeout_s=2.0)
        async with trio.open_nursery() as nursery:
            await nursery.start(hb.run)
            await trio.sleep(6.0)
            venue.expected = "hb-other"  # e.g. another process on the same key moved the chain
            await trio.sleep(5.0)
            nursery.cancel_scope.cancel()
    assert venue.log == [(0.0, ""), (5.0, "hb-1"), (10.0, "hb-2"), (10.0, "hb-other")]
    assert hb.consecutive_failures == 0
    assert hb.statistics().adoptions == 1
    assert not hb.lapsed.is_set()


async def test_the_first_beat_of_a_restarted_bot_adopts_the_live_chain(
    autojump_clock: trio.abc.Clock,
) -> None:
    venue = HeartbeatVenue()
    venue.expected = "hb-from-before"
    async with venue.client() as client:
        hb = Heartbeat(client, interval_s=INTERVAL_S, beat_timeout_s=2.0)
        assert await run_for(hb, 1.0) is True
    assert venue.log == [(0.0, ""), (0.0, "hb-from-before")]


async def test_lapse_is_reported_after_max_failures_in_a_row(autojump_clock: trio.abc.Clock) -> None:
    venue = HeartbeatVenue()
    venue.down_until = 100.0
    lapsed_at: list[float] = []
    async with venue.client() as client:
        hb = Heartbeat(client, interval_s=INTERVAL_S, max_failures=3, beat_timeout_s=2.0)
        async with trio.open_nursery() as nursery:
            await nursery.start(hb.run)
            await hb.lapsed.wait()
            lapsed_at.append(trio.current_time())
            nursery.cancel_scope.cancel()
    # Beats at 0, 5, 10 all fail: the third failure in a row (t=10) sets `lapsed`.
    assert lapsed_at == [10.0]
    assert hb.consecutive_failures == 3
    assert hb.last_ok_time is None and not hb.armed
    assert "server_error" in (hb.statistics().last_error or "")


async def test_a_success_resets_the_failure_count(autojump_clock: trio.abc.Clock) -> None:
    venue = HeartbeatVenue()
    async with venue.client() as client:
        hb = Heartbeat(client, interval_s=INTERVAL_S, max_failures=2, beat_timeout_s=2.0)
        async with trio.open_nursery() as nursery:
            await nursery.start(hb.run)
            venue.down_until = 6.0  # the beat at 5 fails, the one at 10 succeeds
            await trio.sleep(12.0)
            assert hb.consecutive_failures == 0
            venue.down_until = 26.0  # beats at 15, 20, 25 fail
            await hb.lapsed.wait()
            assert trio.current_time() == 20.0
            nursery.cancel_scope.cancel()
    stats = hb.statistics()
    assert (stats.beats_ok, stats.failures) == (2, 3)
    assert hb.last_ok_time == 10.0


async def test_a_beat_that_hangs_is_cut_at_its_timeout_and_counts_as_a_failure(
    autojump_clock: trio.abc.Clock,
) -> None:
    venue = HeartbeatVenue()
    venue.hang_until = 6.0  # the beats at 0 and 5 never answer
    async with venue.client() as client:
        hb = Heartbeat(client, interval_s=INTERVAL_S, max_failures=2, beat_timeout_s=2.0)
        async with trio.open_nursery() as nursery:
            started = await nursery.start(hb.run)
            assert started is False
            assert trio.current_time() == 2.0
            await hb.lapsed.wait()
            assert trio.current_time() == 7.0
            await trio.sleep(4.0)
            nursery.cancel_scope.cancel()
    # The chain recovers at 10 but `lapsed` stays set: the venue may already have cancelled our orders.
    assert [t for t, _ in venue.log] == [0.0, 5.0, 10.0]
    assert hb.lapsed.is_set() and hb.armed
    assert "timeout" in (hb.statistics().last_error or "")


async def test_an_overrunning_beat_skips_to_the_next_slot_ahead(autojump_clock: trio.abc.Clock) -> None:
    venue = HeartbeatVenue()
    venue.hang_until = 1.0  # the first beat hangs for its whole 7 s timeout, past the slot at 5
    async with venue.client() as client:
        hb = Heartbeat(client, interval_s=INTERVAL_S, max_failures=5, beat_timeout_s=7.0)
        started = await run_for(hb, 9.0)  # started at 7, runs to 16
    assert started is False
    assert [t for t, _ in venue.log] == [0.0, 10.0, 15.0]


def test_defaults_come_from_settings_and_bad_values_are_refused() -> None:
    from settings.model import BotSettings

    hb = Heartbeat(HeartbeatVenue().client())
    assert f"interval_s={BotSettings.model_fields['heartbeat_interval_s'].default}" in repr(hb)
    with pytest.raises(ValueError):
        Heartbeat(HeartbeatVenue().client(), max_failures=0)
