"""The extract step: new landing files and changed database rows -> typed raw Parquet and
quarantine, every record counted."""

from __future__ import annotations

import csv
import fnmatch
import functools
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import reduce
from typing import TypeVar

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from etl_lib import deliveries, jdbc, layout, ledger, literals, parsing, records, source_keys, storage, watermarks
from etl_lib.args import ArgumentError, JobArgs
from etl_lib.connections import JdbcEndpoint, resolve_endpoint
from etl_lib.datasets import get_dataset
from etl_lib.datasets.base import Table
from etl_lib.errors import database_error_line, failure_line
from etl_lib.lease import refuse_when_leased_by_another
from etl_lib.rules import row_checks
from etl_lib.steps import parallel
from etl_lib.steps.common import (
    FILE_ID,
    INGESTED_AT,
    METADATA,
    RECORD_POSITION,
    RUN_ID,
    SOURCE_FILE,
    rule_counts,
)
from etl_lib.summary import RunSummary, TableCounts, new_summary, summary_path

Result = TypeVar("Result")


class ExtractError(RuntimeError):
    """A landing file that cannot be used at all (for example a required column is missing)."""


def parse_header(line: str, delimiter: str) -> tuple[str, ...]:
    """The column names of a header line; a field without a name (a trailing delimiter, as
    spreadsheet exports write) is named by its position, so it reads as an undeclared column."""
    fields = next(csv.reader([line.lstrip("\ufeff")], delimiter=delimiter), [])
    return tuple(field.strip() or f"(unnamed column {position})" for position, field in enumerate(fields, 1))


def matched_header(header: Sequence[str], table: Table) -> tuple[str, ...]:
    """The header with each name that matches a declared column ignoring case taken as that column
    (`R_NAME` is `r_name`, as for Spark and the Glue Data Catalog); other names as they are."""
    declared = {column.name.casefold(): column.name for column in table.columns}
    return tuple(declared.get(name.casefold(), name) for name in header)


def case_matches(header: Sequence[str], table: Table) -> list[str]:
    """`R_NAME -> r_name` for each header name matched to a declared column only ignoring case."""
    return [f"{name} -> {matched}" for name, matched in zip(header, matched_header(header, table), strict=True)
            if name != matched]  # fmt: skip


def assign_files(
    files: Sequence[storage.FileInfo], tables: Sequence[Table]
) -> tuple[dict[str, list[storage.FileInfo]], list[str]]:
    """Landing files by table (first matching pattern wins; a compressed file by the name of what
    it holds: `orders.csv.gz` is an `orders*.csv`), and the files no table claims."""
    by_table: dict[str, list[storage.FileInfo]] = defaultdict(list)
    unclaimed = []
    for info in files:
        name = storage.content_name(info.name)
        table = next((t for t in tables if fnmatch.fnmatch(name, t.file_pattern)), None)
        if table is None:
            unclaimed.append(info.uri)
        else:
            by_table[table.name].append(info)
    return dict(by_table), unclaimed


def missing_required_columns(table: Table, header: Sequence[str]) -> list[str]:
    return [c.name for c in table.columns if not c.optional_in_source and c.name not in header]


DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "a tab", "|": "'|'"}


def missing_columns_hint(first_line: str, header: Sequence[str], table: Table) -> str:
    """Why a header (first_line, split by the table's delimiter) may lack required columns, when the
    first line tells: another common delimiter gives them all (a spreadsheet saved with ';' in a
    European locale), or no field of it names a declared column (a file without a header, its first
    record taken for one)."""
    declared = DELIMITER_NAMES.get(table.delimiter, repr(table.delimiter))
    for delimiter, name in DELIMITER_NAMES.items():
        if delimiter != table.delimiter and not missing_required_columns(
            table, matched_header(parse_header(first_line, delimiter), table)
        ):
            return f" (its header is delimited by {name}, the table's by {declared})"
    if len(undeclared_columns(header, table)) == len(header):
        return " (no field of its first line names a declared column: a file without a header?)"
    return ""


