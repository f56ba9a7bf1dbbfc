"""Staff tools as data in, cards out: ``kb``, ``ps``, ``diagnose``, ``explain``, ``stats``.

CLOUDEX support and sales staff type these in any chat with the bot (the bot
decides who is staff, in one place: ``bot/identity.py``). Everything here is
pure, a *desk* like the handoff's: the bot passes the command text, and for
``stats`` the audit rows it read; :meth:`StaffTools.answer` returns effects
(:mod:`dialogs.effects`: the replies as ``Say``, one ``Count``), which the bot
runs with the turn, after its state is stored; :meth:`StaffTools.compose`
answers the compose-box search. Every fix shown is
:func:`dialogs.cards.fix_card`, the card customers get, and a typed address
only reaches PowerShell through :func:`dialogs.powershell.render` (validated,
single-quoted).

Commands (case-insensitive, an optional leading "/") are registered in one
place each: the :func:`staff_command` decorator on their handler in
:class:`StaffTools` gives the name, the usage and the help line, and
:data:`STAFF_COMMANDS` (in that order) is what :func:`parse_command`
recognises, what the Teams manifest lists (:func:`manifest_commands`) and
what the staff metrics count by. Commands another desk answers (the handoff's
``queue``) are registered with :func:`desk_command`, for the manifest only.
``python -c "import dialogs.staff as s; print(s.command_table())"`` prints them.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from dialogs import cards
from dialogs.cards import Card, card, code_section, heading, submit, text, topic_item, verbatim
from dialogs.chart import bar_chart_png, can_draw, data_uri
from dialogs.diagnosis import Diagnoser, Diagnosis, diagnoser_for
from dialogs.effects import Count, Effect, Say
from dialogs.flow import QUESTIONS
from dialogs.knowledge import UNKNOWN_CAUSE, Knowledge
from dialogs.powershell import InvalidIdentity, render, validate_identity
from dialogs.search import KnowledgeSearch, SearchResponse, search_for
from dialogs.session import Reply
from dialogs.text import clean_text

KB_RESULTS = 5
# A pasted NDR after "kb" would otherwise fill the card's title.
QUERY_IN_TITLE = 80
STATS_DEFAULT_DAYS = 30
STATS_MAX_DAYS = 365
TOP_CAUSES = 6
EXAMPLE_UPN = "tms@contoso.com"
# Causes whose checks complete "ps check" beyond the guided questions' own checks.
_EXTRA_CHECK_CAUSES = ("basic_auth_disabled", "account_blocked")
_SPACE = re.compile(r"\s+")

USAGE_PS = (
    "Which PowerShell? Type `ps mailbox name@company.com` (one mailbox's SMTP AUTH switch), "
    "`ps tenant` (the organisation-wide switch), `ps check name@company.com` "
    "(everything that decides whether that mailbox can send) or `ps <topic>`, with an "
    "address if you like (`ps security defaults`, `ps send as name@company.com`)."
)
NO_PS_TOPIC = "No knowledge topic matches \"{topic}\"."
ASK_MAILBOX = "Which mailbox? Type the full address, for example `{command} " + EXAMPLE_UPN + "`."
BAD_MAILBOX = ("That is not a mailbox address I will put into PowerShell: {reason} "
               "Type it like `{command} " + EXAMPLE_UPN + "`.")
ONE_ADDRESS = "Type one address only, with nothing after it."
ASK_DIAGNOSE = ("Paste the error after the word, for example "
                "`diagnose 535 5.7.139 Authentication unsuccessful`.")
ASK_EXPLAIN = "Which cause? Type `explain <cause id>`, for example `explain security_defaults`."
BAD_DAYS = "Type `stats` or `stats <days>` with a whole number of days from 1 to {max}."
STAFF_ONLY = "Search is only available to CLOUDEX staff."
METRIC = "msa_staff_commands_total"
"""The counter of staff commands (label ``command``: a registered name, or ``search``)."""


@dataclass(frozen=True, slots=True)
class StaffCommand:
    """A parsed staff command.

    Attributes:
        name: ``kb``, ``ps``, ``ps mailbox``, ``ps tenant``, ``ps check``, ``diagnose``,
            ``explain`` or ``stats``.
        argument: the rest of the message, trimmed (original case and line breaks kept).
    """

    name: str
    argument: str = ""


class AuditRow(Protocol):
    """What ``stats`` needs of an audit event (``bot.store.base.AuditEvent`` has it)."""

    @property
    def at(self) -> datetime:
        """When it happened (timezone-aware UTC)."""
        ...

    @property
    def kind(self) -> str:
        """What happened: ``diagnosed``, ``resolved``, ``person_requested``…."""
        ...

    @property
    def conversation_id(self) -> str | None:
        """The conversation it belongs to."""
        ...

    @property
    def detail(self) -> Mapping[str, Any]:
        """Redacted detail, e.g. ``{"cause": "mfa_required"}``."""
        ...


@dataclass(frozen=True, slots=True)
class StaffContext:
    """What a command may need besides its text (the bot reads it from the store).

    Attributes:
        popularity: diagnoses per cause, for the common topics.
        audit_rows: the audit events (only for a command registered ``reads_audit``).
        now: the current time (the same).
    """

    popularity: Mapping[str, int] | None = None
    audit_rows: Iterable[AuditRow] = ()
    now: datetime | None = None


CommandHandler = Callable[["StaffTools", StaffCommand, StaffContext], list[Reply]]


@dataclass(frozen=True, slots=True)
class StaffCommandSpec:
    """One staff command: everything the bot, the manifest and the docs say about it.

    Attributes:
        name: what staff type, one or two words (``kb``, ``ps mailbox``).
        usage: how it is typed, e.g. ``ps mailbox <upn>`` ("" when it is just the name).
        help: one line on what it gives.
        handler: the :class:`StaffTools` method answering it; None when another desk
            answers it (``desk``) and it is registered for the manifest only.
        desk: who answers it.
        listed: whether the Teams manifest lists it (a scope lists ten at most).
        reads_audit: whether it needs the audit rows (``stats``).
    """

    name: str
    usage: str
    help: str
    handler: CommandHandler | None = None
    desk: str = "staff tools"
    listed: bool = True
    reads_audit: bool = False

    @property
    def description(self) -> str:
        """The manifest's description: usage and help (Teams allows 128 characters)."""
        return f"{self.usage}: {self.help} (staff)" if self.usage else f"{self.help} (staff)"


