"""Helpers that run the real Glue entry scripts, with Glue-style arguments, on local Spark."""

from __future__ import annotations

import dataclasses
import importlib
import json
import shutil
import sys
import types
from pathlib import Path
from typing import Any

from pyspark.sql import functions as F

from etl_lib import datasets
from glue_etl_local.cli import run_job_script


def run_job(
    job: str, dataset: str, lake: Path, run_id: str, source: Path | None = None, **options: str
) -> dict[str, Any]:
    argv = ["--JOB_NAME", f"it-{job}", "--JOB_RUN_ID", f"jr_{run_id}_{job}", "--dataset", dataset,
            "--lake_path", str(lake), "--run_id", run_id]  # fmt: skip
    if source is not None:
        argv += ["--source_path", str(source)]
    for key, value in options.items():
        argv += [f"--{key}", value]
    run_job_script(job, argv)
    return read_summary(lake, dataset, run_id, job)


def read_summary(lake: Path, dataset: str, run_id: str, job: str) -> dict[str, Any]:
    return json.loads((lake / "_runs" / dataset / run_id / f"{job}.json").read_text())


def run_all(dataset: str, source: Path | None, lake: Path, run_id: str, **options: str) -> dict[str, dict[str, Any]]:
    return {
        "extract": run_job("extract", dataset, lake, run_id, source, **options),
        "transform": run_job("transform", dataset, lake, run_id, **options),
        "load": run_job("load", dataset, lake, run_id, **options),
    }


def published_location(lake: Path, dataset: str, table: str) -> str:
    catalog = json.loads((lake / "_catalog" / f"{dataset}.json").read_text())
    return str(catalog["tables"][table]["location"])


def merged_rule_counts(*summaries: dict[str, Any], table: str) -> dict[str, int]:
    merged: dict[str, int] = {}
    for summary in summaries:
        for rule, count in summary["tables"].get(table, {}).get("quarantine_by_rule", {}).items():
            merged[rule] = merged.get(rule, 0) + count
    return merged


def with_gold_column(monkeypatch, table: str, column: str, value: str) -> None:
    """The retail model gains a gold column (a column the team declared and carried to gold)."""
    module = importlib.import_module("etl_lib.datasets.retail")
    build = module.DATASET.build_gold

    def build_with_column(silver):
        return {name: frame.withColumn(column, F.lit(value)) if name == table else frame
                for name, frame in build(silver).items()}  # fmt: skip

    monkeypatch.setattr(module, "DATASET", dataclasses.replace(module.DATASET, build_gold=build_with_column))


def with_retail_copy(monkeypatch, name: str) -> None:
    """A second dataset, `name`, declared as retail is (its own lake paths, catalog database and
    state; the same table names): what a second team's dataset in the same account looks like."""
    module = types.ModuleType(f"etl_lib.datasets.{name}")
    retail = importlib.import_module("etl_lib.datasets.retail").DATASET
    module.DATASET = dataclasses.replace(retail, name=name)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    known = datasets.available_datasets()
    monkeypatch.setattr(datasets, "available_datasets", lambda: sorted([*known, name]))


def rewrite_lake_file(path: Path, text: str) -> None:
    """Replaces a file the jobs wrote through Hadoop's local file system, as an operator or a dying
    write would: its checksum file (`.<name>.crc`) goes too, else Hadoop refuses to read the text."""
    path.write_text(text)
    path.with_name(f".{path.name}.crc").unlink(missing_ok=True)


def copy_gold(lake: Path, source: str, target: str) -> None:
    """Dataset target's gold as a copy of source's (versions and manifests), as if its own transform
    had written it: a second dataset ready to load without running its extract and transform."""
    shutil.copytree(lake / "gold" / source, lake / "gold" / target)
    for manifest in (lake / "gold" / target / "_manifests").glob("*.json"):
        rewrite_lake_file(manifest, manifest.read_text().replace(f"/gold/{source}/", f"/gold/{target}/"))
