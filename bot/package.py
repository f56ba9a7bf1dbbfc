"""Build the Teams app package a customer's admin uploads: manifest, icons and zip.

The manifest comes from ``manifest/manifest.template.json`` with ``{{name}}``
placeholders filled from :class:`bot.settings.Settings`, and it is validated
against the official v1.30 schema bundled in ``tests/schemas`` before anything
is written, so a package that Teams would reject is never produced.

The icons are drawn by :func:`draw_icons` and committed as
``manifest/color.png`` and ``manifest/outline.png``; packaging copies the
committed files, so building a package needs neither Pillow nor the network.
Redraw them with ``python -m bot.package icons``; a test fails when the
committed pictures differ from what the code draws.

``devicePermissions`` is deliberately absent: the bot uses no device features.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tomllib
import uuid
import warnings
import zipfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.settings import PROJECT_ROOT, Settings, SettingsError
from dialogs.staff import manifest_commands

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

MANIFEST_DIR = PROJECT_ROOT / "manifest"
TEMPLATE_PATH = MANIFEST_DIR / "manifest.template.json"
SCHEMA_PATH = PROJECT_ROOT / "tests" / "schemas" / "teams-manifest-v1.30.schema.json"
COLOR_ICON = "color.png"
OUTLINE_ICON = "outline.png"
COLOR_ICON_SIZE = 192
OUTLINE_ICON_SIZE = 32
ACCENT_COLOR = "#0F6CBD"
# Stands in for MicrosoftAppId in local builds; a real upload needs the real id.
PLACEHOLDER_APP_ID = "00000000-0000-0000-0000-000000000000"
# Fixed so the Teams app id derived from a bot id is the same on every machine and
# release: Teams treats a new id as a different app and would install a duplicate.
TEAMS_APP_ID_NAMESPACE = uuid.UUID("1b84d612-77e7-45fc-b0d7-2d7eb11b5468")
DISTRIBUTION_NAME = "mail-setup-assistant"

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
# Zip entries get a fixed timestamp so the same inputs give a byte-identical package.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_ICON_GREEN = (16, 124, 16)
_WHITE = (255, 255, 255)


class ManifestError(ValueError):
    """The manifest is not valid; ``errors`` lists every problem found."""

    def __init__(self, errors: Sequence[str]) -> None:
        """Keep the individual errors and build a readable message from them.

        Args:
            errors: One line per problem, each starting with the JSON path.
        """
        self.errors = list(errors)
        super().__init__(
            "the Teams manifest is invalid:\n" + "\n".join(f"  - {e}" for e in self.errors)
        )


class PlaceholderAppIdWarning(UserWarning):
    """MicrosoftAppId is unset, so the manifest carries the all-zero placeholder id."""


def app_version() -> str:
    """Return the project version used as the manifest ``version``.

    ``pyproject.toml`` wins in a checkout, because installed metadata goes stale
    when the version is bumped without reinstalling; an installed copy without
    the file falls back to the distribution's metadata.

    Returns:
        The version string, e.g. ``"0.1.0"``.
    """
    pyproject = PROJECT_ROOT / "pyproject.toml"
    if pyproject.is_file():
        with pyproject.open("rb") as fh:
            return str(tomllib.load(fh)["project"]["version"])
    return metadata.version(DISTRIBUTION_NAME)


def teams_app_id(settings: Settings) -> str:
    """Return the Teams app id: ``TEAMS_APP_ID`` or a stable id derived from the bot id.

    Args:
        settings: The bot's settings.

    Returns:
        A GUID string.
    """
    if settings.teams_app_id:
        return settings.teams_app_id
    # GUIDs compare case-insensitively; lower-casing keeps the derived id stable
    # whichever way the portal printed the bot id.
    bot_id = (settings.app_id or PLACEHOLDER_APP_ID).lower()
    return str(uuid.uuid5(TEAMS_APP_ID_NAMESPACE, bot_id))


def build_manifest(settings: Settings, *, version: str | None = None) -> dict[str, Any]:
    """Fill the manifest template from settings.

    The result is not validated here; :func:`validate_manifest` does that, and
    :func:`build_package` refuses to write an invalid one.

    Args:
        settings: The bot's settings (app id, names, URLs).
        version: The app version; defaults to :func:`app_version`.

    Returns:
        The manifest as a JSON-ready dict.

    Raises:
        ManifestError: The template names a placeholder that has no value.
    """
    # Entra shows app ids in lower case and builds the default Application ID URI
    # from that form; the SSO resource has to match it character for character.
    app_id = settings.app_id.lower()
    if not app_id:
        warnings.warn(
            f"MicrosoftAppId is not set: the manifest uses the placeholder bot id "
            f"{PLACEHOLDER_APP_ID}. Teams cannot reach a bot with it; set MicrosoftAppId "
            "before building a package to upload.",
            PlaceholderAppIdWarning,
            stacklevel=2,
        )
        app_id = PLACEHOLDER_APP_ID
    values: dict[str, Any] = {
        "version": version or app_version(),
        "teams_app_id": teams_app_id(settings),
        "app_id": app_id,
        # Teams SSO hands out tokens for the app customers sign in to, which is the
        # bot's own app unless SIGNIN_CLIENT_ID names a separate one.
        "sso_app_id": (settings.signin_client_id or app_id).lower(),
        "bot_name": settings.bot_name,
        "company_name": settings.company_name,
        "website_url": settings.website_url,
        "privacy_url": settings.privacy_url,
        "terms_url": settings.terms_url,
        "website_host": urlsplit(settings.website_url).hostname or "",
        "accent_color": ACCENT_COLOR,
        # The staff command list comes from the one registry of staff commands.
        "staff_commands": manifest_commands(),
    }
    template = json.loads(TEMPLATE_PATH.read_text(encoding="utf-8"))
    missing: set[str] = set()
    manifest: dict[str, Any] = _fill(template, values, missing)
    if missing:
        raise ManifestError(
            [f"template placeholder {{{{{name}}}}} has no value" for name in sorted(missing)]
        )
    # A website URL without a host, or one on token.botframework.com, would leave an
    # empty or duplicate entry, which the store validation flags.
    domains = [d for d in manifest.get("validDomains", []) if d]
    manifest["validDomains"] = list(dict.fromkeys(domains))
    return manifest


def _fill(node: Any, values: dict[str, Any], missing: set[str]) -> Any:
    """Replace ``{{name}}`` in every string of a parsed template.

    Substituting after parsing, not in the raw text, means a value with quotes or
    backslashes can never break the JSON. A string that is one placeholder and
    nothing else takes its value whole, whatever its type (a list of commands).
    """
    if isinstance(node, str):
        whole = _PLACEHOLDER.fullmatch(node)
        if whole is not None and not isinstance(values.get(whole.group(1), ""), str):
            return values[whole.group(1)]

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                missing.add(name)
                return match.group(0)
            return values[name]

        return _PLACEHOLDER.sub(lookup, node)
    if isinstance(node, list):
        return [_fill(item, values, missing) for item in node]
    if isinstance(node, dict):
        return {key: _fill(item, values, missing) for key, item in node.items()}
    return node


def load_schema() -> dict[str, Any]:
    """Read the bundled official Teams manifest schema (v1.30).

    Returns:
        The schema as a dict.
    """
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def validate_manifest(manifest: dict[str, Any]) -> list[str]:
    r"""Validate a manifest against the bundled v1.30 schema.

    The schema declares draft-04, and ``jsonschema.validators.validator_for``
    would pick ``Draft4Validator``, which ignores ``const`` and so accepts a
    wrong ``manifestVersion``. ``Draft6Validator`` enforces it; local ``$ref``s
    still resolve because the schema uses no ``id`` keywords. Only the schema's
    ``extensions`` section uses ``\p{L}`` patterns that Python's ``re`` cannot
    compile, and this manifest has no such section.

    Args:
        manifest: The manifest dict.

    Returns:
        One ``"<json path>: <message>"`` line per error; empty when valid.

    Raises:
        ManifestError: jsonschema is not installed (the ``package`` extra).
    """
    try:
        from jsonschema import Draft6Validator
    except ImportError as exc:  # refuse rather than ship an unchecked package
        raise ManifestError(
            ["jsonschema is needed to validate the manifest: pip install -e '.[package]'"]
        ) from exc
    validator = Draft6Validator(load_schema())
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]


def build_package(settings: Settings, out_dir: Path) -> Path:
    """Write the manifest, the icons and the upload zip into ``out_dir``.

    Args:
        settings: The bot's settings.
        out_dir: Where to write ``manifest.json``, ``color.png``, ``outline.png``
            and ``<name>-<version>.zip``; created when missing.

    Returns:
        The path of the zip, which holds the manifest and both icons at its root
        as Teams requires.

    Raises:
        ManifestError: The manifest does not validate; nothing is written.
        FileNotFoundError: A committed icon is missing (redraw with
            ``python -m bot.package icons``).
    """
    manifest = build_manifest(settings)
    errors = validate_manifest(manifest)
    if errors:
        raise ManifestError(errors)
    icons = {name: MANIFEST_DIR / name for name in (COLOR_ICON, OUTLINE_ICON)}
    for path in icons.values():
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; run: python -m bot.package icons")

    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_bytes = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    (out_dir / "manifest.json").write_bytes(manifest_bytes)
    for name, path in icons.items():
        shutil.copyfile(path, out_dir / name)

    slug = re.sub(r"[^a-z0-9]+", "-", manifest["name"]["short"].lower()).strip("-") or "app"
    zip_path = out_dir / f"{slug}-{manifest['version']}.zip"
    entries = {"manifest.json": manifest_bytes}
    entries.update({name: path.read_bytes() for name, path in icons.items()})
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return zip_path


def draw_icons(out_dir: Path) -> tuple[Path, Path]:
    """Draw the colour and outline icons into ``out_dir``.

    Args:
        out_dir: Directory for ``color.png`` and ``outline.png``; created when missing.

    Returns:
        The paths of the colour icon and the outline icon.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    color_path, outline_path = out_dir / COLOR_ICON, out_dir / OUTLINE_ICON
    _draw_color_icon().save(color_path, format="PNG", optimize=True)
    _draw_outline_icon().save(outline_path, format="PNG", optimize=True)
    return color_path, outline_path


