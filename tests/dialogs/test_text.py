"""One way to tidy and compare what people type (dialogs/text.py), used by every feature."""

from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path

from dialogs.text import clean_text, normalise, plain_text, said

ROOT = Path(__file__).resolve().parents[2]


def test_clean_text_gives_back_the_words_teams_wrapped_in_html() -> None:
    assert clean_text("<p>kb&nbsp;smtp <b>auth</b></p>") == "kb smtp auth"
    assert clean_text("<at>Mail Setup Assistant</at> ps check&#160;") == (
        "Mail Setup Assistant ps check")


def test_normalise_and_said_compare_words_not_spelling() -> None:
    assert normalise("Don't  KNOW") == normalise("dont know") == "dont know"
    assert normalise("ｙｅｓ, app_password 5.7.139") == "yes app password 5 7 139"
    assert said("<p>I&#39;m DONE!</p>") == "im done"


def test_plain_text_drops_invisible_characters_and_keeps_line_breaks() -> None:
    assert plain_text("a\u200bb\u202ec\nd\te\x00") == "abc\nd\te"


def test_plain_text_keeps_and_drops_every_character_as_its_unicode_category_says() -> None:
    # Printable text takes a shortcut; every code point, alone and in printable text, must
    # come out as the category rule says (kept unless "Other", line breaks and tabs kept).
    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        kept = ch in "\n\t" or unicodedata.category(ch)[0] != "C"
        assert plain_text(ch) == (ch if kept else ""), hex(code)
        assert plain_text(f"a {ch}\nb") == (f"a {ch}\nb" if kept else "a \nb"), hex(code)


def test_no_feature_keeps_a_copy_of_its_own() -> None:
    product = [p for part in ("bot", "dialogs", "checks") for p in (ROOT / part).rglob("*.py")
               if p != ROOT / "dialogs" / "text.py"]
    copies = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in product
              for m in re.finditer(r"def (?:normalise|clean_text|plain_text|plain|said)\(|"
                                   r"unicodedata\.category|_HTML_TAG =",
                                   p.read_text(encoding="utf-8"))]
    assert copies == []
