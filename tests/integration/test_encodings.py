"""Landing files in an encoding other than UTF-8 (Table.encoding): a Windows export in cp1252 is
read as sent, its header included, in every way a file is counted and read; what its encoding does
not map is quarantined, never replaced silently."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from decimal import Decimal

import pytest

from etl_lib.datasets import consultations as consultations_module
from etl_lib.datasets import tpch as tpch_module
from etl_lib.datasets.base import Column
from etl_lib.job import JobFailedError
from etl_lib.steps import extract
from tests.integration.conftest import published_location, run_all, run_job
from tests.integration.test_malformed_files import CONSULTATIONS_HEADER, consultation

# The producer names the comment column in French; silver keeps the name the rules use.
REGION_HEADER = "r_regionkey,r_name,r_commenté\n"


def with_region_declared(monkeypatch, encoding: str) -> None:
    """tpch's region table as a producer on Windows sends it: its comment column named with an accent."""
    dataset = tpch_module.DATASET
    region = dataset.table("region")
    columns = tuple(Column("r_commenté", c.type) if c.name == "r_comment" else c for c in region.columns)
    declared = replace(region, columns=columns, renames={"r_commenté": "r_comment"}, encoding=encoding)
    tables = tuple(declared if table.name == "region" else table for table in dataset.tables)
    monkeypatch.setattr(tpch_module, "DATASET", replace(dataset, tables=tables))


def cp1252_region(rows: list[str]) -> bytes:
    return (REGION_HEADER + "".join(rows)).encode("cp1252")


# A file counted on the driver, one counted by a Spark job (past extract.DRIVER_READ_BYTES), and
# one read whole for its quoted line break; each repeats its header once (files concatenated).
SMALL = cp1252_region(["1,CAFÉ,€ 5 \u2013 l\u2019été\n", REGION_HEADER, "2,NAÏVE,après\n"]) + b"3,X\x81Y,undefined\n"
LARGE = cp1252_region([f"{key},RÉGION {key},n° {key} \u2013 ça\n" for key in range(10, 3010)] + [REGION_HEADER])
QUOTED = cp1252_region(['5,"DEUX\nLIGNES",déjà vu\n', "6,ŒUVRE,fin\n"])


@pytest.fixture
def landing(tmp_path):
    folder = tmp_path / "landing"
    folder.mkdir()
    for name, content in {"region_small.csv": SMALL, "region_large.csv": LARGE, "region_quoted.csv": QUOTED}.items():
        (folder / name).write_bytes(content)
    assert len(LARGE) > extract.DRIVER_READ_BYTES
    return folder


def test_a_cp1252_delivery_is_read_as_sent_in_every_way_a_file_is_counted(spark, tmp_path, landing, monkeypatch):
    with_region_declared(monkeypatch, "cp1252")
    lake = tmp_path / "lake"
    summary = run_job("extract", "tpch", lake, "r1", landing)
    region = summary["tables"]["region"]
    assert region["undeclared_columns"] == []
    assert region["rows_read"] == 4 + 3001 + 2
    assert region["quarantine_by_rule"] == {"repeated_header": 2, "encoding:r_name": 1}
    raw = {
        row.r_regionkey: (row.r_name, row["r_commenté"])
        for row in spark.read.parquet(str(lake / "raw/tpch/region")).collect()
    }
    assert raw[1] == ("CAFÉ", "€ 5 \u2013 l\u2019été")
    assert raw[2] == ("NAÏVE", "après")
    assert raw[5] == ("DEUX\nLIGNES", "déjà vu")
    assert raw[6] == ("ŒUVRE", "fin")
    assert raw[3009] == ("RÉGION 3009", "n° 3009 \u2013 ça")
    assert len(raw) == 2 + 3000 + 2
    quarantine = spark.read.parquet(str(lake / "quarantine/tpch/extract/region")).collect()
    reasons = Counter(row._reason for row in quarantine if row._rule == "encoding:r_name")
    assert reasons == {"r_name contains bytes that are not valid CP1252": 1}
    assert "region_quoted.csv: quoted fields span lines, read as multi-line CSV" in region["notes"]
    for name in ("region_small.csv", "region_large.csv"):  # counted on the driver and by a Spark job
        assert f"{name}: the header again in 1 record(s), quarantined" in region["notes"]


def test_the_same_delivery_declared_utf8_fails_on_its_accented_header(spark, tmp_path, landing, monkeypatch):
    """What the declaration changes: read as UTF-8, the header's accented column is not the declared
    one (its rows with an accent would be quarantined: the next test), and nothing is kept."""
    with_region_declared(monkeypatch, "utf-8")
    with pytest.raises(JobFailedError, match=re.escape("missing required column(s) r_commenté for table region")):
        run_job("extract", "tpch", tmp_path / "lake", "r1", landing)
    assert not list((tmp_path / "lake").glob("raw/**/*.parquet"))


