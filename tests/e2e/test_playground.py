"""End to end from a real client: Microsoft 365 Agents Playground drives the running bot.

The test starts the bot (``python app.py``, local mode, a temporary SQLite
store) and Microsoft 365 Agents Playground (npm, installed at test time into
the gitignored ``tests/e2e/node_modules``), then works the Playground's web UI
in headless Chromium like a person (``drive-playground.cjs``, Playwright): the
welcome after install, a pasted error answered with the fix card and its
PowerShell, and the whole guided path by pressing card buttons, filling the
address field and typing answers, through to the summary card. Screenshots of
every step go to ``tests/artifacts/e2e/<run>/`` (gitignored), with both servers'
logs; the newest few runs are kept.

Without Node.js, npm or Chromium the test skips with the reason; with
``CI=true`` it fails instead (see ``tests/support/browser.py``).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dialogs.flow import QUESTIONS
from dialogs.gallery import sample_cards
from dialogs.knowledge import Knowledge, default_knowledge
from tests.support.browser import require_browser_tooling
from tools.node import chromium_path, node_path

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ARTIFACTS_ROOT = ROOT / "tests" / "artifacts" / "e2e"
KEEP_RUNS = 3
PLAYGROUND_CLI = HERE / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"
PASTED_ERROR = ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled "
                "for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.")
TENANT_SWITCH = "Set-CASMailbox -Identity"  # the recommended fix: one mailbox, not the organisation
MAILBOX = "tms@contoso.com"
SUMMARY_TITLE = "Your mail setup summary"
# The guided path: (question, how it is answered, the answer). "press" is a card
# button (the option's title), "type" goes through the compose box.
GUIDED_ANSWERS: list[tuple[str, str, str]] = [
    ("mailbox_type", "press", "user"),
    ("license", "type", "yes"),
    ("mfa", "press", "no"),
    ("security_defaults", "press", "no"),
    ("org_smtp_auth", "press", "enabled"),
    ("mailbox_smtp_auth", "type", "unticked"),
    ("conditional_access", "press", "no"),
    ("auth_method", "press", "basic"),
    ("test_result", "press", "auth_failed"),
]
STARTUP_SECONDS = 90
DRIVER_SECONDS = 240


def _progress(question: str) -> str:
    return f"Question {QUESTIONS.index(question) + 1} of {len(QUESTIONS)}"


def _free_port() -> int:
    # Below Linux's ephemeral range (32768+): a TIME-WAIT socket there makes the
    # Playground silently move to a random port.
    for _ in range(100):
        port = random.randrange(20000, 32000)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below 32768")


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode}:\n"
                                 f"{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise AssertionError(f"{what} not ready at {url} after {STARTUP_SECONDS} s:\n"
                         f"{log.read_text(errors='replace')[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    # Each server runs in a process group of its own, started here: end that group.
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _answer_title(knowledge: Knowledge, question: str, value: str) -> str:
    return next(o.title for o in knowledge.questions[question].options if o.value == value)


def _mailbox_placeholder() -> str:
    card = sample_cards()["question-mailbox"]
    return str(next(item["placeholder"] for item in card["body"]
                    if item.get("type") == "Input.Text"))


def _artifacts_folder() -> Path:
    # One folder per run: several people may run the suite in one work tree at once.
    ARTIFACTS_ROOT.mkdir(parents=True, exist_ok=True)
    runs = sorted(path for path in ARTIFACTS_ROOT.iterdir() if path.is_dir())
    for old in runs[:-(KEEP_RUNS - 1)]:
        shutil.rmtree(old, ignore_errors=True)
    folder = ARTIFACTS_ROOT / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    folder.mkdir()
    return folder


def _steps(knowledge: Knowledge) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = [
        {"name": "welcome", "expectCard": "Mail Setup Assistant"},
        {"name": "pasted-error", "type": PASTED_ERROR,
         "expectCard": knowledge.cause("smtp_auth_disabled_tenant").title},
        # "Start over" sits in the fix card's overflow menu (a secondary action).
        {"name": "start-over", "press": "Start over", "expectCard": _progress("mailbox")},
        {"name": "mailbox", "fill": {"placeholder": _mailbox_placeholder(), "value": MAILBOX},
         "press": "Next", "expectCard": _progress("mailbox_type")},
    ]
    following = [_progress(q) for q, _, _ in GUIDED_ANSWERS[1:]] + [SUMMARY_TITLE]
    for (question, how, value), expect in zip(GUIDED_ANSWERS, following, strict=True):
        step: dict[str, Any] = {"name": question, "expectCard": expect}
        if how == "press":
            step["press"] = _answer_title(knowledge, question, value)
        else:
            step["type"] = value
        steps.append(step)
    return steps


@dataclass
class Run:
    """What the driver saw: one entry per step, by step name."""

    steps: dict[str, dict[str, Any]]


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def playground_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """Run the bot and the Playground, drive the whole conversation once, and stop both."""
    require_browser_tooling(HERE)
    work = tmp_path_factory.mktemp("e2e")
    artifacts = _artifacts_folder()
    bot_port, playground_port = _free_port(), _free_port()
    while playground_port == bot_port:
        playground_port = _free_port()
    base_env = {key: value for key, value in os.environ.items()
                if not key.startswith(("Microsoft", "MICROSOFT", "STORAGE_URL", "PORT", "HOST"))}

    bot_log = artifacts / "bot.log"
    bot_env = dict(base_env, HOST="127.0.0.1", PORT=str(bot_port),
                   STORAGE_URL=f"sqlite:///{work}/bot.db", LOG_LEVEL="INFO")
    playground_log = artifacts / "playground.log"
    playground_dir = work / "playground"
    playground_dir.mkdir()
    playground_env = dict(base_env, TEAMSAPPTESTER_BROWSER="none")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with open(bot_log, "wb") as out:
            processes.append(subprocess.Popen(
                [sys.executable, "app.py"], cwd=ROOT, env=bot_env, stdout=out,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True))
        _wait_for(f"http://127.0.0.1:{bot_port}/healthz", processes[0], bot_log, "the bot")
        messages = f"http://127.0.0.1:{bot_port}/api/messages"
        with open(playground_log, "wb") as out:
            processes.append(subprocess.Popen(
                [str(node_path()), str(PLAYGROUND_CLI), "-p", str(playground_port), "-e", messages,
                 "-c", "msteams", "--disable-telemetry"],
                cwd=playground_dir, env=playground_env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True))
        # /_internal/v1/config only answers once the Playground reaches the bot.
        base = f"http://127.0.0.1:{playground_port}"
        _wait_for(f"{base}/_internal/v1/config", processes[1], playground_log, "the Playground")

        job = work / "job.json"
        job.write_text(json.dumps({
            "base": base, "chromium": str(chromium_path()), "artifacts": str(artifacts),
            "timeoutMs": 30000, "steps": _steps(default_knowledge()),
        }), encoding="utf-8")
        result = subprocess.run([str(node_path()), str(HERE / "drive-playground.cjs"), str(job)],
                                capture_output=True, text=True, timeout=DRIVER_SECONDS,
                                check=False)
        if result.returncode != 0:
            pytest.fail(f"{result.stderr.strip()[-4000:]}\n(screenshots and logs in {artifacts})",
                        pytrace=False)
        steps = json.loads(result.stdout)["steps"]
        yield Run(steps={step["name"]: step for step in steps})
    finally:
        for process in reversed(processes):
            _stop(process)


def test_install_greets_with_the_welcome_card(playground_run: Run) -> None:
    welcome = _flat(playground_run.steps["welcome"]["cardText"])
    assert "Hi, I'm the CLOUDEX Mail Setup Assistant" in welcome
    assert "paste the error message" in welcome
    assert "Start" in welcome and "Help" in welcome  # the buttons are drawn
    assert Path(playground_run.steps["welcome"]["screenshot"]).stat().st_size > 10_000


def test_a_pasted_error_gets_the_fix_card_with_its_powershell(playground_run: Run) -> None:
    fix = playground_run.steps["pasted-error"]
    text = _flat(fix["cardText"])
    assert "Authenticated SMTP is turned off for the whole organisation" in text
    # Short first: the evidence from the error is one "Why this happens" press away.
    assert "Why this happens" in text and "Other ways" in text
    # The PowerShell is drawn as code (the CodeBlock's monospace fallback here), not
    # only mentioned in the steps' prose.
    assert any(TENANT_SWITCH in _flat(code) for code in fix["monospace"]), fix["monospace"]
    assert "Yes, it works" in text and "No, still failing" in text


def test_the_guided_path_by_buttons_and_typing_ends_in_the_summary(playground_run: Run) -> None:
    knowledge = default_knowledge()
    steps = playground_run.steps
    assert knowledge.questions["mailbox"].prompt in _flat(steps["start-over"]["cardText"])
    # A step is named for the question it answered; its new card asks the next one.
    answered = ["mailbox"] + [question for question, _, _ in GUIDED_ANSWERS[:-1]]
    for previous, (question, _, _) in zip(answered, GUIDED_ANSWERS, strict=True):
        card = _flat(steps[previous]["cardText"])
        assert _progress(question) in card
        assert knowledge.questions[question].prompt in card

    summary = steps["test_result"]
    text = _flat(summary["cardText"])
    assert SUMMARY_TITLE in text
    assert MAILBOX in text
    # Typed "unticked" for the mailbox switch: the summary names that fix; its click path and
    # PowerShell are one "Details" press away, its whole fix card one "Show the fix" away.
    assert knowledge.cause("smtp_auth_disabled_mailbox").title in text
    assert "Details" in text and "Show the fix" in text
