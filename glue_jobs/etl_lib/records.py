"""Counting the physical records of landing files independently of the CSV reader.

Spark's reader can merge or drop records without a word (a whitespace-only line disappears, an
unclosed quote in a multi-line file swallows the rest of it); counting them another way and
reconciling each file is what makes "no row lost" a checked fact rather than a hope.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import NamedTuple, TypeVar

import pyspark
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from etl_lib import literals, storage


class MalformedFileError(ValueError):
    """A file whose records cannot be delimited at all (e.g. an unclosed quote in a multi-line file)."""


@dataclass(frozen=True)
class FileRecords:
    records: int  # data records, header excluded
    blank_lines: int  # empty or whitespace-only lines: not records
    read_whole: bool = False  # read as multi-line CSV: a multi-line table's file, or quoted fields span lines
    unbalanced_quotes: bool = False  # a line has an odd number of quote characters
    repeated_headers: int = 0  # records that are the header again (files concatenated header and all)
    read_by_lines_because: str = ""  # why a file with quoted line breaks or mixed line ends is read by lines
    line_end: str = ""  # a file read whole: the line end its records end in, which its reader is told


BYTE_ORDER_MARK = "\ufeff"


def _odd_quotes(value: str) -> Column:
    # Byte lengths and a plain replace: a quote is one byte in UTF-8, and TPC-H SF1 lineitem
    # (a quote on every line) counted in 2.3 s this way against 8.3 s with length and a regex.
    return (F.octet_length(value) - F.octet_length(F.replace(F.col(value), F.lit('"'), F.lit("")))) % 2


def as_text_read(line: bytes) -> str:
    """A line as Spark's text reader decodes it: UTF-8, other bytes replaced by U+FFFD. The
    records of a file in any encoding a table may declare keep their line ends, quotes and
    delimiters this way (the decoder never takes an ASCII byte into a replaced sequence), so they
    are counted on this text whatever the encoding."""
    return line.decode("utf-8", errors="replace")


def line_records(lines: DataFrame, header_lines: Collection[bytes] = ()) -> dict[str, FileRecords]:
    """From (file, value) text lines: one record per non-blank line, minus each file's header;
    whether a line has an odd number of quotes (a quoted field may continue on the next line); and
    how many records are one of the header_lines again (the files' first lines)."""
    # The comparison (no copy) spares the trim for every line that starts with a printable character.
    blank = (F.col("value") < "!") & (F.btrim(F.col("value"), F.lit(storage.BLANK_CHARACTERS)) == "")
    per_file = lines.groupBy("file").agg(
        F.count(F.lit(1)).alias("lines"),
        F.count(F.when(blank, 1)).alias("blank"),
        F.max(_odd_quotes("value")).alias("odd_quotes"),
        # As bytes: the text reader's values hold a file's bytes as they are, in any encoding.
        F.count(F.when(F.col("value").cast("binary").isin(*map(bytearray, header_lines)), 1)).alias("header_lines"),
    )
    return {
        row["file"]: FileRecords(
            records=max(int(row["lines"]) - int(row["blank"]) - 1, 0),
            blank_lines=int(row["blank"]),
            unbalanced_quotes=bool(row["odd_quotes"]),
            repeated_headers=max(int(row["header_lines"]) - 1, 0),
        )
        for row in per_file.collect()
    }


def content_line_records(content: bytes, header_lines: Collection[bytes] = ()) -> FileRecords:
    """line_records of one file's content, counted here instead of by a Spark job: the same lines
    (a line end after the last line starts no other), blank test, quote parity and header
    comparison, on the bytes as Spark compares them."""
    lines = storage.LINE_END.split(content)
    if lines[-1] == b"":
        lines.pop()
    blank = sum(1 for line in lines if not line.strip(storage.BLANK_BYTES))
    return FileRecords(
        records=max(len(lines) - blank - 1, 0),
        blank_lines=blank,
        unbalanced_quotes=any(line.count(b'"') % 2 for line in lines),
        repeated_headers=max(sum(1 for line in lines if line in header_lines) - 1, 0),
    )


# storage.LINE_END's line ends, in text: also where io.StringIO(newline="") splits lines for the csv module.
LINE_END_TEXT = re.compile(storage.LINE_END.pattern.decode("ascii"))
LINE_END_NAMES = {"\r\n": "CRLF", "\r": "CR", "\n": "LF"}


class CsvCount(NamedTuple):
    """A CSV text counted with Python's csv module."""

    records: int  # without the header
    blank: int
    repeated: int  # records repeating the header
    error: str | None = None
    # Where the records (and blank lines) end in more than one way, e.g. "line 1 ends in LF, line 2
    # in CRLF"; line breaks inside quoted fields do not count. Spark's multi-line reader takes the
    # first line end it meets as the only one: with another after it, records merge or keep a
    # carriage return in their last value.
    mixed_line_ends: str = ""
    spans_lines: bool = False  # a record holds a quoted line break
    # The line end the records end in ("\n" when none does). Told it, Spark's multi-line reader
    # keeps the line breaks inside quoted fields as sent; left to find it, it turns every one of
    # that kind into LF ("a\r\nb" in a CRLF file, "a\rb" in a CR one).
    line_end: str = "\n"


def csv_records(text: str, delimiter: str) -> CsvCount:
    """The records of a CSV text whose quoted fields may hold line breaks, counted with Python's
    csv module in strict mode, independently of Spark's reader."""
    reader = csv.reader(io.StringIO(text.removeprefix(BYTE_ORDER_MARK), newline=""), delimiter=delimiter, strict=True)
    # The end of every line, found at C speed, only when a text has two kinds of line end at all.
    line_ends = LINE_END_TEXT.findall(text) if "\r" in text and "\n" in text else []
    records = blank = repeated = 0
    header = None
    first_end: tuple[str, int] | None = None
    mixed, spans = "", False
    while True:
        starts_at = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            one_kind = "\r" if "\r" in text and not line_ends else "\n"
            line_end = first_end[0] if first_end else one_kind
            return CsvCount(max(records - 1, 0), blank, repeated, None, mixed, spans, line_end)
        except csv.Error as error:
            reason = "an unclosed quote" if "unexpected end of data" in str(error) else str(error)
            return CsvCount(0, 0, 0, f"{reason} in the record starting at line {starts_at}")
        last_line = reader.line_num
        spans = spans or last_line > starts_at
        if last_line <= len(line_ends) and not mixed:
            end = line_ends[last_line - 1]
            if first_end is None:
                first_end = (end, last_line)
            elif end != first_end[0]:
                mixed = (f"line {first_end[1]} ends in {LINE_END_NAMES[first_end[0]]}, "
                         f"line {last_line} in {LINE_END_NAMES[end]}")  # fmt: skip
        if not row:
            blank += 1
            continue
        records += 1
        if header is None:
            header = row
        elif row == header:
            repeated += 1


Counted = TypeVar("Counted")


def count_on_driver(
    spark: SparkSession, files: Mapping[str, str], small: Collection[str], count: Callable[[bytes], Counted]
) -> tuple[dict[str, Counted], dict[str, str]]:
    """(count(content) of each file whose URI is in small, read whole on the driver a call each;
    the other files, URI to path): for a few kilobytes a Spark job costs more than the reading
    (1,000 two-row files took 2.5 s as a job). Each content is counted as it arrives and dropped,
    so the driver holds a few files at a time, not a whole delivery of them."""
    driver = [uri for uri in files if uri in small]
    counted = storage.for_each_file(lambda uri: count(storage.read_content(spark, files[uri])), driver)
    return dict(zip(driver, counted, strict=True)), {uri: path for uri, path in files.items() if uri not in small}


def whole_text_records(
    text: str, delimiter: str, header_lines: Collection[bytes] = (), multiline: bool = True
) -> FileRecords | str:
    """The records of a file's text (as_text_read) parsed whole as CSV, or why it cannot be; read
    whole (as multi-line CSV) when its table is multi-line or a record holds a quoted line break,
    else by lines (a quote inside a field, O"BRIEN: the same records either way, and the file stays
    splittable). A text whose records end in more than one way is counted (and read) by lines when
    no record spans lines, since Spark's line reader takes every line end as one; when one does, no
    Spark reader delimits its records as they are."""
    found = csv_records(text, delimiter)
    if found.error is not None:
        return found.error
    if found.mixed_line_ends and found.spans_lines:
        return (
            f"line ends mixed ({found.mixed_line_ends}) in a file whose quoted fields span lines: Spark's "
            "multi-line CSV reader would take the first as the only line end; re-send it with one kind of line end"
        )
    if found.mixed_line_ends or not (multiline or found.spans_lines):
        headers = {as_text_read(line).encode("utf-8") for line in header_lines}  # as the text has them
        by_lines = content_line_records(text.encode("utf-8"), headers)
        because = f"{found.mixed_line_ends}, and no quoted field spans lines" if found.mixed_line_ends else ""
        return replace(by_lines, read_by_lines_because=because)
    return FileRecords(
        found.records, found.blank, read_whole=True, repeated_headers=found.repeated, line_end=found.line_end
    )


def whole_content_records(
    content: bytes, delimiter: str, header_lines: Collection[bytes] = (), multiline: bool = True
) -> FileRecords | str:
    """whole_text_records of a file's content, decoded as Spark's text reader hands it to Python."""
    return whole_text_records(as_text_read(content), delimiter, header_lines, multiline)


def _whole_file_records(
    spark: SparkSession,
    files: Mapping[str, str],
    delimiter: str,
    header_lines: Collection[bytes] = (),
    multiline: bool = True,
) -> dict[str, FileRecords | str]:
    """whole_text_records of each file (URI to path) by URI, read whole by a Spark job."""
    if not files:
        return {}
    whole = spark.read.text([storage.literal_path(path) for path in files.values()], wholetext=True)
    whole = whole.select(F.input_file_name().alias("file"), "value")
    return dict(
        whole.rdd.map(
            lambda row: (row["file"], whole_text_records(row["value"], delimiter, header_lines, multiline))
        ).collect()
    )


def _read_whole_if_quoted(found: FileRecords, whole: FileRecords | str) -> FileRecords:
    """A line-based file with an odd quote on a line, counted whole when it parses that way with a
    quoted line break; by lines when no record spans lines (a quote inside a field: O"BRIEN, the
    same records either way, and the file stays splittable), and with the reason when it does not
    parse."""
    if isinstance(whole, str):
        return replace(found, read_by_lines_because=whole)
    return whole if whole.read_whole else replace(found, read_by_lines_because=whole.read_by_lines_because)


UTF8_BYTE_ORDER_MARK = BYTE_ORDER_MARK.encode("utf-8")


def header_lines(first_lines: Iterable[bytes]) -> set[bytes]:
    """The lines that are a header again when met below a file's first line: each first line, also
    without its byte-order mark (files concatenated keep the mark of the first only)."""
    return {variant for line in first_lines for variant in (line, line.removeprefix(UTF8_BYTE_ORDER_MARK)) if line}


def count_physical_records(
    spark: SparkSession,
    files: Mapping[str, str],
    multiline: bool,
    delimiter: str,
    first_lines: Iterable[bytes] = (),
    small: Collection[str] = (),
) -> dict[str, FileRecords]:
    """Records per file URI; files maps each URI to the Hadoop path it is read from, first_lines
    are the files' first lines (their headers, to find them repeated), small the URIs of files
    small enough to be read and counted on the driver (no Spark job).

    A line-based table's file is counted by lines; when a line has an odd number of quotes and
    the whole file parses as CSV with quoted line breaks, the file is counted (and read) whole,
    so a quoted multi-line record stays one record. A file that does not parse either way (an
    unclosed quote on one line, or line ends mixed around a quoted line break) keeps line
    semantics: its broken lines are quarantined. A multi-line table's file is counted (and read)
    whole, but by lines when it mixes line ends and no quoted field spans lines; one that cannot be
    delimited (an unclosed quote, line ends mixed around a quoted line break) fails the count."""
    headers = header_lines(first_lines)
    if not multiline:

        def content_records(content: bytes) -> FileRecords:
            found = content_line_records(content, headers)
            if not found.unbalanced_quotes:
                return found
            return _read_whole_if_quoted(found, whole_content_records(content, delimiter, headers, multiline=False))

        counted, rest = count_on_driver(spark, files, small, content_records)
        if rest:
            lines = spark.read.text([storage.literal_path(path) for path in rest.values()])
            by_job = line_records(lines.select(F.input_file_name().alias("file"), "value"), headers)
            suspects = {uri: path for uri, path in rest.items() if by_job.get(uri, FileRecords(0, 0)).unbalanced_quotes}
            whole = _whole_file_records(spark, suspects, delimiter, headers, multiline=False)
            counted |= {uri: _read_whole_if_quoted(found, whole[uri]) if uri in whole else found
                        for uri, found in by_job.items()}  # fmt: skip
    else:
        results, rest = count_on_driver(
            spark, files, small, lambda content: whole_content_records(content, delimiter, headers)
        )
        results |= _whole_file_records(spark, rest, delimiter, headers)
        problems = [f"{uri}: {found}" for uri, found in results.items() if isinstance(found, str)]
        if problems:
            raise MalformedFileError("; ".join(problems))
        counted = {uri: found for uri, found in results.items() if isinstance(found, FileRecords)}
    return {uri: counted.get(uri, FileRecords(0, 0)) for uri in files}


def is_utf8(content: bytes) -> bool:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def invalid_utf8(value: str) -> Column:
    """Whether a text line (Spark's text reader keeps its bytes as they are) is not valid UTF-8.
    Spark 4 decodes invalid bytes with an error, and has a function for it; Spark 3.5 replaces
    them, so the decoded line differs from the bytes."""
    if int(pyspark.__version__.split(".")[0]) >= 4:
        return ~F.call_function("is_valid_utf8", F.col(value))
    return F.decode(F.col(value).cast("binary"), "UTF-8") != F.col(value)


def not_utf8_files(spark: SparkSession, files: Mapping[str, str], small: Collection[str] = ()) -> set[str]:
    """The URIs of the files (URI to path) whose content is not valid UTF-8: read on the driver
    when in small, the others by one Spark job."""
    checked, rest = count_on_driver(spark, files, small, is_utf8)
    found = {uri for uri, valid in checked.items() if not valid}
    if rest:
        lines = spark.read.text([storage.literal_path(path) for path in rest.values()])
        invalid = lines.where(invalid_utf8("value")).select(F.input_file_name().alias("file")).distinct()
        found |= {row["file"] for row in invalid.collect()}
    return found


def mismatches(physical: Mapping[str, FileRecords], parsed: Mapping[str, int], uris: Iterable[str]) -> list[str]:
    """One line per file whose physical record count differs from what the reader produced."""
    return [
        f"{uri}: {physical[uri].records} records in the file but {parsed.get(uri, 0)} read"
        for uri in uris
        if physical[uri].records != parsed.get(uri, 0)
    ]


def fingerprint_column(source_column: str, file_ids: Mapping[str, str]) -> Column:
    """Over rows whose source (the column's value: a file's URI) is a key of file_ids (source ->
    its file id, 16 hex digits): the sum of their file ids read as 64-bit numbers. Equal to
    `fingerprint` of the files' record counts exactly when, but for a chance of about 2^-64, every
    file has as many rows as records: a lost row in one file and an extra row in another do not
    cancel out, as they would in a plain total. (A row of another source adds nothing, so it cannot
    hide a lost one.)

    Each id's number is looked up as its two 32-bit halves, summed as longs (no overflow below
    2^31 rows), rather than parsed from hex on every row: conv() and a 38-digit decimal sum took
    1.2-2.4 s of the 25 s that typing and writing SF1 `lineitem` takes."""
    halves = [
        literals.looked_up({source: str(int(file_id[part], 16)) for source, file_id in file_ids.items()},
                           F.col(source_column))
        for part in (slice(0, 8), slice(8, 16))
    ]  # fmt: skip
    high, low = (F.sum(half.cast("bigint")).cast("decimal(38,0)") for half in halves)
    return F.coalesce(high * F.lit(2**32).cast("decimal(38,0)") + low, F.lit(0).cast("decimal(38,0)"))


def fingerprint(records_by_file_id: Mapping[str, int]) -> int:
    """What fingerprint_column sums to over rows holding exactly these counts per file id."""
    return sum(count * int(file_id, 16) for file_id, count in records_by_file_id.items())
