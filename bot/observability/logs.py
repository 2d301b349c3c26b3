"""Process logging: stdlib `logging`, one logger per module, text or JSON lines, secrets redacted.

Modules log through `logging.getLogger(__name__)`; `setup_logging` (called once by `main`) installs
one stderr handler on the root logger. Its `SecretRedactor` filter rewrites every record that
reaches the handler: the formatted message, the exception text and the stack text have each secret
replaced by `[REDACTED]`. It runs before any formatter, so neither the text nor the JSON form can
carry a secret.

Why a handler filter and not a logger filter: a filter on a logger sees only records logged on that
very logger, not those propagated from `bot.engine.market` and friends; a handler filter sees all.
"""

from __future__ import annotations

import datetime as dt
import json as jsonlib
import logging
import re
import sys
import traceback
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final, TextIO

if TYPE_CHECKING:
    from settings import BotSettings

__all__ = [
    "CHATTY_LOGGERS",
    "REDACTED",
    "JsonFormatter",
    "SecretRedactor",
    "secret_variants",
    "settings_secrets",
    "setup_logging",
]

REDACTED: Final = "[REDACTED]"
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Libraries that log every request at INFO; at the bot's INFO they would drown its own lines.
CHATTY_LOGGERS: Final = ("httpx", "httpcore", "hpack", "trio_websocket", "hypercorn.access")

# The attributes every LogRecord has; anything else came in through `extra=` and goes into JSON.
_STANDARD_ATTRS: Final = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName"}
)


def secret_variants(secret: str) -> set[str]:
    """The spellings of one secret worth redacting: as given, with and without `0x`, both base64 alphabets.

    A private key is logged with or without its prefix; an API secret (base64url) may be re-encoded
    with the standard alphabet before it reaches a log line.
    """
    secret = secret.strip()
    if not secret:
        return set()
    out = {secret}
    if secret[:2].lower() == "0x" and len(secret) > 2:
        out.add(secret[2:])
    else:
        out.add("0x" + secret)
    for item in list(out):
        out.add(item.replace("-", "+").replace("_", "/"))
        out.add(item.replace("+", "-").replace("/", "_"))
    return out


def settings_secrets(settings: BotSettings) -> list[str]:
    """Every secret value the settings hold (private key, API key, secret, passphrase), unset ones skipped."""
    out: list[str] = []
    for value in (settings.private_key, settings.api_key, settings.api_secret, settings.api_passphrase):
        if value is not None and value.get_secret_value():
            out.append(value.get_secret_value())
    return out


class SecretRedactor(logging.Filter):
    """Replaces every known secret in a record's message, exception text and stack text; never drops a record.

    Matching ignores case (a hex key may be printed upper-case); over-redacting a look-alike is the
    safe failure. `add` extends the set later, e.g. with API credentials derived at start.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        """Also redact these (empty or None values are ignored)."""
        for secret in secrets:
            if secret:
                self._secrets |= secret_variants(secret)
        if self._secrets:
            # Longest first, so `0xabc…` is replaced whole rather than leaving its `0x` behind.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered), re.IGNORECASE)

    def redact(self, text: str) -> str:
        """`text` with every known secret replaced by `[REDACTED]`."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is None:
            return True
        # Format once here (message % args) so a secret passed as an argument is caught too.
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what we can see, never fail the log call
            message = f"{record.msg!r} {record.args!r}"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = self.redact(text)
            # Formatters re-render `exc_info` when `exc_text` is empty; drop it so only the redacted text is left.
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC ISO 8601), level, logger, msg, exc/stack when present, extras."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in out:
                out[key] = (
                    value if isinstance(value, str | int | float | bool) or value is None else repr(value)
                )
        return jsonlib.dumps(out, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at emit time, so a rich Live display's redirect catches it."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


_INSTALLED_MARK: Final = "_bot_observability_handler"


def setup_logging(
    level: str | int,
    json: bool,
    secrets: Iterable[str | None],
    *,
    stream: TextIO | None = None,
) -> SecretRedactor:
    """Install the bot's one log handler on the root logger and return its redactor.

    `level` is a name (`"INFO"`) or number; `json` selects JSON lines; `secrets` are redacted from
    every record (pass `settings_secrets(settings)`; add derived credentials later with
    `redactor.add`). `stream` (tests) replaces stderr. Calling again replaces the previous handler.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _INSTALLED_MARK, False):
            root.removeHandler(handler)
            handler.close()
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    setattr(handler, _INSTALLED_MARK, True)
    redactor = SecretRedactor(s for s in secrets if s)
    handler.addFilter(redactor)
    handler.setFormatter(JsonFormatter() if json else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    chatty_level = logging.NOTSET if root.level <= logging.DEBUG else logging.WARNING
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(chatty_level)
    return redactor
