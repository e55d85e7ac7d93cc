# The two set-up commands of README.md: `make demo` (install + the main job) and `make test` (install + every check).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP_FLAGS ?= -q

.PHONY: install demo test test-fast lint leaderboard clean

$(BIN)/acpo-bench: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) --upgrade pip setuptools wheel
	$(BIN)/pip install $(PIP_FLAGS) -e '.[dev]'
	@touch $@

install: $(BIN)/acpo-bench

demo: install
	$(BIN)/acpo-bench eval --model visual-prior --tasks all

lint: install
	$(BIN)/ruff check .
	$(BIN)/python tools/check_layers.py

test: lint
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

# The leaderboard in leaderboard/ from the committed runs in leaderboard/results/*/ (README.md, "Leaderboard").
leaderboard: install
	$(BIN)/acpo-bench leaderboard leaderboard/results/*/results.json --format md --output leaderboard/README.md
	$(BIN)/acpo-bench leaderboard leaderboard/results/*/results.json --format html --output leaderboard/leaderboard.html
	$(BIN)/acpo-bench leaderboard leaderboard/results/*/results.json --format latex --output leaderboard/leaderboard.tex
	$(BIN)/acpo-bench leaderboard leaderboard/results/*/results.json --format csv --output leaderboard/leaderboard.csv

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
