from __future__ import annotations

import re
from pathlib import Path

import pytest

from config import DEV_CORS_ORIGINS, SettingsError, load_settings

STRONG = "x" * 32


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENVIRONMENT", "JWT_SECRET_KEY", "JWT_ALGORITHM", "CORS_ORIGINS", "REDIS_URL", "PORT",
                 "GITHUB_WEBHOOK_SECRET", "GITHUB_PROJECT_RESOLVER", "DEDUPE_WINDOW", "PUBLISH_RATE",
                 "PUBLISH_BURST", "HOST", "JWT_AUDIENCE", "JWT_ISSUER", "JWT_MAX_LIFETIME", "DEV_TOKEN_TTL",
                 "DEV_TOKEN_USE_JWT_SECRET"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir("/")  # no .env file


def test_defaults() -> None:
    settings = load_settings()
    # Development listens on this machine only unless HOST says otherwise.
    assert (settings.host, settings.port, settings.environment) == ("127.0.0.1", 8000, "development")
    assert (settings.ping_timeout, settings.ping_interval) == (60, 25)
    assert settings.max_http_buffer_size == 1_000_000
    assert settings.redis_url == ""
    assert settings.allowed_origins == DEV_CORS_ORIGINS


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://a.example, https://b.example/", ["https://a.example", "https://b.example"]),
        ('["https://a.example", "http://localhost:3000"]', ["https://a.example", "http://localhost:3000"]),
        ("*", ["*"]),
    ],
)
def test_cors_origins_forms(monkeypatch: pytest.MonkeyPatch, raw: str, expected: list[str]) -> None:
    monkeypatch.setenv("CORS_ORIGINS", raw)
    assert load_settings().cors_origins == expected


def test_production_requires_a_long_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(SettingsError, match="JWT_SECRET_KEY"):
        load_settings()
    monkeypatch.setenv("JWT_SECRET_KEY", "short")
    with pytest.raises(SettingsError, match="at least 32 bytes"):
        load_settings()
    monkeypatch.setenv("JWT_SECRET_KEY", STRONG)
    settings = load_settings()
    assert settings.is_production and settings.allowed_origins == []


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("JWT_ALGORITHM", "RS256", "JWT_ALGORITHM"),
        ("PORT", "99999", "PORT"),
        ("ENVIRONMENT", "staging", "ENVIRONMENT"),
        ("CORS_ORIGINS", "example.com", "CORS_ORIGINS"),
        ("CORS_ORIGINS", "[not json", "CORS_ORIGINS"),
        ("REDIS_URL", "http://localhost", "REDIS_URL"),
        ("PING_TIMEOUT", "-1", "PING_TIMEOUT"),
    ],
)
def test_invalid_values_give_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, needle: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert needle in message and "\n" not in message


def test_producer_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = load_settings()
    assert (defaults.webhook_secret, defaults.github_project_resolver, defaults.dedupe_window) == (
        None,
        "",
        600,
    )
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", "hook-secret")
    monkeypatch.setenv("GITHUB_PROJECT_RESOLVER", " myapp.github:resolve ")
    monkeypatch.setenv("DEDUPE_WINDOW", "90")
    settings = load_settings()
    assert settings.webhook_secret == b"hook-secret"
    assert "hook-secret" not in repr(settings)
    assert (settings.github_project_resolver, settings.dedupe_window) == ("myapp.github:resolve", 90)


@pytest.mark.parametrize("spec", ["myapp", "myapp:", ":resolve", "myapp:not-a-name"])
def test_resolver_setting_must_be_module_colon_function(monkeypatch: pytest.MonkeyPatch, spec: str) -> None:
    monkeypatch.setenv("GITHUB_PROJECT_RESOLVER", spec)
    with pytest.raises(SettingsError, match="GITHUB_PROJECT_RESOLVER"):
        load_settings()


def test_wildcard_origin_in_production_needs_an_explicit_yes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET_KEY", STRONG)
    monkeypatch.setenv("CORS_ORIGINS", "*")
    with pytest.raises(SettingsError, match="ALLOW_ANY_ORIGIN"):
        load_settings()
    monkeypatch.setenv("ALLOW_ANY_ORIGIN", "true")
    assert load_settings().allowed_origins == ["*"]


def test_trusted_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().trusted_proxies == []
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1,::1")
    assert load_settings().trusted_proxies == ["10.0.0.0/8", "127.0.0.1", "::1"]
    monkeypatch.setenv("TRUSTED_PROXIES", "my-proxy.local")
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        load_settings()


def test_publish_limit_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert (settings.publish_rate, settings.publish_burst) == (100, 200)
    monkeypatch.setenv("PUBLISH_BURST", "99")
    with pytest.raises(SettingsError, match="PUBLISH_BURST: must be at least 100, the largest batch"):
        load_settings()
    monkeypatch.setenv("PUBLISH_BURST", "100")
    monkeypatch.setenv("PUBLISH_RATE", "0")
    with pytest.raises(SettingsError, match="PUBLISH_RATE"):
        load_settings()


