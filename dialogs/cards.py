"""Adaptive Card 1.5 builders: every card the bot sends is built here, as plain dicts.

One builder per card, shared by every path that shows it: the guided flow,
the diagnosis, the live checks and the staff tools all insert the same fix
card (:func:`fix_card`). PowerShell goes in a Teams ``CodeBlock`` with a
monospace ``TextBlock`` fallback for clients without it; a typed identity only
reaches a PowerShell line through :func:`dialogs.powershell.render`, which
validates and single-quotes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dialogs import messages
from dialogs.knowledge import Cause, ClickPath, Knowledge
from dialogs.powershell import InvalidIdentity, render

Card = dict[str, Any]
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
# Shown in PowerShell lines when no mailbox is known yet (staff cards, early questions).
IDENTITY_PLACEHOLDER = "'<sending mailbox address>'"


# ----- small element helpers ------------------------------------------------
def text(
    value: str, *, weight: str | None = None, size: str | None = None, subtle: bool = False,
    color: str | None = None, spacing: str | None = None,
) -> dict[str, Any]:
    """Return a wrapping TextBlock."""
    block: dict[str, Any] = {"type": "TextBlock", "text": value, "wrap": True}
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
    return {
        "type": "CodeBlock",
        "codeSnippet": snippet,
        "language": "PowerShell",
        "startLineNumber": 1,
        "fallback": {"type": "TextBlock", "text": snippet, "fontType": "Monospace", "wrap": True},
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
                       submit("Start over", {"msa": "start_over"}),
                       submit("Talk to a person", {"msa": "person"})])


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
    return card(body, actions + _nav_actions(back=False))


def follow_up_card(follow_up: Mapping[str, Any]) -> Card:
    """One short question that tells apart the causes an ambiguous error could have."""
    body = [text("One question to narrow it down", subtle=True, size="Small"),
            text(str(follow_up.get("question", "")), weight="Bolder")]
    actions = [submit(str(label), {"msa": "clarify", "cause": cause_id})
               for label, cause_id in follow_up.get("options", [])]
    return card(body, actions + _nav_actions(back=False))


def summary_card(knowledge: Knowledge, facts: Mapping[str, Any]) -> Card:
    """The end of the guided flow: what is fine, then what to change, in order."""
    answers = facts.get("answers", {})
    findings = knowledge.findings(answers)
    body: list[dict[str, Any]] = [text("Your mail setup summary", weight="Bolder", size="Large")]
    mailbox = identity_of(facts)
    if mailbox:
        body.append(text(f"Sending mailbox: **{mailbox}**"))
    flagged = {condition.fact for f in findings
               for condition in knowledge.assessment_rules[f.rule_index].when}
    fine = [knowledge.questions[q] for q, v in answers.items()
            if q in knowledge.questions and q != "mailbox" and v != "unsure" and q not in flagged]
    if fine:
        body.append(heading("✅ Looks fine"))
        body.append({"type": "FactSet", "facts": [
            {"title": spec.label, "value": _option_title(spec, answers[spec.id])} for spec in fine]})
    unknown = [knowledge.questions[q] for q, v in answers.items()
               if q in knowledge.questions and v == "unsure"]
    if findings:
        body.append(heading("🔧 What to change, in this order"))
        for number, finding in enumerate(findings, start=1):
            cause = finding.cause
            marker = "Must fix" if finding.severity == "blocker" else "Recommended"
            body.append({"type": "Container", "separator": True, "items": [
                text(f"{number}. {cause.title} ({marker})", weight="Bolder"),
                text(finding.note, subtle=True),
                *fix_sections(cause, facts),
            ]})
    if unknown:
        body.append(heading("❔ Still to find out"))
        body.extend(text(f"• {spec.label}: {spec.how_to_find_out.text}") for spec in unknown)
    if not findings and not unknown:
        body.append(text("Nothing in your answers blocks SMTP AUTH. If sending still fails, "
                         "paste the exact error message here."))
    body.append(text(f"⚠️ {knowledge.notice('basic_auth_retirement').text}",
                     color="Warning"))
    actions = [submit("It works now", {"msa": "fix_worked"}, style="positive")]
    if findings:
        actions.append(_summary_forward_action(knowledge, findings, facts))
    return card(body, actions + _nav_actions())


def _summary_forward_action(
    knowledge: Knowledge, findings: Sequence[Any], facts: Mapping[str, Any]
) -> dict[str, Any]:
    mailbox = identity_of(facts) or "our CLOUDEX TMS sending mailbox"
    parts = [f"{i}. " + f.cause.forward(mailbox) for i, f in enumerate(findings, start=1)]
    return {"type": "Action.ShowCard", "title": "Text for your IT provider",
            "card": {"type": "AdaptiveCard", "body": [
                text("Copy this and send it to whoever manages your Microsoft 365:", subtle=True),
                text("Hello, CLOUDEX TMS sends our e-mail through Microsoft 365 (SMTP AUTH). "
                     "Please make these changes, in this order:"),
                *[text(p) for p in parts]]}}


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
        body.append(text(f"⚠️ {knowledge.notice('basic_auth_retirement').text}",
                         color="Warning"))
        body.extend(fix_sections(knowledge.cause("basic_auth_disabled"), facts))
    body.append(text("Say \"start over\" to check another mailbox.", subtle=True))
    return card(body, [submit("Check another mailbox", {"msa": "start_over"})])
