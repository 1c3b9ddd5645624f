"""Producers re-send files, add folders and drop stray files: raw always holds exactly the current
delivery of each landing file, and nothing changes silently."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace

import pytest
from py4j.protocol import Py4JError

from etl_lib import ledger, storage
from etl_lib.datasets import consultations as consultations_module
from etl_lib.datasets.base import Column
from etl_lib.job import JobFailedError
from tests.integration.conftest import published_location, rewrite_lake_file, run_all, run_job
from tests.integration.test_malformed_files import CONSULTATIONS_HEADER, consultation

FILE = "consultations_2024_03.csv"
RAW = "raw/consultations/consultations"


def deliver(landing, rows, name=FILE, header=CONSULTATIONS_HEADER):
    landing.mkdir(parents=True, exist_ok=True)
    (landing / name).write_bytes(header + b"".join(rows))


def raw_ids(spark, lake):
    return sorted(r.id_consultation for r in spark.read.parquet(str(lake / RAW)).collect())


def gold_ids(spark, lake):
    location = published_location(lake, "consultations", "fact_consultation")
    return sorted(r.consultation_id for r in spark.read.parquet(location).collect())


@pytest.fixture
def delivered(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    deliver(landing, [consultation(i) for i in (1, 2, 3)])
    run_all("consultations", landing, lake, "r1")
    return landing, lake


def test_a_failing_redelivery_keeps_the_previous_rows(spark, delivered):
    landing, lake = delivered
    ledger_before = (lake / "_state/consultations/extract_ledger.json").read_text()
    # The producer re-sends the file without a required column: the new delivery cannot be used.
    header_without_montant = CONSULTATIONS_HEADER.replace(b",montant", b"")
    deliver(landing, [consultation(7).rsplit(b",", 1)[0] + b"\n"], header=header_without_montant)
    with pytest.raises(JobFailedError, match="missing required column"):
        run_job("extract", "consultations", lake, "r2", landing)
    assert raw_ids(spark, lake) == [1, 2, 3]
    assert (lake / "_state/consultations/extract_ledger.json").read_text() == ledger_before
    # The producer sends a corrected file: it replaces the first delivery.
    deliver(landing, [consultation(8), consultation(9, montant="abc")])
    summaries = run_all("consultations", landing, lake, "r3")
    assert raw_ids(spark, lake) == [8]
    assert gold_ids(spark, lake) == [8]
    assert summaries["extract"]["tables"]["consultations"]["quarantine_by_rule"] == {"parse:montant": 1}


def test_a_same_name_redelivery_with_new_content_replaces_the_old_rows_and_says_so(spark, delivered):
    landing, lake = delivered
    before = (landing / FILE).stat()
    deliver(landing, [consultation(4), consultation(5), consultation(6)])  # same size as before
    os.utime(landing / FILE, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the same time
    summaries = run_all("consultations", landing, lake, "r2")
    assert raw_ids(spark, lake) == [4, 5, 6]
    assert gold_ids(spark, lake) == [4, 5, 6]
    extract = summaries["extract"]
    assert extract["tables"]["consultations"]["replaced_files"] == [(landing / FILE).as_uri()]
    assert any(f"{FILE} was delivered again with other content" in w and "run r1" in w for w in extract["warnings"])


def test_a_redelivery_without_records_replaces_the_rows_and_the_warning_says_how_many_went(spark, delivered):
    """A producer's export that failed half-way re-sends the file with its header only: the
    newer delivery wins, as for any re-delivery, and the warning makes the loss of rows visible."""
    landing, lake = delivered
    deliver(landing, [])
    summaries = run_all("consultations", landing, lake, "r2")
    assert sum(spark.read.parquet(str(part)).count() for part in (lake / RAW).rglob("*.parquet")) == 0
    warnings = summaries["extract"]["warnings"]
    assert any(f"{FILE} was delivered again" in w and "(3 record(s) before, 0 now)" in w for w in warnings), warnings
    assert summaries["extract"]["tables"]["consultations"]["file_records"] == {(landing / FILE).as_uri(): 0}
    # No usable rows left in the table: the gold published before stays, and the run warns that it did.
    assert summaries["transform"]["status"] == "no_usable_rows"
    assert any("gold published before (if any) stays" in w for w in summaries["transform"]["warnings"])
    assert gold_ids(spark, lake) == [1, 2, 3]


def test_the_same_content_sent_again_is_not_read_again(delivered):
    landing, lake = delivered
    content = (landing / FILE).read_bytes()
    (landing / FILE).unlink()
    (landing / FILE).write_bytes(content)  # a new modification time, the same bytes
    again = run_job("extract", "consultations", lake, "r2", landing)
    assert again["status"] == "no_new_files"


def test_leftovers_of_a_run_that_died_are_removed(spark, delivered):
    landing, lake = delivered
    current = next((lake / RAW).glob("_file_id=*"))
    shutil.copytree(current, lake / RAW / "_file_id=0000deadbeef0000")  # a partition no ledger names
    deliver(landing, [consultation(10)], name="consultations_2024_04.csv")
    run_all("consultations", landing, lake, "r2")
    assert raw_ids(spark, lake) == [1, 2, 3, 10]
    assert not (lake / RAW / "_file_id=0000deadbeef0000").exists()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("deleted", r"1 delivery partition\(s\) written by earlier runs, but the ledger \S+extract_ledger.json that "
                    "names them is missing or empty: nothing was removed"),
        ("emptied", "that names them is missing or empty: nothing was removed"),
        ("cut short", r"the ledger \S+ cannot be read \(.*line 3 column .*\): nothing was read or removed"),
    ],
)  # fmt: skip
def test_a_lost_or_broken_ledger_fails_the_extract_instead_of_removing_the_rows_it_named(
    spark, delivered, damage, message
):
    """The ledger deleted by hand, or left empty or cut short by a write that died: raw's partitions
    are the only copy of the rows of files that have left landing, so extract names the problem and
    removes nothing."""
    landing, lake = delivered
    (landing / FILE).unlink()  # expired from landing
    deliver(landing, [consultation(10)], name="consultations_2024_04.csv")
    path = lake / "_state/consultations/extract_ledger.json"
    if damage == "deleted":
        path.unlink()
    else:  # as a write that died leaves it
        rewrite_lake_file(path, "" if damage == "emptied" else path.read_text()[:60])
    with pytest.raises(JobFailedError, match=message) as raised:
        run_job("extract", "consultations", lake, "r2", landing)
    assert "\n" not in str(raised.value)
    assert raw_ids(spark, lake) == [1, 2, 3]


def test_a_first_run_that_died_before_its_ledger_leaves_nothing_behind(spark, tmp_path, monkeypatch):
    """No ledger yet, and raw holds what a first run wrote before it died: those partitions are the
    run's own (it named them before writing), so the next run removes them and reads the files once."""
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    deliver(landing, [consultation(i) for i in (1, 2, 3)])

    def died(*args, **kwargs):
        raise RuntimeError("the job was stopped")

    with monkeypatch.context() as patched:
        patched.setattr(ledger, "record_files", died)
        with pytest.raises(JobFailedError, match="the job was stopped"):
            run_job("extract", "consultations", lake, "r1", landing)
    assert raw_ids(spark, lake) == [1, 2, 3]
    assert not (lake / "_state/consultations/extract_ledger.json").exists()
    run_all("consultations", landing, lake, "r2")
    assert raw_ids(spark, lake) == [1, 2, 3]
    assert len(list((lake / RAW).glob("_file_id=*"))) == 1
    assert not (lake / "_state/consultations/extract_pending.json").exists()


