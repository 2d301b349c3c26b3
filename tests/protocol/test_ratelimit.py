"""Client-side token buckets on Trio's fake clock: exact virtual times for bursts, refill, Retry-After."""

from __future__ import annotations

import pytest
import trio

from bot.protocol.ratelimit import DEFAULT_LIMITS, BucketSpec, EndpointFamily, RateLimiter

F = EndpointFamily.POST_ORDERS


def limiter(capacity: int = 2, period_s: float = 10.0, *extra: BucketSpec) -> RateLimiter:
    return RateLimiter({F: (BucketSpec(capacity, period_s), *extra)})


async def test_a_burst_up_to_capacity_passes_at_once_then_one_per_refill_interval(
    autojump_clock: trio.abc.Clock,
) -> None:
    rl = limiter(capacity=2, period_s=10.0)
    times = []
    for _ in range(5):
        await rl.acquire(F)
        times.append(trio.current_time())
    # 2 tokens at t=0, then one every 10/2 = 5 s.
    assert times == [0.0, 0.0, 5.0, 10.0, 15.0]
    assert rl.statistics().acquired == {F.value: 5}
    assert rl.statistics().waited == {F.value: 3}


async def test_an_idle_bucket_refills_to_capacity_but_not_beyond(autojump_clock: trio.abc.Clock) -> None:
    rl = limiter(capacity=2, period_s=10.0)
    await rl.acquire(F)
    await rl.acquire(F)
    await trio.sleep(100.0)
    times = []
    for _ in range(3):
        await rl.acquire(F)
        times.append(trio.current_time())
    assert times == [100.0, 100.0, 105.0]


async def test_cost_takes_that_many_tokens(autojump_clock: trio.abc.Clock) -> None:
    rl = limiter(capacity=4, period_s=4.0)
    await rl.acquire(F, cost=3)
    await rl.acquire(F, cost=3)
    # 3 + 3 = 6 tokens: 2 more than the burst, refilled at 1 per second.
    assert trio.current_time() == 2.0


async def test_cost_above_capacity_is_refused_at_once() -> None:
    rl = limiter(capacity=2)
    with pytest.raises(ValueError, match="exceeds bucket capacity"):
        await rl.acquire(F, cost=3)


async def test_concurrent_waiters_are_served_in_call_order(autojump_clock: trio.abc.Clock) -> None:
    rl = limiter(capacity=1, period_s=1.0)
    served: list[tuple[int, float]] = []

    async def worker(i: int) -> None:
        await rl.acquire(F)
        served.append((i, trio.current_time()))

    async with trio.open_nursery() as nursery:
        for i in range(4):
            nursery.start_soon(worker, i)
            await trio.lowlevel.checkpoint()  # fix the call order
    assert served == [(0, 0.0), (1, 1.0), (2, 2.0), (3, 3.0)]


async def test_penalize_holds_the_next_acquire_until_retry_after(autojump_clock: trio.abc.Clock) -> None:
    rl = limiter(capacity=100, period_s=10.0)
    await rl.acquire(F)
    rl.penalize(F, 7.5)
    await rl.acquire(F)
    assert trio.current_time() == 7.5
    # After the penalty a full burst is available again.
    for _ in range(99):
        await rl.acquire(F)
    assert trio.current_time() == 7.5
    assert rl.statistics().penalties == {F.value: 1}


async def test_penalty_arriving_while_waiting_extends_the_wait(autojump_clock: trio.abc.Clock) -> None:
    rl = limiter(capacity=1, period_s=2.0)
    await rl.acquire(F)
    done_at: list[float] = []

    async def waiter() -> None:
        await rl.acquire(F)  # would pass at t=2
        done_at.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.sleep(1.0)
        rl.penalize(F, 4.0)  # nothing before t=5
    assert done_at == [5.0]


async def test_penalty_on_one_family_leaves_others_alone(autojump_clock: trio.abc.Clock) -> None:
    rl = RateLimiter({F: (BucketSpec(10, 10.0),), EndpointFamily.BOOK: (BucketSpec(10, 10.0),)})
    rl.penalize(F, 30.0)
    await rl.acquire(EndpointFamily.BOOK)
    assert trio.current_time() == 0.0


async def test_burst_and_sustained_buckets_both_hold(autojump_clock: trio.abc.Clock) -> None:
    # burst 2 per 1 s, but only 3 per 30 s sustained.
    rl = limiter(2, 1.0, BucketSpec(3, 30.0))
    times = []
    for _ in range(4):
        await rl.acquire(F)
        times.append(trio.current_time())
    # 2 at once (burst), 3rd at 0.5 s (burst refill; sustained still has 1), 4th waits for the sustained
    # refill of 10 s per token: its slot was reserved at t=0 for t=10.
    assert times == [0.0, 0.0, 0.5, 10.0]


async def test_a_family_without_buckets_passes_unless_penalized(autojump_clock: trio.abc.Clock) -> None:
    rl = RateLimiter({})
    await rl.acquire(F)
    rl.penalize(F, 2.0)
    await rl.acquire(F)
    assert trio.current_time() == 2.0


def test_defaults_cover_every_family_with_the_spec_burst() -> None:
    assert set(DEFAULT_LIMITS) == set(EndpointFamily)
    burst = {family: specs[0] for family, specs in DEFAULT_LIMITS.items()}
    assert burst[EndpointFamily.POST_ORDER] == BucketSpec(5_000, 10.0)
    assert burst[EndpointFamily.POST_ORDERS] == BucketSpec(2_000, 10.0)
    assert burst[EndpointFamily.DELETE_ORDERS] == BucketSpec(2_000, 10.0)
    assert burst[EndpointFamily.CANCEL_ALL] == BucketSpec(250, 10.0)
    assert burst[EndpointFamily.CANCEL_MARKET_ORDERS] == BucketSpec(1_500, 10.0)
    assert burst[EndpointFamily.DATA_ORDERS] == BucketSpec(500, 10.0)
    assert burst[EndpointFamily.BOOK] == BucketSpec(1_500, 10.0)
    assert burst[EndpointFamily.GENERAL] == BucketSpec(9_000, 10.0)


async def test_acquire_is_a_cancel_point_even_when_tokens_are_free() -> None:
    rl = limiter(capacity=10)
    with trio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trio.Cancelled):
            await rl.acquire(F)
    assert rl.statistics().acquired == {}
