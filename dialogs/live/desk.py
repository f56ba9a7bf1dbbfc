"""The live-checks desk: what to do when the customer asks, runs the checks, or pastes output.

The desk is the whole policy of the live checks, with no framework in it:

* **requests** (:meth:`LiveChecksDesk.asked`, :meth:`~LiveChecksDesk.sign_in_pressed`,
  :meth:`~LiveChecksDesk.signed_in`): the consent card, the typed address,
  the hourly limit; the answer is a :class:`Next` telling the edge whether to
  sign the customer in and run, and what to say otherwise;
* **a run** (:meth:`~LiveChecksDesk.run`): read who signed in and the
  mailbox first and refuse what is not theirs *before* saying "Checking…" or
  counting the run; then start every check, coalesce the results (the mailbox
  type's requirements from the knowledge file), update one card as they
  arrive (results within ``coalesce_s`` share one update: Teams rate-limits
  edits), and keep the outcome for re-runs, pastes and the handoff;
* **a paste** (:meth:`~LiveChecksDesk.pasted`): PowerShell output read back
  when the Exchange admin endpoint refused, asking only for what is still unread.

What only a person can resolve (causes flagged ``needs_person`` in the
knowledge file) comes back as an :class:`Escalation` in the run's outcome, and as
an :class:`~dialogs.effects.AskPerson` among its effects, which the edge's effect
runner gives to the handoff. The desk talks to the edge only through the
ports in :mod:`dialogs.live.ports`, so it is tested without a ``TurnContext``.
Everything it says is in the conversation's language
(:meth:`~dialogs.live.ports.Conversation.language`); what it keeps for the
agents (:func:`stored_result`, the escalation's detail) is in English.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dialogs.effects import AskPerson, Audit, Count, Effect, Say
from dialogs.i18n import Translator, translator
from dialogs.knowledge import Knowledge
from dialogs.live import phrases
from dialogs.live.cards import RunView, consent_card, results_card
from dialogs.live.intents import typed_mailbox
from dialogs.live.limits import RunLimiter
from dialogs.live.ports import (
    CheckSuite,
    Conversation,
    MailboxUser,
    OtherOrganisation,
    PreflightError,
    RunPlan,
    Screen,
    SignedIn,
    Tenant,
)
from dialogs.live.results import CheckResult, result_from_json, result_to_json
from dialogs.live.switches import (
    CHECK_ID as SWITCHES,
)
from dialogs.live.switches import (
    PastedOutputError,
    looks_like_paste,
    paste_commands,
    read_paste,
    result_from_pasted,
)
from dialogs.live.verdicts import coalesce, counts, failed_causes, needs_person, visible
from dialogs.session import Reply

#: "All results within 12 s" (Teams' 15 s minus posting); each check gets what is left.
RUN_BUDGET_S = 12.0
#: Who signed in, their domains and the mailbox's user: read before anything is said.
PREFLIGHT_S = 4.0
#: Results arriving this close together share one card update.
UPDATE_COALESCE_S = 0.25
#: The counter of check results (by check and result).
CHECKS_COUNTER = "msa_checks_total"
#: The flow's answers to "how does CLOUDEX TMS sign in?" -> the checks' auth method.
AUTH_METHODS: Mapping[str, str] = {"basic": "basic", "app_password": "basic", "oauth": "oauth"}


@dataclass(frozen=True)
class Who:
    """The person asking and the chat they ask in."""

    user_key: str
    chat_tenant: str | None = None


@dataclass(frozen=True)
class Next:
    """What the edge does after a request.

    Attributes:
        replies: What to say (when nothing runs, or as the fallback below).
        run: Run the checks if the customer is signed in; otherwise say ``replies``.
        sign_in: Start a sign-in when the customer is not signed in yet.
    """

    replies: tuple[Reply, ...] = ()
    run: bool = False
    sign_in: bool = False


@dataclass(frozen=True)
class Escalation:
    """Findings only a person can resolve: the handoff's "checks" request, as data."""

    causes: tuple[str, ...]
    detail: str
    checks: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended."""

    started: bool
    refused: bool = False
    results: tuple[CheckResult, ...] = ()
    escalation: Escalation | None = None
    audit: dict[str, Any] = field(default_factory=dict)
    tenant_id: str = ""

    @property
    def tallies(self) -> list[tuple[str, str]]:
        """(check, result) pairs to count: each result, and a refusal as ``tenant_isolation``."""
        pairs = [(r.check_id, str(r.status)) for r in self.results]
        return pairs + ([("tenant_isolation", "refused")] if self.refused else [])

    @property
    def effects(self) -> list[Effect]:
        """What the edge carries out after the run: counts, the escalation, the audit row."""
        found: list[Effect] = [Count(CHECKS_COUNTER, {"check": check, "result": result})
                               for check, result in self.tallies]
        if self.escalation is not None:
            found.append(AskPerson("checks", detail=self.escalation.detail,
                                   checks=self.escalation.checks))
        if self.audit:
            detail = {k: v for k, v in self.audit.items() if k != "kind"}
            found.append(Audit(str(self.audit["kind"]), detail,
                               tenant_id=self.tenant_id or None))
        return found


@dataclass(frozen=True)
class PasteOutcome:
    """What a paste changed."""

    replies: tuple[Reply, ...]
    result: CheckResult | None = None

    @property
    def tallies(self) -> list[tuple[str, str]]:
        """(check, result) pairs to count: the switches read from the paste."""
        return [(self.result.check_id, str(self.result.status))] if self.result else []

    @property
    def effects(self) -> list[Effect]:
        """What the edge carries out: the replies, then the switches' count."""
        return [*(Say(reply) for reply in self.replies),
                *(Count(CHECKS_COUNTER, {"check": check, "result": result})
                  for check, result in self.tallies)]


