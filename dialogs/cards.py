"""Adaptive Card 1.5 builders: every card the bot sends is built here, as plain dicts.

One builder per card, shared by every path that shows it: the guided flow,
the diagnosis, the live checks and the staff tools all insert the same fix
card (:func:`fix_card`). PowerShell goes in a Teams ``CodeBlock`` with a
monospace ``TextBlock`` fallback for clients without it; a typed identity only
reaches a PowerShell line validated and single-quoted (:func:`powershell_lines`,
with :mod:`dialogs.powershell`).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dialogs import messages
from dialogs.assessment import Assessment, assess
from dialogs.i18n import LANGUAGE_NAMES, LANGUAGES, SOURCE_LANG, Translator, translator
from dialogs.i18n.knowledge import localized, localized_cause
from dialogs.knowledge import (
    MAILBOX_PLACEHOLDER,
    Answer,
    Cause,
    ClickPath,
    Finding,
    Knowledge,
    Question,
)
from dialogs.powershell import PLACEHOLDER as IDENTITY
from dialogs.powershell import InvalidIdentity, fill_identity, quote_literal, validate_identity
from dialogs.text import plain_text

Card = dict[str, Any]
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
# Shown in PowerShell lines when no mailbox is known yet (staff cards, early questions).
IDENTITY_PLACEHOLDER = "'<sending mailbox address>'"
# The summary stays well below the 28 KB Teams allows for a card (platform.md §4).
SUMMARY_MAX_BYTES = 24 * 1024


# "<the mailbox>" style placeholders: an HTML-looking pair Teams would drop.
_ANGLE_PLACEHOLDER = re.compile(r"<([^<>\n]{1,80})>")
# Teams shows at most six buttons in a row; later ones go to the "…" menu.
MAX_PRIMARY_ACTIONS = 6


def shown_text(value: str) -> str:
    """Make text safe for Teams' renderer: '<placeholder>' would be eaten as an HTML tag.

    Single guillemets read the same to a person ("‹mailbox›") and survive Teams'
    HTML sanitising, which silently drops anything between angle brackets.
    """
    if "<" not in value:  # most texts: no regular expression needed (cards hold dozens)
        return value
    # A function, not the template r"‹\1›": re expands a template in Python per call.
    return _ANGLE_PLACEHOLDER.sub(_in_guillemets, value)


def _in_guillemets(placeholder: re.Match[str]) -> str:
    return f"‹{placeholder[1]}›"


# ----- small element helpers ------------------------------------------------
def text(
    value: str, *, weight: str | None = None, size: str | None = None, subtle: bool = False,
    color: str | None = None, spacing: str | None = None,
) -> dict[str, Any]:
    """Return a wrapping TextBlock."""
    block: dict[str, Any] = {"type": "TextBlock", "text": shown_text(value), "wrap": True}
    if weight:
        block["weight"] = weight
    if size:
        block["size"] = size
    if subtle:
        block["isSubtle"] = True
    if color:
        block["color"] = color
    if spacing:
        block["spacing"] = spacing
    return block


def heading(value: str) -> dict[str, Any]:
    """Return a section heading."""
    return text(value, weight="Bolder", spacing="Medium")


def code_block(lines: Sequence[str]) -> dict[str, Any]:
    """Return a Teams CodeBlock for PowerShell, falling back to monospace text elsewhere."""
    snippet = "\n".join(lines)
    # Markdown joins single line breaks, so the fallback separates lines with a blank one.
    fallback = "\n\n".join(shown_text(line) for line in lines)
    return {
        "type": "CodeBlock",
        "codeSnippet": snippet,
        "language": "PowerShell",
        "startLineNumber": 1,
        "fallback": {"type": "TextBlock", "text": fallback, "fontType": "Monospace", "wrap": True},
    }


def _run(words: str, *, theirs: bool, size: str | None = None) -> dict[str, Any]:
    """One TextRun: someone else's words in monospace, ours subtle (TextRuns read no markdown)."""
    run: dict[str, Any] = {"type": "TextRun", "text": plain_text(words) if theirs else words}
    run["fontType" if theirs else "isSubtle"] = "Monospace" if theirs else True
    if size:
        run["size"] = size
    return run


def verbatim(value: str, *, label: str = "") -> dict[str, Any]:
    """Words the bot did not write (a pasted error), shown exactly as written, in monospace.

    A RichTextBlock's TextRuns never read markdown (unlike a TextBlock or a
    Fact), so ``**``, ``_`` or ``[x](y)`` in someone's text show as typed on
    every Teams client, with no escaping to get right. Control and format
    characters (bidi overrides, zero-width) are dropped.
    """
    inlines = [_run(label, theirs=False, size="Small")] if label else []
    inlines.append(_run(value, theirs=True, size="Small"))
    return {"type": "RichTextBlock", "inlines": inlines}


def quoted(template: str, field: str, value: str) -> dict[str, Any]:
    """A sentence of ours around someone else's words: ``template`` with ``{field}`` as ``value``.

    The sentence is subtle text; the words in it are shown as in ``verbatim``.
    """
    before, _, after = template.partition("{" + field + "}")
    runs = [_run(before, theirs=False), _run(value, theirs=True), _run(after, theirs=False)]
    return {"type": "RichTextBlock", "inlines": [run for run in runs if run["text"]]}


def submit(title: str, data: Mapping[str, Any], *, style: str | None = None,
           secondary: bool = False) -> dict[str, Any]:
    """Return an Action.Submit whose data carries the ``msa`` verb the engine understands.

    ``secondary`` puts the button in Teams' "…" menu instead of the row.
    """
    action: dict[str, Any] = {"type": "Action.Submit", "title": title, "data": dict(data)}
    if style:
        action["style"] = style
    if secondary:
        action["mode"] = "secondary"
    return action


