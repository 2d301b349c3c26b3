"""The order manager's last check of the account-wide cap, where new orders are registered.

What fits the room the account has left at that moment is posted, top levels of both tokens first; what
does not is left out (its level stays empty) and counted, and comes back once a later diff finds room.
The three-market guarantee itself is `tests/scenarios/test_account_cap.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.engine.gateway import CancelOutcome, PostOutcome, PostOutcomeKind
from bot.engine.journal import NullJournal
from bot.engine.order_manager import ManagerParams, OrderManager, SyncReport
from bot.engine.strategy import Ladder, Quote
from bot.protocol.money import notional_micro

UP, DOWN = "up-token", "down-token"
TICK = "0.01"
LEVELS = 3
SIZE_MICRO = 10_000_000


@dataclass
class _Signed:
    order_id: str


@dataclass
class _Gateway:
    posted: list[list[str]] = field(default_factory=list)
    serial: int = 0

    def sign_buy(self, **_: Any) -> _Signed:
        self.serial += 1
        return _Signed(f"0x{self.serial:064x}")

    async def cancel_ids(self, order_ids: list[str], **_: Any) -> CancelOutcome:
        return CancelOutcome(canceled=list(order_ids))

    async def post_orders(self, orders: list[_Signed], **_: Any) -> list[PostOutcome]:
        self.posted.append([o.order_id for o in orders])
        return [PostOutcome(PostOutcomeKind.LIVE, "live") for _ in orders]


def _ladder() -> Ladder:
    # Up at 45, 44, 43 cents; Down at 50, 49, 48: 10 shares each (4.5 ... 4.8 pUSD).
    return Ladder(tuple(Quote(token, level, top - level, SIZE_MICRO, TICK)
                        for token, top in ((UP, 45), (DOWN, 50)) for level in range(LEVELS)))


async def test_what_does_not_fit_the_accounts_room_is_left_out_top_levels_first_and_posted_once_room_appears():
    room: list[int | None] = [0]
    gateway = _Gateway()
    params = ManagerParams(ladder_levels=LEVELS, reprice_ticks=1, resize_pct=25.0, max_post_batch=15,
                           max_cancel_batch=1000, cancel_retry_s=1.0, gtd_at_cutoff=False)
    manager = OrderManager(condition_id="0xabc", params=params, gateway=gateway,  # type: ignore[arg-type]
                           clock_s=lambda: 0.0, journal=NullJournal(), on_failure=lambda _o: None,
                           on_success=lambda: None, account_room=lambda: room[0])
    ladder = _ladder()
    cost = {(q.token_id, q.level): notional_micro(q.size_micro, q.price_micro) for q in ladder.quotes}
    # Room for both top levels and one more, one µpUSD short of both second levels. Level by level: the
    # second levels in the tokens' order (Down's id sorts first), then nothing deeper on a token whose
    # level did not fit, though Up's third (4.3 pUSD) would: a ladder gets no gap.
    room[0] = cost[(UP, 0)] + cost[(DOWN, 0)] + cost[(DOWN, 1)] + cost[(UP, 1)] - 1
    await manager.sync(ladder, tick_size=TICK, neg_risk=False, expiration_s=0, report=SyncReport())
    assert sorted(manager.slots) == [(DOWN, 0), (DOWN, 1), (UP, 0)]
    assert manager.counts["account_cap_trimmed"] == 3 and manager.counts["posted"] == 3

    room[0] = 0  # nothing more fits: the next diff posts nothing
    await manager.sync(ladder, tick_size=TICK, neg_risk=False, expiration_s=0, report=SyncReport())
    assert len(manager.slots) == 3 and manager.counts["account_cap_trimmed"] == 6

    room[0] = None  # no account-wide cap (or room again): the levels left out are posted
    await manager.sync(ladder, tick_size=TICK, neg_risk=False, expiration_s=0, report=SyncReport())
    assert len(manager.slots) == 2 * LEVELS and manager.counts["posted"] == 2 * LEVELS
    assert [len(batch) for batch in gateway.posted] == [3, 3]
