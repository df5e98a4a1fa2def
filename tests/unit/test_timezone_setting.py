"""The hotline's time zone comes from the settings (HOTLINE_TIMEZONE), any IANA zone."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from callcenter.core.clock import TZ, check_timezone, fixed_offset, sqlite_shift
from callcenter.core.settings import Settings


def test_the_default_is_beijing_time() -> None:
    assert TZ.key == "Asia/Shanghai" or os.environ.get("HOTLINE_TIMEZONE")
    assert Settings().timezone == os.environ.get("HOTLINE_TIMEZONE", "Asia/Shanghai")


@pytest.mark.parametrize("bad", ["", "Mars/Base", "Asia/Shanghai ", "+08:00"])
def test_an_unknown_zone_is_refused_naming_it(bad: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        Settings(timezone=bad)


def test_any_zone_without_daylight_saving_works_on_sqlite_and_any_zone_on_postgresql() -> None:
    assert Settings(timezone="Asia/Kolkata").timezone == "Asia/Kolkata"
    with pytest.raises(ValueError, match="daylight saving"):
        Settings(timezone="Europe/Berlin", database_url="sqlite:///x.db")
    assert Settings(timezone="Europe/Berlin", database_url="postgresql://h@127.0.0.1/x").timezone == "Europe/Berlin"


def test_the_sqlite_shift_is_the_zones_offset() -> None:
    assert check_timezone("Asia/Urumqi") == "Asia/Urumqi"
    assert fixed_offset(ZoneInfo("Asia/Shanghai")) == timedelta(hours=8)
    assert fixed_offset(ZoneInfo("Europe/Berlin")) is None
    assert sqlite_shift(ZoneInfo("Asia/Shanghai")) == "+8 hours"
    assert sqlite_shift(ZoneInfo("Asia/Kolkata")) == "+330 minutes"
    # what SQLite makes of it: 17:00 UTC is the next day in Beijing, the same day in Kolkata
    db = sqlite3.connect(":memory:")
    day = "SELECT date('2026-03-01 17:00:00', ?)"
    assert db.execute(day, (sqlite_shift(ZoneInfo("Asia/Shanghai")),)).fetchone()[0] == "2026-03-02"
    assert db.execute(day, (sqlite_shift(ZoneInfo("Asia/Kolkata")),)).fetchone()[0] == "2026-03-01"


def test_every_module_counts_in_the_configured_zone() -> None:
    code = (
        "from datetime import datetime, UTC\n"
        "from callcenter.cases import numbering, workdays\n"
        "from reports import metrics, rollup\n"
        "from callcenter.floor import agents\n"
        "from callcenter.web import render\n"
        "print(numbering.day_of(datetime(2026, 3, 1, 17, 0, tzinfo=UTC)),"
        " workdays.TZ.key, metrics.TZ.key, agents.TZ.key, render.TZ.key, rollup.SQLITE_SHIFT)\n"
    )
    env = {**os.environ, "HOTLINE_TIMEZONE": "Asia/Kolkata"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["20260301", "Asia/Kolkata", "Asia/Kolkata", "Asia/Kolkata", "Asia/Kolkata", "+330", "minutes"]
