"""Fixed sequences of the lifecycle model that once broke a guarantee (each replays a Hypothesis finding)."""

from statemachines.order import OrderState
from tests.reliability.lifecycle import LifecycleMachine


def _states(machine: LifecycleMachine) -> dict[str, OrderState]:
    return {oid: order.state for oid, order in machine.runner.manager.by_id.items()}


async def test_an_unknown_outcome_order_that_landed_and_ended_unseen_is_not_called_lost():
    # A maker POST lands but its answer is lost (`unknown`); the venue cancels it (heartbeat lapse) while
    # its PLACEMENT and CANCELLATION still wait on the user stream; the reconciliation past the grace
    # window finds it absent. It must end as the venue's record says (cancelled), not `lost`/`failed`:
    # the late events then repeat a known end instead of contradicting a wrong verdict (strict mode
    # raised IllegalTransition "in state 'failed' cannot 'accepted'", e.g. inside a completion's POST).
    machine = LifecycleMachine()
    machine.post_fault("landed")
    machine.tick()
    placed = _states(machine)
    assert placed and set(placed.values()) == {OrderState.UNKNOWN}
    machine.venue_cancels_all()
    machine.advance(5.0, deliver=False)
    machine.reconcile()
    assert {oid: _states(machine)[oid] for oid in placed} == dict.fromkeys(placed, OrderState.CANCELLED)
    assert machine.queue  # the PLACEMENT/CANCELLATION events are still on their way
    machine.deliver(len(machine.queue), react=False)
    assert {oid: _states(machine)[oid] for oid in placed} == dict.fromkeys(placed, OrderState.CANCELLED)
    machine.orders_in_legal_states_and_levels_consistent()


async def test_an_unknown_outcome_order_that_never_landed_is_still_lost():
    machine = LifecycleMachine()
    machine.post_fault("lost")
    machine.tick()
    placed = _states(machine)
    assert placed and set(placed.values()) == {OrderState.UNKNOWN}
    machine.advance(5.0, deliver=True)
    machine.reconcile()
    assert {oid: _states(machine)[oid] for oid in placed} == dict.fromkeys(placed, OrderState.FAILED)
