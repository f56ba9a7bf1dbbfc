"""English, Latvian and Russian: complete catalogs, untouched technical text, no internal wording.

Every English source text (dialogs/messages.py, the knowledge's customer-facing
fields, the diagnosis' follow-up questions) has a translation in every
language, with the same ``{placeholders}``; PowerShell, URLs, error codes and
Microsoft's labels are identical in every language, both in each catalog entry
and in every card drawn; no customer text says "source document".
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po  # type: ignore[import-untyped]

from dialogs import cards
from dialogs.gallery import SAMPLE_FACTS, is_customer_card, sample_cards
from dialogs.i18n import LANGUAGES, SOURCE_LANG, catalog_path, language, translator
from dialogs.i18n.knowledge import customer_texts, is_portal_label, localized
from dialogs.knowledge import Knowledge
from dialogs.translatable import source_texts
from tests.support.cards import dict_nodes
from tests.support.language import QUOTED, TECHNICAL, english_words_left
from tools import i18n as i18n_tool

TRANSLATED = [lang for lang in LANGUAGES if lang != SOURCE_LANG]
ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def sources() -> dict[str, list[str]]:
    from dialogs.knowledge import default_knowledge

    return source_texts(default_knowledge())


@functools.cache
def catalog(lang: str) -> dict[str, Any]:
    with catalog_path(lang).open("rb") as handle:
        return {message.id: message for message in read_po(handle) if message.id}


# ----- what must stay as it is ---------------------------------------------------------
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def protected(text: str, own_texts: frozenset[str]) -> Counter[str]:
    """What a translation must keep verbatim: technical tokens and Microsoft's quoted names.

    A quoted name is kept when it has a capital letter or a digit (a portal label such as
    'Manage email apps', an error such as '535 5.7.139'), unless it is one of the bot's own
    texts (a cause title quoted in a step), which is translated like the rest.
    """
    found = Counter(TECHNICAL.findall(text))
    for quoted in QUOTED.findall(text):
        own = any(own_text.startswith(quoted) for own_text in own_texts)
        if re.search(r"[A-Z0-9]", quoted) and not own:
            found[f"'{quoted}'"] += 1
    return found


def own_texts(lang: str) -> frozenset[str]:
    """The bot's own texts in English and in ``lang`` (quoting one of them is not a label)."""
    return frozenset(sources()) | {str(m.string) for m in catalog(lang).values()}


def test_protected_tokens_catch_a_translated_cmdlet_or_label() -> None:
    own = frozenset({"MFA is on for the account, so the normal password does not work",
                     "Kontam ir MFA, tāpēc parastā parole nedarbojas"})
    english = ("Run Set-CASMailbox -Identity {identity} -SmtpClientAuthenticationDisabled $false, "
               "then tick 'Authenticated SMTP' (see 'MFA is on for the account'; 5.7.139; "
               "https://aka.ms/smtp_auth_disabled).")
    good = ("Palaidiet Set-CASMailbox -Identity {identity} -SmtpClientAuthenticationDisabled "
            "$false, tad atzīmējiet 'Authenticated SMTP' (skat. 'Kontam ir MFA'; 5.7.139; "
            "https://aka.ms/smtp_auth_disabled).")
    assert protected(good, own) == protected(english, own)
    for bad in (good.replace("Set-CASMailbox", "Iestatīt-CASMailbox"),
                good.replace("$false", "nepatiess"),
                good.replace("'Authenticated SMTP'", "'Autentificēts SMTP'"),
                good.replace("aka.ms/smtp_auth_disabled", "aka.ms/smtp_auth_izslegts"),
                good.replace("5.7.139", "5.7.13")):
        assert protected(bad, own) != protected(english, own), bad


# ----- the catalogs ------------------------------------------------------------------------
@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_source_text_is_translated_and_nothing_else(lang: str) -> None:
    entries = catalog(lang)
    missing = [text for text in sources() if text not in entries]
    untranslated = [text for text in sources()
                    if text in entries and (not entries[text].string or entries[text].fuzzy)]
    obsolete = [text for text in entries if text not in sources()]
    assert (missing, untranslated, obsolete) == ([], [], []), (
        "run `make i18n` and translate the new entries")


