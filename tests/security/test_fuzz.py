"""Hostile input on /api/messages: never a 500, never a failed turn, never a stuck conversation.

The real app (create_app) and a local Bot Connector are served from a
background thread (tests/support/threaded.py); hypothesis sends it random
JSON, activities with wrong types in every field, huge arrays, nesting deeper
than Python's recursion limit, invalid UTF-8, tampered card submits, unknown
invoke names and odd content types. After each example the same conversation
must still answer "help" with the help card, no reply may be the "something
went wrong" apology, and nothing may be logged at ERROR (a failed turn or an
unhandled request). A body over MAX_REQUEST_BYTES gets 413.

``FUZZ_EXAMPLES=2000 pytest tests/security/test_fuzz.py`` runs a long,
randomly seeded session instead of the quick deterministic one.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.settings import Settings
from dialogs.flow import QUESTIONS
from dialogs.messages import HELP_TITLE
from tests.support.connector import LocalConnector
from tests.support.harness import texts
from tests.support.teams import activity
from tests.support.threaded import ThreadedServers

SORRY_START = "Sorry, something went wrong on my side"
CONVERSATIONS = [f"a:fuzz-conversation-{n}" for n in range(3)]
FIXTURES = ["message", "card_submit", "adaptive_card_action", "conversation_update",
            "installation_update", "channel_message"]
VERBS = ["answer", "unsure", "back", "start_over", "help", "person", "fix_worked", "fix_failed",
         "run_checks", "show_fix", "clarify", "continue", "start", "take_over", "end_handoff",
         "rate", "sign_in", "staff"]
CAUSES = ["smtp_auth_disabled_mailbox", "mfa_required", "unknown", "../../etc/passwd", ""]
INVOKES = ["adaptiveCard/action", "composeExtension/query", "composeExtension/fetchTask",
           "composeExtension/submitAction", "composeExtension/queryLink",
           "composeExtension/selectItem", "composeExtension/onCardButtonClicked",
           "composeExtension/querySettingUrl", "composeExtension/setting", "task/fetch",
           "task/submit", "signin/verifyState", "signin/tokenExchange", "signin/failure",
           "fileConsent/invoke", "actionableMessage/executeAction", "config/fetch",
           "config/submit", "tab/fetch", "tab/submit", "message/submitAction", "handoff/action",
           "healthCheck", "application/search", "search", "ping"]
# A quick deterministic pass in `make test`; FUZZ_EXAMPLES=2000 runs a long random one.
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0")) or 40
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None,
                derandomize="FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])

# ----- strategies ---------------------------------------------------------------------
scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats() | st.text(max_size=40))
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(max_size=8), inner, max_size=4), max_leaves=12)
# Real-looking ids with the punctuation Teams uses, never an http URL (the bot would send there).
ids = st.text(alphabet="abcdefABC0123456789:;@=._-", min_size=1, max_size=40)
huge_text = st.integers(min_value=10_000, max_value=200_000).map(lambda n: "x" * n)


class ErrorRecords(logging.Handler):
    """Collects every record at ERROR or above (a failed turn, an unhandled request)."""

    def __init__(self) -> None:
        """Start empty."""
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record."""
        self.records.append(record)


