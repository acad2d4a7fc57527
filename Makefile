# Two commands matter (README): `make demo` and `make test`. Both set up .venv from scratch when needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
# torch spin-waits on 2 cores without this (30-300x slower small ops); harmless elsewhere.
export OMP_WAIT_POLICY := PASSIVE

.PHONY: setup dev demo test test-fast lint format clean pip-check system-packages fuzz

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Render + verify environment (no torch: inference runs on onnxruntime).
$(VENV)/.setup: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e '.[generate]'
	$(MAKE) --no-print-directory pip-check
	touch $@

# Everything: torch==2.13.0 (CPU) FIRST, or pip pulls a multi-GB CUDA build; then training, dev tools, and the
# stock invisible-watermark as a reference for tests and benchmarks. It is installed --no-deps because it declares
# opencv-python, which would clash with mediapipe's opencv-contrib-python (both own the cv2 package).
$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(PIP) install -q 'torch==2.13.0'
	$(PIP) install -q -e '.[generate,train,dev,store-postgres,service,scale]'
	$(MAKE) --no-print-directory pip-check
	$(PIP) install -q --no-deps 'invisible-watermark==0.2.0'
	touch $(VENV)/.setup $@

setup: $(VENV)/.setup
dev: $(VENV)/.dev

demo: setup
	$(BIN)/dirfa demo

# Debian packages of system-packages.txt (espeak-ng, Festival, PostgreSQL): installed when root with apt-get;
# otherwise the tests that need them are skipped, each naming the install command.
system-packages:
	@scripts/install-system-packages.sh

test: dev system-packages
	$(BIN)/python -m pytest -q

test-fast: dev system-packages
	$(BIN)/python -m pytest -q -m "not slow"

# Coverage-guided fuzzing of the verifier (fuzz/verifier_fuzz.py) for FUZZ_SECONDS, from generated seeds; the corpus
# grows in .fuzz/corpus, and any crash, timeout or out-of-memory input is written to .fuzz/ and fails the target.
FUZZ_SECONDS ?= 60
fuzz: dev
	@mkdir -p .fuzz/corpus
	$(BIN)/python -m fuzz.seeds .fuzz/seeds
	$(BIN)/python -m fuzz.verifier_fuzz .fuzz/corpus .fuzz/seeds -max_total_time=$(FUZZ_SECONDS) -timeout=60 \
		-rss_limit_mb=2048 -max_len=65536 -artifact_prefix=.fuzz/ -print_final_stats=1

lint: dev
	$(BIN)/ruff check sdk provenance models verifier tests benchmarks fuzz
	$(BIN)/ruff format --check sdk provenance models verifier tests benchmarks fuzz
	$(BIN)/mypy

format: dev
	$(BIN)/ruff format sdk provenance models verifier tests benchmarks fuzz
	$(BIN)/ruff check --fix sdk provenance models verifier tests benchmarks fuzz

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info .fuzz

# `pip check`, except for the one known, deliberate gap: the reference invisible-watermark's opencv-python
# requirement (its cv2 comes from opencv-contrib-python).
pip-check:
	@$(PIP) check > $(VENV)/pip-check.txt 2>&1 || true
	@if grep -v -e '^invisible-watermark .* requires opencv-python' -e '^WARNING:' $(VENV)/pip-check.txt | grep -qv '^No broken'; then \
		cat $(VENV)/pip-check.txt; exit 1; fi
