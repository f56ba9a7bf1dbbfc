"""``/metrics`` over HTTP: who may read it, and that no caller can grow it without bound.

* Authentication on (an app id): only ``Authorization: Bearer <METRICS_TOKEN>``
  reads it; a missing, wrong, partial or differently-schemed credential gets
  401; with ``METRICS_TOKEN`` unset nobody does, whatever they send (an empty
  bearer included).
* Local mode (no app id, the bot listens on loopback only): open.
* ``msa_turns_total{type}`` counts the Bot Framework's activity types; made-up
  types (any authenticated caller, or anyone on loopback, can send them) are
  counted as ``other`` instead of each adding a series.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from bot.http import ACTIVITY_TYPES
from bot.keys import SETTINGS_KEY
from bot.settings import Settings
from tests.support.harness import Chat

TOKEN = "m3tr1cs-5cr4pe-t0ken-for-the-test"
AppClient = Callable[..., Any]


def turn_series(text: str) -> dict[str, float]:
    """``msa_turns_total`` by its ``type`` label, from a scrape."""
    return {sample.labels["type"]: sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == "msa_turns_total"}


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer ", f"Basic {TOKEN}", f"Bearer {TOKEN[:-1]}",
    f"Bearer {TOKEN}x", f"Bearer {TOKEN[1:]}", TOKEN, f"Bearer {TOKEN.upper()}",
    f"Token {TOKEN}", f"Bearer x{TOKEN}",
])
async def test_with_authentication_on_only_the_metrics_token_reads_metrics(
    aiohttp_client: AppClient, auth_settings: Settings, header: str | None
) -> None:
    client = await aiohttp_client(create_app(
        dataclasses.replace(auth_settings, metrics_token=TOKEN)))
    headers = {"Authorization": header} if header is not None else {}
    refused = await client.get("/metrics", headers=headers)
    assert refused.status == 401, header
    assert "msa_" not in await refused.text()
    for scheme in ("Bearer", "bearer"):  # the scheme is case-insensitive (RFC 7235)
        allowed = await client.get("/metrics", headers={"Authorization": f"{scheme} {TOKEN}"})
        assert allowed.status == 200
        assert "# TYPE msa_turns_total counter" in await allowed.text()


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Bearer  ", "Bearer None"])
async def test_with_authentication_on_and_no_metrics_token_nobody_reads_metrics(
    aiohttp_client: AppClient, auth_settings: Settings, header: str | None
) -> None:
    assert auth_settings.metrics_token == ""
    client = await aiohttp_client(create_app(auth_settings))
    headers = {"Authorization": header} if header is not None else {}
    response = await client.get("/metrics", headers=headers)
    assert response.status == 401, header


async def test_in_local_mode_metrics_are_open_on_loopback(chat: Chat) -> None:
    assert chat.client.app[SETTINGS_KEY].local_mode
    response = await chat.client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    assert "# TYPE msa_turns_total counter" in await response.text()


async def test_made_up_activity_types_cannot_add_series(chat: Chat) -> None:
    await chat.say("hello")
    for number in range(40):
        body = chat._activity("message", text="hi")
        body["type"] = f"madeUpType{number}"
        status, replies, _ = await chat.post(body)
        assert status in (200, 400) and replies == [], body["type"]
    body = chat._activity("message", text="hi")
    body["type"] = "Message"  # activity types are case-sensitive: not "message"
    await chat.post(body)
    series = turn_series(await (await chat.client.get("/metrics")).text())
    assert set(series) <= ACTIVITY_TYPES | {"other"}, sorted(series)
    assert series["other"] == 41
    assert series["message"] >= 1
