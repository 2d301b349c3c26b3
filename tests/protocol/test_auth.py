"""L1 (ClobAuth EIP-712) and L2 (HMAC) headers: known answers and equality with py-clob-client-v2."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st
from py_clob_client_v2.clob_types import ApiCreds as RefApiCreds
from py_clob_client_v2.clob_types import RequestArgs
from py_clob_client_v2.headers.headers import create_level_1_headers, create_level_2_headers
from py_clob_client_v2.signer import Signer

from bot.protocol.auth import (
    ApiCreds,
    hmac_signature,
    l1_headers,
    l2_headers,
    recover_clob_auth_address,
    verify_clob_auth,
)
from bot.protocol.signing import OrderSigner

KAT_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
OTHER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
KAT_L1_SIGNATURE = (
    "0xf62319a987514da40e57e2f4d7529f7bac38f0355bd88bb5adbb3768d80de6c1"
    "682518e0af677d5260366425f4361e7b70c25ae232aff0ab2331e2b164a1aedc1b"
)
SECRET = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def test_l1_known_answer_from_the_official_client_tests() -> None:
    # Spec 2.1: chainId 80002, timestamp 10000000, nonce 23.
    signer = OrderSigner(KAT_KEY, chain_id=80002)
    assert l1_headers(signer, 10_000_000, 23) == {
        "POLY_ADDRESS": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "POLY_SIGNATURE": KAT_L1_SIGNATURE,
        "POLY_TIMESTAMP": "10000000",
        "POLY_NONCE": "23",
    }


def test_l2_known_answer_from_the_official_client_tests() -> None:
    assert hmac_signature(SECRET, 1_000_000, "test-sign", "/orders", '{"hash": "0x123"}') == (
        "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc="
    )


_ref_signers: dict[tuple[str, int], Signer] = {}


def _ref_signer(key: str, chain_id: int) -> Signer:
    if (key, chain_id) not in _ref_signers:
        _ref_signers[(key, chain_id)] = Signer(key, chain_id)
    return _ref_signers[(key, chain_id)]


@settings(max_examples=40, deadline=None)
@given(
    key=st.sampled_from([KAT_KEY, OTHER_KEY]),
    chain_id=st.sampled_from([137, 80002]),
    timestamp_s=st.integers(min_value=0, max_value=2**40),
    nonce=st.integers(min_value=0, max_value=2**256 - 1),
)
def test_l1_headers_equal_the_reference_client(key, chain_id, timestamp_s, nonce) -> None:
    ours = l1_headers(OrderSigner(key, chain_id=chain_id), timestamp_s, nonce)
    assert ours == create_level_1_headers(_ref_signer(key, chain_id), nonce=nonce, timestamp=timestamp_s)


@settings(max_examples=60, deadline=None)
@given(
    secret=st.binary(min_size=32, max_size=32).map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
    method=st.sampled_from(["GET", "POST", "DELETE"]),
    path=st.sampled_from(["/order", "/orders", "/data/orders", "/v1/heartbeats", "/cancel-all"]),
    body=st.none()
    | st.text(alphabet=st.characters(exclude_characters="'", exclude_categories=("Cs",)), max_size=200),
    timestamp_s=st.integers(min_value=0, max_value=2**40),
)
def test_l2_headers_equal_the_reference_client(secret, method, path, body, timestamp_s) -> None:
    creds = ApiCreds(api_key="f4f247b7-4ac7-ff29-a152-04fda0a8755a", secret=secret, passphrase="pass")
    address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    ref = create_level_2_headers(
        _ref_signer(KAT_KEY, 137),
        RefApiCreds(api_key=creds.api_key, api_secret=secret, api_passphrase="pass"),
        RequestArgs(method=method, request_path=path, serialized_body=body),
        timestamp=timestamp_s,
    )
    assert l2_headers(creds, address, method, path, body, timestamp_s) == ref
    assert l2_headers(creds, address, method, path, body.encode() if body else body, timestamp_s) == ref


def test_l1_signature_recovers_the_signer_only_for_the_signed_values() -> None:
    signer = OrderSigner(KAT_KEY)
    headers = l1_headers(signer, 1_750_000_000, 3)
    signature = headers["POLY_SIGNATURE"]
    assert (
        recover_clob_auth_address(signature, 1_750_000_000, 3, 137, address=signer.address) == signer.address
    )
    assert (
        recover_clob_auth_address(signature, "1750000000", 3, address=signer.address.lower())
        == signer.address
    )
    assert verify_clob_auth(signer.address, signature, 1_750_000_000, 3, 137)
    # Any other timestamp, nonce, chain or claimed address is not what was signed.
    assert not verify_clob_auth(signer.address, signature, 1_750_000_001, 3, 137)
    assert not verify_clob_auth(signer.address, signature, 1_750_000_000, 4, 137)
    assert not verify_clob_auth(signer.address, signature, 1_750_000_000, 3, 80002)
    other = OrderSigner(OTHER_KEY)
    assert not verify_clob_auth(other.address, signature, 1_750_000_000, 3, 137)


def test_a_tampered_l1_signature_is_rejected() -> None:
    signer = OrderSigner(KAT_KEY)
    signature = l1_headers(signer, 1_750_000_000)["POLY_SIGNATURE"]
    flipped = signature[:20] + ("0" if signature[20] != "0" else "1") + signature[21:]
    assert not verify_clob_auth(signer.address, flipped, 1_750_000_000, 0)
    for garbage in ("", "0x", "0x" + "zz" * 65, signature[:-2] + "05", None):
        assert not verify_clob_auth(signer.address, garbage, 1_750_000_000, 0)  # type: ignore[arg-type]
    assert not verify_clob_auth("not-an-address", signature, 1_750_000_000, 0)
