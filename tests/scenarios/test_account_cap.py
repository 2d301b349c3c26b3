"""The account-wide cap (`max_total_notional_pusd`) holds across markets at every order the bot registers.

Each market sizes its ladder against what the others commit when its tick begins, then awaits (its
cancel's answer, the DELETE's write) before it posts; other markets post meanwhile, and on a fake clock
every market's first ladder goes out in the same instant. The order manager checks the account's room
again where it registers new orders, with no await between the check and the registration.

The cap bounds the maker ladders. A completion (a FAK buying the lagging token of inventory the ladder
already bought, at a pair cost that cannot lose at resolution) is not held back by it: it lowers the
worst case; the venue's balance check stays the hard limit.
"""

from __future__ import annotations

from typing import Any

import trio

from bot.engine.order_manager import OrderManager
from bot.protocol.money import micro_from_float
from statemachines.order import Order
from tests.scenarios.harness import scenario

_CAP_PUSD = 40.0  # three markets' ladders (2 tokens x 3 levels x 10 shares near 0.45) would commit ~80
_RUN_S = 150.0


async def test_three_markets_never_commit_more_than_the_account_cap_together(autojump_clock, monkeypatch):
    cap = micro_from_float(_CAP_PUSD)
    totals: list[int] = []
    markets_posting: set[str] = set()
    sc_ref: list[Any] = []
    original = OrderManager.register

    def register(self: OrderManager, order: Order) -> None:
        original(self, order)
        if sc_ref and order.level is not None:  # a ladder order: every market's commitments, this one counted
            totals.append(sum(r.committed_micro() for r in sc_ref[0].supervisor.runners.values()))
            markets_posting.add(self.condition_id)

    monkeypatch.setattr(OrderManager, "register", register)
    async with scenario(max_markets=None, assets=("btc", "eth", "sol"), window_s=300,
                        max_total_notional_pusd=_CAP_PUSD) as sc, trio.open_nursery() as nursery:
        sc_ref.append(sc)
        sc.start(nursery)
        await sc.wait_until(lambda: len(sc.runners) == 3)
        await trio.sleep(_RUN_S)
        trimmed = sum(r.manager.counts["account_cap_trimmed"] for r in sc.runners)
        posted = sum(r.manager.counts["posted"] for r in sc.runners)
        await sc.stop_and_wait()
    assert len(totals) == posted > 20  # markets re-priced under the cap for a while
    assert max(totals) <= cap, f"{max(totals) / 1e6} pUSD committed across markets > cap {_CAP_PUSD}"
    assert max(totals) > cap * 3 // 4  # the cap was used, not avoided
    assert trimmed > 0  # and it bound where orders are registered
    assert len(markets_posting) == 3  # the room went to every market in turn
    assert sc.our_open_orders() == []
