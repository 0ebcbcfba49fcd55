"""Keep the requester's translations in step with the templates and the code.

    python -m devtools.i18n          # re-extract the messages and update include/locale/*/LC_MESSAGES/messages.po
    python -m devtools.i18n --check  # exit 1 when a message has no translation (what the tests assert)

Messages are found as ``pybabel extract`` finds them: ``_()``, ``gettext``/``ngettext`` and ``{% trans %}`` blocks in
``include/templates`` (Jinja2's extractor), ``N_()``/``_()`` in ``include/**/*.py``. Translations already in a catalog
are kept; new messages are added untranslated, messages no longer used are dropped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from include.config import INCLUDE_DIR
from include.i18n import DOMAIN, LANGUAGES, catalog_path

KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
METHOD_MAP = [("templates/**.j2", "jinja2"), ("**.py", "python")]
OPTIONS = {"templates/**.j2": {"extensions": "jinja2.ext.i18n", "trimmed": "true", "newstyle_gettext": "true"}}
#: Not requester-facing: Slack text stays in the team's language, and these modules mark nothing for the requester.
SKIP = ("datastores/extract", "datastores/identity", "datastores/sources", "store/", "decision/", "tasks/")


def messages() -> Iterator[tuple[str | tuple[str, ...], str]]:
    """(message id, where) for every marked message."""
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(INCLUDE_DIR), method_map=METHOD_MAP, options_map=OPTIONS, keywords=KEYWORDS, strip_comment_tags=True
    ):
        if filename.startswith(SKIP):
            continue
        yield message, f"include/{filename}:{lineno}"


def template() -> Catalog:
    catalog = Catalog(domain=DOMAIN, project="ccpa-right-of-access", charset="utf-8")
    for message, where in messages():
        path, _, line = where.rpartition(":")
        catalog.add(message, locations=[(path, int(line))])
    return catalog


def load(language: str) -> Catalog:
    path = catalog_path(language)
    if not path.exists():
        return Catalog(locale=language, domain=DOMAIN)
    with path.open("rb") as f:
        return read_po(f, locale=language, domain=DOMAIN)


def missing(language: str) -> list[str]:
    """Marked messages without a (non-fuzzy) translation in ``language``'s catalog."""
    catalog = load(language)
    gaps = []
    for message, where in messages():
        key = message[0] if isinstance(message, tuple) else message
        entry = catalog.get(key)
        strings = entry.string if entry is not None else None
        ok = all(strings) if isinstance(strings, tuple | list) else bool(strings)
        if entry is None or not ok or entry.fuzzy:
            gaps.append(f"{where}: {key!r}")
    return gaps


def update(language: str) -> Path:
    catalog = load(language)
    catalog.update(template(), no_fuzzy_matching=True)
    catalog.obsolete.clear()
    path = Path(catalog_path(language))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, catalog, width=120, sort_output=False, omit_header=False)
    return path


def main(argv: list[str]) -> int:
    targets = [lang for lang in LANGUAGES if lang != "en"]
    if "--check" in argv:
        gaps = [f"{lang}: {gap}" for lang in targets for gap in missing(lang)]
        print("\n".join(gaps) or "every message is translated")
        return 1 if gaps else 0
    for lang in targets:
        print(f"updated {update(lang)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
