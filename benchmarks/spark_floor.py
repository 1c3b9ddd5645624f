"""Where the time of our biggest extract goes: TPC-H `lineitem` through growing parts of the
extract step, in one local Spark session, each part run twice (the first run of a query also pays
for compiling its generated code).

    python -m benchmarks.spark_floor [--scale 1]

Needs the CSV that `make bench` generated (.local/bench/sf<scale>/landing). Prints a table:
seconds per variant, cold and warm; the difference between rows is the cost of one more piece.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl_lib import deliveries, parsing, storage
from etl_lib.datasets.tpch import LINEITEM
from etl_lib.rules import row_checks
from etl_lib.steps.common import FILE_ID, INGESTED_AT, METADATA, RUN_ID
from etl_lib.steps.extract import partition_of_each_row, read_landing
from glue_etl_local.hadoop_fs import local_session


def variants(strings: Callable[[], DataFrame], output: str) -> dict[str, Callable[[], None]]:
    def typed(checks: bool) -> DataFrame:
        stamped = strings().withColumn(INGESTED_AT, F.lit(datetime.now(UTC))).withColumn(RUN_ID, F.lit("floor"))
        candidates = parsing.with_typed_candidates(stamped, LINEITEM)
        rows, _ = row_checks.passing_rows(
            row_checks.Checked.of(candidates, parsing.parse_checks(LINEITEM) if checks else [])
        )
        return parsing.to_typed(rows, LINEITEM, METADATA)

    def discard(df: DataFrame) -> None:
        df.write.format("noop").mode("overwrite").save()

    return {
        "CSV split into strings": lambda: discard(strings()),
        "+ typed (each value parsed once)": lambda: discard(typed(checks=False)),
        "+ checked (parse, encoding, malformed)": lambda: discard(typed(checks=True)),
        "+ written as Parquet by file (the extract)": lambda: storage.write_parquet(typed(True), output, [FILE_ID]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="1.0")
    args = parser.parse_args()
    landing = Path(".local/bench") / f"sf{float(args.scale)}" / "landing"
    if not landing.exists():
        sys.exit(f"{landing} does not exist: run `make bench SCALES={args.scale}` first")
    cores = os.cpu_count() or 1
    spark = local_session("spark-floor")
    files = [info for info in storage.list_files(spark, str(landing.resolve())) if info.name.startswith("lineitem")]
    megabytes = sum(info.size for info in files) / 2**20
    print(f"TPC-H SF{args.scale} lineitem: {megabytes:,.0f} MB of CSV; Spark local[{cores}]\n")
    print("| variant | cold s | warm s | warm MB/s/core |\n| --- | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as scratch:
        headers = [storage.read_first_line(spark, info.path) or b"" for info in files]
        partition = partition_of_each_row(deliveries.partitions_of(files))
        strings = lambda: read_landing(spark, LINEITEM, files, headers, {})[0].withColumn(FILE_ID, partition)  # noqa: E731
        for name, run in variants(strings, f"{scratch}/raw").items():
            seconds = []
            for _ in range(2):
                started = time.perf_counter()
                run()
                seconds.append(time.perf_counter() - started)
            warm_rate = megabytes / seconds[1] / cores
            print(f"| {name} | {seconds[0]:.1f} | {seconds[1]:.1f} | {warm_rate:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
