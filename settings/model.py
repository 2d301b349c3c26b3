"""Every tunable and secret of the bot, validated once at start.

`BotSettings` is frozen and forbids unknown keys. Sources, highest priority first: keyword
arguments (the CLI), the environment (`BOT_` prefix), a `.env` file, a TOML file given by
`--config`, then the defaults below. Secrets are `SecretStr`: they print as `**********`.
"""

from __future__ import annotations

import difflib
import enum
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings import SettingsError as PydanticSettingsError

from bot.engine.sharding import owned

__all__ = [
    "BotMode",
    "BotSettings",
    "CompletionOrderType",
    "DepositWalletShape",
    "RewardsMode",
    "SettingsError",
    "SignatureType",
    "StormAction",
    "UnknownOrderAction",
    "load_settings",
    "nearest_setting",
    "unknown_env_settings",
]

_ENV_PREFIX = "BOT_"

# Real venue endpoints (protocol spec section 1, 6.1, 8). Used only in live mode.
LIVE_CLOB_URL = "https://clob.polymarket.com"
LIVE_WS_MARKET_URL = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
LIVE_WS_USER_URL = "wss://ws-subscriptions-clob.polymarket.com/ws/user"
LIVE_GAMMA_URL = "https://gamma-api.polymarket.com"


class BotMode(enum.StrEnum):
    PAPER = "paper"
    LIVE = "live"


class SignatureType(enum.IntEnum):
    """Wallet kind that funds the orders (protocol spec section 9)."""

    EOA = 0
    POLY_PROXY = 1
    POLY_GNOSIS_SAFE = 2
    POLY_1271 = 3  # deposit wallet (spec 12.1): maker = signer = the wallet


class DepositWalletShape(enum.StrEnum):
    """Proxy kind of a deposit wallet, for deriving its address (docs, Trading → Deposit Wallets)."""

    BEACON = "beacon"  # wallets created since the beacon upgrade
    UUPS = "uups"  # legacy wallets


class CompletionOrderType(enum.StrEnum):
    FOK = "FOK"
    FAK = "FAK"


class StormAction(enum.StrEnum):
    """What a market does after an unknown-order storm has cancelled all its orders."""

    SHUTDOWN = "shutdown"
    REBUILD = "rebuild"


class RewardsMode(enum.StrEnum):
    """Whether the ladder is shaped for the venue's liquidity rewards (spec 12.2)."""

    AUTO = "auto"  # on for markets with a reward pool
    ON = "on"
    OFF = "off"


class UnknownOrderAction(enum.StrEnum):
    """What reconciliation does with venue orders the cache does not know, or cache orders the venue lost."""

    REPAIR = "repair"
    EXIT = "exit"


