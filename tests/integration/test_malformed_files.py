"""A corpus of broken landing files: every one has a defined outcome and no record is ever lost.

Each case is one file with the exact rows it must produce in raw and the exact quarantine rule
counts of extract (typing) and transform (rules). Files that make the whole file unusable fail the
job with one clear line instead (separate runs).
"""

from __future__ import annotations

import bz2
import gzip
from collections import Counter
from dataclasses import dataclass, field, replace

import pytest
from pyspark.sql import functions as F

from etl_lib.job import JobFailedError
from glue_etl_local.samples import DEFECT_RULES
from tests.integration.conftest import run_job


@dataclass(frozen=True)
class Case:
    kind: str
    content: bytes
    raw_rows: int
    extract_rules: dict[str, int] = field(default_factory=dict)
    transform_rules: dict[str, int] = field(default_factory=dict)


REGION_HEADER = b"r_regionkey,r_name,r_comment\n"
REGION_CASES = [
    Case("crlf", b"r_regionkey,r_name,r_comment\r\n1,AFRICA,a\r\n2,AMERICA,b\r\n", 2),
    Case("bom", b"\xef\xbb\xbf" + REGION_HEADER + b"3,ASIA,c\n", 1),
    Case("reordered_header", b"r_name,r_comment,r_regionkey\nEUROPE,d,4\n", 1),
    Case("too_many_fields", REGION_HEADER + b"5,MIDDLE EAST,e\n6,X,f,extra\n", 1, {"malformed_record": 1}),
    Case("too_few_fields", REGION_HEADER + b"7,Y\n", 0, {"malformed_record": 1}),
    Case("unparseable_int", REGION_HEADER + b"x8,Z,g\n", 0, {"parse:r_regionkey": 1}),
    Case("unclosed_quote", REGION_HEADER + b'9,"OPEN,h\n10,CLOSED,i\n', 1, {"malformed_record": 1}),
    # A record is one record whatever the table declares: a quoted line break keeps it whole.
    Case("quoted_newline", REGION_HEADER + b'11,"TWO\nLINES",j\n11b,"",k\n', 1, {"parse:r_regionkey": 1}),
    Case("invalid_utf8", REGION_HEADER + b"12,CAF\xe9,k\n", 0, {"encoding:r_name": 1}),
    Case("blank_lines", REGION_HEADER + b"\n13,BLANK,l\n   \n\n", 1),
    # Spark's reader skips a line of any whitespace (tabs, form feeds): so does the count.
    Case("whitespace_lines", REGION_HEADER + b"\t\n22,TABS,u\n \t\x0b\x0c\n", 1),
    # Two deliveries concatenated: the second header is a record, quarantined, not lost.
    Case(
        "repeated_header",
        REGION_HEADER + b"23,FIRST,v\n" + REGION_HEADER + b"24,SECOND,w\n",
        2,
        {"repeated_header": 1},
    ),
    Case("header_only", REGION_HEADER, 0),
    Case("empty_file", b"", 0),
    # Spark's reader skips blank lines before the header too: the header is the first line that is not.
    Case("blank_before_header", b"\n \t\n" + REGION_HEADER + b"30,AFTER BLANKS,c\n", 1),
    Case("blank_lines_only", b"\n  \n\t\n", 0),
    Case("cr_line_endings", b"r_regionkey,r_name,r_comment\r31,OLD MAC,d\r32,CR,e\r", 2),
    # Read whole, its line ends would merge records or keep a CR: read by lines, the broken lines quarantined.
    Case(
        "mixed_ends_quoted_newline", REGION_HEADER + b'40,"TWO\nLINES",j\r\n41,MIXED,k\r\n', 1, {"malformed_record": 2}
    ),
    Case("no_final_newline", REGION_HEADER + b"33,LAST,f", 1),
    # A quote inside a field quotes nothing (the line has an odd number of them): read by lines.
    Case("quote_inside_field", REGION_HEADER + b'34,O"BRIEN,g\n35,NEXT,h\n', 2),
    # A producer's export changed the header's case: the columns are the same, as for Spark and Glue.
    Case("header_case", b"R_REGIONKEY,R_Name,r_comment\n27,CASED,z\n", 1),
    Case(
        "repeated_header_case",
        b"R_REGIONKEY,R_NAME,R_COMMENT\n28,UPPER,a\nR_REGIONKEY,R_NAME,R_COMMENT\n29,AGAIN,b\n",
        2,
        {"repeated_header": 1},
    ),
    Case("null_key", REGION_HEADER + b",NO KEY,m\n", 1, {}, {'IsPrimaryKey "r_regionkey"': 1}),
    Case("duplicate_key", REGION_HEADER + b"14,FIRST,n\n14,SECOND,o\n", 2, {}, {'IsPrimaryKey "r_regionkey"': 1}),
    Case("escaped_quotes", REGION_HEADER + b'15,"SAID ""HI""",p\n', 1),
    Case("padded_number", REGION_HEADER + b" 16 ,PADDED,q\n", 1),
    Case("undeclared_column", b"r_regionkey,r_name,r_comment,r_extra\n17,EXTRA,r,ignored\n", 1),
    # A spreadsheet export's trailing delimiters: columns without a name, not loaded, named in the notes.
    Case("unnamed_columns", b"r_regionkey,r_name,r_comment,,\n25,TRAILING,x,,\n26,FILLED,y,a,b\n", 2),
    # A producer added a column: short and long records are still malformed, not shifted into NULLs.
    Case(
        "undeclared_short_long",
        b"r_regionkey,r_name,r_comment,r_extra\n18,SHORT\n19,A,B,C,D,E\n20,OK,s,x\n21,THREE,t\n",
        1,
        {"malformed_record": 3},
    ),
]

