"""Adaptive Card 1.5 builders: every card the bot sends is built here, as plain dicts.

One builder per card, shared by every path that shows it: the guided flow,
the diagnosis, the live checks and the staff tools all insert the same fix
card (:func:`fix_card`). PowerShell goes in a Teams ``CodeBlock`` with a
monospace ``TextBlock`` fallback for clients without it; a typed identity only
reaches a PowerShell line through :func:`dialogs.powershell.render`, which
validates and single-quotes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dialogs import messages
from dialogs.knowledge import Answer, Cause, ClickPath, Knowledge
from dialogs.powershell import InvalidIdentity, render

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
    return _ANGLE_PLACEHOLDER.sub(r"‹\1›", value)


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


def submit(title: str, data: Mapping[str, Any], *, style: str | None = None) -> dict[str, Any]:
    """Return an Action.Submit whose data carries the ``msa`` verb the engine understands."""
    action: dict[str, Any] = {"type": "Action.Submit", "title": title, "data": dict(data)}
    if style:
        action["style"] = style
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


def click_path_blocks(paths: Iterable[ClickPath]) -> list[dict[str, Any]]:
    """Render admin-center click paths as 'Portal › Step › Step' lines with the portal link."""
    blocks = []
    for path in paths:
        trail = " › ".join(path.steps)
        blocks.append(text(f"**[{path.portal}]({path.url})** › {trail}", spacing="Small"))
    return blocks


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


def identity_of(facts: Mapping[str, Any]) -> str | None:
    """Return the customer's mailbox address from the answers, if given."""
    value = facts.get("answers", {}).get("mailbox")
    return value if isinstance(value, str) else None


def powershell_lines(templates: Sequence[str], identity: str | None) -> list[str]:
    """Fill PowerShell templates with the quoted identity, or a visible placeholder."""
    lines = []
    for template in templates:
        if "{identity}" in template:
            try:
                lines.append(render(template, identity) if identity else
                             template.replace("{identity}", IDENTITY_PLACEHOLDER))
            except InvalidIdentity:
                lines.append(template.replace("{identity}", IDENTITY_PLACEHOLDER))
        else:
            lines.append(template)
    return lines


def _nav_actions(*, back: bool = True) -> list[dict[str, Any]]:
    actions = []
    if back:
        actions.append(submit("Back", {"msa": "back"}))
    actions.append(submit("Start over", {"msa": "start_over"}))
    actions.append(submit("Talk to a person", {"msa": "person"}))
    return [dict(a, mode="secondary") for a in actions]


# ----- the cards --------------------------------------------------------------
def welcome_card(knowledge: Knowledge) -> Card:
    """The greeting on install: what the bot can do and how to start."""
    notice = knowledge.notice("basic_auth_retirement").text
    body = [
        text(messages.WELCOME_TITLE, weight="Bolder", size="Large"),
        text(messages.WELCOME_TEXT),
        {"type": "FactSet", "facts": [
            {"title": f"{i}.", "value": ability}
            for i, ability in enumerate(messages.WELCOME_ABILITIES, start=1)
        ]},
        text(f"⚠️ {notice}", color="Warning"),
        text(messages.NEVER_PASSWORD, subtle=True),
        text("Press **Start** to begin, or paste the error message you see.", subtle=True),
    ]
    return card(body, [submit("Start", {"msa": "start"}, style="positive"),
                       submit("Check my tenant", {"msa": "run_checks"}),
                       submit("Help", {"msa": "help"})])


def help_card(knowledge: Knowledge) -> Card:
    """The list of things the customer can say at any point."""
    body = [
        text(messages.HELP_TITLE, weight="Bolder", size="Medium"),
        {"type": "FactSet", "facts": [{"title": cmd, "value": what}
                                      for cmd, what in messages.HELP_COMMANDS]},
        text(messages.NEVER_PASSWORD, subtle=True),
    ]
    return card(body, [submit("Continue", {"msa": "continue"}),
                       submit("Why Authenticated SMTP may be missing", {"msa": "overview"}),
                       submit("Start over", {"msa": "start_over"}),
                       submit("Talk to a person", {"msa": "person"})])


def overview_card(knowledge: Knowledge) -> Card:
    """The source document's summary table, corrected: each reason, its solution, its fix."""
    body: list[dict[str, Any]] = [
        text("Why Authenticated SMTP may not work or not appear", weight="Bolder", size="Medium"),
    ]
    for row in knowledge.summary_table:
        body.append({"type": "Container", "separator": True, "items": [
            text(row.reason, weight="Bolder"),
            text(row.solution, spacing="Small"),
            {"type": "ActionSet", "actions": [
                submit("Show the fix", {"msa": "show_fix", "cause": row.cause})]},
        ]})
    body.append(text(f"⚠️ {knowledge.notice('basic_auth_retirement').text}", color="Warning"))
    return card(body, [submit("Start the guided check", {"msa": "continue"})])


