"""The fast turn path: pooled clients, one shared aiohttp session, the SDK's wire behaviour.

Replies travel over HTTP to the local Bot Connector. The SDK's own transport
(msrest over ``requests``, used when the adapter has no session) is the
reference: the fast path must send the same JSON (the same members in the
same order; the fast path writes it compactly in UTF-8, msrest with spaces
and ASCII escapes) to the same URLs, route replies and updates the same way
and raise the same errors.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import jwt
import pytest
from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ConversationAccount, ConversationReference
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import MicrosoftAppCredentials
from botframework.connector.models import ErrorResponseException
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapter import (
    SORRY,
    ConnectorSender,
    FastCloudAdapter,
    build_adapter,
    quote_segment,
    send_replies,
)
from bot.keys import ADAPTER_KEY
from bot.render import to_activity
from bot.settings import Settings
from dialogs.gallery import sample_cards
from dialogs.session import Reply
from tests.support.connector import LocalConnector, ReceivedActivity
from tests.support.harness import Chat, texts
from tests.support.identity import LocalIdentity
from tests.support.teams import activity as teams_activity
from tests.support.threaded import ThreadedServers

PASTED = ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled "
          "for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.")
CHANNEL_CONVERSATION = "19:7f1c2a@thread.tacv2;messageid=1732788471999"


def reference(connector: LocalConnector, conversation_id: str = "a:proactive-1",
              activity_id: str | None = "1732788471123") -> ConversationReference:
    """A stored conversation reference pointing at the local connector."""
    return ConversationReference(
        activity_id=activity_id, channel_id="msteams", service_url=connector.url,
        conversation=ConversationAccount(id=conversation_id, conversation_type="personal",
                                         tenant_id="8d6a7f2c-1b3e-4c5d-9e8f-0a1b2c3d4e5f"),
        bot={"id": "28:bot", "name": "Mail Setup Assistant"},
        user={"id": "29:user", "name": "Alex Wilber"}, locale="en-US")


def same_json(ours: bytes, theirs: bytes) -> bool:
    """True when two bodies hold the same JSON, member order included."""
    def pairs(raw: bytes) -> Any:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=list)

    return pairs(ours) == pairs(theirs)


async def proactive(adapter: FastCloudAdapter, ref: ConversationReference,
                    logic: Callable[[TurnContext], Awaitable[Any]]) -> None:
    """Run ``logic`` in a proactive turn, as handoff and live checks do."""
    await adapter.continue_conversation(ref, logic, bot_app_id=None)


async def both_transports(connector: LocalConnector,
                          logic: Callable[[TurnContext], Awaitable[Any]],
                          ref: ConversationReference | None = None,
                          ) -> tuple[list[ReceivedActivity], list[ReceivedActivity]]:
    """Run ``logic`` once over the shared session and once over the SDK's transport.

    A proactive turn's activity gets a fresh id (the SDK's uuid), which replies
    carry as replyToId; it is replaced by ``<turn>`` so the two runs compare.
    """
    adapter = build_adapter(Settings(storage_url="memory://"))
    results = []
    async with aiohttp.ClientSession() as session:
        for use in (session, None):
            adapter.use_http_session(use)
            connector.clear()
            turn_ids: list[str] = []

            async def recording(turn_context: TurnContext, turn_ids: list[str] = turn_ids) -> None:
                turn_ids.append(turn_context.activity.id)
                await logic(turn_context)

            await proactive(adapter, ref or reference(connector), recording)
            turn_id = turn_ids[0]
            results.append([replace(r, raw_path=r.raw_path.replace(turn_id, "<turn>"),
                                    raw_body=r.raw_body.replace(turn_id.encode(), b"<turn>"))
                            for r in connector.received])
    return results[0], results[1]


# ----- the wire: same bytes, same URLs, same routing ------------------------------------
async def test_replies_are_the_json_the_sdk_sends_to_the_url_it_uses(
        connector: LocalConnector) -> None:
    cards = list(sample_cards().values())[:8]

    async def logic(turn_context: TurnContext) -> None:
        await turn_context.send_activity("plain text with ünïcode ✓")
        for card in cards:
            await turn_context.send_activities([to_activity(Reply(text="**x**", card=card))])

    for conversation_id in ("a:1Yj2lE0r_personal", CHANNEL_CONVERSATION):
        fast, sdk = await both_transports(connector, logic, reference(connector, conversation_id))
        assert len(fast) == len(sdk) == len(cards) + 1
        for ours, theirs in zip(fast, sdk, strict=True):
            assert (ours.method, ours.raw_path) == (theirs.method, theirs.raw_path)
            assert same_json(ours.raw_body, theirs.raw_body)
            assert ours.authorization is None and theirs.authorization is None
        assert fast[0].raw_path.endswith("/activities/<turn>")  # replyToId routing
        # The two transports really are different code paths.
        assert "msrest" in (sdk[0].user_agent or "") and "msrest" not in (fast[0].user_agent or "")


async def test_handed_over_replies_go_as_they_are_with_the_same_json_as_copies(
        connector: LocalConnector) -> None:
    cards = list(sample_cards().values())[:3]
    kept: list[tuple[list[Activity], list[Activity]]] = []

    async def logic(turn_context: TurnContext) -> None:
        copied = [to_activity(Reply(text="**x**", card=card)) for card in cards]
        handed = [to_activity(Reply(text="**x**", card=card)) for card in cards]
        await turn_context.send_activities(copied)
        await send_replies(turn_context, handed)
        kept.append((copied, handed))

    adapter = build_adapter(Settings(storage_url="memory://"))
    async with aiohttp.ClientSession() as session:
        adapter.use_http_session(session)
        await proactive(adapter, reference(connector), logic)
    bodies = [r.raw_body for r in connector.received]
    assert len(bodies) == 2 * len(cards)
    for ours, theirs in zip(bodies[len(cards):], bodies[:len(cards)], strict=True):
        assert same_json(ours, theirs)
    copied, handed = kept[0]
    # The SDK's way leaves the caller's objects alone; handed-over ones were sent themselves.
    assert all(a.conversation is None for a in copied)
    assert all(a.conversation is not None and a.conversation.id == "a:proactive-1"
               for a in handed)


async def test_without_reply_to_id_a_message_goes_to_the_conversation(
        connector: LocalConnector) -> None:
    async def logic(turn_context: TurnContext) -> None:
        message = Activity(type="message", text="new thread", conversation=ConversationAccount(
            id=CHANNEL_CONVERSATION), service_url=connector.url)
        await turn_context.adapter.send_activities(turn_context, [message])

    fast, sdk = await both_transports(connector, logic)
    assert [r.raw_path for r in fast] == [r.raw_path for r in sdk]
    assert fast[0].raw_path == "/v3/conversations/19%3A7f1c2a%40thread.tacv2%3Bmessageid%3D" \
                               "1732788471999/activities"
    assert same_json(fast[0].raw_body, sdk[0].raw_body)


async def test_update_and_delete_use_put_and_delete_like_the_sdk(connector: LocalConnector) -> None:
    async def logic(turn_context: TurnContext) -> None:
        updated = to_activity(Reply(text="Taken over by Megan"))
        updated.id = "act-42"
        await turn_context.update_activity(updated)
        await turn_context.delete_activity("act-43")

    fast, sdk = await both_transports(connector, logic)
    assert [(r.method, r.raw_path) for r in fast] == [(r.method, r.raw_path) for r in sdk] == [
        ("PUT", "/v3/conversations/a%3Aproactive-1/activities/act-42"),
        ("DELETE", "/v3/conversations/a%3Aproactive-1/activities/act-43")]
    assert same_json(fast[0].raw_body, sdk[0].raw_body)


def test_urls_are_built_like_msrest_builds_them() -> None:
    for base in ("https://smba.trafficmanager.net/emea/", "https://smba.trafficmanager.net/emea",
                 "http://127.0.0.1:4567/", "https://x.example/a/b/"):
        client = ConnectorClient(MicrosoftAppCredentials.empty(), base_url=base)
        operations = client.conversations
        for conversation_id in ("a:1Yj2", CHANNEL_CONVERSATION, "x/y?z#w é"):
            for activity_id in (None, "1:abc", "f:9a/8"):
                template = (operations.reply_to_activity if activity_id
                            else operations.send_to_conversation).metadata["url"]
                arguments = {"conversationId": operations._serialize.url("c", conversation_id,
                                                                          "str")}
                if activity_id:
                    arguments["activityId"] = operations._serialize.url("a", activity_id, "str")
                expected = client._client.format_url(template, **arguments)
                assert ConnectorSender.url(base, conversation_id, activity_id) == expected


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(alphabet=st.characters(max_codepoint=127)), st.text()))
def test_ids_are_quoted_as_quote_with_nothing_safe_quotes_them(text: str) -> None:
    for identifier in (text, "a:" + text, "".join(map(chr, range(128))) + text):
        try:
            expected: Any = quote(identifier, safe="")
        except UnicodeEncodeError as error:  # a lone surrogate
            expected = type(error)
        try:
            got: Any = quote_segment(identifier)
        except UnicodeEncodeError as error:
            got = type(error)
        assert got == expected


# ----- errors --------------------------------------------------------------------------
async def test_connector_errors_raise_what_the_sdk_raises(connector: LocalConnector) -> None:
    adapter = build_adapter(Settings(storage_url="memory://"))
    raised: list[tuple[str, int, str]] = []

    async def logic(turn_context: TurnContext) -> None:
        try:
            await turn_context.send_activity("hello")
        except ErrorResponseException as error:
            raised.append((type(error).__name__, error.response.status_code, str(error)))

    async with aiohttp.ClientSession() as session:
        for use in (session, None):
            for status in (503, 403):
                adapter.use_http_session(use)
                # Our sender tries an ambiguous POST (5xx) once more (issue 16); the SDK's
                # transport, and a 403 anywhere, are tried once.
                tries = 2 if use is session and status == 503 else 1
                connector.fail_next, connector.fail_status = tries + 1, status
                await proactive(adapter, reference(connector), logic)
                assert connector.fail_next == 1, (use, status)
                connector.fail_next = 0
    assert raised == [("ErrorResponseException", 503, "(ServiceError) unavailable"),
                      ("ErrorResponseException", 403, "(ServiceError) unavailable")] * 2


async def test_an_update_is_retried_after_a_503_as_the_sdk_does(connector: LocalConnector) -> None:
    async def logic(turn_context: TurnContext) -> None:
        connector.fail_next, connector.fail_status = 1, 503
        updated = to_activity(Reply(text="refreshed"))
        updated.id = "act-7"
        await turn_context.update_activity(updated)

    fast, sdk = await both_transports(connector, logic)
    assert [r.method for r in fast] == [r.method for r in sdk] == ["PUT"]


async def test_a_reply_refused_once_with_a_503_is_sent_again_once(chat: Chat) -> None:
    # Issue 16: a 5xx on POST is ambiguous, so the reply is tried once more (it used to
    # end in the "Sorry…" notice, with the answer lost).
    chat.connector.fail_next, chat.connector.fail_status = 1, 503
    status, replies, _ = await chat.post(chat._activity("message", text="hello"))
    assert status == 200 and chat.connector.fail_next == 0
    assert len(replies) == 1 and SORRY not in texts(replies)


async def test_a_finished_turn_leaves_nothing_for_the_garbage_collector(chat: Chat) -> None:
    """A turn's context, activities and clients are freed when the turn ends, not in a cycle.

    TurnContext._emit chained the send handlers through a closure that refers to
    itself, so every turn's context waited in a reference cycle for the
    collector's slower passes. With the collector off, nothing may stay behind.
    """
    from bot.adapter import FastTurnContext

    await chat.install()
    await chat.say(PASTED)  # warm: the first turns build caches and pooled clients
    gc.collect()
    gc.disable()
    try:
        for text in ("yes", "still failing", "start over", PASTED):
            assert await chat.say(text)
        left = [o for o in gc.get_objects() if isinstance(o, FastTurnContext)]
        assert left == []
    finally:
        gc.enable()


# ----- the pool and the session --------------------------------------------------------
async def test_clients_are_built_once_for_every_turn_and_proactive_message(
        bot_client: Any, connector: LocalConnector) -> None:
    adapter: FastCloudAdapter = bot_client.server.app[ADAPTER_KEY]
    chats = [Chat(bot_client, connector) for _ in range(3)]
    for chat in chats:
        await chat.install()
        assert await chat.say(PASTED)
        assert await chat.say("yes")
    await proactive(adapter, reference(connector), lambda tc: tc.send_activity("proactive"))
    # One connector client (one service URL, one audience) and one user-token client.
    assert adapter.pool.built == 2
    assert all("msrest" not in (r.user_agent or "") for r in connector.received)
    assert connector.for_conversation("a:proactive-1")[-1]["text"] == "proactive"


async def test_a_new_service_url_gets_its_own_client(connector: LocalConnector,
                                                    aiohttp_server: Any) -> None:
    other = LocalConnector()
    server = await aiohttp_server(other.app())
    other.url = str(server.make_url("/"))
    adapter = build_adapter(Settings(storage_url="memory://"))
    async with aiohttp.ClientSession() as session:
        adapter.use_http_session(session)
        for target in (connector, other, connector, other):
            await proactive(adapter, reference(target), lambda tc: tc.send_activity("hi"))
    assert adapter.pool.built == 3  # two connector clients, one user-token client
    assert len(connector.received) == len(other.received) == 2


async def test_create_conversation_still_works(connector: LocalConnector) -> None:
    from botbuilder.schema import ConversationParameters

    adapter = build_adapter(Settings(storage_url="memory://"))
    created: list[str] = []

    async def logic(turn_context: TurnContext) -> None:
        created.append(turn_context.activity.conversation.id)
        await turn_context.send_activity("first message in the new thread")

    async with aiohttp.ClientSession() as session:
        adapter.use_http_session(session)
        await adapter.create_conversation(
            None, logic, ConversationParameters(
                is_group=True, channel_data={"channel": {"id": "19:support@thread.tacv2"}},
                activity=Activity(type="message", text="New request")),
            channel_id="msteams", service_url=connector.url)
    assert created and created[0].startswith("19:support@thread.tacv2;messageid=")
    assert connector.for_conversation(created[0])[-1]["text"] == "first message in the new thread"


# ----- the outgoing token --------------------------------------------------------------
class ManagedIdentityEndpoint:
    """An App Service managed-identity endpoint (IDENTITY_ENDPOINT) handing out signed tokens."""

    def __init__(self) -> None:
        """Start with no tokens issued."""
        self.issued: list[str] = []
        self.secret = uuid.uuid4().hex

    async def token(self, request: web.Request) -> web.Response:
        """Answer like App Service: access_token and expires_on for the asked resource."""
        if request.headers.get("X-IDENTITY-HEADER") != self.secret:
            return web.json_response({"statusCode": 401, "message": "bad header"}, status=401)
        expires = int(time.time()) + 3600
        token = jwt.encode({"aud": request.query["resource"], "exp": expires,
                            "appid": request.query.get("client_id", "")},
                           self.secret, algorithm="HS256")
        self.issued.append(token)
        return web.json_response({"access_token": token, "expires_on": str(expires),
                                  "resource": request.query["resource"], "token_type": "Bearer"})


@pytest.fixture
def managed_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                     ) -> Iterator[tuple[LocalIdentity, ManagedIdentityEndpoint]]:
    """Channel tokens signed locally, and the bot's own token from a local managed identity."""
    endpoint = ManagedIdentityEndpoint()
    app = web.Application()
    app.router.add_get("/msi/token", endpoint.token)
    with ThreadedServers() as servers:
        identity = LocalIdentity(servers, tmp_path / "identity").start()
        monkeypatch.setenv("IDENTITY_ENDPOINT", servers.serve(app) + "/msi/token")
        monkeypatch.setenv("IDENTITY_HEADER", endpoint.secret)
        yield identity, endpoint