STAFF_COMMANDS: dict[str, StaffCommandSpec] = {}
"""Every staff command by name, in the order the manifest lists them."""


def staff_command(name: str, usage: str, help: str, *, listed: bool = True,
                  reads_audit: bool = False) -> Callable[[CommandHandler], CommandHandler]:
    """Register the decorated :class:`StaffTools` method as the handler of staff command ``name``.

    Args:
        name: what staff type (lower case; one or two words).
        usage: how it is typed, with its arguments in ``<…>``.
        help: one line on what it gives (the manifest shows it).
        listed: whether the Teams manifest lists it.
        reads_audit: whether the bot must pass it the audit rows.
    """
    def register(handler: CommandHandler) -> CommandHandler:
        if name in STAFF_COMMANDS:
            raise ValueError(f"staff command {name!r} is registered twice")
        STAFF_COMMANDS[name] = StaffCommandSpec(name, usage, help, handler, listed=listed,
                                                reads_audit=reads_audit)
        return handler
    return register


def desk_command(name: str, usage: str, help: str, desk: str) -> None:
    """Register a staff command another desk answers, so the manifest lists it too."""
    if name in STAFF_COMMANDS:
        raise ValueError(f"staff command {name!r} is registered twice")
    STAFF_COMMANDS[name] = StaffCommandSpec(name, usage, help, None, desk=desk)


def parse_command(raw: str) -> StaffCommand | None:
    """Recognise a staff command the staff tools answer, at the start of a message.

    Args:
        raw: the message text with the bot mention already removed.

    Returns:
        The command (its two-word name when the first two words are one, as in
        ``ps mailbox``), or None when the text is not such a command.
    """
    message = clean_text(raw).lstrip("/").strip()
    if not message:
        return None
    first, _, rest = message.partition(" ")
    if "\n" in first:  # "diagnose\n<pasted text>"
        first, _, more = first.partition("\n")
        rest = more + (" " + rest if rest else "")
    word = first.lower().rstrip(":")
    rest = rest.strip()
    sub, _, argument = rest.partition(" ")
    for name, text_after in ((f"{word} {sub.lower()}", argument.strip()), (word, rest)):
        spec = STAFF_COMMANDS.get(name)
        if spec is not None and spec.handler is not None:
            return StaffCommand(name, text_after)
    return None


def manifest_commands() -> list[dict[str, str]]:
    """The staff command list of the Teams manifest (team and group chat scopes)."""
    return [{"title": spec.name, "description": spec.description}
            for spec in STAFF_COMMANDS.values() if spec.listed]


def command_table() -> str:
    """Every staff command as a plain-text table: usage, help, who answers it."""
    width = max(len(spec.usage or spec.name) for spec in STAFF_COMMANDS.values())
    return "\n".join(f"{spec.usage or spec.name:<{width}}  {spec.help}"
                     + ("" if spec.handler else f" [{spec.desk}]")
                     + ("" if spec.listed else " [not in the manifest]")
                     for spec in STAFF_COMMANDS.values())


