# Quick start: `make run` serves the bot, `make test` runs every test.
# Both create .venv when it is missing and install the project into it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run chat test gates lines bench gallery flow cards i18n package clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	$(PY) app.py

chat: $(STAMP)
	$(PY) app.py chat

test: $(STAMP)
	$(PY) -m pytest -q -ra

# Lint, types and import contracts: prints the violations (not yet part of make test).
gates: $(STAMP)
	$(PY) -m tools.gates

# Product lines per part and bot/'s share of them.
lines:
	$(PYTHON) -m tools.lines

bench: $(STAMP)
	$(PY) -m bench

flow: $(STAMP)
	$(PY) app.py flow --out docs/flow.md

cards: $(STAMP)
	$(PY) app.py cards --out docs/cards/json

# After changing an English text (dialogs/messages.py, ToCustomer in dialogs/handoff/phrases.py,
# knowledge.json): update the Latvian and Russian catalogs, then translate their new and fuzzy
# entries.
i18n: $(STAMP)
	$(PY) -m tools.i18n

gallery: $(STAMP)
	$(PY) app.py gallery --out docs/cards

package: $(STAMP)
	$(PY) app.py package --out dist

clean:
	rm -rf $(VENV) dist var .pytest_cache .hypothesis
