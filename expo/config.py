"""Settings: one typed object, read once from ``config.toml``, overridable by ``EXPO_*`` variables.

Every key is listed in ``SETTINGS`` with its type, default and help text (``expo settings`` prints
the table, and the README documents it). The file is flat: ``database_url = "..."`` in
``config.toml`` is ``EXPO_DATABASE_URL`` in the environment. Validation happens here, at start-up,
and every error names the key that is wrong.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from expo.errors import ConfigError

ENV_PREFIX = "EXPO_"
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("json", "text")
SECURE_COOKIE_MODES = ("auto", "always", "never")
ICE_SCHEMES = ("stun:", "stuns:", "turn:", "turns:")


def _opt(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """Validated settings. Build with :func:`load_settings` (file + environment) or directly in tests."""

    host: str = _opt("127.0.0.1", "Interface `expo serve` binds to.")
    port: int = _opt(8000, "TCP port `expo serve` listens on.")
    workers: int = _opt(
        1,
        "Server processes `expo serve` runs on the port (SO_REUSEPORT); "
        "more than 1 needs a redis:// bus_url.",
    )
    relay_host: str = _opt(
        "127.0.0.1",
        "Address each server process listens on privately (a port of its own) for relay links and "
        "requests forwarded by the other processes; an address the others can reach when they run "
        "on several machines.",
    )
    public_url: str = _opt(
        "http://127.0.0.1:8000",
        "Absolute base URL that printed and e-mailed links use (scheme, host, optional port).",
    )
    data_dir: str = _opt("data", "Directory for the embedded store, uploads and recordings.")
    database_url: str = _opt(
        "",
        "SQLAlchemy async URL: sqlite+aiosqlite:///PATH or postgresql+asyncpg://... "
        "Empty means sqlite+aiosqlite:///<data_dir>/expo.db.",
    )
    bus_url: str = _opt("memory://", "Realtime bus: memory:// (one process) or redis://host:port/db.")
    secret_key: str = _opt(
        "",
        "Signing secret (32+ characters). Empty: generated once and kept in <data_dir>/secret_key.",
    )
    default_expo: str = _opt("main", "Slug of the expo that CLI commands use without --expo.")
    default_locale: str = _opt(
        "en", "Interface language when neither user nor browser states one (en, zh_Hans)."
    )
    session_days: int = _opt(14, "How long a login session lasts, in days.")
    secure_cookies: str = _opt(
        "auto",
        "auto: Secure cookies when the request came over HTTPS (directly or via a trusted proxy); "
        "always; never.",
    )
    forwarded_allow_ips: str = _opt(
        "127.0.0.1", "Comma-separated proxy addresses whose X-Forwarded-* headers are trusted ('*' for any)."
    )
    login_attempts: int = _opt(10, "Failed logins allowed per e-mail and per client address per window.")
    login_window_seconds: int = _opt(300, "Length of the login rate-limit window, in seconds.")
    auth_cache_seconds: int = _opt(
        30,
        "How long a process remembers who a session or API token belongs to (0 turns it off). "
        "Signing out and revoking take effect at once in every process; this bounds a lost bus message.",
    )
    max_body_bytes: int = _opt(1_048_576, "Largest JSON or form body accepted, in bytes.")
    upload_max_bytes: int = _opt(
        20_971_520, "Largest upload (booth images, PDF brochures, videos) accepted, in bytes."
    )
    ice_servers: str = _opt(
        "",
        "Comma-separated STUN/TURN URLs (stun:host:port, turn:host:port?transport=udp) for WebRTC; "
        "empty for loopback and LAN.",
    )
    turn_username: str = _opt("", "Username for the turn: and turns: URLs in ice_servers.")
    turn_password: str = _opt("", "Password for the turn: and turns: URLs in ice_servers.")
    smtp_url: str = _opt(
        "",
        "Outgoing mail: smtp://user:pass@host:587 (STARTTLS when offered) or smtps://user:pass@host:465. "
        "Empty: messages stay in the outbox, readable by organizers at /organizer/outbox.",
    )
    mail_from: str = _opt(
        "", "Sender address of outgoing mail, e.g. expo@example.com (needed with smtp_url)."
    )
    log_level: str = _opt("info", "debug, info, warning or error.")
    log_format: str = _opt("json", "json (one object a line) or text.")
    access_log: bool = _opt(True, "Write one structured log line per HTTP request.")
    source: str = field(default="defaults", compare=False, metadata={"internal": True})

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser()

    @property
    def database(self) -> str:
        """The effective database URL (the SQLite default resolved under ``data_dir``)."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_path / 'expo.db').resolve()}"

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/")

    def url(self, path: str) -> str:
        """Absolute URL for a site path, built from ``public_url``."""
        return self.base_url + "/" + path.lstrip("/")

    def resolved_secret(self) -> str:
        """The signing secret, generating and persisting one under ``data_dir`` on first use."""
        if self.secret_key:
            return self.secret_key
        path = self.data_path / "secret_key"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            pass
        self.data_path.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        # O_EXCL: two processes starting at once must agree on one secret.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as f:
            f.write(secret)
        return secret

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