# ----- kb ------------------------------------------------------------------------------
def kb_card(response: SearchResponse) -> Card:
    """Ranked knowledge results, each with a "Show fix" button.

    Args:
        response: what the search found.

    Returns:
        The card.
    """
    shown = response.query if len(response.query) <= QUERY_IN_TITLE else (
        response.query[: QUERY_IN_TITLE - 1].rstrip() + "\u2026")
    title = f"Knowledge: {shown}" if response.query else "Knowledge: common topics"
    body: list[dict[str, Any]] = [text(title, weight="Bolder", size="Medium")]
    if response.corrected and not response.is_fallback:
        body.append(text(f"Searched for: *{response.corrected}*", subtle=True, size="Small"))
    if response.is_fallback:
        note = ("Nothing matched; these are the most common topics." if response.query
                else "The most common topics:")
        body.append(text(note, subtle=True))
    body.extend(topic_item(result.cause_id, f"{number}. {result.title}", result.preview,
                           "Show fix")
                for number, result in enumerate(response.results, start=1))
    body.append(text("Tip: use the \"Search mail setup fixes\" box in any chat's compose area "
                     "to insert a fix card.", subtle=True, size="Small"))
    return card(body)


# ----- ps ------------------------------------------------------------------------------
def mailbox_script(knowledge: Knowledge, identity: str) -> list[tuple[str, list[str]]]:
    """PowerShell to check and allow Authenticated SMTP for one mailbox.

    Args:
        knowledge: the knowledge base (the lines come from it).
        identity: the mailbox address; validated and quoted here.

    Returns:
        ``(section title, lines)`` pairs.

    Raises:
        InvalidIdentity: when ``identity`` is not a plain mailbox address.
    """
    cause = knowledge.cause("smtp_auth_disabled_mailbox")
    return [("Check", [render(line, identity) for line in cause.check.powershell]),
            ("Allow SMTP AUTH for this mailbox", [render(line, identity)
                                                  for line in cause.fix.powershell])]


def tenant_script(knowledge: Knowledge) -> list[tuple[str, list[str]]]:
    """PowerShell to check and allow Authenticated SMTP for the whole organisation.

    Args:
        knowledge: the knowledge base (the lines come from it).

    Returns:
        ``(section title, lines)`` pairs; lines that need a mailbox are left out.
    """
    cause = knowledge.cause("smtp_auth_disabled_tenant")
    check = [line for line in cause.check.powershell if "{identity}" not in line]
    fix = [line for line in cause.fix.powershell if "{identity}" not in line]
    return [("Check", check), ("Allow SMTP AUTH for the organisation", fix)]


def _graph_scopes(line: str) -> list[str]:
    _, _, scopes = line.partition("-Scopes")
    return [s.strip() for s in scopes.split(",") if s.strip()]


def check_script(knowledge: Knowledge, identity: str) -> list[tuple[str, list[str]]]:
    """PowerShell that reads every setting deciding whether one mailbox can send.

    The lines are the knowledge's "how to find out" lines of the guided questions
    (in question order) plus the authentication-policy and account checks,
    grouped by module: one Exchange Online session, one Microsoft Graph sign-in
    with all scopes, and the sending test (which asks for the password).

    Args:
        knowledge: the knowledge base.
        identity: the mailbox address; validated and quoted here.

    Returns:
        ``(section title, lines)`` pairs.

    Raises:
        InvalidIdentity: when ``identity`` is not a plain mailbox address.
    """
    validate_identity(identity)
    sources = [knowledge.question(q).how_to_find_out.powershell for q in QUESTIONS]
    sources += [knowledge.cause(c).check.powershell for c in _EXTRA_CHECK_CAUSES]
    exchange: list[str] = []
    graph: list[str] = []
    scopes: list[str] = []
    test: list[str] = []
    for lines in sources:
        target = exchange
        for line in lines:
            if line.startswith("Connect-ExchangeOnline"):
                target = exchange
                continue
            if line.startswith("Connect-MgGraph"):
                target = graph
                scopes.extend(s for s in _graph_scopes(line) if s not in scopes)
                continue
            if line.startswith(("Install-Module", "Test-SmtpClientSubmission")):
                target = test
            rendered = render(line, identity)
            if rendered not in target:
                target.append(rendered)
    sections = []
    if exchange:
        sections.append(("Exchange Online", ["Connect-ExchangeOnline", *exchange]))
    if graph:
        sections.append(("Microsoft Graph (Entra)",
                         [f"Connect-MgGraph -Scopes {','.join(scopes)}", *graph]))
    if test:
        sections.append(("Test sending (asks for the mailbox password)", test))
    return sections


def powershell_card(title: str, intro: str, sections: Sequence[tuple[str, Sequence[str]]],
                    notes: Sequence[str] = ()) -> Card:
    """A card of PowerShell sections, each in its own copyable code block.

    Args:
        title: the card title.
        intro: one sentence on what the lines do.
        sections: ``(section title, lines)`` pairs.
        notes: short hints shown after the code.

    Returns:
        The card.
    """
    body: list[dict[str, Any]] = [text(title, weight="Bolder", size="Medium"), text(intro)]
    for section_title, lines in sections:
        body.extend(code_section(section_title, lines))
    body.extend(text(note, subtle=True, size="Small") for note in notes)
    return card(body)


