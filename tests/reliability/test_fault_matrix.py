"""Every row of the fault matrix leaves the venue flat, every fill counted once, inventory = venue."""

import pytest

from tests.reliability.matrix import FAULT_MATRIX, FaultRow, run_row


def _param(row: FaultRow) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=row.known_issue)] if row.known_issue else []
    return pytest.param(row, id=row.name, marks=marks)


@pytest.mark.parametrize("row", [_param(row) for row in FAULT_MATRIX])
async def test_fault_leaves_no_order_and_exact_fills(row: FaultRow, autojump_clock):
    result = await run_row(row)
    assert result.problems == [], result.as_dict()
    assert result.open_orders_left == 0