def stored_result(result: CheckResult) -> dict[str, Any]:
    """A result as the conversation keeps it: its data plus its title and sentence.

    The handoff shows agents the title and the sentence (in English: agents
    read English); the data lets the desk rebuild the card after a paste.

    Args:
        result: The result.

    Returns:
        Plain JSON.
    """
    return {**result_to_json(result), "title": phrases.title_of(result.check_id),
            "evidence": phrases.sentence_of(result)}


def _reply(text: str) -> tuple[Reply, ...]:
    return (Reply(text=text),)


class LiveChecksDesk:
    """The live checks' policy (see the module docstring)."""

    def __init__(
        self,
        knowledge: Knowledge,
        limiter: RunLimiter,
        *,
        configured: bool,
        consent_url: Callable[[str | None], str],
        check_timeout_s: float = 10.0,
        budget_s: float = RUN_BUDGET_S,
        preflight_s: float = PREFLIGHT_S,
        coalesce_s: float = UPDATE_COALESCE_S,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """Create the desk.

        Args:
            knowledge: Fix order, causes, mailbox types.
            limiter: The per-user hourly limit.
            configured: Whether customer sign-in is set up at all.
            consent_url: Tenant id (or None) -> the admin consent URL.
            check_timeout_s: Each check's budget (capped by what the run has left).
            budget_s: The whole run's budget.
            preflight_s: The budget for reading who signed in and the mailbox.
            coalesce_s: Results this close together share one card update.
            clock: Monotonic seconds (tests may pass their own).
        """
        self.knowledge = knowledge
        self.limiter = limiter
        self.configured = configured
        self.consent_url = consent_url
        self.check_timeout_s = check_timeout_s
        self.budget_s = budget_s
        self.preflight_s = preflight_s
        self.coalesce_s = coalesce_s
        self._clock = clock
        # Conversations with a run in progress (this process): a second press waits.
        self._running: set[str] = set()

    # ----- requests ----------------------------------------------------------------------
    def _limited(self, wait: float, tr: Translator) -> tuple[Reply, ...]:
        return _reply(tr.format(phrases.LIMITED, count=self.limiter.per_hour,
                                minutes=phrases.minutes(wait)))

    @staticmethod
    async def _tr(conversation: Conversation) -> Translator:
        """The translator of the conversation's language."""
        return translator(await conversation.language())

    async def asked(self, who: Who, conversation: Conversation) -> Next:
        """The customer asked for the checks ("Check my tenant", "Re-run checks", typed).

        Args:
            who: The person and chat.
            conversation: The conversation's state.

        Returns:
            Run when they consented before and are signed in; otherwise the consent card.
        """
        tr = await self._tr(conversation)
        if not self.configured:
            return Next(_reply(tr(phrases.NOT_SET_UP)))
        wait = await self.limiter.peek(who.user_key)
        if wait is not None:
            return Next(self._limited(wait, tr))
        live = await conversation.live()
        mailbox = live.get("mailbox") or self._flow_mailbox(await conversation.answers())
        consent = (Reply(card=consent_card(mailbox, self.consent_url(who.chat_tenant),
                                           lang=tr.lang)),)
        return Next(consent, run=bool(live.get("consented")))

    async def sign_in_pressed(self, who: Who, conversation: Conversation, typed: object) -> Next:
        """The customer pressed "Sign in and check" (with the mailbox field's value).

        Args:
            who: The person and chat.
            conversation: The conversation's state.
            typed: The mailbox field's value (empty: their own or the flow's mailbox).

        Returns:
            Sign in (or run, when signed in already), or what is wrong.
        """
        tr = await self._tr(conversation)
        text = str(typed or "").strip()
        mailbox = typed_mailbox(text) if text else None
        if text and mailbox is None:
            return Next(_reply(tr(phrases.BAD_ADDRESS)))
        wait = await self.limiter.peek(who.user_key)
        if wait is not None:
            return Next(self._limited(wait, tr))
        live = await conversation.live()
        chosen = mailbox or live.get("mailbox") or self._flow_mailbox(await conversation.answers())

        def remember(state: dict[str, Any]) -> None:
            state.update({"mailbox": chosen, "pending": True, "consented": True})

        await conversation.change(remember)
        if not self.configured:
            return Next(_reply(tr(phrases.NOT_SET_UP)))
        return Next(run=True, sign_in=True)

    async def signed_in(self, conversation: Conversation) -> Next:
        """A sign-in completed (SSO, the sign-in card's code, or a device code).

        Args:
            conversation: The conversation's state.

        Returns:
            Run when a run was waiting for the sign-in; otherwise say so.
        """
        live = await conversation.live()
        if live.get("pending"):
            return Next(run=True)
        return Next(_reply((await self._tr(conversation))(phrases.SIGNED_IN_NO_RUN)))

    @staticmethod
    def _flow_mailbox(answers: Mapping[str, Any]) -> str | None:
        value = answers.get("mailbox")
        return value if isinstance(value, str) and value != "unsure" else None

    # ----- a run --------------------------------------------------------------------------
    async def run(
        self,
        who: Who,
        conversation: Conversation,
        tenant: Tenant,
        suite: CheckSuite,
        screen: Screen,
    ) -> RunOutcome:
        """Run the checks for the signed-in customer, showing results as they arrive.

        Args:
            who: The person and chat.
            conversation: The conversation's state.
            tenant: The signed-in tenant (preflight reads).
            suite: The checks.
            screen: Where to say things and show the card.

        Returns:
            How it ended; its :attr:`~RunOutcome.effects` count, escalate and audit.
        """
        if conversation.key in self._running:
            await screen.show(Reply(text=(await self._tr(conversation))(phrases.STILL_RUNNING)))
            return RunOutcome(started=False)
        self._running.add(conversation.key)
        try:
            return await self._run(who, conversation, tenant, suite, screen)
        finally:
            self._running.discard(conversation.key)

    async def _run(
        self,
        who: Who,
        conversation: Conversation,
        tenant: Tenant,
        suite: CheckSuite,
        screen: Screen,
    ) -> RunOutcome:
        started = self._clock()
        live = await conversation.live()
        answers = await conversation.answers()
        tr = await self._tr(conversation)
        wanted = live.get("mailbox") or self._flow_mailbox(answers)
        token_tenant = tenant.token_tenant()
        if who.chat_tenant and (token_tenant or "").lower() != who.chat_tenant.lower():
            return await self._refuse(screen, tr(phrases.OTHER_ORGANISATION), token_tenant)
        try:
            async with asyncio.timeout(self.preflight_s):
                signed, found = await self._preflight(tenant, wanted)
        except OtherOrganisation:
            return await self._refuse(screen, tr(phrases.OTHER_ORGANISATION), token_tenant)
        except PreflightError as exc:
            reason = phrases.fill(phrases.FINDINGS[exc.finding].text, exc.facts, tr).rstrip(".") \
                if exc.finding in phrases.FINDINGS else exc.finding
            await screen.show(Reply(text=tr.format(phrases.PREFLIGHT_FAILED, reason=reason)))
            return RunOutcome(started=False)
        except TimeoutError:
            await screen.show(Reply(text=tr.format(
                phrases.PREFLIGHT_FAILED, reason=tr(phrases.PREFLIGHT_TIMEOUT))))
            return RunOutcome(started=False)
        target = wanted or signed.user_upn
        if typed_mailbox(target) is None:
            await screen.show(Reply(text=tr.format(
                phrases.NOT_AN_ADDRESS, mailbox=phrases.inert(target))))
            return RunOutcome(started=False)
        domain = target.rsplit("@", 1)[1].lower()
        if domain not in {d.lower() for d in signed.domains}:
            return await self._refuse(
                screen, tr.format(phrases.OUTSIDE_DOMAINS, mailbox=phrases.inert(target)),
                signed.tenant_id)
        if found is None:
            await screen.show(Reply(text=tr.format(
                phrases.MAILBOX_NOT_FOUND, mailbox=phrases.inert(target))))
            return RunOutcome(started=False, tenant_id=signed.tenant_id)
        wait = await self.limiter.take(who.user_key)
        if wait is not None:
            await screen.show(self._limited(wait, tr)[0])
            return RunOutcome(started=False, tenant_id=signed.tenant_id)
        return await self._checks(conversation, answers, signed, found, suite, screen, started,
                                  tr)

    async def _preflight(
        self, tenant: Tenant, wanted: str | None
    ) -> tuple[SignedIn, MailboxUser | None]:
        # Who signed in and the mailbox's user are read together: the lookup only
        # ever reads the signed-in tenant's own directory, whatever the address.
        if wanted is None:
            signed = await tenant.signed_in()
            return signed, MailboxUser(signed.user_upn, signed.user_id)
        signed, found = await asyncio.gather(tenant.signed_in(), tenant.find_mailbox(wanted))
        return signed, found

    async def _refuse(self, screen: Screen, text: str, tenant_id: str | None) -> RunOutcome:
        await screen.show(Reply(text=text))
        return RunOutcome(started=False, refused=True, tenant_id=tenant_id or "",
                          audit={"kind": "live_checks_refused"})

    async def _checks(
        self,
        conversation: Conversation,
        answers: Mapping[str, Any],
        signed: SignedIn,
        found: MailboxUser,
        suite: CheckSuite,
        screen: Screen,
        started: float,
        tr: Translator,
    ) -> RunOutcome:
        auth_method = AUTH_METHODS.get(str(answers.get("auth_method")))
        left = self.budget_s - (self._clock() - started) - 0.5
        plan = RunPlan(
            tenant_id=signed.tenant_id, user_id=signed.user_id, user_upn=signed.user_upn,
            mailbox=found.upn, mailbox_id=found.user_id, domains=signed.domains,
            auth_method=auth_method, timeout_s=max(1.0, min(self.check_timeout_s, left)),
        )
        try:
            stream = suite.start(plan)
        except OtherOrganisation:
            return await self._refuse(screen, tr(phrases.OTHER_ORGANISATION), signed.tenant_id)

        def begin(state: dict[str, Any]) -> None:
            state["pending"] = False
            state["paste"] = {"awaiting": False, "known": {}}

        await conversation.change(begin)
        await screen.show(Reply(text=tr(phrases.CHECKING)))
        expected = list(suite.check_ids())
        raw: list[CheckResult] = []

        def view(done: bool) -> RunView:
            final = coalesce(raw, self.knowledge, auth_method=auth_method)
            return RunView(
                mailbox=found.upn, expected=expected, results=visible(final, done=done),
                done=done, signed_in_as=signed.user_upn,
                elapsed_s=self._clock() - started if done else None,
                paste_lines=self._paste_lines(final, found.upn) if done else (),
                lang=tr.lang,
            )

        card_id = await screen.show(Reply(card=results_card(self.knowledge, view(False))))
        queue: asyncio.Queue[CheckResult | None] = asyncio.Queue()

        async def pump() -> None:
            try:
                async with contextlib.aclosing(stream) as results:
                    async for result in results:
                        queue.put_nowait(result)
            finally:
                queue.put_nowait(None)

        pump_task = asyncio.create_task(pump(), name="check-results")
        try:
            finished = False
            while not finished:
                batch = [await queue.get()]
                await asyncio.sleep(self.coalesce_s)
                while not queue.empty():
                    batch.append(queue.get_nowait())
                finished = None in batch
                raw.extend(r for r in batch if r is not None)
                card_id = await screen.replace(
                    card_id, Reply(card=results_card(self.knowledge, view(finished))))
        finally:
            pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump_task
        final = coalesce(raw, self.knowledge, auth_method=auth_method)
        return await self._finish(conversation, signed, found, expected, final, card_id)

    def _paste_lines(self, results: Sequence[CheckResult], mailbox: str) -> list[str]:
        switches = next((r for r in results if r.check_id == SWITCHES), None)
        return paste_commands(switches, mailbox)

    async def _finish(
        self,
        conversation: Conversation,
        signed: SignedIn,
        found: MailboxUser,
        expected: Sequence[str],
        final: Sequence[CheckResult],
        card_id: str | None,
    ) -> RunOutcome:
        awaiting = bool(self._paste_lines(final, found.upn))

        def finished(state: dict[str, Any]) -> None:
            state["last"] = {
                "tenant_id": signed.tenant_id, "user_id": signed.user_id,
                "user_upn": signed.user_upn, "mailbox": found.upn, "mailbox_id": found.user_id,
                "domains": list(signed.domains), "signed_in_as": signed.user_upn,
                "expected": list(expected), "results": [stored_result(r) for r in final],
                "card_id": card_id,
            }
            state["paste"] = {"awaiting": awaiting, "known": {}}

        await conversation.change(finished)
        causes = [cause for cause, _ in failed_causes(final, self.knowledge)]
        person = needs_person(final, self.knowledge)
        escalation = Escalation(
            causes=tuple(person),
            detail=phrases.ESCALATED_DETAIL.format(causes=", ".join(person)),
            checks=tuple(stored_result(r) for r in final),
        ) if person else None
        audit = {"kind": "live_checks", "causes": causes,
                 "unknown": counts(final).get("unknown", 0)}
        return RunOutcome(started=True, results=tuple(final), escalation=escalation,
                          audit=audit, tenant_id=signed.tenant_id)

    # ----- a paste -------------------------------------------------------------------------
    async def pasted(self, conversation: Conversation, text: str) -> PasteOutcome | None:
        """PowerShell output the customer pasted, when the bot asked for it.

        Args:
            conversation: The conversation's state.
            text: The message.

        Returns:
            The answer (with the updated card), or None when no paste was asked for
            or the text isn't one (the turn goes on to the flow).
        """
        if not looks_like_paste(text):
            return None
        live = await conversation.live()
        paste = live.get("paste") or {}
        if not paste.get("awaiting"):
            return None
        tr = await self._tr(conversation)
        last = live.get("last") or {}
        mailbox = last.get("mailbox")
        if not isinstance(mailbox, str) or not mailbox:
            return PasteOutcome(_reply(tr(phrases.PASTE_RUN_FIRST)))
        known = dict(paste.get("known") or {})
        try:
            values, readable = read_paste(text, known)
        except PastedOutputError:
            return PasteOutcome(_reply(tr.format(phrases.PASTE_CONFLICT,
                                                 mailbox=phrases.inert(mailbox))))
        result = result_from_pasted(values, readable=readable)
        stored = [r for r in (result_from_json(x) for x in last.get("results") or []) if r]
        results = coalesce([*(r for r in stored if r.check_id != SWITCHES), result],
                           self.knowledge)
        still = self._paste_lines(results, mailbox)

        def remember(state: dict[str, Any]) -> None:
            state.setdefault("last", {})["results"] = [stored_result(r) for r in results]
            state["paste"] = {"awaiting": bool(still),
                              "known": {k: v for k, v in values.items()}}

        await conversation.change(remember)
        card = results_card(self.knowledge, RunView(
            mailbox=mailbox, expected=[str(c) for c in last.get("expected") or []],
            results=results, done=True, signed_in_as=last.get("signed_in_as"), pasted=True,
            paste_lines=still, lang=tr.lang))
        said = tr(phrases.PASTE_THANKS if readable else phrases.PASTE_UNREADABLE)
        return PasteOutcome((Reply(text=said, card=card),), result)