# Other formats' first bytes: a file that is not CSV text is named for what it is, not for the NUL
# bytes it holds.
SIGNATURES = {
    re.compile(b"\x1f\x8b\x08"): "gzip-compressed, but its name does not end in .gz",
    re.compile(rb"BZh[1-9]1AY&SY"): "bzip2-compressed, but its name does not end in .bz2",
    re.compile(b"PK\x03\x04"): "a ZIP archive (an Excel .xlsx workbook?), not CSV text",
    re.compile(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"): "an Excel 97-2003 workbook (.xls), not CSV text",
    re.compile(b"PAR1\x15"): "a Parquet file, not CSV text",
}


def header_text(first_line: bytes, charset: str) -> str:
    """A file's first line in its encoding (bytes it does not map replaced by U+FFFD)."""
    return first_line.decode(charset, errors="replace")


def delivered_header(first_line: bytes, table: Table, charset: str) -> tuple[str, ...]:
    """A file's header as delivered: its first line decoded in the file's encoding, split by the table's delimiter."""
    return parse_header(header_text(first_line, charset), table.delimiter)


def check_header(
    uri: str, table: Table, header: Sequence[str], first_line: bytes = b"", charset: str = "utf-8"
) -> list[str]:
    """Fails on a header the file cannot be read with (first_line: as it is in the file, to say
    why when it can; charset: the encoding the file is read in); returns the columns that will be ignored."""
    for signature, what in SIGNATURES.items():
        if signature.match(first_line):
            raise ExtractError(f"{uri}: the file is {what}")
    if first_line.startswith(records.UTF8_BYTE_ORDER_MARK) and charset != "utf-8":
        if charset == table.charset:
            raise ExtractError(
                f"{uri}: the file starts with a UTF-8 byte-order mark: it is UTF-8 text, and table {table.name} "
                f"declares {table.encoding}; read as {table.encoding}, each accented letter would become two"
            )
        raise ExtractError(f"{uri}: the file starts with a UTF-8 byte-order mark but holds bytes that are not valid "
                           f"UTF-8: it is neither UTF-8 nor {charset} text; re-send it in one encoding")  # fmt: skip
    if any("\x00" in name for name in header):  # UTF-16 text read as bytes: a NUL after every ASCII letter
        raise ExtractError(
            f"{uri}: the header holds NUL characters: the file is not {table.encoding_label} text (UTF-16?)"
        )
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise ExtractError(f"{uri}: column(s) {', '.join(duplicated)} appear more than once in the header")
    missing = missing_required_columns(table, header)
    if missing:
        hint = missing_columns_hint(header_text(first_line, charset), header, table)
        raise ExtractError(f"{uri}: missing required column(s) {', '.join(missing)} for table {table.name}{hint}")
    return undeclared_columns(header, table)


def undeclared_columns(names: Sequence[str], table: Table) -> list[str]:
    """The names (of a matched header or a database table's columns) the table does not declare."""
    declared = {column.name for column in table.columns}
    return [name for name in names if name not in declared]


EVERY_BYTE = bytes(range(256))


def charset_problem(charset: str, java_decoded: Callable[[bytes], str | None]) -> str | None:
    """Why files cannot be read in this charset (a canonical name) although Python knows it: Java
    (Spark's CSV reader, which decodes the values; the headers are decoded here) knows no charset
    by that name, or decodes a byte otherwise (Java's cp874 is IBM's, Python's is Windows');
    java_decoded: a content as Java decodes it, or None."""
    if charset == "utf-8":
        return None
    by_java, by_python = java_decoded(EVERY_BYTE), EVERY_BYTE.decode(charset, errors="replace")
    if by_java is None:
        return f"({charset}) is not an encoding Java (Spark's CSV reader) knows: have the files sent in UTF-8"
    if by_java == by_python:
        return None
    pairs = enumerate(zip(by_java, by_python, strict=False))
    differing = next((code for code, (java, python) in pairs if java != python), min(len(by_java), len(by_python)))
    return f"({charset}): Java (Spark's CSV reader) decodes byte 0x{differing:02X} otherwise than Python does"


def read_landing(
    spark: SparkSession,
    table: Table,
    files: Sequence[storage.FileInfo],
    first_lines: Sequence[bytes],
    read_whole: Mapping[str, str],
    in_fallback: Collection[str] = (),
) -> tuple[DataFrame, dict[str, list[str]]]:
    """The table's new landing files as strings, one column per declared column, plus metadata,
    and the undeclared columns of each file (by file name); first_lines are the files' first lines
    (storage.read_first_line), decoded here in the table's encoding, or in its fallback encoding
    for the files in in_fallback (URIs).

    Files are grouped by header, so columns are matched by name (a reordered or partial header
    is read correctly), and every record the CSV reader cannot split into the header's fields
    lands in _corrupt_record, whatever the header holds: the session never prunes CSV columns
    (runtime.SESSION_SETTINGS), so an undeclared column does not hide a short or long record.
    Files in read_whole (URIs, to the line end their records end in) are read as multi-line CSV
    (their quoted fields span lines), told their line end, the others by lines.
    """
    groups: dict[tuple[tuple[str, ...], str | None, str], list[str]] = defaultdict(list)
    undeclared = {}
    for info, first_line in zip(files, first_lines, strict=True):
        charset = file_charset(table, info.uri, in_fallback)
        header = matched_header(delivered_header(first_line, table, charset), table)
        ignored = check_header(info.uri, table, header, first_line, charset)
        if ignored:
            undeclared[info.name] = ignored
        groups[(header, read_whole.get(info.uri), charset)].append(info.path)
    frames = []
    for (header, line_end, charset), paths in groups.items():
        schema = StructType(
            [StructField(name, StringType()) for name in header] + [StructField(parsing.CORRUPT_RECORD, StringType())]
        )
        # By lines, Hadoop's line reader ends a line at LF, CRLF and CR alike: no line end is told.
        whole = {"multiLine": "true", "lineSep": line_end} if line_end is not None else {"multiLine": "false"}
        frame = (
            spark.read.schema(schema)
            .option("header", "true")
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", parsing.CORRUPT_RECORD)
            .options(**whole)
            .option("sep", table.delimiter)
            .option("quote", '"')
            .option("escape", '"')
            .option("encoding", charset)
            .csv([storage.literal_path(path) for path in paths])
            .withColumn(SOURCE_FILE, F.input_file_name())
            # A split's records are read in file order, and Spark numbers a file's splits in order.
            .withColumn(RECORD_POSITION, F.monotonically_increasing_id())
        )
        declared = [c.name for c in table.columns if c.name in header]
        metadata = [parsing.CORRUPT_RECORD, SOURCE_FILE, RECORD_POSITION]
        frames.append(parsing.with_declared_columns(frame.select(*declared, *metadata), table))
    combined = frames[0]
    for frame in frames[1:]:
        combined = combined.unionByName(frame)
    return combined, undeclared


def file_charset(table: Table, uri: str, in_fallback: Collection[str]) -> str:
    """The encoding a file is read in: its table's, or its fallback when the file is in in_fallback."""
    return table.fallback_charset if table.fallback_charset and uri in in_fallback else table.charset


def partition_of_each_row(partitions: Mapping[str, str]) -> Column:
    """Each row's raw partition (partitions: by file URI), looked up by its file's URI as
    input_file_name() reports it: one literal when the files share one partition."""
    distinct = set(partitions.values())
    return F.lit(distinct.pop()) if len(distinct) == 1 else literals.looked_up(partitions, F.col(SOURCE_FILE))


def rows_by_source(rows: DataFrame) -> dict[str, int]:
    """How many rows each source (_source_file: a landing file's URI) has."""
    return {row[SOURCE_FILE]: int(row["count"]) for row in rows.groupBy(SOURCE_FILE).count().collect()}


def _counts_by_file(spark: SparkSession, path: str, partitions: Collection[str]) -> dict[str, int]:
    """Rows by source file URI in these partitions of raw or quarantine."""
    df = storage.read_parquet(spark, path, f"`{SOURCE_FILE}` string, `{FILE_ID}` string")
    return rows_by_source(df.where(literals.is_one_of(F.col(FILE_ID), partitions))) if df is not None else {}


def lost_records(
    spark: SparkSession,
    outputs: tuple[str, str],
    physical: Mapping[str, records.FileRecords],
    files: Sequence[storage.FileInfo],
    partitions: Collection[str],
) -> list[str]:
    """Which files' rows in raw and quarantine (in these partitions) differ from their records
    (counted again, file by file: only once the observed totals have shown that some do)."""
    written, quarantined = (_counts_by_file(spark, path, partitions) for path in outputs)
    parsed = {info.uri: written.get(info.uri, 0) + quarantined.get(info.uri, 0) for info in files}
    return records.mismatches(physical, parsed, [info.uri for info in files]) or [
        "the rows written differ from the records counted"
    ]


def _quarantine_rules(spark: SparkSession, quarantine_path: str, ids: Collection[str]) -> dict[str, int]:
    """Rows quarantined by rule, in these partitions only."""
    quarantine = storage.read_parquet(spark, quarantine_path, f"`{row_checks.RULE}` string, `{FILE_ID}` string")
    return rule_counts(quarantine.where(literals.is_one_of(F.col(FILE_ID), ids))) if quarantine is not None else {}


@dataclass(frozen=True)
class Written:
    """What write_typed wrote, observed as it was written: rows and file fingerprint of each output."""

    rows: int = 0
    quarantined: int = 0
    fingerprint: int = 0  # records.fingerprint_column over raw and quarantine together


def written_metrics(file_ids: Mapping[str, str]) -> dict[str, Column]:
    """What a write of landing rows is observed for: its rows, and their file fingerprint (file_ids:
    each source's file id)."""
    return {"rows": F.count(F.lit(1)), "fingerprint": records.fingerprint_column(SOURCE_FILE, file_ids)}


def write_typed(
    strings: DataFrame,
    table: Table,
    run_id: str,
    ingested_at: Column,
    outputs: tuple[str, str],
    file_ids: Mapping[str, str],
    repeated_header: bool = False,
) -> Written:
    """Types the rows (strings as delivered, one column per declared column, plus source metadata,
    _file_id holding each row's partition) into raw, and the rows that cannot be typed into
    quarantine (outputs: both paths), both partitioned by _file_id; ingested_at: each row's
    delivery time; file_ids: each source's (_source_file's) file id, for the fingerprint;
    repeated_header: some records are the header again."""
    raw_path, quarantine_path = outputs
    stamped = strings.withColumn(INGESTED_AT, ingested_at.cast("timestamp")).withColumn(RUN_ID, F.lit(run_id))
    checks = parsing.parse_checks(table, repeated_header)
    checked = row_checks.Checked.of(parsing.with_typed_candidates(stamped, table), checks)
    typed, observation = row_checks.passing_rows(checked)
    metrics = written_metrics(file_ids)
    raw = storage.write_parquet_observed(parsing.to_typed(typed, table, METADATA), raw_path, metrics, [FILE_ID])
    written = Written(int(raw["rows"]), 0, int(raw["fingerprint"]))
    if not observation.get["broken"]:
        return written
    rejected = row_checks.broken_rows(checked)  # the source is read again, for the few rows that cannot be typed
    quarantine = storage.write_parquet_observed(
        rejected.select(*parsing.source_columns(rejected)), quarantine_path, metrics, [FILE_ID]
    )
    return replace(written, quarantined=int(quarantine["rows"]),
                   fingerprint=written.fingerprint + int(quarantine["fingerprint"]))  # fmt: skip


def extract_paths(args: JobArgs, table: Table) -> tuple[str, str]:
    """Where a table's extract writes: raw and the extract quarantine, both partitioned by _file_id
    (a delivery's partition: see etl_lib.deliveries)."""
    return (
        layout.raw_path(args.lake_path, args.dataset, table.name),
        layout.quarantine_path(args.lake_path, args.dataset, "extract", table.name),
    )


def remove_deliveries(spark: SparkSession, args: JobArgs, table: Table, ids: Collection[str]) -> None:
    """Removes these raw and quarantine partitions (one listing per output)."""
    for path in extract_paths(args, table):
        storage.delete_subfolders(spark, path, [f"{FILE_ID}={file_id}" for file_id in ids])


def delivery_times(files: Sequence[storage.FileInfo], ingested_at: Mapping[str, datetime]) -> Column:
    """Each row's delivery time, by its file: one literal when every file was first read at the same
    time (the usual case: new deliveries), else looked up by file id."""
    times = {ingested_at[info.uri] for info in files}
    if len(times) == 1:
        return F.lit(times.pop())
    # As text with its offset: write_typed casts it to a timestamp.
    times_by_uri = {info.uri: ingested_at[info.uri].astimezone(UTC).isoformat() for info in files}
    return literals.looked_up(times_by_uri, F.col(SOURCE_FILE))


# Spark's default split size (spark.sql.files.maxPartitionBytes).
TASK_BYTES = 128 * 1024 * 1024


def scan_tasks(spark: SparkSession, files: Sequence[storage.FileInfo]) -> int:
    """How many tasks read and write a delivery at most: one per TASK_BYTES of landing files, and
    at least one per core. Spark plans a task per 32 small files (it counts 4 MiB for opening
    each), and every task writes a Parquet file of its own: 10,000 two-row files were 313 tasks and
    313 files in one raw partition. Each core opens as many files either way."""
    return max(spark.sparkContext.defaultParallelism, -(-sum(info.size for info in files) // TASK_BYTES))


# Files this small, uncompressed, have their records counted on the driver, read whole a call each
# (16 at a time), rather than by a Spark job; through py4j that stays well under a second for a
# thousand of them.
DRIVER_READ_BYTES = 64 * 1024


def driver_readable(files: Sequence[storage.FileInfo]) -> set[str]:
    """The URIs of the files small enough to read on the driver (a compressed file's size says
    nothing of what it holds)."""
    uncompressed = [info for info in files if storage.content_name(info.name) == info.name]
    return {info.uri for info in uncompressed if info.size <= DRIVER_READ_BYTES}


def extract_table(
    spark: SparkSession,
    args: JobArgs,
    table: Table,
    files: Sequence[storage.FileInfo],
    ingested_at: Mapping[str, datetime],
    partitions: Mapping[str, str],
) -> TableCounts:
    """The new deliveries of one table into new raw and quarantine partitions (partitions: each
    file's, by URI), reconciled file by file with the records counted in the files (ingested_at:
    when each file's delivery, by URI, was first read). A delivery's partition id depends on its
    content, so a re-delivery is written beside the delivery it replaces; the caller removes the
    old one only once the ledger names the new one. On any mismatch the new partitions are removed
    and the previous deliveries stay as they were."""
    raw_path, quarantine_path = extract_paths(args, table)
    ids = set(partitions.values())
    remove_deliveries(spark, args, table, ids)  # what an earlier, failed attempt at these deliveries left
    for charset in table.charsets:
        problem = charset_problem(charset, functools.partial(storage.java_decoded, spark, charset=charset))
        if problem:
            raise ExtractError(f"table {table.name}: encoding {charset!r} {problem}")
    sized = [info for info in files if info.size > 0]
    first_lines = naming_broken_compressed_files(
        spark, sized, lambda: storage.for_each_file(lambda info: storage.read_first_line(spark, info.path), sized)
    )
    with_content = [(info, line) for info, line in zip(sized, first_lines, strict=True) if line is not None]
    non_empty, headers = [info for info, _ in with_content], [line for _, line in with_content]
    has_content = {info.uri for info in non_empty}
    notes = [f"{info.name}: empty file (or blank lines only), no records" for info in files
             if info.uri not in has_content]  # fmt: skip
    if not non_empty:
        uris = [info.uri for info in files]
        return TableCounts(files=uris, file_records=dict.fromkeys(uris, 0), notes=notes)

    paths = {info.uri: info.path for info in non_empty}
    physical = naming_broken_compressed_files(
        spark,
        non_empty,
        lambda: records.count_physical_records(
            spark, paths, table.multiline, table.delimiter, headers, small=driver_readable(non_empty)
        ),
    )
    read_whole = {uri: found.line_end for uri, found in physical.items() if found.read_whole}
    in_fallback = records.not_utf8_files(spark, paths, driver_readable(non_empty)) if table.fallback_charset else set()
    landing_rows, undeclared = read_landing(spark, table, non_empty, headers, read_whole, in_fallback)
    strings = landing_rows.withColumn(
        FILE_ID, partition_of_each_row({i.uri: partitions[i.uri] for i in non_empty})
    ).coalesce(scan_tasks(spark, non_empty))
    repeated = {info.name: count for info in non_empty if (count := physical[info.uri].repeated_headers)}
    outputs = (raw_path, quarantine_path)
    expected = {info.file_id: physical[info.uri].records for info in non_empty}
    delivered = delivery_times(non_empty, ingested_at)
    sources = {info.uri: info.file_id for info in non_empty}
    written = write_typed(strings, table, args.run_id, delivered, outputs, sources, bool(repeated))
    observed = (written.rows + written.quarantined, written.fingerprint)
    if observed != (sum(expected.values()), records.fingerprint(expected)):
        lost = lost_records(spark, (raw_path, quarantine_path), physical, non_empty, ids)
        remove_deliveries(spark, args, table, ids)
        raise ExtractError(
            "records would be lost, nothing of this run was kept (earlier deliveries stay in raw): " + "; ".join(lost)
        )
    blank = [f"{info.name}: {physical[info.uri].blank_lines} blank line(s) skipped" for info in non_empty
             if physical[info.uri].blank_lines]  # fmt: skip
    multi_line = [f"{info.name}: quoted fields span lines, read as multi-line CSV" for info in non_empty
                  if info.uri in read_whole and not table.multiline]  # fmt: skip
    by_lines = [f"{info.name}: read by lines: {because}" for info in non_empty
                if (because := physical[info.uri].read_by_lines_because)]  # fmt: skip
    repeats = [f"{name}: the header again in {count} record(s), quarantined" for name, count in repeated.items()]
    drift = [f"{name}: undeclared column(s) {', '.join(columns)} not loaded" for name, columns in undeclared.items()]
    fallback = [f"{info.name}: not valid UTF-8, read as {table.fallback_charset}" for info in non_empty
                if info.uri in in_fallback]  # fmt: skip
    matches = {info.name: case_matches(delivered_header(line, table, file_charset(table, info.uri, in_fallback)), table)
               for info, line in zip(non_empty, headers, strict=True)}  # fmt: skip
    cased = [f"{name}: column name(s) matched ignoring case: {', '.join(found)}" for name, found in matches.items()
             if found]  # fmt: skip
    return TableCounts(
        rows_read=sum(physical[info.uri].records for info in non_empty),
        rows_written=written.rows,
        rows_quarantined=written.quarantined,
        output_path=raw_path,
        quarantine_path=quarantine_path,
        quarantine_by_rule=_quarantine_rules(spark, quarantine_path, ids) if written.quarantined else {},
        files=[info.uri for info in files],
        file_records={info.uri: physical[info.uri].records if info.uri in physical else 0 for info in files},
        notes=[*notes, *drift, *cased, *fallback, *multi_line, *by_lines, *blank, *repeats],
        undeclared_columns=sorted({column for columns in undeclared.values() for column in columns}),
    )


def naming_broken_compressed_files(
    spark: SparkSession, files: Sequence[storage.FileInfo], read: Callable[[], Result]
) -> Result:
    """read() of these landing files; when it fails because a compressed file cannot be read to its
    end (truncated, corrupt, not what its name says), one line naming each such file."""
    try:
        return read()
    except Exception as error:
        compressed = [info for info in files if storage.content_name(info.name) != info.name]
        reasons = storage.for_each_file(lambda info: decompression_error(spark, info), compressed)
        unreadable = [f"{info.uri}: cannot be decompressed ({reason})"
                      for info, reason in zip(compressed, reasons, strict=True) if reason]  # fmt: skip
        if unreadable:
            raise ExtractError("; ".join(unreadable)) from error
        raise


def decompression_error(spark: SparkSession, info: storage.FileInfo) -> str | None:
    try:
        storage.read_to_end(spark, info.path)
    except Exception as error:  # noqa: BLE001 - any failure to read it through is the reason to report
        return failure_line(error)
    return None


def remove_leftover_partitions(
    spark: SparkSession, args: JobArgs, table: Table, current_ids: set[str], uncommitted: set[str], ledger_found: bool
) -> None:
    """Partitions of a file table that no ledger entry names (a run that failed before writing the
    ledger, or died before removing a replaced delivery) are removed, so raw holds exactly the
    current delivery of each landing file. Without a ledger only the partitions a run began and did
    not commit (uncommitted) are: any other was committed under a ledger that has since been lost,
    and holds the only copy of its rows once its file has left landing, so the job fails instead."""
    for path in extract_paths(args, table):
        ids = [name.removeprefix(f"{FILE_ID}=") for name in storage.list_directories(spark, path)
               if name.startswith(f"{FILE_ID}=")]  # fmt: skip
        leftovers = [file_id for file_id in ids if file_id not in current_ids]
        committed = [file_id for file_id in leftovers if not ledger_found and file_id not in uncommitted]
        if committed:
            ledger_path = layout.extract_ledger_path(args.lake_path, args.dataset)
            raise ExtractError(
                f"{path} holds {len(committed)} delivery partition(s) written by earlier runs, but the ledger "
                f"{ledger_path} that names them is missing or empty: nothing was removed; restore the ledger (the lake "
                f"bucket keeps its earlier versions), or move {path} aside to read landing again from the start"
            )
        storage.delete_all(spark, [f"{path}/{FILE_ID}={file_id}" for file_id in leftovers])


def database_source(endpoint: JdbcEndpoint, table: Table) -> str:
    """A database table's lineage name (the _source_file of its rows): URL without query, table."""
    assert table.jdbc is not None
    return f"{endpoint.display_url}#{table.jdbc.table}"


def read_changed_rows(
    spark: SparkSession,
    endpoint: JdbcEndpoint,
    table: Table,
    window: tuple[str | None, str],
    batch_id: str,
) -> DataFrame:
    """The rows changed in the window (after the watermark, up to the run's upper bound), as
    strings (so typing and quarantine work as for files: a value the declared type cannot hold is
    quarantined with its original text)."""
    source = table.jdbc
    assert source is not None
    types = {column.name: column.type for column in table.columns}
    watermark, upper = window
    query = jdbc.incremental_query(source, list(types), watermark, types[source.incremental_column], upper)
    rows = reading_database(endpoint, table, lambda: jdbc.read_query(spark, endpoint, source, query))
    return rows.select(
        *[F.col(f"`{name}`").cast("string").alias(name) for name in types],
        F.lit(None).cast("string").alias(parsing.CORRUPT_RECORD),
        F.lit(database_source(endpoint, table)).alias(SOURCE_FILE),
        F.lit(None).cast("bigint").alias(RECORD_POSITION),
        F.lit(batch_id).alias(FILE_ID),
    )


def reading_database(endpoint: JdbcEndpoint, table: Table, read: Callable[[], Result]) -> Result:
    """read(), with a database error as one line naming the table and the database."""
    assert table.jdbc is not None
    try:
        return read()
    except Exception as error:
        message = database_error_line(error)
        raise jdbc.JdbcError(f"reading {table.jdbc.table} from {endpoint.display_url} failed: {message}") from error


def extract_jdbc_table(
    spark: SparkSession,
    args: JobArgs,
    table: Table,
    endpoint: JdbcEndpoint,
    watermark: str | None,
    ingested_at: datetime,
) -> tuple[TableCounts, dict[str, object]]:
    """One batch of changed rows and the pending watermark (the run's upper bound).

    The batch is the partition `_file_id=<hash of table, run and watermark read from>`: a retry of a
    run that did not commit reads from the same watermark and replaces its batch; a rerun after
    the commit reads from the new watermark into a new batch, so no batch is ever lost."""
    assert table.jdbc is not None
    column = table.jdbc.incremental_column
    raw_path, quarantine_path = extract_paths(args, table)
    batch_id = hashlib.sha256(f"{table.name}|{args.run_id}|{watermark}".encode()).hexdigest()[:16]
    batch_outputs = [f"{path}/{FILE_ID}={batch_id}" for path in (raw_path, quarantine_path)]
    storage.delete_all(spark, batch_outputs)

    # The window's upper end is fixed before any row is read, so parallel range reads see one window.
    column_type = next(c.type for c in table.columns if c.name == column)
    source = table.jdbc
    upper = reading_database(endpoint, table, lambda: jdbc.upper_bound(spark, endpoint, source, watermark, column_type))
    rows_read, newest, written = 0, watermark, Written()
    if upper is not None:
        # Read the database once: counts and both outputs come from this read.
        changed = read_changed_rows(spark, endpoint, table, (watermark, upper), batch_id).persist()
        try:
            rows_read, newest = changed.count(), upper
            if rows_read:
                outputs = (raw_path, quarantine_path)
                sources = {database_source(endpoint, table): batch_id}
                written = write_typed(changed, table, args.run_id, F.lit(ingested_at), outputs, sources)
        finally:
            changed.unpersist()
    if rows_read != written.rows + written.quarantined:
        storage.delete_all(spark, batch_outputs)
        raise ExtractError(
            f"{table.jdbc.table}: read {rows_read} rows but wrote {written.rows} and quarantined "
            f"{written.quarantined}; nothing was kept"
        )
    since = f"rows with {column} > {watermark}" if watermark is not None else "every row (no watermark yet)"
    notes = [f"{table.jdbc.table}: read {since}; watermark now {newest}"]
    in_source = reading_database(endpoint, table, lambda: jdbc.source_columns(spark, endpoint, source))
    undeclared = sorted(undeclared_columns(matched_header(in_source, table), table))
    if table.tracks_deletes:  # after the rows: a key missing now was deleted after its row was read
        keys = reading_database(endpoint, table, lambda: snapshot_keys(spark, args, table, endpoint, ingested_at))
        notes.append(f"{table.jdbc.table}: {keys} key(s) in the source (rows whose key is gone leave gold)")
    counts = TableCounts(
        rows_read=rows_read,
        rows_written=written.rows,
        rows_quarantined=written.quarantined,
        output_path=raw_path,
        quarantine_path=quarantine_path,
        quarantine_by_rule=_quarantine_rules(spark, quarantine_path, [batch_id]) if written.quarantined else {},
        files=[database_source(endpoint, table)],
        notes=notes,
        undeclared_columns=undeclared,
    )
    return counts, watermarks.entry(column, newest, args.run_id, rows_read)


def snapshot_keys(spark: SparkSession, args: JobArgs, table: Table, endpoint: JdbcEndpoint, taken_at: datetime) -> int:
    """Reads the table's keys into the lake's key snapshot; returns how many."""
    assert table.jdbc is not None
    keys = jdbc.read_keys(spark, endpoint, table.jdbc, source_keys.source_key(table))
    return source_keys.keep_snapshot(spark, args.lake_path, args.dataset, table, keys, taken_at)


def extract_database_tables(
    spark: SparkSession, args: JobArgs, tables: Sequence[Table], summary: RunSummary, ingested_at: datetime
) -> int:
    """Reads every JDBC table's changed rows, records the pending watermarks; returns the rows read."""
    if not args.source_secret:
        names = ", ".join(table.name for table in tables)
        message = f"dataset {args.dataset} reads {names} from a database"
        raise ArgumentError(f"extract: --source_secret is required: {message}")
    endpoint = resolve_endpoint(args.source_secret)
    committed = watermarks.parse(storage.read_text(spark, layout.watermarks_path(args.lake_path, args.dataset)))

    def extract(table: Table) -> tuple[TableCounts, dict[str, object]]:
        assert table.jdbc is not None
        since = None if args.reprocess else watermarks.value_of(committed, table.name, table.jdbc.incremental_column)
        return extract_jdbc_table(spark, args, table, endpoint, since, ingested_at)

    extracted = parallel.for_each_table(
        spark, args.job_run_id, extract, {table.name: table for table in tables}, args.table_parallelism
    )
    summary.tables.update({name: replace(result[0], spark_jobs=jobs) for name, (result, jobs) in extracted.items()})
    pending = {name: result[1] for name, (result, _) in extracted.items()}
    summary.check_accounting()
    pending_path = layout.pending_watermarks_path(args.lake_path, args.dataset, args.run_id)
    storage.write_text(spark, pending_path, watermarks.render(pending))
    return sum(summary.tables[table.name].rows_read for table in tables)


def run_extract(spark: SparkSession, args: JobArgs, now: datetime | None = None) -> RunSummary:
    dataset = get_dataset(args.dataset)
    ingested_at = now or datetime.now(UTC)
    summary = new_summary("extract", args.dataset, args.run_id, args.job_run_id, ingested_at)
    messages = []
    database_rows = 0
    if dataset.jdbc_tables:
        database_rows = extract_database_tables(spark, args, dataset.jdbc_tables, summary, ingested_at)
        messages.append(f"read {database_rows} new or changed row(s) from the database")
    if not dataset.file_tables:
        summary.warnings.extend(drift_warnings(summary))
        summary.finish("succeeded" if database_rows else "no_new_rows", "; ".join(messages))
        return summary
    if not args.source_path:
        raise ArgumentError(f"extract: --source_path is required: dataset {args.dataset} has landing-file tables")

    processed = extract_landing_files(spark, args, dataset.file_tables, summary, ingested_at)
    summary.warnings.extend(drift_warnings(summary))
    summary.warnings.extend(encoding_warnings(summary, dataset.file_tables))
    if not processed:
        status = "succeeded" if database_rows else "no_new_files"
        summary.finish(status, "; ".join([f"no new landing files under {args.source_path}", *messages]))
        return summary
    totals = summary.totals()
    extracted = (
        f"extracted {processed} file(s): {totals['rows_written']} rows typed, {totals['rows_quarantined']} quarantined"
    )
    summary.finish("succeeded", "; ".join([extracted, *messages]))
    return summary


def drift_warnings(summary: RunSummary) -> list[str]:
    """One warning naming the columns files or database tables have and the dataset does not declare."""
    drift = sorted({column for counts in summary.tables.values() for column in counts.undeclared_columns})
    return [f"schema drift: undeclared column(s) {', '.join(drift)} not loaded"] if drift else []


def encoding_warnings(summary: RunSummary, tables: Sequence[Table]) -> list[str]:
    """A warning per table with rows quarantined for bytes its encoding does not map: usually a
    producer writing another encoding than the table declares, not a few bad values."""
    warnings = []
    for table in tables:
        counts = summary.tables.get(table.name)
        rules = counts.quarantine_by_rule if counts else {}
        columns = sorted(rule.removeprefix("encoding:") for rule in rules if rule.startswith("encoding:"))
        if columns:
            rows = sum(rules[f"encoding:{column}"] for column in columns)
            warnings.append(
                f"table {table.name}: {rows} row(s) quarantined for bytes that are not valid {table.encoding_label} "
                f"(in {', '.join(columns)}); if the producer writes another encoding (cp1252, latin-1), declare it "
                "as the table's encoding (or fallback_encoding, when files come in both) and the next run reads "
                "these files again"
            )
    return warnings


def declaration_warnings(
    seen: Mapping[str, Mapping[str, object]],
    claimed: Mapping[str, Sequence[storage.FileInfo]],
    readings: Mapping[str, str],
    gone: Mapping[str, Sequence[str]],
) -> list[str]:
    """Files read again because their table's declaration changed since they were read, and files
    read under an earlier declaration that are no longer in landing to be read again (gone: URIs
    by table)."""
    warnings = []
    for table, reading in readings.items():
        again = [storage.file_name(uri) for uri in ledger.read_differently(claimed.get(table, []), seen, reading)]
        left = [storage.file_name(uri) for uri in gone.get(table, [])]
        if again:
            warnings.append(f"table {table} is declared differently since these files were read: "
                            f"{shown(again)} read again under the new declaration")  # fmt: skip
        if left:
            warnings.append(f"table {table} is declared differently since these files were read, and they are "
                            f"no longer in landing to read again: {shown(left)}; their rows keep the earlier "
                            "typing")  # fmt: skip
    return warnings


def shown(names: Sequence[str], most: int = 5) -> str:
    """A few names, and how many more."""
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def extract_start_times(spark: SparkSession, args: JobArgs, runs: Iterable[str]) -> dict[str, str]:
    """Run id -> when its extract started, from its run summary (for runs that still have one)."""
    summaries = {
        run: storage.read_text(spark, summary_path(args.lake_path, args.dataset, run, "extract")) for run in runs
    }
    return {run: str(json.loads(text)["started_at"]) for run, text in summaries.items() if text}


def extract_landing_files(
    spark: SparkSession, args: JobArgs, tables: Sequence[Table], summary: RunSummary, ingested_at: datetime
) -> int:
    """Extracts the new deliveries of every file table into the summary, records them in the ledger,
    then retires the deliveries they replace; returns how many files were extracted."""
    assert args.source_path is not None
    ledger_path = layout.extract_ledger_path(args.lake_path, args.dataset)
    pending_path = layout.extract_pending_path(args.lake_path, args.dataset)
    ledger_text = storage.read_text(spark, ledger_path)
    try:
        seen = ledger.parse_ledger(ledger_text)
    except ValueError as error:
        raise ExtractError(f"the ledger {ledger_path} cannot be read ({error}): nothing was read or removed; "
                           "restore it (the lake bucket keeps its earlier versions)") from None  # fmt: skip
    uncommitted = ledger.parse_pending(storage.read_text(spark, pending_path))
    for table in tables:
        current = ledger.partitions(seen, table.name)
        remove_leftover_partitions(
            spark, args, table, current, uncommitted.get(table.name, set()), ledger_found=bool(ledger_text)
        )
    storage.delete(spark, pending_path)
    by_table, unclaimed = assign_files(storage.list_files(spark, args.source_path), tables)
    summary.unclaimed_files = unclaimed
    if unclaimed:
        names = shown([storage.file_name(uri) for uri in unclaimed])
        summary.warnings.append(f"{len(unclaimed)} landing file(s) match no table of {args.dataset}: {names}")
    claimed = {name: storage.with_checksums(spark, files, ledger.unchanged_checksums(files, seen))
               for name, files in by_table.items()}  # fmt: skip
    readings = {table.name: table.reading for table in tables}
    gone = {name: ledger.left_with_another_reading(seen, name, reading, [info.uri for info in claimed.get(name, [])])
            for name, reading in readings.items()}  # fmt: skip
    summary.warnings.extend(declaration_warnings(seen, claimed, readings, gone))
    updated = ledger.with_versions(seen, [info for files in claimed.values() for info in files])
    for name, uris in gone.items():  # warned about once: from now on they count as read under this declaration
        updated = ledger.with_readings_kept(updated, uris, readings[name])
    if updated != seen:
        refuse_when_leased_by_another(args)
        storage.write_text(spark, ledger_path, ledger.render(updated))
        seen = updated
    fresh = {name: [replace(info, reading=f"{readings[name]}|{args.run_id}")
                    for info in ledger.new_files(files, seen, args.reprocess, readings[name])]
             for name, files in claimed.items()}  # fmt: skip
    fresh = {name: files for name, files in fresh.items() if files}
    if not fresh:
        return 0
    same_content = ledger.same_content([info for files in fresh.values() for info in files], seen)
    summary.warnings.extend(
        f"{storage.file_name(uri)} holds the same content as {storage.file_name(original)}: every row of it is a "
        "copy (transform keeps one row per key and quarantines the others)"
        for uri, original in same_content.items()
    )

    processed = [info for files in fresh.values() for info in files]
    placed = deliveries.plan(fresh, seen)
    storage.write_text(spark, pending_path, ledger.render_pending(placed.pending()))
    started = extract_start_times(spark, args, ledger.runs_without_ingestion_times(processed, seen))
    first_ingested = ledger.first_ingested(processed, seen, ingested_at, started)
    extracted = parallel.for_each_table(
        spark,
        args.job_run_id,
        lambda table: extract_table(
            spark, args, table, fresh[table.name], first_ingested, placed.partitions[table.name]
        ),
        {table.name: table for table in tables if table.name in fresh},
        args.table_parallelism,
        sizes={name: sum(info.size for info in files) for name, files in fresh.items()},
    )
    summary.tables.update({name: replace(counts, spark_jobs=jobs) for name, (counts, jobs) in extracted.items()})
    summary.check_accounting()
    tables_by_name = {table.name: table for table in tables}
    try:
        for old, files in placed.staying.items():  # before the ledger commits: it names the copies
            counts = {uri: ledger.recorded_count(seen[uri]) for uri in files}
            copy_staying_rows(spark, args, tables_by_name[placed.tables[old]], (old, placed.copies[old]), files, counts)
    except ExtractError:
        for name, written in placed.pending().items():
            remove_deliveries(spark, args, tables_by_name[name], written)
        raise
    table_of = {info.uri: name for name, files in fresh.items() for info in files}
    records_of = {uri: count for counts in summary.tables.values() for uri, count in counts.file_records.items()}
    recorded = ledger.record_files(
        seen, processed, args.run_id, table_of, readings, records_of, first_ingested, placed.partition_of()
    )
    # The ledger is the commit: a run whose lease was taken over while it read (its execution stopped,
    # its Glue job not yet) must not overwrite the ledger of the run that took over.
    refuse_when_leased_by_another(args)
    storage.write_text(spark, ledger_path, recorded)
    storage.delete(spark, pending_path)  # the ledger names them now
    for old, name in placed.tables.items():  # the ledger names the new deliveries and the copies: these can go
        remove_deliveries(spark, args, tables_by_name[name], [old])
    for uri in placed.replaced:
        summary.tables[table_of[uri]].replaced_files.append(uri)
        before = seen[uri].get("records")
        counted = f" ({before} record(s) before, {records_of.get(uri)} now)" if before is not None else ""
        summary.warnings.append(
            f"{storage.file_name(uri)} was delivered again with other content: it replaces the delivery "
            f"read by run {seen[uri].get('run_id')}{counted}"
        )
    return len(processed)


def copy_staying_rows(
    spark: SparkSession,
    args: JobArgs,
    table: Table,
    old_and_copy: tuple[str, str],
    files: Mapping[str, str],
    recorded: Mapping[str, int | None],
) -> None:
    """Copies the rows of the files (URI -> file id) that stay in a partition some of whose files
    were delivered again from the old partition to the copy, as they are (typed as when they were
    read), and checks that each file has as many rows as the ledger recorded (recorded: by URI;
    an entry written before the ledger kept counts is checked against the old partition's rows)."""
    old, copy = old_and_copy
    staying = [(path, rows.where(literals.is_one_of(F.col(SOURCE_FILE), list(files))))
               for path in extract_paths(args, table)
               if (rows := storage.read_parquet(spark, f"{path}/{FILE_ID}={old}")) is not None]  # fmt: skip
    counts = {uri: count for uri, count in recorded.items() if uri in files and count is not None}
    if len(counts) < len(files) and staying:
        counts = rows_by_source(reduce(DataFrame.unionByName, [rows.select(SOURCE_FILE) for _, rows in staying]))
    metrics = written_metrics(files)
    observed = [storage.write_parquet_observed(rows.withColumn(FILE_ID, F.lit(copy)), path, metrics, [FILE_ID])
                for path, rows in staying]  # fmt: skip
    by_file_id = {file_id: counts.get(uri, 0) for uri, file_id in files.items()}
    expected = (sum(by_file_id.values()), records.fingerprint(by_file_id))
    if (sum(int(o["rows"]) for o in observed), sum(int(o["fingerprint"]) for o in observed)) != expected:
        raise ExtractError(
            f"{table.name}: copying the rows of the {len(files)} file(s) that stay in partition {FILE_ID}={old} found "
            "other counts than the ledger records: nothing of this run was kept (earlier deliveries stay in raw)"
        )
