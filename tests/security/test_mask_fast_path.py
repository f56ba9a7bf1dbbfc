"""mask_secrets skips its regular expression for lines without a hint of a secret.

The skip must never let a secret through: for any text, the result is exactly
what the full pattern gives.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.logs import _SECRETS, mask_secrets

PIECES = st.sampled_from([
    "eyJhbGciOiJSUzI1NiJ9", ".eyJzdWIiOiIxMjM0NTY3ODkwIn0", ".c2lnbmF0dXJlLXBhcnQ", "EYJ",
    "Bearer ", "bEaReR\t", "abcdefghijklmnop", "client_secret", "CLIENT_SECRET=", "password",
    "PassWord: ", "app_password='", "hunter2hunter2", "paſſword=", "client_ſecret:",
    "BEARER  ", "K", "ı", "İ", " ", "=", ":", "\"", "'", "{", "}", ",", "turn", "state",
])


@settings(max_examples=1500, deadline=None)
@given(st.lists(PIECES | st.text(max_size=12), max_size=14).map("".join))
def test_the_fast_path_masks_exactly_what_the_pattern_masks(text: str) -> None:
    assert mask_secrets(text) == _SECRETS.sub("[redacted]", text)


def test_look_alike_letters_are_still_masked() -> None:
    # Case-insensitive matching takes "ſ" (long s) for "s": such text skips the shortcut.
    assert mask_secrets("paſſword=hunter2hunter2") == "[redacted]"
    assert mask_secrets('{"msg": "turn", "state": "asking_mfa"}') == \
        '{"msg": "turn", "state": "asking_mfa"}'
    assert mask_secrets("Authorization: Bearer abcdefghijklmnopqrstuvwxyz") == \
        "Authorization: [redacted]"
