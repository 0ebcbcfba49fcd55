"""Normalising identifiers so that a value the requester gives matches the same value on file (§7060-§7062).

Each kind has one rule; a rule is deliberately strict where loosening it would let an impostor through (account ids
are exact) and lenient only where the difference is typography (case, spaces, phone punctuation, street
abbreviations).
"""

from __future__ import annotations

import re
from collections.abc import Callable

#: Street and unit words, each to its USPS abbreviation (Publication 28), so "Street" matches "St".
_ADDRESS_WORDS = {
    "street": "st",
    "str": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "boulevard": "blvd",
    "drive": "dr",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "terrace": "ter",
    "highway": "hwy",
    "parkway": "pkwy",
    "square": "sq",
    "apartment": "apt",
    "suite": "ste",
    "building": "bldg",
    "floor": "fl",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "california": "ca",
}
_ADDRESS_TOKEN = re.compile(r"[a-z0-9]+")


def normalise_email(value: str) -> str:
    return value.strip().casefold()


def normalise_name(value: str) -> str:
    """Case, spaces and the punctuation people type differently ("Jane  Doe", "JANE DOE", "Doe, Jane" is not)."""
    return " ".join(value.replace(".", " ").split()).casefold()


def normalise_phone(value: str) -> str:
    """Digits only; a North American number with its country code (+1) is the same as without."""
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits


def normalise_account_id(value: str) -> str:
    """Exact but for surrounding spaces: an account id is a key, "ABC" and "abc" may be two accounts."""
    return value.strip()


def address_parts(value: str) -> list[list[str]]:
    """An address as its comma-separated parts, each a list of normalised tokens ("#4" is "apt 4")."""
    parts = []
    for part in value.casefold().replace("#", " apt ").split(","):
        tokens = [_ADDRESS_WORDS.get(t, t) for t in _ADDRESS_TOKEN.findall(part)]
        if tokens:
            parts.append(tokens)
    return parts


def same_address(given: str, on_file: str) -> bool:
    """The street line (up to the first comma) must be the same after normalisation; what follows (city, state,
    ZIP code) may be shorter on one side ("100 Market St" matches "100 Market Street, San Francisco, CA") but
    must not differ."""
    a, b = address_parts(given), address_parts(on_file)
    if not a or not b or a[0] != b[0]:
        return False
    rest_a = [t for part in a[1:] for t in part]
    rest_b = [t for part in b[1:] for t in part]
    shorter, longer = sorted((rest_a, rest_b), key=len)
    return longer[: len(shorter)] == shorter


def _same_by(normalise: Callable[[str], str]) -> Callable[[str, str], bool]:
    def same(given: str, on_file: str) -> bool:
        left = normalise(given)
        return bool(left) and left == normalise(on_file)

    return same


#: kind -> does the requester's value match the value on file?
MATCHERS: dict[str, Callable[[str, str], bool]] = {
    "email": _same_by(normalise_email),
    "name": _same_by(normalise_name),
    "phone": lambda given, on_file: (
        len(normalise_phone(given)) >= 7 and normalise_phone(given) == normalise_phone(on_file)
    ),
    "postal_address": same_address,
    "account_id": _same_by(normalise_account_id),
}


def matches(kind: str, given: str, on_file: str) -> bool:
    return MATCHERS[kind](given, on_file)
