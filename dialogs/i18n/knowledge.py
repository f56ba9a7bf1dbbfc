"""The knowledge in the customer's language: its customer-facing fields, translated.

One walk over the knowledge (:func:`map_texts`) names every text a customer
reads — titles, summaries, why, steps, the recommended fix, click-path steps,
waiting times, the text for the IT provider, question prompts, labels, hints
and options, the assessment notes, the overview table, the notices and the
answers to typed questions (title, answer, the answers by kind of question,
the steps behind "Show the steps") — and
both the catalog extraction and :func:`localized` use it, so they cannot
disagree about what is translated.

What is not walked stays as it is in every language: ids, synonyms, keywords,
patterns, PowerShell, URLs, portal names, the titles of Microsoft's pages, and
click-path steps that are Microsoft's portal labels (``Users``, ``Manage email
apps``: :func:`is_portal_label`), which Microsoft does not publish in a form
we could check, so a translation would be invented.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType

from dialogs.i18n import SOURCE_LANG, translator
from dialogs.knowledge import (
    Answer,
    Cause,
    Check,
    ClickPath,
    Fix,
    HowToFindOut,
    Knowledge,
    Notice,
    Option,
    Question,
    Rule,
    SummaryRow,
    per_knowledge,
)

TextMap = Callable[[str, str], str]
"""(where, English text) -> the text to use instead."""

# A click-path step that explains, asks or instructs rather than naming a control:
# anything with a colon, quotes, a placeholder or a note in brackets, and the steps
# that begin with an instruction. Every other step is a label as Microsoft shows it.
_EXPLAINS = re.compile(r"[:'<>{}()=?]")
_INSTRUCTS = re.compile(
    r"^(?:Tick|Untick|Turn (?:on|off)|Enter|Sign in as|Copy|Paste|Name it|Select location"
    r"|Basic vs)\b")


def is_portal_label(step: str) -> bool:
    """True for a click-path step that is a Microsoft portal label ("Active users").

    Labels are kept verbatim in every language; the other steps are translated.
    """
    return _EXPLAINS.search(step) is None and _INSTRUCTS.match(step) is None


def map_texts(knowledge: Knowledge, change: TextMap) -> Knowledge:
    """Return ``knowledge`` with ``change`` applied to every customer-facing text.

    Args:
        knowledge: The (English) knowledge.
        change: Called with where a text is (``causes[mfa_required].why``) and the
            text; returns the text to use.

    Returns:
        A new knowledge object; everything not customer-facing is shared.
    """
    def question(item: Question) -> Question:
        here = f"questions.{item.id}"
        how: HowToFindOut = replace(
            item.how_to_find_out,
            text=change(f"{here}.how_to_find_out.text", item.how_to_find_out.text),
            click_paths=_steps(item.how_to_find_out.click_paths,
                               f"{here}.how_to_find_out.click_paths", change))
        options: tuple[Option, ...] = tuple(
            replace(option, title=change(f"{here}.options[{option.value}].title", option.title))
            for option in item.options)
        return replace(item, prompt=change(f"{here}.prompt", item.prompt),
                       label=change(f"{here}.label", item.label) if item.label else "",
                       help=change(f"{here}.help", item.help), options=options,
                       how_to_find_out=how)

    rules: tuple[Rule, ...] = tuple(
        replace(rule, note=change(f"assessment_rules[{i}].note", rule.note))
        for i, rule in enumerate(knowledge.assessment_rules))
    table: tuple[SummaryRow, ...] = tuple(
        replace(row, reason=change(f"summary_table[{i}].reason", row.reason),
                solution=change(f"summary_table[{i}].solution", row.solution))
        for i, row in enumerate(knowledge.summary_table))
    notices: dict[str, Notice] = {
        name: replace(notice, text=change(f"notices.{name}.text", notice.text))
        for name, notice in knowledge.notices.items()}
    return replace(
        knowledge, notices=MappingProxyType(notices),
        causes=tuple(map_cause(item, change) for item in knowledge.causes),
        questions=MappingProxyType({qid: question(item)
                                    for qid, item in knowledge.questions.items()}),
        assessment_rules=rules, summary_table=table,
        answers=MappingProxyType({topic: _answer(item, change)
                                  for topic, item in knowledge.answers.items()}))


def _answer(item: Answer, change: TextMap) -> Answer:
    """One answer to a typed question with ``change`` applied (its PowerShell stays)."""
    here = f"answers.{item.id}"
    return replace(
        item, title=change(f"{here}.title", item.title), text=change(f"{here}.answer", item.text),
        kinds=MappingProxyType({kind: change(f"{here}.kinds.{kind}", text)
                                for kind, text in item.kinds.items()}),
        steps=_texts(item.steps, f"{here}.steps", change))


def map_cause(item: Cause, change: TextMap) -> Cause:
    """One cause with ``change`` applied to its customer-facing texts (as :func:`map_texts`)."""
    here = f"causes[{item.id}]"
    recommended = item.fix.recommended
    if recommended is not None:
        recommended = replace(recommended,
                              text=change(f"{here}.fix.recommended.text", recommended.text))
    fix: Fix = replace(item.fix, steps=_texts(item.fix.steps, f"{here}.fix.steps", change),
                       click_paths=_steps(item.fix.click_paths, f"{here}.fix.click_paths", change),
                       recommended=recommended)
    check: Check = replace(item.check, click_paths=_steps(item.check.click_paths,
                                                          f"{here}.check.click_paths", change))
    return replace(
        item, title=change(f"{here}.title", item.title),
        summary=change(f"{here}.summary", item.summary),
        why=change(f"{here}.why", item.why), wait=change(f"{here}.wait", item.wait),
        forward_text=change(f"{here}.forward_text", item.forward_text),
        fix=fix, check=check)


def _steps(paths: tuple[ClickPath, ...], where: str, change: TextMap) -> tuple[ClickPath, ...]:
    return tuple(
        replace(path, steps=tuple(
            step if is_portal_label(step) else change(f"{where}[{i}].steps[{j}]", step)
            for j, step in enumerate(path.steps)))
        for i, path in enumerate(paths))


def _texts(values: tuple[str, ...], where: str, change: TextMap) -> tuple[str, ...]:
    return tuple(change(f"{where}[{i}]", value) for i, value in enumerate(values))


def customer_texts(knowledge: Knowledge) -> list[tuple[str, str]]:
    """Every customer-facing text of the knowledge as (where, English text), in file order."""
    found: list[tuple[str, str]] = []

    def note(where: str, text: str) -> str:
        found.append((where, text))
        return text

    map_texts(knowledge, note)
    return found


class _Localized:
    """The translated copies of one knowledge object, built once per language."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge
        self.by_lang: dict[str, Knowledge] = {SOURCE_LANG: knowledge}
        self.lock = threading.Lock()

    def get(self, lang: str) -> Knowledge:
        found = self.by_lang.get(lang)
        if found is None:
            tr = translator(lang)
            found = map_texts(self.knowledge, lambda _where, text: tr(text))
            with self.lock:
                found = self.by_lang.setdefault(tr.lang, found)
        return found


