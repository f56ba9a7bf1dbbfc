"""Tests for dialogs.powershell: strict identities and injection-proof single-quoted literals."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dialogs.powershell import (
    MAX_ADDRESS_LENGTH,
    PLACEHOLDER,
    SINGLE_QUOTE_CHARS,
    IdentityRequired,
    InvalidIdentity,
    fill_identity,
    needs_identity,
    placeholders,
    quote_literal,
    render,
    render_all,
    validate_identity,
)

TEMPLATE = "Get-CASMailbox -Identity {identity}"
PREFIX = "Get-CASMailbox -Identity "


def parse_single_quoted(text: str) -> tuple[str, int]:
    """Read one PowerShell single-quoted literal at the start of ``text``.

    An independent oracle modelled on PowerShell's tokenizer: any of the five
    single-quote characters opens/closes the literal, and two quote characters
    in a row stand for one literal quote.

    Returns:
        The decoded value and the index just after the closing quote.
    """
    if not text or text[0] not in SINGLE_QUOTE_CHARS:
        raise ValueError("does not start with a single quote")
    decoded: list[str] = []
    i = 1
    while i < len(text):
        char = text[i]
        if char in SINGLE_QUOTE_CHARS:
            if i + 1 < len(text) and text[i + 1] in SINGLE_QUOTE_CHARS:
                decoded.append(text[i + 1])
                i += 2
                continue
            return "".join(decoded), i + 1
        decoded.append(char)
        i += 1
    raise ValueError("unterminated literal")


@pytest.mark.parametrize(
    "address",
    [
        "user@contoso.com",
        "first.last@sub.contoso.co.uk",
        "o'brien@contoso.com",
        "a+tag@x.io",
        "tms_2@xn--80ak6aa92e.com",
        "UPPER.Case@Contoso.LV",
        "a-b%c@d-e.f-g.com",
        "x@" + "a" * 63 + ".com",
    ],
)
def test_valid_addresses_are_accepted_unchanged(address: str) -> None:
    assert validate_identity(address) == address


def test_surrounding_whitespace_from_chat_is_removed() -> None:
    assert validate_identity("  user@contoso.com \n") == "user@contoso.com"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "user",
        "user@",
        "@contoso.com",
        "a@b",
        "a@@b.com",
        "a@b@c.com",
        "a b@c.com",
        "a@b .com",
        "a@b.com'; Remove-Mailbox x",
        "a@b.com; Remove-Mailbox x",
        "a@b.com`; Remove-Mailbox x",
        "a`@b.com",
        "$(Remove-Mailbox x)@b.com",
        "a@b.com$(Remove-Mailbox x)",
        "$env:USERNAME@b.com",
        "a@b.com\nRemove-Mailbox x",
        "a@b.com\r\nRemove-Mailbox x",
        "a@b.com|Remove-Mailbox",
        "a@b.com&calc",
        'a"b@c.com',
        "a\u2018b@c.com",
        "a\u2019b@c.com",
        "a\u201ab@c.com",
        "a\u201bb@c.com",
        "a\u201cb@c.com",
        "a@{identity}.com",
        "a(b)@c.com",
        "a@b.com\x00",
        "a\tb@c.com",
        ".a@b.com",
        "a.@b.com",
        "a..b@c.com",
        "'a@b.com",
        "a'@b.com",
        "o''brien@x.com",
        "a'b'c@x.com",
        "a.'b@x.com",
        "a@-b.com",
        "a@b-.com",
        "a@b..com",
        "a@.b.com",
        "a@b.com.",
        "a@b.c",
        "a@b.123",
        "ä@b.com",
        "a@bä.com",
        "a@b.com\u00a0x",
        "a" * 65 + "@b.com",
        "a@" + "b" * 64 + ".com",
        "a@" + ".".join(["b" * 60] * 5) + ".com",
    ],
)
def test_invalid_or_hostile_text_is_rejected(text: str) -> None:
    with pytest.raises(InvalidIdentity):
        validate_identity(text)


def test_address_length_limit_is_254() -> None:
    local = "a" * 64
    domain = f"{'b' * 63}.{'b' * 63}.{'b' * 57}.com"  # 189 characters, every label valid
    address = f"{local}@{domain}"
    assert len(address) == MAX_ADDRESS_LENGTH == 254
    assert validate_identity(address) == address
    longer = f"{local}@{'b' * 63}.{'b' * 63}.{'b' * 58}.com"
    assert len(longer) == 255
    with pytest.raises(InvalidIdentity, match="254"):
        validate_identity(longer)


def test_non_string_is_rejected() -> None:
    with pytest.raises(InvalidIdentity):
        validate_identity(None)  # type: ignore[arg-type]


def test_invalid_identity_is_a_value_error_with_a_readable_reason() -> None:
    with pytest.raises(ValueError, match="@"):
        validate_identity("no-at-sign")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", "'abc'"),
        ("", "''"),
        ("o'brien", "'o''brien'"),
        ("$(Remove-Mailbox x)", "'$(Remove-Mailbox x)'"),
        ("`n$x", "'`n$x'"),
        ("a\u2018b", "'a\u2018\u2018b'"),
        ("a\u2019b", "'a\u2019\u2019b'"),
        ("a\u201ab", "'a\u201a\u201ab'"),
        ("a\u201bb", "'a\u201b\u201bb'"),
        ("'", "''''"),
    ],
)
def test_quote_literal(value: str, expected: str) -> None:
    assert quote_literal(value) == expected


def test_quote_literal_breakout_attempt_stays_one_literal() -> None:
    line = PREFIX + quote_literal("a@b.com'; Remove-Mailbox x; '")
    value, end = parse_single_quoted(line[len(PREFIX) :])
    assert value == "a@b.com'; Remove-Mailbox x; '"
    assert end == len(line) - len(PREFIX)


def test_render_fills_the_quoted_identity() -> None:
    assert render(TEMPLATE, "user@contoso.com") == "Get-CASMailbox -Identity 'user@contoso.com'"
    switch = "Set-CASMailbox -Identity {identity} -SmtpClientAuthenticationDisabled $false"
    expected = (
        "Set-CASMailbox -Identity 'o''brien@contoso.com' -SmtpClientAuthenticationDisabled $false"
    )
    assert render(switch, "o'brien@contoso.com") == expected


def test_render_without_placeholder_returns_line_unchanged() -> None:
    line = "Get-TransportConfig | Format-List SmtpClientAuthenticationDisabled"
    assert render(line, None) == line
    # The identity is not needed, so it is not even looked at.
    assert render(line, "not an address; rm -rf") == line


def test_render_requires_an_identity_when_the_template_needs_one() -> None:
    with pytest.raises(IdentityRequired):
        render(TEMPLATE, None)


@pytest.mark.parametrize(
    "hostile",
    [
        "a@b.com'; Remove-Mailbox x",
        "a@b.com`nRemove-Mailbox x",
        "$(Remove-Mailbox x)",
        "a@b.com\nRemove-Mailbox x",
        "a@b.com' -Confirm:$false; '",
    ],
)
def test_render_rejects_injection_attempts(hostile: str) -> None:
    with pytest.raises(InvalidIdentity):
        render(TEMPLATE, hostile)


def test_render_rejects_unknown_placeholders() -> None:
    with pytest.raises(ValueError, match="mailbox"):
        render("Get-Mailbox {mailbox}", "user@contoso.com")


def test_fill_identity_puts_the_literal_as_given_and_rejects_unknown_placeholders() -> None:
    literal = quote_literal(validate_identity(" o'brien@contoso.com "))
    assert fill_identity(TEMPLATE, literal) == render(TEMPLATE, "o'brien@contoso.com")
    assert fill_identity("Connect-ExchangeOnline", literal) == "Connect-ExchangeOnline"
    with pytest.raises(ValueError, match="mailbox"):
        fill_identity("Get-Mailbox {mailbox} {identity}", literal)


def test_render_all_keeps_order_and_fills_every_line() -> None:
    lines = ["Connect-ExchangeOnline", TEMPLATE, "Get-EXOMailbox -Identity {identity}"]
    assert render_all(lines, "u@c.com") == [
        "Connect-ExchangeOnline",
        "Get-CASMailbox -Identity 'u@c.com'",
        "Get-EXOMailbox -Identity 'u@c.com'",
    ]
    with pytest.raises(IdentityRequired):
        render_all(lines, None)


def test_placeholder_helpers() -> None:
    assert needs_identity(TEMPLATE)
    assert not needs_identity("Get-TransportConfig")
    assert placeholders("a {identity} b {x}") == [PLACEHOLDER, "{x}"]


HOSTILE_ALPHABET = st.sampled_from(
    list("ab.@-_+%'\"`$;|&(){}<> \t\n\r\x00") + list(SINGLE_QUOTE_CHARS) + ["ä", "\u201c"]
)


@given(st.one_of(st.text(), st.text(alphabet=HOSTILE_ALPHABET), st.emails()))
@example("a@b.com'; Remove-Mailbox x")
@example("o'brien@contoso.com")
@example("a@b.com`$(x)")
def test_render_yields_exactly_one_single_quoted_argument(text: str) -> None:
    try:
        line = render(TEMPLATE, text)
    except InvalidIdentity:
        return
    assert line.startswith(PREFIX)
    argument = line[len(PREFIX) :]
    value, end = parse_single_quoted(argument)
    assert end == len(argument), "something follows the literal"
    assert value == text.strip()
    # What got through is a plain ASCII address: nothing PowerShell could expand.
    assert value.isascii()
    assert not set(value) & set('`$;|&(){}<>"\n\r\t \x00')
    assert value.count("@") == 1


@given(st.one_of(st.text(), st.text(alphabet=HOSTILE_ALPHABET)))
def test_quote_literal_round_trips_any_text(text: str) -> None:
    literal = quote_literal(text)
    value, end = parse_single_quoted(literal)
    assert value == text
    assert end == len(literal)


@given(st.emails())
def test_accepted_generated_addresses_come_back_unchanged(address: str) -> None:
    # Hypothesis' e-mail strategy produces RFC-valid addresses, many of which use
    # characters we refuse on purpose; whatever we accept must come back unchanged.
    try:
        accepted = validate_identity(address)
    except InvalidIdentity:
        return
    assert accepted == address
