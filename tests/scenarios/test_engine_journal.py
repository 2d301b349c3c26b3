"""Journal: append-only JSON lines, owner-only (0600), with every order body exactly as posted (signature
included, no headers or secrets), every venue answer, every transition with its reason and every change
of the block reason; a crash mid-run leaves only complete lines.

The journal is the engine's real `Journal` writing to a file; the harness also keeps the HTTP requests
the venue received, to compare the two.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import trio

from bot.engine.market import MarketRunner
from bot.protocol.signing import recover_order_signer
from statemachines.market import ExitReason
from tests.scenarios.harness import TEST_PRIVATE_KEY, Scenario, scenario

WINDOW = dict(window_s=100, quote_cutoff_s=30.0, record=True)


def _lines(path: Path) -> list[dict]:
    raw = path.read_bytes()
    assert raw.endswith(b"\n")  # the last line is complete too
    return [json.loads(line) for line in raw.decode().splitlines()]


def _secrets(sc: Scenario) -> list[str]:
    creds = sc.supervisor.creds
    assert creds is not None
    return [creds.secret, creds.passphrase, TEST_PRIVATE_KEY.removeprefix("0x")]


async def test_the_journal_records_bodies_answers_transitions_and_blocks_without_secrets(autojump_clock, tmp_path):
    path = tmp_path / "audit" / "journal.jsonl"
    async with scenario(journal_path=path, **WINDOW) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        await sc.done.wait()
        assert sc.reason is ExitReason.MARKET_END
        secrets = _secrets(sc)

    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_text()
    for secret in secrets:
        assert secret not in text
    assert "poly_" not in text.lower()  # no auth header of any kind
    lines = _lines(path)
    assert [line["t"] for line in lines] == sorted(line["t"] for line in lines)  # appended in time order
    kinds = {line["kind"] for line in lines}
    assert {"post", "post_result", "transition", "market_transition", "block", "cancel_all", "fill"} <= kinds

    # Every order body the venue received is in the journal, byte for byte (signature included).
    sent = [body for r in sc.http.records if r.method == "POST" and r.path in ("/order", "/orders")
            for body in (r.body if isinstance(r.body, list) else [r.body])]
    journaled = [line["order"] for line in lines if line["kind"] == "post"]
    assert journaled == sent and all(body["order"]["signature"].startswith("0x") for body in journaled)
    # Every one of them has the venue's answer: a result line, or an error line naming it.
    answered = {line["order_id"] for line in lines if line["kind"] == "post_result"}
    answered |= {oid for line in lines if line["kind"] == "post_error" for oid in line["order_ids"]}
    for body in sent:
        order_id, _ = recover_order_signer(body, neg_risk=False)
        assert order_id in answered
    # Every cancel is journaled once it was sent, with its answer (or the error it met).
    cancels = [line for line in lines if line["kind"] in ("cancel", "cancel_market", "cancel_everything")]
    assert cancels and all("canceled" in line or "error" in line for line in cancels)
    # Every order's life is there, each step with its reason, from pending to its end.
    steps = [line for line in lines if line["kind"] == "transition"]
    assert steps and all(line["reason"] for line in steps)
    for order in runner.manager.by_id.values():
        mine = [(line["src"], line["dst"]) for line in steps if line["order_id"] == order.order_id]
        assert mine and mine[0][0] == "pending" and mine[-1][1] == order.state.value
    market_steps = [(line["src"], line["dst"]) for line in lines if line["kind"] == "market_transition"]
    assert market_steps[0] == ("starting", "reconciling") and market_steps[-1] == ("shutting_down", "shutdown")
    assert all(line["reason"] for line in lines if line["kind"] == "market_transition")
    # Block lines are changes only.
    blocks = [line["reason"] for line in lines if line["kind"] == "block"]
    assert blocks and all(a != b for a, b in zip(blocks, blocks[1:], strict=False)) and blocks[-1] == "cutoff"


async def test_a_crash_mid_run_leaves_only_complete_lines(autojump_clock, tmp_path):
    path = tmp_path / "journal.jsonl"

    def crash_at_20_s(runner: MarketRunner) -> None:
        original = runner.tick

        async def tick() -> None:
            if trio.current_time() >= 20.0:
                raise RuntimeError("injected crash")
            await original()

        runner.tick = tick  # type: ignore[method-assign]

    async with scenario(journal_path=path, **WINDOW) as sc, trio.open_nursery() as nursery:
        sc.runner_hooks.append(crash_at_20_s)
        sc.start(nursery)
        await sc.done.wait()
        assert sc.reason is ExitReason.CRASH
        secrets = _secrets(sc)

    lines = _lines(path)  # every line parses: none was cut
    assert len(lines) == path.read_text().count("\n") > 50
    stop = [line for line in lines if line["kind"] == "market_stop"]
    assert [(s["reason"], s["detail"]) for s in stop] == [("crash", "RuntimeError: injected crash")]
    exit_cancel = [line for line in lines if line["kind"] == "cancel_all" and line["why"] == "exit"]
    assert exit_cancel[-1]["verified"] is True and exit_cancel[-1]["t"] == stop[0]["t"]
    text = path.read_text()
    assert not any(secret in text for secret in secrets)