def test_the_catalogs_are_as_make_i18n_writes_them() -> None:
    assert i18n_tool.main(["--check"]) == 0, "run `make i18n`"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_translations_keep_placeholders_code_urls_and_microsoft_labels(lang: str) -> None:
    own = own_texts(lang)
    wrong = []
    for english, message in catalog(lang).items():
        translated = str(message.string)
        if Counter(_PLACEHOLDER.findall(english)) != Counter(_PLACEHOLDER.findall(translated)):
            wrong.append(("placeholders", english[:60]))
        if protected(english, own) != protected(translated, own):
            wrong.append(("kept verbatim", english[:60],
                          protected(english, own) - protected(translated, own)))
        if english.count("**") != translated.count("**"):
            wrong.append(("bold", english[:60]))
    assert wrong == []




@pytest.mark.parametrize("lang", TRANSLATED)
def test_translations_are_in_their_language(lang: str, knowledge: Knowledge) -> None:
    # A sentence left in English (or put in the other language) is a translation missed.
    labels = frozenset(step for cause in knowledge.causes
                       for path in (*cause.fix.click_paths, *cause.check.click_paths)
                       for step in path.steps if is_portal_label(step))
    assert english_words_left("Tick 'Authenticated SMTP' and click Save changes.", labels) == [
        "and"]
    left = {english: english_words_left(str(m.string), labels)
            for english, m in catalog(lang).items()}
    assert {english: words for english, words in left.items() if words} == {}
    other = {"lv": "[а-яё]", "ru": "[āčēģīķļņšūž]"}[lang]
    assert [e for e, m in catalog(lang).items()
            if m.string != e and re.search(other, str(m.string), re.IGNORECASE)] == []
    if lang == "ru":
        assert [e for e, m in catalog(lang).items()
                if len(e.split()) >= 3 and not re.search("[а-яё]", str(m.string), re.IGNORECASE)
                and english_words_left(e, labels)] == []


def test_portal_labels_are_never_translated(knowledge: Knowledge) -> None:
    offered = [text for where, text in customer_texts(knowledge) if ".click_paths[" in where]
    labels = {step for cause in knowledge.causes
              for path in (*cause.fix.click_paths, *cause.check.click_paths)
              for step in path.steps if is_portal_label(step)}
    assert {"Users", "Active users", "Manage email apps", "Mail flow", "Save changes"} <= labels
    assert [step for step in offered if is_portal_label(step)] == []  # never to a translator
    assert "Tick Authenticated SMTP" in offered
    assert not is_portal_label("Tick Authenticated SMTP")
    assert not is_portal_label("Untick 'Block this user from signing in'")
    for lang in TRANSLATED:
        local = localized(knowledge, lang)
        for english, translated in zip(knowledge.causes, local.causes, strict=True):
            for path, local_path in zip(english.fix.click_paths, translated.fix.click_paths,
                                        strict=True):
                assert (path.portal, path.url) == (local_path.portal, local_path.url)
                for step, local_step in zip(path.steps, local_path.steps, strict=True):
                    if is_portal_label(step):
                        assert local_step == step


def test_the_language_of_a_snapshot_is_one_the_bot_speaks() -> None:
    assert [language(v) for v in ("lv", "ru", "en", "de", None, 7, "LV")] == [
        "lv", "ru", "en", "en", "en", "en", "en"]
    assert translator("de").lang == "en"
    assert translator("lv")("Start over") == "Sākt no jauna"
    assert translator("ru")("Start over") == "Начать заново"
    assert translator("lv")("tms@contoso.com") == "tms@contoso.com"


# ----- the cards in every language --------------------------------------------------------
def _code_and_links(card: dict[str, Any]) -> tuple[list[str], list[str]]:
    code = [str(node["codeSnippet"]) for node in dict_nodes(card)
            if node.get("type") == "CodeBlock"]
    text = json.dumps(card, ensure_ascii=False)
    return code, sorted(set(re.findall(r"\]\((https://[^)\s]+)\)", text)))


