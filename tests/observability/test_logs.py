"""Logging never lets a secret out: not in a formatted message, an exception's text, a stack, or JSON fields."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from bot.observability.logs import CHATTY_LOGGERS, REDACTED, secret_variants, settings_secrets, setup_logging
from settings import BotSettings

PRIVATE_KEY = "0x" + "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d"
API_SECRET = "c2VjcmV0LXNpZ25pbmcta2V5LWZvci1obWFj_-8="
PASSPHRASE = "e7c0b4d1a9f2" * 4


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Put the root logger back as the test found it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    chatty = {name: logging.getLogger(name).level for name in CHATTY_LOGGERS}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, chatty_level in chatty.items():
        logging.getLogger(name).setLevel(chatty_level)


def _setup(json_lines: bool = False) -> io.StringIO:
    out = io.StringIO()
    setup_logging("INFO", json_lines, [PRIVATE_KEY, API_SECRET, PASSPHRASE], stream=out)
    return out


def _assert_clean(text: str) -> None:
    lowered = text.lower()
    for secret in (PRIVATE_KEY, PRIVATE_KEY[2:], API_SECRET, PASSPHRASE):
        assert secret.lower() not in lowered, f"secret leaked into:\n{text}"


def test_a_secret_formatted_into_a_message_is_redacted(root_logging: None) -> None:
    out = _setup()
    log = logging.getLogger("bot.engine.somewhere")  # a module logger: propagates to the root handler
    log.info("signing with %s", PRIVATE_KEY[2:])  # without its 0x
    log.warning("creds %s/%s", API_SECRET, PASSPHRASE.upper())  # upper-cased hex still matches
    log.info(f"inline {PRIVATE_KEY}")
    text = out.getvalue()
    _assert_clean(text)
    assert text.count(REDACTED) == 4
    assert "signing with [REDACTED]" in text


def test_an_exception_whose_text_holds_a_secret_is_redacted(root_logging: None) -> None:
    out = _setup()
    log = logging.getLogger("bot.protocol.somewhere")
    try:
        try:
            raise KeyError(PASSPHRASE)
        except KeyError as inner:
            raise ValueError(f"auth failed for {API_SECRET}") from inner
    except ValueError:
        log.exception("request failed")
    text = out.getvalue()
    _assert_clean(text)
    assert "ValueError: auth failed for [REDACTED]" in text
    assert "KeyError" in text  # the chained cause is still shown, redacted
    assert "Traceback" in text


def test_stack_info_is_redacted(root_logging: None) -> None:
    out = _setup()

    def leaky_frame(key: str) -> None:
        logging.getLogger("bot.x").info("here", stack_info=True)

    leaky_frame(PRIVATE_KEY)
    _assert_clean(out.getvalue())


def test_json_lines_carry_level_logger_message_and_redacted_extras(root_logging: None) -> None:
    out = _setup(json_lines=True)
    log = logging.getLogger("bot.engine.market")
    log.info("posted %d orders", 3, extra={"market": "btc-updown-15m", "note": f"key={PRIVATE_KEY}"})
    try:
        raise RuntimeError(PASSPHRASE)
    except RuntimeError:
        log.error("boom", exc_info=True)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["msg"] for r in records] == ["posted 3 orders", "boom"]
    assert records[0]["level"] == "INFO" and records[0]["logger"] == "bot.engine.market"
    assert records[0]["market"] == "btc-updown-15m"
    assert records[0]["note"] == f"key={REDACTED}"
    assert records[1]["exc"].endswith(f"RuntimeError: {REDACTED}")
    _assert_clean(out.getvalue())


def test_setup_twice_keeps_one_handler_and_the_level(root_logging: None) -> None:
    root = logging.getLogger()
    before = len(root.handlers)
    first = io.StringIO()
    setup_logging("INFO", False, [], stream=first)
    second = io.StringIO()
    redactor = setup_logging("WARNING", False, [], stream=second)
    assert len(root.handlers) == before + 1
    logging.getLogger("bot.y").info("quiet")
    logging.getLogger("bot.y").warning("late secret %s", PASSPHRASE)
    assert first.getvalue() == ""
    assert PASSPHRASE in second.getvalue()  # nothing to redact yet
    redactor.add(PASSPHRASE)  # e.g. credentials derived after start
    logging.getLogger("bot.y").warning("late secret %s", PASSPHRASE)
    assert second.getvalue().splitlines()[-1].endswith(f"late secret {REDACTED}")


def test_secret_variants_cover_prefix_and_both_base64_alphabets() -> None:
    assert secret_variants("0xABCD") >= {"0xABCD", "ABCD"}
    assert secret_variants("abcd") >= {"abcd", "0xabcd"}
    assert secret_variants("a-b_c") >= {"a-b_c", "a+b/c"}
    assert secret_variants("   ") == set()


def test_settings_secrets_lists_every_secret_that_is_set() -> None:
    settings = BotSettings(
        private_key=SecretStr(PRIVATE_KEY),
        api_key=SecretStr("key-uuid"),
        api_secret=SecretStr(API_SECRET),
        api_passphrase=SecretStr(PASSPHRASE),
    )
    assert settings_secrets(settings) == [PRIVATE_KEY, "key-uuid", API_SECRET, PASSPHRASE]
    assert settings_secrets(BotSettings()) == []