def ps_replies(knowledge: Knowledge, command: StaffCommand,
               search: KnowledgeSearch | None = None) -> list[Reply]:
    """Answer ``ps mailbox|tenant|check`` or ``ps <topic>``: the PowerShell card, or a re-ask.

    Args:
        knowledge: the knowledge base.
        command: the parsed command.
        search: finds the topic of ``ps <topic>`` (without it, that form gets the usage).

    Returns:
        One reply.
    """
    if command.name == "ps" and command.argument.strip() and search is not None:
        return topic_powershell(knowledge, search, command.argument)
    if command.name == "ps tenant":
        cause = knowledge.cause("smtp_auth_disabled_tenant")
        return [Reply(card=powershell_card(
            "PowerShell: SMTP AUTH for the whole organisation",
            "Run in an Exchange Online PowerShell session as an Exchange administrator.",
            tenant_script(knowledge),
            notes=("SmtpClientAuthenticationDisabled: False = allowed, True = turned off.",
                   cause.fix.steps[0], f"⏱ {cause.wait}")))]
    if command.name not in {"ps mailbox", "ps check"}:
        return [Reply(USAGE_PS)]
    words = clean_text(command.argument).split()
    if not words:
        return [Reply(ASK_MAILBOX.format(command=command.name))]
    if len(words) > 1:
        return [Reply(BAD_MAILBOX.format(reason=ONE_ADDRESS, command=command.name))]
    identity = checked_identity(words[0], command.name)
    if isinstance(identity, Reply):
        return [identity]
    if command.name == "ps mailbox":
        cause = knowledge.cause("smtp_auth_disabled_mailbox")
        return [Reply(card=powershell_card(
            f"PowerShell: SMTP AUTH for {identity}",
            "Run in an Exchange Online PowerShell session as an Exchange administrator.",
            mailbox_script(knowledge, identity),
            notes=("SmtpClientAuthenticationDisabled: False = allowed, True = turned off, "
                   "empty = follows the organisation setting (`ps tenant`). The mailbox "
                   "setting wins over the organisation's.", f"⏱ {cause.wait}")))]
    return [Reply(card=powershell_card(
        f"PowerShell: can {identity} send?",
        "Read-only checks: licence, mailbox type, MFA, security defaults, the SMTP AUTH "
        "switches, authentication policy, Conditional Access and recent SMTP sign-ins.",
        check_script(knowledge, identity),
        notes=("Needs the ExchangeOnlineManagement and Microsoft.Graph modules "
               "(Get-MgBetaUserAuthenticationRequirement is in Microsoft.Graph.Beta).",)))]


def checked_identity(word: str, command: str) -> str | Reply:
    """``word`` validated and ready to quote into PowerShell, or the re-ask that says why not."""
    try:
        return validate_identity(word.strip("<>"))
    except InvalidIdentity as exc:
        return Reply(BAD_MAILBOX.format(reason=str(exc), command=command))


def topic_powershell(knowledge: Knowledge, search: KnowledgeSearch, argument: str) -> list[Reply]:
    """``ps <topic> [address]``: the PowerShell of the knowledge topic the words find best.

    The address, when given, is validated and quoted into the lines, as for
    ``ps mailbox``; without one the lines keep a visible placeholder.
    """
    words = clean_text(argument).split()
    addresses = [word for word in words if "@" in word]
    topic = " ".join(word for word in words if "@" not in word)
    example = f"ps {topic or 'send as'}"
    if len(addresses) > 1:
        return [Reply(BAD_MAILBOX.format(reason=ONE_ADDRESS, command=example))]
    facts: dict[str, Any] = {}
    if addresses:
        identity = checked_identity(addresses[0], example)
        if isinstance(identity, Reply):
            return [identity]
        facts = {"answers": {"mailbox": identity}}
    found = search.search(topic).confident() if topic else ()
    if not found:
        lead = NO_PS_TOPIC.format(topic=topic[:60]) + " " if topic else ""
        return [Reply(lead + USAGE_PS)]
    cause = knowledge.cause(found[0].cause_id)
    return [Reply(card=cards.fix_powershell_card(cause, facts))]


# ----- diagnose and explain ---------------------------------------------------------------
def _with_header(fix: Card, header: Sequence[dict[str, Any]],
                 extra_actions: Sequence[dict[str, Any]] = ()) -> Card:
    result = dict(fix)
    result["body"] = [*header, *fix["body"]]
    actions = [*fix.get("actions", []), *extra_actions]
    if actions:
        result["actions"] = actions
    return result


