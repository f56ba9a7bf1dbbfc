"""``make i18n``: bring the gettext catalogs up to date with the English texts.

Reads every text a customer can read (:func:`dialogs.translatable.source_texts`:
dialogs/messages.py, the handoff's ``ToCustomer`` sentences, the live checks'
phrases, the knowledge's customer-facing fields, the diagnosis' follow-up
questions), writes the template
``dialogs/i18n/catalogs/messages.pot`` and updates ``lv.po`` and ``ru.po`` with
Babel: new texts arrive untranslated, changed ones fuzzy with the old
translation as a starting point, removed ones are dropped. Then translate the
empty and fuzzy entries (Poedit, Weblate or a text editor) and run ``make
test``: the catalog tests fail until every entry is translated.

    python -m tools.i18n            # update the catalogs
    python -m tools.i18n --check    # exit 1 when a catalog is not up to date
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from pathlib import Path

from babel.messages.catalog import Catalog  # type: ignore[import-untyped]
from babel.messages.pofile import read_po, write_po  # type: ignore[import-untyped]

from dialogs.i18n import CATALOG_DIR, LANGUAGES, SOURCE_LANG, catalog_path
from dialogs.knowledge import load_knowledge
from dialogs.translatable import source_texts

TRANSLATOR_NOTE = (
    "Keep as they are: PowerShell (cmdlets, -Parameters, $false), URLs, {placeholders}, "
    "Microsoft's portal labels and other quoted names ('Manage email apps'), error codes "
    "(5.7.139) and product names. Terms: mailbox = pastkaste / почтовый ящик, "
    "licence = licence / лицензия, tenant = organizācija / организация (клиент).")
WIDTH = 100


def template() -> Catalog:
    """The PO template: every English text with where it is used."""
    catalog = Catalog(project="Mail Setup Assistant", version="1",
                      msgid_bugs_address="support@cloudex.example", fuzzy=False)
    for text, places in source_texts(load_knowledge()).items():
        flags = ["python-brace-format"] if "{" in text else []
        catalog.add(text, locations=[(place, None) for place in places], flags=flags)
    return catalog


def updated(lang: str, pot: Catalog) -> Catalog:
    """The catalog of ``lang`` updated to the template (created when missing)."""
    path = catalog_path(lang)
    if path.exists():
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=lang)
    else:
        catalog = Catalog(locale=lang, project="Mail Setup Assistant", version="1", fuzzy=False)
    catalog.update(pot, no_fuzzy_matching=False)
    catalog.obsolete.clear()  # removed texts go: the template is the whole truth
    for message in catalog:
        # The old English of a fuzzy entry helps its translator; once translated it is noise
        # (and Babel reads a long one back as a comment, where it would stay for good).
        message.user_comments = [c for c in message.user_comments if not c.startswith("|")]
        if not message.fuzzy:
            message.previous_id = ()
    catalog.header_comment = f"# {lang} translations of Mail Setup Assistant.\n# {TRANSLATOR_NOTE}"
    return catalog


def render(catalog: Catalog) -> bytes:
    """A catalog as PO bytes, without dates, so an unchanged catalog writes the same bytes."""
    out = io.BytesIO()
    write_po(out, catalog, width=WIDTH, omit_header=False, sort_output=False,
             include_previous=True)
    lines = [line for line in out.getvalue().split(b"\n")
             if not line.startswith((b'"POT-Creation-Date', b'"PO-Revision-Date'))]
    return b"\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Update (or with --check, verify) the catalogs; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m tools.i18n", description=__doc__)
    parser.add_argument("--check", action="store_true",
                        help="only report catalogs that are not up to date")
    args = parser.parse_args(argv)
    pot = template()
    outputs = {CATALOG_DIR / "messages.pot": render(pot)}
    for lang in LANGUAGES:
        if lang != SOURCE_LANG:
            outputs[catalog_path(lang)] = render(updated(lang, pot))
    stale = [path for path, data in outputs.items()
             if not path.exists() or path.read_bytes() != data]
    if args.check:
        for path in stale:
            print(f"not up to date: {path} (run make i18n)", file=sys.stderr)
        return 1 if stale else 0
    CATALOG_DIR.mkdir(parents=True, exist_ok=True)
    for path in stale:
        Path(path).write_bytes(outputs[path])
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