def test_powershell_lines_and_urls_are_identical_in_every_language(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    # The check results carry fixes inline while they fit a byte budget; Cyrillic takes more
    # bytes, so a Russian card may show one fix less inline (one press away instead). Lifted
    # here, every language carries the same fixes, so their PowerShell and links compare.
    from dialogs.live import cards as check_cards

    monkeypatch.setattr(check_cards, "FIX_BUDGET_BYTES", 10**9)
    english = {name: _code_and_links(card) for name, card in sample_cards().items()
               if is_customer_card(name)}
    assert sum(len(code) for code, _ in english.values()) > 20
    for lang in TRANSLATED:
        other = {name: _code_and_links(card) for name, card in sample_cards(lang=lang).items()}
        assert other == english, lang


def _customer_texts_of(card: Any) -> list[str]:
    return [str(value) for node in dict_nodes(card) for key, value in node.items()
            if key in ("text", "title", "value", "label", "placeholder", "codeSnippet")
            and isinstance(value, str)]


def test_no_customer_text_says_source_document(knowledge: Knowledge) -> None:
    texts = list(sources())
    for lang in TRANSLATED:
        texts += [str(message.string) for message in catalog(lang).values()]
        texts += [t for name, card in sample_cards(lang=lang).items()
                  for t in _customer_texts_of(card)]
    texts += [t for name, card in sample_cards().items() if is_customer_card(name)
              for t in _customer_texts_of(card)]
    assert len(texts) > 2000
    for internal in ("source document", "the seed", "seed document"):
        assert [t for t in texts if internal in t.lower()] == [], internal
    assert any("CLOUDEX's setup guide" in t for t in texts)


def test_the_evidence_is_the_customers_own_error_and_only_behind_why(knowledge: Knowledge) -> None:
    card = cards.diagnosis_card(knowledge, SAMPLE_FACTS, "smtp_auth_disabled_tenant")
    shown = json.dumps(card)
    assert "Matched" not in shown
    (why,) = [node for node in dict_nodes(card)
              if node.get("id") == "smtp_auth_disabled_tenant-why"]
    assert why["isVisible"] is False
    runs = [run["text"] for node in dict_nodes(why) if node.get("type") == "RichTextBlock"
            for run in node["inlines"]]
    assert runs[0] == "From your error: “" and runs[1].startswith("535 5.7.139")


def test_the_customers_error_on_a_card_is_inert(knowledge: Knowledge) -> None:
    """Markdown in a pasted error shows as typed: it is a TextRun, never a TextBlock."""
    pasted = "535 5.7.139 **Click** [here](https://example.invalid/x) _now_\u202e"
    facts = {**SAMPLE_FACTS, "diagnosis": {**SAMPLE_FACTS["diagnosis"], "evidence": pasted}}
    card = cards.diagnosis_card(knowledge, facts, "smtp_auth_disabled_tenant")
    blocks = [node for node in dict_nodes(card) if node.get("type") == "TextBlock"]
    assert not [b for b in blocks if "example.invalid" in b["text"]]
    (run,) = [run for node in dict_nodes(card) if node.get("type") == "RichTextBlock"
              for run in node["inlines"] if "example.invalid" in run["text"]]
    assert run["text"] == "535 5.7.139 **Click** [here](https://example.invalid/x) _now_"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_text_for_the_it_provider_is_in_the_language_then_in_english(
    lang: str, knowledge: Knowledge
) -> None:
    card = cards.fix_card(knowledge, "smtp_auth_disabled_mailbox", SAMPLE_FACTS, lang=lang)
    (forward,) = [a for a in card["actions"] if a["type"] == "Action.ShowCard"]
    paragraphs = [block["text"] for block in forward["card"]["body"]]
    english = knowledge.cause("smtp_auth_disabled_mailbox").forward("tms@contoso.com")
    assert paragraphs[-1] == english
    if lang != SOURCE_LANG:
        assert paragraphs[-2] == translator(lang)("In English:")
        assert paragraphs[1] != english and "tms@contoso.com" in paragraphs[1]
        assert "Set-CASMailbox -Identity 'tms@contoso.com'" in paragraphs[1]
    else:
        assert len(paragraphs) == 2


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_customer_card_reads_in_its_language(lang: str, knowledge: Knowledge) -> None:
    labels = frozenset(step for cause in knowledge.causes
                       for path in (*cause.fix.click_paths, *cause.check.click_paths)
                       for step in path.steps if is_portal_label(step))
    english_copy = translator(lang)("In English:")
    found = {}
    for name, card in sample_cards(lang=lang).items():
        if not is_customer_card(name):
            continue
        english_section = {id(block) for node in dict_nodes(card)
                           if node.get("type") == "Action.ShowCard"
                           for i, block in enumerate(node["card"].get("body", []))
                           if any(b.get("text") == english_copy
                                  for b in node["card"]["body"][:i + 1])}
        shown = [str(node.get("text") or node.get("title") or "") for node in dict_nodes(card)
                 if id(node) not in english_section and node.get("type") in (
                     "TextBlock", "Action.Submit", "Action.ShowCard", "Action.ToggleVisibility")]
        # Microsoft's page titles (links) and the customer's own error (quoted) stay as they are.
        left = [text for text in shown if english_words_left(
            re.sub(r"\[[^\]]*\]\([^)]*\)|“[^”]*”|„[^”]*”|«[^»]*»", " ", text), labels)]
        if left:
            found[name] = left[:2]
    assert found == {}
