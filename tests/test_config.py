"""Settings: the shipped config.toml, environment overrides and errors that name the key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from expo.config import SETTINGS, Settings, load_settings
from expo.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_config_lists_every_setting_with_its_default() -> None:
    shipped = tomllib.loads((ROOT / "config.toml").read_text())
    assert set(shipped) == {s.name for s in SETTINGS}
    for spec in SETTINGS:
        assert shipped[spec.name] == spec.default, spec.name


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('port = 9000\nbus_url = "memory://"\naccess_log = true\n')
    settings = load_settings(
        config,
        {
            "EXPO_PORT": "9100",
            "EXPO_BUS_URL": "redis://127.0.0.1:6379/1",
            "EXPO_ACCESS_LOG": "off",
            "EXPO_DATABASE_URL": "postgresql+asyncpg://127.0.0.1/test",
            "UNRELATED": "x",
        },
    )
    assert settings.port == 9100
    assert settings.bus_url == "redis://127.0.0.1:6379/1"
    assert settings.access_log is False
    assert settings.database == "postgresql+asyncpg://127.0.0.1/test"


def test_default_store_is_sqlite_under_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(environ={"EXPO_DATA_DIR": str(tmp_path / "d")})
    assert settings.database == f"sqlite+aiosqlite:///{(tmp_path / 'd' / 'expo.db').resolve()}"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"EXPO_PORT": "eighty"}, "EXPO_PORT"),
        ({"EXPO_PORT": "70000"}, "EXPO_PORT"),
        ({"EXPO_ACCESS_LOG": "maybe"}, "EXPO_ACCESS_LOG"),
        ({"EXPO_BUS_URL": "kafka://x"}, "EXPO_BUS_URL"),
        ({"EXPO_DATABASE_URL": "mysql://x"}, "EXPO_DATABASE_URL"),
        ({"EXPO_PUBLIC_URL": "example.com"}, "EXPO_PUBLIC_URL"),
        ({"EXPO_SECRET_KEY": "short"}, "EXPO_SECRET_KEY"),
        ({"EXPO_LOG_LEVEL": "loud"}, "EXPO_LOG_LEVEL"),
        ({"EXPO_MAX_BODY_BYTES": "0"}, "EXPO_MAX_BODY_BYTES"),
        ({"EXPO_DEFAULT_EXPO": "no spaces"}, "EXPO_DEFAULT_EXPO"),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings(environ=env)


def test_file_errors_name_the_problem(tmp_path: Path) -> None:
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("prot = 80\n")
    with pytest.raises(ConfigError, match="unknown setting 'prot'"):
        load_settings(unknown, {})
    wrong_type = tmp_path / "wrong.toml"
    wrong_type.write_text('port = "80"\n')
    with pytest.raises(ConfigError, match="'port'"):
        load_settings(wrong_type, {})
    broken = tmp_path / "broken.toml"
    broken.write_text("port = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken, {})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml", {})


def test_generated_secret_is_kept_across_restarts(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path))
    first = settings.resolved_secret()
    assert len(first) >= 32
    assert Settings(data_dir=str(tmp_path)).resolved_secret() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_public_url_builds_absolute_links() -> None:
    settings = Settings(public_url="https://expo.example.com/")
    assert settings.url("/watch/1") == "https://expo.example.com/watch/1"