def diagnosis_card(knowledge: Knowledge, diagnosis: Diagnosis) -> Card:
    """The fix card of a pasted error's best cause, headed by what matched.

    Args:
        knowledge: the knowledge base.
        diagnosis: the diagnosis of the text; must have a best candidate.

    Returns:
        :func:`dialogs.cards.fix_card` with the evidence on top and the other
        candidates (or the follow-up question's answers) as "Show fix" buttons.
    """
    best = diagnosis.best
    assert best is not None
    header: list[dict[str, Any]] = [text(
        f"Diagnosis · {best.confidence:.0%} sure", subtle=True, size="Small")]
    if best.evidence:
        # Words from the pasted text: shown as written (a customer may have crafted them).
        header.append(verbatim(best.evidence, label="Matched: "))
    alternatives: list[tuple[str, str]] = []
    if diagnosis.follow_up is not None:
        header.append(text(f"Ask the customer: {diagnosis.follow_up.question}",
                           color="Accent"))
        alternatives = [(label, cause_id) for label, cause_id in diagnosis.follow_up.options
                        if cause_id != best.cause_id]
    else:
        alternatives = [(knowledge.cause(c).title, c) for c in diagnosis.alternatives[:2]
                        if c != UNKNOWN_CAUSE]
    actions = [submit(f"Or: {label}"[:60], {"msa": "show_fix", "cause": cause_id}, secondary=True)
               for label, cause_id in alternatives]
    return _with_header(cards.fix_card(knowledge, best.cause_id, {}), header, actions)


def suggestions_card(title: str, note: str, response: SearchResponse) -> Card:
    """A short "did you mean" list of causes with "Show fix" buttons.

    Args:
        title: the card title.
        note: one line saying why suggestions are shown.
        response: the search results to offer.

    Returns:
        The card.
    """
    body: list[dict[str, Any]] = [text(title, weight="Bolder", size="Medium"),
                                  text(note, subtle=True)]
    body.append({"type": "FactSet", "facts": [
        {"title": result.cause_id, "value": result.title} for result in response.results]})
    actions = [submit(result.title[:60], {"msa": "show_fix", "cause": result.cause_id})
               for result in response.results[:5]]
    return card(body, actions)


# ----- stats -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StaffStats:
    """Figures over the audit rows of one period.

    Attributes:
        days: the period's length.
        since: its start (exclusive) and ``until`` its end (inclusive).
        conversations: distinct conversations with any audited event in the period.
        diagnoses: ``diagnosed`` events.
        top_causes: ``(cause id, diagnoses)``, most first, at most :data:`TOP_CAUSES`.
        resolved: conversations with a ``resolved`` event.
        resolution_rate: ``resolved / conversations``; None without conversations.
        handoffs: conversations that asked for a person (``person_requested``).
        fixes_failed: ``fix_failed`` events.
        start_overs: ``start_over`` events.
        median_seconds_to_resolution: per conversation resolved in the period, its first
            event (in any of the rows given) to its first ``resolved`` event in the
            period; the median, None if none.
    """

    days: int
    since: datetime
    until: datetime
    conversations: int
    diagnoses: int
    top_causes: tuple[tuple[str, int], ...]
    resolved: int
    resolution_rate: float | None
    handoffs: int
    fixes_failed: int
    start_overs: int
    median_seconds_to_resolution: float | None


def compute_stats(rows: Iterable[AuditRow], *, now: datetime, days: int) -> StaffStats:
    """Compute the staff statistics from audit rows.

    Args:
        rows: audit events in any order; those after ``now`` are ignored, older ones
            only date the start of a conversation resolved in the period.
        now: the end of the period (inject a clock in tests).
        days: the period's length in days.

    Returns:
        The figures.
    """
    since = now - timedelta(days=days)
    known = sorted((r for r in rows if r.at <= now), key=lambda r: r.at)
    # A conversation resolved in the period may have started before it: its time to
    # resolution counts from its first event in the rows, not from the period's start.
    first_seen: dict[str, datetime] = {}
    for row in known:
        if row.conversation_id:
            first_seen.setdefault(row.conversation_id, row.at)
    in_period = [r for r in known if r.at > since]
    conversations: set[str] = set()
    resolved_at: dict[str, datetime] = {}
    handoffs: set[str] = set()
    causes: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for row in in_period:
        kinds[row.kind] += 1
        conversation = row.conversation_id
        if row.kind == "diagnosed":
            causes[str(row.detail.get("cause") or UNKNOWN_CAUSE)] += 1
        if not conversation:
            continue
        conversations.add(conversation)
        if row.kind == "resolved":
            resolved_at.setdefault(conversation, row.at)
        elif row.kind == "person_requested":
            handoffs.add(conversation)
    durations = [(resolved_at[c] - first_seen[c]).total_seconds() for c in resolved_at]
    return StaffStats(
        days=days, since=since, until=now,
        conversations=len(conversations),
        diagnoses=kinds["diagnosed"],
        top_causes=tuple(sorted(causes.items(), key=lambda item: (-item[1], item[0]))[:TOP_CAUSES]),
        resolved=len(resolved_at),
        resolution_rate=len(resolved_at) / len(conversations) if conversations else None,
        handoffs=len(handoffs),
        fixes_failed=kinds["fix_failed"],
        start_overs=kinds["start_over"],
        median_seconds_to_resolution=statistics.median(durations) if durations else None,
    )


