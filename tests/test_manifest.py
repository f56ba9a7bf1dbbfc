"""The Teams app package: manifest against the official v1.30 schema, icons and zip.

The schema file declares draft-04, but ``Draft6Validator`` is used on purpose:
``validator_for`` would pick ``Draft4Validator``, which ignores ``const`` and so
lets a wrong ``manifestVersion`` through (platform.md §10). One test below
proves that pitfall, so the choice cannot silently regress.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import uuid
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator, Draft6Validator
from PIL import Image

from bot.package import (
    COLOR_ICON,
    MANIFEST_DIR,
    OUTLINE_ICON,
    PLACEHOLDER_APP_ID,
    SCHEMA_PATH,
    ManifestError,
    PlaceholderAppIdWarning,
    app_version,
    build_manifest,
    build_package,
    draw_icons,
    validate_manifest,
)
from bot.settings import Settings

APP_ID = "3f2c9a7e-51b4-4c1e-9d0a-7b6e2f8c4d15"
GUID = re.compile(r"^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$")
# Teams' documented limits for bot commands are stricter than the schema's
# (title 128, 12 commands), and the stricter ones are what the client enforces.
MAX_COMMAND_TITLE = 32
MAX_COMMAND_DESCRIPTION = 128
MAX_COMMANDS_PER_LIST = 10


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """The bundled official v1.30 manifest schema."""
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Draft6Validator:
    """The schema under draft-6 rules, so ``const`` is enforced."""
    return Draft6Validator(schema)


@pytest.fixture
def settings() -> Settings:
    """Settings as a production bot would have them."""
    return Settings(app_id=APP_ID, app_password="secret", app_tenant_id="tenant")


@pytest.fixture
def manifest(settings: Settings) -> dict[str, Any]:
    """The manifest built from ``settings``."""
    return build_manifest(settings)


def errors_of(validator: Draft6Validator, instance: dict[str, Any]) -> list[str]:
    """Every error as ``path: message`` for readable assertion output."""
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(instance)
    ]


def all_strings(node: Any) -> Iterator[str]:
    """Every string value anywhere in a JSON document."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from all_strings(item)
    elif isinstance(node, dict):
        for item in node.values():
            yield from all_strings(item)


# --- schema ---------------------------------------------------------------


def test_manifest_validates_against_official_schema(
    validator: Draft6Validator, manifest: dict[str, Any]
) -> None:
    """The built manifest passes the official v1.30 schema."""
    assert errors_of(validator, manifest) == []
    assert validate_manifest(manifest) == []


def test_wrong_manifest_version_is_rejected(
    schema: dict[str, Any], validator: Draft6Validator, manifest: dict[str, Any]
) -> None:
    """A wrong manifestVersion fails under Draft6 rules, and only under them."""
    bad = {**manifest, "manifestVersion": "1.29"}
    errors = errors_of(validator, bad)
    assert any(e.startswith("manifestVersion:") for e in errors), errors
    assert any(e.startswith("manifestVersion:") for e in validate_manifest(bad))
    # The pitfall this file guards against: draft-4 rules know no ``const``.
    assert Draft4Validator(schema).is_valid(bad)


@pytest.mark.parametrize(
    "path",
    [("developer",), ("accentColor",), ("icons",), ("description", "full"), ("name", "short")],
)
def test_missing_required_field_is_rejected(
    validator: Draft6Validator, manifest: dict[str, Any], path: tuple[str, ...]
) -> None:
    """Dropping a required field is caught, at the top level and nested."""
    bad = copy.deepcopy(manifest)
    parent = bad
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    errors = errors_of(validator, bad)
    assert any(f"'{path[-1]}' is a required property" in e for e in errors), errors


