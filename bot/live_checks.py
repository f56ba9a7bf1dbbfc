"""Live checks of the customer's tenant: consent, sign-in, a background run, a live-updated card.

The extension takes a turn when the customer asks for the checks ("Check my
tenant" on the welcome and summary cards, "run checks" typed, "Re-run
checks" on the results card), when they press "Sign in and check" on the
consent card, and when they paste PowerShell output the bot asked for. It
answers the sign-in invokes: ``signin/tokenExchange`` (Teams SSO; 412 when the
token can't be exchanged so Teams falls back to the sign-in card) and
``signin/verifyState`` (the sign-in card's magic code).

Teams gives a request 15 s, the checks take up to 12: the turn answers at
once (typing, "checking…"), the run goes to a background task kept in a
registry (cancelled when the app stops), and the results card is posted
proactively and updated as results arrive. Runs are limited per user per
hour (in the store, so the limit holds across instances) and confined to the
signed-in user's own tenant and its verified domains.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from botbuilder.core import CardFactory, InvokeResponse, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    ActionTypes,
    Activity,
    ActivityTypes,
    CardAction,
    ConversationReference,
    OAuthCard,
)

from bot.auth import DelegatedTokenProvider, MsalAuth, SignInFailed, TokenVault
from bot.conversation import ConversationRecord, conversation_key
from bot.extensions import BotExtension
from bot.identity import tenant_of, user_key_of
from bot.render import to_activity
from bot.store.base import EtagConflict
from bot.token_service import BotTokenService, TokenServiceError
from checks import (
    GRAPH_SCOPE,
    CheckContext,
    CheckResult,
    Endpoints,
    TenantIsolationError,
    TokenUnavailable,
    default_checks,
    run_checks,
)
from checks.exchange import (
    PastedOutputError,
    parse_pasted_output,
    powershell_lines,
    result_from_pasted,
)
from checks.graph import GraphError, me, verified_domains
from dialogs import check_cards
from dialogs.diagnosis import code_to_cause
from dialogs.engine import TurnInput
from dialogs.live import (
    SIGN_IN,
    failed_causes,
    looks_like_paste,
    needs_paste,
    result_from_json,
    result_to_json,
    wants_live_checks,
)
from dialogs.session import Reply
from dialogs.understanding import find_address

if TYPE_CHECKING:
    from bot.services import BotServices

_LOGGER = logging.getLogger(__name__)
Escalate = Callable[..., Awaitable[Any]]

TEAMS = "msteams"
#: "All results within 12 s" (Teams' 15 s minus posting); each check gets what is left.
RUN_BUDGET_S = 12.0
# Findings the customer cannot act on: a mailbox type that can never use SMTP AUTH
# is the flow's dead end, and a blocked sender or tenant needs a Microsoft support
# case, which CLOUDEX support helps to open.
NEEDS_A_PERSON = frozenset({"unsupported_mailbox_type", "sender_blocked"})
PREFLIGHT_S = 4.0
#: Results arriving this close together share one card update (Teams rate-limits edits).
UPDATE_COALESCE_S = 0.25
EXCHANGE_FAILED = "The bot is unable to exchange token. Proceed with regular login."
RATE_WINDOW_S = 3600.0

MSG_CHECKING = "Checking your tenant now… the results will appear here in a few seconds."
MSG_NOT_SET_UP = (
    "Live checks need a sign-in, and sign-in isn't set up for this bot yet. Let's go through "
    "the settings with questions instead: say \"continue\"."
)


class RunLimiter:
    """At most ``per_hour`` check runs per user per sliding hour, kept in the shared store.

    The count lives in the botbuilder ``Storage`` with e-tags, so two instances
    starting runs for one user at the same moment cannot both slip past it.
    """

    def __init__(
        self, storage: Any, per_hour: int, clock: Callable[[], float] = time.time
    ) -> None:
        """Create the limiter.

        Args:
            storage: The store's botbuilder ``Storage`` (e-tag aware).
            per_hour: Runs allowed per user per hour; 0 means no limit.
            clock: Seconds since the epoch (tests may pass their own).
        """
        self._storage = storage
        self.per_hour = per_hour
        self._clock = clock

    @staticmethod
    def _key(user: str) -> str:
        return f"checks-rate/{user}"

    async def _read(self, user: str) -> tuple[list[float], str]:
        key = self._key(user)
        items = await self._storage.read([key])
        raw = items.get(key)
        if not isinstance(raw, dict):
            return [], "new"
        now = self._clock()
        runs = [float(t) for t in raw.get("runs", []) if now - float(t) < RATE_WINDOW_S]
        return runs, str(raw.get("e_tag", "*"))

    def _wait(self, runs: list[float]) -> float | None:
        if self.per_hour <= 0 or len(runs) < self.per_hour:
            return None
        oldest = sorted(runs)[-self.per_hour]
        return max(1.0, RATE_WINDOW_S - (self._clock() - oldest))

    async def peek(self, user: str) -> float | None:
        """Seconds until the user may run the checks again, or None when they may now.

        Args:
            user: The user's key.

        Returns:
            The wait, or None.
        """
        runs, _ = await self._read(user)
        return self._wait(runs)

    async def take(self, user: str) -> float | None:
        """Count one run for the user if allowed.

        Args:
            user: The user's key.

        Returns:
            None when the run was counted; else the seconds to wait.
        """
        if self.per_hour <= 0:
            return None
        for _ in range(5):
            runs, etag = await self._read(user)
            wait = self._wait(runs)
            if wait is not None:
                return wait
            runs.append(self._clock())
            try:
                await self._storage.write({self._key(user): {"runs": runs, "e_tag": etag}})
                return None
            except (EtagConflict, KeyError):
                continue
        return 60.0


def _tenant_of(activity: Activity) -> str | None:
    return tenant_of(activity) or None


def _user_key_of(activity: Activity) -> str:
    return user_key_of(activity)


def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute" + ("" if minutes == 1 else "s")


class LiveChecksExtension(BotExtension):
    """Sign-in, background check runs and the results card (see the module docstring)."""

    def __init__(self, services: BotServices, escalate: Escalate | None = None) -> None:
        """Wire the extension to the app's shared services.

        Args:
            services: Settings, store, adapter, HTTP session, metrics, the engine's knowledge.
            escalate: asks a person to take over (the handoff feature); None = never.
        """
        self.services = services
        self.escalate = escalate
        self.settings = services.settings
        self.knowledge = services.engine.knowledge
        self.auth = MsalAuth(
            services.settings, TokenVault(services.store.kv, services.settings.token_cache_key)
        )
        self.token_service = BotTokenService(
            services.http,
            services.settings.oauth_api_url,
            services.settings.app_id,
            self.auth.bot_app_token,
        )
        self.limiter = RunLimiter(services.store.state, services.settings.check_runs_per_hour)
        # Strong references: asyncio keeps only weak ones to running tasks.
        self._tasks: set[asyncio.Task[Any]] = set()
        self._device_sign_ins: dict[str, Any] = {}
        # The run in progress per conversation (this instance), so a second press waits.
        self._runs: dict[str, asyncio.Task[Any]] = {}

    # ----- BotExtension -----------------------------------------------------------
    async def before_turn(self, turn_context: TurnContext, turn: TurnInput) -> bool:
        """Take the turn when it asks for, signs in to, or answers the live checks."""
        action = turn.action if isinstance(turn.action, Mapping) else None
        if action is not None and action.get("msa") == SIGN_IN:
            await self._on_sign_in_pressed(turn_context, action)
            return True
        if wants_live_checks(turn.text, action):
            await self._on_run_requested(turn_context)
            return True
        if turn.text and looks_like_paste(turn.text):
            live = (await self._load(turn_context.activity))[0].extra.get("live") or {}
            if (live.get("paste") or {}).get("awaiting"):
                await self._on_paste(turn_context, turn.text, live)
                return True
        return False

    async def on_invoke(self, turn_context: TurnContext) -> InvokeResponse | None:
        """Answer ``signin/tokenExchange`` and ``signin/verifyState``."""
        name = turn_context.activity.name
        if name == "signin/tokenExchange":
            return await self._on_token_exchange(turn_context)
        if name == "signin/verifyState":
            return await self._on_verify_state(turn_context)
        return None

    async def close(self) -> None:
        """Cancel running check runs and device sign-ins (the app is stopping)."""
        for sign_in in list(self._device_sign_ins.values()):
            sign_in.cancel()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ----- requests -------------------------------------------------------------------
    async def _on_run_requested(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if not self.auth.configured:
            await turn_context.send_activity(MSG_NOT_SET_UP)
            return
        key = _user_key_of(activity)
        wait = await self.limiter.peek(key)
        if wait is not None:
            await self._say_limited(turn_context, wait)
            return
        record, _ = await self._load(activity)
        live = record.extra.get("live") or {}
        mailbox = live.get("mailbox") or self._flow_mailbox(record)
        if live.get("consented"):
            provider = await self.auth.provider_for(key)
            if provider is not None:
                await self._start_run(turn_context, provider, mailbox)
                return
        await turn_context.send_activity(to_activity(Reply(card=check_cards.consent_card(
            mailbox, self.auth.admin_consent_url(_tenant_of(activity))))))

    async def _on_sign_in_pressed(
        self, turn_context: TurnContext, action: Mapping[str, Any]
    ) -> None:
        activity = turn_context.activity
        typed = str(action.get("mailbox") or "").strip()
        mailbox = find_address(typed) if typed else None
        if typed and mailbox is None:
            await turn_context.send_activity(
                "That doesn't look like a mailbox address I can check. Please type the full "
                "address, for example tms@contoso.com, or leave the field empty to check your "
                "own mailbox.")
            return
        key = _user_key_of(activity)
        wait = await self.limiter.peek(key)
        if wait is not None:
            await self._say_limited(turn_context, wait)
            return
        record, _ = await self._load(activity)
        mailbox = mailbox or (record.extra.get("live") or {}).get("mailbox") or (
            self._flow_mailbox(record))

        def remember(live: dict[str, Any]) -> None:
            live.update({"mailbox": mailbox, "pending": True, "consented": True})

        await self._update(activity, remember)
        provider = await self.auth.provider_for(key)
        if provider is not None:
            await self._start_run(turn_context, provider, mailbox)
            return
        if not self.auth.configured:
            await turn_context.send_activity(MSG_NOT_SET_UP)
            return
        if activity.channel_id == TEAMS:
            await self._teams_sign_in(turn_context, key)
        else:
            await self._device_sign_in(turn_context, key)

    async def _teams_sign_in(self, turn_context: TurnContext, key: str) -> None:
        activity = turn_context.activity
        connection = self.settings.oauth_connection_name
        if not connection:
            await turn_context.send_activity(MSG_NOT_SET_UP)
            return
        try:
            # Signed in through the card before (another conversation): no card needed.
            token = await self.token_service.get_token(
                activity.from_property.id, connection, activity.channel_id)
            if token:
                provider = await self.auth.sign_in_with_assertion(key, token, _tenant_of(activity))
                await self._after_sign_in(turn_context, provider)
                return
            resource = await self.token_service.get_sign_in_resource(connection, activity)
        except (TokenServiceError, SignInFailed) as exc:
            await turn_context.send_activity(
                f"I couldn't start the sign-in ({exc}). Please try again in a minute, or say "
                "\"continue\" to answer the questions instead.")
            return
        oauth = OAuthCard(
            text="Sign in so I can read your Microsoft 365 settings (read-only).",
            connection_name=connection,
            buttons=[CardAction(type=ActionTypes.signin, title="Sign in",
                                value=resource.sign_in_link)],
            # Typed "object" in the schema: the wire shape goes in as it is.
            token_exchange_resource={
                "id": resource.exchange_id, "uri": resource.exchange_uri,
                "providerId": resource.provider_id} if resource.exchange_id else None,
        )
        await turn_context.send_activity(MessageFactory.attachment(CardFactory.oauth_card(oauth)))

    async def _device_sign_in(self, turn_context: TurnContext, key: str) -> None:
        try:
            sign_in = await self.auth.start_device_sign_in(key, [GRAPH_SCOPE])
        except SignInFailed as exc:
            await turn_context.send_activity(
                f"I couldn't start the sign-in ({exc}). Say \"continue\" to answer the "
                "questions instead.")
            return
        previous = self._device_sign_ins.pop(key, None)
        if previous is not None:
            previous.cancel()
        self._device_sign_ins[key] = sign_in
        await turn_context.send_activity(sign_in.message)
        reference = TurnContext.get_conversation_reference(turn_context.activity)

        async def wait_then_run() -> None:
            try:
                provider = await sign_in.wait()
            except SignInFailed as exc:
                message = (f"The sign-in didn't complete ({exc}). Say \"check my tenant\" to "
                           "try again, or \"continue\" for the questions.")
                await self._proactive(reference, lambda tc: tc.send_activity(message))
                return
            finally:
                if self._device_sign_ins.get(key) is sign_in:
                    del self._device_sign_ins[key]

            async def run(tc: TurnContext) -> None:
                await self._after_sign_in(tc, provider)

            await self._proactive(reference, run)

        self._spawn(wait_then_run(), "device-sign-in")

    # ----- invokes -------------------------------------------------------------------
    async def _on_token_exchange(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        value = activity.value if isinstance(activity.value, dict) else {}
        exchange_id = str(value.get("id") or "")
        connection = str(value.get("connectionName") or self.settings.oauth_connection_name)
        token = value.get("token")
        key = _user_key_of(activity)
        try:
            if not isinstance(token, str) or not token:
                raise SignInFailed("no token in the exchange request")
            provider = await self.auth.sign_in_with_assertion(key, token, _tenant_of(activity))
        except SignInFailed as exc:
            # Every Teams client gets the 412, so each falls back to the sign-in card.
            _LOGGER.info("sso exchange refused", extra={"reason": str(exc)})
            return InvokeResponse(status=412, body={
                "id": exchange_id, "connectionName": connection, "failureDetail": EXCHANGE_FAILED})
        if not await self._first_exchange(exchange_id):
            # Another Teams client of the same user already delivered this exchange.
            return InvokeResponse(status=200, body={"id": exchange_id,
                                                    "connectionName": connection})
        await self._after_sign_in(turn_context, provider)
        return InvokeResponse(status=200, body={"id": exchange_id, "connectionName": connection})

    async def _on_verify_state(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        value = activity.value if isinstance(activity.value, dict) else {}
        code = str(value.get("state") or "")
        connection = self.settings.oauth_connection_name
        key = _user_key_of(activity)
        try:
            token = await self.token_service.get_token(
                activity.from_property.id, connection, activity.channel_id, code
            ) if connection and code else None
            if not token:
                raise SignInFailed("the sign-in was not completed")
            provider = await self.auth.sign_in_with_assertion(key, token, _tenant_of(activity))
        except (SignInFailed, TokenServiceError) as exc:
            await turn_context.send_activity(
                f"The sign-in didn't work ({exc}). Press \"Check my tenant\" to try again, or "
                "say \"continue\" to answer the questions instead.")
            return InvokeResponse(status=200)
        await self._after_sign_in(turn_context, provider)
        return InvokeResponse(status=200)

    async def _first_exchange(self, exchange_id: str) -> bool:
        """True the first time an exchange id is seen, across instances (e-tag "new")."""
        digest = hashlib.sha256(exchange_id.encode("utf-8")).hexdigest()[:40]
        try:
            await self.services.store.state.write(
                {f"sso-exchange/{digest}": {"at": time.time(), "e_tag": "new"}})
        except (EtagConflict, KeyError):
            return False
        return True

    async def _after_sign_in(
        self, turn_context: TurnContext, provider: DelegatedTokenProvider
    ) -> None:
        activity = turn_context.activity
        record, _ = await self._load(activity)
        live = record.extra.get("live") or {}
        if not live.get("pending"):
            await turn_context.send_activity(
                "You're signed in. Say \"check my tenant\" when you want me to run the checks.")
            return
        await self._start_run(turn_context, provider, live.get("mailbox"))

    # ----- the run ---------------------------------------------------------------------
    async def _start_run(
        self, turn_context: TurnContext, provider: DelegatedTokenProvider, mailbox: str | None
    ) -> None:
        activity = turn_context.activity
        running = self._runs.get(self._key(activity))
        if running is not None and not running.done():
            await turn_context.send_activity(
                "The checks are still running; the results card above updates as they finish.")
            return
        wait = await self.limiter.take(_user_key_of(activity))
        if wait is not None:
            await self._say_limited(turn_context, wait)
            return

        def started(live: dict[str, Any]) -> None:
            live["pending"] = False
            live["paste"] = {"awaiting": False, "known": {}}

        record = await self._update(activity, started)
        await turn_context.send_activities([Activity(type=ActivityTypes.typing),
                                            MessageFactory.text(MSG_CHECKING)])
        reference = TurnContext.get_conversation_reference(activity)
        answers = ((record.snapshot or {}).get("facts") or {}).get("answers") or {}
        auth_method = {"basic": "basic", "app_password": "basic", "oauth": "oauth"}.get(
            str(answers.get("auth_method")))

        async def run(tc: TurnContext) -> None:
            await self._run(tc, provider, mailbox, _tenant_of(activity), auth_method)

        self._runs[self._key(activity)] = self._spawn(self._proactive(reference, run), "check-run")

    async def _run(
        self,
        turn_context: TurnContext,
        provider: DelegatedTokenProvider,
        mailbox: str | None,
        activity_tenant: str | None,
        auth_method: str | None,
    ) -> None:
        started = time.perf_counter()
        http = self.services.http
        token_tenant = provider.token_tenant()
        if activity_tenant and (token_tenant or "").lower() != activity_tenant.lower():
            await self._refuse(turn_context, TenantIsolationError(
                "You signed in with an account from another organisation than this chat's. "
                "I only check the tenant you are signed in to from your own organisation, so "
                "please sign in with an account of this organisation."))
            return
        tenant = activity_tenant or token_tenant or ""
        try:
            async with asyncio.timeout(PREFLIGHT_S):
                user, domains = await asyncio.gather(
                    me(http, provider, graph_url=self.settings.graph_url),
                    verified_domains(http, provider, graph_url=self.settings.graph_url,
                                     tenant_id=tenant))
        except TenantIsolationError as exc:
            await self._refuse(turn_context, exc)
            return
        except (GraphError, TokenUnavailable, TimeoutError) as exc:
            reason = "Microsoft Graph did not answer in time" if isinstance(
                exc, TimeoutError) else str(exc)
            await turn_context.send_activity(
                f"I couldn't read your tenant ({reason}). Say \"check my tenant\" to try again, "
                "or \"continue\" to answer the questions instead.")
            return
        target = mailbox or user.user_principal_name
        left = RUN_BUDGET_S - (time.perf_counter() - started) - 0.5
        try:
            context = CheckContext(
                tenant_id=tenant, user_id=user.id, user_upn=user.user_principal_name,
                mailbox_upn=target, verified_domains=domains, auth_method=auth_method,
                endpoints=Endpoints(
                    graph_url=self.settings.graph_url,
                    exchange_admin_url=self.settings.exchange_admin_url,
                    smtp_host=self.settings.smtp_host, smtp_port=self.settings.smtp_port),
                timeout_s=max(1.0, min(self.settings.check_timeout_seconds, left)),
            )
        except ValueError:
            await turn_context.send_activity(
                f"I can't check \"{target}\": it is not a plain mailbox address.")
            return
        checks = default_checks(
            http, provider, ssl_context_factory=self._ssl_context,
            map_error=lambda code: code_to_cause(code, self.knowledge))
        try:
            results_iter = run_checks(context, checks, token_tenant_id=token_tenant or tenant)
        except TenantIsolationError as exc:
            await self._refuse(turn_context, exc)
            return
        expected = [(c.check_id, c.title) for c in checks]
        results: list[CheckResult] = []

        def view(done: bool) -> check_cards.RunView:
            return check_cards.RunView(
                mailbox=target, expected=expected, results=list(results), done=done,
                signed_in_as=user.user_principal_name,
                elapsed_s=time.perf_counter() - started if done else None,
                paste_lines=powershell_lines(context) if done and needs_paste(results) else (),
            )

        sent = await turn_context.send_activity(self._card(view(False)))
        card_id = sent.id if sent is not None else None
        queue: asyncio.Queue[CheckResult | None] = asyncio.Queue()

        async def pump() -> None:
            try:
                async with contextlib.aclosing(results_iter) as stream:
                    async for result in stream:
                        queue.put_nowait(result)
            finally:
                queue.put_nowait(None)

        pump_task = asyncio.create_task(pump(), name="check-results")
        try:
            finished = False
            while not finished:
                item = await queue.get()
                await asyncio.sleep(UPDATE_COALESCE_S)
                batch = [item]
                while not queue.empty():
                    batch.append(queue.get_nowait())
                for result in batch:
                    if result is None:
                        finished = True
                        continue
                    results.append(result)
                    self.services.metrics.inc(
                        "msa_checks_total", check=result.check_id, result=str(result.status))
                await self._update_card(turn_context, card_id, view(finished))
        finally:
            pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump_task

        paste = needs_paste(results)

        def finished_run(live: dict[str, Any]) -> None:
            live["last"] = {
                "tenant_id": tenant, "user_id": user.id, "user_upn": user.user_principal_name,
                "mailbox": target, "domains": list(domains), "signed_in_as":
                user.user_principal_name, "expected": [list(e) for e in expected],
                "results": [result_to_json(r) for r in results], "card_id": card_id,
            }
            live["paste"] = {"awaiting": paste, "known": {}}

        await self._update(turn_context.activity, finished_run)
        needs_person = sorted({cause for cause, _ in failed_causes(results, self.knowledge)
                               if cause in NEEDS_A_PERSON})
        if needs_person and self.escalate is not None:
            # The customer cannot act on these (only Microsoft or CLOUDEX support can).
            await self.escalate(turn_context, "checks", checks=results,
                                detail="Live checks found: " + ", ".join(needs_person))
        await self._audit(turn_context.activity, "live_checks", {
            "causes": [c for c, _ in failed_causes(results, self.knowledge)],
            "unknown": sum(1 for r in results if r.status == "unknown"),
        }, tenant)

    async def _on_paste(
        self, turn_context: TurnContext, text: str, live: Mapping[str, Any]
    ) -> None:
        last = live.get("last") or {}
        try:
            context = CheckContext(
                tenant_id=str(last["tenant_id"]), user_id=str(last["user_id"]),
                user_upn=str(last["user_upn"]), mailbox_upn=str(last["mailbox"]),
                verified_domains=tuple(last.get("domains") or ()))
        except (KeyError, ValueError):
            await turn_context.send_activity("Please run the checks again first: say "
                                             "\"check my tenant\".")
            return
        known = dict((live.get("paste") or {}).get("known") or {})
        try:
            result = result_from_pasted(text, context, known=known)
            parsed = parse_pasted_output(text)
        except PastedOutputError as exc:
            await turn_context.send_activity(str(exc))
            return
        if "unattributed" in parsed:
            missing = [k for k in ("tenant", "mailbox") if k not in known and k not in parsed]
            if len(missing) == 1:
                parsed[missing[0]] = parsed.pop("unattributed")
        known.update({k: v for k, v in parsed.items() if k in ("tenant", "mailbox")})
        stored = [r for r in (result_from_json(x) for x in last.get("results") or []) if r]
        results = [r for r in stored if r.check_id != result.check_id] + [result]
        still = needs_paste(results)
        self.services.metrics.inc("msa_checks_total", check=result.check_id,
                                  result=str(result.status))
        expected = [(str(c), str(t)) for c, t in last.get("expected") or []]
        card = check_cards.results_card(self.knowledge, check_cards.RunView(
            mailbox=context.mailbox_upn, expected=expected, results=results, done=True,
            signed_in_as=last.get("signed_in_as"), pasted=True,
            paste_lines=powershell_lines(context) if still else ()))

        def pasted(live_state: dict[str, Any]) -> None:
            live_state.setdefault("last", {})["results"] = [result_to_json(r) for r in results]
            live_state["paste"] = {"awaiting": still, "known": known}

        await self._update(turn_context.activity, pasted)
        await turn_context.send_activity(to_activity(Reply(
            text="Thanks, I read the SMTP AUTH switches from your paste.", card=card)))

    # ----- helpers ---------------------------------------------------------------------
    def _card(self, view: check_cards.RunView) -> Activity:
        return to_activity(Reply(card=check_cards.results_card(self.knowledge, view)))

    async def _update_card(
        self, turn_context: TurnContext, card_id: str | None, view: check_cards.RunView
    ) -> None:
        activity = self._card(view)
        if card_id is None:
            await turn_context.send_activity(activity)
            return
        activity.id = card_id
        try:
            await turn_context.update_activity(activity)
        except Exception:  # an edit refused (old message, rate limit): post it instead
            _LOGGER.warning("results card update failed; posting a new card", exc_info=True)
            await turn_context.send_activity(self._card(view))

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.settings.tls_ca_file:
            context.load_verify_locations(self.settings.tls_ca_file)
        if not self.settings.smtp_tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    async def _refuse(self, turn_context: TurnContext, exc: TenantIsolationError) -> None:
        self.services.metrics.inc("msa_checks_total", check="tenant_isolation", result="refused")
        await turn_context.send_activity(f"I won't run these checks: {exc}")
        await self._audit(turn_context.activity, "live_checks_refused", {}, _tenant_of(
            turn_context.activity))

    async def _say_limited(self, turn_context: TurnContext, wait: float) -> None:
        await turn_context.send_activity(
            f"You've run the live checks {self.limiter.per_hour} times in the last hour, which "
            f"is the limit. Please try again in about {_minutes(wait)}; meanwhile I can go "
            "through the settings with questions (say \"continue\").")

    async def _proactive(
        self, reference: ConversationReference, callback: Callable[[TurnContext], Any]
    ) -> None:
        adapter = self.services.adapter
        if isinstance(adapter, CloudAdapter):
            await adapter.continue_conversation(reference, callback,
                                                bot_app_id=self.settings.app_id)
        else:  # the terminal chat's adapter
            await adapter.continue_conversation(reference, callback)

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            self._tasks.discard(finished)
            for key, run in list(self._runs.items()):
                if run is finished:
                    del self._runs[key]
            if not finished.cancelled() and finished.exception() is not None:
                _LOGGER.error("%s failed", name, exc_info=finished.exception())

        task.add_done_callback(done)
        return task

    async def _load(self, activity: Activity) -> tuple[ConversationRecord, str | None]:
        return await self.services.conversations.load(self._key(activity))

    async def _update(
        self, activity: Activity, mutate: Callable[[dict[str, Any]], None]
    ) -> ConversationRecord:
        """Change the conversation's live-check state, with the store's e-tag retries."""
        holder: dict[str, ConversationRecord] = {}

        def step(record: ConversationRecord) -> None:
            live = record.extra.setdefault("live", {})
            mutate(live)
            holder["record"] = record

        await self.services.conversations.run_turn(self._key(activity), step, None)
        return holder["record"]

    @staticmethod
    def _key(activity: Activity) -> str:
        return conversation_key(activity.channel_id or "unknown", activity.conversation.id)

    @staticmethod
    def _flow_mailbox(record: ConversationRecord) -> str | None:
        answers = ((record.snapshot or {}).get("facts") or {}).get("answers") or {}
        value = answers.get("mailbox")
        return value if isinstance(value, str) and value != "unsure" else None

    async def _audit(
        self, activity: Activity, kind: str, detail: dict[str, Any], tenant: str | None
    ) -> None:
        try:
            await self.services.store.audit.append(
                kind, conversation_id=activity.conversation.id if activity.conversation else None,
                tenant_id=tenant or "", detail=detail)
        except Exception:  # auditing must never break a run
            _LOGGER.warning("audit append failed", exc_info=True)
