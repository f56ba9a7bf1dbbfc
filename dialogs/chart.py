"""Small PNG bar charts for cards, drawn with Pillow and sent inline as ``data:`` URIs.

A staff statistics card says "which causes, how many" better with bars than
with a list of numbers. The picture has to travel inside the card (Teams
limits a card to about 28 KB in some places, and a bot has no public image
host), so it is small, palette-coloured and optimised: a few KB.

Pillow is the ``charts`` extra: without it :func:`can_draw` is False and the
card lists the numbers instead.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from importlib.util import find_spec
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import ImageDraw, ImageFont

WIDTH = 600
ROW_HEIGHT = 26
PADDING = 10
LABEL_WIDTH = 300
BAR_COLOR = (70, 71, 179)  # Teams' brand purple reads well on light and dark themes
TEXT_COLOR = (50, 49, 48)
BACKGROUND = (255, 255, 255)
FONT_SIZE = 13


def can_draw() -> bool:
    """True when Pillow (the ``charts`` extra) is installed."""
    return find_spec("PIL") is not None


def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=FONT_SIZE)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, label: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
         width: int) -> str:
    if draw.textlength(label, font=font) <= width:
        return label
    while label and draw.textlength(label + "\u2026", font=font) > width:
        label = label[:-1]
    return label.rstrip() + "\u2026"


def bar_chart_png(bars: Sequence[tuple[str, int]]) -> bytes:
    """Draw horizontal bars, one row per ``(label, value)``, largest scale first.

    Args:
        bars: labels and non-negative counts, in the order to draw them.

    Returns:
        The PNG file's bytes (palette mode, optimised).

    Raises:
        ImportError: Pillow is not installed (see :func:`can_draw`).
    """
    from PIL import Image, ImageDraw

    rows = list(bars) or [("(no data)", 0)]
    height = 2 * PADDING + ROW_HEIGHT * len(rows)
    image = Image.new("RGB", (WIDTH, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = _font()
    top = max((value for _, value in rows), default=0) or 1
    bar_left = PADDING + LABEL_WIDTH + PADDING
    value_room = 48
    bar_space = WIDTH - bar_left - PADDING - value_room
    for i, (label, value) in enumerate(rows):
        y = PADDING + i * ROW_HEIGHT
        middle = y + ROW_HEIGHT // 2
        draw.text((PADDING, middle), _fit(draw, label, font, LABEL_WIDTH), fill=TEXT_COLOR,
                  font=font, anchor="lm")
        length = round(bar_space * max(value, 0) / top)
        if length:
            draw.rectangle((bar_left, y + 5, bar_left + length, y + ROW_HEIGHT - 5),
                           fill=BAR_COLOR)
        draw.text((bar_left + length + 6, middle), str(value), fill=TEXT_COLOR, font=font,
                  anchor="lm")
    buffer = io.BytesIO()
    image.quantize(colors=16).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    """Return ``png`` as a ``data:image/png;base64,…`` URI for an Adaptive Card Image."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
