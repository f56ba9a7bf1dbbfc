"""Cards and sentences of the human handoff: the support-thread card, the queue, the feedback.

Pure domain, like :mod:`dialogs.cards`: builders return Adaptive Card 1.5
dicts and plain strings, and know nothing about Teams' wire format. A ticket
reaches these builders as a plain mapping (``id``, ``status``,
``customer_name``, ``tenant_id``, ``summary``, ``created_at``, ``agent_name``
…), so the store's types stay in ``bot/``.

The thread card shows one ticket in one of three states — waiting (with
"Take over"), taken (with "End and hand back") and closed — and carries a
``refresh`` action, so every agent looking at the channel sees the current
state, not the one it was posted with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from dialogs.cards import Card, card, heading, submit, text, verbatim
from dialogs.handoff.phrases import ToCustomer, inert, name_of
from dialogs.i18n import LANGUAGE_NAMES_EN, SOURCE_LANG, language, translator
from dialogs.knowledge import Knowledge

# Action.Execute verbs of the thread card (and the data ``msa`` of the customer's buttons).
VERB_TAKE_OVER = "handoff_take_over"
VERB_END = "handoff_end"
VERB_REFRESH = "handoff_refresh"
VERB_SOLVED = "handoff_solved"
VERB_RATING = "handoff_rating"
VERB_TAKE_FROM = "handoff_take_from"

MAX_MESSAGES = 5
MAX_TEXT = 300
MAX_CHECKS = 10

REASONS = {
    "person_requested": "Asked to talk to a person",
    "dead_end": "The mailbox type cannot send with SMTP AUTH (the guided flow ends here)",
    "fixes_failed": "Said twice that a proposed fix did not help",
    "checks": "Live checks found something only an administrator can change",
}

# ----- what the ticket stores -------------------------------------------------------
def clip(value: str, limit: int = MAX_TEXT) -> str:
    """Shorten ``value`` to ``limit`` characters, marking the cut."""
    value = " ".join(str(value).split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def company_of(mailbox: str | None) -> str:
    """Return the domain of the customer's mailbox (their company, as far as we know)."""
    if mailbox and "@" in mailbox:
        return mailbox.rsplit("@", 1)[1].lower()
    return ""


def ticket_summary(
    knowledge: Knowledge,
    facts: Mapping[str, Any],
    reason: str,
    *,
    checks: Sequence[Mapping[str, Any]] = (),
    last_messages: Sequence[Mapping[str, Any]] = (),
    detail: str = "",
    lang: str = SOURCE_LANG,
) -> dict[str, Any]:
    """Condense a conversation into what an agent needs to take over without asking again.

    Args:
        knowledge: The knowledge base (question labels, cause titles).
        facts: The flow's facts (answers, diagnosis, failed fixes).
        reason: Why the bot escalated: a key of ``REASONS`` or free text.
        checks: Live-check results as dicts (``title``, ``status``, ``evidence``).
        last_messages: The customer's last messages (``who``, ``text``, ``at``).
        detail: Extra words from the caller (e.g. which check needs an admin).
        lang: The customer's conversation language: the agent sees it named, and what the
            bot tells the customer about the ticket later (joined, handed back, the
            timeout) is said in it.

    Returns:
        Plain JSON for ``Ticket.summary``.
    """
    answers = facts.get("answers", {}) if isinstance(facts.get("answers"), Mapping) else {}
    answered: list[list[str]] = []
    for question, value in answers.items():
        spec = knowledge.questions.get(question)
        if spec is None or question == "mailbox":
            continue
        title = next((o.title for o in spec.options if o.value == value), str(value))
        answered.append([spec.label or question, title])
    diagnosis: dict[str, Any] | None = None
    raw = facts.get("diagnosis")
    if isinstance(raw, Mapping) and raw.get("candidates"):
        candidates = list(raw["candidates"])
        index = int(raw.get("index", 0))
        cause_id = candidates[index] if 0 <= index < len(candidates) else candidates[0]
        title = knowledge.cause(cause_id).title if cause_id in knowledge.cause_ids else cause_id
        diagnosis = {"cause": cause_id, "title": title,
                     "evidence": clip(str(raw.get("evidence", "")))}
    failing = [c for c in checks if str(c.get("status")) in {"fail", "warn"}]
    last_error = diagnosis["evidence"] if diagnosis and diagnosis["evidence"] else ""
    if not last_error and failing:
        last_error = clip(f"{failing[0].get('title', '')}: {failing[0].get('evidence', '')}")
    mailbox = answers.get("mailbox") if isinstance(answers.get("mailbox"), str) else None
    return {
        "lang": language(lang),
        "reason": reason,
        "reason_text": REASONS.get(reason, reason) + (f": {clip(detail, 200)}" if detail else ""),
        "mailbox": mailbox or "",
        "company": company_of(mailbox),
        "answers": answered,
        "diagnosis": diagnosis,
        "last_error": last_error,
        "failed_fixes": int(facts.get("failed_fixes", 0) or 0),
        "checks": [
            {"title": clip(str(c.get("title", c.get("check_id", ""))), 80),
             "status": str(c.get("status", "")), "evidence": clip(str(c.get("evidence", "")), 200)}
            for c in list(checks)[:MAX_CHECKS]
        ],
        "last_messages": [
            {"who": clip(str(m.get("who", "")), 60), "text": clip(str(m.get("text", ""))),
             "at": str(m.get("at", ""))}
            for m in list(last_messages)[-MAX_MESSAGES:]
        ],
    }


