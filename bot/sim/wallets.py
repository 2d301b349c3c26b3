"""The venue's wallet rules in the simulator: who may sign for which maker, per-account switches, balances.

Guarantees: `WalletRegistry.verify_order` is the one place the simulator judges an order's signature
and maker (the REST front calls it once per order); it returns the order id or raises `WalletRejected`
with the venue's text. The four kinds (docs/protocol/polymarket-clob.md §3.2, §12.1; the exchange
contract's signature check):

- 0 EOA: signer = the API key's address = maker, a plain ECDSA signature by it.
- 1 proxy, 2 safe: signer = the key's address; the venue derives the proxy/safe from the signer, so a
  maker that is not that wallet is refused (`invalid signature`).
- 3 deposit wallet: maker = signer = the wallet; the signature is the ERC-7739 wrapper, validated as
  the wallet's ERC-1271 check would (against the wallet's owner, who must be the API key's address). A
  plain ECDSA signature with type 3 is refused.

Per account (keyed by the key's address): the kind the venue has moved it to (`migrated`: EOA, proxy
and safe makers answer `maker address not allowed, please use the deposit wallet flow`), closed-only,
wallets with no approvals, and balances the venue has not re-read since a deposit (GET
/balance-allowance serves the cached figure until GET /balance-allowance/update). One venue-wide
geoblock switch (`GET /api/geoblock`, and 403 on placement).

Balances are per wallet: the engine charges the order's maker, so pUSD the owner EOA holds is no buying
power for its deposit wallet (spec 12.1). Proxy/safe derivation constants are third-party (UNCONFIRMED);
the simulator uses them only to name a default proxy/safe for a signer, which tests may register instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.protocol.constants import ERR_INVALID_PAYLOAD, ERR_SIGNER_MISMATCH, SignatureType
from bot.protocol.signing import (
    address_word,
    keccak256,
    recover_order_signer,
    recover_poly1271_owner,
    to_checksum_address,
    wire_order_id,
)
from bot.protocol.wallets import create2_address, deposit_wallet_address

if TYPE_CHECKING:
    from bot.sim.engine import Exchange

__all__ = [
    "ERR_CLOSED_ONLY_FMT",
    "ERR_GEOBLOCKED",
    "ERR_MAKER_NOT_ALLOWED",
    "AccountWallets",
    "WalletRegistry",
    "WalletRejected",
    "signature_type_param",
    "wallet_admin_routes",
    "wallet_routes",
]

# source: py-clob-client-v2 issues #48, #52, #53, #56, #61, #104, #116 (spec 12.1)
ERR_MAKER_NOT_ALLOWED: Final = "maker address not allowed, please use the deposit wallet flow"
# source: spec 5.3 (docs error codes)
ERR_CLOSED_ONLY_FMT: Final = "'{address}' address in closed only mode"
# source: third-party reports of the venue's 403 body (UNCONFIRMED exact text)
ERR_GEOBLOCKED: Final = (
    "Trading restricted in your region, please refer to available regions - "
    "https://docs.polymarket.com/developers/CLOB/geoblock"
)
_ERR_INVALID_SIGNATURE: Final = "invalid signature"  # = bot.sim.routes.common.ERR_INVALID_SIGNATURE
_GEOBLOCK_STATUS: Final = 403

# Proxy and safe factories (UNCONFIRMED: third-party SDKs): CREATE2 defaults for a signer's wallet.
_PROXY_FACTORY: Final = "0xaB45c5A4B0c941a2F231C04C3f49182e1A254052"
_PROXY_INIT_CODE_HASH: Final = bytes.fromhex("d21df8dc65880a8606f09fe0ce3df9b8869287ab0b058be05aa9e8af6330a00b")
_SAFE_FACTORY: Final = "0xaacFeEa03eb1561C4e67d661e40682Bd20E3541b"
_SAFE_INIT_CODE_HASH: Final = bytes.fromhex("2bce2127ff07fb632d16c8347c4ebf501f4841168bed00d9e6ef715ddb6fcecf")


class WalletRejected(Exception):
    """An order or request the venue refuses; `message` is its text, `status` the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(slots=True)
class AccountWallets:
    """What the venue knows of one key's wallets and switches."""

    owner: str  # the key's address (checksummed)
    proxy: str
    safe: str
    deposit_wallet: str
    migrated: bool = False  # moved to deposit wallets: EOA/proxy/safe makers are refused
    closed_only: bool = False

    def wallet_for(self, signature_type: int) -> str:
        """The maker the venue expects for `signature_type` (and whose balance it reports)."""
        return (self.owner, self.proxy, self.safe, self.deposit_wallet)[signature_type]