@dataclass(repr=False)
class LiveBot:
    """The app on a real socket, its connector, and what it logged at ERROR."""

    url: str
    connector: LocalConnector
    errors: ErrorRecords
    http: requests.Session = field(default_factory=requests.Session)

    def __repr__(self) -> str:
        """Short: hypothesis prints it with every failing example."""
        return f"LiveBot({self.url})"

    def post(self, body: bytes, content_type: str | None = "application/json",
             **headers: str) -> int:
        """POST raw bytes to /api/messages; return the status."""
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = self.http.post(self.url + "/api/messages", data=body, headers=headers,
                                  timeout=30)
        return response.status_code

    def post_json(self, body: Any) -> int:
        """POST a JSON value (NaN and Infinity allowed, as Python's parser accepts them)."""
        return self.post(json.dumps(body).encode())

    def activity(self, name: str, conversation_id: str, **kwargs: Any) -> dict[str, Any]:
        """A Teams activity addressed to this bot's connector."""
        return activity(name, service_url=self.connector.url, conversation_id=conversation_id,
                        **kwargs)

    def check(self, status: int, conversation_id: str, allowed: set[int]) -> None:
        """The answer was allowed, and the conversation still answers 'help' properly."""
        try:
            self._check(status, conversation_id, allowed)
        finally:
            # Each example is judged on its own records (hypothesis replays failures).
            self.errors.records.clear()

    def _check(self, status: int, conversation_id: str, allowed: set[int]) -> None:
        assert status in allowed, status
        before = len(self.connector.for_conversation(conversation_id))
        help_status = self.post_json(self.activity("message", conversation_id, text="help"))
        assert help_status == 200
        replies = self.connector.for_conversation(conversation_id)
        assert HELP_TITLE in texts(replies[before:]), "the conversation is stuck"
        apologies = [r for r in replies if str(r.get("text") or "").startswith(SORRY_START)]
        assert not apologies, "a turn failed"
        assert not self.errors.records, [r.getMessage() for r in self.errors.records]


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveBot]:
    """The real app in local mode on SQLite, served from a background thread."""
    from app import create_app

    folder: Path = tmp_path_factory.mktemp("fuzz")
    errors = ErrorRecords()
    root = logging.getLogger()
    root.addHandler(errors)
    try:
        with ThreadedServers() as servers:
            connector = LocalConnector()
            connector.url = servers.serve(connector.app()) + "/"
            app = create_app(Settings(storage_url=f"sqlite:///{folder}/bot.db"))
            yield LiveBot(servers.serve(app), connector, errors)
    finally:
        root.removeHandler(errors)


# ----- properties ---------------------------------------------------------------------
@FUZZ
@given(body=json_values, conversation_id=st.sampled_from(CONVERSATIONS))
def test_random_json(bot: LiveBot, body: Any, conversation_id: str) -> None:
    """Any JSON value at all: a 4xx at worst."""
    bot.check(bot.post_json(body), conversation_id, {200, 400})


