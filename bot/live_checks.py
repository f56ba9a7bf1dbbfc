"""The live checks' edge: Teams sign-in, background runs, the desk's ports on Bot Framework.

The policy is the desk's (:mod:`dialogs.live.desk`); this adapter turns turns into desk
calls. Sign-in stays here: Teams SSO (``signin/tokenExchange``; 412 when the token can't
be exchanged, so Teams falls back to the card), the card's magic code (``signin/verifyState``)
and the device code outside Teams, all ending in MSAL (:mod:`bot.auth`). A run is a
background task speaking proactively; what it ends with (counts, the audit row and,
for what only a person can resolve, :class:`~dialogs.effects.AskPerson`) are effects
that :mod:`bot.effects` runs — the handoff is never called from here.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botbuilder.core import CardFactory, InvokeResponse, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import ActionTypes, Activity, ActivityTypes, CardAction, OAuthCard

from bot.auth import DelegatedTokenProvider, MsalAuth, SignInFailed, TokenVault
from bot.conversation import ConversationRecord, conversation_key
from bot.extensions import BotExtension
from bot.identity import tenant_of, user_key_of
from bot.render import to_activity
from bot.store.base import EtagConflict
from bot.tls import smtp_ssl_context_factory
from bot.token_service import BotTokenService, TokenServiceError
from checks import GRAPH_SCOPE, Endpoints
from checks.suite import GraphTenant, LiveSuite
from dialogs import store_keys
from dialogs.diagnosis import code_to_cause
from dialogs.engine import TurnInput, conversation_language
from dialogs.i18n import Translator, translator
from dialogs.live import phrases
from dialogs.live.desk import LiveChecksDesk, Next, Who
from dialogs.live.intents import SIGN_IN, wants_live_checks
from dialogs.live.limits import RunLimiter
from dialogs.session import Reply

if TYPE_CHECKING:
    from bot.services import BotServices

_LOGGER = logging.getLogger(__name__)
TEAMS = "msteams"
EXCHANGE_FAILED = "The bot is unable to exchange token. Proceed with regular login."


def _tenant_of(activity: Activity) -> str | None:
    return tenant_of(activity) or None


def _who(activity: Activity) -> Who:
    return Who(user_key_of(activity), _tenant_of(activity))


async def _write_if(storage: Any, key: str, value: dict[str, Any], version: str) -> bool:
    """Write ``value`` only if nobody wrote ``key`` since ``version`` ("new": nobody ever)."""
    try:
        await storage.write({key: {**value, "e_tag": version}})
    except (EtagConflict, KeyError):
        return False
    return True


@dataclass
class _StoreRunLog:
    """Run times in the botbuilder ``Storage``, written with e-tags (compare-and-set)."""

    _storage: Any

    async def read(self, key: str) -> tuple[list[float], str]:
        raw = (await self._storage.read([key])).get(key)
        raw = raw if isinstance(raw, dict) else {"e_tag": "new"}
        return [float(t) for t in raw.get("runs", [])], str(raw.get("e_tag", "*"))

    async def write(self, key: str, runs: list[float], version: str) -> bool:
        return await _write_if(self._storage, key, {"runs": runs}, version)


class _Chat:
    """One conversation, for the desk: its stored live-check state and the customer's screen."""

    def __init__(self, services: BotServices, turn_context: TurnContext) -> None:
        activity, self._services, self._turn = turn_context.activity, services, turn_context
        self.key = conversation_key(activity.channel_id or "unknown", activity.conversation.id)

    async def _record(self) -> ConversationRecord:
        return (await self._services.conversations.load(self.key))[0]

    async def live(self) -> dict[str, Any]:
        return dict((await self._record()).extra.get("live") or {})

    async def answers(self) -> Mapping[str, Any]:
        return ((await self._record()).snapshot or {}).get("facts", {}).get("answers") or {}

    async def language(self) -> str:
        return conversation_language((await self._record()).snapshot, self._turn.activity.locale)

    async def translator(self) -> Translator:
        return translator(await self.language())

    async def change(self, mutate: Callable[[dict[str, Any]], None]) -> None:
        await self._services.conversations.run_turn(
            self.key, lambda record: mutate(record.extra.setdefault("live", {})), None)

    async def show(self, reply: Reply) -> str | None:
        sent = await self._turn.send_activity(to_activity(reply))
        return sent.id if sent is not None else None

    async def replace(self, message_id: str | None, reply: Reply) -> str | None:
        if message_id is not None:
            activity = to_activity(reply)
            activity.id = message_id
            try:
                await self._turn.update_activity(activity)
                return message_id
            except Exception:  # an edit refused (old message, rate limit): post it instead
                _LOGGER.warning("results card update failed; posting a new card", exc_info=True)
        return await self.show(reply)


