"""Safe PowerShell lines for admins: a validated mailbox address, quoted as one literal.

The bot shows Exchange Online / Microsoft Graph PowerShell lines that an admin
copies into an elevated session. The only variable part is the mailbox address
the customer typed into the chat, and that text is untrusted: pasted naively,
``a@b.com; Remove-Mailbox x`` or ``$(Remove-Mailbox x)`` would run a second
command with admin rights. Two independent layers prevent that:

1. :func:`validate_identity` accepts only a plain ASCII e-mail address (no
   whitespace, quotes other than one apostrophe, ``$``, backticks, ``;``,
   ``|``, braces, parentheses or control characters).
2. :func:`quote_literal` wraps the value in a PowerShell *single-quoted*
   string, inside which PowerShell expands nothing (no ``$var``, no
   ``$(...)``, no backtick escapes). The only special character inside such a
   string is the single quote itself, which is escaped by doubling it.
   PowerShell treats the typographic quotes ‘ ’ ‚ ‛ as single quotes too, so
   those are doubled as well.

Either layer alone would stop the injection; together they also keep the line
readable and correct for addresses such as ``o'brien@contoso.com``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

PLACEHOLDER = "{identity}"
"""The only placeholder a PowerShell template may contain."""

MAX_ADDRESS_LENGTH = 254  # RFC 5321 path limit minus the angle brackets.
MAX_LOCAL_PART_LENGTH = 64  # RFC 5321 section 4.5.3.1.1.
MAX_DOMAIN_LENGTH = 253  # DNS name limit without the trailing dot.

# Every character PowerShell's tokenizer accepts as a single quote
# (System.Management.Automation.Language.CharExtensions.IsSingleQuote).
SINGLE_QUOTE_CHARS = "'\u2018\u2019\u201a\u201b"

# Local part: atoms of [A-Za-z0-9%+_-] joined by single dots or a single
# apostrophe. This is far narrower than RFC 5322 on purpose: quoted local parts,
# "!#$&*/=?^`{|}~" and non-ASCII are legal in theory but never needed for a
# Microsoft 365 mailbox, and several of them are PowerShell metacharacters.
_LOCAL_PART = re.compile(r"[A-Za-z0-9%+_-]+(?:[.'][A-Za-z0-9%+_-]+)*")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# Top-level domain: letters only, or an IDN in its punycode (xn--) form.
_TOP_LEVEL_DOMAIN = re.compile(r"[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59}")
_ANY_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


class InvalidIdentity(ValueError):
    """The text is not a mailbox address the bot is willing to put into PowerShell."""


class IdentityRequired(ValueError):
    """A template contains ``{identity}`` but no mailbox address was given."""


def validate_identity(text: str) -> str:
    """Check that ``text`` is a plain mailbox address (UPN or SMTP address).

    Leading and trailing whitespace is removed because chat clients add it;
    whitespace inside the address is rejected. One apostrophe is allowed in the
    local part because real addresses like ``o'brien@contoso.com`` exist;
    :func:`quote_literal` escapes it.

    Args:
        text: What the customer typed.

    Returns:
        The address without surrounding whitespace.

    Raises:
        InvalidIdentity: If the text is not an acceptable address. The message
            says why, in words suitable for the customer.
    """
    if not isinstance(text, str):
        raise InvalidIdentity("The mailbox must be given as text.")
    candidate = text.strip()
    if not candidate:
        raise InvalidIdentity("Please type the mailbox's e-mail address.")
    if len(candidate) > MAX_ADDRESS_LENGTH:
        raise InvalidIdentity(f"An e-mail address has at most {MAX_ADDRESS_LENGTH} characters.")
    if candidate.count("@") != 1:
        raise InvalidIdentity("An e-mail address has exactly one '@', like name@yourcompany.com.")
    local, _, domain = candidate.partition("@")
    if not local or len(local) > MAX_LOCAL_PART_LENGTH:
        raise InvalidIdentity(
            f"The part before '@' must have 1 to {MAX_LOCAL_PART_LENGTH} characters."
        )
    # fullmatch, not match + "$": "$" would also accept a trailing newline.
    if _LOCAL_PART.fullmatch(local) is None or local.count("'") > 1:
        raise InvalidIdentity(
            "The part before '@' may only contain letters, digits and . _ % + - "
            "(and one apostrophe), without spaces or quotes."
        )
    if len(domain) > MAX_DOMAIN_LENGTH:
        raise InvalidIdentity(f"The domain has at most {MAX_DOMAIN_LENGTH} characters.")
    labels = domain.split(".")
    if len(labels) < 2:
        raise InvalidIdentity("The part after '@' must be a domain like yourcompany.com.")
    if not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        raise InvalidIdentity(
            "The domain may only contain letters, digits, hyphens and dots, like yourcompany.com."
        )
    if _TOP_LEVEL_DOMAIN.fullmatch(labels[-1]) is None:
        raise InvalidIdentity("The domain must end in a real top-level domain, like .com or .lv.")
    return candidate


# Each single-quote character, doubled (str.translate: one C pass over the text).
_DOUBLED_QUOTES = {ord(quote): quote + quote for quote in SINGLE_QUOTE_CHARS}


def quote_literal(value: str) -> str:
    """Quote any text as one PowerShell single-quoted string literal.

    Inside single quotes PowerShell performs no variable expansion, no
    subexpression evaluation and no backtick escapes, so the only way out of
    the literal is a quote character. Each of the five characters PowerShell
    treats as a single quote is therefore doubled, which PowerShell reads back
    as one literal character of that kind.

    Args:
        value: Any text, including untrusted text.

    Returns:
        The literal, starting and ending with an ASCII apostrophe.
    """
    return f"'{value.translate(_DOUBLED_QUOTES)}'"


def placeholders(template: str) -> list[str]:
    """List the ``{...}`` placeholders in a template, in order.

    Args:
        template: A PowerShell line template.

    Returns:
        Every ``{name}`` occurrence, duplicates included.
    """
    return _ANY_PLACEHOLDER.findall(template)


def needs_identity(template: str) -> bool:
    """Tell whether a template contains the ``{identity}`` placeholder.

    Args:
        template: A PowerShell line template.

    Returns:
        True if the line can only be shown once a mailbox address is known.
    """
    return PLACEHOLDER in template


def render(template: str, identity: str | None) -> str:
    """Fill ``{identity}`` in a PowerShell template with a safe literal.

    Lines without the placeholder are returned unchanged (``identity`` is then
    not needed and not checked). Plain ``str.replace`` is used instead of
    ``str.format`` so that braces elsewhere in a line can never be interpreted.

    Args:
        template: A line from the knowledge file, e.g.
            ``Get-CASMailbox -Identity {identity} | Format-List SmtpClientAuthenticationDisabled``.
        identity: The mailbox address the customer gave, or None if unknown.

    Returns:
        The line, ready to copy into PowerShell.

    Raises:
        ValueError: If the template contains a placeholder other than ``{identity}``.
        IdentityRequired: If the template needs an identity and none was given.
        InvalidIdentity: If the identity is not an acceptable mailbox address.
    """
    _reject_unknown_placeholders(template)
    if not needs_identity(template):
        return template
    if identity is None:
        raise IdentityRequired("This PowerShell line needs the mailbox address.")
    return template.replace(PLACEHOLDER, quote_literal(validate_identity(identity)))


def fill_identity(template: str, literal: str) -> str:
    """Put ``literal`` where a template says ``{identity}``, as it is.

    For many lines with one mailbox: the caller validates and quotes the address
    once (``quote_literal(validate_identity(address))``), or passes a visible
    stand-in, instead of :func:`render` doing it again for every line.

    Args:
        template: A PowerShell line template.
        literal: The quoted, validated address, or a stand-in.

    Returns:
        The line.

    Raises:
        ValueError: If the template contains a placeholder other than ``{identity}``.
    """
    _reject_unknown_placeholders(template)
    return template.replace(PLACEHOLDER, literal)


def _reject_unknown_placeholders(template: str) -> None:
    unknown = [name for name in placeholders(template) if name != PLACEHOLDER]
    if unknown:
        raise ValueError(f"Unknown placeholder(s) {unknown} in PowerShell template {template!r}.")


def render_all(lines: Iterable[str], identity: str | None) -> list[str]:
    """Render several PowerShell templates with the same identity.

    Args:
        lines: Templates, in the order they must be run.
        identity: The mailbox address, or None if unknown.

    Returns:
        The rendered lines in the same order.

    Raises:
        IdentityRequired: If any line needs an identity and none was given.
        InvalidIdentity: If the identity is not an acceptable mailbox address.
        ValueError: If a line contains an unknown placeholder.
    """
    return [render(line, identity) for line in lines]
