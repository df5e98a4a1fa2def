"""Phone numbers: normalise (E.164, region CN) and mask (138****5678)."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

_DIGITS = re.compile(r"[^\d+]")


@lru_cache(maxsize=65536)
def normalize(number: str | None) -> str | None:
    """E.164 form of a Chinese mobile or landline (with area code), or None if it is not a number.

    `18767634714` → `+8618767634714`; `0731-51489227` → `+8673151489227`.
    Numbers that do not parse (internal extensions, 'anonymous') give None.
    """
    if not number:
        return None
    raw = number.strip()
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
    s = number.strip()
    digits = _DIGITS.sub("", s)
    if len(digits) <= 4:
        return "*" * len(digits)
    if "-" in s:
        area, rest = s.split("-", 1)
        return f"{area}-{'*' * max(len(rest) - 4, 0)}{rest[-4:]}"
    keep_head = 3 if len(s) >= 11 else max(len(s) - 8, 0)
    return s[:keep_head] + "*" * (len(s) - keep_head - 4) + s[-4:]