def format_duration(seconds: float | None) -> str:
    """Say a duration the way staff read it: "45 s", "12 min", "3.5 h", "2.0 days"."""
    if seconds is None:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def stats_card(knowledge: Knowledge, stats: StaffStats) -> Card:
    """Top causes, resolution rate, handoffs and time to resolution, with a bar chart.

    Args:
        knowledge: the knowledge base (cause titles).
        stats: the figures.

    Returns:
        The card; the chart is an inline PNG when at least two causes were diagnosed
        and Pillow (the ``charts`` extra) is installed, else the numbers are listed.
    """
    def title_of(cause_id: str) -> str:
        try:
            return knowledge.cause(cause_id).title
        except KeyError:
            return cause_id

    rate = "–" if stats.resolution_rate is None else f"{stats.resolution_rate:.0%}"
    body: list[dict[str, Any]] = [
        text(f"Statistics, last {stats.days} day{'s' if stats.days != 1 else ''}",
             weight="Bolder", size="Medium"),
        text(f"{stats.since:%Y-%m-%d %H:%M} – {stats.until:%Y-%m-%d %H:%M} UTC",
             subtle=True, size="Small"),
        {"type": "FactSet", "facts": [
            {"title": "Conversations", "value": str(stats.conversations)},
            {"title": "Resolved", "value": f"{stats.resolved} ({rate})"},
            {"title": "Handoffs to a person", "value": str(stats.handoffs)},
            {"title": "Median time to resolution",
             "value": format_duration(stats.median_seconds_to_resolution)},
            {"title": "Diagnoses", "value": str(stats.diagnoses)},
            {"title": "Fixes that did not help", "value": str(stats.fixes_failed)},
            {"title": "Start overs", "value": str(stats.start_overs)},
        ]},
    ]
    if stats.top_causes:
        body.append(heading("Top causes"))
        if len(stats.top_causes) >= 2 and can_draw():
            # Several causes compare best as bars; the alt text carries the same numbers.
            png = bar_chart_png([(title_of(c), n) for c, n in stats.top_causes])
            body.append({"type": "Image", "url": data_uri(png),
                         "altText": "Bar chart of the top causes: " + ", ".join(
                             f"{title_of(c)} {n}" for c, n in stats.top_causes)})
        else:
            body.append({"type": "FactSet", "facts": [
                {"title": str(n), "value": title_of(c)} for c, n in stats.top_causes]})
    else:
        body.append(text("No diagnoses in this period.", subtle=True))
    body.append(text("Resolution rate = conversations with \"it works now\" / conversations "
                     "with any recorded event. Time to resolution = a conversation's first "
                     "event to its first resolution.", subtle=True, size="Small"))
    return card(body)


def parse_days(argument: str) -> int | None:
    """The ``stats`` period: empty → the default, a number 1..365, anything else None."""
    words = argument.split()
    if not words:
        return STATS_DEFAULT_DAYS
    value = words[0].lower().removesuffix("d").removesuffix("days").removesuffix("day")
    if not value.isdigit():
        return None
    days = int(value)
    return days if 1 <= days <= STATS_MAX_DAYS else None


# ----- the tools ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ComposeItem:
    """One message-extension result: the preview Teams lists and the card it inserts."""

    cause_id: str
    title: str
    preview: str
    card: Card


@dataclass(frozen=True, slots=True)
class ComposeAnswer:
    """The compose-box search's answer: results to list, or a message instead; and its effects.

    Attributes:
        items: the results, best first (empty with a ``message``).
        message: a line Teams shows instead of results (for someone who is not staff).
        effects: what to record (the search's count).
    """

    items: tuple[ComposeItem, ...] = ()
    message: str | None = None
    effects: tuple[Effect, ...] = ()


