"""`make bench`: the tpch ETL three ways on this machine, checked for equal results, timed.

    python -m benchmarks.tpch_bench --scales 0.1 1 [--engines spark duckdb pandas]

For each scale factor: generate TPC-H CSV with tpchgen-cli (cached in .local/bench), run our three
jobs in one Spark session, the DuckDB and the pandas implementations, each in its own process with
its peak memory sampled (the process tree's proportional set size, Spark's JVM included), check
that the gold tables agree (row counts and sums of every shared numeric column), run ours again
with nothing new (incremental), and print and write a table (benchmarks/results/tpch.md and .json)
and a plot of time against scale (tpch.svg).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psutil

from glue_etl_local.samples import generate_tpch

ROOT = Path(__file__).resolve().parent
CORES = os.cpu_count() or 1
GOLD_TABLES = ("dim_customer", "dim_supplier", "dim_part", "dim_date", "fact_sales")


@dataclass
class Run:
    scale: float
    engine: str
    wall_seconds: float
    stages: dict[str, float]
    peak_memory_bytes: int
    rows: int
    csv_bytes: int
    statuses: dict[str, str] = field(default_factory=dict)
    gold: dict[str, dict[str, str]] = field(default_factory=dict)
    rewritten_files: int | None = None
    spark_jobs: int | None = None  # our jobs only: the fixed price this round of tuning cut


# Reading a 4 GiB JVM's proportional set size takes the kernel about 10 ms: sampled every 0.1 s it
# took 12% of a core from the run it measures.
MEMORY_SAMPLE_SECONDS = 1.0


def tree_memory(process: psutil.Process) -> int:
    """The process tree's proportional set size: a page two members share counts once. (Summed
    resident sizes count a child the JVM forks, which shares the JVM's memory until it execs, as a
    second JVM.)"""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a member may exit while we look
            total += member.memory_full_info().pss
    return total


def run_engine(engine: str, landing: Path, lake: Path) -> tuple[float, dict[str, Any], int]:
    command = [sys.executable, "-m", "benchmarks.run_engine", engine, str(landing), str(lake), str(CORES)]
    environment = {**os.environ, "SPARK_MASTER": f"local[{CORES}]", "SPARK_LOG_LEVEL": "ERROR"}
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment,
                               cwd=ROOT.parent)  # fmt: skip
    peak = 0
    watched = psutil.Process(process.pid)

    def sample() -> None:
        nonlocal peak
        while process.poll() is None:
            peak = max(peak, tree_memory(watched))
            time.sleep(MEMORY_SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{engine} failed:\n{stderr[-3000:]}")
    return wall, json.loads(stdout.strip().splitlines()[-1]), peak


def gold_locations(engine: str, lake: Path, reported: dict[str, str]) -> dict[str, str]:
    if engine == "local-cloud":
        return {name: f"{reported[name]}/**/*.parquet" for name in GOLD_TABLES}
    if engine.startswith("spark"):
        catalog = json.loads((lake / "_catalog" / "tpch.json").read_text())
        return {name: f"{catalog['tables'][name]['location']}/**/*.parquet" for name in GOLD_TABLES}
    if engine == "glue_typical":
        return {name: str(lake / "gold" / name / "**" / "*.parquet") for name in GOLD_TABLES}
    locations = {name: str(lake / "gold" / f"{name}.parquet") for name in GOLD_TABLES}
    locations["fact_sales"] = str(lake / "gold" / "fact_sales" / "**" / "*.parquet")
    return locations


def summarize_gold(locations: dict[str, str]) -> dict[str, dict[str, str]]:
    """Per table: the row count and the sum of every numeric column (as exact strings)."""
    db = duckdb.connect()
    summary = {}
    for name, location in locations.items():
        relation = db.sql(f"SELECT * FROM read_parquet('{location}', hive_partitioning = true)")
        numeric = [c for c, t in zip(relation.columns, relation.types, strict=True)
                   if str(t).startswith(("INTEGER", "BIGINT", "DECIMAL", "SMALLINT"))]  # fmt: skip
        sums = ", ".join(f"sum({c})::DECIMAL(38,2) AS {c}" for c in numeric)
        row = db.execute(
            f"SELECT count(*) AS rows, {sums} FROM read_parquet('{location}', hive_partitioning = true)"
        ).fetchone()
        assert row is not None
        summary[name] = {"rows": str(row[0]), **{c: str(Decimal(v)) for c, v in zip(numeric, row[1:], strict=True)}}
    return summary


def compare(reference: Run, other: Run) -> list[str]:
    """The differing row counts and column sums; against the typical Glue job only row counts (its
    inferred schema reads prices as doubles, so its sums differ in the last cent)."""
    problems = []
    for table in GOLD_TABLES:
        ours, theirs = reference.gold[table], other.gold[table]
        shared = set(ours) & set(theirs)
        if other.engine == "glue_typical":
            shared &= {"rows"}
        for column in sorted(shared):
            if ours[column] != theirs[column]:
                problems.append(
                    f"{table}.{column}: {reference.engine} {ours[column]} != {other.engine} {theirs[column]}"
                )
    return problems


def lake_snapshot(lake: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(lake)): (p.stat().st_size, p.stat().st_mtime_ns) for p in lake.rglob("*")
            if p.is_file() and not str(p.relative_to(lake)).startswith("_runs")}  # fmt: skip


def landing_rows(landing: Path) -> int:
    return sum(max(0, sum(1 for _ in path.open("rb")) - 1) for path in landing.rglob("*.csv"))


def bench_scale(scale: float, engines: list[str], work: Path) -> list[Run]:
    landing = work / f"sf{scale}" / "landing"
    if not landing.exists():
        generate_tpch(landing, scale)
    rows, csv_bytes = landing_rows(landing), sum(p.stat().st_size for p in landing.rglob("*.csv"))
    runs = []
    for engine in engines:
        lake = work / f"sf{scale}" / f"lake-{engine}"
        shutil.rmtree(lake, ignore_errors=True)
        wall, result, peak = run_engine(engine, landing, lake)
        run = Run(scale, engine, wall, result["stages"], peak, rows, csv_bytes, result.get("statuses", {}),
                  spark_jobs=result.get("spark_jobs"))  # fmt: skip
        run.gold = summarize_gold(gold_locations(engine, lake, result.get("gold", {})))
        runs.append(run)
        print(f"  sf{scale} {engine}: {wall:.1f}s, peak {peak / 2**30:.2f} GiB", flush=True)
        if engine == "spark":
            before = lake_snapshot(lake)
            wall, result, peak = run_engine("spark-incremental", landing, lake)
            incremental = Run(scale, "spark (nothing new)", wall, result["stages"], peak, rows, csv_bytes,
                              result.get("statuses", {}), spark_jobs=result.get("spark_jobs"))  # fmt: skip
            after = lake_snapshot(lake)
            incremental.rewritten_files = sum(1 for k in set(before) | set(after) if before.get(k) != after.get(k))
            incremental.gold = run.gold
            runs.append(incremental)
            print(
                f"  sf{scale} spark, nothing new: {wall:.1f}s, {incremental.rewritten_files} files rewritten",
                flush=True,
            )
    return runs


COLUMNS = ("SF", "engine", "extract s", "transform s", "load s", "total s", "Spark jobs", "rows/s", "CSV MB/s/core",
           "peak GiB", "vs DuckDB", "pandas vs this")  # fmt: skip


def table(runs: list[Run]) -> str:
    memory = psutil.virtual_memory().total / 2**30
    lines = [
        f"Machine: {CORES} cores, {memory:.0f} GiB; Spark local[{CORES}]; DuckDB and pyarrow with {CORES} threads.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "| ---: | --- |" + " ---: |" * (len(COLUMNS) - 2),
    ]
    for scale in sorted({r.scale for r in runs}):
        group = [r for r in runs if r.scale == scale]
        duck = next((r for r in group if r.engine == "duckdb"), None)
        pandas_run = next((r for r in group if r.engine == "pandas"), None)
        for r in group:
            cells = [
                f"{scale:g}",
                r.engine,
                *(f"{r.stages.get(stage, 0):.1f}" for stage in ("extract", "transform", "load")),
                f"{r.wall_seconds:.1f}",
                str(r.spark_jobs) if r.spark_jobs is not None else "-",
                f"{r.rows / r.wall_seconds:,.0f}",
                f"{r.csv_bytes / 2**20 / r.wall_seconds / CORES:.1f}",
                f"{r.peak_memory_bytes / 2**30:.2f}",
                f"{r.wall_seconds / duck.wall_seconds:.2f}x" if duck else "-",
                f"{pandas_run.wall_seconds / r.wall_seconds:.2f}x" if pandas_run else "-",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(runs: list[Run], path: Path) -> None:
    """Total wall time by scale factor, one line per engine (log-log: equal slopes, equal growth)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, searchable
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(7, 4.5))
    for engine in dict.fromkeys(r.engine for r in runs):
        points = sorted((r.scale, r.wall_seconds) for r in runs if r.engine == engine)
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=engine, gid=f"engine {engine}")
    axes.set(xscale="log", yscale="log", xlabel="TPC-H scale factor", ylabel="wall time, s",
             title=f"CSV landing -> raw -> silver -> gold star schema, {CORES} cores")  # fmt: skip
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, metadata={"Date": None})  # no timestamp: the same results give the same file
    pyplot.close(figure)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0])
    engines = (
        "spark, duckdb, pandas, glue_typical (a typical Glue job: inferred schemas, no checks), "
        "local-cloud (the state machine in the local cloud; small scales only)"
    )
    parser.add_argument("--engines", nargs="+", default=["spark", "duckdb", "pandas", "glue_typical"], help=engines)
    parser.add_argument("--work", type=Path, default=Path(".local/bench"))
    parser.add_argument("--output", type=Path, default=ROOT / "results")
    args = parser.parse_args()
    runs = []
    for scale in args.scales:
        runs += bench_scale(scale, args.engines, args.work.resolve())
    problems = []
    for scale in args.scales:
        group = [r for r in runs if r.scale == scale]
        problems += [p for other in group[1:] for p in compare(group[0], other)]
    report = table(runs)
    print("\n" + report)
    print("\nGold results agree across engines." if not problems else "\nGOLD RESULTS DIFFER:\n" + "\n".join(problems))
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "tpch.md").write_text(report + "\n")
    (args.output / "tpch.json").write_text(json.dumps([asdict(r) for r in runs], indent=2))
    plot(runs, args.output / "tpch.svg")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