CONSULTATIONS_HEADER = b"id_consultation,date_consultation,id_centre,id_patient,patient_age,sexe,specialite,diagnostic,duree_minutes,montant\n"  # noqa: E501


def consultation(identifier: int, **changes: str) -> bytes:
    values = {
        "id_consultation": str(identifier),
        "date_consultation": "2024-03-01",
        "id_centre": "C001",
        "id_patient": "P1",
        "patient_age": "40",
        "sexe": "F",
        "specialite": "generaliste",
        "diagnostic": "grippe",
        "duree_minutes": "20",
        "montant": "25.00",
        **changes,
    }
    return ",".join(values[name] for name in CONSULTATIONS_HEADER.decode().strip().split(",")).encode() + b"\n"


CONSULTATION_CASES = [
    Case("crlf", (CONSULTATIONS_HEADER + consultation(1) + consultation(2)).replace(b"\n", b"\r\n"), 2),
    Case("bom", b"\xef\xbb\xbf" + CONSULTATIONS_HEADER + consultation(3), 1),
    # No quoted field spans lines: read by lines, as Spark's multi-line reader would merge records.
    Case("mixed_line_ends", CONSULTATIONS_HEADER.replace(b"\n", b"\r\n") + consultation(19) + consultation(20), 2),
    Case(
        "mixed_line_ends_lf_first",
        CONSULTATIONS_HEADER + consultation(21).replace(b"\n", b"\r\n") + consultation(22) + b"\r\n",
        2,
    ),
    Case("quoted_newline", CONSULTATIONS_HEADER + consultation(4, diagnostic='"grippe\nsevere"'), 1),
    Case(
        "too_many_fields",
        CONSULTATIONS_HEADER + consultation(5).rstrip(b"\n") + b",extra\n",
        0,
        {"malformed_record": 1},
    ),
    Case("too_few_fields", CONSULTATIONS_HEADER + b"6,2024-03-01,C001\n", 0, {"malformed_record": 1}),
    Case(
        "bad_date",
        CONSULTATIONS_HEADER + consultation(7, date_consultation="2024-02-30"),
        0,
        {"parse:date_consultation": 1},
    ),
    # Too large for the declared type: a parse failure, on Spark 4 too (ANSI mode: a plain cast would
    # fail the job on the one value).
    Case(
        "out_of_range",
        CONSULTATIONS_HEADER
        + consultation(21, montant="123456789012.00")
        + consultation(22, patient_age="99999999999")
        + consultation(23, duree_minutes="1e400"),
        0,
        {"parse:montant": 1, "parse:patient_age": 1, "parse:duree_minutes": 1},
    ),
    Case(
        "invalid_utf8",
        CONSULTATIONS_HEADER + consultation(8, diagnostic="f\xe8vre").replace(b"f\xc3\xa8vre", b"f\xe8vre"),
        0,
        {"encoding:diagnostic": 1},
    ),
    Case("blank_lines", CONSULTATIONS_HEADER + b"\n" + consultation(9) + b"\n", 1),
    # Multi-line CSV reads a line of whitespace as a record of one field (Spark and the count agree):
    # quarantined with its text, never a silent NULL row; before the header it is taken as the header.
    Case("blank_before_header", b"\n \t\n" + CONSULTATIONS_HEADER + consultation(17), 1, {"repeated_header": 1}),
    Case("whitespace_lines", CONSULTATIONS_HEADER + b"  \n" + consultation(18) + b"\t\n", 1, {"malformed_record": 2}),
    Case("blank_lines_only", b"\n  \n\t\n", 0),
    Case("repeated_header", CONSULTATIONS_HEADER + consultation(16) + CONSULTATIONS_HEADER, 1, {"repeated_header": 1}),
    Case("header_only", CONSULTATIONS_HEADER, 0),
    Case("empty_file", b"", 0),
    Case(
        "without_optional_column",
        b"id_consultation,date_consultation,id_centre,id_patient,patient_age,specialite,"
        b"diagnostic,duree_minutes,montant\n10,2024-03-01,C001,P1,40,generaliste,grippe,20,25.00\n",
        1,
    ),
    Case(
        "reordered_header",
        b"montant,diagnostic,id_consultation,date_consultation,id_centre,id_patient,patient_age,"
        b"sexe,specialite,duree_minutes\n25.00,grippe,11,2024-03-01,C001,P1,40,M,generaliste,20\n",
        1,
    ),
    Case(
        "blank_diagnostic",
        CONSULTATIONS_HEADER + consultation(12, diagnostic="  "),
        1,
        {},
        {DEFECT_RULES["blank_diagnostic"]: 1},
    ),
    Case(
        "duplicate_id",
        CONSULTATIONS_HEADER + consultation(13) + consultation(13, montant="30.00"),
        2,
        {},
        {DEFECT_RULES["duplicate_id"]: 1},
    ),
    Case(
        "age_out_of_range",
        CONSULTATIONS_HEADER + consultation(14, patient_age="150"),
        1,
        {},
        {DEFECT_RULES["age_out_of_range"]: 1},
    ),
    Case(
        "bad_centre_code",
        CONSULTATIONS_HEADER + consultation(15, id_centre="centre-1"),
        1,
        {},
        {'ColumnValues "centre_id" matches "C\\d{3}"': 1},
    ),
]


