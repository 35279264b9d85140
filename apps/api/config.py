"""Service configuration, read once from the environment and `.env`.

Every setting is an upper-case environment variable of the same name. Invalid
values stop the service at start-up with one line naming the setting
(`SettingsError`), never with a traceback.
"""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_CORS_ORIGINS = [
    "http://localhost:3000",
    "http://127.0.0.1:3000",
    "http://localhost:5173",
    "http://127.0.0.1:5173",
]
MIN_SECRET_BYTES = 32
MIN_ADMIN_PASSWORD_CHARS = 16
PUBLISH_MAX_BATCH = 100  # events in one POST /api/events (routers.publish.MAX_BATCH)
MAX_TOKEN_LIFETIME = 365 * 24 * 3600
# What HOST means when it is not set: this machine only while developing.
DEFAULT_HOST = {"development": "127.0.0.1", "production": "0.0.0.0"}


SettingsT = TypeVar("SettingsT", bound="PublisherSettings")


class SettingsError(Exception):
    """A configuration value is unusable; the message is one line for the operator."""


class PublisherSettings(BaseSettings):
    """What any process needs to publish events: a server, a worker, a script.

    Kept apart from `Settings` so that a Temporal worker or a cron job with
    `ENVIRONMENT=production` is not asked for server-only settings such as a
    JWT secret.
    """

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    redis_url: str = ""
    socketio_channel: str = Field(default="eventserver:socketio", min_length=1, max_length=200)
    redis_key_prefix: str = Field(default="eventserver", min_length=1, max_length=100)
    broadcast_timeout: float = Field(default=2.0, gt=0, le=60)
    history_size: int = Field(default=200, ge=0, le=100_000)
    history_ttl: float = Field(default=600, gt=0)
    history_meta_ttl: float = Field(default=7 * 24 * 3600, gt=0)
    dedupe_window: float = Field(default=600, gt=0, le=7 * 24 * 3600)
    # Tokens (issue 12, dev): publishers need it too, to keep the revocations they
    # write in Redis for as long as a token issued before them can live.
    jwt_max_lifetime: float = Field(default=24 * 3600, ge=60, le=MAX_TOKEN_LIFETIME)

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, url: str) -> str:
        url = url.strip()
        if url and not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return url


