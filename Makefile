# Quick start: `make run` serves the bot, `make test` runs the gates and every test.
# Both create .venv when it is missing and install the project into it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

MODEL := dialogs/understanding/model.npz

.PHONY: run chat test gates lines bench gallery flow cards i18n package clean nlu-eval

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

# The understanding layer's classifier, trained from its utterances (not kept in git).
$(MODEL): $(STAMP) $(wildcard dialogs/understanding/data/train/*.txt) dialogs/understanding/model.py
	$(PY) -m dialogs.understanding build

run: $(MODEL)
	$(PY) app.py

chat: $(MODEL)
	$(PY) app.py chat

# The gates first (a lint, type or import-contract violation fails the run), then every test.
test: $(MODEL)
	$(PY) -m tools.gates --strict
	$(PY) -m pytest -q -ra

# Lint, types and import contracts: how many violations each finds and where (exit 0 either
# way; `make test` runs the same with --strict). `python -m tools.gates --verbose` lists them.
gates: $(STAMP)
	$(PY) -m tools.gates

# Product lines per part and bot/'s share of them.
lines:
	$(PYTHON) -m tools.lines

bench: $(MODEL)
	$(PY) -m bench

# Accuracy per intent, fact and language on the held-out utterances; stored-fact precision.
nlu-eval: $(MODEL)
	$(PY) -m dialogs.understanding.evaluate

flow: $(STAMP)
	$(PY) app.py flow --out docs/flow.md

cards: $(STAMP)
	$(PY) app.py cards --out docs/cards/json

# After changing an English text (dialogs/messages.py, ToCustomer in dialogs/handoff/phrases.py,
# dialogs/live/phrases.py, knowledge.json): update the Latvian and Russian catalogs, then
# translate their new and fuzzy entries.
i18n: $(STAMP)
	$(PY) -m tools.i18n

gallery: $(STAMP)
	$(PY) app.py gallery --out docs/cards

package: $(STAMP)
	$(PY) app.py package --out dist

clean:
	rm -rf $(VENV) dist var .pytest_cache .hypothesis
