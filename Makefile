# AutoGaze Playground: `make app` launches the app, `make test` runs the test suite.
# Both create .venv on first use and install what they need into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: app test test-fast lint setup setup-test bench notebooks clean

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	$(PIP) install --quiet --no-deps -e .  # `import playground` from any folder (benchmarks, notebooks)
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt
	$(PIP) install --quiet -r requirements-test.txt
	touch $@

setup: $(VENV)/.installed
setup-test: $(VENV)/.installed-test

app: setup
	$(PY) app.py

test: setup-test lint
	$(PY) -m pytest -q --durations=10

lint: setup-test  # ruff: lint (pycodestyle, pyflakes, isort) and format, settings in pyproject.toml
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test-fast: setup-test  # without the end-to-end tests (browser, notebooks, Ray, app server): CI runs them all
	$(PY) -m pytest -q -m "not slow and not e2e"

bench: setup
	$(PY) benchmarks/gazers.py

notebooks: setup
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,)

clean:
	rm -rf $(VENV) .pytest_cache