_localized_copies = per_knowledge(_Localized)


class _CauseCopies:
    """Translated copies of single causes, for callers that hold a cause, not the knowledge."""

    LIMIT = 512

    def __init__(self) -> None:
        self.copies: dict[tuple[int, str], tuple[Cause, Cause]] = {}
        self.lock = threading.Lock()

    def get(self, cause: Cause, lang: str) -> Cause:
        key = (id(cause), lang)
        entry = self.copies.get(key)
        if entry is not None and entry[0] is cause:
            return entry[1]
        tr = translator(lang)
        copy = map_cause(cause, lambda _where, text: tr(text))
        with self.lock:
            if len(self.copies) >= self.LIMIT:
                self.copies.clear()
            self.copies[key] = (cause, copy)  # keeps ``cause`` alive: its id stays its own
        return copy


@functools.cache
def _cause_copies() -> _CauseCopies:
    return _CauseCopies()


def localized_cause(cause: Cause, lang: str) -> Cause:
    """Return one cause with its customer-facing texts in ``lang`` (cached per cause object)."""
    code = translator(lang).lang
    if code == SOURCE_LANG:
        return cause
    return _cause_copies().get(cause, code)


def localized(knowledge: Knowledge, lang: str) -> Knowledge:
    """Return ``knowledge`` with its customer-facing texts in ``lang``.

    Built on the first call per knowledge object and language, then a dict
    lookup: cards call this on every turn.

    Args:
        knowledge: The English knowledge (as loaded).
        lang: A language code; anything unknown gets English.

    Returns:
        The translated knowledge; for English, ``knowledge`` itself.
    """
    if lang == SOURCE_LANG:
        return knowledge
    return _localized_copies(knowledge).get(translator(lang).lang)