def test_declaring_the_encoding_later_reads_the_files_again(spark, tmp_path, monkeypatch):
    """A table first declared UTF-8 whose producer sends cp1252: its accented rows are quarantined;
    once the team declares cp1252 the same files are read again and every row is in raw."""
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    landing.mkdir()
    (landing / "region.csv").write_bytes("r_regionkey,r_name,r_comment\n1,CAFÉ,a\n2,PLAIN,b\n".encode("cp1252"))
    first = run_job("extract", "tpch", lake, "r1", landing)
    region_counts = first["tables"]["region"]
    assert (region_counts["rows_written"], region_counts["quarantine_by_rule"]) == (1, {"encoding:r_name": 1})
    assert first["warnings"] == [
        "table region: 1 row(s) quarantined for bytes that are not valid UTF-8 (in r_name); if the producer writes "
        "another encoding (cp1252, latin-1), declare it as the table's encoding (or fallback_encoding, when files "
        "come in both) and the next run reads these files again"
    ]
    region = tpch_module.DATASET.table("region")
    tables = tuple(replace(t, encoding="windows-1252") if t is region else t for t in tpch_module.DATASET.tables)
    monkeypatch.setattr(tpch_module, "DATASET", replace(tpch_module.DATASET, tables=tables))
    again = run_job("extract", "tpch", lake, "r2", landing)
    assert [warning for warning in again["warnings"] if "quarantined for bytes" in warning] == []
    assert any("read again under the new declaration" in warning for warning in again["warnings"])
    names = sorted(row.r_name for row in spark.read.parquet(str(lake / "raw/tpch/region")).collect())
    assert names == ["CAFÉ", "PLAIN"]


def test_a_multi_line_table_in_latin1_reaches_gold_as_sent(spark, tmp_path, monkeypatch):
    table = replace(consultations_module.CONSULTATIONS, encoding="latin-1")
    monkeypatch.setattr(consultations_module, "DATASET", replace(consultations_module.DATASET, tables=(table,)))
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    landing.mkdir()
    record = consultation(1, diagnostic='"grippe saisonnière|fièvre"', specialite="pédiatre")
    content = (CONSULTATIONS_HEADER + record).replace(b"\n", b"\r\n").replace(b"|", b"\n")  # as Excel writes
    (landing / "consultations_2024_03.csv").write_bytes(content.decode("utf-8").encode("latin-1"))
    summaries = run_all("consultations", landing, lake, "r1")
    assert summaries["extract"]["tables"]["consultations"]["rows_written"] == 1
    gold = spark.read.parquet(published_location(lake, "consultations", "fact_consultation")).collect()
    assert [(row.diagnostic, row.specialite) for row in gold] == [("grippe saisonnière\nfièvre", "pédiatre")]


def test_an_encoding_spark_cannot_read_fails_the_table_with_one_line(tmp_path, landing, monkeypatch):
    with_region_declared(monkeypatch, "mac-roman")  # Python knows it, Java (x-MacRoman) not by that name
    with pytest.raises(JobFailedError) as failed:
        run_job("extract", "tpch", tmp_path / "lake", "r1", landing)
    assert "table region: encoding 'mac-roman' (mac-roman) is not an encoding Java (Spark's CSV reader) knows" in str(
        failed.value
    )
    assert not (tmp_path / "lake" / "raw").exists()


def test_a_utf8_file_with_a_byte_order_mark_in_a_cp1252_table_fails_naming_the_file(tmp_path, monkeypatch):
    """Read as cp1252 it would load `Ã©` for every `é`: its byte-order mark says what it is."""
    with_region_declared(monkeypatch, "cp1252")
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    landing.mkdir()
    (landing / "region_utf8.csv").write_bytes(("\ufeff" + REGION_HEADER + "1,CAFÉ,a\n").encode("utf-8"))
    with pytest.raises(JobFailedError) as failed:
        run_job("extract", "tpch", lake, "r1", landing)
    assert (
        "region_utf8.csv: the file starts with a UTF-8 byte-order mark: it is UTF-8 text, and table region declares "
        "cp1252; read as cp1252, each accented letter would become two"
    ) in str(failed.value)
    assert not list((lake / "raw").glob("**/*.parquet"))


