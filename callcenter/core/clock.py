"""The hotline's time zone: `settings.timezone` (HOTLINE_TIMEZONE, any IANA zone; default
Asia/Shanghai). Deadlines, working days, case numbers' days, report periods, the wall's "today"
and the nightly jobs are all counted in it; every module takes `TZ` from here.

`TZ` is read once per process, at import, from the same source and with the same check as
`Settings` (only that one variable: importing a module must not create the data directory or
freeze the rest of the settings). SQL that buckets by local day or hour uses `TZ.key` on
PostgreSQL and `sqlite_shift()` on SQLite, which stores naive UTC and knows no zones — so an
SQLite store needs a zone without daylight saving time (Settings refuses the pair).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_TIMEZONE = "Asia/Shanghai"
# the years the system counts in (workdays.MIN_YEAR..MAX_YEAR): a zone is "fixed" if its UTC
# offset does not change within them
_YEARS = range(2000, 2101)


def check_timezone(name: str) -> str:
    """`name` if it is an IANA time zone this machine knows (tzdata), else ValueError saying so."""
    if not name or name != name.strip():
        raise ValueError(f"{name!r} is not a time zone name (IANA, e.g. Asia/Shanghai)")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a known IANA time zone (e.g. Asia/Shanghai, Asia/Urumqi)") from None
    return name


def fixed_offset(tz: ZoneInfo) -> timedelta | None:
    """The zone's UTC offset if it is the same all through the supported years, else None."""
    offsets = {datetime(y, m, 1, tzinfo=UTC).astimezone(tz).utcoffset() for y in _YEARS for m in (1, 4, 7, 10)}
    return offsets.pop() if len(offsets) == 1 else None


class _ZoneSetting(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", env_file=".env", extra="ignore")

    timezone: str = DEFAULT_TIMEZONE


def _read_zone() -> ZoneInfo:
    try:
        return ZoneInfo(check_timezone(_ZoneSetting().timezone))
    except ValueError:
        # a bad HOTLINE_TIMEZONE: get_settings() stops the process with the message at start-up;
        # until then (and for a module imported by a tool) the default keeps the import working
        return ZoneInfo(DEFAULT_TIMEZONE)


TZ: ZoneInfo = _read_zone()


def sqlite_shift(tz: ZoneInfo = TZ) -> str:
    """The SQLite date/time modifier turning a stored UTC time into local time ("+8 hours")."""
    off = fixed_offset(tz)
    if off is None:
        raise ValueError(f"{tz.key} changes its UTC offset (daylight saving time): SQLite cannot count its days")
    minutes = int(off.total_seconds() // 60)
    return f"{minutes // 60:+d} hours" if minutes % 60 == 0 else f"{minutes:+d} minutes"