class SettingsError(Exception):
    """Invalid settings: one human-readable line per bad field, never a secret value."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class BotSettings(BaseSettings):
    """The bot's whole configuration. Frozen; unknown keys are an error."""

    model_config = SettingsConfigDict(
        env_prefix="BOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        frozen=True,
        validate_default=True,
        case_sensitive=False,
        # `BOT_API_KEY=` in an env file means "not set" (derive it), not an empty credential.
        env_ignore_empty=True,
    )

    # Set by `load_settings(config_path=...)`; a class-level slot so the source hook can see it.
    _toml_path: ClassVar[Path | None] = None

    # --- mode and endpoints -------------------------------------------------------------------
    mode: BotMode = Field(BotMode.PAPER, description="paper: embedded simulator; live: the configured venue")
    clob_url: str | None = Field(None, description="CLOB REST base URL (live default: the real venue)")
    ws_market_url: str | None = Field(None, description="market WebSocket URL")
    ws_user_url: str | None = Field(None, description="user WebSocket URL")
    gamma_url: str | None = Field(None, description="Gamma discovery base URL")
    chain_id: int = Field(137, description="EIP-712 chain id (Polygon)")

    # --- credentials --------------------------------------------------------------------------
    private_key: SecretStr | None = Field(None, description="signer EOA private key, 0x + 64 hex")
    api_key: SecretStr | None = Field(None, description="L2 API key (derived from the private key when absent)")
    api_secret: SecretStr | None = Field(None, description="L2 API secret (base64url)")
    api_passphrase: SecretStr | None = Field(None, description="L2 API passphrase")
    signature_type: SignatureType = Field(SignatureType.EOA, description="0 EOA, 1 proxy, 2 safe, 3 deposit wallet")
    funder_address: str | None = Field(
        None, description="funder (maker): proxy, safe or deposit wallet; EOA: the key; type 3: derived when unset"
    )
    deposit_wallet_shape: DepositWalletShape = Field(
        DepositWalletShape.BEACON, description="deriving a deposit wallet: beacon (new wallets) or uups (legacy)"
    )
    # Defaults: docs, Trading → Deposit Wallets (Polygon); the UUPS implementation is UNCONFIRMED.
    deposit_wallet_factory: str = Field(
        "0x00000000000Fb5C9ADea0298D729A0CB3823Cc07", description="deposit-wallet factory (CREATE2 deployer)"
    )
    deposit_wallet_beacon: str = Field(
        "0x7A18EDfe055488A3128f01F563e5B479D92ffc3a", description="deposit-wallet beacon (new wallets)"
    )
    deposit_wallet_implementation: str = Field(
        "0x58CA52ebe0DadfdF531Cde7062e76746de4Db1eB", description="legacy UUPS deposit-wallet implementation"
    )

    # --- market selection ---------------------------------------------------------------------
    market: str = Field("auto", description="a condition id (0x...), a market slug, or 'auto' (follow BOT_SERIES)")
    series: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["btc-updown-15m"],
        description="recurring series to follow when market=auto, as '{asset}-updown-{N}m'",
    )
    series_window_s: float | None = Field(
        None, ge=60, le=86_400, description="real window length of the series (default: its N minutes; a simulator may compress it)"
    )
    rollover_lead_s: float = Field(30.0, ge=0, le=3600, description="start a market's runner this long before its window opens")
    max_markets: int = Field(8, ge=1, le=500, description="markets traded at once")
    shard_count: int = Field(1, ge=1, le=1000, description="processes the series are split across (one key and journal each)")
    shard_index: int = Field(
        0, ge=0, description="this process's shard in [0, shard_count): follows only the series it owns (k8s: the pod ordinal)"
    )

    # --- ladder -------------------------------------------------------------------------------
    ladder_levels: int = Field(3, ge=1, le=20, description="BUY levels per token")
    level_spacing_ticks: int = Field(1, ge=1, le=100, description="ticks between ladder levels")
    top_offset_ticks: int = Field(1, ge=0, le=100, description="level 0 sits this many ticks behind the best bid we may join")
    size_per_level_shares: float = Field(10.0, gt=0, le=100_000, description="shares per ladder level (at least the market minimum)")
    min_pair_edge: float = Field(0.02, ge=0, lt=1, description="bid_up + bid_down <= 1 - min_pair_edge")
    max_inventory_skew_shares: float = Field(50.0, ge=0, description="the leading side quotes only while its excess plus its open BUYs filling stays within this")
    reprice_ticks: int = Field(1, ge=0, le=100, description="reprice a level when its price moved more than N ticks")
    resize_pct: float = Field(25.0, ge=0, le=1000, description="resize a level when its size drifted more than this percentage")
    max_post_batch: int = Field(15, ge=1, le=15, description="orders per POST /orders (venue max 15)")
    max_cancel_batch: int = Field(1000, ge=1, le=1000, description="ids per DELETE /orders (venue max 1000)")
    gtd_at_cutoff: bool = Field(True, description="post ladder orders as GTD so the venue expires them at the cutoff")
    concurrent_reprice: bool = Field(
        True, description="re-price concurrently: sign while the cancel is in flight, post new levels and the replacements that fit the caps at once, both counted until the cancel is answered (false: cancel, await its answer, then post)"
    )
    quote_interval_s: float = Field(0.25, gt=0, le=60, description="strategy tick when no market data arrives")
    min_tick_interval_s: float = Field(
        0.0, ge=0, le=5, description="least time between two quote diffs of a market (conflates bursts; many markets: ~0.05)"
    )
    stale_book_s: float = Field(10.0, gt=0, le=600, description="a book older than this blocks quoting")

    # --- timing and safety --------------------------------------------------------------------
    quote_cutoff_s: float = Field(60.0, ge=0, le=3600, description="no maker quote within this long of market end")
    complete_after_cutoff: bool = Field(False, description="allow the completion executor after the cutoff")
    startup_cancel_all: bool = Field(True, description="cancel all our orders in the market at start (else seed from the venue)")
    cancel_unrelated_on_seed: bool = Field(True, description="when seeding, cancel SELLs and orders not on our tokens")
    reconcile_interval_s: float = Field(60.0, gt=0, le=3600, description="periodic reconciliation period")
    reconcile_grace_s: float = Field(5.0, ge=0, le=600, description="orders younger than this are not judged missing")
    reconcile_action: UnknownOrderAction = Field(UnknownOrderAction.REPAIR, description="repair or exit on a mismatch")
    cancel_retry_s: float = Field(1.0, gt=0, le=60, description="re-send a cancel whose answer was lost after this long")
    pending_settle_s: float = Field(30.0, gt=0, le=600, description="a pending order must be decided within this bound")
    heartbeat_interval_s: float = Field(5.0, gt=0, le=9, description="POST /v1/heartbeats period (venue timeout 10 s)")
    heartbeat_max_failures: int = Field(2, ge=1, le=100, description="consecutive heartbeat failures that stop the bot")
    cancel_all_timeout_s: float = Field(10.0, gt=0, le=120, description="bound on the shielded cancel-all at exit")
    cancel_all_retry_base_s: float = Field(0.2, gt=0, le=60, description="first pause between cancel-all attempts that did not verify")
    cancel_all_retry_max_s: float = Field(5.0, gt=0, le=600, description="cap of the cancel-all retry backoff (jittered, doubling)")
    heartbeat_sweep_wait_s: float = Field(16.0, ge=0, le=120, description="after stopping the heartbeat on purpose (unverified cancel-all), wait this long for the venue's dead-man sweep (10 s timeout, 5 s checks) before the last check")
    request_timeout_s: float = Field(5.0, gt=0, le=120, description="deadline of one REST call")
    order_lane: bool = Field(True, description="place and cancel over kept-open HTTP/1.1 connections of our own (h11), not httpx's pool (off, or a proxy in the environment: httpx)")
    order_lane_idle_s: float = Field(4.0, gt=0, le=600, description="the order lane never sends on a connection idle this long, and replaces idle ones at half of it (keep under the venue's keep-alive timeout)")
    ws_ping_interval_s: float = Field(10.0, gt=0, le=60, description="text PING period")
    ws_dead_after_s: float = Field(30.0, gt=0, le=600, description="no frame or PONG this long: reconnect")
    ws_reconnect_max_s: float = Field(30.0, gt=0, le=600, description="cap of the reconnect backoff")

    # --- failure backoff ----------------------------------------------------------------------
    backoff_base_s: float = Field(1.0, gt=0, le=600, description="first backoff after unexpected failures")
    backoff_max_s: float = Field(60.0, gt=0, le=3600, description="backoff cap")
    backoff_failures: int = Field(3, ge=1, le=1000, description="unexpected failures (in a row) that start a backoff")

    # --- unknown-order storm ------------------------------------------------------------------
    storm_threshold: int = Field(20, ge=1, le=100_000, description="unknown-order events within the window that make a storm")
    storm_window_s: float = Field(10.0, gt=0, le=3600, description="sliding window of the storm guard")
    storm_action: StormAction = Field(StormAction.SHUTDOWN, description="after the storm's cancel-all: shutdown or rebuild")

    # --- completion ---------------------------------------------------------------------------
    completion_order_type: CompletionOrderType = Field(CompletionOrderType.FAK, description="FOK or FAK")
    completion_min_imbalance_shares: float = Field(5.0, gt=0, description="complete when one side leads by this many shares")
    completion_min_edge: float = Field(0.0, ge=-0.5, lt=1, description="cap = 1 - avg_cost(leading) - min_edge (negative: a set loss)")
    completion_cooldown_s: float = Field(5.0, ge=0, le=600, description="pause between completion attempts")
    completion_settle_s: float = Field(2.0, ge=0, le=60, description="wait this long for a completion's fills before quoting again")
    completion_max_pair_cost: float | None = Field(None, gt=0, le=1.5, description="optional cap on pair cost incl. fee; only tightens 1 - completion_min_edge")

    # --- risk caps ----------------------------------------------------------------------------
    max_unpaired_shares: float = Field(100.0, gt=0, description="cap on one side's excess, counting every resting order as filled")
    max_notional_per_market_pusd: float = Field(500.0, gt=0, description="cap on pUSD committed per market (inventory + resting orders at worst case)")
    max_total_notional_pusd: float = Field(
        5000.0, gt=0,
        description="cap on pUSD committed across markets by the maker ladders (checked as each order is registered; a completion pairing inventory may go past it)",
    )

    # --- operations ---------------------------------------------------------------------------
    journal_path: Path | None = Field(None, description="append-only JSON-lines audit file")
    record_dir: Path | None = Field(
        None, description="while trading, record our markets' market channel here (PMXT v2 Parquet, our own size taken out)"
    )
    metrics_port: int | None = Field(None, ge=0, le=65535, description="Prometheus metrics port (off when unset)")
    metrics_host: str = Field("127.0.0.1", description="metrics listen address (0.0.0.0 to scrape from outside a container)")
    log_level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$", description="logging level")
    log_json: bool = Field(False, description="JSON log lines")

    # --- incentives (liquidity rewards, maker rebates) ---------------------------------------
    rewards_mode: RewardsMode = Field(RewardsMode.AUTO, description="rewards-aware ladder: auto (markets with a reward pool), on, off")
    rewards_min_score_gain: float = Field(
        0.25, ge=0, le=1, description="keep a scoring order instead of moving it closer unless its score would grow by this fraction"
    )
    rewards_sample_period_s: float | None = Field(
        None, gt=0, le=3600, description="the venue's reward sampling minute (default 60 s; paper mode compresses it with the window)"
    )
    rewards_estimate_interval_s: float = Field(1.0, gt=0, le=600, description="how often our reward share is estimated")
    rewards_check_interval_s: float = Field(30.0, gt=0, le=3600, description="how often /orders-scoring is asked whether our orders score")
    rewards_min_rest_s: float = Field(3.5, ge=0, le=600, description="an order scores only after resting this long (venue rule)")
    selection_reward_share: float = Field(0.25, ge=0, le=1, description="market selection: the reward share we expect to hold")
    selection_fill_shares: float = Field(100.0, ge=0, description="market selection: shares we expect to fill per window")
    selection_adverse_cost_per_share: float = Field(
        0.01, ge=0, le=1, description="market selection: expected loss per filled share to adverse selection, pUSD"
    )

    # --- paper mode (embedded simulator) ------------------------------------------------------
    paper_window_s: float = Field(150.0, ge=70, le=3600, description="paper series window length")
    paper_seed: int = Field(7, description="seed of the paper market flow")
    paper_balance_pusd: float = Field(10_000.0, gt=0, description="paper account starting pUSD")

    @field_validator("private_key")
    @classmethod
    def _check_private_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value().strip()
        body = raw[2:] if raw.lower().startswith("0x") else raw
        if len(body) != 64 or any(c not in "0123456789abcdefABCDEF" for c in body):
            # Never echo the value: it is a secret.
            raise ValueError("must be 64 hex digits, optionally 0x-prefixed")
        return SecretStr("0x" + body.lower())

    @field_validator("mode", mode="before")
    @classmethod
    def _mode_case(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("funder_address", "deposit_wallet_factory", "deposit_wallet_beacon", "deposit_wallet_implementation")
    @classmethod
    def _check_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        body = value[2:] if value.lower().startswith("0x") else ""
        if len(body) != 40 or any(c not in "0123456789abcdefABCDEF" for c in body):
            raise ValueError("must be an 0x-prefixed 40-hex-digit address")
        return value

    @field_validator("series", mode="before")
    @classmethod
    def _split_series(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("series")
    @classmethod
    def _check_series(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one series is needed, e.g. 'btc-updown-15m'")
        for item in value:
            parts = item.split("-")
            if len(parts) != 3 or parts[1] != "updown" or not parts[2].endswith("m") or not parts[2][:-1].isdigit():
                raise ValueError(f"series {item!r} is not of the form '{{asset}}-updown-{{N}}m'")
        return value

    @model_validator(mode="after")
    def _check_wallet(self) -> BotSettings:
        # Impossible (signature type, funder, key) combinations; the rules live in bot.protocol.wallets.
        if self.private_key is None:
            if self.signature_type in (SignatureType.POLY_PROXY, SignatureType.POLY_GNOSIS_SAFE) and (
                self.funder_address is None
            ):
                from bot.protocol.wallets import WalletConfigError

                raise WalletConfigError(
                    "funder_address",
                    f"signature_type {int(self.signature_type)} needs BOT_FUNDER_ADDRESS (the proxy or safe)",
                )
            return self
        self.wallet()  # raises WalletConfigError (a ValueError) naming the field
        return self

    def wallet(self) -> Any:
        """The resolved `bot.protocol.wallets.Wallet` (maker, signer, effective funder). Needs the key."""
        from bot.protocol.signing import OrderSigner
        from bot.protocol.wallets import DepositWalletShape as Shape
        from bot.protocol.wallets import resolve_wallet

        assert self.private_key is not None
        # The key's address only: the signer object is dropped at once (never stored on settings).
        key_address = OrderSigner(self.private_key.get_secret_value()).address
        return resolve_wallet(
            key_address,
            int(self.signature_type),
            self.funder_address,
            shape=Shape(self.deposit_wallet_shape.value),
            factory=self.deposit_wallet_factory,
            beacon=self.deposit_wallet_beacon,
            implementation=self.deposit_wallet_implementation,
        )

    @model_validator(mode="after")
    def _check_live_needs(self) -> BotSettings:
        if self.backoff_max_s < self.backoff_base_s:
            raise ValueError("backoff_max_s must be >= backoff_base_s")
        if self.shard_index >= self.shard_count:
            raise ValueError(f"shard_index must be < shard_count ({self.shard_count}), got {self.shard_index}")
        if self.shard_count > 1:
            if self.market != "auto":
                raise ValueError("sharding splits the followed series: with shard_count > 1, market must be 'auto'")
            if not owned(self.series, self.shard_index, self.shard_count):
                raise ValueError(
                    f"shard {self.shard_index} of {self.shard_count} owns none of the series {self.series}: "
                    "use fewer shards or follow more series"
                )
        if self.mode is BotMode.LIVE and self.private_key is None:
            raise ValueError("live mode needs BOT_PRIVATE_KEY")
        partial = [self.api_key, self.api_secret, self.api_passphrase]
        if any(x is not None for x in partial) and not all(x is not None for x in partial):
            raise ValueError("give all of api_key, api_secret, api_passphrase, or none (they are then derived)")
        return self

    # --- derived ------------------------------------------------------------------------------
    @property
    def effective_clob_url(self) -> str | None:
        return self.clob_url or (LIVE_CLOB_URL if self.mode is BotMode.LIVE else None)

    @property
    def effective_ws_market_url(self) -> str | None:
        return self.ws_market_url or (LIVE_WS_MARKET_URL if self.mode is BotMode.LIVE else None)

    @property
    def effective_ws_user_url(self) -> str | None:
        return self.ws_user_url or (LIVE_WS_USER_URL if self.mode is BotMode.LIVE else None)

    @property
    def effective_gamma_url(self) -> str | None:
        return self.gamma_url or (LIVE_GAMMA_URL if self.mode is BotMode.LIVE else None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        if cls._toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls._toml_path))
        sources.append(file_secret_settings)
        return tuple(sources)

    def masked(self) -> dict[str, Any]:
        """The effective configuration as plain data, secrets replaced by a mask."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                out[name] = "**********"
            elif isinstance(value, enum.Enum):
                out[name] = value.value
            elif isinstance(value, Path):
                out[name] = str(value)
            else:
                out[name] = value
        return out


def _format_error(err: dict[str, Any]) -> str:
    cause = (err.get("ctx") or {}).get("error")
    field_name = getattr(cause, "field", None)
    if isinstance(field_name, str) and field_name in BotSettings.model_fields and not err.get("loc"):
        # A combination check that names its field (bot.protocol.wallets.WalletConfigError).
        return f"invalid setting {field_name} (BOT_{field_name.upper()}): {cause}"
    loc = ".".join(str(p) for p in err.get("loc", ())) or "settings"
    field = BotSettings.model_fields.get(str(err["loc"][0])) if err.get("loc") else None
    secret = field is not None and "SecretStr" in str(field.annotation)
    # An unknown key may be a misspelt secret (`privatekey = "0x..."`): never echo its value.
    hidden = secret or err.get("type") == "extra_forbidden"
    value = "<hidden>" if hidden else repr(err.get("input"))
    if isinstance(err.get("input"), dict):
        value = "(whole configuration)"
    env = f"BOT_{loc.upper()}" if err.get("loc") else ""
    msg = err.get("msg", "invalid")
    where = f"{loc} ({env})" if env else loc
    if err.get("type") == "extra_forbidden" and err.get("loc"):
        guess = nearest_setting(str(err["loc"][0]))
        msg += f"; did you mean {guess} (BOT_{guess.upper()})?" if guess else "; no setting has a similar name"
    return f"invalid setting {where}: value {value}: {msg}"


def nearest_setting(name: str) -> str | None:
    """The setting whose name is closest to `name` (a misspelling), or None when none is close."""
    found = difflib.get_close_matches(name.lower(), list(BotSettings.model_fields), n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_env_settings(environ: Mapping[str, str]) -> list[str]:
    """One line per `BOT_*` environment variable that names no setting, with the nearest valid name.

    The environment source ignores such variables (a shell holds many unrelated ones), so a typo such as
    `BOT_LADDER_LEVLES=5` would be silently lost: `check-config` refuses it and `run` warns at start.
    """
    lines = []
    for key in sorted(environ):
        if not key.upper().startswith(_ENV_PREFIX) or key.upper().removeprefix(_ENV_PREFIX).lower() in BotSettings.model_fields:
            continue
        guess = nearest_setting(key.upper().removeprefix(_ENV_PREFIX))
        hint = f"did you mean BOT_{guess.upper()}?" if guess else "no setting has a similar name"
        lines.append(f"unknown environment variable {key}: ignored; {hint}")
    return lines


def load_settings(config_path: Path | None = None, **overrides: Any) -> BotSettings:
    """Load and validate settings once.

    Raises `SettingsError` with one line per bad field (name, value, what is allowed); secret values
    are never included.
    """
    if config_path is not None and not config_path.is_file():
        raise SettingsError([f"invalid setting config: file {str(config_path)!r} does not exist"])
    BotSettings._toml_path = config_path
    try:
        return BotSettings(**overrides)
    except ValidationError as exc:
        raise SettingsError([_format_error(e) for e in exc.errors(include_url=False)]) from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError([f"invalid setting config: file {str(config_path)!r} is not valid TOML: {exc}"]) from None
    except PydanticSettingsError as exc:
        # A source could not even be parsed (e.g. malformed TOML); the message names the field, not the value.
        raise SettingsError([f"invalid setting: {exc}"]) from None
    finally:
        BotSettings._toml_path = None