def test_schema_refs_resolve_despite_draft4_dialect(
    validator: Draft6Validator, manifest: dict[str, Any]
) -> None:
    """``$ref``s into ``#/definitions`` are followed, so their patterns apply."""
    # botId is a $ref to #/definitions/guid; an error here proves the draft-04
    # ``$schema`` does not stop Draft6Validator from resolving local references.
    bad = copy.deepcopy(manifest)
    bad["bots"][0]["botId"] = "not-a-guid"
    bad["accentColor"] = "blue"
    errors = errors_of(validator, bad)
    assert any(e.startswith("bots/0/botId:") for e in errors), errors
    assert any(e.startswith("accentColor:") for e in errors), errors


def test_template_targets_the_bundled_schema_version(
    schema: dict[str, Any], manifest: dict[str, Any]
) -> None:
    """Template, ``$schema`` URL and bundled schema all speak v1.30."""
    assert schema["properties"]["manifestVersion"]["const"] == "1.30"
    assert manifest["manifestVersion"] == "1.30"
    assert manifest["$schema"] == (
        "https://developer.microsoft.com/en-us/json-schemas/teams/v1.30/MicrosoftTeams.schema.json"
    )


# --- content --------------------------------------------------------------


def test_placeholders_are_all_filled(manifest: dict[str, Any]) -> None:
    """No ``{{name}}`` survives into the manifest."""
    leftovers = [s for s in all_strings(manifest) if "{{" in s or "}}" in s]
    assert leftovers == []


def test_manifest_is_filled_from_settings(settings: Settings, manifest: dict[str, Any]) -> None:
    """Names, URLs, version and bot ids come from settings."""
    assert manifest["developer"] == {
        "name": settings.company_name,
        "websiteUrl": settings.website_url,
        "privacyUrl": settings.privacy_url,
        "termsOfUseUrl": settings.terms_url,
    }
    assert manifest["name"]["short"] == "Mail Setup Assistant"
    assert len(manifest["name"]["short"]) <= 30
    assert len(manifest["description"]["short"]) <= 80
    assert re.fullmatch(r"\d+\.\d+\.\d+", manifest["version"])
    assert manifest["bots"][0]["botId"] == APP_ID
    assert manifest["composeExtensions"][0]["botId"] == APP_ID
    full = manifest["description"]["full"].lower()
    for feature in ("smtp auth", "cloudex tms", "paste", "consent", "person", "staff"):
        assert feature in full


def test_teams_app_id_is_stable_and_derived_from_the_bot_id(settings: Settings) -> None:
    """Without TEAMS_APP_ID, the same bot id always gives the same Teams app id."""
    first = build_manifest(settings)["id"]
    assert GUID.match(first)
    assert build_manifest(settings)["id"] == first
    upper = build_manifest(dataclasses.replace(settings, app_id=APP_ID.upper()))
    assert upper["id"] == first
    # Entra's Application ID URI uses the lower-case id, so the manifest does too.
    assert upper["webApplicationInfo"]["resource"] == f"api://botid-{APP_ID}"
    other = dataclasses.replace(settings, app_id=str(uuid.UUID(int=1)))
    assert build_manifest(other)["id"] != first
    assert first != APP_ID


def test_teams_app_id_setting_wins(settings: Settings) -> None:
    """TEAMS_APP_ID, when set, is the manifest id."""
    chosen = "0d6c1a52-8f3e-4b71-a2c9-5e4d3b2a1f00"
    manifest = build_manifest(dataclasses.replace(settings, teams_app_id=chosen))
    assert manifest["id"] == chosen


def test_sso_and_sign_in_domains(manifest: dict[str, Any]) -> None:
    """SSO resource matches the bot id; the token service may open sign-in pages."""
    assert manifest["webApplicationInfo"] == {
        "id": APP_ID,
        "resource": f"api://botid-{APP_ID}",
    }
    assert "token.botframework.com" in manifest["validDomains"]
    assert "www.cloudex.example" in manifest["validDomains"]
    assert len(manifest["validDomains"]) == len(set(manifest["validDomains"]))
    assert all("://" not in d for d in manifest["validDomains"])


