"""Developer tooling that is not part of the bot: the card gallery and its Node helpers."""
