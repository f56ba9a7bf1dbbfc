"""The engine's rule table on readings: confirm, echo, correct, change, wait, re-ask, answer.

Turns go through :meth:`FlowEngine.handle` exactly as the bot runs them, the
snapshot round-tripped through JSON between turns.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dialogs import messages
from dialogs.cards import noted_text
from dialogs.engine import RULES, FlowEngine, TurnInput, TurnResult
from dialogs.flow import QUESTIONS
from dialogs.i18n import translator
from dialogs.i18n.knowledge import localized
from dialogs.knowledge import Knowledge
from tests.support.cards import card_errors

EARLIER = {"mailbox": "tms@contoso.com", "mailbox_type": "user", "license": "yes", "mfa": "yes",
           "security_defaults": "no", "org_smtp_auth": "enabled", "mailbox_smtp_auth": "enabled",
           "conditional_access": "no", "auth_method": "oauth", "test_result": "works"}


def at(question: str, **answers: str) -> dict[str, Any]:
    """A snapshot asking ``question``, the questions before it answered."""
    earlier = {q: EARLIER[q] for q in QUESTIONS[: QUESTIONS.index(question)]}
    return {"v": 1, "state": f"ask_{question}", "facts": {"answers": {**earlier, **answers}}}


class Conversation:
    """Turns on one snapshot, as the bot keeps it."""

    def __init__(self, engine: FlowEngine, snapshot: dict[str, Any] | None = None) -> None:
        self.engine = engine
        self.snapshot = snapshot
        self.events: list[str] = []

    def turn(self, text: str = "", action: dict[str, Any] | None = None,
             locale: str | None = None) -> TurnResult:
        turn = TurnInput(text=text, action=action, locale=locale)
        result = self.engine.handle(self.snapshot, turn)
        for reply in result.replies:
            if reply.card is not None:
                assert card_errors(reply.card) == [], card_errors(reply.card)
        encoded = json.dumps(result.snapshot)
        assert len(encoded.encode()) <= 4096
        self.snapshot = json.loads(encoded)
        self.events.extend(str(event) for event in result.events)
        return result

    @property
    def answers(self) -> dict[str, str]:
        return dict((self.snapshot or {}).get("facts", {}).get("answers", {}))

    @property
    def state(self) -> str:
        return str((self.snapshot or {}).get("state"))


def shown(result: TurnResult) -> str:
    parts = []
    for reply in result.replies:
        parts.append(reply.text)
        if reply.card is not None:
            parts.append(json.dumps(reply.card, ensure_ascii=False))
    return "\n".join(parts)


def buttons(result: TurnResult) -> list[dict[str, Any]]:
    return [action["data"] for reply in result.replies if reply.card
            for action in reply.card.get("actions", []) if action.get("type") == "Action.Submit"]


def visible_words(card: dict[str, Any]) -> int:
    """Words a customer sees: text and button titles, not inside ShowCards or hidden elements."""
    count = 0

    def walk(node: Any) -> None:
        nonlocal count
        if isinstance(node, dict):
            if node.get("isVisible") is False:
                return
            if node.get("type") == "Action.ShowCard":
                count += len(str(node.get("title", "")).split())
                return
            for key in ("text", "title", "value"):
                if isinstance(node.get(key), str):
                    count += len(node[key].split())
            for value in node.values():
                if isinstance(value, (dict, list)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return count


@pytest.mark.parametrize(("said", "yes", "lang"), [("I think so", "yes", "en"),
                                                   ("laikam jā", "jā", "lv"),
                                                   ("вроде да", "да", "ru")])
def test_a_hedge_is_confirmed_before_it_is_stored(engine: FlowEngine, knowledge: Knowledge,
                                                  said: str, yes: str, lang: str) -> None:
    chat = Conversation(engine, at("mfa"))
    result = chat.turn(said)
    assert "mfa" not in chat.answers and chat.state == "ask_mfa"
    spec = localized(knowledge, lang).questions["mfa"]
    item = f"{spec.label}: {spec.option('yes').title}"
    assert translator(lang).format(messages.CONFIRM_PROMPT, item=item) in shown(result)
    assert {(b.get("fact"), b.get("value"), b.get("answer")) for b in buttons(result)} == {
        ("mfa", "yes", "yes"), ("mfa", "yes", "no")}
    result = chat.turn(yes)
    assert chat.answers["mfa"] == "yes"
    assert noted_text(knowledge, {"mfa": "yes"}, lang=lang) in shown(result)
    assert chat.state == "ask_security_defaults"


def test_no_to_did_you_mean_stores_nothing_and_asks_again(engine: FlowEngine) -> None:
    chat = Conversation(engine, at("security_defaults"))
    result = chat.turn("probably off")
    data = next(b for b in buttons(result) if b.get("answer") == "no")
    result = chat.turn(action=data)
    assert "security_defaults" not in chat.answers
    assert messages.CONFIRM_DROPPED in shown(result) and chat.state == "ask_security_defaults"
    # A new answer instead of yes or no is read for itself.
    chat.turn("probably off")
    chat.turn("they are definitely disabled")
    assert chat.answers["security_defaults"] == "no" and "confirm" not in chat.snapshot["facts"]


@pytest.mark.parametrize(("said", "echo", "lang"), [
    ("nope", {"mfa": "no"}, "en"), ("nē, nav", {"mfa": "no"}, "lv"), ("нет", {"mfa": "no"}, "ru"),
    ("yes, and security defaults are on too", {"mfa": "yes", "security_defaults": "yes"}, "en"),
])
def test_every_typed_answer_is_echoed_in_one_line(
    engine: FlowEngine, knowledge: Knowledge, said: str, echo: dict[str, str], lang: str
) -> None:
    result = Conversation(engine, at("mfa")).turn(said)
    assert noted_text(knowledge, echo, lang=lang) in shown(result)


@pytest.mark.parametrize(("said", "lang"), [("sorry, MFA is actually on", "en"),
                                           ("atvainojos, MFA tomēr ir", "lv"),
                                           ("извините, MFA всё-таки есть", "ru")])
def test_a_correction_at_any_point_replaces_the_answer(engine: FlowEngine, knowledge: Knowledge,
                                                       said: str, lang: str) -> None:
    chat = Conversation(engine, at("org_smtp_auth", mfa="no"))
    result = chat.turn(said)
    assert chat.answers["mfa"] == "yes"
    assert noted_text(knowledge, {"mfa": "yes"}, lang=lang) in shown(result)
    assert chat.state == "ask_org_smtp_auth"


@pytest.mark.parametrize(("said", "lang"), [("change the licence answer", "en"),
                                           ("gribu izlabot licences atbildi", "lv"),
                                           ("хочу поменять ответ про лицензию", "ru")])
def test_change_an_answer_asks_that_question_again(engine: FlowEngine, knowledge: Knowledge,
                                                   said: str, lang: str) -> None:
    summary = {"v": 1, "state": "summary", "facts": {"answers": dict(EARLIER)}}
    chat = Conversation(engine, summary)
    result = chat.turn(said)
    assert "license" not in chat.answers and chat.state == "ask_license"
    assert translator(lang)(messages.CHANGE_ANSWER) in shown(result)
    assert localized(knowledge, lang).questions["license"].prompt in shown(result)
    chat.turn("no, it has no licence at all")
    assert chat.answers["license"] == "no" and chat.state == "summary"  # the rest was known


@pytest.mark.parametrize(("said", "lang"), [("give me a sec, checking", "en"), ("mirklīti", "lv"),
                                           ("минутку, смотрю", "ru")])
def test_wait_gets_a_short_word_not_the_card_again(engine: FlowEngine, said: str,
                                                   lang: str) -> None:
    chat = Conversation(engine, at("conditional_access"))
    result = chat.turn(said)
    assert [r.text for r in result.replies] == [translator(lang)(messages.WAIT_ACK)]
    assert chat.state == "ask_conditional_access" and "conditional_access" not in chat.answers


def test_not_understood_at_the_start_is_a_short_re_ask_never_the_welcome_card(
    engine: FlowEngine,
) -> None:
    result = Conversation(engine).turn("purple monkey dishwasher")
    (reply,) = result.replies
    assert reply.card is not None and messages.WELCOME_TITLE not in shown(result)
    assert messages.NOT_UNDERSTOOD in shown(result)
    assert 2 <= len(buttons(result)) <= 3
    assert visible_words(reply.card) <= 50


@pytest.mark.parametrize(("said", "lead", "lang"), [
    ("I need the TMS to send e-mail from our Microsoft mailbox", messages.START_ACK, "en"),
    ("Labdien, mūsu sistēma nesūta vēstules", messages.PROBLEM_DESCRIBED, "lv"),
    ("Добрый вечер, наши письма не отправляются", messages.PROBLEM_DESCRIBED, "ru"),
])
def test_an_opening_about_the_job_starts_usefully(engine: FlowEngine, knowledge: Knowledge,
                                                  said: str, lead: str, lang: str) -> None:
    chat = Conversation(engine)
    result = chat.turn(said)
    tr = translator(lang)
    assert tr(lead) in shown(result) and tr(messages.NOT_UNDERSTOOD) not in shown(result)
    assert chat.state == "ask_mailbox"
    assert localized(knowledge, lang).questions["mailbox"].prompt in shown(result)
    assert chat.snapshot["lang"] == lang


@pytest.mark.parametrize(("said", "lang"), [
    ("where can I find security defaults?", "en"),
    ("kur var atrast drošības noklusējumus?", "lv"),
    ("где найти параметры безопасности по умолчанию?", "ru"),
])
def test_a_question_gets_one_short_answer_with_its_steps_then_the_question_again(
    engine: FlowEngine, knowledge: Knowledge, said: str, lang: str
) -> None:
    chat = Conversation(engine, at("mfa"))
    result = chat.turn(said)
    tr = translator(lang)
    answer = knowledge.answers["security_defaults"]
    card = result.replies[0].card
    assert card is not None and tr(answer.for_kind("where")) in shown(result)
    show_steps = [a for a in card["actions"] if a["type"] == "Action.ShowCard"]
    assert [a["title"] for a in show_steps] == [tr(messages.SHOW_THE_STEPS)]
    assert visible_words(card) <= 120
    # Back to the question we were on.
    assert localized(knowledge, lang).questions["mfa"].prompt in shown(result)
    assert chat.state == "ask_mfa" and "mfa" not in chat.answers


@pytest.mark.parametrize("topic", ["smtp_settings", "smtp_auth", "security_defaults",
                                   "conditional_access", "mfa", "license", "app_password", "oauth",
                                   "shared_mailbox", "basic_auth_change", "cloudex_needs"])
def test_every_answer_card_is_valid_and_short(engine: FlowEngine, knowledge: Knowledge,
                                              topic: str) -> None:
    from dialogs.cards import answer_card
    from dialogs.knowledge import ANSWER_KINDS

    for kind in sorted(ANSWER_KINDS):
        card = answer_card(knowledge, knowledge.answers[topic], kind, {"answers": EARLIER})
        assert card_errors(card) == [] and visible_words(card) <= 120, (topic, kind)


@pytest.mark.parametrize("said", ["can somebody from support call me back",
                                  "vai var sazināties ar kādu cilvēku?",
                                  "соедините меня с живым человеком"])
def test_asking_for_a_person_fires_the_handoff_trigger(engine: FlowEngine, said: str) -> None:
    chat = Conversation(engine, at("mfa"))
    chat.turn(said)
    assert chat.state == "handoff_requested" and "person_requested" in chat.events


def test_the_language_contract(engine: FlowEngine) -> None:
    chat = Conversation(engine)
    chat.turn("hi", locale="ru-RU")  # no language in "hi": Teams' locale is the hint
    assert chat.snapshot["lang"] == "ru" and "lang_chosen" not in chat.snapshot
    chat.turn("tms@contoso.com", locale="ru-RU")
    assert chat.snapshot["lang"] == "ru"
    chat.turn("tā ir parasta lietotāja pastkaste", locale="ru-RU")  # written Latvian wins
    assert chat.snapshot["lang"] == "lv"
    chat.turn("по-русски, пожалуйста")
    assert chat.snapshot["lang"] == "ru" and chat.snapshot["lang_chosen"] is True
    chat.turn("yes we have a licence")  # a chosen language outlasts the writing
    assert chat.snapshot["lang"] == "ru"
    result = chat.turn(action={"msa": "set_language", "lang": "en"})
    assert chat.snapshot["lang"] == "en" and "English" in shown(result)
    result = chat.turn(action={"msa": "set_language", "lang": "de"})
    assert chat.snapshot["lang"] == "en" and messages.STALE_BUTTON in shown(result)
    # A pasted error is Microsoft's English, not the customer's language.
    chat = Conversation(engine, {"v": 1, "state": "ask_mfa", "facts": {}, "lang": "lv"})
    chat.turn("535 5.7.139 Authentication unsuccessful, the user credentials were incorrect.")
    assert chat.snapshot["lang"] == "lv"


def test_several_facts_in_one_message_are_not_asked_again(engine: FlowEngine) -> None:
    chat = Conversation(engine)
    chat.turn("tms@x.lv, user mailbox, E3, MFA yes, SD off, tenant SMTP AUTH off, mailbox SMTP "
              "AUTH on, no CA, password")
    assert chat.state == "ask_test_result"  # the one question not answered yet
    assert chat.answers == {"mailbox": "tms@x.lv", "mailbox_type": "user", "license": "yes",
                            "mfa": "yes", "security_defaults": "no", "org_smtp_auth": "disabled",
                            "mailbox_smtp_auth": "enabled", "conditional_access": "no",
                            "auth_method": "basic"}


def test_the_rule_table_is_named_and_ends_with_a_rule_that_always_applies() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))
    assert RULES[-1].name.startswith("not understood")
