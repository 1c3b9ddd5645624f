"""How a dataset is declared: its source tables (landing files or JDBC tables), their schemas,
keys and foreign keys, and its gold model. Data-quality rules are DQDL rulesets beside it
(etl_lib/rulesets/<dataset>/<table>.dqdl, see etl_lib.rules).

A dataset module (`etl_lib.datasets.<name>`) exposes `DATASET`; the jobs find it by name, so a
new dataset never touches the job scripts.

Column declarations use the names as delivered in the landing files; keys, rules and foreign
keys use the names after `renames` (the silver names).
"""

from __future__ import annotations

import codecs
import functools
import hashlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from pyspark.sql import DataFrame

ISO_DATE = "yyyy-MM-dd"
# The separators a table may declare in its numbers, each named once and as many (reasons name them).
# Between thousands: any of them (a space, no-break space or narrow no-break space in French, an
# apostrophe in Swiss); between a number's units and decimals: a point or a comma.
SEPARATOR_NAMES = {
    ",": ("comma", "commas"),
    ".": ("point", "points"),
    " ": ("space", "spaces"),
    "\u00a0": ("no-break space", "no-break spaces"),
    "\u202f": ("narrow no-break space", "narrow no-break spaces"),
    "'": ("apostrophe", "apostrophes"),
}
THOUSANDS_SEPARATORS = tuple(SEPARATOR_NAMES)
DECIMAL_SEPARATORS = (".", ",")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # a Spark SQL type: string, int, bigint, double, decimal(p,s), date, timestamp
    # A date's pattern (Spark's datetime patterns); a timestamp reads ISO 8601 (`2024-03-01 10:15:00`,
    # `2024-03-01T10:15:00+02:00`) unless it declares one (`dd/MM/yyyy HH:mm`).
    date_format: str = ISO_DATE
    optional_in_source: bool = False  # files may omit this column; it is then null


@dataclass(frozen=True)
class ForeignKey:
    """Rows of this table reference a parent table's rows (checked as a DQDL ReferentialIntegrity rule)."""

    columns: tuple[str, ...]
    parent_table: str
    parent_columns: tuple[str, ...]


@dataclass(frozen=True)
class JdbcSource:
    """A table read from a database instead of landing files, incrementally by a watermark column.

    Each run reads the rows whose `incremental_column` is greater than the stored watermark (all
    rows on the first run); raw keeps every version read, and transform keeps the newest version of
    each key. With `partition_column` (an integer column, usually the key) and `num_partitions` > 1,
    a read of at least `partition_min_rows` rows is split into that many parallel range queries.
    """

    table: str  # as the database names it, e.g. "public.sales_order"
    incremental_column: str  # a source column, e.g. "last_updated"; must be declared in columns
    partition_column: str | None = None
    num_partitions: int = 1
    partition_min_rows: int = 100_000
    fetch_size: int = 10_000
    # Rows whose timestamp is newer than the database's clock minus this many seconds are left for
    # the next run: a transaction that set its timestamp and commits within the lag is not skipped.
    safety_lag_seconds: int = 0
    # Each run also reads the table's keys (one statement), and rows whose key the source no longer
    # holds leave silver and gold, counted as deleted at the source (see etl_lib/source_keys.py).
    track_deletes: bool = False


# Every pair of bytes that starts with a byte outside ASCII: a multi-byte encoding decodes some of
# them (Shift_JIS: a lead byte and an ASCII '|') as one character.
HIGH_BYTE_PAIRS = bytes(code for high in range(128, 256) for low in range(256) for code in (high, low))


@functools.cache
def encoding_problem(encoding: str) -> str | None:
    """Why landing files cannot be read in this encoding, or None. They are split into lines, and
    their records counted, at line-end, quote and delimiter bytes: an encoding must decode each
    byte as a character of its own and write ASCII as ASCII (UTF-16 and Shift_JIS do not)."""
    try:
        name = codecs.lookup(encoding).name
        if name in ("utf-8", "utf-8-sig"):
            return None
        characters = [bytes([code]).decode(name, errors="replace") for code in range(256)]
        byte_a_character = HIGH_BYTE_PAIRS.decode(name, errors="replace") == "".join(
            characters[code] for code in HIGH_BYTE_PAIRS
        )
        usable = byte_a_character and all(characters[code] == chr(code) for code in range(128))
    except LookupError:
        return "is not an encoding Python knows"
    except (UnicodeError, TypeError):
        usable = False
    if usable:
        return None
    return (
        "cannot be read by lines: declare UTF-8 or an encoding of a byte a character that writes ASCII as ASCII "
        "(cp1252, latin-1, iso-8859-15), or have the files re-encoded"
    )


