"""Bad input to ``/api/messages``: a short 4xx reason, never a 500, never a stack trace."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from tests.support.harness import Chat
from tests.support.teams import FIXTURES


async def post_raw(chat: Chat, data: bytes, content_type: str = "application/json"
                   ) -> tuple[int, Any]:
    """POST raw bytes; return the status and the JSON body (or the text)."""
    response = await chat.client.post("/api/messages", data=data,
                                      headers={"Content-Type": content_type})
    if response.content_type == "application/json":
        return response.status, await response.json()
    return response.status, await response.text()


def assert_short_reason(status: int, body: Any, expected_status: int = 400) -> str:
    """A 4xx with ``{"error": "<one short sentence>"}``."""
    assert status == expected_status, (status, body)
    assert isinstance(body, dict) and set(body) == {"error"}, body
    reason = body["error"]
    assert 0 < len(reason) <= 120, reason
    assert "Traceback" not in reason and "File \"" not in reason
    return reason


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe\x00", b"{\"type\": \"message\"",
                                 b"[" * 100_000 + b"]" * 100_000],
                         ids=["broken", "empty", "not-utf8", "truncated", "too-deep"])
async def test_malformed_json_is_400(chat: Chat, raw: bytes) -> None:
    status, body = await post_raw(chat, raw)
    assert "JSON" in assert_short_reason(status, body)


@pytest.mark.parametrize("value", [[], "hello", 42, None, True, [{"type": "message"}]])
async def test_json_that_is_not_an_object_is_400(chat: Chat, value: Any) -> None:
    status, body = await post_raw(chat, json.dumps(value).encode())
    assert "object" in assert_short_reason(status, body)


def _valid(chat: Chat) -> dict[str, Any]:
    return chat._activity("message", text="hello")


# (what to change, the words the reason must contain)
BROKEN_FIELDS = [
    ({"type": None}, "type"),
    ({"type": 42}, "type"),
    ({"type": ""}, "type"),
    ({"conversation": None}, "conversation"),
    ({"conversation": "a:1"}, "conversation"),
    ({"conversation": {}}, "conversation"),
    ({"conversation": {"id": 5}}, "conversation"),
    ({"serviceUrl": None}, "serviceUrl"),
    ({"serviceUrl": 5}, "serviceUrl"),
    ({"serviceUrl": "ftp://example.com"}, "serviceUrl"),
    ({"from": "someone"}, "from"),
    ({"recipient": 5}, "recipient"),
    ({"text": 12}, "text"),
    ({"text": ["hello"]}, "text"),
    ({"channelId": {"id": "msteams"}}, "channelId"),
    ({"entities": "mention"}, "entities"),
    ({"entities": [1, 2]}, "entities"),
    ({"attachments": {}}, "attachments"),
    ({"membersAdded": "bot"}, "membersAdded"),
    ({"channelData": "tenant"}, "channelData"),
]


@pytest.mark.parametrize(("change", "word"), BROKEN_FIELDS,
                         ids=[f"{next(iter(c))}={json.dumps(next(iter(c.values())))}"
                              for c, _ in BROKEN_FIELDS])
async def test_missing_or_wrongly_typed_fields_are_400_with_the_field_named(
    chat: Chat, change: dict[str, Any], word: str
) -> None:
    body = _valid(chat)
    for key, value in change.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    status, replies, payload = await chat.post(body)
    assert word in assert_short_reason(status, payload)
    assert replies == []


async def test_an_unreadable_timestamp_is_400(chat: Chat) -> None:
    body = _valid(chat)
    body["timestamp"] = {"when": "now"}
    status, replies, payload = await chat.post(body)
    assert_short_reason(status, payload)
    assert replies == []


async def test_wrong_content_type_is_415(chat: Chat) -> None:
    status, body = await post_raw(chat, json.dumps(_valid(chat)).encode(), "text/plain")
    assert_short_reason(status, body, 415)


async def test_a_body_over_the_size_limit_is_413(chat: Chat) -> None:
    body = _valid(chat)
    body["text"] = "x" * (300 * 1024)
    status, payload = await post_raw(chat, json.dumps(body).encode())
    assert status == 413, payload


async def test_an_invoke_the_bot_does_not_know_is_400_not_500(chat: Chat) -> None:
    body = chat._activity("adaptive_card_action", value={"msa": "start"})
    body["name"] = "composeExtension/madeUp"
    status, replies, payload = await chat.post(body)
    assert 400 <= status < 500, (status, payload)
    assert replies == []


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**63, 3.5, float("1e308")])
    if kind == 3:
        return rng.choice(["", "x", "message", "https://x", "<at>bot</at>", "\u0000", "ü" * 50])
    if kind == 4:
        return rng.choice([{}, []])
    if kind == 5:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(3))]
    return {rng.choice(["id", "type", "text", "name", "value", "msa", "action", "data"]):
            _random_json(rng, depth + 1) for _ in range(rng.randrange(4))}


def _mutate(rng: random.Random, body: dict[str, Any]) -> dict[str, Any]:
    for _ in range(rng.randrange(1, 4)):
        target = body
        # Sometimes change a nested field (conversation.id, value.action.data, …).
        nested = [k for k, v in target.items() if isinstance(v, dict)]
        if nested and rng.random() < 0.4:
            target = target[rng.choice(nested)]
        if target and rng.random() < 0.3:
            target.pop(rng.choice(sorted(target)))
        else:
            key = rng.choice([*sorted(target), "value", "timestamp", "replyToId", "locale"])
            target[key] = _random_json(rng)
    return body


async def test_randomly_broken_teams_payloads_never_get_a_500(chat: Chat) -> None:
    rng = random.Random(20261128)
    names = sorted(p.stem for p in FIXTURES.glob("*.json"))
    statuses: dict[int, int] = {}
    for _ in range(300):
        body = _mutate(rng, chat._activity(rng.choice(names)))
        status, replies, payload = await chat.post(body)
        statuses[status] = statuses.get(status, 0) + 1
        assert status < 500, (status, payload, body)
        for reply in replies:
            assert "Traceback" not in json.dumps(reply)
        if status >= 400:
            assert_short_reason(status, payload, status)
    # The mutations reach both sides of the validation.
    assert statuses.get(200, 0) > 20 and statuses.get(400, 0) > 20, statuses
