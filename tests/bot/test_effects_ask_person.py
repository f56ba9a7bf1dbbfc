"""``AskPerson``: a desk needing a person returns an effect; the runner gives it to the handoff."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.effects import EffectRunner
from bot.metrics import bot_metrics
from dialogs.effects import AskPerson, Count

CUSTOMER = {"channelId": "msteams", "conversation": {"id": "a:1", "tenantId": "t"}}


class Handoff:
    """Records what it was asked (the real one is tested over HTTP in tests/live)."""

    def __init__(self) -> None:
        self.asked: list[tuple[Any, str, list[Any], str]] = []

    async def escalate(self, target: Mapping[str, Any], reason: str, *,
                       checks: Sequence[Any] = (), detail: str = "") -> None:
        self.asked.append((target, reason, list(checks), detail))


async def test_ask_person_reaches_whoever_the_composition_connected() -> None:
    metrics = bot_metrics()
    runner = EffectRunner(store=None, adapter=None, metrics=metrics)  # type: ignore[arg-type]
    handoff = Handoff()
    runner.people = handoff
    checks = ({"check_id": "smtp_probe", "status": "fail"},)
    await runner.run([AskPerson("checks", detail="sender_blocked", checks=checks,
                                customer=CUSTOMER),
                      Count("msa_checks_total", {"check": "smtp_probe", "result": "fail"})])
    assert handoff.asked == [(CUSTOMER, "checks", list(checks), "sender_blocked")]
    assert metrics.value("msa_checks_total", check="smtp_probe", result="fail") == 1


async def test_without_a_handoff_nobody_is_asked_and_nothing_fails() -> None:
    runner = EffectRunner(store=None, adapter=None, metrics=bot_metrics())  # type: ignore[arg-type]
    await runner.run([AskPerson("checks", customer=CUSTOMER)])
    assert runner.people is None