class WalletRegistry:
    """Per-key wallet facts, switches and balance caches; see the module docstring."""

    def __init__(self) -> None:
        self._accounts: dict[str, AccountWallets] = {}
        self._owner_of_wallet: dict[str, str] = {}  # deposit wallet (lower) -> owner (checksummed)
        self._unapproved: set[str] = set()  # wallets (lower) without exchange approvals
        self._cached_balance: dict[str, dict[str, Any]] = {}  # wallet (lower) -> body until /update
        self.geoblocked = False

    def __repr__(self) -> str:
        return (
            f"<WalletRegistry accounts={len(self._accounts)} migrated="
            f"{sum(a.migrated for a in self._accounts.values())} geoblocked={self.geoblocked}>"
        )

    def account(self, owner: str) -> AccountWallets:
        """The key's wallets, created on first sight with the venue's default derivations."""
        key = owner.lower()
        found = self._accounts.get(key)
        if found is None:
            checksummed = to_checksum_address(owner)
            found = AccountWallets(
                owner=checksummed,
                proxy=create2_address(_PROXY_FACTORY, keccak256(bytes.fromhex(key[2:])), _PROXY_INIT_CODE_HASH),
                safe=create2_address(_SAFE_FACTORY, keccak256(address_word(checksummed)), _SAFE_INIT_CODE_HASH),
                deposit_wallet=deposit_wallet_address(checksummed),
            )
            self._accounts[key] = found
            self._owner_of_wallet[found.deposit_wallet.lower()] = checksummed
        return found

    def configure(
        self,
        owner: str,
        *,
        proxy: str | None = None,
        safe: str | None = None,
        deposit_wallet: str | None = None,
        migrated: bool | None = None,
        closed_only: bool | None = None,
    ) -> AccountWallets:
        """Set what the venue knows of `owner` (tests and the admin route); unset arguments stay."""
        account = self.account(owner)
        if proxy is not None:
            account.proxy = to_checksum_address(proxy)
        if safe is not None:
            account.safe = to_checksum_address(safe)
        if deposit_wallet is not None:
            account.deposit_wallet = to_checksum_address(deposit_wallet)
            self._owner_of_wallet[account.deposit_wallet.lower()] = account.owner
        if migrated is not None:
            account.migrated = migrated
        if closed_only is not None:
            account.closed_only = closed_only
        return account

    def set_approved(self, wallet: str, approved: bool) -> None:
        """Whether `wallet` has approved the exchanges (pUSD allowance, CTF approval)."""
        (self._unapproved.discard if approved else self._unapproved.add)(wallet.lower())

    def cache_balance(self, wallet: str, body: Mapping[str, Any]) -> None:
        """Serve `body` for `wallet` until the next balance-allowance update (a deposit not yet synced)."""
        self._cached_balance[wallet.lower()] = dict(body)

    # --- the order check ---------------------------------------------------------------------------

    def verify_order(
        self,
        order: Mapping[str, Any],
        key_address: str,
        *,
        neg_risk: bool,
        chain_id: int,
        verify_signatures: bool = True,
    ) -> str:
        """The order id of an order the venue would accept from the API key at `key_address`.

        WalletRejected with the venue's text otherwise; malformed fields → `Invalid order payload`.
        """
        if self.geoblocked:
            raise WalletRejected(ERR_GEOBLOCKED, _GEOBLOCK_STATUS)
        account = self.account(key_address)
        if account.closed_only:
            raise WalletRejected(ERR_CLOSED_ONLY_FMT.format(address=account.owner))
        kind = order.get("signatureType")
        maker, signer = order.get("maker"), order.get("signer")
        if type(kind) is not int or kind not in set(SignatureType):
            raise WalletRejected(ERR_INVALID_PAYLOAD)
        if not isinstance(maker, str) or not isinstance(signer, str):
            raise WalletRejected(ERR_INVALID_PAYLOAD)
        if kind == SignatureType.POLY_1271:
            return self._verify_deposit_wallet(order, account, maker, signer, neg_risk, chain_id, verify_signatures)
        if signer.lower() != account.owner.lower():
            raise WalletRejected(ERR_SIGNER_MISMATCH)
        if account.migrated:
            raise WalletRejected(ERR_MAKER_NOT_ALLOWED)
        try:
            order_id, recovered = recover_order_signer(order, neg_risk=neg_risk, chain_id=chain_id)
        except ValueError:
            raise WalletRejected(ERR_INVALID_PAYLOAD) from None
        if verify_signatures and (
            recovered.lower() != signer.lower() or maker.lower() != account.wallet_for(kind).lower()
        ):
            # EOA: maker must be the signer; proxy/safe: the wallet the venue derives from the signer.
            raise WalletRejected(_ERR_INVALID_SIGNATURE)
        return order_id

    def _verify_deposit_wallet(
        self,
        order: Mapping[str, Any],
        account: AccountWallets,
        maker: str,
        signer: str,
        neg_risk: bool,
        chain_id: int,
        verify_signatures: bool,
    ) -> str:
        # The wallet's owner signs for it; the API key must be that owner (spec 12.1).
        owner = self._owner_of_wallet.get(signer.lower())
        if owner is None or owner.lower() != account.owner.lower():
            raise WalletRejected(ERR_SIGNER_MISMATCH)
        try:
            order_id, recovered = recover_poly1271_owner(order, neg_risk=neg_risk, chain_id=chain_id)
        except ValueError:
            # A plain ECDSA signature, or a wrapper for another order/exchange: ERC-1271 says no.
            if verify_signatures:
                raise WalletRejected(_ERR_INVALID_SIGNATURE) from None
            try:  # signature checks switched off: any signature, as for the other kinds
                return wire_order_id(order, neg_risk=neg_risk, chain_id=chain_id)
            except ValueError:
                raise WalletRejected(ERR_INVALID_PAYLOAD) from None
        if verify_signatures and (maker.lower() != signer.lower() or recovered.lower() != owner.lower()):
            raise WalletRejected(_ERR_INVALID_SIGNATURE)
        return order_id

    # --- balances -------------------------------------------------------------------------------------

    def balance_body(
        self, exchange: Exchange, key_address: str, signature_type: int, asset_type: str, token_id: str | None
    ) -> dict[str, Any]:
        """GET /balance-allowance for the wallet `signature_type` names (the venue derives it from the key)."""
        wallet = self.account(key_address).wallet_for(signature_type)
        cached = self._cached_balance.get(wallet.lower())
        body = dict(cached) if cached is not None and asset_type == "COLLATERAL" else dict(
            exchange.balance(wallet, asset_type, token_id)
        )
        if wallet.lower() in self._unapproved:
            body["allowances"] = {spender: "0" for spender in body.get("allowances", {})}
        return body

    def sync(self, key_address: str, signature_type: int) -> None:
        """GET /balance-allowance/update: the venue re-reads the wallet's balance and allowances."""
        self._cached_balance.pop(self.account(key_address).wallet_for(signature_type).lower(), None)

    def statistics(self) -> dict[str, Any]:
        return {
            "accounts": len(self._accounts),
            "migrated": sum(a.migrated for a in self._accounts.values()),
            "closed_only": sum(a.closed_only for a in self._accounts.values()),
            "unapproved_wallets": len(self._unapproved),
            "geoblocked": self.geoblocked,
        }