COMPRESSIONS = {"": lambda content: content, ".gz": gzip.compress, ".bz2": bz2.compress}


def write_corpus(directory, table, cases, suffix=""):
    """Each case as a file, compressed as the suffix says (.gz and .bz2 are read through, as by Spark)."""
    directory.mkdir(parents=True)
    for case in cases:
        (directory / f"{table}_{case.kind}.csv{suffix}").write_bytes(COMPRESSIONS[suffix](case.content))


def with_line_ends(cases: list[Case], line_end: bytes) -> list[Case]:
    """The cases with this line end wherever they have LF only (quoted line breaks too)."""
    return [replace(case, content=case.content.replace(b"\n", line_end)) if b"\r" not in case.content else case
            for case in cases]  # fmt: skip


def per_file(frame, column=None):
    counts: dict[str, Counter] = {}
    if frame is None:
        return counts
    key = [F.regexp_extract("_source_file", r"_([a-z0-9_]+)\.csv(\.gz|\.bz2)?$", 1).alias("kind")]
    for row in frame.groupBy(*key, *([column] if column else [])).count().collect():
        counts.setdefault(row["kind"], Counter())[row[column] if column else "rows"] += row["count"]
    return counts


@pytest.mark.parametrize(
    ("dataset", "table", "cases", "suffix"),
    [
        ("tpch", "region", REGION_CASES, ""),
        ("consultations", "consultations", CONSULTATION_CASES, ""),
        # Compressed deliveries: the same outcomes, file by file (an empty file's gzip is not empty).
        ("tpch", "region", REGION_CASES, ".gz"),
        ("consultations", "consultations", CONSULTATION_CASES, ".bz2"),
        # Windows and classic Mac line ends: the same outcomes (files that mix them are cases of their own).
        ("tpch", "region", with_line_ends(REGION_CASES, b"\r\n"), ""),
        ("consultations", "consultations", with_line_ends(CONSULTATION_CASES, b"\r\n"), ""),
        ("consultations", "consultations", with_line_ends(CONSULTATION_CASES, b"\r"), ""),
    ],
)
def test_every_broken_file_has_its_defined_outcome(spark, tmp_path, dataset, table, cases, suffix):
    assert len(cases) >= 15
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_corpus(landing, table, cases, suffix)
    extract = run_job("extract", dataset, lake, "corpus", landing)
    transform = run_job("transform", dataset, lake, "corpus")

    counts = extract["tables"][table]
    assert counts["rows_read"] == sum(c.raw_rows + sum(c.extract_rules.values()) for c in cases)
    assert counts["rows_read"] == counts["rows_written"] + counts["rows_quarantined"]
    raw = per_file(spark.read.parquet(str(lake / f"raw/{dataset}/{table}")))
    extract_quarantine = per_file(spark.read.parquet(str(lake / f"quarantine/{dataset}/extract/{table}")), "_rule")
    transform_path = lake / f"quarantine/{dataset}/transform/{table}"
    transform_quarantine = per_file(spark.read.parquet(str(transform_path)), "_rule") if transform_path.exists() else {}
    for case in cases:
        assert raw.get(case.kind, Counter())["rows"] == case.raw_rows, case.kind
        assert dict(extract_quarantine.get(case.kind, Counter())) == case.extract_rules, case.kind
        assert dict(transform_quarantine.get(case.kind, Counter())) == case.transform_rules, case.kind
    transform_counts = transform["tables"][table]
    assert transform_counts["rows_read"] == sum(c.raw_rows for c in cases)
    assert transform_counts["rows_written"] == sum(c.raw_rows - sum(c.transform_rules.values()) for c in cases)
    assert extract["unclaimed_files"] == []
    notes = " | ".join(counts["notes"])
    assert f"{table}_empty_file.csv{suffix}: empty file (or blank lines only), no records" in notes
    assert f"{table}_blank_lines.csv{suffix}: " in notes
    assert f"{table}_blank_lines_only.csv{suffix}: empty file (or blank lines only), no records" in notes
    assert f"{table}_repeated_header.csv{suffix}: the header again in 1 record(s), quarantined" in notes
    if table == "region":
        unclosed = "an unclosed quote in the record starting at line 2"
        assert f"region_quote_inside_field.csv{suffix}: quoted fields span lines" not in notes
        assert f"region_quoted_newline.csv{suffix}: quoted fields span lines, read as multi-line CSV" in notes
        assert f"region_unclosed_quote.csv{suffix}: read by lines: {unclosed}" in notes
        cased = f"region_header_case.csv{suffix}: column name(s) matched ignoring case: R_REGIONKEY -> r_regionkey"
        assert f"{cased}, R_Name -> r_name" in notes


