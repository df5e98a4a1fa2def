"""`hotline report annual|summary` and `hotline disclosure …` from outside, on a fresh SQLite.

The commands run as the lead mounts them (reports.cli.app as `report`, reports.cli.disclosure_app
as `disclosure`), in a subprocess with the registry sample imported.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

SAMPLES = Path(__file__).parent.parent / "fixtures" / "samples"
HOTLINE = Path(sys.executable).parent / "hotline"
MOUNTED = (
    "import typer\n"
    "from reports.cli import app, disclosure_app\n"
    "t = typer.Typer()\n"
    "t.add_typer(app, name='report')\n"
    "t.add_typer(disclosure_app, name='disclosure')\n"
    "t()\n"
)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if not HOTLINE.exists():
        pytest.skip("no hotline console script in the venv (pip install -e .)")
    d = tmp_path_factory.mktemp("annual-cli")
    env = {**os.environ, "HOTLINE_DATABASE_URL": f"sqlite:///{d / 'hotline.db'}", "HOTLINE_DATA_DIR": str(d)}

    def hotline(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(HOTLINE), *args], env=env, capture_output=True, text=True, timeout=120)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", MOUNTED, *args], env=env, capture_output=True, text=True,
                              timeout=120, cwd=Path(__file__).parent.parent.parent)

    assert hotline("db", "upgrade").returncode == 0
    r = hotline("import", "registry", str(SAMPLES / "registry-sample.csv"), "--create-missing")
    assert r.returncode == 0, r.stderr
    run.dir = d  # type: ignore[attr-defined]
    return run


def test_the_sample_year_in_four_formats(cli) -> None:  # type: ignore[no-untyped-def]
    d = cli.dir
    for fmt in ("html", "md", "json", "xlsx"):
        r = cli("report", "annual", "--year", "2012", "--format", fmt, "--out", str(d / f"a.{fmt}"))
        assert r.returncode == 0, r.stderr
    js = json.loads((d / "a.json").read_text(encoding="utf-8"))
    c = js["hotline"]["metrics"]["cases"]
    assert (c["registered"], c["resolved"], c["callbacks_reached"], c["satisfied"]) == (60, 57, 55, 53)
    assert js["hotline"]["hot_topics_total"] == 40
    html = (d / "a.html").read_text(encoding="utf-8")
    assert "办结率95%" in html and "回访率100%" in html and "满意率96.36%" in html
    assert "未填报" in html and "未填报" in (d / "a.md").read_text(encoding="utf-8")
    r = cli("report", "annual", "--year", "2012", "--form", "narrative", "--format", "md")
    assert r.returncode == 0 and "六、政府信息公开中存在的问题及改进措施" in r.stdout
    assert "拆迁补偿17件、物业管理13件、办理证照10件" in r.stdout


def test_entered_figures_show_and_a_broken_table3_fails_the_report(cli) -> None:  # type: ignore[no-untyped-def]
    d = cli.dir
    keys = cli("disclosure", "keys", "--table", "3")
    assert keys.returncode == 0 and "carried_out" in keys.stdout and "信访举报投诉类申请" in keys.stdout
    for args in (("2", "rules", "issued", "5"), ("3", "new", "natural", "7"), ("3", "carried_in", "natural", "1"),
                 ("3", "handled", "natural", "6"), ("3", "carried_out", "natural", "1"), ("4", "review", "total", "2")):
        t, row, col, v = args
        r = cli("disclosure", "set", "--year", "2013", "--table", t, "--row", row, "--column", col, "--value", v,
                "--by", "陈静", "--source", "政务公开办台账")
        assert r.returncode == 0, r.stderr
    bad = cli("disclosure", "set", "--year", "2013", "--table", "3", "--row", "new", "--column", "natural",
              "--value", "-3")
    assert bad.returncode != 0 and "≥ 0" in bad.stderr
    listed = cli("disclosure", "list", "--year", "2013")
    assert "rules\tissued\t5\t陈静" in listed.stdout
    # 7 + 1 = 6 + 1 fails: exit 1, listing the problem, nothing written
    out = d / "b.html"
    r = cli("report", "annual", "--year", "2013", "--format", "html", "--out", str(out))
    assert r.returncode == 1 and "一（7）+ 二（1）≠ 三（七）总计（6）+ 四（1）" in r.stderr and not out.exists()
    r = cli("report", "annual", "--year", "2013", "--format", "html", "--out", str(out), "--allow-inconsistent")
    assert r.returncode == 0 and "一致性检查未通过" in out.read_text(encoding="utf-8")
    # corrected: the four formats carry the entered figures
    assert cli("disclosure", "set", "--year", "2013", "--table", "3", "--row", "carried_out", "--column",
               "natural", "--value", "2").returncode == 0
    for fmt in ("html", "md", "json", "xlsx"):
        r = cli("report", "annual", "--year", "2013", "--format", fmt, "--out", str(d / f"c.{fmt}"))
        assert r.returncode == 0, r.stderr
    js = json.loads((d / "c.json").read_text(encoding="utf-8"))
    assert js["tables"]["2"]["cells"]["rules|issued"]["value"] == 5
    assert js["tables"]["3"]["cells"]["carried_out|natural"]["value"] == 2
    assert js["tables"]["4"]["cells"]["review|total"]["value"] == 2 and js["problems"] == []
    html = (d / "c.html").read_text(encoding="utf-8")
    assert 'title="填报：陈静' in html and ">7<" in html
    md = (d / "c.md").read_text(encoding="utf-8")
    assert "| 规章 | 5 |" in md and "| 一、本年新收政府信息公开申请数量 | 7 |" in md
    wb = load_workbook(io.BytesIO((d / "c.xlsx").read_bytes()))
    assert wb["表2 主动公开"]["B3"].value == 5 and wb["表3 依申请公开"]["B2"].value == 7
    assert wb["表4 复议诉讼"]["F2"].value == 2


def test_summaries(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("report", "summary", "--month", "2012-01", "--format", "json")
    assert r.returncode == 0, r.stderr
    js = json.loads(r.stdout)
    assert js["title"] == "12345热线2012年1月工作情况汇总" and js["period"]["to"] == "2012-01-31"
    q = cli("report", "summary", "--quarter", "2012Q1", "--format", "md", "--base-url", "https://rx.example/")
    assert q.returncode == 0 and "2012年第一季度" in q.stdout
    assert "](https://rx.example/reports/drill?figure=registered&from=2012-01-01&to=2012-03-31" in q.stdout
    assert cli("report", "summary", "--format", "md").returncode == 2
    assert cli("report", "summary", "--month", "2012-13").returncode != 0