def signature_type_param(request: Request) -> int:
    """The `signature_type` query parameter of a balance-allowance call (absent: 0, the key itself)."""
    text = request.query_params.get("signature_type") or "0"
    if not text.isdigit() or int(text) not in set(SignatureType):
        raise WalletRejected(ERR_INVALID_PAYLOAD)
    return int(text)


def wallet_routes(exchange: Exchange) -> list[Route]:
    """`GET /api/geoblock` (polymarket.com's geoblock check, served here for the simulator's users)."""

    async def geoblock(request: Request) -> Response:
        blocked = exchange.wallets.geoblocked
        return Response(orjson.dumps({"blocked": blocked, "country": "XX" if blocked else "ZZ"}),
                        media_type="application/json")

    return [Route("/api/geoblock", geoblock, methods=["GET"])]


def wallet_admin_routes(exchange: Exchange) -> list[Route]:
    """`POST /_sim/admin/wallets` {owner, proxy?, safe?, deposit_wallet?, migrated?, closed_only?,
    approved_wallet?, approved?, fund_wallet?, pusd_units?, geoblocked?}: the switches, over HTTP."""

    async def configure(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body() or b"{}")
            registry = exchange.wallets
            if "geoblocked" in body:
                registry.geoblocked = bool(body["geoblocked"])
            owner = body.get("owner")
            account = None
            if owner:
                account = registry.configure(
                    owner,
                    **{k: body[k] for k in ("proxy", "safe", "deposit_wallet", "migrated", "closed_only") if k in body},
                )
            if body.get("approved_wallet"):
                registry.set_approved(body["approved_wallet"], bool(body.get("approved", True)))
            if body.get("fund_wallet"):
                exchange.fund(body["fund_wallet"], pusd_units=int(body.get("pusd_units", 0)))
        except (ValueError, TypeError, KeyError) as exc:
            return Response(orjson.dumps({"error": str(exc)}), status_code=400, media_type="application/json")
        answer = {"ok": True, "account": None if account is None else {
            "owner": account.owner, "proxy": account.proxy, "safe": account.safe,
            "deposit_wallet": account.deposit_wallet, "migrated": account.migrated,
            "closed_only": account.closed_only,
        }}
        return Response(orjson.dumps(answer), media_type="application/json")

    return [Route("/wallets", configure, methods=["POST"])]