class StaffTools:
    """The staff commands over one knowledge base (search and diagnosis built once)."""

    def __init__(self, knowledge: Knowledge, search: KnowledgeSearch | None = None,
                 diagnoser: Diagnoser | None = None) -> None:
        """Use ``knowledge``; the cached search and diagnoser unless given.

        Args:
            knowledge: the knowledge base.
            search: the knowledge search.
            diagnoser: the error-text diagnoser.
        """
        self.knowledge = knowledge
        self.search = search if search is not None else search_for(knowledge)
        self.diagnoser = diagnoser if diagnoser is not None else diagnoser_for(knowledge)

    @staff_command("kb", "kb <words>", "search the mail setup fixes")
    def kb(self, command: StaffCommand, context: StaffContext) -> list[Reply]:
        """Ranked results with "Show fix" buttons."""
        response = self.search.search(command.argument, limit=KB_RESULTS,
                                      popularity=context.popularity)
        return [Reply(card=kb_card(response))]

    @staff_command("ps mailbox", "ps mailbox <upn>",
                   "PowerShell to check one mailbox's SMTP settings")
    def ps_mailbox(self, command: StaffCommand, context: StaffContext) -> list[Reply]:
        """Check and allow SMTP AUTH for one mailbox."""
        return ps_replies(self.knowledge, command, self.search)

    @staff_command("ps tenant", "ps tenant",
                   "PowerShell to check the tenant-wide SMTP AUTH settings")
    def ps_tenant(self, command: StaffCommand, context: StaffContext) -> list[Reply]:
        """Check and allow SMTP AUTH for the whole organisation."""
        return ps_replies(self.knowledge, command, self.search)

    @staff_command("ps check", "ps check <upn>",
                   "PowerShell for a full SMTP sending check of one mailbox")
    def ps_check(self, command: StaffCommand, context: StaffContext) -> list[Reply]:
        """Every setting that decides whether one mailbox can send."""
        return ps_replies(self.knowledge, command, self.search)

    # Not in the manifest: a scope lists ten commands at most, and "ps" explains itself.
    @staff_command("ps", "ps <topic> [upn]", "the PowerShell of the knowledge topic the words find",
                   listed=False)
    def ps_topic(self, command: StaffCommand, context: StaffContext) -> list[Reply]:
        """The PowerShell of a knowledge topic, or the ``ps`` usage."""
        return ps_replies(self.knowledge, command, self.search)

    @staff_command("diagnose", "diagnose <text>", "the likely cause and fix for a pasted error")
    def diagnose(self, command: StaffCommand, context: StaffContext) -> list[Reply]:
        """The fix card of the likely cause, or search results."""
        pasted, popularity = command.argument, context.popularity
        if not pasted.strip():
            return [Reply(ASK_DIAGNOSE)]
        diagnosis = self.diagnoser.diagnose(pasted)
        if diagnosis.best is None or diagnosis.best.cause_id == UNKNOWN_CAUSE:
            response = self.search.search(pasted, limit=KB_RESULTS, popularity=popularity)
            return [Reply(card=suggestions_card(
                "No known error code or message in that text",
                "Closest knowledge topics:" if not response.is_fallback
                else "Nothing matched; the most common topics:", response))]
        return [Reply(card=diagnosis_card(self.knowledge, diagnosis))]

    @staff_command("explain", "explain <cause id>", "the fix card for one known cause")
    def explain(self, command: StaffCommand, context: StaffContext) -> list[Reply]:
        """The fix card, or suggestions for an unknown id."""
        wanted, popularity = command.argument.strip(), context.popularity
        if not wanted:
            response = self.search.search("", limit=KB_RESULTS, popularity=popularity)
            return [Reply(card=suggestions_card("Which cause?", ASK_EXPLAIN, response))]
        key = re.sub(r"[\s\-]+", "_", wanted.lower())
        if key in self.knowledge.cause_ids:
            return [Reply(card=cards.fix_card(self.knowledge, key, {}))]
        response = self.search.search(wanted.replace("_", " "), limit=KB_RESULTS,
                                      popularity=popularity)
        return [Reply(card=suggestions_card(
            f"No cause with the id \"{wanted[:60]}\"", "Did you mean one of these?", response))]

    @staff_command("stats", "stats [days]",
                   "top causes, resolution rate, handoffs and time to fix", reads_audit=True)
    def stats(self, command: StaffCommand, context: StaffContext) -> list[Reply]:
        """The statistics card over the audit rows of the last ``days``."""
        days = parse_days(command.argument)
        if days is None or context.now is None:
            return [Reply(BAD_DAYS.format(max=STATS_MAX_DAYS))]
        stats = compute_stats(context.audit_rows, now=context.now, days=days)
        return [Reply(card=stats_card(self.knowledge, stats))]

    def run(self, command: StaffCommand, *, popularity: Mapping[str, int] | None = None,
            audit_rows: Iterable[AuditRow] = (), now: datetime | None = None) -> list[Reply]:
        """Answer a parsed command with its registered handler.

        Args:
            command: the parsed command.
            popularity: diagnoses per cause, for the common topics.
            audit_rows: the audit events (for a command registered ``reads_audit``).
            now: the current time (the same).

        Returns:
            The replies to send.

        Raises:
            ValueError: no handler of the staff tools answers ``command``.
        """
        spec = STAFF_COMMANDS.get(command.name)
        if spec is None or spec.handler is None:
            raise ValueError(f"unknown staff command {command.name!r}")
        return spec.handler(self, command, StaffContext(popularity, audit_rows, now))

    def answer(self, command: StaffCommand, context: StaffContext) -> list[Effect]:
        """What a staff member's typed command does: its replies in this chat, and one count.

        Args:
            command: the parsed command (the caller established the sender is staff).
            context: what the command may need (popularity, audit rows, the time).

        Returns:
            ``Say`` per reply, in order, then ``Count`` of the command.
        """
        replies = self.run(command, popularity=context.popularity,
                           audit_rows=context.audit_rows, now=context.now)
        return [*(Say(reply) for reply in replies), Count(METRIC, {"command": command.name})]

    def compose(self, query: str, *, staff: bool, skip: int = 0, count: int = 25,
                popularity: Mapping[str, int] | None = None) -> ComposeAnswer:
        """Answer the compose-box search: fix cards for staff, a "staff only" line for others.

        Args:
            query: what was typed in the compose box (may be empty: the common topics).
            staff: whether the one staff rule says the sender is staff.
            skip: results to leave out (Teams pages with it).
            count: at most this many results after ``skip``.
            popularity: diagnoses per cause, for the common topics.

        Returns:
            The answer; someone who is not staff gets no result and nothing is counted.
        """
        if not staff:
            return ComposeAnswer(message=STAFF_ONLY)
        items = self.compose_items(query, limit=skip + count, popularity=popularity)[skip:]
        return ComposeAnswer(tuple(items), effects=(Count(METRIC, {"command": "search"}),))

    def compose_items(self, query: str, *, limit: int = 10,
                      popularity: Mapping[str, int] | None = None) -> list[ComposeItem]:
        """Message-extension results: a preview per cause and its fix card to insert.

        Args:
            query: what staff typed in the compose box (may be empty).
            limit: at most this many results.
            popularity: diagnoses per cause, for the common topics.

        Returns:
            The items, best first.
        """
        response = self.search.search(query, limit=limit, popularity=popularity)
        return [ComposeItem(r.cause_id, r.title, r.preview,
                            cards.fix_card(self.knowledge, r.cause_id, {}))
                for r in response.results]


