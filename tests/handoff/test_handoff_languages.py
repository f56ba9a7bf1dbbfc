"""The handoff in the customer's language: every sentence the customer reads, none the agents read.

The desk runs on in-memory ports through everything a handoff can say to a
customer — queued (with and without a support channel), after hours, the
timeout, waiting messages, an agent joining and taking over from a colleague,
the agent's relayed words, a withheld password, the hand back, the feedback
and its re-asks, a handoff hub's outcomes, the "could not deliver" notices —
for a Latvian and a Russian customer. A recording translator proves that
every sentence of :class:`ToCustomer` was said, and only in the customer's
language; the texts themselves are read for English left over. What the
agents get (thread messages, ticket cards, notices) is read for the
opposite: English, with the customer's language named and their own words
as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dialogs.effects import Effect, PostThread, Say, SayTo, UpdateThreadCard
from dialogs.events import Event, Kind
from dialogs.handoff import cards as hc
from dialogs.handoff import desk as desk_module
from dialogs.handoff import phrases as p
from dialogs.handoff.desk import DeskConfig, HandoffDesk, Message, Outcome
from dialogs.handoff.phrases import ToCustomer
from dialogs.handoff.ports import ConversationState, Person
from dialogs.i18n import LANGUAGE_NAMES_EN, Translator, translator
from dialogs.knowledge import Knowledge
from dialogs.support_hours import parse_support_hours
from tests.support.cards import dict_nodes
from tests.support.desk import Line, MemorySettings, MemoryTickets
from tests.support.language import english_words_left

RIGA = ZoneInfo("Europe/Riga")
SATURDAY = datetime(2026, 12, 5, 10, 0, tzinfo=RIGA)    # support closed
WEDNESDAY = datetime(2026, 12, 2, 10, 0, tzinfo=RIGA)   # support open
HOURS = parse_support_hours("Mon-Fri 08:00-17:00 Europe/Riga")
CHANNEL = {"conversation": {"id": "19:support"}, "serviceUrl": "https://smba.example/",
           "channelId": "msteams", "bot": {"id": "28:bot"}}
DANA = Person("29:dana", "Dana Bērziņa", staff=True)
MARA = Person("29:mara", "Mara Ozola", staff=True)
# What each customer writes: their own words reach the agents as written, never translated.
OWN_WORDS = {"lv": "Sveiki, vai kāds var palīdzēt? Joprojām 535 5.7.139",
             "ru": "Здравствуйте, кто-нибудь может помочь? Всё ещё 535 5.7.139"}
YES = {"lv": "jā", "ru": "да"}
NO = {"lv": "nē", "ru": "нет"}
AGENT_WORDS = "Please send a test e-mail now."  # an agent's message: relayed as written
OTHER_SCRIPT = {"lv": "[а-яё]", "ru": "[āčēģīķļņšūž]"}


def customer_ref(conversation: str, channel: str = "msteams") -> dict[str, Any]:
    return {"conversation": {"id": conversation}, "serviceUrl": "https://smba.example/",
            "channelId": channel, "user": {"name": "Alex Wilber"}}


def thread_ref(n: int) -> dict[str, Any]:
    return {"conversation": {"id": f"19:support;messageid={n}"}, "activityId": f"act-{n}",
            "serviceUrl": "https://smba.example/", "channelId": "msteams"}


class RecordingTranslator(Translator):
    """A real translator that writes down each English source it is asked for, and the language."""

    def __init__(self, real: Translator, asked: list[tuple[str, str]]) -> None:
        super().__init__(real.lang, real._table)  # the same catalog, recorded
        self.asked = asked

    def __call__(self, source: str) -> str:
        self.asked.append((self.lang, source))
        return super().__call__(source)


def customer_sentences() -> dict[str, tuple[str, ...]]:
    """Every name of :class:`ToCustomer` with its English text(s)."""
    return {name: value if isinstance(value, tuple) else (value,)
            for name, value in vars(ToCustomer).items() if name.isupper()}


def card_texts(card: Mapping[str, Any]) -> list[str]:
    found = []
    for node in dict_nodes(card):
        if node.get("type") == "FactSet":
            found += [f"{f['title']}: {f['value']}" for f in node.get("facts", [])]
        for key in ("text", "title"):
            if isinstance(node.get(key), str) and not set(node[key]) <= {"⭐"}:
                found.append(node[key])
    return found


def reply_texts(replies: Sequence[Any]) -> list[str]:
    texts: list[str] = []
    for reply in replies:
        if reply.text:
            texts.append(reply.text)
        if reply.card:
            texts += card_texts(reply.card)
    return texts


@dataclass
class Sides:
    """What one run of the desk said, sorted by who reads it."""

    customers: set[str]
    customer: list[str] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)

    def to_customer(self, ref: Mapping[str, Any]) -> bool:
        return str(ref.get("conversation", {}).get("id")) in self.customers

    def take(self, effects: Sequence[Effect], *, customer_turn: bool) -> None:
        """Sort a turn's effects: ``Say`` goes to whoever took the turn."""
        for effect in effects:
            if isinstance(effect, Say):
                (self.customer if customer_turn else self.agents).extend(
                    reply_texts([effect.reply]))
            elif isinstance(effect, SayTo):
                self.take_say_to(effect)
            elif isinstance(effect, PostThread):
                self.agents += [effect.summary, *card_texts(effect.card)]
                self.failure(effect.on_fail)
            elif isinstance(effect, UpdateThreadCard):
                self.agents += card_texts(effect.card)

    def take_say_to(self, effect: SayTo) -> None:
        side = self.customer if self.to_customer(effect.to) else self.agents
        side.extend(reply_texts(effect.replies))
        self.failure(effect.on_fail)

    def failure(self, notice: Any) -> None:
        if notice is not None:
            (self.customer if self.to_customer(notice.to) else self.agents).append(notice.text)

    def outcome(self, outcome: Outcome, *, customer_turn: bool) -> None:
        self.take(outcome.effects, customer_turn=customer_turn)
        for line in outcome.lines:
            if line.relay is not None:
                self.take_say_to(line.relay)


