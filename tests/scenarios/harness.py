"""Scenario harness: the real bot (supervisor, runners, REST/WS clients) against the in-process simulator.

Everything runs on Trio's clock, so tests use `autojump_clock` and assert exact virtual times. The
simulator's unix time and the bot's are the same `EPOCH_S + trio.current_time()`.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.engine.clock import VenueClock
from bot.engine.journal import Journal, NullJournal
from bot.engine.supervisor import Supervisor, VenueLinks
from bot.protocol.signing import OrderSigner
from bot.sim.flow import SeriesSchedule
from bot.sim.model import SimConfig
from bot.sim.server import InProcessSim, open_inprocess_sim
from bot.sim.venue import SimVenue
from settings import BotSettings

# A window boundary (multiple of 900 s and of every paper window below), so markets align with t = 0.
EPOCH_S = 1_800_000_000 - 1_800_000_000 % 900
TEST_PRIVATE_KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
WINDOW_S = 300


def bot_settings(**overrides: Any) -> BotSettings:
    base: dict[str, Any] = dict(
        mode="paper",
        market="auto",
        series=["btc-updown-15m"],
        paper_window_s=WINDOW_S,
        rollover_lead_s=30.0,
        ladder_levels=3,
        size_per_level_shares=10.0,
        quote_cutoff_s=60.0,
        request_timeout_s=2.0,
        cancel_all_timeout_s=10.0,
    )
    base.update(overrides)
    return BotSettings(**base)


@dataclass
class Scenario:
    sim: InProcessSim
    settings: BotSettings
    signer: OrderSigner
    clock: VenueClock
    supervisor: Supervisor

    @property
    def exchange(self) -> Any:
        return self.sim.venue.exchange

    def our_open_orders(self) -> list[dict[str, Any]]:
        creds = self.supervisor.creds
        assert creds is not None
        return self.exchange.open_orders(creds.api_key)


@asynccontextmanager
async def scenario(
    *,
    seed: int = 1,
    window_s: int = WINDOW_S,
    sim_config: SimConfig | None = None,
    journal_path: Path | None = None,
    max_markets: int | None = 1,
    **settings_overrides: Any,
):
    venue = SimVenue(
        clock_epoch_s=EPOCH_S,
        config=sim_config or SimConfig(),
        series=[SeriesSchedule(asset="btc", window_s=window_s, nominal_minutes=15, seed=seed)],
        seed=seed,
    )
    settings = bot_settings(paper_window_s=window_s, **settings_overrides)
    async with open_inprocess_sim(venue, seed=seed) as sim:
        clock = VenueClock(EPOCH_S)
        journal = Journal(journal_path, clock.now_s) if journal_path else NullJournal()
        signer = OrderSigner(TEST_PRIVATE_KEY)
        links = VenueLinks(
            rest_url=sim.rest_url,
            ws_market_url=sim.ws_market_url,
            ws_user_url=sim.ws_user_url,
            gamma_url=sim.gamma_url,
            http_transport=sim.transport,
            gamma_transport=sim.transport,
            ws_connector=sim.connector,
        )
        supervisor = Supervisor(settings, links, signer=signer, clock=clock, journal=journal,
                                max_markets_total=max_markets)
        yield Scenario(sim, settings, signer, clock, supervisor)
