"""One typed Settings, read once at start-up from the environment / `.env` (prefix HOTLINE_).

Bad values fail fast: `get_settings()` stops the process with one line per bad variable
naming it (`HOTLINE_ENV: …`), no traceback.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from callcenter.core.clock import DEFAULT_TIMEZONE, check_timezone, fixed_offset

DEV_SECRET = "dev-insecure-secret-change-me"
MIN_SECRET_LEN = 32  # characters of HOTLINE_SECRET_KEY in production (`openssl rand -hex 32`)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="everything the system writes lives here")
    database_url: str | None = Field(
        default=None, description="sqlite:///path or postgresql://user:pw@host:port/db; default SQLite in data_dir"
    )
    secret_key: str = Field(default=DEV_SECRET, description="signs sessions and CSRF tokens")
    env: Literal["local", "test", "production"] = Field(
        default="local", description="local | test | production (production: a secret of ≥ 32 characters, "
                                     "secure cookies, no interactive API docs)")
    api_docs: bool = Field(default=False, description="production: serve /docs, /redoc and /openapi.json anyway")
    ops_allow: str = Field(
        default="127.0.0.1/32,::1/128",
        description="addresses (CIDR, comma-separated) allowed to read /metrics and /readyz (Prometheus, the "
                    "load balancer); everyone else gets 404")
    login_ip_limit: int = Field(default=20, ge=1, le=10000,
                                description="failed sign-ins from one address within login_ip_window_s before "
                                            "that address is refused")
    login_ip_window_s: int = Field(default=900, ge=10, le=86400)
    timezone: str = Field(default=DEFAULT_TIMEZONE, description="the hotline's local time, an IANA zone (Asia/Shanghai)")
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

    recordings_s3_bucket: str | None = Field(
        default=None, description="keep recordings in this S3-compatible bucket instead of recordings_dir")
    recordings_s3_prefix: str = Field(default="recordings/", description="the key prefix in that bucket")
    recordings_s3_endpoint: str | None = Field(
        default=None, description="the object store's URL (MinIO, Ceph …); unset = AWS S3")
    recordings_s3_region: str | None = Field(default=None, description="the bucket's region")

    # quality inspection (质检, issue 18)
    qa_sample_size: int = Field(default=3, ge=0, le=100,
                                description="calls drawn at random per operator and week for inspection")
    qa_long_call_s: int = Field(default=600, ge=60, description="a call at least this long is always inspected")

    @property
    def recordings_store(self) -> Path:
        return self.recordings_dir or self.data_dir / "recordings"

    # web
    public_url: str | None = Field(
        default=None, description="the console's address as users reach it (https://12345.example.gov.cn): "
        "report files link case numbers to it; unset: no links")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        # deadlines, working days, report days and the nightly jobs all count in it (core/clock.py)
        return check_timezone(v)

    @field_validator("secret_key")
    @classmethod
    def _secret_not_empty(cls, v: str) -> str:
        if not v:
            raise ValueError("must not be empty")
        return v

    @field_validator("ops_allow")
    @classmethod
    def _networks(cls, v: str) -> str:
        for part in v.split(","):
            if part.strip():
                try:
                    ipaddress.ip_network(part.strip(), strict=False)
                except ValueError:
                    raise ValueError(f"{part.strip()!r} is not an address or network (CIDR)") from None
        return v

    @model_validator(mode="after")
    def _zone_the_store_can_count_in(self) -> Settings:
        if self.effective_database_url.startswith("sqlite") and fixed_offset(ZoneInfo(self.timezone)) is None:
            raise ValueError(f"HOTLINE_TIMEZONE={self.timezone!r} has daylight saving time: the SQLite store counts "
                             "days at a fixed UTC offset — use PostgreSQL (HOTLINE_DATABASE_URL) or a zone without it")
        return self

    @model_validator(mode="after")
    def _production_secret(self) -> Settings:
        if self.env == "production":
            if self.secret_key == DEV_SECRET:
                raise ValueError("HOTLINE_SECRET_KEY must be set in production (HOTLINE_ENV=production)")
            if len(self.secret_key) < MIN_SECRET_LEN:
                raise ValueError(f"HOTLINE_SECRET_KEY must be at least {MIN_SECRET_LEN} characters in production "
                                 f"(it has {len(self.secret_key)}; make one with `openssl rand -hex 32`)")
        return self

    @property
    def docs_enabled(self) -> bool:
        return self.env != "production" or self.api_docs

    @property
    def ops_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(p.strip(), strict=False) for p in self.ops_allow.split(",") if p.strip()]

    def ops_allowed(self, host: str | None) -> bool:
        if not host:
            return False
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in n for n in self.ops_networks)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hotline.db').as_posix()}"


class SettingsError(SystemExit):
    """Bad settings: the process stops with this one-line message (no traceback)."""


def explain(e: ValidationError) -> str:
    """One line per bad variable: `HOTLINE_ENV: Input should be 'local', 'test' or 'production' (got 'prod')`."""
    lines = []
    for err in e.errors():
        loc = [str(x) for x in err.get("loc", ()) if x != "__root__"]
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        if loc:
            got = err.get("input")
            shown = "" if loc[0] == "secret_key" or isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"HOTLINE_{loc[0].upper()}: {msg}{shown}")
        else:
            lines.append(msg)
    return "\n".join(f"configuration error: {line}" for line in lines)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        s = Settings()
    except ValidationError as e:
        raise SettingsError(explain(e)) from None
    s.data_dir.mkdir(parents=True, exist_ok=True)
    return s
