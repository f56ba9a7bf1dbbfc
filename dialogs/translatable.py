"""What the catalogs must translate: every English text a customer can read.

Five sources, each read where it is kept:

- :mod:`dialogs.messages`: every upper-case constant that is a text, or a
  tuple of texts (the sentences and card labels the code says);
- the handoff's sentences to the customer
  (:class:`dialogs.handoff.phrases.ToCustomer`, the same way; the handoff's
  sentences to agents stay English);
- the live checks' sentences (:mod:`dialogs.live.phrases`): every upper-case
  constant but those for agents (``FOR_AGENTS``) — texts, tuples and mappings
  of texts, a ``Phrase``'s short and full text, a ``Permission``'s two
  explanations (its API and permission names are Microsoft's);
- the knowledge's customer-facing fields (:func:`dialogs.i18n.knowledge.customer_texts`);
- the diagnosis' follow-up questions (:mod:`dialogs.diagnosis`), which reach the
  customer through the follow-up card.

``make i18n`` (``tools/i18n.py``) turns this into the PO template and updates
the catalogs; the catalog tests compare the catalogs with it.

It sits above the features, beside :mod:`dialogs.gallery`, not inside
:mod:`dialogs.i18n`: it reads every feature's sentences, and the features say
theirs through ``dialogs.i18n``, which therefore knows none of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from dialogs import messages
from dialogs.i18n.knowledge import customer_texts
from dialogs.knowledge import Knowledge

Sources = dict[str, list[str]]
"""English text -> where it is used (in first-use order)."""


def source_texts(knowledge: Knowledge) -> Sources:
    """Return every English text the catalogs must translate, with where each is used.

    Args:
        knowledge: The English knowledge.

    Returns:
        Text -> its places, in a stable order (messages, handoff, live checks, knowledge,
        follow-ups).
    """
    found: Sources = {}
    for where, text in (*_message_texts(), *_handoff_texts(), *_live_texts(),
                        *customer_texts(knowledge), *_follow_up_texts()):
        if text.strip():
            found.setdefault(text, []).append(where)
    return found


def _message_texts() -> Iterator[tuple[str, str]]:
    for name, value in vars(messages).items():
        if not name.isupper() or name.startswith("_"):
            continue
        yield from _texts_in(value, f"messages.{name}")


def _handoff_texts() -> Iterator[tuple[str, str]]:
    from dialogs.handoff.phrases import ToCustomer

    for name, value in vars(ToCustomer).items():
        if name.isupper() and not name.startswith("_"):
            yield from _texts_in(value, f"handoff.phrases.ToCustomer.{name}")


def _live_texts() -> Iterator[tuple[str, str]]:
    from dialogs.live import phrases

    for name, value in vars(phrases).items():
        if (name.isupper() and not name.startswith("_") and name != "FOR_AGENTS"
                and name not in phrases.FOR_AGENTS):
            yield from _texts_in(value, f"live.phrases.{name}")


def _texts_in(value: object, where: str) -> Iterator[tuple[str, str]]:
    from dialogs.live.phrases import Permission, Phrase

    if isinstance(value, str):
        yield where, value
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            yield from _texts_in(item, f"{where}[{i}]")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _texts_in(item, f"{where}[{key}]")
    elif isinstance(value, Phrase):
        yield f"{where}.short", value.short
        yield f"{where}.text", value.text
    elif isinstance(value, Permission):
        # Its API and permission names ("Microsoft Graph", "User.Read") are Microsoft's.
        yield f"{where}.allows", value.allows
        yield f"{where}.bot_does", value.bot_does


def _follow_up_texts() -> Iterator[tuple[str, str]]:
    # The diagnosis keeps its separating questions next to the causes they separate;
    # the follow-up card shows them, so they are the customer's to read too. (Its generic
    # question is messages.GENERIC_FOLLOW_UP; the options there are cause titles.)
    from dialogs import diagnosis

    follow_ups = getattr(diagnosis, "_FOLLOW_UPS", {})
    for n, (question, options) in enumerate(follow_ups.values()):
        yield f"diagnosis.follow_ups[{n}].question", question
        for i, (label, _cause) in enumerate(options):
            yield f"diagnosis.follow_ups[{n}].options[{i}]", label
