"""Admin UI settings: off unless both credentials are set; no weak password in production."""

from __future__ import annotations

import pytest

from config import SettingsError, load_settings
from observability.admin_ui import credentials_checker

STRONG_SECRET = "x" * 32


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "ENVIRONMENT",
        "JWT_SECRET_KEY",
        "ADMIN_UI_USERNAME",
        "ADMIN_UI_PASSWORD",
        "ADMIN_UI_READ_ONLY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir("/")  # no .env file


def test_off_by_default() -> None:
    settings = load_settings()
    assert not settings.admin_ui_enabled
    assert settings.admin_ui_read_only


@pytest.mark.parametrize("given", [{"admin_ui_username": "admin"}, {"admin_ui_password": "secret"}])
def test_half_the_credentials_is_refused(given: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="ADMIN_UI_USERNAME and ADMIN_UI_PASSWORD"):
        load_settings(**given)


def test_production_refuses_a_short_password() -> None:
    with pytest.raises(SettingsError, match="ADMIN_UI_PASSWORD must be at least 16"):
        load_settings(
            environment="production", jwt_secret_key=STRONG_SECRET,
            admin_ui_username="admin", admin_ui_password="short",
        )  # fmt: skip
    settings = load_settings(
        environment="production", jwt_secret_key=STRONG_SECRET,
        admin_ui_username="admin", admin_ui_password="a-long-enough-passphrase",
    )  # fmt: skip
    assert settings.admin_ui_enabled


def test_development_accepts_any_password() -> None:
    assert load_settings(admin_ui_username="admin", admin_ui_password="dev").admin_ui_enabled


def test_credentials_checker() -> None:
    check = credentials_checker("admin", "s3cret")
    assert check({"username": "admin", "password": "s3cret"}) is True
    for wrong in (
        {"username": "admin", "password": "s3cret!"},
        {"username": "Admin", "password": "s3cret"},
        {"username": "admin"},
        {"username": 1, "password": ["s3cret"]},
        None,
        "admin:s3cret",
    ):
        assert check(wrong) is False, wrong