def test_with_a_fallback_each_file_is_read_as_utf8_when_it_is_and_in_the_fallback_when_not(
    spark, tmp_path, monkeypatch
):
    """A producer whose exports come in both encodings: no file is read in the wrong one, whether it
    is checked on the driver or by a Spark job (past extract.DRIVER_READ_BYTES)."""
    region = tpch_module.DATASET.table("region")
    declared = replace(region, fallback_encoding="windows-1252")
    tables = tuple(declared if t is region else t for t in tpch_module.DATASET.tables)
    monkeypatch.setattr(tpch_module, "DATASET", replace(tpch_module.DATASET, tables=tables))
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    landing.mkdir()
    header = "r_regionkey,r_name,r_comment\n"
    padding = [f"{key},PAD,x\n" for key in range(100, 3100)]
    files = {
        "region_utf8_small.csv": (header + "1,ÉTÉ,\ufffd kept\n").encode("utf-8"),  # U+FFFD sent as such
        "region_cp1252_small.csv": (header + "2,CAFÉ,l\u2019été\n").encode("cp1252") + b"3,X\x81Y,unmapped\n",
        "region_utf8_large.csv": "".join([header, "4,ŒUVRE,déjà\n", *padding]).encode("utf-8"),
        "region_cp1252_large.csv": "".join([header, "5,NAÏVE,€\n", *padding]).encode("cp1252"),
    }
    for name, content in files.items():
        (landing / name).write_bytes(content)
    summary = run_job("extract", "tpch", lake, "r1", landing)
    counts = summary["tables"]["region"]
    notes = [note for note in counts["notes"] if "UTF-8" in note]
    assert sorted(notes) == [
        "region_cp1252_large.csv: not valid UTF-8, read as cp1252",
        "region_cp1252_small.csv: not valid UTF-8, read as cp1252",
    ]
    raw = {
        row.r_regionkey: (row.r_name, row.r_comment)
        for row in spark.read.parquet(str(lake / "raw/tpch/region")).collect()
    }
    assert [raw[key] for key in (2, 4, 5)] == [("CAFÉ", "l\u2019été"), ("ŒUVRE", "déjà"), ("NAÏVE", "€")]
    quarantine = spark.read.parquet(str(lake / "quarantine/tpch/extract/region")).collect()
    reasons = sorted((row.r_regionkey, row._reason) for row in quarantine)
    assert reasons == [
        ("1", "r_comment contains bytes that are not valid UTF-8 or CP1252"),  # a U+FFFD is not told from one
        ("3", "r_name contains bytes that are not valid UTF-8 or CP1252"),
    ]


def test_a_file_with_a_utf8_byte_order_mark_and_bytes_that_are_not_utf8_fails_naming_it(tmp_path, monkeypatch):
    with_region_declared(monkeypatch, "utf-8")
    table = tpch_module.DATASET.table("region")
    tables = tuple(replace(t, fallback_encoding="cp1252") if t is table else t for t in tpch_module.DATASET.tables)
    monkeypatch.setattr(tpch_module, "DATASET", replace(tpch_module.DATASET, tables=tables))
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "region_pasted.csv").write_bytes(("\ufeff" + REGION_HEADER + "1,CAFÉ,a\n").encode() + b"2,CAF\xc9,b\n")
    with pytest.raises(JobFailedError) as failed:
        run_job("extract", "tpch", tmp_path / "lake", "r1", landing)
    assert (
        "region_pasted.csv: the file starts with a UTF-8 byte-order mark but holds bytes that are not valid UTF-8: "
        "it is neither UTF-8 nor cp1252 text; re-send it in one encoding"
    ) in str(failed.value)


def test_a_european_spreadsheet_export_reaches_gold_as_sent(spark, tmp_path, monkeypatch):
    """Excel in a French locale: cp1252, ';' between fields, a decimal comma, spaces between thousands,
    CRLF, NULL for no value."""
    table = replace(
        consultations_module.CONSULTATIONS,
        encoding="cp1252",
        delimiter=";",
        decimal_separator=",",
        thousands_separator=" ",
        null_values=("NULL",),
    )
    monkeypatch.setattr(consultations_module, "DATASET", replace(consultations_module.DATASET, tables=(table,)))
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    landing.mkdir()
    header = CONSULTATIONS_HEADER.decode().replace(",", ";")
    records = [
        '1;2024-03-01;C001;P1;40;F;pédiatrie;"fièvre; toux";20;25,50\n',
        "2;2024-03-02;C001;P2;NULL;M;généraliste;angine;15;1 000,00\n",
        "3;2024-03-03;C002;P3;NULL;M;généraliste;otite;15;NULL\n",
        "4;2024-03-04;C002;P4;30;M;généraliste;otite;15;12 34,00\n",  # not groups of three: no number
    ]
    content = (header + "".join(records)).replace("\n", "\r\n").encode("cp1252")
    (landing / "consultations_2024_03.csv").write_bytes(content)
    summaries = run_all("consultations", landing, lake, "r1")
    assert summaries["extract"]["tables"]["consultations"]["quarantine_by_rule"] == {"parse:montant": 1}
    gold = spark.read.parquet(published_location(lake, "consultations", "fact_consultation")).collect()
    found = sorted((row.consultation_id, row.specialite, row.diagnostic, row.patient_age, row.montant) for row in gold)
    assert found == [
        (1, "pédiatrie", "fièvre; toux", 40, Decimal("25.50")),
        (2, "généraliste", "angine", None, Decimal("1000.00")),
        (3, "généraliste", "otite", None, None),
    ]
