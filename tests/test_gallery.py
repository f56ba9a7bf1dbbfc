"""The card gallery: complete, drawn by the official renderer, and the renderer's verdict judged."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from dialogs.gallery import sample_cards
from dialogs.i18n import LANGUAGES
from tests.support.browser import require_browser_tooling
from tools.gallery import (
    RENDER_DIR,
    WIDTH,
    GalleryError,
    card_digest,
    card_problems,
    card_warnings,
    emoji_font_problem,
    render_cards,
    write_gallery,
)

ROOT = Path(__file__).resolve().parent.parent
GALLERY = ROOT / "docs" / "cards"
REGENERATE = "run `make gallery` and commit docs/cards with the card change"
MAX_PNG_BYTES = 600 * 1024


def _card(*body: dict[str, Any], actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    card: dict[str, Any] = {"type": "AdaptiveCard", "version": "1.5", "body": list(body)}
    if actions is not None:
        card["actions"] = actions
    return card


def _submit(title: str, secondary: bool = False) -> dict[str, Any]:
    action: dict[str, Any] = {"type": "Action.Submit", "title": title, "data": {"msa": "help"}}
    if secondary:
        action["mode"] = "secondary"
    return action


CODE_BLOCK = {"type": "CodeBlock", "codeSnippet": "Get-TransportConfig", "language": "PowerShell",
              "fallback": {"type": "TextBlock", "text": "Get-TransportConfig",
                           "fontType": "Monospace"}}
# Each is wrong in a way the JSON schema tests would also catch; the point here is
# that the renderer's own verdict reaches the gallery and is not waved through.
BROKEN = {
    "unknown-element": _card({"type": "Carousel2", "items": []}),
    "invalid-value": _card({"type": "TextBlock", "text": "x", "size": "Huge"}),
    "unknown-action": _card({"type": "TextBlock", "text": "x"},
                            actions=[{"type": "Action.Teleport", "title": "Go"}]),
    "duplicate-id": _card({"type": "TextBlock", "id": "a", "text": "1"},
                          {"type": "TextBlock", "id": "a", "text": "2"}),
    "input-without-id": _card({"type": "Input.Text", "placeholder": "address"}),
}
TOLERATED = {
    "code-block": _card(CODE_BLOCK),
    "seven-primary-actions": _card({"type": "TextBlock", "text": "x"},
                                   actions=[_submit(f"Option {i}") for i in range(7)]
                                   + [_submit("Start over", secondary=True)]),
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_card_the_bot_can_send_has_a_picture(lang: str) -> None:
    cards = sample_cards(lang=lang)
    folder = GALLERY / lang
    pictures = {path.stem for path in folder.glob("*.png")}
    index = (folder / "index.md").read_text(encoding="utf-8")
    recorded = json.loads((folder / "gallery.json").read_text(encoding="utf-8"))["cards"]

    missing = [name for name in cards if name not in pictures]
    orphans = sorted(pictures - set(cards))
    unlisted = [name for name in cards if f"]({name}.png)" not in index]
    unrecorded = [name for name in cards if name not in recorded]
    assert (missing, orphans, unlisted, unrecorded) == ([], [], [], []), (
        "gallery out of date (missing, orphan, not in index.md, not in gallery.json): "
        + REGENERATE)
    assert f"]({lang}/index.md)" in (GALLERY / "index.md").read_text(encoding="utf-8")
    assert list(GALLERY.glob("*.png")) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_picture_is_of_the_card_as_it_is_now(lang: str) -> None:
    # gallery.json keeps the digest of the card each picture was drawn from: a card that
    # changed (its words, a translation, its layout) without `make gallery` is a stale picture.
    recorded = json.loads((GALLERY / lang / "gallery.json").read_text(encoding="utf-8"))["cards"]
    stale = sorted(name for name, card in sample_cards(lang=lang).items()
                   if recorded.get(name, {}).get("sha256") != card_digest(card))
    assert stale == [], f"pictures drawn from older cards: {REGENERATE}"


def test_the_pictures_are_gallery_width_pngs_of_a_sane_size() -> None:
    recorded = json.loads((GALLERY / "en" / "gallery.json").read_text(encoding="utf-8"))
    assert recorded["width"] == WIDTH
    for path in sorted(GALLERY.glob("*/*.png")):
        with Image.open(path) as image:
            assert image.format == "PNG", path.name
            assert image.width == WIDTH, (path.name, image.size)
            assert 100 <= image.height <= 6000, (path.name, image.size)
        assert path.stat().st_size <= MAX_PNG_BYTES, (path.name, path.stat().st_size)


def test_the_official_renderer_accepts_every_card_and_reports_broken_ones() -> None:
    require_browser_tooling(RENDER_DIR)
    cards = {**sample_cards(), **{f"broken-{k}": v for k, v in BROKEN.items()},
             **{f"tolerated-{k}": v for k, v in TOLERATED.items()}}

    renderer, rendered = render_cards(cards, out_dir=None)

    assert renderer["adaptivecards"].startswith("3.")
    verdicts = {item.name: card_problems(cards[item.name], item) for item in rendered}
    assert list(verdicts) == list(cards)
    assert {name: problems for name, problems in verdicts.items()
            if problems and not name.startswith("broken-")} == {}
    assert [name for name in BROKEN if not verdicts[f"broken-{name}"]] == []
    assert "UnknownElementType" in verdicts["broken-unknown-element"][0]
    assert "DuplicateId" in " ".join(verdicts["broken-duplicate-id"])
    assert card_warnings(TOLERATED["seven-primary-actions"]) == [
        "7 primary actions: Teams shows 6 and moves 'Option 6' to the overflow menu"]


def test_write_gallery_draws_pictures_index_and_digests(tmp_path: Path) -> None:
    require_browser_tooling(RENDER_DIR)
    all_cards = sample_cards()
    cards = {name: all_cards[name] for name in ("welcome", "fix-smtp_auth_disabled_tenant")}
    (tmp_path / "card-that-was-removed.png").write_bytes(b"old")

    # The font check is the command's business; these assertions do not read glyphs.
    gallery = write_gallery(tmp_path, cards, check_fonts=False)

    assert [path.name for path in gallery.pictures] == [
        "welcome.png", "fix-smtp_auth_disabled_tenant.png"]
    assert sorted(path.name for path in tmp_path.glob("*.png")) == [
        "fix-smtp_auth_disabled_tenant.png", "welcome.png"]
    for path in gallery.pictures:
        with Image.open(path) as image:
            assert image.width == WIDTH
            # Not blank: the card's text drew dark pixels on the white bubble.
            assert image.convert("L").getextrema()[0] < 80
    index = (tmp_path / "index.md").read_text(encoding="utf-8")
    assert "### `fix-smtp_auth_disabled_tenant`: Authenticated SMTP is turned off" in index
    recorded = json.loads((tmp_path / "gallery.json").read_text(encoding="utf-8"))
    assert recorded["cards"]["welcome"]["sha256"] == card_digest(cards["welcome"])
    assert gallery.warnings == []


def test_write_gallery_changes_nothing_when_a_card_is_broken(tmp_path: Path) -> None:
    require_browser_tooling(RENDER_DIR)
    with pytest.raises(GalleryError, match="broken: Parse InvalidPropertyValue"):
        write_gallery(tmp_path, {"broken": BROKEN["invalid-value"]}, check_fonts=False)
    assert list(tmp_path.iterdir()) == []


def test_the_readme_shows_pictures_that_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.findall(r"\]\((docs/cards/[^)]+\.png)\)", readme)
    assert len(shown) >= 4
    assert [path for path in shown if not (ROOT / path).is_file()] == []


def test_the_gallery_refuses_to_draw_without_an_emoji_font(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not shutil.which("fc-list"):
        pytest.skip("fontconfig (fc-list) is not installed")
    empty = tmp_path / "fonts.conf"
    empty.write_text("<?xml version='1.0'?><fontconfig></fontconfig>\n", encoding="utf-8")
    monkeypatch.setenv("FONTCONFIG_FILE", str(empty))  # a fontconfig that knows no fonts

    problem = emoji_font_problem()
    assert problem is not None and "fonts-noto-color-emoji" in problem
    with pytest.raises(GalleryError, match="emoji"):
        write_gallery(tmp_path / "out", {"welcome": sample_cards()["welcome"]})
    assert not (tmp_path / "out").exists()