def card(body: list[dict[str, Any]], actions: Iterable[dict[str, Any]] = ()) -> Card:
    """Wrap a body and actions in an Adaptive Card 1.5 envelope, full width in Teams."""
    result: Card = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": "1.5",
        "body": body,
        "msteams": {"width": "Full"},
    }
    action_list = list(actions)
    primary = [a for a in action_list if a.get("mode") != "secondary"]
    for extra in primary[MAX_PRIMARY_ACTIONS:]:
        # Say where they go rather than letting Teams squeeze the row.
        extra["mode"] = "secondary"
    if action_list:
        result["actions"] = action_list
    return result


def code_section(title: str, lines: Sequence[str], note: str = "") -> list[dict[str, Any]]:
    """A heading, an optional note and a PowerShell code block."""
    blocks = [heading(title)]
    if note:
        blocks.append(text(note, subtle=True, spacing="Small"))
    blocks.append(code_block(list(lines)))
    return blocks


def topic_item(cause_id: str, title: str, preview: str, button: str) -> dict[str, Any]:
    """One knowledge topic in a list: its title, a preview and a button showing its fix card."""
    items = [text(title, weight="Bolder")]
    if preview:
        items.append(text(preview, subtle=True, spacing="Small"))
    items.append({"type": "ActionSet",
                  "actions": [submit(button, {"msa": "show_fix", "cause": cause_id})]})
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


# ----- known values -------------------------------------------------------------
_APP_ID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class Known:
    """What the conversation knows that the knowledge's texts leave open.

    The knowledge writes ``{mailbox}`` (the address as it reads), ``{identity}``
    (the address as a PowerShell literal), ``{domain}`` (the tenant's domain) and
    ``{app_id}`` (the OAuth app's id) where they belong; :meth:`fill` puts the
    known value there, or a stand-in the customer can read. Only a validated
    address is ever used, quoted by :func:`dialogs.powershell.quote_literal`
    wherever it lands in PowerShell.
    """

    mailbox: str | None = None
    app_id: str | None = None

    @classmethod
    def from_facts(cls, facts: Mapping[str, Any]) -> Known:
        """Read the known values from a conversation's facts (invalid ones count as unknown)."""
        answers = facts.get("answers", {})
        raw = answers.get("mailbox") if isinstance(answers, Mapping) else None
        mailbox = None
        if isinstance(raw, str):
            try:
                mailbox = validate_identity(raw)
            except InvalidIdentity:
                mailbox = None
        app_id = facts.get("app_id")
        return cls(mailbox, app_id if isinstance(app_id, str) and _APP_ID.fullmatch(app_id)
                   else None)

    @property
    def domain(self) -> str | None:
        """The tenant's domain, as the mailbox address names it."""
        return self.mailbox.rpartition("@")[2] if self.mailbox else None

    def fill(self, value: str, tr: Translator, *, in_path: bool = False) -> str:
        """Put the known values into a customer text; unknown ones get a readable stand-in.

        Args:
            value: A knowledge text (already translated) that may name known values.
            tr: The conversation's translator, for the stand-ins.
            in_path: True for a click-path step, where a stand-in reads ‹like this›.

        In a sentence the mailbox's stand-in is a blank to fill in, ‹sending mailbox
        address›: the address it stands for reads right in any sentence of any
        language, where "the mailbox" would need another case ending in Latvian
        and Russian ("no ‹…›", "с ‹…›") than the one a translation can give it.
        """
        if "{" not in value:
            return value

        def stand_in(source: str) -> str:
            return f"‹{tr(source)}›" if in_path else tr(source)

        # Each value (a quoted literal, a translated stand-in) is made only when the
        # text names it; the replacements stay in this order.
        if IDENTITY in value:
            value = value.replace(IDENTITY, quote_literal(self.mailbox) if self.mailbox
                                  else IDENTITY_PLACEHOLDER)
        if MAILBOX_PLACEHOLDER in value:
            value = value.replace(MAILBOX_PLACEHOLDER, self.mailbox or (
                stand_in(messages.THE_MAILBOX) if in_path
                else f"‹{tr(messages.SENDING_MAILBOX_ADDRESS)}›"))
        if "{domain}" in value:
            value = value.replace("{domain}", self.domain or stand_in(messages.YOUR_DOMAIN))
        if "{app_id}" in value:
            value = value.replace("{app_id}", self.app_id or "<Application (client) ID>")
        return value


def identity_of(facts: Mapping[str, Any]) -> str | None:
    """Return the customer's mailbox address from the answers, if given."""
    value = facts.get("answers", {}).get("mailbox")
    return value if isinstance(value, str) else None


def powershell_lines(templates: Sequence[str], identity: str | None) -> list[str]:
    """Fill PowerShell templates with the quoted identity, or a visible placeholder.

    An identity that is not a valid address gets the placeholder too. It is
    validated and quoted once for all the lines that need it.
    """
    literal = None
    if identity and any(IDENTITY in template for template in templates):
        try:
            literal = quote_literal(validate_identity(identity))
        except InvalidIdentity:
            literal = IDENTITY_PLACEHOLDER
    lines = []
    for template in templates:
        if IDENTITY not in template:
            lines.append(template)
        elif literal is None:  # no identity given
            lines.append(template.replace(IDENTITY, IDENTITY_PLACEHOLDER))
        else:
            lines.append(fill_identity(template, literal))
    return lines