# Icons are drawn at several times their size and scaled down: smooth edges, and
# still deterministic, unlike text rendering, which would depend on installed fonts.
_COLOR_OVERSAMPLE = 4
_OUTLINE_OVERSAMPLE = 8


def _draw_color_icon() -> PILImage:
    """A white envelope with a green "done" badge on the accent colour.

    Full bleed and opaque, because Teams rounds the corners itself.
    """
    # Pillow is only needed to redraw the icons, never to build a package.
    from PIL import Image, ImageDraw

    k = _COLOR_OVERSAMPLE
    accent = _hex_rgb(ACCENT_COLOR)
    image = Image.new("RGB", (COLOR_ICON_SIZE * k, COLOR_ICON_SIZE * k), accent)
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle(_scaled(k, (30, 50, 162, 142)), radius=12 * k, fill=_WHITE)
    draw.line(_scaled(k, (40, 60, 96, 104, 152, 60)), fill=accent, width=9 * k, joint="curve")
    draw.ellipse(_scaled(k, (112, 102, 180, 170)), fill=_WHITE)
    draw.ellipse(_scaled(k, (119, 109, 173, 163)), fill=_ICON_GREEN)
    draw.line(_scaled(k, (131, 136, 142, 147, 161, 125)), fill=_WHITE, width=8 * k, joint="curve")
    return image.resize((COLOR_ICON_SIZE, COLOR_ICON_SIZE), Image.Resampling.LANCZOS)


