"""``python -m dialogs.understanding build``: train the classifier from the data and save it."""

from __future__ import annotations

import sys

from dialogs.understanding.model import MODEL_PATH, build


def main(argv: list[str]) -> int:
    """Train and save the model; print how long training took."""
    if argv[1:] != ["build"]:
        print("usage: python -m dialogs.understanding build", file=sys.stderr)
        return 2
    seconds, cpu = build()
    print(f"understanding: trained in {seconds:.2f} s ({cpu:.2f} s CPU) -> {MODEL_PATH.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
