"""The requester's languages: English (the message ids) and Spanish, in gettext catalogs (Babel).

Everything a requester reads — the emails, the report (HTML and PDF) and the form's pages — is written in English in
the templates and the code, marked for translation (``{% trans %}`` / ``_()`` in templates, ``N_()`` in Python), and
translated from ``include/locale/<language>/LC_MESSAGES/messages.po``. The catalog is compiled in memory when first
used (Babel), so there is no build step and no stale ``.mo`` file. ``python -m devtools.i18n`` re-extracts the
messages and updates the catalog; a test fails if any marked message lacks a translation.

The language is the request's ``language`` param (``en``, ``es``), else the Variable ``ccpa_default_language``,
else English. Officers' Slack text stays in the team's language (not translated here).
"""

from __future__ import annotations

import io
from datetime import date, datetime
from functools import cache
from gettext import NullTranslations
from typing import Any

from include import config

LANGUAGES = ("en", "es")
DEFAULT_LANGUAGE = "en"
LOCALE_DIR = config.INCLUDE_DIR / "locale"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined; it is translated where it is shown."""
    return message


def language_or_default(value: str | None) -> str:
    """``value`` if it is one of ours, else the Variable ``ccpa_default_language``, else English."""
    if value is not None and value in LANGUAGES:
        return value
    default = config.get_variable(config.VAR_DEFAULT_LANGUAGE, DEFAULT_LANGUAGE)
    return default if default in LANGUAGES else DEFAULT_LANGUAGE


def catalog_path(language: str) -> Any:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalog of ``language`` (English: the message ids themselves)."""
    path = catalog_path(language)
    if language == DEFAULT_LANGUAGE or not path.exists():
        return NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with path.open("rb") as f:
        catalog = read_po(f, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def gettext(language: str, message: str, **variables: Any) -> str:
    """``message`` in ``language``, then ``%(name)s`` filled in (new-style gettext, as in the templates)."""
    text = translations(language).gettext(message)
    return text % variables if variables else text


def ngettext(language: str, singular: str, plural: str, n: int) -> str:
    """The form for ``n`` in ``language``, with ``%(num)s`` filled in."""
    return translations(language).ngettext(singular, plural, n) % {"num": n}


def long_date(value: date | datetime, language: str) -> str:
    """December 5, 2026 / 5 de diciembre de 2026."""
    from babel.dates import format_date  # Babel's locale data loads on first use, not in every task process

    if isinstance(value, datetime):
        # §7021: a legal date is the business's calendar day, and says which zone (issue 15).
        from include import clock

        tz = clock.business_timezone()
        return f"{format_date(clock.local_day(value, tz), format='long', locale=language)} ({_zone(tz, language)})"
    return format_date(value, format="long", locale=language)


def _zone(tz: Any, language: str) -> str:
    from babel.dates import get_timezone_name

    return str(get_timezone_name(tz, width="long", zone_variant="generic", locale=language))


def date_time(value: datetime, language: str) -> str:
    """December 5, 2026 at 10:00:00 UTC, in the language's own order."""
    from babel.dates import format_datetime

    from include import clock

    tz = clock.business_timezone()
    return f"{format_datetime(value.astimezone(tz), format='long', tzinfo=tz, locale=language)}"


def number(value: int | float, language: str) -> str:
    """1,234 / 1.234"""
    from babel.numbers import format_decimal

    return format_decimal(value, locale=language)
