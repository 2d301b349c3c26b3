"""The venue-side bench stamps (issue 14 §2): market frames as they are written, requests at their first
bytes read, on the simulator's own clock; bounded, and taken (read and forgotten) by the benchmark.

The hub's hook runs on the in-process simulator (fake clock); the request stamps on the loopback listener
with real sockets, the only place hypercorn's connection class is used.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from urllib.parse import urlsplit

import httpx
import pytest
import trio
import trio.testing

from bot.sim import bench_stamps
from bot.sim.bench_stamps import VenueStamps, install_venue_stamps
from bot.sim.flow import build_order
from bot.sim.model import MarketSpec
from bot.sim.server import open_inprocess_sim, serve_loopback
from bot.sim.venue import SimVenue

EPOCH_S = 1_800_000_000.0
ADDRESS = "0x00000000000000000000000000000000000000a1"
SPEC = MarketSpec(condition_id=f"0x{1:064x}", question="market 1", slug="btc-updown-15m-1", yes_token_id="101",
                  no_token_id="102", start_ts=EPOCH_S, end_ts=EPOCH_S + 900, accepting_orders_ts=EPOCH_S - 100)


@pytest.fixture
def ticking_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stamps' monotonic clock as 1.0, 2.0, 3.0, ... (one second per stamp)."""
    ticks = iter(range(1, 1_000_000))
    monkeypatch.setattr(bench_stamps, "time", SimpleNamespace(monotonic=lambda: float(next(ticks))))


def test_market_frames_are_stamped_with_whether_they_carry_a_price_change(ticking_clock: None) -> None:
    stamps = VenueStamps()
    stamps.frame_written("user", json.dumps({"event_type": "order"}))
    stamps.frame_written("market", json.dumps([{"event_type": "book", "asset_id": "101"}]))
    stamps.frame_written("market", json.dumps({"event_type": "price_change", "price_changes": []}))
    assert stamps.take() == {"frames": [(1.0, False), (2.0, True)], "requests": [], "dropped": 0}
    assert stamps.take() == {"frames": [], "requests": [], "dropped": 0}  # taken means forgotten


def test_a_request_is_stamped_at_its_request_line_never_at_the_rest_of_it(ticking_clock: None) -> None:
    stamps = VenueStamps()
    stamps.chunk_read(b"DELETE /orders HTTP/1.1\r\nhost: venue\r\ncontent-length: 70\r\n\r\n")
    stamps.chunk_read(b'["0x00000000000000000000000000000000000000000000000000000000000000aa"]')  # its body
    stamps.chunk_read(b"POST /orders?trace=1 HTTP/1.1\r\nhost: venue\r\n")
    stamps.chunk_read(b"content-length: 2\r\n\r\n[]")  # the same request's next chunk
    assert stamps.take()["requests"] == [(1.0, "DELETE", "/orders"), (2.0, "POST", "/orders")]


def test_the_stamps_are_bounded_oldest_dropped_first(ticking_clock: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_stamps, "_MAX_STAMPS", 3)
    stamps = VenueStamps()
    for _ in range(5):
        stamps.frame_written("market", "[]")
    taken = stamps.take()
    assert taken["frames"] == [(3.0, False), (4.0, False), (5.0, False)] and taken["dropped"] == 2


async def test_the_hub_reports_every_market_frame_it_writes_in_order(autojump_clock: trio.testing.MockClock) -> None:
    venue = SimVenue(clock_epoch_s=EPOCH_S - trio.current_time(), markets=[SPEC], with_flow=False, seed=3)
    written: list[tuple[str, str]] = []
    async with open_inprocess_sim(venue) as sim:
        sim.fronts.hub.on_frame_written = lambda channel, frame: written.append((channel, frame))
        async with sim.connector(sim.ws_market_url) as ws:
            await ws.send_message(json.dumps({"type": "market", "assets_ids": ["101", "102"]}))
            received = [await ws.get_message()]
            sim.venue.exchange.fund(ADDRESS, pusd_units=10**12)
            sim.venue.exchange.place(build_order(order_id=f"0x{7:064x}", owner="key", address=ADDRESS,
                                                 token_id="101", side="BUY", price="0.45", size="10"))
            received.append(await ws.get_message())
    assert json.loads(received[1])["event_type"] == "price_change"
    assert written == [("market", frame) for frame in received]


async def test_installed_stamps_see_each_loopback_request_by_method_and_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import hypercorn.trio.run as hypercorn_run

    monkeypatch.setattr(hypercorn_run, "TCPServer", hypercorn_run.TCPServer)  # restored after the test
    stamps = VenueStamps()
    install_venue_stamps(stamps)
    venue = SimVenue(clock_epoch_s=EPOCH_S - trio.current_time(), markets=[SPEC], with_flow=False, seed=3)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(lambda task_status: serve_loopback(venue, task_status=task_status))
            prefix = urlsplit(server.urls.rest).path.rstrip("/")
            async with httpx.AsyncClient() as client:
                await client.get(server.urls.rest.rstrip("/") + "/time", params={"x": "1"})
                refused = await client.post(server.urls.rest.rstrip("/") + "/orders", content=b"[]")  # no auth
            server.shutdown()
            nursery.cancel_scope.cancel()
    assert refused.status_code >= 400  # stamped all the same: the first bytes came before any check
    requests = stamps.take()["requests"]
    assert [(method, path) for _, method, path in requests] == [("GET", prefix + "/time"), ("POST", prefix + "/orders")]
    assert requests[0][0] <= requests[1][0]
