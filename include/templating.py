"""The Jinja2 environments of everything a person reads (``include/templates``, rebrand freely), one per language.

Every value is HTML-escaped (autoescape) and a missing variable is an error, not an empty string. Each environment
has Jinja2's i18n extension with that language's gettext catalog installed (new-style: ``_("… %(n)s", n=1)``), and
filters that format dates and numbers for the language (Babel): ``long_date``, ``date_time``, ``number``.
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from include import i18n
from include.config import INCLUDE_DIR


@cache
def env_for(language: str) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(INCLUDE_DIR / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    environment.install_gettext_translations(i18n.translations(language), newstyle=True)  # type: ignore[attr-defined]
    environment.globals["lang"] = language
    environment.filters["long_date"] = lambda value: i18n.long_date(value, language)
    environment.filters["date_time"] = lambda value: i18n.date_time(value, language)
    environment.filters["number"] = lambda value: i18n.number(value, language)
    return environment


#: English: what callers of the earlier layout used.
env = env_for(i18n.DEFAULT_LANGUAGE)
