"""The annual report's HTML printed to A4 PDF in headless Chromium, and its pages as PNGs.

Output in test-output/browser/report/: annual-2012-{2021,narrative,summary-q2}.html, .pdf, -N.png
(pdftoppm when installed, else a full-page screenshot) — look at them.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from callcenter.store.db import Database
from reports.annual import annual_report, quarter_bounds, set_figure, summary
from reports.render import render

SAMPLES = Path(__file__).parent.parent / "fixtures" / "samples"
OUT = Path(__file__).resolve().parents[2] / "test-output" / "browser" / "report"


async def _reports(path: Path) -> dict[str, bytes]:
    from callcenter.cases import registry_io

    db = Database(f"sqlite:///{path}")
    try:
        await registry_io.import_file(db, SAMPLES / "registry-sample.csv", create_missing=True)
        for t, row, col, v in (("2", "rules", "issued", "3"), ("2", "normative_docs", "in_force", "677"),
                               ("2", "fees", "amount", "12.5"), ("3", "new", "natural", "1"),
                               ("3", "new", "total", "1"), ("3", "granted", "natural", "1"),
                               ("3", "handled", "natural", "1"), ("n", "functions", "items", "896"),
                               ("n", "normative", "items", "677"), ("4", "review", "total", "0")):
            await set_figure(db, 2012, t, row, col, v, entered_by="陈静")
        await set_figure(db, 2012, "text", "problems", "text",
                         "主动公开时效性不强、工作监督考核机制不完善。我们将进一步加大政务公开工作力度。")
        out = {}
        for form in ("2021", "narrative"):
            r = await annual_report(db, 2012, form=form)
            out[form] = render(r, "html")
        d0, d1, label = quarter_bounds("2012Q2")
        out["summary-q2"] = render(await summary(db, d0, d1, label=label), "html")
        return out
    finally:
        await db.dispose()


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


@pytest.mark.browser
def test_the_annual_report_prints_on_a4(chromium: Any, sqlite_template: Path, tmp_path: Path) -> None:
    db_path = tmp_path / "print.db"
    shutil.copy(sqlite_template, db_path)
    # sync playwright keeps an event loop on this thread: build the reports on another one
    with ThreadPoolExecutor(1) as ex:
        htmls = ex.submit(asyncio.run, _reports(db_path)).result()
    OUT.mkdir(parents=True, exist_ok=True)
    page = chromium.new_page()
    try:
        for form, html in htmls.items():
            src = OUT / f"annual-2012-{form}.html"
            src.write_bytes(html)
            page.goto(src.as_uri())
            pdf = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
            pdf_path = OUT / f"annual-2012-{form}.pdf"
            pdf_path.write_bytes(pdf)
            assert pdf[:5] == b"%PDF-"
            pages = _pdf_pages(pdf)
            assert pages >= {"2021": 3, "narrative": 2}.get(form, 1), pages
            for old in OUT.glob(f"annual-2012-{form}-*.png"):
                old.unlink()
            if shutil.which("pdftoppm"):
                subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf_path), str(OUT / f"annual-2012-{form}")],
                               check=True, timeout=120)
                pngs = sorted(OUT.glob(f"annual-2012-{form}-*.png"))
                assert len(pngs) == pages
            else:
                page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
                page.screenshot(path=str(OUT / f"annual-2012-{form}-1.png"), full_page=True)
                pngs = [OUT / f"annual-2012-{form}-1.png"]
            assert all(p.stat().st_size > 5000 for p in pngs)
            # the text made it into the PDF's pages: the drill links survive as link annotations
            assert b"/URI" in pdf or b"/Link" in pdf
    finally:
        page.close()
