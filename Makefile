# Every target creates or reuses .venv and installs the project first (idempotent: the stamp
# file is only rebuilt when pyproject.toml changes), so on a bare machine with python3 and make,
# `make test` is the whole set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
KL     := $(BIN)/kalshi-lake
LAKE   ?= lake
# The demo's simulated lake stays apart from a real one.
DEMO_LAKE ?= lake/demo
CITY   ?=
START  ?=
END    ?=

.PHONY: help install test test-spark lint typecheck backfill follow transform validate demo bench status repair report chromium clean

help:
	@echo "make test | test-fast | test-spark | demo | backfill CITY=chicago|chicago,nyc|all [START=YYYY-MM-DD END=YYYY-MM-DD] | follow CITY=... [FOR=10m] | transform | validate | report [CITY=...] | repair [CITY=chicago] | bench | lint"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check kalshi_lake tests
	$(BIN)/ruff format --check kalshi_lake tests

typecheck: $(STAMP)
	$(BIN)/mypy kalshi_lake

# The report's browser tests need Chromium: installed with apt-get where possible (.ci/chromium.sh).
chromium:
	@.ci/chromium.sh

test: $(STAMP) lint typecheck chromium
	$(BIN)/python -m pytest -n 2 --dist loadfile -q --durations=15 $(PYTEST_ARGS)

# The inner loop: every test but the `slow` end-to-end ones (kill -9, S3 pipeline and leases
# across processes, live recordings, the demo, the notebook, the benchmark, long backfills,
# property tests) and Spark: about 1,030 of `make test`'s 1,160 tests.
.PHONY: test-fast
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist load -q -m "not slow and not spark" $(PYTEST_ARGS)

# The distributed-reader test: pyspark (local mode, needs Java 17+) reads the curated lake.
test-spark: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	$(BIN)/python -m pytest tests/e2e/test_e2e_spark.py -q $(PYTEST_ARGS)

backfill: $(STAMP)
	@test -n "$(CITY)" || { echo "usage: make backfill CITY=chicago|chicago,nyc|all [START=YYYY-MM-DD] [END=YYYY-MM-DD]" >&2; exit 2; }
	$(KL) --lake $(LAKE) backfill --city "$(CITY)" $(if $(START),--start $(START)) $(if $(END),--end $(END))

# The live recorder: runs until Ctrl-C (FOR=10m to stop by itself). FAMILY=high|low|high,low.
follow: $(STAMP)
	@test -n "$(CITY)" || { echo "usage: make follow CITY=chicago|chicago,nyc|all [FAMILY=high,low] [FOR=10m]" >&2; exit 2; }
	$(KL) --lake $(LAKE) follow --city "$(CITY)" $(if $(FAMILY),--family $(FAMILY)) $(if $(FOR),--for $(FOR))

transform: $(STAMP)
	$(KL) --lake $(LAKE) transform $(if $(CITY),--city "$(CITY)") $(if $(FULL),--full)

validate: $(STAMP)
	$(KL) --lake $(LAKE) validate $(if $(CITY),--city "$(CITY)")

status: $(STAMP)
	$(KL) --lake $(LAKE) status $(if $(CITY),--city "$(CITY)")

# The lake at a glance: one self-contained HTML file, $(LAKE)/report.html (OUT=FILE elsewhere).
report: $(STAMP)
	$(KL) --lake $(LAKE) report $(if $(CITY),--city "$(CITY)") $(if $(OUT),--out $(OUT))

# Unreadable raw files of CITY (default: every city) to _quarantine/, their data fetched again.
repair: $(STAMP)
	$(KL) --lake $(LAKE) repair $(if $(CITY),--city $(CITY))

demo: $(STAMP)
	$(KL) --lake $(DEMO_LAKE) demo

bench: $(STAMP)
	$(BIN)/python -m kalshi_lake.bench $(BENCH_ARGS)

# Build the wheel, install it in a fresh venv, run demo/validate/views/connect() elsewhere.
.PHONY: wheel-smoke
wheel-smoke:
	.ci/wheel-smoke.sh

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache build *.egg-info
