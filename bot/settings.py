"""Settings, read once from the environment and passed down.

The Bot Framework names (``MicrosoftAppId``, ``MicrosoftAppPassword``,
``MicrosoftAppType``, ``MicrosoftAppTenantId``) are kept so an Azure Bot
configuration or a sample's ``.env`` works unchanged. Nothing else in the
project reads ``os.environ``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STORAGE_URL = "sqlite:///var/bot.db"


class SettingsError(ValueError):
    """A setting is missing or has a value the bot cannot use."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from exc


def _csv(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())


def _bool(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "on"}


def is_loopback_host(host: str) -> bool:
    """Return True when ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    """Every setting the bot reads; see ``.env.example`` for what each one means."""

    app_id: str = ""
    app_password: str = field(default="", repr=False)
    app_type: str = "SingleTenant"
    app_tenant_id: str = ""
    host: str = "127.0.0.1"
    port: int = 3978
    storage_url: str = DEFAULT_STORAGE_URL
    # Days transcripts, audit rows, closed tickets and sign-in leftovers are kept.
    retention_days: int = 90
    log_level: str = "INFO"
    max_request_bytes: int = 256 * 1024
    # Where Bot Framework tokens are checked; overridable so tests can sign their own.
    openid_metadata_url: str = ""
    # Where the bot gets its own token for replies (an Entra authority); derived when empty.
    bot_login_url: str = ""
    # Teams app package
    bot_name: str = "Mail Setup Assistant"
    company_name: str = "CLOUDEX"
    website_url: str = "https://www.cloudex.example/mail-setup-assistant"
    privacy_url: str = "https://www.cloudex.example/privacy"
    terms_url: str = "https://www.cloudex.example/terms"
    teams_app_id: str = ""
    # Live checks
    graph_url: str = "https://graph.microsoft.com/v1.0"
    exchange_admin_url: str = "https://outlook.office365.com/adminapi/beta"
    authority: str = "https://login.microsoftonline.com"
    smtp_host: str = "smtp.office365.com"
    smtp_port: int = 587
    smtp_tls_verify: bool = True
    check_timeout_seconds: float = 10.0
    check_runs_per_hour: int = 6
    oauth_connection_name: str = ""
    token_cache_key: str = field(default="", repr=False)
    # The Entra app that signs customers in (SSO, on-behalf-of, device code); the bot's by default.
    signin_client_id: str = ""
    signin_client_secret: str = field(default="", repr=False)
    # The Bot Framework token service behind OAUTH_CONNECTION_NAME.
    oauth_api_url: str = "https://api.botframework.com"
    # CA bundle (PEM) trusted, next to the system CAs, by every outbound TLS connection
    # (bot/tls.py).
    tls_ca_file: str = ""
    # Human handoff
    support_channel_id: str = ""
    handoff_timeout_minutes: int = 10
    support_hours: str = ""
    handoff_protocol: str = "relay"
    # Staff tools
    staff_tenant_ids: tuple[str, ...] = ()
    staff_group_id: str = ""
    # /metrics with authentication on: only with "Authorization: Bearer <METRICS_TOKEN>".
    metrics_token: str = field(default="", repr=False)

    @property
    def local_mode(self) -> bool:
        """True without an app id: authentication is off, so only loopback may bind."""
        return not self.app_id

    @property
    def signin_app_id(self) -> str:
        """The Entra app customers sign in to: SIGNIN_CLIENT_ID, else the bot's own app."""
        return self.signin_client_id or self.app_id

    @property
    def signin_app_secret(self) -> str:
        """That app's client secret (on-behalf-of needs it; device code does not)."""
        return self.signin_client_secret if self.signin_client_id else self.app_password

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file for ``sqlite:///relative`` or ``sqlite:////absolute`` URLs."""
        if not self.storage_url.startswith("sqlite:///"):
            return None
        rest = self.storage_url[len("sqlite:///") :]
        path = Path(rest)
        return path if path.is_absolute() else PROJECT_ROOT / path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default: the process environment) and validate them."""
        env = os.environ if env is None else env
        settings = cls(
            app_id=env.get("MicrosoftAppId", "").strip(),
            app_password=env.get("MicrosoftAppPassword", ""),
            app_type=env.get("MicrosoftAppType", "").strip() or "SingleTenant",
            app_tenant_id=env.get("MicrosoftAppTenantId", "").strip(),
            host=env.get("HOST", "").strip() or "127.0.0.1",
            port=_int(env, "PORT", 3978),
            storage_url=env.get("STORAGE_URL", "").strip() or DEFAULT_STORAGE_URL,
            retention_days=_int(env, "RETENTION_DAYS", 90),
            log_level=env.get("LOG_LEVEL", "").strip().upper() or "INFO",
            max_request_bytes=_int(env, "MAX_REQUEST_BYTES", 256 * 1024),
            openid_metadata_url=env.get("BOT_OPENID_METADATA", "").strip(),
            bot_login_url=env.get("BOT_LOGIN_URL", "").strip().rstrip("/"),
            bot_name=env.get("BOT_NAME", "").strip() or "Mail Setup Assistant",
            company_name=env.get("COMPANY_NAME", "").strip() or "CLOUDEX",
            website_url=env.get("WEBSITE_URL", "").strip() or cls.website_url,
            privacy_url=env.get("PRIVACY_URL", "").strip() or cls.privacy_url,
            terms_url=env.get("TERMS_URL", "").strip() or cls.terms_url,
            teams_app_id=env.get("TEAMS_APP_ID", "").strip(),
            graph_url=(env.get("GRAPH_URL", "").strip() or cls.graph_url).rstrip("/"),
            exchange_admin_url=(
                env.get("EXCHANGE_ADMIN_URL", "").strip() or cls.exchange_admin_url
            ).rstrip("/"),
            authority=(env.get("AUTHORITY", "").strip() or cls.authority).rstrip("/"),
            smtp_host=env.get("SMTP_HOST", "").strip() or "smtp.office365.com",
            smtp_port=_int(env, "SMTP_PORT", 587),
            smtp_tls_verify=_bool(env, "SMTP_TLS_VERIFY", True),
            check_timeout_seconds=_float(env, "CHECK_TIMEOUT_SECONDS", 10.0),
            check_runs_per_hour=_int(env, "CHECK_RUNS_PER_HOUR", 6),
            oauth_connection_name=env.get("OAUTH_CONNECTION_NAME", "").strip(),
            token_cache_key=env.get("TOKEN_CACHE_KEY", ""),
            signin_client_id=env.get("SIGNIN_CLIENT_ID", "").strip(),
            signin_client_secret=env.get("SIGNIN_CLIENT_SECRET", ""),
            oauth_api_url=(env.get("OAUTH_API_URL", "").strip() or cls.oauth_api_url).rstrip("/"),
            tls_ca_file=env.get("TLS_CA_FILE", "").strip(),
            support_channel_id=env.get("SUPPORT_CHANNEL_ID", "").strip(),
            handoff_timeout_minutes=_int(env, "HANDOFF_TIMEOUT", 10),
            support_hours=env.get("SUPPORT_HOURS", "").strip(),
            handoff_protocol=env.get("HANDOFF_PROTOCOL", "").strip().lower() or "relay",
            staff_tenant_ids=_csv(env, "STAFF_TENANT_IDS"),
            staff_group_id=env.get("STAFF_GROUP_ID", "").strip(),
            metrics_token=env.get("METRICS_TOKEN", "").strip(),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Fail fast, naming the setting, when a combination cannot work."""
        if self.app_type not in {"SingleTenant", "MultiTenant", "UserAssignedMSI"}:
            raise SettingsError(
                "MicrosoftAppType must be SingleTenant, MultiTenant or UserAssignedMSI, "
                f"got {self.app_type!r}"
            )
        if self.app_id and self.app_type == "SingleTenant" and not self.app_tenant_id:
            raise SettingsError("MicrosoftAppTenantId is required for a SingleTenant bot")
        if self.app_id and not self.app_password and self.app_type != "UserAssignedMSI":
            raise SettingsError("MicrosoftAppPassword is required when MicrosoftAppId is set")
        if self.local_mode and not is_loopback_host(self.host):
            raise SettingsError(
                f"HOST={self.host} refused: without MicrosoftAppId authentication is off, "
                "so the bot only listens on loopback (127.0.0.1, ::1 or localhost)"
            )
        if self.bot_login_url and not self.bot_login_url.startswith("https://"):
            raise SettingsError("BOT_LOGIN_URL must be an https:// authority, "
                                "e.g. https://login.microsoftonline.com/<tenant id>")
        if not (0 < self.port < 65536):
            raise SettingsError(f"PORT must be between 1 and 65535, got {self.port}")
        if not (
            self.storage_url.startswith("sqlite:///")
            or self.storage_url.startswith(("postgresql://", "postgres://"))
            or self.storage_url == "memory://"
        ):
            raise SettingsError(
                "STORAGE_URL must be sqlite:///relative/path, sqlite:////absolute/path, "
                f"postgresql://… or memory://, got {self.storage_url!r}"
            )
        if self.token_cache_key:
            try:
                from cryptography.fernet import Fernet

                Fernet(self.token_cache_key.encode())
            except (ValueError, TypeError) as exc:
                raise SettingsError(
                    "TOKEN_CACHE_KEY must be a Fernet key (32 url-safe base64-encoded bytes); "
                    "make one with: python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'"
                ) from exc
        if self.retention_days < 1:
            raise SettingsError(f"RETENTION_DAYS must be 1 or more, got {self.retention_days}")
        if self.check_runs_per_hour < 0:
            raise SettingsError("CHECK_RUNS_PER_HOUR must be 0 or more")
        if self.handoff_protocol not in {"relay", "handoff-events"}:
            raise SettingsError("HANDOFF_PROTOCOL must be relay or handoff-events")