def _progress(question: str) -> str:
    from dialogs.flow import QUESTIONS

    return f"Question {QUESTIONS.index(question) + 1} of {len(QUESTIONS)}"


def question_card(
    knowledge: Knowledge, question: str, facts: Mapping[str, Any], hint: str | None = None
) -> Card:
    """Ask one question of the guided flow, with a button per answer."""
    spec = knowledge.questions[question]
    body: list[dict[str, Any]] = []
    if hint:
        body.append(text(hint, color="Attention"))
    body.append(text(_progress(question), subtle=True, size="Small"))
    body.append(text(spec.prompt, weight="Bolder", size="Medium"))
    if question == "auth_method":
        body.append(text(f"⚠️ {knowledge.notice('basic_auth_retirement').text}",
                         color="Warning"))
    actions: list[dict[str, Any]] = []
    if question == "mailbox":
        body.append({"type": "Input.Text", "id": "mailbox", "style": "Email",
                     "placeholder": "tms@yourcompany.com", "label": "Sending mailbox address",
                     "isRequired": True, "errorMessage": "Type the full address",
                     "maxLength": 254})
        actions.append(submit("Next", {"msa": "answer", "question": "mailbox"}, style="positive"))
        actions.append(submit("I don't know", {"msa": "unsure", "question": "mailbox"}))
    else:
        for option in spec.options:
            verb = "unsure" if option.value == "unsure" else "answer"
            actions.append(submit(option.title, {"msa": verb, "question": question,
                                                 "value": option.value}))
    body.append(text("You can also type your answer.", subtle=True, size="Small"))
    return card(body, actions + _nav_actions(back=question != "mailbox"))


def how_to_find_out_card(knowledge: Knowledge, question: str, facts: Mapping[str, Any]) -> Card:
    """Explain where to look up the answer to a question, then offer the answers again."""
    spec = knowledge.questions[question]
    how = spec.how_to_find_out
    body: list[dict[str, Any]] = [
        text(f"How to find out: {spec.label}", weight="Bolder", size="Medium"),
        text(how.text),
        *click_path_blocks(how.click_paths),
    ]
    if how.powershell:
        body.append(heading("Or with PowerShell"))
        body.append(code_block(powershell_lines(how.powershell, identity_of(facts))))
    if question == "mailbox":
        body.append(text("When you know the address, type it here.", subtle=True))
        return card(body, _nav_actions(back=False))
    body.append(text("When you have looked it up, press the answer — or skip it for now.",
                     subtle=True))
    actions = [submit(o.title if o.value != "unsure" else "Skip for now",
                      {"msa": "answer", "question": question, "value": o.value})
               for o in spec.options]
    return card(body, actions + _nav_actions())


