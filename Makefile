# make setup: system packages + virtualenv (idempotent, quick when nothing changed)
# make demo:  a mailroom batch over the bundled fixtures
# make test:  ruff, mypy and the test suite
# make bench: the benchmarks under bench/
# make accuracy: generate the labelled corpus and score extraction on it

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
TESS_FRA := $(firstword $(wildcard /usr/share/tesseract-ocr/*/tessdata/fra.traineddata))
DEJAVU := $(wildcard /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf)

export OMP_THREAD_LIMIT := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120

.PHONY: setup system-packages demo test lint typecheck unit bench accuracy clean

setup: system-packages $(STAMP)

system-packages:
	@if ! command -v tesseract >/dev/null 2>&1 || [ -z "$(TESS_FRA)" ] || [ -z "$(DEJAVU)" ]; then \
		echo "Installing Tesseract with the French language pack and DejaVu fonts (apt-get)"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
			tesseract-ocr tesseract-ocr-fra fonts-dejavu-core >/dev/null; \
	fi

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) is required"; exit 2; }
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@$(BIN)/python -c "import pipeline, prefect, pyhanko, saxonche, pdfplumber" 
	@touch $(STAMP)

# The batch works on copies: fixtures/demo stays as committed.
demo: setup
	rm -rf var/demo && mkdir -p var/demo/inbox
	find fixtures/demo -maxdepth 1 -type f ! -name '*.truth.json' -exec cp {} var/demo/inbox/ \;
	INTAKE_DATA_DIR=var/demo INTAKE_TRUST_ROOTS=fixtures/pki/root.pem \
		$(BIN)/intake mailroom var/demo/inbox

lint: setup
	$(BIN)/ruff check pipeline tests fixtures bench
	$(BIN)/ruff format --check pipeline tests fixtures bench

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest -n 2 -q

test: lint typecheck unit

bench: setup
	$(BIN)/python bench/bench_extract.py
	$(BIN)/python bench/bench_ocr.py

# The committed baseline: a few hundred generated documents (seed 1), scored as the
# pipeline reads them. ACCURACY_COUNT and ACCURACY_SEED override the corpus size and seed.
ACCURACY_COUNT ?= 300
ACCURACY_SEED ?= 1
accuracy: setup
	rm -rf var/corpus
	$(BIN)/intake fixtures generate var/corpus --seed $(ACCURACY_SEED) --count $(ACCURACY_COUNT)
	$(BIN)/intake accuracy var/corpus --report var/accuracy

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
