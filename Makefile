# The two commands of the README quick start are `make demo` and `make test`;
# both install what they need into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: setup demo test lint bench fuzz

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

demo: setup
	@$(BIN)/python scripts/demo.py --out out/demo.mp4

lint: setup
	$(BIN)/ruff check gateway tests bench scripts
	$(BIN)/ruff format --check gateway tests bench scripts

test: lint
	$(BIN)/pytest -q --durations=15
	@for script in integrations/*/ci.sh; do \
	  if [ -f "$$script" ]; then GATEWAY_PYTHON=$(CURDIR)/$(BIN)/python bash "$$script" || exit 1; fi; \
	done

# Schemathesis alone, its report on the terminal (also part of `make test`);
# extra options go in ARGS.
fuzz: setup
	$(BIN)/python -m tests.fuzz.harness $(ARGS)

bench: setup
	$(BIN)/python bench/render_bench.py --write