class Settings(PublisherSettings):
    host: str = ""  # empty: DEFAULT_HOST of the environment
    port: int = Field(default=8000, ge=1, le=65535)
    environment: Literal["development", "production"] = "development"

    jwt_secret_key: SecretStr | None = None
    jwt_algorithm: Literal["HS256"] = "HS256"

    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    allow_any_origin: bool = False
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    redis_canary_interval: float = Field(default=1.0, ge=0.05, le=60)
    presence_heartbeat: float = Field(default=5.0, ge=0.1, le=300)

    ping_timeout: float = Field(default=60, gt=0)
    ping_interval: float = Field(default=25, gt=0)
    max_http_buffer_size: int = Field(default=1_000_000, ge=1024)
    ws_per_message_deflate: bool = False
    ws_implementation: Literal["websockets-sansio", "wsproto", "websockets"] = "websockets-sansio"
    ws_fast_path: bool = True
    ws_lean_protocol: bool = True
    disconnects_per_turn: int = Field(default=0, ge=0, le=100_000)
    log_connections: bool = False
    gc_tuning: bool = True
    gc_freeze_survivors: bool = True
    gc_reclaim_interval: float = Field(default=600, ge=0)

    dashboard_enabled: bool = True
    # Socket.IO Admin UI: on only when both are set (see observability/admin_ui.py).
    admin_ui_username: str = ""
    admin_ui_password: SecretStr | None = None
    admin_ui_read_only: bool = True

    max_connections: int = Field(default=10_000, ge=1)
    max_connections_per_user: int = Field(default=20, ge=1)
    max_subscriptions_per_connection: int = Field(default=100, ge=1)
    command_rate: float = Field(default=20, gt=0)
    command_burst: int = Field(default=40, ge=1)
    command_flood_limit: int = Field(default=100, ge=1)
    connect_timeout: float = Field(default=5, gt=0, le=600)
    shutdown_timeout: float = Field(default=10, gt=0, le=600)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"

    # Producers (webhooks/, routers/publish.py, events/dedupe.py)
    github_webhook_secret: SecretStr | None = None
    github_project_resolver: str = ""

    # Producers, issue 12 (routers/publish_limit.py): POST /api/events per publisher (token sub),
    # per instance. The burst must hold the largest batch (routers.publish.MAX_BATCH, 100).
    publish_rate: float = Field(default=100, gt=0, le=1_000_000)
    publish_burst: int = Field(default=200, ge=1, le=1_000_000)
    # Development conveniences and tokens (issue 12, dev): routers/dev.py, websocket/access/dev_tokens.py
    jwt_audience: str = Field(default="", max_length=500)
    jwt_issuer: str = Field(default="", max_length=500)
    dev_token_ttl: float = Field(default=3600, ge=60, le=MAX_TOKEN_LIFETIME)
    dev_token_use_jwt_secret: bool = False
    # HTTP front (serving.py, front/): what a connection may cost before the application sees it.
    # None: derived from MAX_CONNECTIONS (serving.concurrency_limit).
    limit_concurrency: int | None = Field(default=None, ge=1)
    http_keepalive_timeout: int = Field(default=5, ge=1, le=3600)
    http_header_timeout: float = Field(default=10, gt=0, le=300)
    http_body_timeout: float = Field(default=10, gt=0, le=300)
    http_body_min_rate: int = Field(default=1024, ge=0)
    # Slow consumers and replays (issue 12): websocket/server/slow_consumers.py and
    # websocket/limits/replay_budget.py. Bytes of outgoing messages that may wait for one connection
    # before it is cut (SLOW_CONSUMER), and bytes of history one connection may be re-sent per minute
    # by `subscribe {since}`.
    max_queued_bytes: int = Field(default=1024 * 1024, ge=16 * 1024, le=1024 * 1024 * 1024)
    replay_bytes_per_minute: int = Field(default=4 * 1024 * 1024, ge=0, le=1024 * 1024 * 1024)
    # Handshake floods and brute force, per client address (issue 12 "flood": websocket/gateway/admission.py,
    # the audit summaries in websocket/audit.py). CONNECT_TIMEOUT above belongs with them.
    max_pending_sessions_per_address: int = Field(default=100, ge=1, le=1_000_000)
    connect_failures_per_session: int = Field(default=3, ge=1, le=1000)
    connect_failure_burst: int = Field(default=20, ge=1)
    connect_failure_rate: float = Field(default=0.5, gt=0, le=1_000_000)
    max_tracked_addresses: int = Field(default=10_000, ge=100, le=10_000_000)
    # An IPv6 peer counts by its network of this many bits for every per-address limit
    # (websocket/limits/addresses.py): one IPv6 host holds a whole /64.
    address_limit_ipv6_prefix: int = Field(default=64, ge=32, le=128)
    audit_summary_interval: float = Field(default=60, ge=0.1, le=3600)

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"{origin!r} is not an origin (expected http(s)://host[:port])")
        return [origin.rstrip("/") for origin in origins]

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, proxies: list[str]) -> list[str]:
        # uvicorn would silently treat a typo as a host name that never matches.
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"{proxy!r} is not an IP address or network (CIDR)") from None
        return proxies

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("github_project_resolver")
    @classmethod
    def _check_resolver(cls, spec: str) -> str:
        spec = spec.strip()
        module, sep, name = spec.partition(":")
        if spec and not (sep and module and name.isidentifier()):
            raise ValueError("must be module:function, e.g. myapp.github:resolve_project")
        return spec

    @field_validator("publish_burst")
    @classmethod
    def _burst_holds_a_batch(cls, burst: int) -> int:
        if burst < PUBLISH_MAX_BATCH:
            raise ValueError(f"must be at least {PUBLISH_MAX_BATCH}, the largest batch of POST /api/events")
        return burst

    @field_validator("host", "jwt_audience", "jwt_issuer")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @model_validator(mode="after")
    def _token_rules(self) -> Settings:
        if not self.host:
            self.host = DEFAULT_HOST[self.environment]
        if self.dev_token_ttl > self.jwt_max_lifetime:
            raise ValueError(
                "DEV_TOKEN_TTL must not exceed JWT_MAX_LIFETIME (the server would refuse its own token)"
            )
        secret = self.jwt_secret_key.get_secret_value() if self.jwt_secret_key else ""
        if self.dev_token_use_jwt_secret and not secret:
            raise ValueError("DEV_TOKEN_USE_JWT_SECRET=true needs JWT_SECRET_KEY to sign with")
        return self

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        if self.environment == "production":
            secret = self.jwt_secret_key.get_secret_value() if self.jwt_secret_key else ""
            if len(secret.encode()) < MIN_SECRET_BYTES:
                raise ValueError(
                    f"JWT_SECRET_KEY must be set to at least {MIN_SECRET_BYTES} bytes "
                    "when ENVIRONMENT=production"
                )
            if "*" in self.cors_origins and not self.allow_any_origin:
                raise ValueError(
                    "CORS_ORIGINS=* is refused in production (any web page could connect with its "
                    "visitors' tokens): list the origins, or set ALLOW_ANY_ORIGIN=true"
                )
        return self

    @model_validator(mode="after")
    def _admin_ui_rules(self) -> Settings:
        password = self.admin_ui_password.get_secret_value() if self.admin_ui_password else ""
        if bool(self.admin_ui_username.strip()) != bool(password):
            raise ValueError(
                "set both ADMIN_UI_USERNAME and ADMIN_UI_PASSWORD to enable the Admin UI, or neither"
            )
        if password and self.environment == "production" and len(password) < MIN_ADMIN_PASSWORD_CHARS:
            raise ValueError(
                f"ADMIN_UI_PASSWORD must be at least {MIN_ADMIN_PASSWORD_CHARS} characters "
                "when ENVIRONMENT=production"
            )
        return self

    @model_validator(mode="after")
    def _front_rules(self) -> Settings:
        if self.limit_concurrency is not None and self.limit_concurrency <= self.max_connections:
            raise ValueError(
                "LIMIT_CONCURRENCY must be above MAX_CONNECTIONS: every open WebSocket holds one of its "
                "slots, and beyond it every HTTP request is answered 503 (leave it unset for the default)"
            )
        return self

    @property
    def admin_ui_enabled(self) -> bool:
        return bool(self.admin_ui_username.strip())

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def webhook_secret(self) -> bytes | None:
        """The GitHub webhook secret as bytes, or None when not configured (deliveries refused)."""
        value = self.github_webhook_secret.get_secret_value() if self.github_webhook_secret else ""
        return value.encode() if value else None

    @property
    def allowed_origins(self) -> list[str]:
        """Origins allowed for CORS and for the Socket.IO handshake.

        Empty configuration means the development defaults in development and
        same-origin only in production.
        """
        if self.cors_origins:
            return self.cors_origins
        return [] if self.is_production else list(DEV_CORS_ORIGINS)


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning validation errors into one readable line."""
    return _load(Settings, **overrides)


def _load(kind: type[SettingsT], **overrides: Any) -> SettingsT:
    try:
        return kind(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error["msg"]).removeprefix("Value error, ")
        # A rule across settings (a model validator) has no field: its message names the settings.
        field = ".".join(str(part) for part in error["loc"]).upper()
        raise SettingsError(
            f"invalid configuration: {field}: {message}" if field else f"invalid configuration: {message}"
        ) from None
    except ValueError as exc:  # e.g. malformed JSON in CORS_ORIGINS
        raise SettingsError(f"invalid configuration: {exc}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


@lru_cache(maxsize=1)
def get_publisher_settings() -> PublisherSettings:
    """The settings of a process that only publishes (see PublisherSettings)."""
    return _load(PublisherSettings)