def customer_language(summary: Mapping[str, Any]) -> str:
    """The customer's conversation language kept on a ticket (English for older tickets)."""
    return language(summary.get("lang"))


def language_name(summary: Mapping[str, Any]) -> str:
    """The customer's language, named in English for the agents ("Latvian")."""
    return LANGUAGE_NAMES_EN[customer_language(summary)]


# ----- the support thread ----------------------------------------------------------
def _clock(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return str(value or "")


def _execute(title: str, verb: str, ticket_id: str, *, style: str | None = None) -> dict[str, Any]:
    """An Action.Execute with an Action.Submit fallback for clients without Universal Actions."""
    data = {"msa": verb, "ticket": ticket_id}
    action: dict[str, Any] = {"type": "Action.Execute", "title": title, "verb": verb,
                              "data": data, "fallback": submit(title, data)}
    if style:
        action["style"] = style
    return action


_CHECK_MARKS = {"pass": "✅", "fail": "❌", "warn": "⚠️", "unknown": "❔", "skipped": "⏭"}


def thread_card(ticket: Mapping[str, Any], *, note: str | None = None) -> Card:
    """The handoff card in the support channel thread, in the ticket's current state.

    Args:
        ticket: The ticket as a mapping (see the module docstring).
        note: A line for the agent who pressed a button, e.g. "already taken by Dana".

    Returns:
        The card; waiting tickets offer "Take over", taken ones "End and hand back".
    """
    summary: Mapping[str, Any] = ticket.get("summary") or {}
    ticket_id = str(ticket["id"])
    status = str(ticket.get("status", "waiting"))
    # Whatever the customer (or their tenant) chose to be called or typed is shown inert.
    who = name_of(str(ticket.get("customer_name") or ""), "A customer")
    body: list[dict[str, Any]] = []
    if note:
        body.append(text(note, color="Attention", weight="Bolder"))
    if status == "waiting":
        body.append(text(f"🙋 {who} needs a person", weight="Bolder", size="Large"))
        body.append(text("Waiting — nobody has taken this yet.", color="Warning"))
    elif status == "taken":
        agent = name_of(str(ticket.get("agent_name") or ""), "an agent")
        body.append(text(f"🧑‍💼 {who} is talking to {agent}", weight="Bolder", size="Large"))
        body.append(text(f"Taken by **{agent}** at "
                         f"{_clock(ticket.get('taken_at'))}. Messages in this thread from them "
                         "go to the customer; type `done` to hand back.", color="Good"))
    else:
        body.append(text(f"✔️ Handoff for {who} ended", weight="Bolder", size="Large"))
        closer = ticket.get("agent_name")
        body.append(text(f"Closed at {_clock(ticket.get('closed_at'))}"
                         + (f" by {name_of(str(closer), 'an agent')}" if closer else "") + ".",
                         subtle=True))
    facts = [{"title": "Customer", "value": who},
             {"title": "Customer's language", "value": language_name(summary)}]
    company = str(summary.get("company") or "")
    tenant = str(ticket.get("tenant_id") or "")
    if company or tenant:
        parts = (inert(company), tenant and f"tenant {inert(tenant)}")
        facts.append({"title": "Company / tenant", "value": " · ".join(p for p in parts if p)})
    if summary.get("mailbox"):
        facts.append({"title": "Mailbox", "value": inert(str(summary["mailbox"]))})
    facts.append({"title": "Why",
                  "value": inert(str(summary.get("reason_text") or "Asked for a person"))})
    facts.append({"title": "Since", "value": _clock(ticket.get("created_at"))})
    facts.append({"title": "Ticket", "value": ticket_id})
    body.append({"type": "FactSet", "facts": facts})
    if summary.get("last_error"):
        # The customer's own paste: shown exactly as written, never as markdown.
        body.append(heading("Last error"))
        body.append(verbatim(str(summary["last_error"])))
    diagnosis = summary.get("diagnosis")
    if isinstance(diagnosis, Mapping):
        body.append(heading("Diagnosis"))
        body.append(text(f"{diagnosis.get('title', '')} (`{diagnosis.get('cause', '')}`)"))
    if summary.get("failed_fixes"):
        body.append(text(f"Fixes the customer said did not help: {summary['failed_fixes']}",
                         subtle=True))
    answers = summary.get("answers") or []
    if answers:
        body.append(heading("Answers so far"))
        body.append({"type": "FactSet",
                     "facts": [{"title": inert(str(label)), "value": inert(str(value))}
                               for label, value in answers]})
    checks = summary.get("checks") or []
    if checks:
        body.append(heading("Check results"))
        body.extend(text(f"{_CHECK_MARKS.get(c.get('status', ''), '•')} "
                         f"**{inert(str(c.get('title', '')))}** — "
                         f"{inert(str(c.get('evidence', '')))}", spacing="Small") for c in checks)
    messages_ = summary.get("last_messages") or []
    if messages_:
        body.append(heading("Last messages"))
        body.extend(text(f"**{name_of(str(m.get('who', '')), 'Customer')}:** "
                         f"{inert(str(m.get('text', '')))}", spacing="Small") for m in messages_)
    actions: list[dict[str, Any]] = []
    if status == "waiting":
        actions.append(_execute("Take over", VERB_TAKE_OVER, ticket_id, style="positive"))
    elif status == "taken":
        actions.append(_execute("End and hand back", VERB_END, ticket_id))
    result = card(body, actions)
    # No userIds: Teams refreshes automatically for everyone in chats of up to 60 people.
    result["refresh"] = {"action": {"type": "Action.Execute", "verb": VERB_REFRESH,
                                    "data": {"msa": VERB_REFRESH, "ticket": ticket_id}}}
    return result


def notice_card(note: str) -> Card:
    """A card holding one line for whoever pressed a support-thread button, and nothing else."""
    return card([text(note, color="Attention", weight="Bolder")])


def take_from_card(ticket_id: str, holder_id: str | None, holder: str) -> Card:
    """Offer a staff member who is not the holder to take the customer over, explicitly."""
    data = {"msa": VERB_TAKE_FROM, "ticket": ticket_id, "from": holder_id or ""}
    action: dict[str, Any] = {"type": "Action.Execute", "title": f"Take it from {holder}",
                              "verb": VERB_TAKE_FROM, "data": data,
                              "fallback": submit(f"Take it from {holder}", data)}
    return card([text(f"{holder} has this customer now. Taking it over tells {holder} and the "
                      "customer.")], [action])


def queue_card(tickets: Sequence[Mapping[str, Any]], now: datetime) -> Card:
    """List the waiting tickets, oldest first, for ``queue`` typed in the support channel.

    Args:
        tickets: Waiting tickets as mappings, oldest first.
        now: The current time (for "waiting N min").

    Returns:
        The card.
    """
    if not tickets:
        return card([text("Queue", weight="Bolder", size="Medium"),
                     text("Nobody is waiting for a person right now. 🎉")])
    body: list[dict[str, Any]] = [
        text(f"Queue: {len(tickets)} waiting", weight="Bolder", size="Medium")]
    for place, ticket in enumerate(tickets, start=1):
        summary: Mapping[str, Any] = ticket.get("summary") or {}
        created = ticket.get("created_at")
        waited = ""
        if isinstance(created, datetime):
            minutes = max(0, int((now - created).total_seconds() // 60))
            waited = f" · waiting {minutes} min"
        company = inert(str(summary.get("company") or ticket.get("tenant_id") or ""))
        body.append({"type": "Container", "separator": True, "items": [
            text(f"{place}. **{name_of(str(ticket.get('customer_name') or ''), 'A customer')}**"
                 + (f" ({company})" if company else "") + waited),
            text(f"{inert(str(summary.get('reason_text') or 'Asked for a person'))} · "
                 f"{language_name(summary)} · ticket {ticket['id']}", subtle=True, spacing="None"),
        ]})
    body.append(text("Press **Take over** on the ticket's card in its thread.", subtle=True))
    return card(body)


# ----- the customer's side (in the customer's language) -----------------------------
def solved_card(ticket_id: str, agent_name: str | None = None, *,
                lang: str = SOURCE_LANG) -> Card:
    """Ask the customer, after the hand back, whether the problem is solved."""
    tr = translator(lang)
    agent = name_of(agent_name, "")
    hint = (tr.format(ToCustomer.SOLVED_HINT, agent=agent) if agent
            else tr(ToCustomer.SOLVED_HINT_BY_SUPPORT))
    body = [text(tr(ToCustomer.SOLVED_QUESTION), weight="Bolder", size="Medium"),
            text(hint, subtle=True)]
    return card(body, [
        submit(tr(ToCustomer.YES_SOLVED), {"msa": VERB_SOLVED, "ticket": ticket_id, "value": "yes"},
               style="positive"),
        submit(tr(ToCustomer.NO_NOT_YET), {"msa": VERB_SOLVED, "ticket": ticket_id, "value": "no"}),
    ])


def rating_card(ticket_id: str, *, lang: str = SOURCE_LANG) -> Card:
    """Ask for a 1–5 rating of the help from CLOUDEX support."""
    tr = translator(lang)
    body = [text(tr(ToCustomer.RATE_QUESTION), weight="Bolder", size="Medium"),
            text(tr(ToCustomer.RATE_HINT), subtle=True)]
    return card(body, [submit("⭐" * n, {"msa": VERB_RATING, "ticket": ticket_id, "value": n})
                       for n in range(1, 6)])


# ----- samples for the gallery (validated with every other card) -------------------
def gallery_builders(lang: str = SOURCE_LANG) -> dict[str, Any]:
    """Return name -> builder(knowledge) for each handoff card, with sample data.

    The customer's cards come in ``lang``; the support channel's are English
    (their sample customer writes Latvian, so the language fact shows).
    """
    sample_facts = {
        "answers": {"mailbox": "tms@contoso.com", "mailbox_type": "user", "license": "yes",
                    "mfa": "yes", "org_smtp_auth": "disabled"},
        "diagnosis": {"candidates": ["smtp_auth_disabled_tenant"], "index": 0,
                      "evidence": "535 5.7.139 Authentication unsuccessful, "
                                  "SmtpClientAuthentication is disabled for the Tenant"},
        "failed_fixes": 2,
    }
    created = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)

    def ticket(knowledge: Knowledge, status: str) -> dict[str, Any]:
        summary = ticket_summary(
            knowledge, sample_facts, "fixes_failed",
            checks=[{"title": "Exchange Online licence", "status": "pass",
                     "evidence": "Exchange Online (Plan 1)"},
                    {"title": "SMTP AUTH for the organisation", "status": "fail",
                     "evidence": "SmtpClientAuthenticationDisabled = True"}],
            last_messages=[{"who": "Alex Wilber",
                            "text": "Joprojām 535 5.7.139 arī pēc izmaiņām",
                            "at": created.isoformat()}], lang="lv")
        return {"id": "3f9a1c0b7e21", "status": status, "customer_name": "Alex Wilber",
                "tenant_id": "8d6a7f2c-1b3e-4c5d-9e8f-0a1b2c3d4e5f", "summary": summary,
                "created_at": created,
                "agent_name": "Dana Berzina" if status != "waiting" else None,
                "taken_at": created + timedelta(minutes=4) if status != "waiting" else None,
                "closed_at": created + timedelta(minutes=30) if status == "closed" else None}

    return {
        "handoff-thread-waiting": lambda k: thread_card(ticket(k, "waiting")),
        "handoff-thread-taken": lambda k: thread_card(ticket(k, "taken")),
        "handoff-thread-already-taken": lambda k: thread_card(
            ticket(k, "taken"), note="Already taken by Dana Berzina."),
        "handoff-thread-closed": lambda k: thread_card(ticket(k, "closed")),
        "handoff-queue": lambda k: queue_card(
            [ticket(k, "waiting")], created + timedelta(minutes=12)),
        "handoff-queue-empty": lambda k: queue_card([], created),
        "handoff-solved": lambda k: solved_card("3f9a1c0b7e21", "Dana Berzina", lang=lang),
        "handoff-rating": lambda k: rating_card("3f9a1c0b7e21", lang=lang),
    }
