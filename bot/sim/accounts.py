"""Paper balances in 1e6 units with reservations for open orders.

Open BUYs reserve the pUSD they may still spend and open SELLs the shares they may still sell, so
`available = balance − reserved` is what a new order can use (spec 9 "Balance reservation").
Addresses are case-insensitive (EIP-55 checksums differ only in case) and stored lower-case.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bot.protocol.constants import NEG_RISK_ADAPTER, NEG_RISK_EXCHANGE_V2, STANDARD_EXCHANGE_V2

__all__ = ["ASSET_COLLATERAL", "ASSET_CONDITIONAL", "Accounts"]

ASSET_COLLATERAL = "COLLATERAL"
ASSET_CONDITIONAL = "CONDITIONAL"

# Spenders a funded paper account has approved (spec 9 "Approvals (V2)").
_SPENDERS = (STANDARD_EXCHANGE_V2, NEG_RISK_EXCHANGE_V2, NEG_RISK_ADAPTER)


def _key(address: str) -> str:
    return address.lower()


class Accounts:
    """Balances and reservations per address; never refuses a debit (the engine checks first).

    A FAILED trade's reversal can drive a balance negative when the shares were already sold on;
    that is kept visible rather than clamped, like an on-chain shortfall would be.
    """

    def __init__(self) -> None:
        self._pusd: dict[str, int] = {}
        self._tokens: dict[str, defaultdict[str, int]] = {}
        self._reserved_pusd: defaultdict[str, int] = defaultdict(int)
        self._reserved_tokens: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))

    def __repr__(self) -> str:
        return f"<Accounts addresses={len(self._pusd)}>"

    def exists(self, address: str) -> bool:
        return _key(address) in self._pusd

    def open(self, address: str, pusd_units: int) -> bool:
        """Create a funded account; idempotent (an existing account keeps its balance). True if created."""
        key = _key(address)
        if key in self._pusd:
            return False
        self._pusd[key] = pusd_units
        self._tokens[key] = defaultdict(int)
        return True

    def _ensure(self, key: str) -> None:
        if key not in self._pusd:
            self._pusd[key] = 0
            self._tokens[key] = defaultdict(int)

    # --- balances -------------------------------------------------------------------------------

    def pusd(self, address: str) -> int:
        return self._pusd.get(_key(address), 0)

    def tokens(self, address: str, token_id: str) -> int:
        held = self._tokens.get(_key(address))
        return held.get(token_id, 0) if held is not None else 0

    def credit_pusd(self, address: str, delta_units: int) -> None:
        """Add (or with a negative delta remove) pUSD."""
        key = _key(address)
        self._ensure(key)
        self._pusd[key] += delta_units

    def credit_tokens(self, address: str, token_id: str, delta_units: int) -> None:
        """Add (or with a negative delta remove) outcome shares."""
        key = _key(address)
        self._ensure(key)
        self._tokens[key][token_id] += delta_units

    # --- reservations ---------------------------------------------------------------------------

    def reserved_pusd(self, address: str) -> int:
        return self._reserved_pusd.get(_key(address), 0)

    def reserved_tokens(self, address: str, token_id: str) -> int:
        held = self._reserved_tokens.get(_key(address))
        return held.get(token_id, 0) if held is not None else 0

    def available_pusd(self, address: str) -> int:
        return self.pusd(address) - self.reserved_pusd(address)

    def available_tokens(self, address: str, token_id: str) -> int:
        return self.tokens(address, token_id) - self.reserved_tokens(address, token_id)

    def reserve_pusd(self, address: str, units: int) -> None:
        self._reserved_pusd[_key(address)] += units

    def release_pusd(self, address: str, units: int) -> None:
        self._reserved_pusd[_key(address)] -= units

    def reserve_tokens(self, address: str, token_id: str, units: int) -> None:
        self._reserved_tokens[_key(address)][token_id] += units

    def release_tokens(self, address: str, token_id: str, units: int) -> None:
        self._reserved_tokens[_key(address)][token_id] -= units

    # --- wire ------------------------------------------------------------------------------------

    def balance_wire(
        self, address: str, asset_type: str, token_id: str | None, allowance_units: int
    ) -> dict[str, Any]:
        """`GET /balance-allowance` V2 body: `{"balance": "<1e6 units>", "allowances": {spender: amount}}`.

        ValueError for an unknown asset type or a CONDITIONAL query without a token id.
        """
        kind = asset_type.upper()
        if kind == ASSET_COLLATERAL:
            balance = self.pusd(address)
        elif kind == ASSET_CONDITIONAL:
            if not token_id:
                raise ValueError("token_id is required for CONDITIONAL")
            balance = self.tokens(address, token_id)
        else:
            raise ValueError(f"unknown asset_type {asset_type!r}")
        approved = str(allowance_units) if self.exists(address) else "0"
        return {"balance": str(balance), "allowances": {spender: approved for spender in _SPENDERS}}

    def statistics(self) -> dict[str, Any]:
        return {
            "accounts": len(self._pusd),
            "pusd_total_units": sum(self._pusd.values()),
            "pusd_reserved_units": sum(self._reserved_pusd.values()),
        }
