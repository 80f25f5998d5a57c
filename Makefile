# Everything installs itself on first use: `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv

.PHONY: lock install run test test-unit test-integration test-e2e soak load lint bench build validate deploy clean
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | cksum | cut -d' ' -f1)

# requirements.lock pins the whole tree (written by `make lock` from pyproject.toml, which lists each direct
# dependency once): a fresh clone installs exactly what CI tested.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP) chromium

# The browser tests (tests/browser) drive Debian's Chromium through playwright, which cannot download browsers
# here: install the package once (CI runs as root); skipped when chromium is already on PATH.
.PHONY: chromium test-browser
chromium:
	@command -v chromium >/dev/null 2>&1 || { if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium is missing: as root, apt-get install -y chromium (the browser tests need it)" >&2; fi; }

lock:
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet uv==0.13.9
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --universal --quiet \
		--output-file requirements.lock --no-header
	$(BIN)/python scripts/lambda_requirements.py --write

# State lives in $(SLUICE_DATA_DIR) (default .sluice-data) across stops and crashes; `make reset` empties it.
SLUICE_DATA_DIR ?= .sluice-data

# `exec`: the stack replaces the recipe's shell, so a SIGTERM to make (which make passes to its child) reaches it;
# with a shell in between, the shell died and the stack ran on, orphaned.
run: install
	SLUICE_DATA_DIR="$(SLUICE_DATA_DIR)" exec $(BIN)/sluice-local

.PHONY: reset soak-persistence soak-stop soak-ledger soak-cli
reset:
	rm -rf -- "$(SLUICE_DATA_DIR)"
	@echo "emptied $(SLUICE_DATA_DIR)"

test: install
	$(BIN)/pytest tests --junitxml=.test-report.xml
	$(BIN)/python scripts/test_times.py .test-report.xml 20

test-unit: install
	$(BIN)/pytest tests/unit

test-integration: install
	$(BIN)/pytest tests/integration

test-e2e: install
	$(BIN)/pytest tests/e2e

test-browser: install
	$(BIN)/pytest tests/browser

# Longer, random runs of the property and fault tests (CI runs 100 derandomised examples).
SOAK_EXAMPLES ?= 1000
soak: install
	SLUICE_PROPERTY_EXAMPLES=$(SOAK_EXAMPLES) SLUICE_PROPERTY_RANDOM=1 $(BIN)/pytest tests/integration/test_properties.py \
		tests/integration/test_faults.py tests/integration/test_exactly_once.py

# The kill-during-import test at 100k rows (`make test` runs it at 20k).
# the chunk ledger and finalisation past 40,000 chunks (the ceiling the job item's doneChunks set had), directly
soak-ledger: install
	SLUICE_LEDGER_CHUNKS=40001 $(BIN)/pytest tests/integration/test_ledger.py -k any_number

soak-persistence: install
	SLUICE_PERSISTENCE_ROWS=100000 $(BIN)/pytest tests/e2e/test_persistence.py

# 20 stops of the local stack under load (`make test` runs 6), each within 5 s, losing nothing acknowledged.
soak-stop: install
	SLUICE_STOP_ROUNDS=20 $(BIN)/pytest -s tests/e2e/test_stop.py

# `sluice import` of a 200 MiB CSV besides `make test`'s 0-5 MiB (SOAK_CLI_MIB=200,1024 for 1 GiB too): exact
# counts, the CLI's memory flat. The pipeline, not the upload, takes the time (minutes on a busy machine).
SOAK_CLI_MIB ?= 200
soak-cli: install
	SLUICE_CLI_SOAK_MIB=$(SOAK_CLI_MIB) $(BIN)/pytest -s tests/e2e/test_cli.py -k csv_of_each_size

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# The issue-19 figure: 1M rows x 8 columns through the local stack (`make run`'s processes), submit to Completed,
# next to a bare loader (csv + BatchWriteItem) on the same emulator in the same run; the ratio must be >= 1.0.
STACK_BENCH_ARGS ?= --rows 1000000 --rows-per-chunk 5000
bench: install
	$(BIN)/python -m bench.pipeline $(BENCH_ARGS)
	$(BIN)/python -m bench.stack_pipeline $(STACK_BENCH_ARGS)
	$(BIN)/python -m bench.attribute_updates
	$(BIN)/python -m bench.exports

# 50 concurrent clients against the local stack for 60 s (figures in docs/benchmarks.md).
load: install
	$(BIN)/python -m bench.load $(LOAD_ARGS)

validate: install
	$(BIN)/cfn-lint template.yaml

# SAM CLI lives in its own venv: it pins older boto3/click than the project. `sam build` needs a python3.12
# on PATH (the functions' runtime); no container is used.
SAM_VENV := .sam-venv
SAM := $(SAM_VENV)/bin/sam

$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check aws-sam-cli==1.170.0

build: $(SAM)
	SAM_CLI_TELEMETRY=0 $(SAM) build --template template.yaml

deploy: build
	SAM_CLI_TELEMETRY=0 $(SAM) deploy

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .mypy_cache .ruff_cache
