"""The Language button's data cannot put anything into a conversation (issue 19's new button).

The welcome and help cards carry ``Action.Submit`` buttons whose data is
``{"msa": "set_language", "lang": "lv"}`` (inside an ``Action.ShowCard``).
Submit data comes back from the client as the client pleases, so over HTTP a
tampered press — an unknown language, markup, a path, a huge string, other
JSON types, extra keys naming the conversation's state or facts — is answered
200 like any press, changes the conversation's language to nothing but a
language the bot speaks, is never echoed, and leaves the conversation working.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app import create_app
from bot.settings import Settings
from bot.store import open_store
from dialogs.i18n import LANGUAGES
from tests.support.connector import LocalConnector
from tests.support.harness import Chat, texts

HOSTILE_LANGS: list[Any] = [
    "de", "xx", "<script>alert(1)</script>", "../../etc/passwd", "lv'; DROP TABLE bot_state;--",
    "**lv**", "l" * 10_000, "lv\u202e", "", None, 1, 1e308, True, ["lv"], {"lang": "lv"},
]


async def snapshot(storage_url: str, conversation_id: str) -> dict[str, Any]:
    """The conversation's stored flow snapshot."""
    async with await open_store(storage_url) as store:
        key = f"conv/msteams/{conversation_id}"
        item = (await store.state.read([key])).get(key) or {}
    return dict(item.get("snapshot") or {})


@pytest.mark.parametrize("lang", HOSTILE_LANGS, ids=lambda v: repr(v)[:24])
async def test_a_tampered_language_press_changes_nothing_it_should_not(
    aiohttp_client: Any, tmp_path: Path, connector: LocalConnector, lang: Any
) -> None:
    settings = Settings(storage_url=f"sqlite:///{tmp_path}/bot.db")
    chat = Chat(await aiohttp_client(create_app(settings)), connector)
    await chat.say("it is tms@contoso.com")
    before = await snapshot(settings.storage_url, chat.conversation_id)
    press = {"msa": "set_language", "lang": lang,
             # Keys a forged press might add, hoping the bot copies them into the conversation.
             "state": "summary", "facts": {"answers": {"mfa": "no"}}, "lang_chosen": True}
    status, replies, _ = await chat.post(chat._activity("card_submit", value=press))
    assert status == 200
    if isinstance(lang, str) and len(lang) > 3:
        assert lang not in texts(replies)
    after = await snapshot(settings.storage_url, chat.conversation_id)
    assert after.get("lang") in LANGUAGES
    assert after.get("lang") == before.get("lang")  # none of these is a language it speaks
    assert after.get("state") != "summary"
    assert (after.get("facts") or {}).get("answers", {}).get("mfa") != "no"
    assert await chat.say("help")  # the conversation still answers