# Answered by the handoff desk (bot/handoff.py), in a support channel; registered here so
# the manifest lists them with the rest.
desk_command("queue", "queue", "handoff tickets waiting for a person", desk="handoff")
desk_command("use this channel for handoffs", "",
             "Post customer handoffs as new threads in this channel", desk="handoff")

COMMAND_NAMES: tuple[str, ...] = tuple(
    name for name, spec in STAFF_COMMANDS.items() if spec.listed and spec.handler is not None)
"""The commands the staff tools answer that the Teams manifest lists."""


# ----- gallery --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SampleRow:
    """An audit row for the gallery's statistics card (the bot passes real ``AuditEvent`` rows)."""

    at: datetime
    kind: str
    conversation_id: str | None
    detail: Mapping[str, Any]


SAMPLE_NOW = datetime.fromisoformat("2026-11-28T12:00:00+00:00")


def sample_rows() -> list[SampleRow]:
    """A week of plausible audit rows: diagnoses, resolutions, a handoff, a start-over."""
    causes = ["smtp_auth_disabled_mailbox"] * 5 + ["security_defaults"] * 3 + [
        "mfa_required"] * 2 + ["no_exchange_license", "send_as_denied"]
    rows = []
    for i, cause in enumerate(causes):
        start = SAMPLE_NOW - timedelta(days=i % 6, hours=2 + i)
        conversation = f"sample-{i}"
        rows.append(SampleRow(start, "diagnosed", conversation, {"cause": cause}))
        if i % 3 != 2:
            rows.append(SampleRow(start + timedelta(minutes=8 + i), "resolved", conversation,
                                  {"cause": cause}))
    rows.append(SampleRow(SAMPLE_NOW - timedelta(hours=30), "person_requested", "sample-2", {}))
    rows.append(SampleRow(SAMPLE_NOW - timedelta(hours=29), "start_over", "sample-5", {}))
    return rows


def gallery_builders() -> dict[str, Any]:
    """Name -> builder(knowledge) for every staff card, with sample data (for the gallery)."""
    def first_card(replies: list[Reply]) -> Card:
        assert replies and replies[0].card is not None
        return replies[0].card

    def run(text_: str) -> Any:
        command = parse_command(text_)
        assert command is not None
        return lambda k: first_card(StaffTools(k).run(
            command, audit_rows=sample_rows(), now=SAMPLE_NOW))

    return {
        "staff-kb": run("kb smtp disabled"),
        "staff-kb-common-topics": run("kb"),
        "staff-kb-typo": run("kb secuirty defualts"),
        "staff-ps-mailbox": run(f"ps mailbox {EXAMPLE_UPN}"),
        "staff-ps-tenant": run("ps tenant"),
        "staff-ps-check": run(f"ps check {EXAMPLE_UPN}"),
        "staff-diagnose": run("diagnose 535 5.7.139 Authentication unsuccessful, "
                              "SmtpClientAuthentication is disabled for the Tenant"),
        "staff-diagnose-no-match": run("diagnose the printer says no"),
        "staff-explain-suggestions": run("explain mfa"),
        "staff-stats": run("stats 7"),
        "staff-stats-empty": lambda k: stats_card(k, compute_stats([], now=SAMPLE_NOW, days=30)),
    }
