# The two set-up commands of README.md: `make demo` (install + the main job) and `make test` (install + every check).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP_FLAGS ?= -q

# The lmms-eval bridge is tested in its own venv: lmms-eval 0.7.3 pins av<16 and needs filelock<4 (README).
LMMS_VENV ?= .venv-lmms
LMMS_TORCH ?= torch==2.14.1 torchvision==0.29.1

.PHONY: install demo test test-fast lint leaderboard clean lmms-venv system-deps

$(BIN)/acpo-bench: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) --upgrade pip setuptools wheel
	$(BIN)/pip install $(PIP_FLAGS) -e '.[dev]'
	@touch $@

install: $(BIN)/acpo-bench

$(LMMS_VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(LMMS_VENV)
	$(LMMS_VENV)/bin/pip install $(PIP_FLAGS) --upgrade pip setuptools wheel
	$(LMMS_VENV)/bin/pip install $(PIP_FLAGS) $(LMMS_TORCH)
	$(LMMS_VENV)/bin/pip install $(PIP_FLAGS) -e '.[lmms]' pytest
	@touch $@

lmms-venv: $(LMMS_VENV)/.installed

demo: install
	$(BIN)/acpo-bench eval --model qwen-omni-tiny --tasks all

lint: install
	$(BIN)/ruff check .
	$(BIN)/python tools/check_layers.py

system-deps:
	bash tools/system_deps.sh

test: system-deps lint lmms-venv
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

# The leaderboard in leaderboard/ from the committed runs in leaderboard/results/*/ (the real-media world: the
# reference adapters and the glyph-trained tiny model as it is there), and the ACPO pipeline's runs on the synthetic
# world as their own tables: leaderboard/results/acpo-tiny/ (base, contrastive decoding, the ablation) and
# leaderboard/results/acpo-tiny-swaponly/ (the same recipe with swaps as the only contrast track).
# Their samples are stored gzipped (every reader accepts samples_<task>.jsonl or .jsonl.gz): a run just evaluated
# there is compressed first, replacing any older .gz; -n keeps name and time out of the header, so the same samples
# always give the same bytes.
leaderboard: install
	@for f in leaderboard/results/*/samples_*.jsonl leaderboard/results/*/*/samples_*.jsonl; do \
		if [ -e "$$f" ]; then gzip -n -9 -f "$$f" || exit 1; fi; \
	done
	$(BIN)/acpo-bench leaderboard leaderboard/results/*/results.json --format md --output leaderboard/README.md
	$(BIN)/acpo-bench leaderboard leaderboard/results/*/results.json --format html --output leaderboard/leaderboard.html
	$(BIN)/acpo-bench leaderboard leaderboard/results/*/results.json --format latex --output leaderboard/leaderboard.tex
	$(BIN)/acpo-bench leaderboard leaderboard/results/*/results.json --format csv --output leaderboard/leaderboard.csv
	$(BIN)/acpo-bench leaderboard leaderboard/results/acpo-tiny/*/results.json --baseline qwen-omni-tiny \
		--format md --output leaderboard/acpo-tiny.md
	$(BIN)/acpo-bench leaderboard leaderboard/results/acpo-tiny-swaponly/*/results.json --baseline qwen-omni-tiny \
		--format md --output leaderboard/acpo-tiny-swaponly.md

clean:
	rm -rf $(VENV) $(LMMS_VENV) build *.egg-info .pytest_cache .ruff_cache
