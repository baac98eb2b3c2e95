# The two commands a newcomer needs: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install browser demo test test-fast lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The browser tests drive Debian's chromium with Playwright (no browser download). Installing it
# is tried only where nothing can stop or prompt: as root, or through sudo that needs no
# password, with apt-get. Anywhere else one line says so and the browser tests skip (outside
# CI; under CI=true they fail). Another Chromium: make test CHROMIUM=/path/to/chromium.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM
NO_BROWSER = echo "note: $(CHROMIUM) is missing ($(1)): the browser tests will be skipped"

browser:
	@[ -x "$(CHROMIUM)" ] || { \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    $(call NO_BROWSER,no apt-get here; install Chromium and pass CHROMIUM=...); \
	  elif [ "$$(id -u)" = 0 ]; then \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	      || $(call NO_BROWSER,apt-get install chromium failed); \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	    { sudo -n apt-get update -qq && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	      || $(call NO_BROWSER,sudo apt-get install chromium failed); \
	  else $(call NO_BROWSER,sudo apt-get install chromium); fi; }

demo: $(STAMP)
	$(BIN)/callcenter demo

test: $(STAMP) browser
	$(BIN)/pytest

test-fast: $(STAMP)
	$(BIN)/pytest tests/unit

lint: $(STAMP)
	$(BIN)/ruff format --check callcenter tests benchmarks
	$(BIN)/ruff check callcenter tests benchmarks
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format callcenter tests benchmarks
	$(BIN)/ruff check --fix callcenter tests benchmarks

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache test-output