def _draw_outline_icon() -> PILImage:
    """The envelope alone, white on transparent.

    Only the alpha channel is drawn and every pixel's colour is white, so the
    anti-aliased edges stay pure white, as Teams requires of outline icons.
    """
    from PIL import Image, ImageDraw

    k = _OUTLINE_OVERSAMPLE
    mask = Image.new("L", (OUTLINE_ICON_SIZE * k, OUTLINE_ICON_SIZE * k), 0)
    draw = ImageDraw.Draw(mask)
    draw.rounded_rectangle(_scaled(k, (3, 7, 29, 25)), radius=2 * k, outline=255, width=2 * k)
    draw.line(_scaled(k, (4, 8, 16, 17, 28, 8)), fill=255, width=2 * k, joint="curve")
    alpha = mask.resize((OUTLINE_ICON_SIZE, OUTLINE_ICON_SIZE), Image.Resampling.BOX)
    white = Image.new("L", alpha.size, 255)
    return Image.merge("RGBA", (white, white, white, alpha))


def _scaled(factor: int, coords: Sequence[float]) -> list[float]:
    """Scale icon coordinates given in final pixels to the oversampled canvas."""
    return [c * factor for c in coords]


def _hex_rgb(color: str) -> tuple[int, int, int]:
    """``"#0F6CBD"`` -> ``(15, 108, 189)``."""
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``icons`` redraws the committed icons, ``build`` writes a package.

    Args:
        argv: Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns:
        The process exit code.
    """
    parser = argparse.ArgumentParser(prog="python -m bot.package", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    icons = sub.add_parser("icons", help="redraw manifest/color.png and manifest/outline.png")
    icons.add_argument("--out", type=Path, default=MANIFEST_DIR)
    build = sub.add_parser("build", help="write manifest.json, icons and the zip")
    build.add_argument("--out", type=Path, default=PROJECT_ROOT / "dist")
    args = parser.parse_args(argv)
    if args.command == "icons":
        for path in draw_icons(args.out):
            print(path)
        return 0
    try:
        print(build_package(Settings.from_env(), args.out))
    except (ManifestError, SettingsError) as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