def canonical_charset(encoding: str) -> str:
    """An encoding's canonical name, one Python and Java both know (`latin-1` is `iso8859-1`)."""
    name = codecs.lookup(encoding).name
    return "utf-8" if name == "utf-8-sig" else name


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    file_pattern: str = ""  # fnmatch pattern on the landing file name, e.g. "lineitem*.csv"
    renames: Mapping[str, str] = field(default_factory=dict)
    foreign_keys: tuple[ForeignKey, ...] = ()
    # Deduplication: which row of a key (or of an IsUnique rule's columns) is kept. By default the
    # latest ingestion, then the last file by name (numbers read as numbers: orders_10 after orders_9),
    # then the later record in its file.
    newest_first: tuple[str, ...] = ("_ingested_at", "_source_file", "_record_position")
    derive: Callable[[DataFrame], DataFrame] | None = None  # adds silver columns, after renames
    multiline: bool = False  # quoted fields may hold line breaks (files are then not split)
    delimiter: str = ","
    # The landing files' text encoding: UTF-8, or one that writes ASCII as ASCII a byte a character
    # (cp1252, latin-1, iso-8859-15, ...), as spreadsheet exports on Windows often are.
    encoding: str = "utf-8"
    # With encoding UTF-8: a file that is not valid UTF-8 is read in this encoding instead (a
    # producer whose exports come in both, e.g. cp1252 from one tool and UTF-8 from another).
    fallback_encoding: str | None = None
    # "," where numbers are written 25,50 (European spreadsheet exports, usually with delimiter ";"):
    # decimal, double and float columns read it; a value with a point as well is not a number.
    decimal_separator: str = "."
    # Between groups of three digits (1 000,00 or 1,000.00), as spreadsheets export numbers formatted
    # so: one of THOUSANDS_SEPARATORS. A value grouped otherwise (12,34 where ',' is one) is no number.
    thousands_separator: str = ""
    # Values that mean "no value" in the files, in any column, once trimmed: e.g. ("NULL", "\\N",
    # "N/A") from a database export. Read as NULL rather than quarantined as a value that does not
    # parse; an empty value is always NULL.
    null_values: tuple[str, ...] = ()
    jdbc: JdbcSource | None = None  # read from a database rather than landing files

    @property
    def reading(self) -> str:
        """A digest of how the table's landing files are read and typed: a file read under another
        declaration is read again (the encoding and null markers count only when declared, so files
        read before they were declarable are not read again)."""
        how: tuple[object, ...] = (self.columns, self.delimiter, self.multiline)
        how += (self.charset,) if self.charset != "utf-8" else ()
        how += (self.null_values,) if self.null_values else ()
        how += ("fallback", self.fallback_charset) if self.fallback_charset else ()
        how += ("decimal separator", self.decimal_separator) if self.decimal_separator != "." else ()
        how += ("thousands separator", self.thousands_separator) if self.thousands_separator else ()
        return hashlib.sha256(repr(how).encode()).hexdigest()[:16]

    @property
    def charset(self) -> str:
        """The encoding's canonical name (`latin-1` is `iso8859-1`), one Python and Java both know."""
        return canonical_charset(self.encoding)

    @property
    def fallback_charset(self) -> str | None:
        return canonical_charset(self.fallback_encoding) if self.fallback_encoding else None

    @property
    def charsets(self) -> tuple[str, ...]:
        """Every charset the table's files are read in."""
        return (self.charset,) + ((self.fallback_charset,) if self.fallback_charset else ())

    @property
    def encoding_label(self) -> str:
        """The table's encodings as a reason names them: `UTF-8`, `CP1252`, `UTF-8 or CP1252`."""
        return " or ".join(charset.upper() for charset in self.charsets)

    def __post_init__(self) -> None:
        if bool(self.file_pattern) == (self.jdbc is not None):
            raise ValueError(f"table {self.name!r}: declare exactly one source, a file_pattern or a jdbc source")
        for declared in (self.encoding, self.fallback_encoding):
            problem = encoding_problem(declared) if declared is not None else None
            if problem:
                raise ValueError(f"table {self.name!r}: encoding {declared!r} {problem}")
        if self.fallback_encoding is not None and (self.charset != "utf-8" or self.fallback_charset == "utf-8"):
            raise ValueError(f"table {self.name!r}: a fallback encoding reads a UTF-8 table's files that are not UTF-8")
        if self.decimal_separator not in DECIMAL_SEPARATORS:
            raise ValueError(
                f"table {self.name!r}: decimal_separator must be '.' or ',', not {self.decimal_separator!r}"
            )
        if self.thousands_separator and (
            self.thousands_separator not in THOUSANDS_SEPARATORS or self.thousands_separator == self.decimal_separator
        ):
            raise ValueError(
                f"table {self.name!r}: thousands_separator must be one of {', '.join(map(repr, THOUSANDS_SEPARATORS))} "
                "and differ from the decimal separator"
            )
        if isinstance(self.null_values, str) or not all(isinstance(v, str) and v.strip() for v in self.null_values):
            raise ValueError(f"table {self.name!r}: null_values must be a tuple of non-blank strings, e.g. ('NULL',)")
        if self.jdbc is not None and self.jdbc.incremental_column not in {c.name for c in self.columns}:
            column = self.jdbc.incremental_column
            raise ValueError(f"table {self.name!r}: incremental column {column!r} is not a declared column")

    @property
    def tracks_deletes(self) -> bool:
        return self.jdbc is not None and self.jdbc.track_deletes

    def silver_name(self, source_name: str) -> str:
        return self.renames.get(source_name, source_name)


