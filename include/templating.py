"""The Jinja2 environment of everything a person reads by email (``include/templates``, rebrand freely).

Every value is HTML-escaped (autoescape) and a missing variable is an error, not an empty string.
"""

from __future__ import annotations

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from include.config import INCLUDE_DIR

env = Environment(
    loader=FileSystemLoader(INCLUDE_DIR / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
