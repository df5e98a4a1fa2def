"""One typed Settings, read once at start-up from the environment / `.env` (prefix HOTLINE_).

Bad values fail fast with pydantic's message naming the variable.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-insecure-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="everything the system writes lives here")
    database_url: str | None = Field(
        default=None, description="sqlite:///path or postgresql://user:pw@host:port/db; default SQLite in data_dir"
    )
    secret_key: str = Field(default=DEV_SECRET, description="signs sessions and CSRF tokens")
    env: str = Field(default="local", description="local | production (production refuses the dev secret)")
    timezone: str = "Asia/Shanghai"
    ticket_prefix: str = Field(default="GD", description="ticket numbers read aloud: GD20261126-0001")
    db_pool_size: int = Field(default=10, ge=1, le=200)
    log_format: str = Field(default="text", pattern="^(text|json)$", description="json: one JSON object a log line")
    access_log: bool = Field(
        default=False, description="one log line per HTTP request (nginx usually keeps the access log)"
    )
    reports_database_url: str | None = Field(default=None, description="a read replica for reports; default: the store")

    # telephony
    pbx_name: str = Field(default="default", description="name of this PBX: calls are keyed by PBX")
    ami_host: str = "127.0.0.1"
    ami_port: int = Field(default=5038, ge=1, le=65535)
    ami_username: str = "hotline"
    ami_secret: str = "hotline-secret"
    ami_action_timeout: float = Field(default=10.0, gt=0)
    lines: int = Field(default=10, ge=1, le=1000, description="concurrent trunk lines")
    trunk_context: str = "inbound"
    queue: str = "hotline"
    cdr_database_url: str | None = Field(
        default=None, description="PostgreSQL URL of Asterisk's CDR (cdr_pgsql), read-only: calls the adapter "
        "did not see (it or its AMI connection was down) are registered from it; unset = no backfill")
    cdr_table: str = Field(default="cdr", pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$",
                           description="the CDR table cdr_pgsql writes (cdr_pgsql.conf `table`)")

    # recordings (issue 18)
    recordings_spool: Path | None = Field(
        default=None, description="the PBX's MixMonitor spool (<pbx>-<linkedid>.wav); unset = nothing to collect")
    recordings_dir: Path | None = Field(default=None, description="the hotline's recordings; default data_dir/recordings")

    @property
    def recordings_store(self) -> Path:
        return self.recordings_dir or self.data_dir / "recordings"

    # web
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)

    @field_validator("secret_key")
    @classmethod
    def _secret_not_empty(cls, v: str) -> str:
        if not v:
            raise ValueError("HOTLINE_SECRET_KEY must not be empty")
        return v

    def model_post_init(self, __context: object) -> None:
        if self.env == "production" and self.secret_key == DEV_SECRET:
            raise ValueError("HOTLINE_SECRET_KEY must be set in production (HOTLINE_ENV=production)")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hotline.db').as_posix()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    s = Settings()
    s.data_dir.mkdir(parents=True, exist_ok=True)
    return s
