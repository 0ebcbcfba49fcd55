"""The requester's pages in their language: rendered by the language's Jinja2 environment (include/templating.py)."""

from __future__ import annotations

from typing import Any

from include.i18n import DEFAULT_LANGUAGE, LANGUAGES, language_or_default, long_date
from include.templating import env_for

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "language_or_default", "long_date", "render"]


def render(template: str, language: str, **context: Any) -> str:
    return env_for(language).get_template(template).render(languages=LANGUAGES, **context)
