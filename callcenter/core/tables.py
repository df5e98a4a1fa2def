"""The spreadsheet files the hotline reads and writes (来电登记表, 知识库): CSV (UTF-8) or XLSX,
as rows of text — one reader and one writer for both.

A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) is written to CSV
with a leading `'` and to XLSX as a text cell, and read back without the `'`; so an export
re-imports to the same values and never runs anything in the clerk's spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from callcenter.core.errors import FileErrors

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def unescape(s: str) -> str:
    """A cell as written, without the `'` that kept it from being a formula."""
    if len(s) > 1 and s[0] == "'" and s[1] in FORMULA_START:
        return s[1:]
    return s


def read_table(path: Path, errors: type[FileErrors], cell: Callable[[Any], str]) -> tuple[list[str], Iterator[list[str]]]:
    """(header, rows) of a CSV (UTF-8, with or without BOM) or XLSX file (its first sheet); every
    value goes through `cell` (a CSV's are text already, an XLSX's are typed). Raises `errors`
    saying what is wrong with the file (missing, not UTF-8, not a workbook, no header)."""
    if not path.is_file():
        raise errors([f"{path}: no such file"])
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as e:
            raise errors([f"{path.name}: not UTF-8 text (byte {e.start}); save the sheet as \"CSV UTF-8\""]) from None
        reader = csv.reader(io.StringIO(text, newline=""))
        first = next(reader, None)
        header = [cell(c) for c in first] if first is not None else None
        rows: Iterator[list[str]] = ([cell(c) for c in r] for r in reader)
    elif suffix in (".xlsx", ".xlsm"):
        import openpyxl  # lazy: openpyxl only for XLSX files (a heavy import)

        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as e:  # zipfile.BadZipFile, KeyError, InvalidFileException …
            raise errors([f"{path.name}: not a readable XLSX workbook ({e})"]) from None
        it = wb.worksheets[0].iter_rows(values_only=True)
        first_x = next(it, None)
        header = [cell(c) for c in first_x] if first_x is not None else None
        rows = ([cell(c) for c in r] for r in it)
    else:
        raise errors([f"{path.name}: unknown file type {path.suffix!r}; use .csv or .xlsx"])
    if header is None or not any(h.strip() for h in header):
        raise errors(["row 1: the file is empty: the header row is missing"])
    return [h.strip().lstrip("\ufeff") for h in header], rows


def xlsx_text(v: Any) -> Any:
    """A value an XLSX cell can hold: the control characters XML 1.0 cannot carry (which the
    API's free text may once have held) become U+FFFD instead of failing the whole file."""
    if isinstance(v, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # lazy: openpyxl only for XLSX

        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", v)
    return v


def xlsx_clean(v: Any) -> Any:
    """xlsx_text through dicts and lists (a report before it is rendered)."""
    if isinstance(v, dict):
        return {k: xlsx_clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [xlsx_clean(x) for x in v]
    return xlsx_text(v)


def write_table(path: Path, header: list[str], rows: Iterable[list[str]], fmt: str, *, sheet: str,
                encoding: str = "utf-8") -> int:
    """Write `header` and `rows` as CSV or XLSX (`fmt`); returns the number of rows written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    if fmt == "xlsx":
        import openpyxl  # lazy: openpyxl only for XLSX files (a heavy import)
        from openpyxl.cell import WriteOnlyCell  # lazy: openpyxl only for XLSX

        wb = openpyxl.Workbook(write_only=True)
        ws = wb.create_sheet(sheet)

        def cells(values: list[str]) -> list[WriteOnlyCell]:
            out = []
            for v in values:
                c = WriteOnlyCell(ws, value=xlsx_text(v))
                c.data_type = "s"  # text, never a formula, whatever it starts with
                out.append(c)
            return out

        ws.append(cells(header))
        for r in rows:
            ws.append(cells(r))
            n += 1
        wb.save(path)
        return n
    with path.open("w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow(["'" + v if v.startswith(FORMULA_START) else v for v in r])
            n += 1
    return n
