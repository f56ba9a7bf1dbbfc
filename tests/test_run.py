"""``make run`` serves and ``make chat`` talks: the real ``python app.py`` as a process.

``make run`` is ``.venv/bin/python app.py`` (checked with ``make -n``); the
process is started here with HOST/PORT from the environment, asked for
``/healthz`` and sent a message whose reply arrives at the local Bot
Connector. Without ``MicrosoftAppId`` the bot must refuse any address but
loopback. ``make chat`` is ``python app.py chat``, driven through stdin.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.connector import LocalConnector
from tests.support.harness import Chat, texts
from tests.support.process import PASS_THROUGH, REPO, BotProcess, http_session


def clean_env(**settings: str) -> dict[str, str]:
    """The test's PATH and locale, no bot settings from the outside, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if k in PASS_THROUGH}
    env.update(settings)
    return env


def test_make_run_and_make_chat_run_app_py() -> None:
    dry = subprocess.run(["make", "-n", "run", "chat"], cwd=REPO, capture_output=True, text=True,
                         timeout=60, check=True).stdout.splitlines()
    assert ".venv/bin/python app.py" in dry
    assert ".venv/bin/python app.py chat" in dry


async def test_python_app_py_serves_healthz_and_messages(
    connector: LocalConnector, tmp_path: Path
) -> None:
    bot = BotProcess({"STORAGE_URL": f"sqlite:///{tmp_path}/run.db", "LOG_LEVEL": "WARNING"},
                     tmp_path / "bot.log")
    try:
        await bot.start()  # waits for /healthz to answer 200
        async with http_session(bot) as session:
            async with session.get("/healthz") as response:
                assert response.status == 200
                assert (await response.json())["status"] == "ok"
            chat = Chat(session, connector)
            replies = await chat.say("hi")
            assert "Question 1 of 10" in texts(replies)
    finally:
        bot.stop()
    assert bot.process is not None and bot.process.returncode is not None


def test_serving_on_all_interfaces_without_an_app_id_is_refused(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "app.py"], cwd=REPO, capture_output=True, text=True, timeout=60,
        env=clean_env(HOST="0.0.0.0", PORT="3999", STORAGE_URL=f"sqlite:///{tmp_path}/x.db"),
        check=False)
    assert completed.returncode == 2
    assert "HOST=0.0.0.0 refused" in completed.stderr
    assert "loopback" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "x.db").exists()  # it stopped before opening anything


def test_make_chat_shows_the_questions_and_lettered_buttons(tmp_path: Path) -> None:
    typed = "hi\ntms@contoso.com\na\nquit\n"
    completed = subprocess.run(
        [sys.executable, "app.py", "chat"], cwd=REPO, input=typed, capture_output=True,
        text=True, timeout=120, env=clean_env(STORAGE_URL=f"sqlite:///{tmp_path}/chat.db"),
        check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    out = completed.stdout
    # The greeting, with its buttons lettered (never read like a list's numbers).
    assert "Mail Setup Assistant" in out and "] Start\n" in out and "[1]" not in out
    # "hi" -> question 1; the address -> question 2 with its answers as numbered buttons.
    assert "Question 1 of 10" in out
    assert "Question 2 of 10" in out and "[a] User mailbox" in out
    # "a" pressed "User mailbox": question 3 (the licence).
    assert "Question 3 of 10" in out
    assert out.index("Question 1 of 10") < out.index("Question 2 of 10") \
        < out.index("Question 3 of 10")
    assert "Traceback" not in out + completed.stderr


async def test_the_started_server_collects_young_objects_less_often() -> None:
    # The server's start (not app creation: tests build many apps in one process)
    # raises the youngest generation's threshold; see app._freeze_startup_objects.
    import gc

    from aiohttp import web

    import app

    before = gc.get_threshold()
    try:
        await app._freeze_startup_objects(web.Application())
        assert gc.get_threshold() == (app.YOUNG_COLLECTION_THRESHOLD, *before[1:])
        assert before[0] < app.YOUNG_COLLECTION_THRESHOLD
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