def click_path_blocks(
    paths: Iterable[ClickPath], known: Known | None = None, tr: Translator | None = None
) -> list[dict[str, Any]]:
    """Render admin-center click paths as 'Portal › Step › Step' lines with the portal link.

    With ``known``, the steps name the mailbox (and the other known values) instead
    of a placeholder.
    """
    known = known or Known()
    tr = tr or translator(SOURCE_LANG)
    blocks = []
    for path in paths:
        trail = " › ".join(known.fill(step, tr, in_path=True) for step in path.steps)
        blocks.append(text(f"**[{path.portal}]({path.url})** › {trail}", spacing="Small"))
    return blocks


def toggled(
    element_id: str, title: str, items: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A detail section hidden until its button is pressed: (the button, the section)."""
    button = {"type": "Action.ToggleVisibility", "title": title, "targetElements": [element_id]}
    section = {"type": "Container", "id": element_id, "isVisible": False, "items": items}
    return button, section


def details(sections: Sequence[tuple[str, str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """A row of "details" buttons and the hidden sections they show, in that order.

    Args:
        sections: (element id, button title, the section's elements); empty sections
            are left out.
    """
    pairs = [toggled(element_id, title, items) for element_id, title, items in sections if items]
    if not pairs:
        return []
    return [{"type": "ActionSet", "actions": [button for button, _ in pairs]},
            *(section for _, section in pairs)]


def _nav_actions(tr: Translator, *, back: bool = True) -> list[dict[str, Any]]:
    actions = [submit(tr(messages.BACK), {"msa": "back"}, secondary=True)] if back else []
    actions.append(submit(tr(messages.START_OVER), {"msa": "start_over"}, secondary=True))
    actions.append(submit(tr(messages.TALK_TO_A_PERSON), {"msa": "person"}, secondary=True))
    return actions


def language_action(lang: str) -> dict[str, Any]:
    """The "Language" button: the three languages, each named in itself, one press away."""
    tr = translator(lang)
    choices = [submit(("✓ " if code == tr.lang else "") + LANGUAGE_NAMES[code],
                      {"msa": "set_language", "lang": code}) for code in LANGUAGES]
    return {"type": "Action.ShowCard", "title": tr(messages.LANGUAGE),
            "card": {"type": "AdaptiveCard", "body": [], "actions": choices}}


def _notice_short(tr: Translator) -> dict[str, Any]:
    return text(tr(messages.BASIC_AUTH_SHORT), color="Warning", size="Small")


# ----- the cards --------------------------------------------------------------
def welcome_card(knowledge: Knowledge, *, lang: str = SOURCE_LANG,
                 live_checks: bool = False) -> Card:
    """The greeting on install: what the bot does, how to start, and the buttons.

    Args:
        knowledge: The knowledge base.
        lang: The conversation's language.
        live_checks: True when sign-in is configured, so "Check my tenant" works.
    """
    tr = translator(lang)
    abilities = [text(f"• {tr(ability)}", spacing="Small")
                 for ability in messages.WELCOME_ABILITIES]
    body = [
        text(tr(messages.WELCOME_TITLE), weight="Bolder", size="Large"),
        text(tr(messages.WELCOME_TEXT)),
        text(tr(messages.WELCOME_START)),
        _notice_short(tr),
        text(tr(messages.NEVER_PASSWORD), subtle=True, size="Small"),
        *details([("welcome-abilities", tr(messages.WHAT_I_CAN_DO), abilities)]),
    ]
    actions = [submit(tr(messages.START), {"msa": "start"}, style="positive")]
    if live_checks:
        actions.append(submit(tr(messages.CHECK_MY_TENANT), {"msa": "run_checks"}))
    actions += [submit(tr(messages.HELP), {"msa": "help"}), language_action(lang)]
    return card(body, actions)


def help_card(knowledge: Knowledge, *, lang: str = SOURCE_LANG, live_checks: bool = False) -> Card:
    """The list of things the customer can say at any point."""
    tr = translator(lang)
    commands = list(messages.HELP_COMMANDS)
    if live_checks:
        commands.insert(-2, messages.HELP_CHECK_TENANT)
    body = [
        text(tr(messages.HELP_TITLE), weight="Bolder", size="Medium"),
        {"type": "FactSet", "facts": [{"title": tr(cmd), "value": tr(what)}
                                      for cmd, what in commands]},
        text(tr(messages.NEVER_PASSWORD_LONG), subtle=True),
    ]
    return card(body, [submit(tr(messages.CONTINUE), {"msa": "continue"}),
                       submit(tr(messages.WHY_SMTP_MISSING), {"msa": "overview"}),
                       language_action(lang),
                       *_nav_actions(tr, back=False)])


def overview_card(knowledge: Knowledge, *, lang: str = SOURCE_LANG,
                  facts: Mapping[str, Any] | None = None) -> Card:
    """CLOUDEX's setup-guide table, corrected: each reason; a tap shows its solution and fix."""
    tr = translator(lang)
    local = localized(knowledge, lang)
    known = Known.from_facts(facts or {})
    body: list[dict[str, Any]] = [
        text(tr(messages.OVERVIEW_TITLE), weight="Bolder", size="Medium"),
        text(tr(messages.OVERVIEW_HINT), subtle=True, size="Small"),
    ]
    for number, row in enumerate(local.summary_table, start=1):
        element_id = f"overview-{number}"
        body.append({
            "type": "Container", "separator": True,
            "selectAction": {"type": "Action.ToggleVisibility", "title": row.reason,
                             "targetElements": [element_id]},
            "items": [
                text(f"▸ {row.reason}", weight="Bolder"),
                {"type": "Container", "id": element_id, "isVisible": False, "items": [
                    text(known.fill(row.solution, tr), spacing="Small"),
                    {"type": "ActionSet", "actions": [
                        submit(tr(messages.SHOW_THE_FIX),
                               {"msa": "show_fix", "cause": row.cause})]},
                ]},
            ]})
    body.append(_notice_short(tr))
    return card(body, [submit(tr(messages.START_GUIDED_CHECK), {"msa": "continue"})])


@functools.cache  # static text, asked on every question: made once per question and language
def _progress(question: str, lang: str) -> str:
    from dialogs.flow import QUESTIONS

    return translator(lang).format(messages.PROGRESS, number=QUESTIONS.index(question) + 1,
                                   total=len(QUESTIONS))


def question_card(
    knowledge: Knowledge, question: str, facts: Mapping[str, Any], hint: str | None = None,
    *, lang: str = SOURCE_LANG,
) -> Card:
    """Ask one question of the guided flow, with a button per answer.

    Args:
        knowledge: The knowledge base.
        question: The question id.
        facts: The conversation's facts.
        hint: A line above the question (already in the conversation's language).
        lang: The conversation's language.
    """
    tr = translator(lang)
    spec = localized(knowledge, lang).questions[question]
    body: list[dict[str, Any]] = []
    if hint:
        body.append(text(hint, color="Attention"))
    body.append(text(_progress(question, tr.lang), subtle=True, size="Small"))
    body.append(text(spec.prompt, weight="Bolder", size="Medium"))
    if question == "auth_method":
        body.append(_notice_short(tr))
    actions: list[dict[str, Any]] = []
    if question == "mailbox":
        body.append({"type": "Input.Text", "id": "mailbox", "style": "Email",
                     "placeholder": "tms@yourcompany.com",
                     "label": tr(messages.MAILBOX_INPUT_LABEL),
                     "isRequired": True, "errorMessage": tr(messages.MAILBOX_INPUT_ERROR),
                     "maxLength": 254})
        actions.append(submit(tr(messages.NEXT), {"msa": "answer", "question": "mailbox"},
                              style="positive"))
        actions.append(submit(tr(messages.I_DONT_KNOW), {"msa": "unsure", "question": "mailbox"}))
    else:
        for option in spec.options:
            verb = "unsure" if option.value == "unsure" else "answer"
            actions.append(submit(option.title, {"msa": verb, "question": question,
                                                 "value": option.value}))
    if not hint:  # a hint already says how to answer
        body.append(text(tr(messages.TYPE_YOUR_ANSWER), subtle=True, size="Small"))
    return card(body, actions + _nav_actions(tr, back=question != "mailbox"))


def how_to_find_out_card(knowledge: Knowledge, question: str, facts: Mapping[str, Any],
                         *, lang: str = SOURCE_LANG) -> Card:
    """Explain where to look up the answer to a question, then offer the answers again."""
    tr = translator(lang)
    spec = localized(knowledge, lang).questions[question]
    how = spec.how_to_find_out
    known = Known.from_facts(facts)
    first, *others = how.click_paths
    more: list[dict[str, Any]] = click_path_blocks(others, known, tr)
    if how.powershell:
        more.append(text(tr(messages.OR_WITH_POWERSHELL), weight="Bolder"))
        more.append(code_block(powershell_lines(how.powershell, known.mailbox)))
    body: list[dict[str, Any]] = [
        text(tr.format(messages.HOW_TO_FIND_OUT, label=spec.label), weight="Bolder",
             size="Medium"),
        text(known.fill(how.text, tr)),
        *click_path_blocks([first], known, tr),
        *details([(f"how-{question}-other", tr(messages.OTHER_WAYS), more)]),
    ]
    if question == "mailbox":
        body.append(text(tr(messages.TYPE_THE_ADDRESS), subtle=True))
        return card(body, _nav_actions(tr, back=False))
    body.append(text(tr(messages.PRESS_THE_ANSWER), subtle=True))
    actions = [submit(o.title if o.value != "unsure" else tr(messages.SKIP_FOR_NOW),
                      {"msa": "answer", "question": question, "value": o.value})
               for o in spec.options]
    return card(body, actions + _nav_actions(tr))


def recommended_fix(cause: Cause, known: Known, tr: Translator) -> list[dict[str, Any]]:
    """The one fix to make now: a line, its click path and/or PowerShell."""
    first = cause.fix.first
    body = [text(known.fill(first.text, tr), weight="Bolder")]
    if first.click_path is not None:
        body.extend(click_path_blocks([cause.fix.click_paths[first.click_path]], known, tr))
    if first.powershell:
        body.append(text(tr(messages.OR_IN_POWERSHELL) if first.click_path is not None
                         else tr(messages.POWERSHELL_AS_ADMIN), subtle=True, size="Small"))
        body.append(code_block(powershell_lines(first.powershell, known.mailbox)))
    return body


def fix_sections(cause: Cause, facts: Mapping[str, Any], *, lang: str = SOURCE_LANG,
                 evidence: str = "") -> list[dict[str, Any]]:
    """The body of a fix, short first: why in a sentence, the fix to make now, the wait.

    "Why this happens" (with the evidence from the customer's error), "How to
    check" and "Other ways" (every step, the other click paths, Microsoft's
    documentation) are one press away.

    Args:
        cause: The cause, as in the English knowledge (translated here).
        facts: The conversation's facts (for the mailbox address and other known values).
        lang: The conversation's language.
        evidence: What the customer's error said that points at this cause.
    """
    return _fix_sections(cause, Known.from_facts(facts), lang, evidence)


def _fix_sections(cause: Cause, known: Known, lang: str, evidence: str) -> list[dict[str, Any]]:
    """:func:`fix_sections` with the known values already read (a card reads them once)."""
    tr = translator(lang)
    cause = _localized_cause(cause, lang)
    first = cause.fix.first
    why = [text(cause.why)]
    if evidence:
        why.append(quoted(tr(messages.FROM_YOUR_ERROR), "evidence", short_evidence(evidence)))
    check = click_path_blocks(cause.check.click_paths, known, tr)
    if cause.check.powershell:
        check.append(code_block(powershell_lines(cause.check.powershell, known.mailbox)))
    other: list[dict[str, Any]] = [
        text(f"{i}. {known.fill(step, tr)}", spacing="Small")
        for i, step in enumerate(cause.fix.steps, start=1)]
    other.extend(click_path_blocks(
        [path for i, path in enumerate(cause.fix.click_paths) if i != first.click_path],
        known, tr))
    if cause.fix.powershell and cause.fix.powershell != first.powershell:
        other.append(text(tr(messages.POWERSHELL_AS_ADMIN), subtle=True, size="Small"))
        other.append(code_block(powershell_lines(cause.fix.powershell, known.mailbox)))
    if cause.links:
        other.append(text(" · ".join(f"[{link.title}]({link.url})" for link in cause.links),
                          size="Small", subtle=True, spacing="Medium"))
    body: list[dict[str, Any]] = [text(cause.summary), *recommended_fix(cause, known, tr)]
    if cause.wait:
        body.append(text(f"⏱ {cause.wait}", subtle=True, size="Small"))
    body.extend(details([
        (f"{cause.id}-why", tr(messages.WHY_THIS_HAPPENS), why),
        (f"{cause.id}-check", tr(messages.HOW_TO_CHECK), check),
        (f"{cause.id}-other", tr(messages.OTHER_WAYS), other),
    ]))
    return body


def short_evidence(evidence: str, limit: int = 70) -> str:
    """The part of an error the customer recognises: its start and end, "…" between."""
    evidence = " ".join(evidence.split())
    if len(evidence) <= limit:
        return evidence
    head = evidence[: limit // 2].rsplit(" ", 1)[0]
    tail = evidence[-(limit // 2):].split(" ", 1)[-1]
    return f"{head} … {tail}"


def _localized_cause(cause: Cause, lang: str) -> Cause:
    """The same cause in ``lang`` (callers hold the English cause object)."""
    return localized_cause(cause, lang)


def forward_texts(cause: Cause, facts: Mapping[str, Any], lang: str) -> list[str]:
    """The text for the IT provider: in the customer's language, then in English below it."""
    return _forward_texts(cause, Known.from_facts(facts), lang)


def _forward_texts(cause: Cause, known: Known, lang: str) -> list[str]:
    english = _forward_text(cause, known, SOURCE_LANG)
    if lang == SOURCE_LANG:
        return [english]
    return [_forward_text(cause, known, lang), translator(lang)(messages.IN_ENGLISH), english]


def _forward_text(cause: Cause, known: Known, lang: str) -> str:
    """The text for the IT provider in ``lang`` alone, the known values filled in."""
    return known.fill(_localized_cause(cause, lang).forward_text, translator(lang))


def _forward_card(tr: Translator, paragraphs: Sequence[str]) -> dict[str, Any]:
    body = [text(tr(messages.COPY_FOR_IT), subtle=True)]
    for paragraph in paragraphs:
        if paragraph == tr(messages.IN_ENGLISH) and tr.lang != SOURCE_LANG:
            body.append(text(paragraph, subtle=True, weight="Bolder", spacing="Large"))
        else:
            body.append(text(paragraph))
    return {"type": "Action.ShowCard", "title": tr(messages.TEXT_FOR_IT),
            "card": {"type": "AdaptiveCard", "body": body}}


def forward_action(cause: Cause, known: Known, *, lang: str = SOURCE_LANG) -> dict[str, Any]:
    """An Action.ShowCard holding the text to forward to the IT provider."""
    return _forward_card(translator(lang), _forward_texts(cause, known, lang))


def fix_card(knowledge: Knowledge, cause_id: str, facts: Mapping[str, Any], *,
             lang: str = SOURCE_LANG) -> Card:
    """The fix card for one cause — the same card for customers and for staff."""
    cause = knowledge.cause(cause_id)
    known = Known.from_facts(facts)
    title = localized(knowledge, lang).cause(cause_id).title
    body = [text(title, weight="Bolder", size="Medium"), *_fix_sections(cause, known, lang, "")]
    return card(body, [forward_action(cause, known, lang=lang)])


def diagnosis_card(knowledge: Knowledge, facts: Mapping[str, Any], cause_id: str, *,
                   lang: str = SOURCE_LANG) -> Card:
    """A pasted error's most likely cause, its fix and "Did this solve it?"."""
    tr = translator(lang)
    cause = knowledge.cause(cause_id)
    known = Known.from_facts(facts)
    diagnosis = facts.get("diagnosis", {})
    evidence = diagnosis.get("evidence") if diagnosis.get("index", 0) == 0 else ""
    body: list[dict[str, Any]] = [
        text(localized(knowledge, lang).cause(cause_id).title, weight="Bolder", size="Medium"),
        *_fix_sections(cause, known, lang, str(evidence or "")),
    ]
    actions = [
        submit(tr(messages.YES_IT_WORKS), {"msa": "fix_worked", "cause": cause_id},
               style="positive"),
        submit(tr(messages.NO_STILL_FAILING), {"msa": "fix_failed", "cause": cause_id}),
        forward_action(cause, known, lang=lang),
    ]
    # "Back" leaves the diagnosis for the guided questions (or the summary, when all are answered).
    return card(body, actions + _nav_actions(tr))


def fix_powershell_card(cause: Cause, facts: Mapping[str, Any], *,
                        lang: str = SOURCE_LANG) -> Card:
    """Just the PowerShell of one cause's fix (to check, then to fix), for "what do I run?"."""
    tr = translator(lang)
    local = _localized_cause(cause, lang)
    known = Known.from_facts(facts)
    body: list[dict[str, Any]] = [text(tr(messages.POWERSHELL_FOR), subtle=True, size="Small"),
                                  text(local.title, weight="Bolder", size="Medium")]
    if cause.check.powershell:
        body.extend(code_section(tr(messages.TO_CHECK),
                                 powershell_lines(cause.check.powershell, known.mailbox)))
    if cause.fix.powershell:
        body.extend(code_section(tr(messages.TO_FIX),
                                 powershell_lines(cause.fix.powershell, known.mailbox)))
    elif local.fix.click_paths:
        body.append(text(tr(messages.NO_FIX_POWERSHELL)))
        body.extend(click_path_blocks(local.fix.click_paths, known, tr))
    else:
        body.append(text(tr(messages.NO_FIX_POWERSHELL_STEPS)))
    return card(body)


def question_answer_card(knowledge: Knowledge, found: Sequence[tuple[str, str]],
                         intro: str = messages.QUESTION_ANSWER_INTRO, *,
                         lang: str = SOURCE_LANG) -> Card:
    """The topics that answer a customer's typed question, each with its fix one press away.

    Args:
        knowledge: the knowledge base.
        found: (cause id, the sentence of it that best matches the question), best first.
        intro: the line above them (also used for an error code that has several causes),
            as a :mod:`dialogs.messages` text.
        lang: The conversation's language.
    """
    tr = translator(lang)
    local = localized(knowledge, lang)
    body: list[dict[str, Any]] = [text(tr(intro), subtle=True, size="Small")]
    for cause_id, preview in found:
        cause = local.cause(cause_id)
        # The preview is a sentence of the English knowledge; in another language the
        # whole sentence is translated when the catalog has it, else the cause's summary.
        shown = tr(preview) if tr.knows(preview) else cause.summary
        body.append(topic_item(cause_id, cause.title, shown, tr(messages.SHOW_THE_FIX)))
    return card(body)


def follow_up_card(follow_up: Mapping[str, Any], *, lang: str = SOURCE_LANG,
                   knowledge: Knowledge | None = None) -> Card:
    """One short question that tells apart the causes an ambiguous error could have."""
    tr = translator(lang)
    local = localized(knowledge, lang) if knowledge is not None else None
    titles = {c.id: (c.title, local.cause(c.id).title) for c in knowledge.causes} \
        if knowledge is not None and local is not None else {}

    def label_of(label: str, cause_id: str) -> str:
        english, translated = titles.get(cause_id, ("", ""))
        return translated if label == english else tr(label)

    body = [text(tr(messages.NARROW_IT_DOWN), subtle=True, size="Small"),
            text(tr(str(follow_up.get("question", ""))), weight="Bolder")]
    actions = [submit(label_of(str(label), str(cause_id)), {"msa": "clarify", "cause": cause_id})
               for label, cause_id in follow_up.get("options", [])]
    actions.append(submit(tr(messages.I_DONT_KNOW), {"msa": "clarify", "cause": "unsure"}))
    return card(body, actions + _nav_actions(tr, back=False))


def summary_card(knowledge: Knowledge, facts: Mapping[str, Any], *, lang: str = SOURCE_LANG,
                 live_checks: bool = False) -> Card:
    """The end of the guided flow: what is fine, then what to change, in order.

    The changes are listed in the knowledge's fix order (licence and mailbox
    type, the organisation switch, the mailbox switch, security defaults,
    Conditional Access, MFA and Basic authentication, …), because that is the
    order an admin has to make them in; each is marked "Must fix" or
    "Recommended", and its note, recommended fix and waiting time are one
    "Details" press away, its full fix card one "Show the fix" press away.
    One :class:`dialogs.assessment.Assessment` decides what is fine, what to
    change and what is still to find out, so no answer is ever both fine and
    to change. Should the answers flag so many causes that the card would pass
    :data:`SUMMARY_MAX_BYTES`, the last changes lose their details (their fix
    card stays one press away).
    """
    answers = facts.get("answers", {})
    assessment = assess(knowledge, answers if isinstance(answers, Mapping) else {})
    known = Known.from_facts(facts)
    detailed = len(assessment.findings)
    result = _summary(knowledge, facts, known, assessment, detailed, lang, live_checks)
    while detailed > 0 and card_bytes(result) > SUMMARY_MAX_BYTES:
        detailed -= 1
        result = _summary(knowledge, facts, known, assessment, detailed, lang, live_checks)
    return result


# The size check's encoder, made once (json.dumps with options builds one per call); a
# card is a tree of fresh dicts and lists, so the check for reference cycles is skipped.
_CARD_JSON = json.JSONEncoder(ensure_ascii=False, check_circular=False)


def card_bytes(value: Mapping[str, Any]) -> int:
    """Return the size of a card as Teams receives it (UTF-8 JSON)."""
    return len(_CARD_JSON.encode(value).encode("utf-8"))


def _summary(
    knowledge: Knowledge, facts: Mapping[str, Any], known: Known, assessment: Assessment,
    detailed: int, lang: str, live_checks: bool,
) -> Card:
    tr = translator(lang)
    local = localized(knowledge, lang)
    answers = facts.get("answers", {})
    body: list[dict[str, Any]] = [text(tr(messages.SUMMARY_TITLE), weight="Bolder", size="Large")]
    if known.mailbox:
        body.append(text(tr.format(messages.SENDING_MAILBOX, mailbox=known.mailbox)))
    if assessment.fine:
        body.append(heading(tr(messages.LOOKS_FINE)))
        body.append({"type": "FactSet", "facts": [
            {"title": local.questions[q].label,
             "value": _option_title(local.questions[q], answers[q])}
            for q in assessment.fine]})
    findings = assessment.findings
    if findings:
        body.append(heading(tr(messages.WHAT_TO_CHANGE)))
        for number, finding in enumerate(findings, start=1):
            body.append(_summary_item(number, finding, local, known, tr,
                                      detailed=number <= detailed))
    if assessment.unknown:
        body.append(heading(tr(messages.STILL_TO_FIND_OUT)))
        for question in assessment.unknown:
            spec = local.questions[question]
            how = (tr(messages.NOT_TESTED_YET) if answers[question] == "not_tested"
                   else known.fill(spec.how_to_find_out.text, tr))
            element_id = f"unknown-{question}"
            body.append({"type": "Container", "spacing": "Small",
                         "selectAction": {"type": "Action.ToggleVisibility",
                                          "title": spec.label, "targetElements": [element_id]},
                         "items": [text(f"▸ {spec.label}"),
                                   {"type": "Container", "id": element_id, "isVisible": False,
                                    "items": [text(how, subtle=True, spacing="Small")]}]})
    kind = answers.get("mailbox_type")
    if isinstance(kind, str) and kind not in {"user", "shared", "unsure"} and any(
            f.cause.id == "unsupported_mailbox_type" for f in findings):
        body.append(text(tr(messages.QUESTIONS_STOPPED)))
    if not findings and not assessment.unknown:
        body.append(text(tr(messages.NOTHING_BLOCKS)))
    if answers.get("auth_method") in {"basic", "app_password", "unsure"}:
        body.append(_notice_short(tr))
    if findings:
        body.append(text(tr(messages.AFTER_THE_CHANGES), subtle=True))
    actions = [submit(tr(messages.IT_WORKS_NOW), {"msa": "fix_worked"}, style="positive")]
    if live_checks:
        # Live checks read the real settings instead of relying on the answers.
        actions.append(submit(tr(messages.CHECK_MY_TENANT), {"msa": "run_checks"}))
    if findings:
        actions.append(_summary_forward_action(findings, known, detailed, lang))
    return card(body, actions + _nav_actions(tr))


def _summary_item(
    number: int, finding: Finding, local: Knowledge, known: Known, tr: Translator, *,
    detailed: bool,
) -> dict[str, Any]:
    """One change in the summary: what and how urgent; why, where and how long one press away."""
    cause = local.cause(finding.cause.id)
    blocker = finding.severity == "blocker"
    note = local.assessment_rules[finding.rule_index].note
    element_id = f"change-{number}"
    more: list[dict[str, Any]] = [text(note, subtle=True, spacing="Small")]
    if detailed:
        more.extend(recommended_fix(cause, known, tr))
        if cause.wait:
            more.append(text(f"⏱ {cause.wait}", subtle=True, size="Small"))
    button, section = toggled(element_id, tr(messages.DETAILS), more)
    items: list[dict[str, Any]] = [
        text(f"{number}. {cause.title}", weight="Bolder"),
        text(tr(messages.MUST_FIX if blocker else messages.RECOMMENDED), size="Small",
             weight="Bolder", color="Attention" if blocker else "Warning", spacing="None"),
        {"type": "ActionSet", "actions": [
            button, submit(tr(messages.SHOW_THE_FIX), {"msa": "show_fix", "cause": cause.id})]},
        section,
    ]
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def _summary_forward_action(
    findings: Sequence[Finding], known: Known, detailed: int, lang: str
) -> dict[str, Any]:
    tr = translator(lang)

    def request(in_lang: str) -> list[str]:
        tr_here = translator(in_lang)
        blank = f"‹{tr_here(messages.SENDING_MAILBOX_ADDRESS)}›"
        mailbox = known.mailbox or blank
        parts = [tr_here.format(messages.FORWARD_HELLO, mailbox=mailbox)]
        for number, finding in enumerate(findings, start=1):
            if number <= detailed:
                # Each cause's text is a whole message; inside this one, drop its greeting
                # and thanks (the first and last sentence).
                whole = _forward_text(finding.cause, known, in_lang)
                parts.append(f"{number}. {_middle(whole)}")
            else:
                title = localized_title(finding.cause, in_lang)
                parts.append(f"{number}. {title}.")
        parts.append(tr_here(messages.FORWARD_THANKS))
        return parts

    paragraphs = request(lang)
    if lang != SOURCE_LANG:
        paragraphs += [tr(messages.IN_ENGLISH), *request(SOURCE_LANG)]
    return _forward_card(tr, paragraphs)


def localized_title(cause: Cause, lang: str) -> str:
    """A cause's title in ``lang``."""
    return _localized_cause(cause, lang).title


_FIRST_SENTENCE = re.compile(r"^[^.!?]*?[,!]\s+")


def _without_closing(text: str) -> str:
    """``text`` without a closing exclamation ("… again. Thank you!"): the sentence after the
    last ``.``, ``!`` or ``?`` before the final ``!``.

    Found from the end: as a pattern (``\\s*[^.!?]*!\\s*$``) it was tried from every
    position of the text, the slowest step of a summary card.
    """
    body = text.rstrip()
    if not body.endswith("!"):
        return text
    body = body[:-1]
    return body[:max(body.rfind("."), body.rfind("!"), body.rfind("?")) + 1]


def _middle(forward: str) -> str:
    """A forward text without its greeting ("Hello," …) and closing thanks ("Thank you!")."""
    return _without_closing(_FIRST_SENTENCE.sub("", forward, count=1)).strip()


def _option_title(spec: Question, value: str) -> str:
    return next((o.title for o in spec.options if o.value == value), value)


HANDOFF_STATUS = "handoff-status"
"""The element of the request card that says where the request stands."""


def handoff_requested_card(knowledge: Knowledge, facts: Mapping[str, Any], *,
                           lang: str = SOURCE_LANG, status: Sequence[str] = ()) -> Card:
    """Acknowledge a request for a person: where it stands, and that the bot is still here.

    Args:
        knowledge: The knowledge base.
        facts: The conversation's facts.
        lang: The conversation's language.
        status: What the handoff says about the request (asked, the place in the queue, the
            support hours), already in ``lang``; without it, the flow's own acknowledgement.
    """
    tr = translator(lang)
    said = list(status) or [tr(messages.HANDOFF_REQUESTED)]
    body = [text(tr(messages.HANDOFF_TITLE), weight="Bolder", size="Medium"),
            {"type": "Container", "id": HANDOFF_STATUS, "items": [text(line) for line in said]},
            text(tr(messages.HANDOFF_RESUME_HINT), subtle=True)]
    return card(body, [submit(tr(messages.CONTINUE_WITH_BOT), {"msa": "continue"})])


def with_handoff_status(shown: Card, status: Sequence[str]) -> Card | None:
    """The request card ``shown`` saying ``status`` where it said its own acknowledgement.

    Returns:
        A new card; None when ``shown`` is not the request card or ``status`` is empty.
    """
    body = shown.get("body")
    if not status or not isinstance(body, list):
        return None
    for i, element in enumerate(body):
        if isinstance(element, dict) and element.get("id") == HANDOFF_STATUS:
            new_body = [*body[:i], {**element, "items": [text(line) for line in status]},
                        *body[i + 1:]]
            return {**shown, "body": new_body}
    return None


def resolved_card(knowledge: Knowledge, facts: Mapping[str, Any], *,
                  lang: str = SOURCE_LANG) -> Card:
    """Close a solved conversation, with the Basic-auth heads-up when it applies."""
    tr = translator(lang)
    body = [text(tr(messages.FIX_WORKED), weight="Bolder", size="Medium")]
    if facts.get("answers", {}).get("auth_method") in {"basic", "app_password"}:
        # It works today with a password; say plainly that this has a date, and what to do.
        body.append(heading(tr(messages.PLAN_OAUTH)))
        body.append(_notice_short(tr))
        body.extend(fix_sections(knowledge.cause("basic_auth_disabled"), facts, lang=lang))
    body.append(text(tr(messages.SAY_START_OVER), subtle=True))
    return card(body, [submit(tr(messages.CHECK_ANOTHER_MAILBOX), {"msa": "start_over"})])


def noted_text(knowledge: Knowledge, learned: Mapping[str, str], *,
               lang: str = SOURCE_LANG) -> str:
    """Say which volunteered facts were taken down, so the customer can correct them."""
    tr = translator(lang)
    local = localized(knowledge, lang)
    parts = []
    for question, value in learned.items():
        spec = local.questions[question]
        parts.append(f"{spec.label}: {_option_title(spec, value)}")
    return tr.format(messages.NOTED, facts="; ".join(parts))


# ----- cards of the understanding layer (issue 17) --------------------------------------------
def answer_card(knowledge: Knowledge, answer: Answer, kind: str, facts: Mapping[str, Any], *,
                lang: str = SOURCE_LANG) -> Card:
    """One short answer to a typed question, with its steps one press away.

    Args:
        knowledge: The knowledge base.
        answer: The answer, as in the English knowledge (translated here).
        kind: The kind of question ("where", "is_safe", …): its own answer when it has one.
        facts: The conversation's facts (the mailbox for the PowerShell).
        lang: The conversation's language.
    """
    tr = translator(lang)
    answer = localized(knowledge, lang).answers.get(answer.id, answer)
    body = [text(answer.title, weight="Bolder"), text(answer.for_kind(kind))]
    steps: list[dict[str, Any]] = [text(f"{i}. {step}", spacing="Small")
                                   for i, step in enumerate(answer.steps, start=1)]
    if answer.powershell:
        steps.append(text(tr(messages.POWERSHELL_AS_ADMIN), subtle=True))
        steps.append(code_block(powershell_lines(answer.powershell, identity_of(facts))))
    actions: list[dict[str, Any]] = [{"type": "Action.ShowCard",
                                      "title": tr(messages.SHOW_THE_STEPS),
                                      "card": {"type": "AdaptiveCard", "body": steps}}]
    if answer.cause is not None and answer.cause in knowledge.cause_ids:
        actions.append(submit(tr(messages.SHOW_THE_FIX),
                              {"msa": "show_fix", "cause": answer.cause}))
    return card(body, actions)


def confirm_card(knowledge: Knowledge, fact: str, value: str, *, lang: str = SOURCE_LANG) -> Card:
    """"Did you mean: MFA: No?" with Yes / No: a reading below the confidence bar."""
    tr = translator(lang)
    spec = localized(knowledge, lang).questions[fact]
    item = f"{spec.label}: {_option_title(spec, value)}"
    data = {"msa": "confirm", "fact": fact, "value": value}
    return card([text(tr.format(messages.CONFIRM_PROMPT, item=item), weight="Bolder")],
                [submit(tr(messages.CONFIRM_YES), {**data, "answer": "yes"}, style="positive"),
                 submit(tr(messages.CONFIRM_NO), {**data, "answer": "no"})])


def reask_card(lead: str, options: Sequence[tuple[str, Mapping[str, Any]]]) -> Card:
    """A short re-ask: one line and the two or three likely meanings as buttons (texts given)."""
    return card([text(lead)], [submit(title, data) for title, data in options])
