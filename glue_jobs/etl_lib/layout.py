"""Where each layer lives in the lake. One function per location, so paths never drift."""

from __future__ import annotations


def raw_path(lake: str, dataset: str, table: str) -> str:
    return f"{lake}/raw/{dataset}/{table}"


def source_keys_path(lake: str, dataset: str, table: str) -> str:
    """Snapshots of a database table's keys (JdbcSource.track_deletes), beside raw's tables."""
    return f"{lake}/raw/{dataset}/_source_keys/{table}"


def silver_path(lake: str, dataset: str, table: str) -> str:
    return f"{lake}/silver/{dataset}/{table}"


def quarantine_path(lake: str, dataset: str, stage: str, table: str) -> str:
    return f"{lake}/quarantine/{dataset}/{stage}/{table}"


def gold_table_root(lake: str, dataset: str, table: str) -> str:
    return f"{lake}/gold/{dataset}/{table}"


def gold_version_path(lake: str, dataset: str, table: str, version: str) -> str:
    return f"{gold_table_root(lake, dataset, table)}/version={version}"


def gold_manifest_dir(lake: str, dataset: str) -> str:
    return f"{lake}/gold/{dataset}/_manifests"


def gold_manifest_path(lake: str, dataset: str, version: str) -> str:
    return f"{gold_manifest_dir(lake, dataset)}/{version}.json"


def extract_ledger_path(lake: str, dataset: str) -> str:
    return f"{lake}/_state/{dataset}/extract_ledger.json"


def extract_pending_path(lake: str, dataset: str) -> str:
    """The partitions an extract is writing, named before it writes them: removed if it never commits."""
    return f"{lake}/_state/{dataset}/extract_pending.json"


def transform_state_path(lake: str, dataset: str) -> str:
    return f"{lake}/_state/{dataset}/transform_state.json"


def local_run_lock_path(lake: str, dataset: str) -> str:
    """The file whose lock one local run of the dataset holds (glue_etl_local.run_lock)."""
    return f"{lake}/_state/{dataset}/local_run.lock"


def catalog_file_path(lake: str, dataset: str) -> str:
    return f"{lake}/_catalog/{dataset}.json"


def quality_report_path(lake: str, dataset: str, run_id: str) -> str:
    """Without extension: the report is written as .json and .md, next to the run summaries."""
    return f"{lake}/_runs/{dataset}/{run_id}/quality"


def watermarks_path(lake: str, dataset: str) -> str:
    """The committed watermarks: advanced only by a load that succeeded."""
    return f"{lake}/_state/{dataset}/jdbc_watermarks.json"


def pending_watermarks_path(lake: str, dataset: str, run_id: str) -> str:
    """What an extract read up to; the run's load commits it, a failed run never does."""
    return f"{lake}/_state/{dataset}/jdbc_watermarks_pending/{run_id}.json"
