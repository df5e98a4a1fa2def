"""Phone numbers: normalise (E.164, region CN) and mask (138****5678)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import phonenumbers

_DIGITS = re.compile(r"[^\d+]")
# zero-width and bidirectional formatting marks: invisible, and a number or a text made of them
# looks like something it is not (an RTL mark reverses how a number reads)
INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def clean(number: str | None) -> str | None:
    """A number as typed, made plain: full-width digits to ASCII (NFKC: １３８ → 138), zero-width
    and direction marks removed, spaces at the ends stripped. None stays None."""
    if number is None:
        return None
    return INVISIBLE.sub("", unicodedata.normalize("NFKC", number)).strip()


def visible_text(text: str | None) -> str:
    """`text` without its invisible marks, for "is anything written here?" (not for storing:
    NFKC would turn the full-width punctuation of Chinese text into ASCII)."""
    return INVISIBLE.sub("", text or "").strip()


@lru_cache(maxsize=65536)
def normalize(number: str | None) -> str | None:
    """E.164 form of a Chinese mobile or landline (with area code), or None if it is not a number.

    `18767634714` → `+8618767634714`; `0731-51489227` → `+8673151489227`.
    Numbers that do not parse (internal extensions, 'anonymous') give None.
    """
    if not number:
        return None
    raw = clean(number) or ""
    if not raw or not any(c.isdigit() for c in raw):
        return None
    try:
        p = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(p):
        return None
    return phonenumbers.format_number(p, phonenumbers.PhoneNumberFormat.E164)


def is_valid(number: str) -> bool:
    try:
        p = phonenumbers.parse(number.strip(), "CN")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(p)


def mask(number: str | None) -> str:
    """Mask the middle of a number for lists and exports: 138****5678, 0731-****9227."""
    if not number:
        return ""
    s = clean(number) or ""
    digits = _DIGITS.sub("", s)
    if len(digits) <= 4:
        return "*" * len(digits)
    if "-" in s:
        area, rest = s.split("-", 1)
        return f"{area}-{'*' * max(len(rest) - 4, 0)}{rest[-4:]}"
    keep_head = 3 if len(s) >= 11 else max(len(s) - 8, 0)
    return s[:keep_head] + "*" * (len(s) - keep_head - 4) + s[-4:]