def _set(body: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node: Any = body
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    if value is _DELETE:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value


_DELETE = object()
FIELDS: list[tuple[str, ...]] = [
    ("type",), ("id",), ("text",), ("textFormat",), ("channelId",), ("locale",), ("timestamp",),
    ("localTimestamp",), ("localTimezone",), ("replyToId",), ("name",), ("action",),
    ("from",), ("from", "id"), ("from", "name"), ("from", "aadObjectId"), ("from", "role"),
    ("recipient",), ("recipient", "id"), ("conversation",), ("conversation", "id"),
    ("conversation", "tenantId"), ("conversation", "conversationType"),
    ("conversation", "isGroup"), ("entities",), ("attachments",), ("value",), ("valueType",),
    ("channelData",), ("channelData", "tenant"), ("channelData", "tenant", "id"),
    ("channelData", "source"), ("channelData", "team"), ("channelData", "channel"),
    ("channelData", "eventType"), ("channelData", "settings"), ("membersAdded",),
    ("membersRemoved",), ("serviceUrl",), ("importance",), ("deliveryMode",), ("expiration",),
    ("speak",), ("summary",), ("suggestedActions",), ("relatesTo",), ("callerId",),
    ("semanticAction",), ("label",), ("inputHint",), ("attachmentLayout",), ("topicName",),
    ("historyDisclosed",), ("code",), ("listenFor",), ("textHighlights",), ("reactionsAdded",),
]
field_values = json_values.filter(
    lambda v: not (isinstance(v, str) and v.lower().startswith("http")))


@FUZZ
@given(
    fixture=st.sampled_from(FIXTURES),
    changes=st.lists(st.tuples(st.sampled_from(FIELDS),
                               field_values | st.just(_DELETE) | ids), min_size=1, max_size=4),
    conversation_id=st.sampled_from(CONVERSATIONS),
)
def test_wrong_types_in_every_field(
    bot: LiveBot, fixture: str, changes: list[tuple[tuple[str, ...], Any]], conversation_id: str
) -> None:
    """A real Teams activity with fields replaced by anything: a 4xx at worst."""
    body = bot.activity(fixture, conversation_id)
    for path, value in changes:
        _set(body, path, value)
    bot.check(bot.post_json(body), conversation_id, {200, 400})


@FUZZ
@given(
    data=st.fixed_dictionaries(
        {"msa": st.sampled_from(VERBS) | json_values},
        optional={"question": st.sampled_from(QUESTIONS) | json_values,
                  "value": json_values | huge_text | st.sampled_from(["yes", "no", "unsure"]),
                  "cause": st.sampled_from(CAUSES) | json_values,
                  "mailbox": st.text(max_size=300) | json_values,
                  "ticket": json_values, "rating": json_values, "extra": json_values},
    ) | json_values,
    execute=st.booleans(),
    conversation_id=st.sampled_from(CONVERSATIONS),
)
def test_tampered_card_submits(bot: LiveBot, data: Any, execute: bool,
                               conversation_id: str) -> None:
    """Action.Submit / Action.Execute data the bot never put on a card."""
    if execute:
        body = bot.activity("adaptive_card_action", conversation_id)
        body["value"]["action"]["data"] = data
        body["value"]["action"]["verb"] = data.get("msa") if isinstance(data, dict) else data
    else:
        body = bot.activity("card_submit", conversation_id)
        body["value"] = data
    bot.check(bot.post_json(body), conversation_id, {200, 400})


@FUZZ
@given(name=st.sampled_from(INVOKES) | st.text(max_size=60), value=json_values,
       conversation_id=st.sampled_from(CONVERSATIONS))
def test_unknown_and_malformed_invokes(bot: LiveBot, name: str, value: Any,
                                       conversation_id: str) -> None:
    """Invokes of every name with any value: an invoke response or a 4xx, never a 5xx."""
    body = bot.activity("adaptive_card_action", conversation_id)
    body["name"] = name
    body["value"] = value
    bot.check(bot.post_json(body), conversation_id, {200, 400, 404, 412})


@FUZZ
@given(raw=st.binary(max_size=3000), conversation_id=st.sampled_from(CONVERSATIONS))
def test_random_bytes(bot: LiveBot, raw: bytes, conversation_id: str) -> None:
    """Any bytes at all, declared as JSON."""
    bot.check(bot.post(raw), conversation_id, {200, 400})


@FUZZ
@given(bad=st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
                            b"\x80", b"\xe2\x82"]),
       where=st.integers(min_value=0, max_value=400),
       conversation_id=st.sampled_from(CONVERSATIONS))
def test_invalid_utf8_inside_an_activity(bot: LiveBot, bad: bytes, where: int,
                                          conversation_id: str) -> None:
    """A real activity with invalid UTF-8 bytes spliced in (inside strings or between tokens)."""
    raw = json.dumps(bot.activity("message", conversation_id, text="hello")).encode()
    where = min(where, len(raw))
    bot.check(bot.post(raw[:where] + bad + raw[where:]), conversation_id, {400})


@pytest.mark.parametrize("depth", [200, 900, sys.getrecursionlimit() - 5,
                                   sys.getrecursionlimit() * 2, 20_000, 100_000])
