"""Service configuration, read once from the environment and `.env`.

Every setting is an upper-case environment variable of the same name. Invalid
values stop the service at start-up with one line naming the setting
(`SettingsError`), never with a traceback.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_CORS_ORIGINS = [
    "http://localhost:3000",
    "http://127.0.0.1:3000",
    "http://localhost:5173",
    "http://127.0.0.1:5173",
]
MIN_SECRET_BYTES = 32


class SettingsError(Exception):
    """A configuration value is unusable; the message is one line for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    host: str = "0.0.0.0"
    port: int = Field(default=8000, ge=1, le=65535)
    environment: Literal["development", "production"] = "development"

    jwt_secret_key: SecretStr | None = None
    jwt_algorithm: Literal["HS256"] = "HS256"

    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    redis_url: str = ""

    ping_timeout: float = Field(default=60, gt=0)
    ping_interval: float = Field(default=25, gt=0)
    max_http_buffer_size: int = Field(default=1_000_000, ge=1024)
    ws_per_message_deflate: bool = False

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"

    # Producers (webhooks/, events/publish_api.py, events/dedupe.py)
    github_webhook_secret: SecretStr | None = None
    github_project_resolver: str = ""
    dedupe_window: float = Field(default=600, gt=0, le=7 * 24 * 3600)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
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

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, url: str) -> str:
        url = url.strip()
        if url and not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return url

    @field_validator("github_project_resolver")
    @classmethod
    def _check_resolver(cls, spec: str) -> str:
        spec = spec.strip()
        module, sep, name = spec.partition(":")
        if spec and not (sep and module and name.isidentifier()):
            raise ValueError("must be module:function, e.g. myapp.github:resolve_project")
        return spec

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        if self.environment == "production":
            secret = self.jwt_secret_key.get_secret_value() if self.jwt_secret_key else ""
            if len(secret.encode()) < MIN_SECRET_BYTES:
                raise ValueError(
                    f"JWT_SECRET_KEY must be set to at least {MIN_SECRET_BYTES} bytes "
                    "when ENVIRONMENT=production"
                )
        return self

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
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]).upper() or "configuration"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"invalid configuration: {field}: {message}") from None
    except ValueError as exc:  # e.g. malformed JSON in CORS_ORIGINS
        raise SettingsError(f"invalid configuration: {exc}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
