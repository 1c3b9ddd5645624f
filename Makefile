# The documented commands. Each target sets up what it needs (a .venv from pyproject.toml).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR := .local/demo
TPCH_SCALE ?= 0.01

.PHONY: setup demo test unit integration lint format package clean

$(STAMP): pyproject.toml
	@command -v java >/dev/null || { echo "Java 17 is required (apt-get install openjdk-17-jre-headless)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

## demo: generate sample data for both datasets and run extract -> transform -> load locally
demo: setup
	rm -rf $(DEMO_DIR)
	$(BIN)/glue-etl generate consultations --output $(DEMO_DIR)/landing/consultations
	$(BIN)/glue-etl run --dataset consultations --source $(DEMO_DIR)/landing/consultations --lake $(DEMO_DIR)/lake
	$(BIN)/glue-etl generate tpch --scale $(TPCH_SCALE) --output $(DEMO_DIR)/landing/tpch
	$(BIN)/glue-etl run --dataset tpch --source $(DEMO_DIR)/landing/tpch --lake $(DEMO_DIR)/lake

## test: lint, then every test (unit, integration)
test: setup lint
	$(BIN)/pytest

unit: setup
	$(BIN)/pytest tests/unit

integration: setup
	$(BIN)/pytest tests/integration

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## package: dist/etl_lib.zip for Glue's --extra-py-files, plus the three entry scripts
package: setup
	rm -rf dist && mkdir -p dist
	cd glue_jobs && ../$(BIN)/python -m zipfile -c ../dist/etl_lib.zip etl_lib
	cp glue_jobs/extract.py glue_jobs/transform.py glue_jobs/load.py dist/

clean:
	rm -rf .local dist build .pytest_cache .mypy_cache .ruff_cache