@dataclass(frozen=True)
class GoldTable:
    name: str
    partition_by: tuple[str, ...] = ()
    key: tuple[str, ...] = ()  # with a key, the load job can upsert the table into a warehouse
    # A fact table with one row per row of this silver table: the counts are reconciled, so a join
    # of the model can never drop rows silently.
    rows_from: str | None = None


@dataclass(frozen=True)
class Dataset:
    name: str
    tables: tuple[Table, ...]
    gold_tables: tuple[GoldTable, ...]
    # silver tables by name -> gold DataFrames by name (pure: no I/O)
    build_gold: Callable[[Mapping[str, DataFrame]], dict[str, DataFrame]]

    @property
    def jdbc_tables(self) -> tuple[Table, ...]:
        return tuple(table for table in self.tables if table.jdbc is not None)

    @property
    def file_tables(self) -> tuple[Table, ...]:
        return tuple(table for table in self.tables if table.jdbc is None)

    @property
    def warehouse_tables(self) -> tuple[GoldTable, ...]:
        return tuple(gold for gold in self.gold_tables if gold.key)

    def table(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(f"dataset {self.name!r} has no table {name!r}")

    def tables_in_dependency_order(self) -> list[Table]:
        """Parents before children, so foreign keys are checked against validated parents."""
        parents_of = {table.name: {fk.parent_table for fk in table.foreign_keys} for table in self.tables}
        return [table for wave in self.dependency_waves(parents_of) for table in wave]

    def dependency_waves(self, parents_of: Mapping[str, Collection[str]]) -> list[list[Table]]:
        """The tables in waves: each table after every parent it names (parents_of: table -> the
        tables it is checked against); the tables of one wave do not depend on each other."""
        known = {table.name for table in self.tables}
        waves: list[list[Table]] = []
        done: set[str] = set()
        remaining = list(self.tables)
        while remaining:
            ready = [t for t in remaining if (set(parents_of.get(t.name, ())) & known) - {t.name} <= done]
            if not ready:
                cycle = ", ".join(table.name for table in remaining)
                raise ValueError(f"dataset {self.name!r}: foreign keys form a cycle among {cycle}")
            waves.append(ready)
            done |= {table.name for table in ready}
            remaining = [table for table in remaining if table not in ready]
        return waves
