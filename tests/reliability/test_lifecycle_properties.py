"""Random lifecycles (venue events, faults, clock steps, restarts) never break an order guarantee."""

from tests.reliability.lifecycle import run_lifecycle_examples


async def test_random_lifecycles_keep_every_order_guarantee():
    ran = run_lifecycle_examples()
    assert ran["examples"] > 0 and ran["steps"] > ran["examples"]