@pytest.mark.parametrize("where", ["body", "value", "channelData", "entities", "text"])
def test_nesting_deeper_than_the_recursion_limit(bot: LiveBot, depth: int, where: str) -> None:
    """Deeply nested arrays and objects anywhere in the activity."""
    conversation_id = CONVERSATIONS[depth % len(CONVERSATIONS)]
    nested = '{"a":' * (depth // 2) + "[" * (depth - depth // 2) + "1" \
        + "]" * (depth - depth // 2) + "}" * (depth // 2)
    if where == "body":
        raw = nested.encode()
    else:
        body = bot.activity("card_submit" if where == "value" else "message", conversation_id)
        body[where] = "@@NESTED@@" if where != "entities" else ["@@NESTED@@"]
        raw = json.dumps(body).replace('"@@NESTED@@"', nested).encode()
    allowed = {200, 400, 413}
    bot.check(bot.post(raw), conversation_id, allowed)


@pytest.mark.parametrize(("field_name", "make"), [
    ("entities", lambda n: [{}] * n),
    ("attachments", lambda n: [{"contentType": "text/html", "content": ""}] * (n // 8)),
    ("membersAdded", lambda n: [{"id": "29:x"}] * (n // 3)),
    ("value", lambda n: [0] * n),
    ("text", lambda n: "help " * (n // 2)),
    ("channelData", lambda n: {"k": [None] * n}),
])
def test_huge_arrays_and_strings(bot: LiveBot, field_name: str, make: Any) -> None:
    """Arrays and strings as large as the size limit lets through."""
    conversation_id = CONVERSATIONS[0]
    fixture = "conversation_update" if field_name == "membersAdded" else "card_submit" \
        if field_name == "value" else "message"
    body = bot.activity(fixture, conversation_id)
    body[field_name] = make(40_000)
    raw = json.dumps(body).encode()
    assert len(raw) < 256 * 1024
    bot.check(bot.post(raw), conversation_id, {200, 400})


@pytest.mark.parametrize(("content_type", "allowed"), [
    (None, {415}), ("", {415}), ("text/plain", {415}), ("application/xml", {415}),
    ("application/x-www-form-urlencoded", {415}), ("multipart/form-data; boundary=x", {415}),
    ("application/jsonp", {415}), ("application/json; charset=utf-8", {200}),
    ("application/json;charset=latin-1", {200, 400}),
    ("application/json; charset=utf-16", {200, 400}),
    ("APPLICATION/JSON", {200}), ("application/json, text/plain", {200, 400, 415}),
])
def test_missing_and_odd_content_types(bot: LiveBot, content_type: str | None,
                                       allowed: set[int]) -> None:
    """A valid activity with a missing or odd Content-Type."""
    conversation_id = CONVERSATIONS[1]
    raw = json.dumps(bot.activity("message", conversation_id, text="start")).encode()
    bot.check(bot.post(raw, content_type), conversation_id, allowed)


def test_a_body_over_the_size_limit_gets_413(bot: LiveBot) -> None:
    """MAX_REQUEST_BYTES (256 KB by default) bounds what the bot reads, declared or chunked."""
    conversation_id = CONVERSATIONS[2]
    body = bot.activity("message", conversation_id, text="x" * (300 * 1024))
    raw = json.dumps(body).encode()
    bot.check(bot.post(raw), conversation_id, {413})

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(raw), 16 * 1024):
            yield raw[start:start + 16 * 1024]

    response = bot.http.post(bot.url + "/api/messages", data=chunks(),
                             headers={"Content-Type": "application/json"}, timeout=30)
    bot.check(response.status_code, conversation_id, {413})
    # Just under the limit is read and answered.
    small = bot.activity("message", conversation_id, text="help " + "x" * (200 * 1024))
    bot.check(bot.post_json(small), conversation_id, {200})


def test_the_fixtures_are_unchanged_by_the_fuzzing(bot: LiveBot) -> None:
    """The activity builder hands out copies: the recorded payloads stay intact."""
    first = bot.activity("message", CONVERSATIONS[0])
    again = copy.deepcopy(first)
    first["from"] = None
    assert bot.activity("message", CONVERSATIONS[0])["from"] == again["from"]
