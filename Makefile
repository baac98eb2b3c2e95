# The two commands a newcomer needs: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install browser espeak demo test test-fast lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# `make test` installs what some tests need from Debian, but only where nothing can stop or
# prompt: as root, or through sudo that needs no password, with apt-get. Anywhere else one line
# says so and those tests skip (outside CI; under CI=true they fail).
# $(call apt_install,PACKAGE,WHAT FOLLOWS) (no commas in the arguments: they split them).
apt_install = if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "note: no apt-get to install $(1): $(2)"; \
	  elif [ "$$(id -u)" = 0 ]; then \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; } \
	      || echo "note: apt-get install $(1) failed: $(2)"; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	    { sudo -n apt-get update -qq && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; } \
	      || echo "note: sudo apt-get install $(1) failed: $(2)"; \
	  else echo "note: $(1) is missing (sudo apt-get install $(1)): $(2)"; fi

# The browser tests drive Debian's chromium with Playwright (no browser download); another
# Chromium: make test CHROMIUM=/path/to/chromium.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM

browser:
	@[ -x "$(CHROMIUM)" ] || { $(call apt_install,chromium,the browser tests will be skipped (or pass CHROMIUM=/path/to/chromium)); }

# `callcenter prompts build` speaks text prompts with Debian's espeak-ng (tests need it too).
espeak:
	@command -v espeak-ng >/dev/null 2>&1 || { $(call apt_install,espeak-ng,the text-prompt tests will be skipped); }

demo: $(STAMP)
	$(BIN)/callcenter demo

test: $(STAMP) browser espeak
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
