# The documented commands. Each target sets up what it needs (a .venv from pyproject.toml).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov pins an older boto3 than the project, so it lives in its own virtualenv.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# Airflow 3 and its Amazon provider pin other versions of the project's libraries: a virtualenv of their own.
AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed
ENV ?= dev
PARAMETERS ?= cloudformation/parameters/$(ENV).json
ENDPOINT_URL ?=
INPUT ?= {}
ENDPOINT_ARG := $(if $(ENDPOINT_URL),--endpoint-url $(ENDPOINT_URL))
DEMO_DIR := .local/demo
TPCH_SCALE ?= 0.01
# Tests in two processes, a test file each at a time (pytest-xdist): the suite mostly waits (Spark
# jobs' start-up, the local cloud's polling, Airflow), so two share two cores well (1,223 -> 938 s
# here; three took 1,052 s; make test-spark4 454 -> 341 s). TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= 2
PYTEST_PARALLEL := -n $(TEST_WORKERS) --dist loadfile

.PHONY: test-spark4 postgres-check setup demo demo-jdbc demo-snowflake demo-airflow deploy-airflow demo-spark local-cloud deploy start bench docker-build docker-test docker-job test unit integration e2e lint format package clean

$(STAMP): pyproject.toml
	@command -v javac >/dev/null || { echo "A Java 17 JDK is required (apt-get install openjdk-17-jdk-headless)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# Glue 6.0's Spark (4.1) in a virtualenv of its own, over the project's pin (pip notes the conflict).
SPARK4_VENV := .venv-spark4
SPARK4_STAMP := $(SPARK4_VENV)/.installed
$(SPARK4_STAMP): pyproject.toml
	test -d $(SPARK4_VENV) || $(PYTHON) -m venv $(SPARK4_VENV)
	$(SPARK4_VENV)/bin/pip install --quiet --upgrade pip==25.3
	$(SPARK4_VENV)/bin/pip install --quiet -e ".[dev]"
	$(SPARK4_VENV)/bin/pip install --quiet pyspark==4.1.1 2>&1 | grep -v "incompatible\|dependency conflicts\|glue-etl-suite" || true
	$(SPARK4_VENV)/bin/python -c "import pyspark; assert pyspark.__version__ == '4.1.1', pyspark.__version__"
	touch $(SPARK4_STAMP)

$(AIRFLOW_STAMP): requirements-airflow.txt
	test -d $(AIRFLOW_VENV) || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet --upgrade pip==25.3
	$(AIRFLOW_VENV)/bin/pip install --quiet -r requirements-airflow.txt
	touch $(AIRFLOW_STAMP)

$(CHECKOV_STAMP): requirements-checkov.txt
	test -d $(CHECKOV_VENV) || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $(CHECKOV_STAMP)

## demo: the whole pipeline in the local cloud: state machine, Glue jobs, Lambda, email + SMS
demo: setup
	$(BIN)/glue-etl demo --workdir $(DEMO_DIR) --tpch-scale $(TPCH_SCALE)

## demo-jdbc: the retail dataset from a throwaway PostgreSQL to a warehouse schema, in the local cloud
demo-jdbc: setup postgres-check
	$(BIN)/glue-etl demo-jdbc --workdir $(DEMO_DIR)-jdbc

## demo-snowflake: the same, upserting into the local Snowflake emulator through the lake as its stage
demo-snowflake: setup postgres-check
	$(BIN)/glue-etl demo-jdbc --warehouse snowflake --workdir $(DEMO_DIR)-snowflake

## demo-airflow: the Airflow DAGs (airflow dags test) starting and watching the pipeline in the local cloud
demo-airflow: setup $(AIRFLOW_STAMP)
	$(BIN)/glue-etl demo-airflow --workdir $(DEMO_DIR)-airflow

## demo-spark: the three jobs on local Spark only (no local cloud)
demo-spark: setup
	rm -rf $(DEMO_DIR)-spark
	$(BIN)/glue-etl generate consultations --output $(DEMO_DIR)-spark/landing/consultations
	$(BIN)/glue-etl run --dataset consultations --source $(DEMO_DIR)-spark/landing/consultations --lake $(DEMO_DIR)-spark/lake
	$(BIN)/glue-etl generate tpch --scale $(TPCH_SCALE) --output $(DEMO_DIR)-spark/landing/tpch
	$(BIN)/glue-etl run --dataset tpch --source $(DEMO_DIR)-spark/landing/tpch --lake $(DEMO_DIR)-spark/lake

## local-cloud: serve the local cloud (with the pipeline deployed) for the AWS CLI
local-cloud: setup
	$(BIN)/glue-etl local-cloud --port 4566

## test: lint, then every test (unit, integration, e2e)
test: setup $(AIRFLOW_STAMP) lint postgres-check
	$(BIN)/pytest $(PYTEST_PARALLEL)

# The JDBC tests start their own PostgreSQL server from Debian's packages: installed here when
# missing (as root, or with sudo), else one line saying what to install.
POSTGRES_PACKAGES := $(if $(wildcard /usr/lib/postgresql/*/bin/initdb),,postgresql) $(if $(wildcard /usr/share/java/postgresql.jar),,libpostgresql-jdbc-java)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo -n)
postgres-check:
	@if [ -n "$(strip $(POSTGRES_PACKAGES))" ]; then \
		echo "Installing $(strip $(POSTGRES_PACKAGES)) (PostgreSQL for the JDBC tests and demo-jdbc) ..."; \
		{ $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(strip $(POSTGRES_PACKAGES)); } >/dev/null || \
		{ echo "The JDBC tests need PostgreSQL and its JDBC jar; install them: apt-get install postgresql libpostgresql-jdbc-java"; exit 1; }; \
	fi

## test-spark4: the unit and integration tests (the job scripts on local Spark) on Spark 4.1, Glue 6.0's
# The unit tests run too: their Spark expressions meet Spark 4's ANSI mode (a decimal cast that
# overflows fails instead of giving NULL), 85 s. The Snowflake load's tests are left to `make test`:
# their SQL runs in the emulator, not in Spark, and they take a tenth of this run.
test-spark4: $(SPARK4_STAMP) postgres-check
	$(SPARK4_VENV)/bin/pytest $(PYTEST_PARALLEL) tests/unit tests/integration --ignore=tests/integration/test_snowflake_load.py

unit: setup
	$(BIN)/pytest tests/unit

integration: setup postgres-check
	$(BIN)/pytest $(PYTEST_PARALLEL) tests/integration

e2e: setup $(AIRFLOW_STAMP) postgres-check
	$(BIN)/pytest $(PYTEST_PARALLEL) tests/e2e

lint: setup $(CHECKOV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/glue-etl check-definition
	$(BIN)/cfn-lint cloudformation/*.yaml
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -d cloudformation
	$(BIN)/hadolint docker/Dockerfile
	$(BIN)/shellcheck .ci/run

## deploy: package, upload and create/update both stacks (ENV=dev PARAMETERS=... ENDPOINT_URL=... ARGS="Key=Value")
deploy: setup
	$(BIN)/glue-etl deploy --env $(ENV) --parameters $(PARAMETERS) $(ENDPOINT_ARG) $(ARGS)

## deploy-airflow: the optional MWAA environment (cloudformation/mwaa.yaml) and the DAGs, for a deployed pipeline
AIRFLOW_PARAMETERS ?= cloudformation/parameters/airflow-$(ENV).json
deploy-airflow: setup
	$(BIN)/glue-etl deploy-airflow --env $(ENV) --parameters $(AIRFLOW_PARAMETERS) $(ENDPOINT_ARG) $(ARGS)

## start: start an execution of the deployed pipeline and follow it (INPUT='{"dataset": "tpch"}')
start: setup
	$(BIN)/glue-etl start --stack $(ENV)-glue-etl --input '$(INPUT)' $(ENDPOINT_ARG) $(if $(ENDPOINT_URL),--inbox .local/cloud/inbox)

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## docker-build / docker-test / docker-job: the official Glue 5.0 image (needs a Docker engine)
docker-build: setup
	$(BIN)/glue-etl docker build

docker-test: setup
	$(BIN)/glue-etl docker $(if $(PROFILE),--profile $(PROFILE) --aws-config $(HOME)/.aws) test

docker-job: setup package
	$(BIN)/glue-etl docker $(if $(PROFILE),--profile $(PROFILE) --aws-config $(HOME)/.aws) job $(JOB) $(ARGS)

## bench: TPC-H ETL, our jobs vs DuckDB, pandas and a typical Glue job (SCALES="0.1 1"), then the same rows as few or many files (FILES="2 1000", MANY_FILES_ROWS=); results in benchmarks/results/
SCALES ?= 1
FILES ?= 2 1000
# rows in each many-files case (default: two per file of the most files); MANY_FILES_ROWS=2000000 shows the per-row price
MANY_FILES_ROWS ?=
bench: setup
	$(BIN)/python -m benchmarks.tpch_bench --scales $(SCALES)
	SPARK_MASTER=local[$$(nproc)] $(BIN)/python -m benchmarks.many_files --files $(FILES) $(if $(MANY_FILES_ROWS),--rows $(MANY_FILES_ROWS))

## package: dist/etl_lib.zip for Glue's --extra-py-files, plus the three entry scripts
package: setup
	rm -rf dist && mkdir -p dist
	$(BIN)/python -c "from glue_etl_local.deploy import build_release; print(build_release(__import__('pathlib').Path('dist/release')))"
	cp dist/release/glue/etl_lib.zip dist/etl_lib.zip

clean:
	rm -rf .local dist build .pytest_cache .mypy_cache .ruff_cache $(CHECKOV_VENV) $(SPARK4_VENV) $(AIRFLOW_VENV)
