"""The private key, the API secret and the passphrase appear in no output: logs at DEBUG, the journal, the
metrics page, diagrams, exception texts, reprs, the status and the summary; the journal is owner-only.

In process (fake clock, the in-process simulator): a normal run, an engine crash, a supervisor-level
crash, an auth failure and a burst of malformed user frames, with every log record captured raw (before
any redaction: a secret must never even reach the logging layer). As a process: `python -m bot run` in
live mode at DEBUG with the credentials given explicitly, its metrics page scraped, stopped by SIGINT;
`check-config` with the same environment.
"""

from __future__ import annotations

import io
import logging
import os
import re
import stat
import sys
import traceback
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from prometheus_client import generate_latest

from bot.main_job import _summary, format_summary
from bot.observability.metrics import Metrics
from bot.status_snapshot import snapshot
from statemachines.diagrams import DIAGRAM_FORMATS, export
from statemachines.market import ExitReason
from tests.reliability.matrix import InjectedFault
from tests.reliability.processes import BotProcess, Venue, bot_env, child_env, pick_window_s, running_sim
from tests.scenarios.harness import TEST_PRIVATE_KEY, scenario

_WINDOW_S = 80
_METRICS_LINE = re.compile(r"metrics on http://([0-9.]+):(\d+)/metrics")


def _spellings(secret: str) -> set[str]:
    """A secret as it could be printed: as is, without/with 0x, both base64 alphabets, upper case hex."""
    out = {secret, secret.removeprefix("0x"), secret.upper(), secret.removeprefix("0x").upper()}
    out |= {s.replace("-", "+").replace("_", "/") for s in list(out)}
    return {s for s in out if len(s) >= 8}


def _leaks(texts: dict[str, str], secrets: list[str]) -> list[str]:
    found = []
    for where, text in texts.items():
        for secret in secrets:
            if any(spelling in text for spelling in _spellings(secret)):
                found.append(f"a secret ({len(secret)} chars) appears in {where}")
    return found


