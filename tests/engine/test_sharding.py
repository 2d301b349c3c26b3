"""Shard assignment: every series/market owned by exactly one shard, the same in every process; the
settings refuse impossible shards; a sharded supervisor trades only its own series."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from bot.engine.sharding import owned, shard_of
from settings import SettingsError, load_settings
from statemachines.market import ExitReason
from tests.scenarios.harness import scenario

REPO = Path(__file__).resolve().parents[2]
keys = st.lists(
    st.one_of(
        st.from_regex(r"0x[0-9a-f]{64}", fullmatch=True),  # condition ids
        st.from_regex(r"[a-z]{2,5}-updown-(5|15|60)m", fullmatch=True),  # series slugs
        st.text(min_size=0, max_size=40),
    ),
    unique=True,
    max_size=60,
)


@given(keys=keys, shard_count=st.integers(min_value=1, max_value=16))
def test_every_key_is_owned_by_exactly_one_shard(keys: list[str], shard_count: int) -> None:
    shares = [owned(keys, index, shard_count) for index in range(shard_count)]
    flat = [key for share in shares for key in share]
    assert sorted(flat) == sorted(keys)  # covered, and no key twice
    for index, share in enumerate(shares):
        assert all(shard_of(key, shard_count) == index for key in share)
        assert share == [key for key in keys if key in set(share)]  # the input order is kept


@given(keys=keys, shard_count=st.integers(min_value=1, max_value=15))
def test_adding_a_shard_moves_keys_only_to_the_new_shard(keys: list[str], shard_count: int) -> None:
    for key in keys:
        before, after = shard_of(key, shard_count), shard_of(key, shard_count + 1)
        assert after in (before, shard_count)


def test_the_assignment_is_pinned_and_independent_of_the_process_hash_seed() -> None:
    # Pinned: changing the function would reshuffle the markets of running deployments.
    series = ["btc-updown-15m", "eth-updown-15m", "sol-updown-15m", "xrp-updown-15m"]
    assert [shard_of(key, 2) for key in series] == [1, 0, 0, 1]
    assert [shard_of(key, 3) for key in series] == [1, 0, 2, 1]
    program = "from bot.engine.sharding import shard_of; print([shard_of(f'k{i}', 7) for i in range(50)])"
    answers = {
        subprocess.run(
            [sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, check=True, timeout=60,
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)},
        ).stdout
        for seed in ("1", "2")
    }
    assert answers == {str([shard_of(f"k{i}", 7) for i in range(50)]) + "\n"}


@pytest.mark.parametrize(("index", "count"), [(-1, 2), (2, 2), (5, 1), (0, 0)])
def test_shard_functions_refuse_an_index_outside_the_count(index: int, count: int) -> None:
    with pytest.raises(ValueError):
        owned(["btc-updown-15m"], index, count)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"shard_index": 2, "shard_count": 2}, "shard_index must be < shard_count"),
        ({"shard_index": -1, "shard_count": 2}, "shard_index"),
        ({"shard_count": 0}, "shard_count"),
        ({"shard_count": 2, "market": "0x" + "ab" * 32}, "market must be 'auto'"),
        ({"shard_count": 2, "shard_index": 0, "series": ["btc-updown-15m"]}, "owns none of the series"),
    ],
)
def test_settings_refuse_a_shard_that_cannot_trade(overrides: dict, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(**overrides)
    assert message in "\n".join(raised.value.lines)


def test_settings_accept_every_shard_of_a_split_that_owns_something() -> None:
    series = ["btc-updown-15m", "eth-updown-15m", "sol-updown-15m", "xrp-updown-15m"]
    for index in range(2):
        settings = load_settings(shard_index=index, shard_count=2, series=series)
        assert (settings.shard_index, settings.shard_count) == (index, 2)


@pytest.mark.parametrize("shard_index", [0, 1])
async def test_a_sharded_supervisor_starts_only_the_markets_of_its_series(autojump_clock, shard_index: int) -> None:
    assets = ("btc", "eth", "sol", "xrp")
    mine = set(owned([f"{asset}-updown-15m" for asset in assets], shard_index, 2))
    async with scenario(assets=assets, max_markets=None, shard_index=shard_index, shard_count=2) as sc:
        async with trio.open_nursery() as nursery:

            async def stop_once_the_first_windows_run() -> None:
                await trio.sleep_until(20)  # trio time 0 is the first window's start
                sc.supervisor.stop(ExitReason.OPERATOR, "seen enough")

            nursery.start_soon(stop_once_the_first_windows_run)
            assert await sc.supervisor.run() is ExitReason.OPERATOR
        started = {record.info.slug.rsplit("-", 1)[0] for record in sc.supervisor.stats.records}
        assert started == mine
        assert len(sc.supervisor.stats.records) == len(mine)
