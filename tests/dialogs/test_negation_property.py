"""Property: for every fact and language, the negated form of a statement never stores its value.

A statement and its negation are built from the topic's names and the ways people
say it is so / is not so, in English, Latvian and Russian, with and without
diacritics, in any context (the question asked, another question, none), with
filler around them. Whatever the affirmative form stores, the negated form must
never store the same value: it stores the opposite, or nothing (and asks).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialogs.understanding import Understanding
from dialogs.understanding.text import fold

# Names of each yes/no fact, per language.
TOPICS: dict[str, dict[str, list[str]]] = {
    "en": {
        "mfa": ["MFA", "2FA", "multi-factor authentication", "two-factor"],
        "security_defaults": ["security defaults", "SD"],
        "conditional_access": ["conditional access", "a CA policy"],
        "license": ["a licence", "an Exchange Online license"],
        "org_smtp_auth": ["SMTP AUTH for the tenant", "SMTP AUTH for the whole organization"],
        "mailbox_smtp_auth": ["Authenticated SMTP on the mailbox", "SMTP AUTH for the mailbox"],
    },
    "lv": {
        "mfa": ["MFA", "2FA", "divfaktoru autentifikācija"],
        "security_defaults": ["drošības noklusējumi", "security defaults", "SD"],
        "conditional_access": ["conditional access", "CA politika"],
        "license": ["licence", "Exchange Online licence"],
        "org_smtp_auth": ["SMTP AUTH tenantam", "SMTP AUTH visai organizācijai"],
        "mailbox_smtp_auth": ["SMTP AUTH pastkastei", "authenticated smtp pastkastei"],
    },
    "ru": {
        "mfa": ["MFA", "2FA", "двухфакторная аутентификация"],
        "security_defaults": ["security defaults", "параметры безопасности по умолчанию", "SD"],
        "conditional_access": ["conditional access", "условный доступ"],
        "license": ["лицензия", "лицензия Exchange Online"],
        "org_smtp_auth": ["SMTP AUTH для тенанта", "SMTP AUTH для всей организации"],
        "mailbox_smtp_auth": ["SMTP AUTH для ящика", "authenticated smtp на ящике"],
    },
}
# (affirmative, negated) frames: {t} is the topic.
FRAMES: dict[str, list[tuple[str, str]]] = {
    "en": [("{t} is on", "{t} is not on"), ("{t} is enabled", "{t} isn't enabled"),
           ("we have {t}", "we don't have {t}"), ("{t}: yes", "{t}: no"),
           ("yes, {t} is turned on", "no, {t} is not turned on"),
           ("{t} is allowed", "{t} is not allowed"), ("we use {t}", "we never use {t}"),
           ("{t} is active", "{t} is not active")],
    "lv": [("{t} ir ieslēgts", "{t} nav ieslēgts"), ("{t} ir ieslegts", "{t} nav ieslegts"),
           ("mums ir {t}", "mums nav {t}"), ("jā, {t} ir aktīvs", "nē, {t} nav aktīvs"),
           ("{t} ir atļauts", "{t} nav atļauts"), ("lietojam {t}", "nelietojam {t}"),
           ("{t} ir ieslēgts", "{t} ir neieslēgts"), ("{t}: jā", "{t}: nē")],
    "ru": [("{t} включена", "{t} не включена"), ("{t} включен", "{t} не включен"),
           ("у нас есть {t}", "у нас нет {t}"), ("да, {t} включена", "нет, {t} не включена"),
           ("{t} разрешен", "{t} не разрешен"), ("используем {t}", "не используем {t}"),
           ("{t}: да", "{t}: нет"), ("{t} активна", "{t} не активна")],
}
# Facts with several values: saying what it is, and what it is not.
VALUES: dict[str, list[tuple[str, str, str, str]]] = {  # fact, value, affirmative, negated
    "en": [("mailbox_type", "shared", "it's a shared mailbox", "it's not a shared mailbox"),
           ("auth_method", "app_password", "the tms uses an app password",
            "the tms doesn't use an app password"),
           ("auth_method", "oauth", "we sign in with oauth", "we don't sign in with oauth"),
           ("test_result", "works", "the test mail works", "the test mail doesn't work")],
    "lv": [("mailbox_type", "shared", "tā ir kopīgā pastkaste", "tā nav kopīgā pastkaste"),
           ("auth_method", "app_password", "tms lieto lietotnes paroli",
            "tms nelieto lietotnes paroli"),
           ("test_result", "works", "testa vēstule strādā", "testa vēstule nestrādā")],
    "ru": [("mailbox_type", "shared", "это общий ящик", "это не общий ящик"),
           ("auth_method", "app_password", "tms использует пароль приложения",
            "tms не использует пароль приложения"),
           ("test_result", "works", "тестовое письмо работает", "тестовое письмо не работает")],
}
AFFIRMATIVE = {"mfa": "yes", "security_defaults": "yes", "conditional_access": "yes",
               "license": "yes", "org_smtp_auth": "enabled", "mailbox_smtp_auth": "enabled"}
FILLERS = {"en": ["", "well, ", "ok so ", "hmm "], "lv": ["", "nu, ", "labi, ", "hmm "],
           "ru": ["", "ну, ", "так, ", "хм "]}

_READER: list[Understanding] = []


def reader() -> Understanding:
    if not _READER:
        _READER.append(Understanding())
    return _READER[0]


def stored(text: str, context: str | None) -> dict[str, str]:
    reading = reader().read(text, context)
    return {fact.name: fact.value for fact in reading.stored}


statements = st.sampled_from(["en", "lv", "ru"]).flatmap(lambda lang: st.tuples(
    st.just(lang),
    st.sampled_from(sorted(TOPICS[lang])).flatmap(lambda fact: st.tuples(
        st.just(fact), st.sampled_from(TOPICS[lang][fact]))),
    st.sampled_from(FRAMES[lang]),
    st.sampled_from(FILLERS[lang]),
    st.booleans(),
))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(statements, st.sampled_from([None, "same", "other"]))
def test_the_negated_form_never_stores_the_affirmative_value(statement, where) -> None:  # type: ignore[no-untyped-def]
    _lang, (fact, topic), (yes_frame, no_frame), filler, plain = statement
    context = {None: None, "same": fact, "other": "test_result"}[where]
    affirmative = filler + yes_frame.format(t=topic)
    negated = filler + no_frame.format(t=topic)
    if plain:  # typed without diacritics
        affirmative, negated = fold(affirmative), fold(negated)
    said = stored(affirmative, context).get(fact)
    assert said in (None, AFFIRMATIVE[fact]), (affirmative, said)
    assert stored(negated, context).get(fact) != AFFIRMATIVE[fact], negated


@pytest.mark.parametrize("lang", ["en", "lv", "ru"])
def test_every_fact_and_language_has_statements_that_store_and_negations_that_do_not(
    lang: str,
) -> None:
    for fact, topics in TOPICS[lang].items():
        stored_any = False
        for topic in topics:
            for yes_frame, no_frame in FRAMES[lang]:
                yes = stored(yes_frame.format(t=topic), fact).get(fact)
                no = stored(no_frame.format(t=topic), fact).get(fact)
                stored_any = stored_any or yes == AFFIRMATIVE[fact]
                assert no != AFFIRMATIVE[fact], no_frame.format(t=topic)
        # The property means something only if the affirmative forms are read as such.
        assert stored_any, (lang, fact)
    for fact, value, yes_text, no_text in VALUES[lang]:
        for context in (None, fact):
            assert stored(no_text, context).get(fact) != value, no_text
        assert stored(yes_text, fact).get(fact) == value, yes_text