def test_unclaimed_files_are_a_warning_and_hidden_folders_are_ignored(spark, tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    deliver(landing, [consultation(1)])
    deliver(landing / "_temporary" / "0", [consultation(2)])  # a writer's scratch folder
    deliver(landing / ".staging", [consultation(3)])
    for stray in ("consultations_2024_05.csv.zip", "CONSULTATIONS.CSV", "readme.txt"):
        (landing / stray).write_bytes(b"x")
    extract = run_job("extract", "consultations", lake, "r1", landing)
    assert extract["status"] == "succeeded"
    assert raw_ids(spark, lake) == [1]
    assert sorted(uri.rsplit("/", 1)[1] for uri in extract["unclaimed_files"]) == [
        "CONSULTATIONS.CSV",
        "consultations_2024_05.csv.zip",
        "readme.txt",
    ]
    assert any("3 landing file(s) match no table of consultations" in w for w in extract["warnings"])


@pytest.mark.parametrize("split_bytes", ["128MB", "4KB"])
def test_within_a_file_the_later_record_of_a_key_is_the_newest(spark, tmp_path, split_bytes):
    """A producer appends corrections for keys it sent earlier in the same file: the later record
    is kept and the earlier one quarantined, also when the file is read in many splits."""
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    landing.mkdir()
    keys = range(1, 41)
    first = [b"%d,FIRST,%s" % (key, b"x" * 60) for key in keys]
    filler = [b"%d,FILLER,%s" % (key, b"y" * 60) for key in range(1000, 1400)]
    later = [b"%d,LATER,%s" % (key, b"z" * 60) for key in keys]
    (landing / "region.csv").write_bytes(b"r_regionkey,r_name,r_comment\n" + b"\n".join(first + filler + later) + b"\n")
    spark.conf.set("spark.sql.files.maxPartitionBytes", split_bytes)
    try:
        run_job("extract", "tpch", lake, "r1", landing)
        run_job("transform", "tpch", lake, "r1")
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    silver = {row.r_regionkey: row.r_name for row in spark.read.parquet(str(lake / "silver/tpch/region")).collect()}
    assert [key for key in keys if silver[key] != "LATER"] == []
    quarantined = spark.read.parquet(str(lake / "quarantine/tpch/transform/region")).collect()
    assert sorted((row.r_regionkey, row.r_name) for row in quarantined) == [(key, "FIRST") for key in keys]


def test_numbered_files_of_one_delivery_are_newest_in_number_order(spark, tmp_path):
    """A backlog of numbered updates read in one run (`region_9.csv` before `region_10.csv`, also in
    numbered folders): the highest number is the newest, as a person reads the names, not as bytes sort."""
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    for number in range(1, 13):
        for name, key in ((f"region_{number}.csv", 1), (f"2024/11/{number}/region.csv", 2)):
            (landing / name).parent.mkdir(parents=True, exist_ok=True)
            (landing / name).write_bytes(b"r_regionkey,r_name,r_comment\n%d,V%d,c\n" % (key, number))
    run_job("extract", "tpch", lake, "r1", landing)
    run_job("transform", "tpch", lake, "r1")
    silver = {row.r_regionkey: row.r_name for row in spark.read.parquet(str(lake / "silver/tpch/region")).collect()}
    assert silver == {1: "V12", 2: "V12"}
    quarantined = spark.read.parquet(str(lake / "quarantine/tpch/transform/region")).collect()
    assert len(quarantined) == 22


def region_names(spark, lake):
    return {row.r_regionkey: row.r_name for row in spark.read.parquet(str(lake / "silver/tpch/region")).collect()}


@pytest.mark.parametrize("ledger_of_an_earlier_version", [False, True])
def test_a_file_read_again_keeps_its_place_in_the_delivery_order(spark, tmp_path, ledger_of_an_earlier_version):
    """A producer's part files (`part-<uuid>.csv`, names in no order) updating a key in a later
    delivery: the later delivery's row is the newest, also after every file is read again in one run
    (--reprocess true), which must not let the file names decide instead; also for files recorded
    by a version that did not keep ingestion times in the ledger (their runs' summaries have them)."""
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    landing.mkdir()
    (landing / "region-part-b7.csv").write_bytes(b"r_regionkey,r_name,r_comment\n1,FIRST,c\n")
    for run_id in ("r1", "r2"):
        run_job("extract", "tpch", lake, run_id, landing)
        run_job("transform", "tpch", lake, run_id)
        (landing / "region-part-3a.csv").write_bytes(b"r_regionkey,r_name,r_comment\n1,UPDATED,c\n")
    assert region_names(spark, lake) == {1: "UPDATED"}
    if ledger_of_an_earlier_version:
        path = lake / "_state/tpch/extract_ledger.json"
        entries = json.loads(path.read_text())["files"]
        rewrite_lake_file(path, json.dumps({"files": {uri: {k: v for k, v in entry.items() if k != "ingested_at"}
                                                      for uri, entry in entries.items()}}))  # fmt: skip
    again = run_job("extract", "tpch", lake, "r3", landing, reprocess="true")
    assert again["tables"]["region"]["rows_written"] == 2
    run_job("transform", "tpch", lake, "r3")
    assert region_names(spark, lake) == {1: "UPDATED"}


def test_a_file_read_again_under_a_new_declaration_stays_older_than_a_later_delivery(spark, tmp_path, monkeypatch):
    """The later delivery has left landing when the declaration changes: the earlier file, read
    again, must not become the newest row of its key."""
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    deliver(landing, [consultation(1, diagnostic="grippe")], name="consultations_2024_03.csv")
    run_all("consultations", landing, lake, "r1")
    deliver(landing, [consultation(1, diagnostic="angine")], name="consultations_2024_04.csv")
    run_all("consultations", landing, lake, "r2")
    (landing / "consultations_2024_04.csv").unlink()  # expired from landing
    redeclared(monkeypatch, {}, (Column("canal", "string", optional_in_source=True),))  # a column declared
    again = run_all("consultations", landing, lake, "r3")
    assert any("read again under the new declaration" in warning for warning in again["extract"]["warnings"])
    silver = spark.read.parquet(str(lake / "silver/consultations/consultations")).collect()
    assert [(row.consultation_id, row.diagnostic) for row in silver] == [(1, "angine")]


def test_file_names_with_spaces_percent_signs_and_glob_characters_are_read_once(spark, tmp_path):
    """Spark's readers expand glob patterns and URIs encode names: neither may lose or repeat a file."""
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    names = ["region 2024.csv", "region#2.csv", "region%3.csv", "region[4].csv", "region{5}.csv", "region*6?.csv",
             "dossier é/region7.csv", "region[!8].csv"]  # fmt: skip
    for key, name in enumerate(names, 1):
        (landing / name).parent.mkdir(parents=True, exist_ok=True)
        (landing / name).write_bytes(b"r_regionkey,r_name,r_comment\n%d,R%d,c\n" % (key, key))
    first = run_job("extract", "tpch", lake, "r1", landing)
    assert first["tables"]["region"]["rows_written"] == len(names)
    keys = sorted(row.r_regionkey for row in spark.read.parquet(str(lake / "raw/tpch/region")).collect())
    assert keys == list(range(1, len(names) + 1))
    assert run_job("extract", "tpch", lake, "r2", landing)["status"] == "no_new_files"


def test_a_file_sent_again_under_another_name_is_warned_about_and_its_rows_kept_once(spark, delivered):
    landing, lake = delivered
    shutil.copy(landing / FILE, landing / "consultations_2024_03 (1).csv")  # the producer's retry, renamed
    summaries = run_all("consultations", landing, lake, "r2")
    assert any(
        warning.startswith("consultations_2024_03 (1).csv holds the same content as consultations_2024_03.csv")
        for warning in summaries["extract"]["warnings"]
    )
    assert raw_ids(spark, lake) == [1, 1, 2, 2, 3, 3]  # every record accounted for: raw keeps both deliveries
    assert gold_ids(spark, lake) == [1, 2, 3]
    assert summaries["transform"]["tables"]["consultations"]["quarantine_by_rule"] == {
        'IsPrimaryKey "consultation_id"': 3
    }


def redeclared(monkeypatch, types, added):
    """The consultations table declared anew: column types changed, columns added."""
    table = consultations_module.CONSULTATIONS
    columns = tuple(replace(c, type=types.get(c.name, c.type)) for c in table.columns) + added
    dataset = replace(consultations_module.DATASET, tables=(replace(table, columns=columns),))
    monkeypatch.setattr(consultations_module, "DATASET", dataset)


def test_files_read_under_an_earlier_declaration_are_read_again_under_the_new_one(spark, tmp_path, monkeypatch):
    """A producer adds a column, the team declares it and widens another column's type: the files
    already read are read again (the column's values appear, the type is the new one) without new
    data, and a re-read that fails keeps the rows read before."""
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    with_channel = CONSULTATIONS_HEADER.rstrip(b"\n") + b",canal\n"
    deliver(landing, [consultation(i).rstrip(b"\n") + b",web\n" for i in (1, 2, 3)], header=with_channel)
    first = run_all("consultations", landing, lake, "r1")
    assert first["extract"]["tables"]["consultations"]["undeclared_columns"] == ["canal"]

    redeclared(monkeypatch, {"montant": "decimal(12,3)"}, (Column("priorite", "int"),))  # not in the file
    with pytest.raises(JobFailedError, match="missing required column"):
        run_job("extract", "consultations", lake, "r2", landing)
    assert raw_ids(spark, lake) == [1, 2, 3]
    redeclared(monkeypatch, {"montant": "decimal(12,3)"}, (Column("canal", "string", optional_in_source=True),))
    again = run_all("consultations", landing, lake, "r3")
    extract = again["extract"]
    assert extract["status"] == "succeeded"
    assert extract["tables"]["consultations"]["rows_written"] == 3
    assert any(f"{FILE} read again under the new declaration" in warning for warning in extract["warnings"])
    raw = spark.read.parquet(str(lake / RAW))
    assert dict(raw.dtypes)["montant"] == "decimal(12,3)"
    assert sorted((r.id_consultation, r.canal) for r in raw.collect()) == [(1, "web"), (2, "web"), (3, "web")]
    assert len(list((lake / RAW).glob("_file_id=*"))) == 1
    gold = spark.read.parquet(published_location(lake, "consultations", "fact_consultation"))
    assert sorted((r.consultation_id, r.canal) for r in gold.collect()) == [(1, "web"), (2, "web"), (3, "web")]
    nothing_new = run_job("extract", "consultations", lake, "r4", landing)
    assert nothing_new["status"] == "no_new_files"

    (landing / FILE).unlink()  # expired from landing: it cannot be read again
    redeclared(monkeypatch, {"id_patient": "int"}, (Column("canal", "string", optional_in_source=True),))
    gone = run_job("extract", "consultations", lake, "r5", landing)
    assert any("no longer in landing" in warning and FILE in warning for warning in gone["warnings"])
    with pytest.raises(JobFailedError, match=r"id_patient.*int"):
        run_job("transform", "consultations", lake, "r5", reprocess="true")  # (a new library version runs it too)
    assert run_job("extract", "consultations", lake, "r6", landing)["warnings"] == []  # warned about once


def test_on_an_object_store_only_new_or_rewritten_objects_are_read_for_their_checksum(spark, tmp_path, monkeypatch):
    """S3's listing names each object's version (its ETag, new with every write): a run reads the
    bytes of new and rewritten files for their checksum, not of every file landing holds."""
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    deliver(landing, [consultation(i) for i in (1, 2, 3)])
    listing, content_checksum, checksummed = storage.list_files, storage.content_checksum, []
    assert [info.version for info in listing(spark, str(landing))] == [""]  # local files name no version

    def checksum_counted(spark, path):
        checksummed.append(path.rsplit("/", 1)[-1])
        return content_checksum(spark, path)

    versions = {}
    monkeypatch.setattr(storage, "list_files", lambda spark, root: [replace(info, version=versions.get(info.name, ""))
                                                                    for info in listing(spark, root)])  # fmt: skip
    monkeypatch.setattr(storage, "content_checksum", checksum_counted)
    run_job("extract", "consultations", lake, "r1", landing)  # as before versions were recorded
    versions[FILE] = "etag-1"
    assert run_job("extract", "consultations", lake, "r2", landing)["status"] == "no_new_files"
    assert checksummed == [FILE, FILE]  # r2 found the content recorded, and recorded its version
    deliver(landing, [consultation(4)], name="consultations_2024_04.csv")
    versions["consultations_2024_04.csv"] = "etag-2"
    assert run_job("extract", "consultations", lake, "r3", landing)["tables"]["consultations"]["rows_written"] == 1
    assert checksummed[2:] == ["consultations_2024_04.csv"]
    deliver(landing, [consultation(5)])  # rewritten: S3 gives the object a new ETag
    versions[FILE] = "etag-3"
    summary = run_job("extract", "consultations", lake, "r4", landing)
    assert checksummed[3:] == [FILE]
    assert summary["tables"]["consultations"]["replaced_files"] == [(landing / FILE).as_uri()]
    assert raw_ids(spark, lake) == [4, 5]


def test_the_version_of_a_listed_file_is_read_the_way_its_file_system_reports_it():
    class S3AStatusBeforeEtagSource:  # Hadoop before 3.3.2: S3A's located status has getETag only
        def getEtag(self):  # noqa: N802
            raise Py4JError("Method getEtag([]) does not exist")

        def getETag(self):  # noqa: N802
            return '"9b2cf535f27731c974343645a3985328"'

    read_version = storage._version_reader(S3AStatusBeforeEtagSource())
    assert read_version(S3AStatusBeforeEtagSource()) == '"9b2cf535f27731c974343645a3985328"'


def raw_partitions(lake):
    return sorted(path.name for path in (lake / RAW).glob("_file_id=*"))


def ledger_partitions(lake):
    entries = json.loads((lake / "_state/consultations/extract_ledger.json").read_text())["files"]
    return {storage.file_name(uri): entry["partition"] for uri, entry in entries.items()}


def test_small_files_of_a_delivery_share_a_partition_and_a_redelivery_of_one_keeps_the_others(
    spark, tmp_path, monkeypatch
):
    """Three small files land in one raw partition; one is sent again with other content: the rows
    of the other two are copied to a new partition before the ledger names it, the old partition
    goes, and a run that dies before its ledger leaves the previous rows as they were."""
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    for month, ids in (("01", (1, 2)), ("02", (3, 4)), ("03", (5, 6))):
        deliver(landing, [consultation(i) for i in ids], name=f"consultations_2024_{month}.csv")
    run_all("consultations", landing, lake, "r1")
    assert len(raw_partitions(lake)) == 1
    assert len(set(ledger_partitions(lake).values())) == 1
    ledger_before = (lake / "_state/consultations/extract_ledger.json").read_text()

    deliver(landing, [consultation(i) for i in (3, 7)], name="consultations_2024_02.csv")

    def died(*args, **kwargs):
        raise RuntimeError("the job was stopped")

    with monkeypatch.context() as patched:
        patched.setattr(ledger, "record_files", died)  # after the copies, before the ledger names them
        with pytest.raises(JobFailedError, match="the job was stopped"):
            run_job("extract", "consultations", lake, "r2", landing)
    assert (lake / "_state/consultations/extract_ledger.json").read_text() == ledger_before
    assert len(raw_partitions(lake)) == 3  # the old partition, the new delivery's and the copy: none named yet

    summaries = run_all("consultations", landing, lake, "r3")
    assert raw_ids(spark, lake) == [1, 2, 3, 5, 6, 7]
    assert gold_ids(spark, lake) == [1, 2, 3, 5, 6, 7]
    partitions = ledger_partitions(lake)
    assert raw_partitions(lake) == sorted({f"_file_id={p}" for p in partitions.values()})
    assert partitions["consultations_2024_01.csv"] == partitions["consultations_2024_03.csv"]
    assert len(set(partitions.values())) == 2
    by_file = {}
    for row in spark.read.parquet(str(lake / RAW)).collect():
        by_file.setdefault(storage.file_name(row._source_file), set()).add(row.id_consultation)
    assert by_file == {"consultations_2024_01.csv": {1, 2}, "consultations_2024_02.csv": {3, 7},
                       "consultations_2024_03.csv": {5, 6}}  # fmt: skip
    extract = summaries["extract"]
    assert extract["tables"]["consultations"]["replaced_files"] == [(landing / "consultations_2024_02.csv").as_uri()]
    assert extract["tables"]["consultations"]["rows_read"] == 2


def test_a_copy_of_the_files_that_stay_that_finds_other_counts_keeps_everything_as_it_was(spark, tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    for month, ids in (("01", (1, 2)), ("02", (3, 4))):
        deliver(landing, [consultation(i) for i in ids], name=f"consultations_2024_{month}.csv")
    run_all("consultations", landing, lake, "r1")
    path = lake / "_state/consultations/extract_ledger.json"
    entries = json.loads(path.read_text())
    first = (landing / "consultations_2024_01.csv").as_uri()
    entries["files"][first]["records"] = 3  # the partition holds 2 rows of it
    rewrite_lake_file(path, json.dumps(entries))
    before = raw_partitions(lake)
    deliver(landing, [consultation(9)], name="consultations_2024_02.csv")
    stay = r"copying the rows of the 1 file\(s\) that stay in partition \S+ found other counts"
    with pytest.raises(JobFailedError, match=stay):
        run_job("extract", "consultations", lake, "r2", landing)
    assert json.loads(path.read_text()) == entries
    assert raw_partitions(lake) == before  # nothing of the run is left
    assert sorted(r.id_consultation for r in spark.read.parquet(str(lake / RAW / before[0])).collect()) == [1, 2, 3, 4]
