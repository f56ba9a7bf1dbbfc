# Quick start: `make run` serves the bot, `make test` runs every test.
# Both create .venv when it is missing and install the project into it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

MODEL := dialogs/understanding/model.npz

.PHONY: run chat test bench gallery flow cards package clean nlu-eval

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

test: $(MODEL)
	$(PY) -m pytest -q -ra

bench: $(MODEL)
	$(PY) -m bench

# Accuracy per intent, fact and language on the held-out utterances; stored-fact precision.
nlu-eval: $(MODEL)
	$(PY) -m dialogs.understanding.evaluate

flow: $(STAMP)
	$(PY) app.py flow --out docs/flow.md

cards: $(STAMP)
	$(PY) app.py cards --out docs/cards/json

gallery: $(STAMP)
	$(PY) app.py gallery --out docs/cards

package: $(STAMP)
	$(PY) app.py package --out dist

clean:
	rm -rf $(VENV) dist var .pytest_cache .hypothesis