def fix_sections(cause: Cause, facts: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The body of a fix: why, how to check, what to change, PowerShell, waiting time."""
    identity = identity_of(facts)
    body: list[dict[str, Any]] = [text(cause.why)]
    if cause.check.click_paths or cause.check.powershell:
        body.append(heading("How to check"))
        body.extend(click_path_blocks(cause.check.click_paths))
        if cause.check.powershell:
            body.append(code_block(powershell_lines(cause.check.powershell, identity)))
    body.append(heading("How to fix"))
    body.extend(text(f"{i}. {step}", spacing="Small")
                for i, step in enumerate(cause.fix.steps, start=1))
    body.extend(click_path_blocks(cause.fix.click_paths))
    if cause.fix.powershell:
        body.append(text("PowerShell (run as an Exchange or Entra administrator):", subtle=True))
        body.append(code_block(powershell_lines(cause.fix.powershell, identity)))
    if cause.wait:
        body.append(text(f"⏱ {cause.wait}", subtle=True))
    if cause.links:
        body.append(text(" · ".join(f"[{link.title}]({link.url})" for link in cause.links),
                         size="Small", subtle=True))
    return body


def forward_action(cause: Cause, facts: Mapping[str, Any]) -> dict[str, Any]:
    """An Action.ShowCard holding the text to forward to the IT provider."""
    forward = cause.forward(identity_of(facts) or "our CLOUDEX TMS sending mailbox")
    return {"type": "Action.ShowCard", "title": "Text for your IT provider",
            "card": {"type": "AdaptiveCard",
                     "body": [text("Copy this and send it to whoever manages your Microsoft 365:",
                                   subtle=True),
                              text(forward)]}}


def fix_card(knowledge: Knowledge, cause_id: str, facts: Mapping[str, Any]) -> Card:
    """The fix card for one cause — the same card for customers and for staff."""
    cause = knowledge.cause(cause_id)
    body = [text(cause.title, weight="Bolder", size="Medium"), *fix_sections(cause, facts)]
    return card(body, [forward_action(cause, facts)])


def diagnosis_card(knowledge: Knowledge, facts: Mapping[str, Any], cause_id: str) -> Card:
    """A pasted error's most likely cause, its fix and "Did this solve it?"."""
    cause = knowledge.cause(cause_id)
    diagnosis = facts.get("diagnosis", {})
    body: list[dict[str, Any]] = [text("Diagnosis", subtle=True, size="Small"),
                                  text(cause.title, weight="Bolder", size="Medium")]
    evidence = diagnosis.get("evidence")
    if evidence and diagnosis.get("index", 0) == 0:
        body.append(text(f"Matched: `{evidence}`", subtle=True, size="Small"))
    body.extend(fix_sections(cause, facts))
    body.append(heading("Did this solve it?"))
    actions = [
        submit("Yes, it works", {"msa": "fix_worked", "cause": cause_id}, style="positive"),
        submit("No, still failing", {"msa": "fix_failed", "cause": cause_id}),
        forward_action(cause, facts),
    ]
    # "Back" leaves the diagnosis for the guided questions (or the summary, when all are answered).
    return card(body, actions + _nav_actions())


def fix_powershell_card(cause: Cause, facts: Mapping[str, Any]) -> Card:
    """Just the PowerShell of one cause's fix (to check, then to fix), for "what do I run?"."""
    identity = identity_of(facts)
    body: list[dict[str, Any]] = [text("PowerShell for", subtle=True, size="Small"),
                                  text(cause.title, weight="Bolder", size="Medium")]
    if cause.check.powershell:
        body.extend(code_section("To check", powershell_lines(cause.check.powershell, identity)))
    if cause.fix.powershell:
        body.extend(code_section("To fix (as an Exchange or Entra administrator)",
                                 powershell_lines(cause.fix.powershell, identity)))
    elif cause.fix.click_paths:
        body.append(text(messages.NO_FIX_POWERSHELL))
        body.extend(click_path_blocks(cause.fix.click_paths))
    else:
        body.append(text(messages.NO_FIX_POWERSHELL_STEPS))
    return card(body)


def question_answer_card(knowledge: Knowledge, found: Sequence[tuple[str, str]],
                         intro: str = messages.QUESTION_ANSWER_INTRO) -> Card:
    """The topics that answer a customer's typed question, each with its fix one press away.

    Args:
        knowledge: the knowledge base.
        found: (cause id, the sentence of it that best matches the question), best first.
        intro: the line above them (also used for an error code that has several causes).
    """
    body: list[dict[str, Any]] = [text(intro, subtle=True, size="Small")]
    body.extend(topic_item(cause_id, knowledge.cause(cause_id).title, preview, "Show the fix")
                for cause_id, preview in found)
    return card(body)


def follow_up_card(follow_up: Mapping[str, Any]) -> Card:
    """One short question that tells apart the causes an ambiguous error could have."""
    body = [text("One question to narrow it down", subtle=True, size="Small"),
            text(str(follow_up.get("question", "")), weight="Bolder")]
    actions = [submit(str(label), {"msa": "clarify", "cause": cause_id})
               for label, cause_id in follow_up.get("options", [])]
    actions.append(submit("I don't know", {"msa": "clarify", "cause": "unsure"}))
    return card(body, actions + _nav_actions(back=False))


def summary_card(knowledge: Knowledge, facts: Mapping[str, Any]) -> Card:
    """The end of the guided flow: what is fine, then what to change, in order.

    The changes are listed in the knowledge's fix order (licence and mailbox
    type, the organisation switch, the mailbox switch, security defaults,
    Conditional Access, MFA and Basic authentication, …), because that is the
    order an admin has to make them in; each is marked "Must fix" or
    "Recommended" and carries its click path, PowerShell and waiting time, with
    the full explanation one "Full steps" press away. Should the answers flag
    so many causes that the card would pass :data:`SUMMARY_MAX_BYTES`, the last
    changes are shortened to their title and note (their "Full steps" stays).
    """
    answers = facts.get("answers", {})
    order = {cause_id: n for n, cause_id in enumerate(knowledge.cause_ids)}
    findings = sorted(knowledge.findings(answers), key=lambda f: order[f.cause.id])
    detailed = len(findings)
    result = _summary(knowledge, facts, findings, detailed)
    while detailed > 0 and card_bytes(result) > SUMMARY_MAX_BYTES:
        detailed -= 1
        result = _summary(knowledge, facts, findings, detailed)
    return result


def card_bytes(value: Mapping[str, Any]) -> int:
    """Return the size of a card as Teams receives it (UTF-8 JSON)."""
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def _summary(
    knowledge: Knowledge, facts: Mapping[str, Any], findings: Sequence[Any], detailed: int
) -> Card:
    from dialogs.flow import QUESTIONS

    answers = facts.get("answers", {})
    body: list[dict[str, Any]] = [text("Your mail setup summary", weight="Bolder", size="Large")]
    mailbox = identity_of(facts)
    if mailbox:
        body.append(text(f"Sending mailbox: **{mailbox}**"))
    flagged = {condition.fact for f in findings
               for condition in knowledge.assessment_rules[f.rule_index].when}
    asked = [q for q in QUESTIONS if q != "mailbox" and isinstance(answers.get(q), str)]
    # "Not tested yet" is not a finding, but it is not "fine" either: it is still to do.
    open_values = {"unsure", "not_tested"}
    fine = [knowledge.questions[q] for q in asked
            if answers[q] not in open_values and q not in flagged]
    unknown = [knowledge.questions[q] for q in asked if answers[q] in open_values]
    if fine:
        body.append(heading("✅ Looks fine"))
        body.append({"type": "FactSet", "facts": [
            {"title": spec.label, "value": _option_title(spec, answers[spec.id])} for spec in fine]})
    if findings:
        body.append(heading("🔧 What to change, in this order"))
        for number, finding in enumerate(findings, start=1):
            body.append(_summary_item(number, finding, facts, detailed=number <= detailed))
    if unknown:
        body.append(heading("❔ Still to find out"))
        for spec in unknown:
            if answers[spec.id] == "not_tested":
                body.append(text(f"• {spec.label}: when the changes are made, send a test e-mail "
                                 "from CLOUDEX TMS; if it fails, paste the error here."))
            else:
                body.append(text(f"• {spec.label}: {spec.how_to_find_out.text}"))
    kind = answers.get("mailbox_type")
    if isinstance(kind, str) and kind not in {"user", "shared", "unsure"} and any(
            f.cause.id == "unsupported_mailbox_type" for f in findings):
        body.append(text("I stopped the questions here: the other settings do not matter "
                         "until CLOUDEX TMS uses a licensed user mailbox. When you have one, "
                         "press **Start over** and give me its address."))
    if not findings and not unknown:
        body.append(text("Nothing in your answers blocks SMTP AUTH. If sending still fails, "
                         "paste the exact error message here."))
    if answers.get("auth_method") in {"basic", "app_password", "unsure"}:
        body.append(text(f"⚠️ {knowledge.notice('basic_auth_retirement').text}",
                         color="Warning"))
    if findings:
        body.append(text("After the changes (and the waiting time), send a test e-mail from "
                         "CLOUDEX TMS. If it still fails, paste the error message here.",
                         subtle=True))
    actions = [submit("It works now", {"msa": "fix_worked"}, style="positive"),
               # Live checks read the real settings instead of relying on the answers.
               submit("Check my tenant", {"msa": "run_checks"})]
    if findings:
        actions.append(_summary_forward_action(findings, facts, detailed))
    return card(body, actions + _nav_actions())


def _summary_item(
    number: int, finding: Any, facts: Mapping[str, Any], *, detailed: bool
) -> dict[str, Any]:
    """One change in the summary: what, why, where to click, PowerShell, how long."""
    cause: Cause = finding.cause
    blocker = finding.severity == "blocker"
    items: list[dict[str, Any]] = [
        text(f"{number}. {cause.title}", weight="Bolder"),
        text("Must fix" if blocker else "Recommended", size="Small", weight="Bolder",
             color="Attention" if blocker else "Warning", spacing="None"),
        text(finding.note, subtle=True, spacing="Small"),
    ]
    if detailed:
        if cause.fix.click_paths:
            items.extend(click_path_blocks(cause.fix.click_paths))
        else:
            # No admin-center path (client settings such as port or TLS): the steps are the fix.
            items.extend(text(f"• {step}", spacing="Small") for step in cause.fix.steps)
        if cause.fix.powershell:
            items.append(code_block(powershell_lines(cause.fix.powershell, identity_of(facts))))
        if cause.wait:
            items.append(text(f"⏱ {cause.wait}", subtle=True, size="Small"))
    items.append({"type": "ActionSet", "actions": [
        submit("Full steps", {"msa": "show_fix", "cause": cause.id})]})
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def _summary_forward_action(
    findings: Sequence[Any], facts: Mapping[str, Any], detailed: int
) -> dict[str, Any]:
    mailbox = identity_of(facts) or "our CLOUDEX TMS sending mailbox"
    parts = []
    for number, finding in enumerate(findings, start=1):
        if number <= detailed:
            # Each cause's text is a whole message; inside this one, drop its greeting and thanks.
            request = finding.cause.forward(mailbox).removeprefix("Hello, ")
            parts.append(f"{number}. {request.removesuffix(' Thank you!').strip()}")
        else:
            parts.append(f"{number}. {finding.cause.title}.")
    return {"type": "Action.ShowCard", "title": "Text for your IT provider",
            "card": {"type": "AdaptiveCard", "body": [
                text("Copy this and send it to whoever manages your Microsoft 365:", subtle=True),
                text("Hello, CLOUDEX TMS sends our e-mail through Microsoft 365 (SMTP AUTH). "
                     "Please make these changes, in this order:"),
                *[text(p) for p in parts],
                text("Thank you!")]}}


def _option_title(spec: Any, value: str) -> str:
    return next((o.title for o in spec.options if o.value == value), value)


def handoff_requested_card(knowledge: Knowledge, facts: Mapping[str, Any]) -> Card:
    """Acknowledge a request for a person."""
    body = [text("A person from CLOUDEX support", weight="Bolder", size="Medium"),
            text(messages.HANDOFF_REQUESTED), text(messages.HANDOFF_RESUME_HINT, subtle=True)]
    return card(body, [submit("Continue with the bot", {"msa": "continue"})])


def resolved_card(knowledge: Knowledge, facts: Mapping[str, Any]) -> Card:
    """Close a solved conversation, with the Basic-auth heads-up when it applies."""
    body = [text(messages.FIX_WORKED, weight="Bolder", size="Medium")]
    if facts.get("answers", {}).get("auth_method") in {"basic", "app_password"}:
        # It works today with a password; say plainly that this has a date, and what to do.
        body.append(heading("⚠️ One thing to plan: move CLOUDEX TMS to OAuth"))
        body.append(text(knowledge.notice("basic_auth_retirement").text, color="Warning"))
        body.extend(fix_sections(knowledge.cause("basic_auth_disabled"), facts))
    body.append(text("Say \"start over\" to check another mailbox.", subtle=True))
    return card(body, [submit("Check another mailbox", {"msa": "start_over"})])


# ----- cards of the understanding layer (issue 17) --------------------------------------------
def answer_card(knowledge: Knowledge, answer: Answer, kind: str, facts: Mapping[str, Any]) -> Card:
    """One short answer to a typed question, with its steps one press away."""
    body = [text(answer.title, weight="Bolder"), text(answer.for_kind(kind))]
    steps: list[dict[str, Any]] = [text(f"{i}. {step}", spacing="Small")
                                   for i, step in enumerate(answer.steps, start=1)]
    if answer.powershell:
        steps.append(text("PowerShell (run as an Exchange administrator):", subtle=True))
        steps.append(code_block(powershell_lines(answer.powershell, identity_of(facts))))
    actions: list[dict[str, Any]] = [{"type": "Action.ShowCard", "title": messages.SHOW_THE_STEPS,
                                      "card": {"type": "AdaptiveCard", "body": steps}}]
    if answer.cause is not None and answer.cause in knowledge.cause_ids:
        actions.append(submit(messages.SHOW_THE_FIX, {"msa": "show_fix", "cause": answer.cause}))
    return card(body, actions)


def confirm_card(knowledge: Knowledge, fact: str, value: str) -> Card:
    """"Did you mean: MFA: No?" with Yes / No: a reading below the confidence bar."""
    spec = knowledge.questions[fact]
    title = next((option.title for option in spec.options if option.value == value), value)
    item = f"{spec.label}: {title}"
    data = {"msa": "confirm", "fact": fact, "value": value}
    return card([text(messages.CONFIRM_PROMPT.format(item=item), weight="Bolder")],
                [submit(messages.CONFIRM_YES, {**data, "answer": "yes"}, style="positive"),
                 submit(messages.CONFIRM_NO, {**data, "answer": "no"})])


def reask_card(lead: str, options: Sequence[tuple[str, Mapping[str, Any]]]) -> Card:
    """A short re-ask: one line and the two or three likely meanings as buttons."""
    return card([text(lead)], [submit(title, data) for title, data in options])