def test_bot_scopes_permissions_and_no_device_permissions(manifest: dict[str, Any]) -> None:
    """The bot works in all three scopes and asks for no device features."""
    bot = manifest["bots"][0]
    assert bot["scopes"] == ["personal", "team", "groupChat"]
    assert bot["supportsFiles"] is False
    assert manifest["permissions"] == ["identity", "messageTeamMembers"]
    assert manifest.get("devicePermissions", []) == []


def test_command_lists(manifest: dict[str, Any]) -> None:
    """Customer and staff command lists, within Teams' limits."""
    lists = {tuple(cl["scopes"]): cl["commands"] for cl in manifest["bots"][0]["commandLists"]}
    assert set(lists) == {("personal",), ("team", "groupChat")}
    assert [c["title"] for c in lists[("personal",)]] == [
        "help",
        "start over",
        "talk to a person",
        "check my tenant",
    ]
    assert [c["title"] for c in lists[("team", "groupChat")]] == [
        "kb",
        "ps mailbox",
        "ps tenant",
        "ps check",
        "diagnose",
        "explain",
        "stats",
        "queue",
        "use this channel for handoffs",
    ]
    for commands in lists.values():
        assert len(commands) <= MAX_COMMANDS_PER_LIST
        for command in commands:
            assert 0 < len(command["title"]) <= MAX_COMMAND_TITLE, command
            assert 0 < len(command["description"]) <= MAX_COMMAND_DESCRIPTION, command


def test_search_message_extension(manifest: dict[str, Any]) -> None:
    """The staff search command the message-extension handler answers."""
    (extension,) = manifest["composeExtensions"]
    (command,) = extension["commands"]
    assert command["id"] == "searchKnowledge"
    assert command["type"] == "query"
    assert command["title"] == "Search mail setup fixes"
    assert len(command["title"]) <= MAX_COMMAND_TITLE
    assert command["context"] == ["compose", "commandBox"]
    assert [p["name"] for p in command["parameters"]] == ["query"]


def test_unset_app_id_uses_placeholder_and_warns(validator: Draft6Validator) -> None:
    """A local build without MicrosoftAppId still validates and says why it is unusable."""
    with pytest.warns(PlaceholderAppIdWarning, match=PLACEHOLDER_APP_ID):
        manifest = build_manifest(Settings())
    assert errors_of(validator, manifest) == []
    assert manifest["bots"][0]["botId"] == PLACEHOLDER_APP_ID
    assert manifest["webApplicationInfo"]["resource"] == f"api://botid-{PLACEHOLDER_APP_ID}"
    assert GUID.match(manifest["id"]) and manifest["id"] != PLACEHOLDER_APP_ID


