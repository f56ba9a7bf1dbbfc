"""Whatever a customer types, each PowerShell line the bot shows is one command, literal arguments.

An admin copies these lines into an elevated Exchange Online / Graph session,
and the mailbox address in them is text the customer typed. The property:
for any text (quotes ' ‘ ’ ", backticks, ``$()``, ``;``, ``|``, newlines,
unicode…), each line is the template's own command with the ``{identity}``
slot filled by exactly one single-quoted string whose value is the validated
address — no statement separator, subexpression, variable, redirection or
escape from the customer's text outside quotes.

The lines are read with a small PowerShell tokenizer written for this test
(single-quoted strings with doubled-quote escapes and PowerShell's four
typographic single quotes, ``$true``/``$false``, ``-Param`` names, the bare
words of the templates); its own test shows it catches the attacks.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialogs import cards, understanding
from dialogs.engine import FlowEngine, TurnInput, new_snapshot
from dialogs.flow import QUESTIONS
from dialogs.knowledge import Knowledge, default_knowledge
from dialogs.powershell import PLACEHOLDER, InvalidIdentity, render, validate_identity

SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
DOUBLE_QUOTES = '"\u201c\u201d\u201e'
# Outside quotes these start something other than a plain argument.
SPECIAL = set(SINGLE_QUOTES + DOUBLE_QUOTES + "$|;&(){}@#<>,`\n\r")
SAFE_VARIABLES = {"$true", "$false", "$null"}
SENTINEL = "@@identity@@"


@dataclass(frozen=True)
class Token:
    """One PowerShell token: its kind and its text (a string's decoded value)."""

    kind: str  # string, dqstring, variable, word, pipe, lparen, rparen, comma, BAD
    text: str


def tokenize(line: str) -> list[Token]:
    """Split one PowerShell line into tokens; anything dangerous becomes a BAD token."""
    tokens: list[Token] = []
    i = 0
    while i < len(line):
        c = line[i]
        if c in " \t":
            i += 1
        elif c in SINGLE_QUOTES:
            # Verbatim string: nothing expands; a pair of quote characters is one quote.
            value, i = [], i + 1
            while True:
                if i >= len(line):
                    tokens.append(Token("BAD", "unterminated string"))
                    return tokens
                if line[i] in SINGLE_QUOTES:
                    if i + 1 < len(line) and line[i + 1] in SINGLE_QUOTES:
                        value.append(line[i + 1])
                        i += 2
                        continue
                    i += 1
                    break
                value.append(line[i])
                i += 1
            tokens.append(Token("string", "".join(value)))
        elif c in DOUBLE_QUOTES:
            end = i + 1
            while end < len(line) and line[end] not in DOUBLE_QUOTES:
                end += 1
            content = line[i + 1:end]
            if end >= len(line) or "$" in content or "`" in content:
                tokens.append(Token("BAD", "expandable string"))  # it would expand $ and `
            else:
                tokens.append(Token("dqstring", content))
            i = end + 1
        elif c == "$":
            end = i + 1
            while end < len(line) and (line[end].isalnum() or line[end] == "_"):
                end += 1
            name = line[i:end]
            tokens.append(Token("variable", name) if name.lower() in SAFE_VARIABLES
                          else Token("BAD", "expansion " + line[i:i + 2]))
            i = max(end, i + 1)
        elif c == "|":
            tokens.append(Token("BAD", "||") if line[i:i + 2] == "||" else Token("pipe", "|"))
            i += 1
        elif c in "()":
            tokens.append(Token("lparen" if c == "(" else "rparen", c))
            i += 1
        elif c == ",":
            tokens.append(Token("comma", c))
            i += 1
        elif c in SPECIAL:
            tokens.append(Token("BAD", c))  # ; & { } @ # < > ` newline
            i += 1
        else:
            end = i
            while end < len(line) and line[end] not in SPECIAL and line[end] not in " \t":
                end += 1
            tokens.append(Token("word", line[i:end]))
            i = end
    return tokens


@functools.cache
def shape(template: str) -> tuple[Token, ...]:
    """The template's tokens, each identity slot a string token holding SENTINEL."""
    return tuple(tokenize(template.replace(PLACEHOLDER, f"'{SENTINEL}'")))


def assert_one_literal_command(line: str, template: str, identity: str) -> None:
    """``line`` is ``template`` with its identity slots filled by one literal each."""
    got = tokenize(line)
    assert not [t for t in got if t.kind == "BAD"], (line, got)
    want = shape(template)
    assert len(got) == len(want), (line, template)
    for token, expected in zip(got, want, strict=True):
        if expected == Token("string", SENTINEL):
            assert token == Token("string", identity), (line, token)
        else:
            assert token == expected, (line, token, expected)


def templates(knowledge: Knowledge) -> list[str]:
    """Every PowerShell template in the knowledge file."""
    found: list[str] = []
    for cause in knowledge.causes:
        found += list(cause.check.powershell) + list(cause.fix.powershell)
    for question in knowledge.questions.values():
        if question.how_to_find_out is not None:
            found += list(question.how_to_find_out.powershell)
    return sorted(set(found))


# ----- the tokenizer itself ---------------------------------------------------------------
@pytest.mark.parametrize(("line", "dangerous"), [
    ("Get-CASMailbox -Identity 'a@b.com' | Format-List X", False),
    ("Get-CASMailbox -Identity 'o''brien@b.com'", False),
    ("Set-CASMailbox -Identity 'a@b.com' -SmtpClientAuthenticationDisabled $false", False),
    ("Get-CASMailbox -Identity 'a@b.com'; Remove-Mailbox x", True),
    ("Get-CASMailbox -Identity 'a@b.com' && Remove-Mailbox x", True),
    ("Get-CASMailbox -Identity a@b.com$(Remove-Mailbox x)", True),
    ("Get-CASMailbox -Identity \"$(Remove-Mailbox x)\"", True),
    ("Get-CASMailbox -Identity 'a\u2019; Remove-Mailbox x; \u2018'", True),
    ("Get-CASMailbox -Identity 'a@b.com'`\nRemove-Mailbox x", True),
    ("Get-CASMailbox -Identity 'a@b.com'\nRemove-Mailbox x", True),
    ("Get-CASMailbox -Identity $env:USERNAME", True),
    ("Get-CASMailbox -Identity 'a@b.com' > C:\\x.txt", True),
    ("Get-CASMailbox -Identity @x", True),
    ("Get-CASMailbox -Identity 'a@b.com", True),
])
def test_the_tokenizer_sees_injections(line: str, dangerous: bool) -> None:
    """The checker must fail on each classic way out of an argument."""
    assert any(t.kind == "BAD" for t in tokenize(line)) is dangerous


def test_the_tokenizer_reads_doubled_quotes_as_one_literal() -> None:
    """PowerShell reads '' (and the typographic pairs) inside a verbatim string as one quote."""
    assert tokenize("'o''brien' '\u2019\u2019x'") == [Token("string", "o'brien"),
                                                       Token("string", "\u2019x")]


def test_the_structural_check_catches_an_extra_argument() -> None:
    """A line that gained an argument is not the template's command."""
    template = "Get-CASMailbox -Identity {identity} | Format-List SmtpClientAuthenticationDisabled"
    with pytest.raises(AssertionError):
        assert_one_literal_command(
            "Get-CASMailbox -Identity 'a@b.com' -Confirm:$false | Format-List "
            "SmtpClientAuthenticationDisabled", template, "a@b.com")


# ----- what customers type ----------------------------------------------------------------
TRICKY = ["'", "\u2018", "\u2019", "\u201a", "\u201b", '"', "\u201c", "`", "$", "$(", ")", ";",
          "|", "&", "\n", "\r", "\t", " ", "{", "}", "@", "#", "<", ">", ",", "''", "\u2019\u2019",
          "$(Remove-Mailbox x)", "; Remove-Mailbox x", "`n", "| iex", "$env:USERNAME", "\u00e9",
          "\u0430", "\u200b", "\U0001f600", "\u2013", "\u2014"]
ADDRESS_CHARS = "abcXYZ019._%+-'"
local_parts = st.lists(st.sampled_from(list(ADDRESS_CHARS)) | st.sampled_from(TRICKY),
                       min_size=1, max_size=12).map("".join)
domains = st.sampled_from(["contoso.com", "fabrikam.co.uk", "xn--bcher-kva.example", "b.lv",
                           "contoso.com'; Remove-Mailbox x #", "contoso.com\u2019", "con$(x).com"])
typed_texts = st.one_of(
    st.text(max_size=80),
    st.builds(lambda before, local, domain, after: f"{before}{local}@{domain}{after}",
              st.sampled_from(["", "It is ", "'", "mailbox: ", "\u2018"]) | st.text(max_size=6),
              local_parts, domains,
              st.sampled_from(["", ".", "'", "; Remove-Mailbox x", "\u2019 thanks", "\n$(x)"])
              | st.text(max_size=6)),
    st.emails(),
    # Valid addresses with an apostrophe (o'brien@…), the one quote that reaches a literal.
    st.builds(lambda a, b, domain: f"{a}'{b}@{domain}", st.text("abcXY09", min_size=1, max_size=5),
              st.text("abcXY09", min_size=1, max_size=5), domains),
)
PROPERTY = settings(max_examples=200, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def flow() -> tuple[Knowledge, FlowEngine, list[str]]:
    """The real knowledge, the real engine (without diagnosis) and the templates with a slot."""
    knowledge = default_knowledge()
    with_slot = [t for t in templates(knowledge) if PLACEHOLDER in t]
    assert len(with_slot) >= 15
    return knowledge, FlowEngine(knowledge), with_slot


@PROPERTY
@given(text=typed_texts)
def test_every_template_rendered_with_any_text_is_one_literal_command(
    flow: tuple[Knowledge, FlowEngine, list[str]], text: str
) -> None:
    """render() either refuses the text or makes one literal argument of it."""
    _, _, with_slot = flow
    for template in with_slot:
        try:
            line = render(template, text)
        except InvalidIdentity:
            continue
        assert_one_literal_command(line, template, validate_identity(text))


def code_lines(card: Any) -> Iterator[str]:
    """Every line of every CodeBlock (and its monospace fallback) in a card."""
    if isinstance(card, dict):
        if card.get("type") == "CodeBlock":
            yield from str(card.get("codeSnippet", "")).split("\n")
        elif card.get("fontType") == "Monospace":
            yield from str(card.get("text", "")).split("\n")
        for value in card.values():
            yield from code_lines(value)
    elif isinstance(card, list):
        for item in card:
            yield from code_lines(item)


def mailbox_after(engine: FlowEngine, turn: TurnInput) -> dict[str, Any]:
    """The facts after the customer answers the mailbox question with ``turn``."""
    started = engine.handle(new_snapshot(), TurnInput(action={"msa": "start"}))
    assert started.state == "ask_mailbox"
    return engine.handle(started.snapshot, turn).snapshot["facts"]


ADVERSE = {"mailbox_type": "shared", "license": "no", "mfa": "yes", "security_defaults": "yes",
           "org_smtp_auth": "disabled", "mailbox_smtp_auth": "disabled",
           "conditional_access": "yes", "auth_method": "basic", "test_result": "auth_failed"}


@settings(PROPERTY, max_examples=100)
@given(text=typed_texts, how=st.sampled_from(["typed", "pressed", "pressed-mailbox"]))
def test_every_card_the_flow_builds_with_the_typed_mailbox_has_only_literal_commands(
    flow: tuple[Knowledge, FlowEngine, list[str]], text: str, how: str
) -> None:
    """Typed or sent from a tampered card, the mailbox reaches PowerShell only as a literal."""
    knowledge, engine, with_slot = flow
    turn = {"typed": TurnInput(text=text),
            "pressed": TurnInput(action={"msa": "answer", "question": "mailbox", "value": text}),
            "pressed-mailbox": TurnInput(action={"msa": "answer", "question": "mailbox",
                                                 "mailbox": text})}[how]
    facts = mailbox_after(engine, turn)
    mailbox = facts.get("answers", {}).get("mailbox")
    if mailbox is not None:
        assert mailbox == understanding.find_address(text) or mailbox == validate_identity(text)
    facts = {**facts, "answers": {**ADVERSE, **facts.get("answers", {})}}
    built = [cards.fix_card(knowledge, cause, facts) for cause in knowledge.cause_ids]
    built += [cards.diagnosis_card(knowledge, facts, cause) for cause in knowledge.cause_ids]
    built += [cards.how_to_find_out_card(knowledge, q, facts) for q in QUESTIONS]
    built.append(cards.summary_card(knowledge, facts))
    lines = {line for card in built for line in code_lines(card) if line.strip()}
    assert lines
    shapes = [shape(t) for t in with_slot]
    plain = {t for t in templates(knowledge) if PLACEHOLDER not in t}
    for line in lines:
        got = tokenize(line)
        assert not [t for t in got if t.kind == "BAD"], (line, got)
        if line in plain:
            continue  # a line without a slot, shown as written
        # The rest must be a template, verbatim, with each slot one literal: the mailbox,
        # or (no usable mailbox) the card's placeholder text.
        assert any(fills(got, want, mailbox) for want in shapes), (
            f"not a template with the mailbox as one literal: {line}")


def fills(tokens: list[Token], template: tuple[Token, ...], value: str | None) -> bool:
    """Whether ``tokens`` are ``template`` with every slot one string literal (``value``)."""
    if len(tokens) != len(template):
        return False
    for token, expected in zip(tokens, template, strict=True):
        if expected == Token("string", SENTINEL):
            if token.kind != "string" or (value is not None and token.text != value):
                return False
        elif token != expected:
            return False
    return True