class LiveChecksExtension(BotExtension):
    """Sign-in flows and background runs around the live-checks desk."""

    def __init__(self, services: BotServices) -> None:
        """Wire the extension to the app's services."""
        self.services, self.settings = services, services.settings
        self.auth = MsalAuth(self.settings, TokenVault(services.store.kv,
                                                       self.settings.token_cache_key))
        self.token_service = BotTokenService(services.http, self.settings.oauth_api_url,
                                             self.settings.app_id, self.auth.bot_app_token)
        self.desk = LiveChecksDesk(
            services.engine.knowledge,
            RunLimiter(_StoreRunLog(services.store.state), self.settings.check_runs_per_hour),
            configured=self.auth.configured, consent_url=self.auth.admin_consent_url,
            check_timeout_s=self.settings.check_timeout_seconds)
        # Strong references: asyncio keeps only weak ones to running tasks.
        self._tasks: set[asyncio.Task[Any]] = set()

    async def before_turn(self, turn_context: TurnContext, turn: TurnInput) -> bool:
        """Take the turn when it asks for, signs in to, or answers the live checks."""
        chat = _Chat(self.services, turn_context)
        action = turn.action if isinstance(turn.action, Mapping) else None
        if action is not None and action.get("msa") == SIGN_IN:
            await self._follow(turn_context, await self.desk.sign_in_pressed(
                _who(turn_context.activity), chat, action.get("mailbox")))
        elif wants_live_checks(turn.text, action):
            await self._follow(turn_context,
                               await self.desk.asked(_who(turn_context.activity), chat))
        elif turn.text and (pasted := await self.desk.pasted(chat, turn.text)):
            await self.services.effects.run(pasted.effects, turn_context)
        else:
            return False
        return True

    async def on_invoke(self, turn_context: TurnContext) -> InvokeResponse | None:
        """Answer ``signin/tokenExchange`` and ``signin/verifyState``."""
        handler = {"signin/tokenExchange": self._on_token_exchange,
                   "signin/verifyState": self._on_verify_state}.get(turn_context.activity.name)
        return await handler(turn_context) if handler else None

    async def close(self) -> None:
        """Cancel running check runs and device sign-ins (the app is stopping)."""
        self.auth.cancel_device_sign_ins()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _follow(self, turn_context: TurnContext, nxt: Next) -> None:
        who = _who(turn_context.activity)
        provider = await self.auth.provider_for(who.user_key) if nxt.run else None
        if provider is not None:
            await self._start_run(turn_context, provider)
        elif nxt.run and nxt.sign_in:
            await self._sign_in(turn_context)
        else:
            await self._say(turn_context, nxt.replies)

    @staticmethod
    async def _say(turn_context: TurnContext, replies: Sequence[Reply]) -> None:
        if replies:
            await turn_context.send_activities([to_activity(r) for r in replies])

    async def _start_run(self, turn_context: TurnContext, provider: DelegatedTokenProvider
                         ) -> None:
        activity = turn_context.activity
        # Typing now; the checks' first words come once the desk knows the run is allowed.
        await turn_context.send_activity(Activity(type=ActivityTypes.typing))
        reference, who = TurnContext.get_conversation_reference(activity), _who(activity)
        s, knowledge, tid = self.settings, self.services.engine.knowledge, provider.token_tenant()
        tenant = GraphTenant(self.services.http, provider, tid, graph_url=s.graph_url)
        suite = LiveSuite(
            self.services.http, provider, tid, ssl_context_factory=smtp_ssl_context_factory(s),
            endpoints=Endpoints(graph_url=s.graph_url, exchange_admin_url=s.exchange_admin_url,
                                smtp_host=s.smtp_host, smtp_port=s.smtp_port),
            map_error=lambda code: code_to_cause(code, knowledge))

        async def run(tc: TurnContext) -> None:
            chat = _Chat(self.services, tc)
            outcome = await self.desk.run(who, chat, tenant, suite, chat)
            await self.services.effects.run(outcome.effects, tc, tenant_id=_tenant_of(
                tc.activity), conversation_id=tc.activity.conversation.id)

        self._spawn(self._proactive(reference, run), "check-run")

    async def _sign_in(self, turn_context: TurnContext) -> None:
        activity, connection = turn_context.activity, self.settings.oauth_connection_name
        if activity.channel_id != TEAMS:
            await self._device_sign_in(turn_context)
            return
        tr = await _Chat(self.services, turn_context).translator()
        if not connection:
            await turn_context.send_activity(tr(phrases.NOT_SET_UP))
            return
        try:
            # Signed in through the card before (another conversation): no card needed.
            provider = await self._card_sign_in(activity)
            if provider is not None:
                await self._after_sign_in(turn_context, provider=provider)
                return
            resource = await self.token_service.get_sign_in_resource(connection, activity)
        except (TokenServiceError, SignInFailed) as exc:
            await turn_context.send_activity(tr.format(phrases.SIGN_IN_START_FAILED, reason=exc))
            return
        exchange = {"id": resource.exchange_id, "uri": resource.exchange_uri,
                    "providerId": resource.provider_id} if resource.exchange_id else None
        oauth = OAuthCard(text=tr(phrases.SIGN_IN_CARD_TEXT), connection_name=connection,
                          buttons=[CardAction(type=ActionTypes.signin,
                                              title=tr(phrases.SIGN_IN_BUTTON),
                                              value=resource.sign_in_link)],
                          token_exchange_resource=exchange)  # "object" in the schema: as is
        await turn_context.send_activity(MessageFactory.attachment(CardFactory.oauth_card(oauth)))

    async def _device_sign_in(self, turn_context: TurnContext) -> None:
        tr = await _Chat(self.services, turn_context).translator()
        try:
            sign_in = await self.auth.start_device_sign_in(
                _who(turn_context.activity).user_key, [GRAPH_SCOPE])
        except SignInFailed as exc:
            await turn_context.send_activity(tr.format(phrases.SIGN_IN_START_FAILED, reason=exc))
            return
        await turn_context.send_activity(sign_in.message)
        reference = TurnContext.get_conversation_reference(turn_context.activity)

        async def wait_then_run() -> None:
            callback: Callable[[TurnContext], Any]
            try:
                provider = await sign_in.wait()
                callback = functools.partial(self._after_sign_in, provider=provider)
            except SignInFailed as exc:
                text = tr.format(phrases.DEVICE_SIGN_IN_FAILED, reason=exc)
                callback = functools.partial(TurnContext.send_activity, activity_or_text=text)
            await self._proactive(reference, callback)

        self._spawn(wait_then_run(), "device-sign-in")

    async def _on_token_exchange(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        value = activity.value if isinstance(activity.value, dict) else {}
        exchange_id = str(value.get("id") or "")
        connection = str(value.get("connectionName") or self.settings.oauth_connection_name)
        token, answer = value.get("token"), {"id": exchange_id, "connectionName": connection}
        try:
            if not isinstance(token, str) or not token:
                raise SignInFailed("no token in the exchange request")
            provider = await self._assert(activity, token)
        except SignInFailed as exc:
            # Every Teams client gets the 412, so each falls back to the sign-in card.
            _LOGGER.info("sso exchange refused", extra={"reason": str(exc)})
            return InvokeResponse(status=412, body={**answer, "failureDetail": EXCHANGE_FAILED})
        # Another Teams client of the same user may already have delivered this exchange:
        # the first one to store its id (e-tag "new", across instances) runs the checks.
        digest = hashlib.sha256(exchange_id.encode("utf-8")).hexdigest()[:40]
        if await _write_if(self.services.store.state, store_keys.sign_in_exchange(digest),
                           {"at": time.time()}, "new"):
            await self._after_sign_in(turn_context, provider=provider)
        return InvokeResponse(status=200, body=answer)

    async def _on_verify_state(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        value = activity.value if isinstance(activity.value, dict) else {}
        code = str(value.get("state") or "")
        try:
            provider = await self._card_sign_in(activity, code) if code else None
            if provider is None:
                raise SignInFailed("the sign-in was not completed")
        except (SignInFailed, TokenServiceError) as exc:
            tr = await _Chat(self.services, turn_context).translator()
            await turn_context.send_activity(tr.format(phrases.SIGN_IN_FAILED, reason=exc))
            return InvokeResponse(status=200)
        await self._after_sign_in(turn_context, provider=provider)
        return InvokeResponse(status=200)

    async def _assert(self, activity: Activity, token: str) -> DelegatedTokenProvider:
        """Sign the user in on behalf of them with a token for the bot's API (SSO or the card)."""
        return await self.auth.sign_in_with_assertion(_who(activity).user_key, token,
                                                      _tenant_of(activity))

    async def _card_sign_in(self, activity: Activity, code: str = ""
                            ) -> DelegatedTokenProvider | None:
        """The OAuth connection's token for this user (after the magic code), signed in; or None."""
        connection = self.settings.oauth_connection_name
        if not connection:
            return None
        token = await self.token_service.get_token(
            activity.from_property.id, connection, activity.channel_id, code)
        return await self._assert(activity, token) if token else None

    async def _after_sign_in(self, turn_context: TurnContext, *,
                             provider: DelegatedTokenProvider) -> None:
        nxt = await self.desk.signed_in(_Chat(self.services, turn_context))
        if nxt.run:
            await self._start_run(turn_context, provider)
        else:
            await self._say(turn_context, nxt.replies)

    async def _proactive(self, reference: Any, callback: Callable[[TurnContext], Any]) -> None:
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
            if not finished.cancelled() and finished.exception() is not None:
                _LOGGER.error("%s failed", name, exc_info=finished.exception())

        task.add_done_callback(done)
        return task
