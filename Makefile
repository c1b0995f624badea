# The two set-up commands of the README: `make demo` (the main job) and `make test` (the tests).
# Both create and use the virtualenv at .venv in the repository root.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: venv demo test lint tokenizer-files bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: the CPU build lies on local disk; a looser request would pull a CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	# 1. the released checkpoints into the local Hugging Face cache, so "linalg/eigen-p1000" loads offline
	$(BIN)/linalg-transformers install-checkpoints
	# 2. train a real small model from scratch (5x5 transposition) and print its accuracy table
	$(BIN)/python training/train.py --config training/configs/demo.yaml

lint: $(STAMP)
	$(BIN)/ruff check src tests training benchmarks scripts
	$(BIN)/ruff format --check src tests training benchmarks scripts

test: $(STAMP) lint
	$(BIN)/python -m pytest tests

tokenizer-files: $(STAMP)
	$(BIN)/python scripts/make_tokenizer_files.py

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done