async def test_with_an_app_id_replies_carry_the_bots_token_fetched_once(
        aiohttp_client: Any, connector: LocalConnector, tmp_path: Path,
        managed_identity: tuple[LocalIdentity, ManagedIdentityEndpoint]) -> None:
    from app import create_app

    identity, endpoint = managed_identity
    settings = Settings(app_id=identity.app_id, app_type="UserAssignedMSI",
                        app_tenant_id=identity.tenant_id,
                        openid_metadata_url=identity.metadata_url,
                        storage_url=f"sqlite:///{tmp_path}/bot.db")
    client = await aiohttp_client(create_app(settings))
    header = {"Authorization": "Bearer " + identity.channel_token(connector.url)}
    for number, text in enumerate(("hello", PASTED, "yes")):
        body = teams_activity("message", service_url=connector.url,
                              conversation_id=f"a:signed-{number}", text=text)
        response = await client.post("/api/messages", json=body, headers=header)
        assert response.status == 200
    assert connector.received and len(endpoint.issued) == 1
    assert {r.authorization for r in connector.received} == {f"Bearer {endpoint.issued[0]}"}
    assert jwt.decode(endpoint.issued[0], endpoint.secret, algorithms=["HS256"],
                      audience="https://api.botframework.com")["appid"] == identity.app_id


async def test_without_an_app_id_no_authorization_header_is_sent(chat: Chat) -> None:
    await chat.install()
    await chat.say(PASTED)
    assert chat.connector.received
    assert all(r.authorization is None for r in chat.connector.received)


async def test_concurrent_turns_share_one_token_request(
        connector: LocalConnector,
        managed_identity: tuple[LocalIdentity, ManagedIdentityEndpoint]) -> None:
    identity, endpoint = managed_identity
    adapter = build_adapter(Settings(app_id=identity.app_id, app_type="UserAssignedMSI",
                                     app_tenant_id=identity.tenant_id, storage_url="memory://"))
    async with aiohttp.ClientSession() as session:
        adapter.use_http_session(session)
        await asyncio.gather(*(
            adapter.continue_conversation(reference(connector, f"a:c{n}"),
                                          lambda tc: tc.send_activity("hi"),
                                          bot_app_id=identity.app_id)
            for n in range(8)))
    assert len(connector.received) == 8 and len(endpoint.issued) == 1
    assert {r.authorization for r in connector.received} == {f"Bearer {endpoint.issued[0]}"}
