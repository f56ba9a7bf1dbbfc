"""Known values everywhere, one assessment for the summary, and whole conversations in lv and ru.

- Once the customer has given the mailbox address, every later PowerShell line,
  click path, fix step and text for the IT provider names it (validated and
  single-quoted in PowerShell), in every language.
- The summary's "Looks fine", "What to change" and "Still to find out" come
  from one assessment: an answer is never fine and to change at once.
- A conversation on a Latvian or Russian Teams (the activities' locale) gets
  every reply in that language, through the questions, the summary, a
  diagnosis and a request for a person, whatever is pressed; choosing another
  language mid-conversation switches the next reply.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialogs import cards, messages
from dialogs.assessment import OPEN_VALUES, assess
from dialogs.engine import FlowEngine, TurnInput, TurnResult
from dialogs.flow import QUESTIONS
from dialogs.i18n import LANGUAGES, SOURCE_LANG, translator
from dialogs.knowledge import Knowledge, default_knowledge
from tests.support.cards import card_errors, dict_nodes

ADDRESS = "o'brien@contoso.com"
QUOTED = "'o''brien@contoso.com'"  # PowerShell's literal for it
_STAND_INS = ("<sending mailbox address>", "‹sending mailbox address›", "{identity}", "{mailbox}",
              "‹mailbox›", "<the mailbox>", "‹the mailbox›")


def _all_cause_cards(knowledge: Knowledge, facts: dict[str, Any], lang: str) -> list[Any]:
    produced: list[Any] = []
    for cause_id in knowledge.cause_ids:
        produced.append(cards.fix_card(knowledge, cause_id, facts, lang=lang))
        diagnosis = {**facts, "diagnosis": {"candidates": [cause_id], "index": 0,
                                            "evidence": "535 5.7.139"}}
        produced.append(cards.diagnosis_card(knowledge, diagnosis, cause_id, lang=lang))
        produced.append(cards.fix_powershell_card(knowledge.cause(cause_id), facts, lang=lang))
    for question in QUESTIONS:
        produced.append(cards.how_to_find_out_card(knowledge, question, facts, lang=lang))
    produced.append(cards.overview_card(knowledge, lang=lang, facts=facts))
    return produced


def _shown_strings(card: Any) -> list[str]:
    strings: list[str] = []
    for node in dict_nodes(card):
        for key in ("text", "codeSnippet", "title", "value"):
            if isinstance(node.get(key), str):
                strings.append(node[key])
    return strings


@pytest.mark.parametrize("lang", LANGUAGES)
def test_with_the_address_given_every_line_and_path_names_it(
    knowledge: Knowledge, lang: str
) -> None:
    answers = {"mailbox": ADDRESS, "mailbox_type": "user", "license": "no", "mfa": "yes",
               "security_defaults": "yes", "org_smtp_auth": "disabled",
               "mailbox_smtp_auth": "disabled", "conditional_access": "yes",
               "auth_method": "basic", "test_result": "auth_failed"}
    facts = {"answers": answers}
    produced = [*_all_cause_cards(knowledge, facts, lang),
                cards.summary_card(knowledge, facts, lang=lang)]
    strings = [s for card in produced for s in _shown_strings(card)]
    assert [s for s in strings if any(stand_in in s for stand_in in _STAND_INS)] == []
    code = [line for card in produced for node in dict_nodes(card)
            if node.get("type") == "CodeBlock" for line in node["codeSnippet"].splitlines()]
    with_identity = [line for line in code if re.search(r"-(?:Identity|UserId|SenderAddress)\b",
                                                        line)]
    assert len(with_identity) > 15
    assert [line for line in with_identity if QUOTED not in line] == []
    paths = [s for s in strings if s.startswith("**[") and "› Users › Active users ›" in s]
    assert paths and all(f"› {ADDRESS} ›" in path for path in paths)
    forwards = [block["text"] for card in produced for action in card.get("actions", [])
                if action.get("type") == "Action.ShowCard"
                for block in action["card"]["body"][1:]
                if block["text"] != translator(lang)("In English:")]
    assert len(forwards) > 40
    greetings = [text for text in forwards if text.startswith(("Hello", "Labdien", "Здравствуйте"))]
    assert greetings and all(ADDRESS in text for text in greetings)


def test_the_address_given_first_reaches_every_later_card_in_a_conversation(
    engine: FlowEngine, knowledge: Knowledge
) -> None:
    snapshot = None
    produced: list[Any] = []

    def say(step: Any) -> TurnResult:
        nonlocal snapshot
        turn = TurnInput(action=step) if isinstance(step, dict) else TurnInput(text=step)
        result = engine.handle(snapshot, turn)
        snapshot = result.snapshot
        produced.extend(reply.card for reply in result.replies if reply.card)
        return result

    for step in ("start", "tms@contoso.com", "user", "I don't know", "I don't know", "yes",
                 "yes", "disabled", "disabled", "yes", "password", "authentication failed"):
        say(step)
    for cause_id in knowledge.cause_ids:
        say({"msa": "show_fix", "cause": cause_id})
    say("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
        "Mailbox")
    say("what is the PowerShell for that?")
    strings = [s for card in produced for s in _shown_strings(card)]
    assert [s for s in strings if any(stand_in in s for stand_in in _STAND_INS)] == []
    assert sum("'tms@contoso.com'" in s for s in strings) > 20


def test_an_unusable_address_never_reaches_powershell(knowledge: Knowledge) -> None:
    facts = {"answers": {"mailbox": "x@y.com; Remove-Mailbox boss"}}
    card = cards.fix_card(knowledge, "smtp_auth_disabled_mailbox", facts)
    shown = json.dumps(card)
    assert "Remove-Mailbox" not in shown
    assert "<sending mailbox address>" in shown  # the stand-in, as for an unknown address


def test_the_app_id_when_known_fills_the_oauth_steps(knowledge: Knowledge) -> None:
    app_id = "0f8fad5b-d9cb-469f-a165-70867728950e"
    card = cards.fix_card(knowledge, "oauth_token", {"app_id": app_id,
                                                     "answers": {"mailbox": ADDRESS}})
    assert f"New-ServicePrincipal -AppId {app_id}" in json.dumps(card)
    unknown = cards.fix_card(knowledge, "oauth_token", {"app_id": "not-a-guid"})
    assert "-AppId ‹Application (client) ID›" in json.dumps(unknown, ensure_ascii=False)


# ----- one assessment -------------------------------------------------------------------
def _values(knowledge: Knowledge, question: str) -> list[str]:
    return list(knowledge.questions[question].values)


_ANSWERS = st.fixed_dictionaries({}, optional={
    q: st.sampled_from(_values(default_knowledge(), q)) for q in QUESTIONS if q != "mailbox"})


@settings(max_examples=400, deadline=None)
@given(answers=_ANSWERS)
def test_no_answer_is_ever_fine_and_to_change_at_once(answers: dict[str, str]) -> None:
    knowledge = default_knowledge()
    assessment = assess(knowledge, answers)
    assert not set(assessment.fine) & assessment.concerned
    assert not set(assessment.fine) & set(assessment.unknown)
    assert set(assessment.unknown) == {q for q, v in answers.items() if v in OPEN_VALUES}
    for finding in assessment.findings:
        about = {c.fact for c in knowledge.assessment_rules[finding.rule_index].when}
        about |= {q.id for q in knowledge.questions.values()
                  if finding.cause.id in q.related_causes}
        assert not about & set(assessment.fine), (finding.cause.id, answers)
    # ... and the summary card shows exactly that.
    card = cards.summary_card(knowledge, {"answers": answers})
    facts = [node for node in dict_nodes(card) if node.get("type") == "FactSet"]
    fine_labels = [fact["title"] for fact_set in facts for fact in fact_set["facts"]]
    assert fine_labels == [knowledge.questions[q].label for q in assessment.fine]
    changes = [node["data"]["cause"] for node in dict_nodes(card)
               if node.get("data", {}).get("msa") == "show_fix"]
    assert changes == [f.cause.id for f in assessment.findings]


def test_a_missing_option_does_not_call_the_licence_fine(knowledge: Knowledge) -> None:
    answers = {"mailbox_type": "user", "license": "yes", "mailbox_smtp_auth": "missing",
               "org_smtp_auth": "enabled"}
    assessment = assess(knowledge, answers)
    assert "no_exchange_license" in [f.cause.id for f in assessment.findings]
    assert "license" not in assessment.fine and "org_smtp_auth" in assessment.fine
    shown = json.dumps(cards.summary_card(knowledge, {"answers": answers}))
    assert "Exchange Online licence" not in shown.split("What to change")[0]


# ----- whole conversations in Latvian and Russian ---------------------------------------
_ENGLISH = re.compile(r"\b(?:the|you|your|and|is|with|please|Sorry|Question)\b")


def _english_left(result: TurnResult) -> list[str]:
    """English words in what the customer reads, outside code, quotes, names and labels."""
    left = []
    for reply in result.replies:
        texts = [reply.text] if reply.text else []
        if reply.card:
            # Monospace runs are someone else's words shown as typed (the pasted error).
            texts += [node[key] for node in dict_nodes(reply.card)
                      if node.get("fontType") != "Monospace"
                      for key in ("text", "codeSnippet", "title", "value")
                      if isinstance(node.get(key), str)]
        texts = [t for t in texts if "Connect-" not in t]  # PowerShell is PowerShell
        for text in texts:
            bare = re.sub(r"'[^']*'|\[[^\]]*\]\([^)]*\)|\*\*[^*]*\*\*|<[^>]*>"
                          r"|‹[^›]*›|„[^”]*”|«[^»]*»", " ", text)
            if _ENGLISH.search(bare):
                left.append(text[:100])
    return left


def _in_english_section(card: dict[str, Any] | None) -> None:
    """Drop the English copy of the IT text (it is meant to be English)."""
    for action in (card or {}).get("actions", []):
        if action.get("type") == "Action.ShowCard":
            action["card"]["body"] = action["card"]["body"][:2]


@pytest.mark.parametrize("lang", ["lv", "ru"])
def test_a_conversation_in_latvian_or_russian_answers_in_it_throughout(
    engine: FlowEngine, lang: str
) -> None:
    locale = {"lv": "lv-LV", "ru": "ru-RU"}[lang]
    snapshot: dict[str, Any] | None = None  # a new conversation: Teams' locale is all we know
    steps: list[Any] = [
        {"msa": "start"}, {"msa": "answer", "question": "mailbox", "mailbox": "tms@contoso.com"},
        *({"msa": "answer", "question": q, "value": v} for q, v in (
            ("mailbox_type", "user"), ("license", "yes"), ("mfa", "yes"),
            ("security_defaults", "unsure"))),
        {"msa": "unsure", "question": "security_defaults"},
        *({"msa": "answer", "question": q, "value": v} for q, v in (
            ("org_smtp_auth", "disabled"), ("mailbox_smtp_auth", "disabled"),
            ("conditional_access", "no"), ("auth_method", "basic"),
            ("test_result", "auth_failed"))),
        {"msa": "show_fix", "cause": "smtp_auth_disabled_tenant"},
        {"msa": "help"}, {"msa": "overview"}, {"msa": "nonsense"},
        ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
         "Tenant"),
        {"msa": "fix_failed", "cause": "smtp_auth_disabled_tenant"},
        {"msa": "person"}, {"msa": "continue"}, {"msa": "back"}, {"msa": "start_over"},
    ]
    states = set()
    for step in steps:
        turn = TurnInput(action=step, locale=locale) if isinstance(step, dict) \
            else TurnInput(text=step, locale=locale)
        result = engine.handle(snapshot, turn)
        snapshot = result.snapshot
        assert snapshot["lang"] == lang
        states.add(result.state)
        for reply in result.replies:
            if reply.card:
                assert card_errors(reply.card) == []
                _in_english_section(reply.card)
        assert _english_left(result) == [], (step, result.state)
    assert {"summary", "proposing_fix", "handoff_requested"} <= states


def test_switching_the_language_changes_the_next_reply(engine: FlowEngine) -> None:
    first = engine.handle(None, TurnInput(action={"msa": "start"}, locale="en-US"))
    assert "Question 1 of 10" in json.dumps(first.replies[-1].card)
    chosen = engine.handle(first.snapshot, TurnInput(action={"msa": "set_language", "lang": "ru"}))
    second = engine.handle(chosen.snapshot, TurnInput(action={"msa": "help"}, locale="en-US"))
    assert second.snapshot["lang"] == "ru"  # chosen: over the English Teams
    shown = json.dumps([r.card for r in second.replies], ensure_ascii=False)
    assert "Что можно написать" in shown and "Вопрос 1 из 10" in shown
    typed = engine.handle(second.snapshot, TurnInput(text="in English", locale="ru-RU"))
    back = engine.handle(typed.snapshot, TurnInput(text="hello?", locale="ru-RU"))
    assert back.snapshot["lang"] == SOURCE_LANG
    assert "Question 1 of 10" in json.dumps([r.card for r in back.replies])


def test_the_language_buttons_offer_every_language(knowledge: Knowledge) -> None:
    for builder in (cards.welcome_card, cards.help_card):
        card = builder(knowledge, lang="lv")
        (language,) = [a for a in card["actions"] if a["type"] == "Action.ShowCard"]
        assert language["title"] == "Valoda"
        choices = [(a["title"], a["data"]) for a in language["card"]["actions"]]
        assert choices == [("English", {"msa": "set_language", "lang": "en"}),
                           ("✓ Latviešu", {"msa": "set_language", "lang": "lv"}),
                           ("Русский", {"msa": "set_language", "lang": "ru"})]


def test_check_my_tenant_is_offered_only_when_sign_in_is_configured(
    knowledge: Knowledge
) -> None:
    def offers(card: dict[str, Any]) -> bool:
        return any(node.get("data", {}).get("msa") == "run_checks" for node in dict_nodes(card))

    facts = {"answers": {"mailbox": "tms@contoso.com", "license": "no"}}
    assert not offers(cards.welcome_card(knowledge))
    assert not offers(cards.summary_card(knowledge, facts))
    assert "check my tenant" not in json.dumps(cards.help_card(knowledge))
    assert offers(cards.welcome_card(knowledge, live_checks=True))
    assert offers(cards.summary_card(knowledge, facts, live_checks=True))
    assert "check my tenant" in json.dumps(cards.help_card(knowledge, live_checks=True))
    plain = FlowEngine(knowledge)
    assert not offers(plain.welcome(None).replies[0].card or {})
    signed = FlowEngine(knowledge, live_checks=True)
    assert offers(signed.welcome(None).replies[0].card or {})


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_unknown_address_is_a_blank_to_fill_in_that_reads_right_in_every_language(
    knowledge: Knowledge, lang: str
) -> None:
    # "from the mailbox" would need another case ending in Latvian and Russian ("no
    # pastkastes", "с ящика") than a translation can give a stand-in; a blank to fill in,
    # ‹sending mailbox address›, reads right once the address is written in it.
    blank = f"‹{translator(lang)(messages.SENDING_MAILBOX_ADDRESS)}›"
    texts = [text for cause in knowledge.causes for text in cards.forward_texts(cause, {}, lang)]
    assert all("{mailbox}" not in text and "{identity}" not in text for text in texts)
    assert sum(blank in text for text in texts) >= 10
    summary = json.dumps(cards.summary_card(knowledge, {"answers": {"mailbox": "unsure",
                                                                      "license": "no"}},
                                            lang=lang), ensure_ascii=False)
    assert blank in summary
    # Known, the address itself, everywhere.
    known = [text for cause in knowledge.causes
             for text in cards.forward_texts(cause, {"answers": {"mailbox": ADDRESS}}, lang)]
    assert not any(blank in text for text in known)