class Run:
    """One customer (and a second one) through a whole handoff, in one language."""

    def __init__(self, knowledge: Knowledge, lang: str, asked: list[tuple[str, str]]) -> None:
        self.knowledge, self.lang, self.asked = knowledge, lang, asked
        self.sides = Sides({"a:alex", "a:ilze", "a:hub", "a:late"})

    def desk(self, now: datetime, *, hours: bool = True, hub: bool = False,
             tickets: MemoryTickets | None = None,
             settings: MemorySettings | None = None) -> tuple[HandoffDesk, MemoryTickets]:
        tickets = tickets or MemoryTickets(now)
        config = DeskConfig(timeout_minutes=10, hub_protocol=hub,
                            hours=HOURS if hours else None)
        return HandoffDesk(self.knowledge, tickets, settings or MemorySettings(), config), tickets

    def state(self) -> ConversationState:
        return ConversationState(lang=self.lang)

    def said(self, conversation: str, text: str = "", *, sender: Person | None = None,
             action: dict[str, Any] | None = None, password: bool = False) -> Message:
        person = sender or Person("29:alex", "Alex Wilber")
        return Message(conversation, f"act-{len(self.asked)}-{text[:8]}", person, text,
                       action=action, has_password=password)

    def sent(self, tickets: MemoryTickets) -> None:
        """What the store's take over / hand back composed (delivered through the outbox)."""
        for effect in tickets.sent:
            self.sides.take_say_to(effect)
        tickets.sent.clear()

    async def everything(self) -> None:
        lang = self.lang
        # Saturday: support is closed. Ilze asks before any support channel is known.
        desk, tickets = self.desk(SATURDAY)
        ilze = self.state()
        _, effects = await desk.escalate(customer=customer_ref("a:ilze"), customer_name="Ilze",
                                         tenant_id="t", reason="person_requested", state=ilze,
                                         facts={}, now=SATURDAY)
        self.sides.take(effects, customer_turn=True)
        # Alex asks once the channel is set; their ticket card names their language.
        await desk.kv.set("handoff/support_channel", CHANNEL)
        alex = ConversationState(lang=lang, recent=[
            {"who": "Alex Wilber", "text": OWN_WORDS[lang], "at": "", "id": "1"}])
        ticket, effects = await desk.escalate(
            customer=customer_ref("a:alex"), customer_name="Alex Wilber", tenant_id="t",
            reason="person_requested", state=alex, facts={}, now=SATURDAY)
        self.sides.take(effects, customer_turn=True)
        assert ticket.summary["lang"] == lang and alex.handoff == {"ticket": ticket.id,
                                                                   "lang": lang}
        [post] = [e for e in effects if isinstance(e, PostThread)]
        assert f"Customer's language: {LANGUAGE_NAMES_EN[lang]}" in card_texts(post.card)
        _, effects = await desk.escalate(
            customer=customer_ref("a:alex"), customer_name="Alex Wilber", tenant_id="t",
            reason="person_requested", state=alex, facts={}, now=SATURDAY)
        self.sides.take(effects, customer_turn=True)
        await tickets.update(ticket.id, support_thread_ref=thread_ref(1))
        # Waiting: their words go to the thread as written; what the flow did not get is noted.
        words = self.said("a:alex", OWN_WORDS[lang])
        waiting = await desk.customer_message(words, alex, SATURDAY)
        self.sides.outcome(waiting, customer_turn=True)
        tickets.lines += [(line.ticket_id, Line(line.text, line.sender, line.direction, SATURDAY))
                          for line in waiting.lines]  # kept with the turn, as the store does
        self.sides.customer += reply_texts(desk.after_flow(
            words, alex, [Event(Kind.NOT_UNDERSTOOD)], []) or [])
        # Monday: Dana takes over, Alex types nothing, then a password, Dana writes.
        monday = SATURDAY + timedelta(days=2)
        _, note, effects = await desk.card_action(DANA, hc.VERB_TAKE_OVER, {"ticket": ticket.id},
                                                  "", monday)
        assert note is None
        self.sides.take(effects, customer_turn=False)
        self.sent(tickets)
        for message in (self.said("a:alex"),
                        self.said("a:alex", "parole: Hunter2hunter2", password=True)):
            self.sides.outcome(await desk.customer_message(message, alex, monday),
                               customer_turn=True)
        thread = self.said("19:support;messageid=1", AGENT_WORDS, sender=DANA)
        self.sides.outcome(await desk.channel_message(
            thread, channel_id="19:support", channel_ref=CHANNEL, tenant_id="t", now=monday),
            customer_turn=False)
        # Mara takes it from Dana, then hands back.
        _, note, effects = await desk.card_action(
            MARA, hc.VERB_TAKE_FROM, {"ticket": ticket.id, "from": DANA.id}, "", monday)
        self.sides.take(effects, customer_turn=False)
        self.sent(tickets)
        self.sides.outcome(await desk.channel_message(
            self.said("19:support;messageid=1", "done", sender=MARA),
            channel_id="19:support", channel_ref=CHANNEL, tenant_id="t", now=monday),
            customer_turn=False)
        self.sent(tickets)
        # Feedback in the customer's words: not solved, an odd rating, a rating, a late press.
        for message in (self.said("a:alex", NO[lang]),
                        self.said("a:alex", action={"msa": hc.VERB_RATING, "ticket": ticket.id,
                                                    "value": 9}),
                        self.said("a:alex", "4"),
                        self.said("a:alex", action={"msa": hc.VERB_SOLVED, "ticket": ticket.id,
                                                    "value": "no"}),
                        self.said("a:alex", action={"msa": hc.VERB_SOLVED, "ticket": "gone",
                                                    "value": "yes"})):
            self.sides.outcome(await desk.customer_message(message, alex, monday),
                               customer_turn=True)
        # Ilze's ticket ends without a named agent (handed back by support), and is solved.
        ilze_ticket = await tickets.open_for("a:ilze")
        assert ilze_ticket is not None
        await desk.hand_back(ilze_ticket)
        self.sent(tickets)
        for text in (YES[lang], "5 ⭐"):
            self.sides.outcome(await desk.customer_message(self.said("a:ilze", text), ilze,
                                                           monday), customer_turn=True)
        await self.sweeps()
        await self.hub()

    async def sweeps(self) -> None:
        # Nobody took it in time: in support hours "at the latest today at 17:00", without
        # hours "as soon as someone is free". The sweep reads the language off the ticket.
        for hours in (True, False):
            desk, tickets = self.desk(WEDNESDAY, hours=hours)
            late, _ = await desk.escalate(
                customer=customer_ref("a:late"), customer_name="Late", tenant_id="t",
                reason="person_requested", state=self.state(), facts={}, now=WEDNESDAY)
            await tickets.update(late.id, support_thread_ref=thread_ref(2))
            told, effects = await desk.sweep(WEDNESDAY + timedelta(minutes=11))
            assert told == 1
            self.sides.take(effects, customer_turn=False)
        # Said in the sweep's and the after-hours notices' way for every other day.
        tr = desk_module.translator(self.lang)
        for days in (1, 3, 9):
            self.sides.customer.append(p.when(WEDNESDAY + timedelta(days=days), WEDNESDAY, RIGA,
                                              tr))

    async def hub(self) -> None:
        # A handoff hub (non-Teams channel): connecting, failed with and without a reason,
        # completed.
        for outcome in ({"state": "failed", "message": "no agents online"},
                        {"state": "failed"}, {"state": "completed"}):
            desk, _ = self.desk(WEDNESDAY, hub=True)
            state = self.state()
            _, effects = await desk.escalate(
                customer=customer_ref("a:hub", channel="webchat"), customer_name="Hub",
                tenant_id="t", reason="person_requested", state=state, facts={}, now=WEDNESDAY)
            self.sides.take([e for e in effects if isinstance(e, Say)], customer_turn=True)
            self.sides.take(await desk.hub_status("a:hub", outcome, state), customer_turn=True)


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every (language, English source) the handoff asked a translator for."""
    log: list[tuple[str, str]] = []

    def recording(lang: str) -> Translator:
        return RecordingTranslator(translator(lang), log)

    for module in (desk_module, hc):
        monkeypatch.setattr(module, "translator", recording)
    return log


def without(text: str, *parts: str) -> str:
    for part in parts:
        text = text.replace(part, " ")
    return text


@pytest.mark.parametrize("lang", ["lv", "ru"])
async def test_every_sentence_to_the_customer_is_said_in_their_language(
    lang: str, knowledge: Knowledge, asked: list[tuple[str, str]]
) -> None:
    run = Run(knowledge, lang, asked)
    await run.everything()
    sentences = customer_sentences()
    english = {text: name for name, texts in sentences.items() for text in texts}
    said_in = {(asked_lang, english[source]) for asked_lang, source in asked if source in english}
    # Every sentence was said (the run reaches them all), and never in another language.
    assert {name for _, name in said_in} == set(sentences)
    assert {asked_lang for asked_lang, _ in said_in} == {lang}

    tr = translator(lang)
    header = f"**{p.name_of(DANA.name, '')} ({tr(ToCustomer.SUPPORT_NAME)}):** "
    assert f"{header}{AGENT_WORDS}" in run.sides.customer  # the agent's words, untranslated
    left = {text: english_words_left(without(text, AGENT_WORDS, "Mail Setup Assistant"))
            for text in run.sides.customer}
    assert {text: words for text, words in left.items() if words} == {}
    names = (DANA.name, MARA.name)  # Latvian agents' names stay as they are, for everyone
    assert [t for t in run.sides.customer
            if re.search(OTHER_SCRIPT[lang], without(t, *names), re.I)] == []
    if lang == "ru":
        assert [t for t in run.sides.customer
                if not re.search("[а-яё]", without(t, AGENT_WORDS), re.I)] == []


@pytest.mark.parametrize("lang", ["lv", "ru"])
async def test_agents_read_english_with_the_language_named_and_the_customers_own_words(
    lang: str, knowledge: Knowledge, asked: list[tuple[str, str]]
) -> None:
    run = Run(knowledge, lang, asked)
    await run.everything()
    agents = run.sides.agents
    assert f"Customer's language: {LANGUAGE_NAMES_EN[lang]}" in agents
    assert f"**Alex Wilber:** {p.inert(OWN_WORDS[lang])}" in agents  # as written, inert
    assert any(text.startswith("While waiting, Alex Wilber wrote:") for text in agents)
    catalog = translator(lang)
    bot_in_their_language = {catalog(text) for texts in customer_sentences().values()
                             for text in texts if len(catalog(text)) > 3} - {
                                 text for texts in customer_sentences().values() for text in texts}
    leaked = [text for text in agents if any(own in text for own in bot_in_their_language)]
    assert leaked == []
    script = {"lv": "[āčēģīķļņšūž]", "ru": "[а-яё]"}[lang]
    customer_words = (OWN_WORDS[lang], p.inert(OWN_WORDS[lang]), DANA.name, MARA.name)
    assert [t for t in agents if re.search(script, without(t, *customer_words), re.I)] == []
    for notice in (p.HANDED_BACK_AGENT, p.TAKEN_FROM_NOTE.format(agent=MARA.name,
                                                                 previous=DANA.name),
                   p.NOBODY_TOOK_IT.format(minutes=10), p.NEEDS_A_PERSON.format(
                       customer="Alex Wilber")):
        assert notice in agents, notice


async def test_a_language_changed_while_waiting_is_what_the_agent_joining_is_said_in(
    knowledge: Knowledge,
) -> None:
    tickets = MemoryTickets(WEDNESDAY)
    desk = HandoffDesk(knowledge, tickets, MemorySettings(), DeskConfig())
    state = ConversationState(lang="en")
    ticket, _ = await desk.escalate(customer=customer_ref("a:alex"), customer_name="Alex",
                                    tenant_id="t", reason="person_requested", state=state,
                                    facts={}, now=WEDNESDAY)
    await desk.follow_language(state)
    assert tickets.tickets[ticket.id].summary["lang"] == "en"  # unchanged: nothing written
    state.lang = "lv"  # the customer wrote "latviski" while waiting (the flow's turn)
    await desk.follow_language(state)
    assert tickets.tickets[ticket.id].summary["lang"] == "lv"
    assert state.handoff == {"ticket": ticket.id, "lang": "lv"}
    await desk.card_action(DANA, hc.VERB_TAKE_OVER, {"ticket": ticket.id}, "", WEDNESDAY)
    [joined] = [effect.replies[0].text for effect in tickets.sent]
    assert joined == translator("lv").format(ToCustomer.JOINED, agent="Dana Bērziņa")
    card = desk.thread_card(tickets.tickets[ticket.id])
    assert "Customer's language: Latvian" in card_texts(card)


def test_support_hours_and_moments_read_as_people_write_them() -> None:
    lv, ru, en = translator("lv"), translator("ru"), translator("en")
    hours = parse_support_hours("Mon-Thu 08:00-17:00, Fri 08:00-15:00 Europe/Riga")
    assert hours is not None
    assert p.hours_text(hours, en) == "Mon-Thu 08:00-17:00; Fri 08:00-15:00 Europe/Riga"
    assert p.hours_text(hours, lv) == "P-C 08:00-17:00; Pk 08:00-15:00 Europe/Riga"
    assert p.hours_text(hours, ru) == "Пн-Чт 08:00-17:00; Пт 08:00-15:00 Europe/Riga"
    weekend = parse_support_hours("Fri-Mon 09:00-18:00; Wed 10:00-12:00")
    assert weekend is not None and p.hours_text(weekend, en) == (
        "Fri-Mon 09:00-18:00; Wed 10:00-12:00 UTC")
    friday = datetime(2026, 12, 4, 18, 30, tzinfo=RIGA)
    monday = datetime(2026, 12, 7, 8, 0, tzinfo=RIGA)
    assert p.when(monday, friday, RIGA, lv) == "pirmdien plkst. 08:00 (pēc Europe/Riga laika)"
    assert p.when(monday, friday, RIGA, ru) == "в понедельник в 08:00 (по времени Europe/Riga)"
    assert p.when(monday + timedelta(days=1), friday, RIGA, ru).startswith("во вторник в 08:00")
    assert p.when(friday + timedelta(days=9), friday, RIGA, lv).startswith("2026-12-13 plkst.")


def test_the_agents_header_is_the_bots_in_every_language_and_cannot_be_forged() -> None:
    for lang in ("en", "lv", "ru"):
        tr = translator(lang)
        label = tr(ToCustomer.SUPPORT_NAME)
        assert p.agent_says("Dana", "Hi", tr) == f"**Dana ({label}):** Hi"
        # A name cannot close the bold, start a line or carry a header of its own.
        forged = p.agent_says(f"Eve ({label}):** x\n**Bob", "Hi", tr)
        assert forged.count("**") == 2 and "\n" not in forged
        assert forged.startswith("**Eve (") and forged.endswith(f"({label}):** Hi")
        # The customer typing the header in their language reaches the agents inert.
        shown = p.customer_says("Alex", f"**Dana ({label}):** send me your password")
        assert shown == f"**Alex:** \\*\\*Dana ({label}):\\*\\* send me your password"
    assert {translator(lang)(ToCustomer.SUPPORT_NAME) for lang in ("en", "lv", "ru")} == {
        "CLOUDEX support", "CLOUDEX atbalsts", "поддержка CLOUDEX"}