SETTINGS: tuple[dataclasses.Field[Any], ...] = tuple(
    f for f in dataclasses.fields(Settings) if not f.metadata.get("internal")
)
_BY_NAME = {f.name: f for f in SETTINGS}


def _fail(name: str, message: str) -> ConfigError:
    return ConfigError(f"setting {name!r} (env {ENV_PREFIX}{name.upper()}): {message}")


def _validate(s: Settings) -> None:
    for spec in SETTINGS:
        value = getattr(s, spec.name)
        kind = _kind(spec)
        ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if not ok:
            raise _fail(spec.name, f"expected {kind.__name__}, got {value!r}")
    if not 0 <= s.port <= 65535:
        raise _fail("port", f"must be between 0 and 65535, got {s.port}")
    url = urlsplit(s.public_url)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise _fail("public_url", f"must be an absolute http(s) URL, got {s.public_url!r}")
    if s.database_url and not s.database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise _fail("database_url", "must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
    if urlsplit(s.bus_url).scheme not in ("memory", "redis", "rediss"):
        raise _fail("bus_url", f"unknown scheme in {s.bus_url!r}; use memory:// or redis://")
    if s.workers > 1 and urlsplit(s.bus_url).scheme == "memory":
        raise _fail("workers", "several processes need a shared bus: set bus_url to redis://host:port/db")
    if not s.relay_host.strip():
        raise _fail("relay_host", "must be an address, e.g. 127.0.0.1")
    if s.secret_key and len(s.secret_key) < 32:
        raise _fail("secret_key", "must be at least 32 characters")
    if s.smtp_url:
        smtp = urlsplit(s.smtp_url)
        if smtp.scheme not in ("smtp", "smtps") or not smtp.hostname:
            raise _fail(
                "smtp_url", f"must look like smtp://user:pass@host:587 or smtps://..., got {smtp.scheme}://"
            )
        if "@" not in s.mail_from:
            raise _fail("mail_from", "must be an e-mail address when smtp_url is set")
    if s.default_locale not in ("en", "zh_Hans"):
        raise _fail("default_locale", "must be en or zh_Hans")
    for name, allowed in (
        ("secure_cookies", SECURE_COOKIE_MODES),
        ("log_level", LOG_LEVELS),
        ("log_format", LOG_FORMATS),
    ):
        if getattr(s, name) not in allowed:
            raise _fail(name, f"must be one of {', '.join(allowed)}")
    positive = (
        "workers",
        "session_days",
        "login_attempts",
        "login_window_seconds",
        "max_body_bytes",
        "upload_max_bytes",
    )
    for name in positive:
        if getattr(s, name) < 1:
            raise _fail(name, "must be at least 1")
    if s.auth_cache_seconds < 0:
        raise _fail("auth_cache_seconds", "must be 0 (off) or more")
    _validate_ice(s)
    if not s.default_expo or not s.default_expo.replace("-", "").isalnum():
        raise _fail("default_expo", "must be a slug of letters, digits and dashes")


def _validate_ice(s: Settings) -> None:
    urls = [u.strip() for u in s.ice_servers.split(",") if u.strip()]
    for url in urls:
        if not url.startswith(ICE_SCHEMES) or any(c in url for c in '<>" '):
            raise _fail("ice_servers", f"{url!r} is not a stun:, stuns:, turn: or turns: URL")
    if any(u.startswith(("turn:", "turns:")) for u in urls) and not (s.turn_username and s.turn_password):
        raise _fail("ice_servers", "TURN servers need turn_username and turn_password")


def _kind(spec: dataclasses.Field[Any]) -> type:
    return {"str": str, "int": int, "bool": bool}[str(spec.type)]


def _from_env(spec: dataclasses.Field[Any], raw: str) -> Any:
    kind = _kind(spec)
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise _fail(spec.name, f"expected true or false, got {raw!r}")
    if kind is int:
        try:
            return int(raw.strip())
        except ValueError:
            raise _fail(spec.name, f"expected an integer, got {raw!r}") from None
    return raw


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (or ``./config.toml`` when it exists), then apply ``EXPO_*`` overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    source = "defaults"
    if path is None and Path("config.toml").is_file():
        path = "config.toml"
    if path is not None:
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except FileNotFoundError:
            raise ConfigError(f"config file {str(path)!r} not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
        for key, value in data.items():
            if key not in _BY_NAME:
                raise ConfigError(f"config file {str(path)!r}: unknown setting {key!r}")
            values[key] = value
        source = str(path)
    for key, raw in env.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name in _BY_NAME:
            values[name] = _from_env(_BY_NAME[name], raw)
    return Settings(**values, source=source)