class _RawCapture(logging.Handler):
    """Every record at DEBUG, formatted with its exception and stack, before any redaction."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.buffer = io.StringIO()

    def emit(self, record: logging.LogRecord) -> None:
        self.buffer.write(self.format(record) + "\n")


@pytest.fixture
def raw_logs():
    root = logging.getLogger()
    handler = _RawCapture()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


async def _run(mode: str, journal: Path) -> dict[str, str]:
    """One in-process run ending the way `mode` says; every text it produced, by where it came from."""
    texts: dict[str, str] = {}
    async with scenario(window_s=_WINDOW_S, journal_path=journal, quote_cutoff_s=20.0) as sc:
        sup = sc.supervisor
        error: BaseException | None = None
        done = trio.Event()

        async def run_supervisor() -> None:
            nonlocal error
            try:
                await sup.run()
            except Exception as exc:  # a supervisor-level crash: its text is one of the outputs
                error = exc
            finally:
                done.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_supervisor)
            runner = await sc.first_runner()
            await sc.wait_until(lambda: sup.creds is not None and sc.our_open_orders())
            if mode == "engine_crash":
                async def boom(*args: Any, **kwargs: Any) -> Any:
                    raise InjectedFault("injected fault in the quote loop")

                runner.manager.sync = boom  # type: ignore[method-assign]
            elif mode == "supervisor_crash":
                assert sup.user_hub is not None

                def broken(event: Any) -> Any:
                    raise InjectedFault("injected fault in the user hub")

                sup.user_hub._route = broken  # type: ignore[method-assign]
            elif mode == "auth_failure":
                sc.sim.admin.http.append(_http_fault(kind="status", status=401, families=["orders", "cancels"], count=50))
            elif mode == "bad_input":
                frames = [{"event_type": "order", "id": None}, {"event_type": "trade", "price": "NaN"},
                          {"nonsense": [1, 2, {"x": float("inf")}]}, {"event_type": "order", "type": "UPDATE",
                                                                      "id": "0x" + "1" * 64, "price": "-3"}]
                sc.sim.fronts.hub.inject_user_events(sc.owner, frames * 10)
                await trio.sleep(1.0)
                sup.stop(ExitReason.OPERATOR, "test")
            await done.wait()
            nursery.cancel_scope.cancel()
        metrics = Metrics()
        metrics.update(snapshot(sup, sc.clock, "live"))
        texts["metrics page"] = generate_latest(metrics.registry).decode()
        summary = _summary(sup, sup.stop_reason or ExitReason.MARKET_END, 0, 1.0)
        texts["summary"] = format_summary(summary) + repr(summary)
        texts["reprs"] = " ".join(repr(x) for x in (sup, runner, runner.gateway, runner.manager, sup.rest, sc.signer,
                                                     sup.creds, sc.settings, runner.inventory, sup.heartbeat))
        texts["settings"] = repr(sc.settings.masked())
        if error is not None:
            texts["exception"] = "".join(traceback.format_exception(error)) + str(error) + repr(error)
        texts["_exit"] = "raised" if error is not None else (sup.stop_reason or ExitReason.MARKET_END).value
        assert sup.creds is not None
        texts["_creds"] = "\x00".join((sup.creds.secret, sup.creds.passphrase))
    return texts


def _http_fault(**kwargs: Any) -> Any:
    from bot.sim.faults import HttpFault

    return HttpFault(**kwargs)


_EXPECTED_EXIT = {"normal": "market_end", "engine_crash": "market_end", "supervisor_crash": "raised",
                  "auth_failure": "cancel_all_unverified", "bad_input": "operator"}


@pytest.mark.parametrize("mode", list(_EXPECTED_EXIT))
async def test_no_secret_in_any_output_of_an_in_process_run(mode: str, tmp_path: Path, raw_logs: Any, autojump_clock):
    journal = tmp_path / "journal.jsonl"
    journal.write_bytes(b"")
    journal.chmod(0o644)  # an existing journal readable by others is made owner-only
    texts = await _run(mode, journal)
    secret, passphrase = texts.pop("_creds").split("\x00")
    assert texts.pop("_exit") == _EXPECTED_EXIT[mode]
    texts["logs (raw, DEBUG)"] = raw_logs.buffer.getvalue()
    texts["journal"] = journal.read_text()
    texts["diagrams"] = "".join(t for fmt in DIAGRAM_FORMATS for t in export(fmt).values())
    assert texts["journal"].count("\n") > 10 and "DEBUG" in texts["logs (raw, DEBUG)"]
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600
    assert _leaks(texts, [TEST_PRIVATE_KEY, secret, passphrase]) == []


def test_a_new_journal_is_created_owner_only(tmp_path: Path) -> None:
    from bot.engine.journal import Journal

    old_umask = os.umask(0)  # even with a permissive umask
    try:
        journal = Journal(tmp_path / "sub" / "journal.jsonl", lambda: 0.0)
        journal.write("x", n=1)
        journal.close()
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "sub" / "journal.jsonl").stat().st_mode) == 0o600


def test_the_journal_redacts_credential_named_fields_at_any_depth_and_keeps_everything_else(tmp_path: Path) -> None:
    """The second line of defence: a field named like a credential, in any case and at any depth (in a
    dict inside a list inside a dict), is written as "<redacted>"; a value that merely contains such a
    name, and every other field, is written as given."""
    import json

    from bot.engine.journal import Journal

    journal = Journal(tmp_path / "journal.jsonl", lambda: 12.5)
    journal.write("post", order={"salt": 7, "signature": "0xabc", "nested": [{"API_Secret": "s3cr3t"}]},
                  note='a value with "secret": inside', Passphrase="pp", ids=("a", "b"))
    journal.write("transition", order_id="0x01", level=None, matched=1.5)
    journal.close()
    first, second = (json.loads(line) for line in (tmp_path / "journal.jsonl").read_text().splitlines())
    assert first == {"t": 12.5, "kind": "post",
                     "order": {"salt": 7, "signature": "0xabc", "nested": [{"API_Secret": "<redacted>"}]},
                     "note": 'a value with "secret": inside', "Passphrase": "<redacted>", "ids": ["a", "b"]}
    assert second == {"t": 12.5, "kind": "transition", "order_id": "0x01", "level": None, "matched": 1.5}
    assert "s3cr3t" not in (tmp_path / "journal.jsonl").read_text()


PROCESS_KEY = "0x" + "2d7f1c3b9e4a6f58a1c0d2e3f4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3b"


@pytest.mark.slow
async def test_no_secret_in_the_outputs_of_a_live_process_at_debug(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    async with running_sim(window_s=pick_window_s(), seed=11, stderr=tmp_path / "sim.err") as sim:
        venue = Venue(sim, PROCESS_KEY)
        await venue.open_orders(sim.current_market()["condition_id"])  # derives the key's credentials
        creds = venue.creds
        assert creds is not None
        env = bot_env(sim, private_key=PROCESS_KEY, market=sim.current_market()["condition_id"], journal=journal,
                      log_level="DEBUG", metrics_port=0, api_key=creds.api_key, api_secret=creds.secret,
                      api_passphrase=creds.passphrase)
        bot = await BotProcess.start(env, tmp_path, "bot")
        page = ""
        with trio.move_on_after(20):
            while not page:
                await trio.sleep(0.5)
                found = _METRICS_LINE.search(bot.stderr.read_text(errors="replace"))
                if found and "open_orders" in bot.stderr.read_text(errors="replace"):
                    async with httpx.AsyncClient() as client:
                        page = (await client.get(f"http://{found.group(1)}:{found.group(2)}/metrics")).text
        await trio.sleep(2.0)
        code = await bot.interrupt()
        with trio.fail_after(60):
            config = await trio.run_process([sys.executable, "-m", "bot", "check-config"], capture_stdout=True,
                                            capture_stderr=True, env=child_env(env), cwd=tmp_path)
    texts = {"bot stdout+stderr": bot.output(), "journal": journal.read_text(), "metrics page": page,
             "check-config": (config.stdout + config.stderr).decode(errors="replace")}
    assert page and "DEBUG" in texts["bot stdout+stderr"] and code == 130, texts["bot stdout+stderr"][-2000:]
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600
    assert _leaks(texts, [PROCESS_KEY, creds.secret, creds.passphrase]) == []