def test_a_set_app_id_does_not_warn(settings: Settings) -> None:
    """The placeholder warning is only for builds without an app id."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlaceholderAppIdWarning)
        build_manifest(settings)


# --- icons ----------------------------------------------------------------


def test_color_icon_is_192_and_opaque() -> None:
    """The colour icon is a 192x192 opaque PNG with real colour in it."""
    with Image.open(MANIFEST_DIR / COLOR_ICON) as image:
        assert image.format == "PNG"
        assert image.size == (192, 192)
        assert image.mode in {"RGB", "RGBA"}
        if image.mode == "RGBA":
            assert image.getchannel("A").getextrema() == (255, 255)
        # Full colour, not a blank square.
        assert len(image.convert("RGB").getcolors(maxcolors=192 * 192) or []) > 2


def test_outline_icon_is_32_white_on_transparent() -> None:
    """Every outline pixel is fully transparent or pure white, and both occur."""
    with Image.open(MANIFEST_DIR / OUTLINE_ICON) as image:
        assert image.format == "PNG"
        assert image.size == (32, 32)
        assert image.mode == "RGBA"
        raw = image.tobytes()
    # tobytes() rather than getdata(), which Pillow 13 deprecates.
    pixels = [tuple(raw[i : i + 4]) for i in range(0, len(raw), 4)]
    not_white = [p for p in pixels if p[3] != 0 and p[:3] != (255, 255, 255)]
    assert not_white == []
    alphas = {p[3] for p in pixels}
    assert 0 in alphas, "needs a transparent background"
    assert 255 in alphas, "needs a solid white glyph"


def test_committed_icons_match_the_drawing_code(tmp_path: Path) -> None:
    """The committed PNGs are exactly what ``draw_icons`` draws today."""
    draw_icons(tmp_path)
    for name in (COLOR_ICON, OUTLINE_ICON):
        with Image.open(tmp_path / name) as fresh, Image.open(MANIFEST_DIR / name) as committed:
            assert fresh.mode == committed.mode and fresh.size == committed.size
            assert fresh.tobytes() == committed.tobytes(), (
                f"manifest/{name} is stale: run python -m bot.package icons"
            )


# --- package --------------------------------------------------------------


def test_build_package_writes_files_and_zip_at_root(
    settings: Settings, validator: Draft6Validator, tmp_path: Path
) -> None:
    """The zip holds the manifest and both icons at its root, nothing else."""
    zip_path = build_package(settings, tmp_path / "dist")
    assert zip_path == tmp_path / "dist" / f"mail-setup-assistant-{app_version()}.zip"
    assert {p.name for p in (tmp_path / "dist").iterdir()} == {
        "manifest.json",
        "color.png",
        "outline.png",
        zip_path.name,
    }
    with zipfile.ZipFile(zip_path) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == ["color.png", "manifest.json", "outline.png"]
        packed = json.loads(zf.read("manifest.json"))
        assert zf.read("color.png") == (MANIFEST_DIR / COLOR_ICON).read_bytes()
        assert zf.read("outline.png") == (MANIFEST_DIR / OUTLINE_ICON).read_bytes()
    assert packed == json.loads((tmp_path / "dist" / "manifest.json").read_text("utf-8"))
    assert errors_of(validator, packed) == []
    assert set(packed["icons"].values()) == {"color.png", "outline.png"}


def test_build_package_is_reproducible(settings: Settings, tmp_path: Path) -> None:
    """The same inputs give a byte-identical zip."""
    first = build_package(settings, tmp_path / "a").read_bytes()
    assert build_package(settings, tmp_path / "b").read_bytes() == first


def test_build_package_refuses_an_invalid_manifest(settings: Settings, tmp_path: Path) -> None:
    """An invalid manifest raises with its errors and writes nothing."""
    too_long = dataclasses.replace(settings, bot_name="Mail Setup Assistant for Everyone")
    with pytest.raises(ManifestError) as caught:
        build_package(too_long, tmp_path / "dist")
    assert any(e.startswith("name/short:") for e in caught.value.errors), caught.value.errors
    assert "name/short" in str(caught.value)
    assert not (tmp_path / "dist").exists()


def test_build_package_without_app_id_still_validates(
    validator: Draft6Validator, tmp_path: Path
) -> None:
    """A package built without MicrosoftAppId is still schema-valid."""
    with pytest.warns(PlaceholderAppIdWarning):
        zip_path = build_package(Settings(), tmp_path)
    with zipfile.ZipFile(zip_path) as zf:
        assert errors_of(validator, json.loads(zf.read("manifest.json"))) == []


def test_sso_uses_the_separate_sign_in_app_when_one_is_configured() -> None:
    from dataclasses import replace

    from bot.package import build_manifest, validate_manifest
    from bot.settings import Settings

    bot_app = "11111111-2222-3333-4444-555555555555"
    sign_in_app = "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"
    base = Settings(app_id=bot_app, app_password="x", app_tenant_id="t")
    assert build_manifest(base)["webApplicationInfo"]["id"] == bot_app
    separate = build_manifest(replace(base, signin_client_id=sign_in_app))
    assert separate["webApplicationInfo"]["id"] == sign_in_app.lower()
    assert separate["bots"][0]["botId"] == bot_app
    assert validate_manifest(separate) == []
