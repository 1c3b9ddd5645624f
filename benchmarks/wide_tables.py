"""What a table's width does to the extract's typing pass, on three JVM and Spark settings.

    python -m benchmarks.wide_tables [--widths 16 40 80] [--rows 300000]

HotSpot leaves a method of more than 8,000 bytes of bytecode interpreted; the code Spark generates
to type and check a wide table's rows passes that size. Each case generates a CSV of that many
columns (int, decimal(12,2), date and string in turn), types and checks it with the extract's own
functions and writes raw, in a fresh JVM per setting, twice: the table shows the second (warm) run.
Settings: Spark's and the JVM's defaults (what a Glue job gets unless told otherwise), the Glue
runtime's setting (`spark.sql.codegen.hugeMethodLimit` 8000: Spark generates smaller code), and
local sessions' JVM option (`-XX:-DontCompileHugeMethods`: the JVM compiles the large methods).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

SETTINGS = {
    "JVM and Spark defaults": {"spark.driver.extraJavaOptions": "-Duser.timezone=UTC"},
    "Glue runtime (hugeMethodLimit 8000)": {
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.sql.codegen.hugeMethodLimit": "8000",
    },
    "local JVM (-XX:-DontCompileHugeMethods)": {},
}
TYPES = ("int", "decimal(12,2)", "date", "string")
VALUES = {"int": "123456", "decimal(12,2)": "1234.56", "date": "2024-03-01", "string": "some text"}


def write_csv(path: Path, width: int, rows: int) -> None:
    names = [f"c{i}" for i in range(width)]
    line = ",".join(VALUES[TYPES[i % len(TYPES)]] for i in range(width)) + "\n"
    with path.open("w") as out:
        out.write(",".join(names) + "\n")
        out.writelines(line for _ in range(rows))


def measure(folder: str, width: int, settings: dict[str, str]) -> list[float]:
    """In this process (a fresh JVM): seconds of two runs of typing, checking and writing raw."""
    from pyspark.sql import functions as F

    from etl_lib import deliveries, storage
    from etl_lib.datasets.base import Column, Table
    from etl_lib.steps.common import FILE_ID
    from etl_lib.steps.extract import partition_of_each_row, read_landing, write_typed
    from glue_etl_local.hadoop_fs import local_session

    columns = tuple(Column(f"c{i}", TYPES[i % len(TYPES)], date_format="yyyy-MM-dd") for i in range(width))
    table = Table(name="wide", file_pattern="wide*.csv", key=("c0",), columns=columns)
    spark = local_session("wide-tables", settings)
    files = storage.list_files(spark, f"{folder}/landing")
    headers = [storage.read_first_line(spark, info.path) or b"" for info in files]
    seconds = []
    for attempt in range(2):
        landing_rows, _ = read_landing(spark, table, files, headers, {})
        strings = landing_rows.withColumn(FILE_ID, partition_of_each_row(deliveries.partitions_of(files)))
        outputs = (f"{folder}/raw{attempt}", f"{folder}/quarantine{attempt}")
        started = time.perf_counter()
        sources = {info.uri: info.file_id for info in files}
        written = write_typed(strings, table, "bench", F.lit(datetime.now(UTC)), outputs, sources)
        seconds.append(time.perf_counter() - started)
        assert written.quarantined == 0, written
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 40, 80])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--measure", nargs=3, metavar=("FOLDER", "WIDTH", "SETTINGS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        folder, width, settings = args.measure
        print(json.dumps(measure(folder, int(width), json.loads(settings))))
        return 0
    print(f"{args.rows:,} rows; typing, checks and the raw write of the extract; warm run, seconds\n")
    print("| columns | " + " | ".join(SETTINGS) + " |\n| ---: |" + " ---: |" * len(SETTINGS))
    for width in args.widths:
        with tempfile.TemporaryDirectory(prefix="wide-tables-") as folder:
            (Path(folder) / "landing").mkdir()
            write_csv(Path(folder) / "landing" / "wide.csv", width, args.rows)
            cells = []
            for settings in SETTINGS.values():
                command = [sys.executable, "-m", "benchmarks.wide_tables", "--measure", folder, str(width),
                           json.dumps(settings)]  # fmt: skip
                found = subprocess.run(command, check=True, capture_output=True, text=True).stdout
                cells.append(f"{json.loads(found.strip().splitlines()[-1])[1]:.1f}")
            print(f"| {width} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