def test_values_survive_quoting_encoding_marks_and_reordering(spark, tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_corpus(landing, "region", REGION_CASES)
    run_job("extract", "tpch", lake, "values", landing)
    rows = {r.r_regionkey: (r.r_name, r.r_comment) for r in spark.read.parquet(str(lake / "raw/tpch/region")).collect()}
    assert rows[3] == ("ASIA", "c")  # after a byte-order mark
    assert rows[4] == ("EUROPE", "d")  # reordered header
    assert rows[15] == ('SAID "HI"', "p")
    assert rows[16] == ("PADDED", "q")
    assert rows[2] == ("AMERICA", "b")  # no stray carriage return
    assert rows[11] == ("TWO\nLINES", "j")  # a quoted line break in a line-based table: one record, whole
    assert rows[34] == ('O"BRIEN', "g")
    assert 18 not in rows
    assert 19 not in rows
    assert rows[20] == ("OK", "s")
    assert rows[27] == ("CASED", "z")  # a header in other case


def test_a_multi_line_tables_file_with_mixed_line_ends_keeps_every_value_as_sent(spark, tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    landing.mkdir()
    header = b"id_consultation,date_consultation,id_centre,id_patient,patient_age,specialite,duree_minutes,montant,"
    records = [b"%d,2024-03-01,C001,P%d,40,generaliste,20,25.00,grippe %d\r\n" % (i, i, i) for i in range(1, 4)]
    (landing / "consultations_windows_body.csv").write_bytes(header + b"diagnostic\n" + b"".join(records))
    extracted = run_job("extract", "consultations", lake, "mixed", landing)["tables"]["consultations"]
    raw = spark.read.parquet(str(lake / "raw/consultations/consultations"))
    assert sorted((r.id_consultation, r.diagnostic) for r in raw.collect()) == [(i, f"grippe {i}") for i in (1, 2, 3)]
    mixed = "line 1 ends in LF, line 2 in CRLF, and no quoted field spans lines"
    assert f"consultations_windows_body.csv: read by lines: {mixed}" in extracted["notes"]


# Each quoted line break as sent: left to find a file's line end, Spark's multi-line reader turns
# the quoted line breaks of that kind into LF.
QUOTED_BREAKS = {
    "crlf": (b"\r\n", "grippe\r\nfi\u00e8vre"),
    "cr": (b"\r", "grippe\rfi\u00e8vre"),
    "lf": (b"\n", "grippe\r\nfi\u00e8vre"),
    "excel": (b"\r\n", "grippe\nfi\u00e8vre"),  # Excel: rows end in CRLF, a cell's line breaks in LF
}


@pytest.mark.parametrize("table", ["consultations", "region"])  # multi-line, and line-based read whole
def test_a_quoted_line_break_is_kept_as_sent_whatever_the_files_line_end(spark, tmp_path, table):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    landing.mkdir()
    for kind, (line_end, value) in QUOTED_BREAKS.items():
        if table == "consultations":
            records = CONSULTATIONS_HEADER + consultation(1, diagnostic='"VALUE"') + consultation(2)
        else:
            records = REGION_HEADER + b'1,"VALUE",c\n2,PLAIN,d\n'
        content = records.replace(b"\n", line_end).replace(b"VALUE", value.encode())
        (landing / f"{table}_{kind}.csv").write_bytes(content)
    dataset = "consultations" if table == "consultations" else "tpch"
    extracted = run_job("extract", dataset, lake, "breaks", landing)["tables"][table]
    assert extracted["rows_written"] == 2 * len(QUOTED_BREAKS)
    column = "diagnostic" if table == "consultations" else "r_name"
    raw = spark.read.parquet(str(lake / f"raw/{dataset}/{table}")).select("_source_file", column).collect()
    found = {row["_source_file"].rsplit("_", 1)[-1].removesuffix(".csv"): row[column] for row in raw
             if row[column] not in ("grippe", "PLAIN")}  # fmt: skip
    assert found == {kind: value for kind, (_, value) in QUOTED_BREAKS.items()}


def test_schema_drift_is_reported_not_silent(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_corpus(landing, "region", REGION_CASES)
    summary = run_job("extract", "tpch", lake, "drift", landing)
    unnamed = "(unnamed column 4), (unnamed column 5)"
    assert summary["tables"]["region"]["undeclared_columns"] == ["(unnamed column 4)", "(unnamed column 5)", "r_extra"]
    assert any(f"schema drift: undeclared column(s) {unnamed}, r_extra" in warning for warning in summary["warnings"])
    notes = summary["tables"]["region"]["notes"]
    assert "region_undeclared_short_long.csv: undeclared column(s) r_extra not loaded" in notes
    assert f"region_unnamed_columns.csv: undeclared column(s) {unnamed} not loaded" in notes


# Each case's id is its file name: an id made of the content would differ between two processes
# collecting the tests (a gzip header holds the time it was made), which pytest-xdist refuses.
UNUSABLE_FILES = [
    (
        "tpch",
        "region_missing_column.csv",
        b"r_regionkey,r_comment\n1,a\n",
        "region_missing_column.csv: missing required column(s) r_name for table region",
    ),
    (
        "tpch",
        "region_duplicate_column.csv",
        b"r_regionkey,r_name,r_name\n1,a,b\n",
        "region_duplicate_column.csv: column(s) r_name appear more than once in the header",
    ),
    (
        "tpch",
        "region_case_duplicate.csv",
        b"r_regionkey,r_name,R_NAME,r_comment\n1,a,b,c\n",
        "region_case_duplicate.csv: column(s) r_name appear more than once in the header",
    ),
    (
        "tpch",
        "region_utf16.csv",
        "\ufeffr_regionkey,r_name,r_comment\n1,AFRICA,a\n".encode("utf-16-le"),
        "region_utf16.csv: the header holds NUL characters: the file is not UTF-8 text (UTF-16?)",
    ),
    (
        "tpch",
        "region_no_header.csv",
        b"1,AFRICA,a\n2,AMERICA,b\n",
        "region_no_header.csv: missing required column(s) r_regionkey, r_name, r_comment for table region (no "
        "field of its first line names a declared column: a file without a header?)",
    ),
    (
        "consultations",
        "consultations_unclosed.csv",
        CONSULTATIONS_HEADER + consultation(1, diagnostic='"grippe') + consultation(2),
        "consultations_unclosed.csv: an unclosed quote in the record starting at line 2",
    ),
    (
        "tpch",
        "region_semicolons.csv",
        b"R_REGIONKEY;r_name;r_comment\n1;AFRICA;a\n",
        "region_semicolons.csv: missing required column(s) r_regionkey, r_name, r_comment for table region "
        "(its header is delimited by ';', the table's by ',')",
    ),
    (
        "consultations",
        "consultations_mixed_ends.csv",
        (CONSULTATIONS_HEADER + consultation(1, diagnostic='"grippe\nsevere"')).replace(b"\n", b"\r\n", 1),
        "consultations_mixed_ends.csv: line ends mixed (line 1 ends in CRLF, line 3 in LF) in a file whose quoted "
        "fields span lines: Spark's multi-line CSV reader would take the first as the only line end; re-send it "
        "with one kind of line end",
    ),
    # Another format under a .csv name: named for what it is.
    (
        "tpch",
        "region_gzip.csv",
        gzip.compress(REGION_HEADER + b"1,A,a\n", mtime=0),
        "region_gzip.csv: the file is gzip-compressed, but its name does not end in .gz",
    ),
    (
        "tpch",
        "region_bzip2.csv",
        bz2.compress(REGION_HEADER + b"1,A,a\n"),
        "region_bzip2.csv: the file is bzip2-compressed, but its name does not end in .bz2",
    ),
    (
        "tpch",
        "region_workbook.csv",
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00[Content_Types].xml",
        "region_workbook.csv: the file is a ZIP archive (an Excel .xlsx workbook?), not CSV text",
    ),
    (
        "tpch",
        "region_workbook97.csv",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00\x00\x00",
        "region_workbook97.csv: the file is an Excel 97-2003 workbook (.xls), not CSV text",
    ),
    # A compressed file cut short (an interrupted upload) or not what its name says.
    (
        "tpch",
        "region_truncated.csv.gz",
        gzip.compress(REGION_HEADER + b"".join(b"%d,R%d,c\n" % (i, i) for i in range(20000)), mtime=0)[:3000],
        "region_truncated.csv.gz: cannot be decompressed (java.io.EOFException: Unexpected end of input stream)",
    ),
    ("tpch", "region_plain.csv.gz", REGION_HEADER + b"1,A,a\n", "region_plain.csv.gz: cannot be decompressed ("),
    (
        "consultations",
        "consultations_truncated.csv.bz2",
        bz2.compress(CONSULTATIONS_HEADER + b"".join(consultation(i) for i in range(2000)))[:2000],
        "consultations_truncated.csv.bz2: cannot be decompressed (",
    ),
]


@pytest.mark.parametrize(
    ("dataset", "name", "content", "message"), UNUSABLE_FILES, ids=[case[1] for case in UNUSABLE_FILES]
)
def test_unusable_files_fail_the_job_with_one_line_and_keep_nothing(tmp_path, dataset, name, content, message):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    landing.mkdir()
    (landing / name).write_bytes(content)
    with pytest.raises(JobFailedError) as raised:
        run_job("extract", dataset, lake, "unusable", landing)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert not (lake / f"_state/{dataset}/extract_ledger.json").exists()
    assert not list((lake / "raw").rglob("*.parquet")) if (lake / "raw").exists() else True
