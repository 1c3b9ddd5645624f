"""Small files counted on the driver: extract reads files of 64 KiB or less whole on the driver to
count their records (no Spark job). This measures the time per file and how much of a delivery
the Python driver holds at once.

    python -m benchmarks.driver_reads [--files 500 2000] [--kib 60]

Writes each number of CSV files of about that size, counts their records as extract does, and
prints the seconds, the milliseconds per file and the peak of Python's traced allocations during
the count (tracemalloc) beside the bytes delivered.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from pyspark.sql import SparkSession

from etl_lib import records
from glue_etl_local.hadoop_fs import local_session

HEADER = b"id,note\n"


def write_files(folder: Path, files: int, kib: int) -> dict[str, str]:
    rows = b"".join(b"%d,%s\n" % (row, b"x" * 90) for row in range(kib * 1024 // 100))
    paths = {}
    for number in range(files):
        path = folder / f"part_{number:06d}.csv"
        path.write_bytes(HEADER + rows)
        paths[path.as_uri()] = str(path)
    return paths


def count(spark: SparkSession, paths: dict[str, str]) -> None:
    counted = records.count_physical_records(spark, paths, False, ",", [HEADER.strip()], set(paths))
    if len(counted) != len(paths):
        raise SystemExit(f"counted {len(counted)} of {len(paths)} files")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--kib", type=int, default=60)
    args = parser.parse_args()
    spark = local_session("driver-reads")
    print("| files | KiB each | MiB delivered | seconds | ms per file | peak MiB held by the count |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for files in args.files:
        with tempfile.TemporaryDirectory(prefix="driver-reads-") as scratch:
            paths = write_files(Path(scratch), files, args.kib)
            delivered = sum(Path(path).stat().st_size for path in paths.values()) / 2**20
            count(spark, paths)  # warm-up: the JVM compiles the read path, the OS caches the files
            started = time.perf_counter()
            count(spark, paths)
            seconds = time.perf_counter() - started
            tracemalloc.start()  # it slows every allocation: a run of its own
            count(spark, paths)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            per_file = seconds / files * 1000
            print(
                f"| {files:,} | {args.kib} | {delivered:,.0f} | {seconds:.1f} | {per_file:.1f} | {peak:,.1f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