def test_limit_defaults() -> None:
    settings = load_settings()
    assert (settings.max_connections, settings.max_connections_per_user) == (10_000, 20)
    assert settings.max_subscriptions_per_connection == 100
    assert (settings.command_rate, settings.command_burst) == (20, 40)
    assert settings.shutdown_timeout == 10


def test_host_default_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOST", " ")
    assert load_settings().host == "127.0.0.1"
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET_KEY", STRONG)
    assert load_settings().host == "0.0.0.0"
    monkeypatch.setenv("HOST", "10.1.2.3")
    assert load_settings().host == "10.1.2.3"


def test_token_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert (settings.jwt_audience, settings.jwt_issuer, settings.jwt_max_lifetime) == ("", "", 86400)
    assert (settings.dev_token_ttl, settings.dev_token_use_jwt_secret) == (3600, False)
    monkeypatch.setenv("JWT_AUDIENCE", " eventserver ")
    monkeypatch.setenv("JWT_ISSUER", "https://id.example/")
    monkeypatch.setenv("JWT_MAX_LIFETIME", "7200")
    settings = load_settings()
    assert (settings.jwt_audience, settings.jwt_issuer, settings.jwt_max_lifetime) == (
        "eventserver",
        "https://id.example/",
        7200,
    )


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"JWT_MAX_LIFETIME": "0"}, "JWT_MAX_LIFETIME"),
        ({"JWT_MAX_LIFETIME": str(400 * 24 * 3600)}, "JWT_MAX_LIFETIME"),
        ({"DEV_TOKEN_TTL": "10"}, "DEV_TOKEN_TTL"),
        ({"DEV_TOKEN_TTL": "7200", "JWT_MAX_LIFETIME": "3600"}, "must not exceed JWT_MAX_LIFETIME"),
        ({"DEV_TOKEN_USE_JWT_SECRET": "true"}, "needs JWT_SECRET_KEY"),
    ],
)
def test_invalid_token_settings(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], needle: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=needle):
        load_settings()


def test_slow_consumer_and_replay_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert (settings.max_queued_bytes, settings.replay_bytes_per_minute) == (1024 * 1024, 4 * 1024 * 1024)
    for name, bad in (
        ("MAX_QUEUED_BYTES", "1000"),
        ("MAX_QUEUED_BYTES", "lots"),
        ("REPLAY_BYTES_PER_MINUTE", "-1"),
    ):
        monkeypatch.setenv(name, bad)
        with pytest.raises(SettingsError, match=name):
            load_settings()
        monkeypatch.delenv(name)
    monkeypatch.setenv("REPLAY_BYTES_PER_MINUTE", "0")  # never re-send history
    assert load_settings().replay_bytes_per_minute == 0


def test_connect_storm_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert (settings.ws_lean_protocol, settings.gc_freeze_survivors) == (True, True)
    assert (settings.gc_reclaim_interval, settings.disconnects_per_turn) == (600, 0)
    assert settings.log_connections is False
    for name, bad in (
        ("DISCONNECTS_PER_TURN", "-1"),
        ("DISCONNECTS_PER_TURN", "100001"),
        ("GC_RECLAIM_INTERVAL", "-5"),
    ):
        monkeypatch.setenv(name, bad)
        with pytest.raises(SettingsError, match=name):
            load_settings()
        monkeypatch.delenv(name)
    monkeypatch.setenv("DISCONNECTS_PER_TURN", "32")
    monkeypatch.setenv("GC_RECLAIM_INTERVAL", "0")  # never
    monkeypatch.setenv("WS_LEAN_PROTOCOL", "false")
    settings = load_settings()
    assert settings.disconnects_per_turn == 32
    assert (settings.gc_reclaim_interval, settings.ws_lean_protocol) == (0, False)


def test_a_rule_across_settings_reads_as_one_plain_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model-level rule has no field to name: no `invalid configuration: configuration: …`."""
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert str(info.value).startswith("invalid configuration: JWT_SECRET_KEY must be set"), info.value


def test_the_files_config_py_names_exist() -> None:
    """Its comments point readers at modules; each must be there (a moved module moves the comment)."""
    import config

    api = Path(config.__file__).parent
    text = Path(config.__file__).read_text()
    named = set(re.findall(r"\b((?:[a-z_]+/)+[a-z_]+\.py|[a-z_]+\.py)\b", text))
    assert {"websocket/limits/replay_budget.py", "routers/publish_limit.py"} <= named  # the pattern works
    missing = sorted(name for name in named if not (api / name).exists())
    assert missing == [], f"config.py names files that do not exist: {missing}"
