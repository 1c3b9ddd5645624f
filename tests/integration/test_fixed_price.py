"""The fixed price of a run: Spark jobs counted per table and kept within a budget, tables side by
side, and the record reconciliation kept file by file although no job reads the output back."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from py4j import protocol as py4j_protocol
from pyspark.sql import functions as F

from etl_lib import records, storage
from etl_lib.job import JobFailedError
from etl_lib.steps import extract
from tests.integration.conftest import rewrite_lake_file, run_all, run_job
from tests.integration.test_malformed_files import consultation
from tests.integration.test_redelivery import RAW, deliver

# Spark jobs a table may start: extract counts the records (1; none when its files are small enough
# to count on the driver), writes raw (1), and only when some rows are quarantined writes them (1)
# and counts them by rule (2); transform counts raw and sees whether its key repeats in one pass
# (2: AQE runs a shuffle's map side as a job of its own), looks for repeated keys of other key
# rules (2 a rule), broadcasts each parent (1 each), writes silver (1), and only with quarantined
# rows writes, counts and samples them.
EXTRACT_BUDGET = {"clean": 3, "quarantining": 6}
TRANSFORM_BUDGET = 12


def test_every_table_reports_its_spark_jobs_and_keeps_to_its_budget(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    deliver(landing, [consultation(i) for i in (1, 2, 3)])
    deliver(landing, [consultation(4), consultation(5, patient_age="old")], name="consultations_2024_04.csv")
    summaries = run_all("consultations", landing, lake, "r1")
    for step in ("extract", "transform"):
        tables = summaries[step]["tables"]
        assert all(counts["spark_jobs"] >= 1 for counts in tables.values()), tables
        assert summaries[step]["spark_jobs"] >= sum(counts["spark_jobs"] for counts in tables.values())
    for counts in summaries["extract"]["tables"].values():
        assert counts["spark_jobs"] <= EXTRACT_BUDGET["quarantining" if counts["rows_quarantined"] else "clean"]
    assert all(c["spark_jobs"] <= TRANSFORM_BUDGET for c in summaries["transform"]["tables"].values())


def spark_jobs_started(spark):
    """Every Spark job the session has started so far (the scheduler's own count)."""
    return spark.sparkContext._jsc.sc().dagScheduler().numTotalJobs()


def test_a_steps_spark_jobs_are_every_job_it_started_gold_tables_included(spark, tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    deliver(landing, [consultation(i) for i in (1, 2, 3)])
    for step in ("extract", "transform", "load"):
        before = spark_jobs_started(spark)
        summary = run_job(step, "consultations", lake, "r1", landing if step == "extract" else None)
        assert summary["spark_jobs"] == spark_jobs_started(spark) - before, step
    assert summary["status"] == "succeeded"


def catalog_columns(lake, dataset):
    catalog = json.loads((lake / "_catalog" / f"{dataset}.json").read_text())
    return {name: (entry["columns"], entry["partition_keys"]) for name, entry in catalog["tables"].items()}


def test_load_publishes_with_the_schemas_transform_recorded_and_starts_no_spark_job(spark, tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    deliver(landing, [consultation(i) for i in (1, 2, 3)])
    run_job("extract", "consultations", lake, "r1", landing)
    run_job("transform", "consultations", lake, "r1")
    before = spark_jobs_started(spark)
    assert run_job("load", "consultations", lake, "r1")["spark_jobs"] == 0
    assert spark_jobs_started(spark) == before
    published = catalog_columns(lake, "consultations")
    # A manifest of an earlier release records no schema: load reads the files' footers for it,
    # and the catalog says the same.
    manifest_path = lake / "gold/consultations/_manifests/r1.json"
    manifest = json.loads(manifest_path.read_text())
    for entry in manifest["tables"].values():
        del entry["schema"]
    rewrite_lake_file(manifest_path, json.dumps(manifest))
    (lake / "_catalog/consultations.json").unlink()
    assert run_job("load", "consultations", lake, "r2")["spark_jobs"] > 0
    assert catalog_columns(lake, "consultations") == published
    assert ["year", "int"] in published["fact_consultation"][1]


def test_small_files_are_counted_without_a_spark_job(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    for month in range(1, 7):  # a multi-line table
        deliver(landing, [consultation(10 * month + i) for i in (1, 2)], name=f"consultations_2024_{month:02}.csv")
    extracted = run_job("extract", "consultations", lake, "r1", landing)["tables"]["consultations"]
    assert (extracted["rows_written"], extracted["spark_jobs"]) == (12, 1)  # the raw write only
    tpch = tmp_path / "tpch"  # a line-based table
    tpch.mkdir()
    (tpch / "region.csv").write_text('r_regionkey,r_name,r_comment\n0,AFRICA,a\n1,AMERICA,"b, c"\n')
    extracted = run_job("extract", "tpch", lake, "r1", tpch)["tables"]["region"]
    assert (extracted["rows_written"], extracted["spark_jobs"]) == (2, 1)


# Files whose records the driver counts as a Spark job would: quoted line breaks, CR-only and CRLF
# endings, a byte-order mark, blank lines, the header again, bytes that are not UTF-8, an unclosed quote.
WHOLE_FILES = {
    "quoted.csv": b'id,note\n1,"two\nlines"\n2,"a ""quote"""\n',
    "cr.csv": b"id,note\r1,a\r2,b",
    "crlf bom.csv": b'\xef\xbb\xbfid,note\r\n\r\n1,"x\r\ny"\r\n  \r\nid,note\r\n',
    "latin1.csv": b'id,note\n1,caf\xe9\n2,"\xff\n\xfe"\n',
    "unclosed.csv": b'id,note\n1,"open\n2,b\n',
    "mixed ends.csv": b"id,note\n1,a\r\n \r\n2,b\r3,c\n",
    "mixed ends quoted.csv": b'id,note\r\n1,"a\nb"\n',
}


# And by lines (a line-based table): every line end, blank lines of each blank character, the
# header again (also without its byte-order mark), quotes that do and do not pair across lines.
LINE_FILES = {
    **WHOLE_FILES,
    "mixed ends line.csv": b"id,note\r\n1,a\r2,b\n3,c\r\r\n\n4,d",
    "blank kinds.csv": b"\n \n\t\x0c\x00\nid,note\n1,a\n\x0b\n \t \n2,b\n\n",
    "repeated.csv": b"\xef\xbb\xbfid,note\nid,note\n1,a\n\xef\xbb\xbfid,note\nid,note \n",
    "odd quote.csv": b'id,note\n1,"a\n2,b"\n3,"c\n',
    "unicode.csv": b"id,note\n1,\xc3\xa9t\xc3\xa9 \xe2\x80\xa8\n2,\x85\n",
    "empty.csv": b"",
    "newlines only.csv": b"\n\r\n\r",
}


def written_landing(tmp_path, contents):
    files = {}
    for name, content in contents.items():
        (tmp_path / name).write_bytes(content)
        files[(tmp_path / name).as_uri().replace(" ", "%20")] = str(tmp_path / name)
    return files


def test_counting_lines_on_the_driver_agrees_with_the_spark_job(spark, tmp_path):
    files = written_landing(tmp_path, LINE_FILES)
    first_lines = [storage.read_first_line(spark, path) or b"" for path in files.values()]
    by_job = records.count_physical_records(spark, files, False, ",", first_lines)
    on_driver = records.count_physical_records(spark, files, False, ",", first_lines, small=set(files))
    assert on_driver == by_job
    found = {uri.rsplit("/", 1)[-1]: counted for uri, counted in on_driver.items()}
    assert found["mixed%20ends%20line.csv"] == records.FileRecords(4, 2)
    quoted_and_mixed = found["mixed%20ends%20quoted.csv"]
    assert (quoted_and_mixed.records, quoted_and_mixed.unbalanced_quotes, quoted_and_mixed.read_whole) == (
        2,
        True,
        False,
    )
    assert quoted_and_mixed.read_by_lines_because.startswith("line ends mixed (line 1 ends in CRLF, line 3 in LF)")
    assert found["unclosed.csv"].read_by_lines_because == "an unclosed quote in the record starting at line 2"
    assert found["repeated.csv"] == records.FileRecords(4, 0, repeated_headers=2)  # "id,note " is not one
    assert found["quoted.csv"].read_whole
    assert found["odd%20quote.csv"].unbalanced_quotes


def test_counting_whole_files_on_the_driver_agrees_with_the_spark_job(spark, tmp_path):
    files = written_landing(tmp_path, WHOLE_FILES)
    by_job = records._whole_file_records(spark, files, ",", {b"id,note"})
    on_driver, rest = records.count_on_driver(
        spark, files, set(files), lambda c: records.whole_content_records(c, ",", {b"id,note"})
    )
    assert rest == {}
    assert by_job.keys() == files.keys()
    assert on_driver == by_job
    found = {uri.rsplit("/", 1)[-1]: counted for uri, counted in on_driver.items()}
    assert found["quoted.csv"] == records.FileRecords(2, 0, read_whole=True, line_end="\n")
    assert found["unclosed.csv"] == "an unclosed quote in the record starting at line 2"
    mixed = "line 1 ends in LF, line 2 in CRLF"
    assert found["mixed%20ends.csv"] == records.FileRecords(
        3, 1, read_by_lines_because=f"{mixed}, and no quoted field spans lines"
    )
    assert found["mixed%20ends%20quoted.csv"].startswith("line ends mixed (line 1 ends in CRLF, line 3 in LF)")


def test_a_row_moved_from_one_file_to_another_is_caught_although_the_totals_agree(spark, tmp_path, monkeypatch):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    deliver(landing, [consultation(i) for i in (1, 2, 3)])
    deliver(landing, [consultation(4), consultation(5)], name="consultations_2024_04.csv")
    read_landing = extract.read_landing

    def moving_a_row(*args):  # a reader bug: file 04 loses its row 5, file 03 gets row 1 twice
        frame, undeclared = read_landing(*args)
        kept = frame.where(F.col("id_consultation") != "5")
        return kept.unionByName(frame.where(F.col("id_consultation") == "1")), undeclared

    monkeypatch.setattr(extract, "read_landing", moving_a_row)
    with pytest.raises(JobFailedError) as failed:
        run_job("extract", "consultations", lake, "r1", landing)
    message = str(failed.value)
    assert "records would be lost" in message
    assert "consultations_2024_03.csv: 3 records in the file but 4 read" in message
    assert "consultations_2024_04.csv: 2 records in the file but 1 read" in message
    assert not list((lake / RAW).glob("_file_id=*"))  # nothing of this run was kept
    monkeypatch.undo()
    assert run_job("extract", "consultations", lake, "r1", landing)["tables"]["consultations"]["rows_written"] == 5


def test_each_java_class_is_looked_up_once_and_per_file_reads_stay_exact(spark, tmp_path):
    # A lookup by dotted name is a JVM round trip per part: per landing file, it was most of the price.
    path_class = storage.java_class(spark, "org.apache.hadoop.fs.Path")
    assert storage.java_class(spark, "org.apache.hadoop.fs.Path") is path_class
    delivery = tmp_path / "orders 1.csv"
    delivery.write_bytes(b"\xef\xbb\xbfid,note\r\n1,caf\xc3\xa9\r\n")
    assert storage.read_first_line(spark, str(delivery)) == b"\xef\xbb\xbfid,note"
    assert storage.content_checksum(spark, str(delivery)) == f"md5:{hashlib.md5(delivery.read_bytes()).hexdigest()}"


ODD_NAMES = ["orders 1.csv", "caf\u00e9 #1 %41.csv", "a+b;c=d,e'f.csv", "q?x&y[1]{a}.csv", "\u65e5\u672c.csv"]


def test_a_listed_files_uri_path_and_name_are_what_hadoop_reports(spark, tmp_path, monkeypatch):
    """list_files derives each file's path text and decoded name from its URI, two JVM calls a file
    fewer: they are Hadoop's Path.toString() and URI.getPath(), on local files and S3 URIs."""
    for name in ODD_NAMES:
        (tmp_path / name).write_text("id\n1\n")
    fs, root = storage._hadoop(spark, str(tmp_path))
    statuses, reported = fs.listFiles(root, True), []
    while statuses.hasNext():
        path = statuses.next().getPath()
        reported.append((str(path.toUri().toString()), str(path.toString()), str(path.toUri().getPath())))
    listed = storage.list_files(spark, str(tmp_path))
    assert sorted((info.uri, info.path, info.name) for info in listed) == sorted(
        (uri, path, decoded.rsplit("/", 1)[-1]) for uri, path, decoded in reported
    )
    assert sorted(info.name for info in listed) == sorted(ODD_NAMES)
    calls = JvmCalls(spark, monkeypatch)
    storage.list_files(spark, str(tmp_path))
    assert calls.count <= 10 + 7 * len(ODD_NAMES)  # 9 a file before
    monkeypatch.undo()
    path_class = storage.java_class(spark, "org.apache.hadoop.fs.Path")
    for name in ODD_NAMES:
        on_s3 = path_class(f"s3a://lake-bucket/landing/x y/{name}")
        uri = on_s3.toUri()
        assert storage.path_of_uri(str(uri.toString())) == (str(on_s3.toString()), str(uri.getPath()))


def first_line_by_java(spark, path):
    """The first non-blank line as Java's BufferedReader reads it: the reference."""
    stream = storage._open_content(spark, path)
    try:
        reader = storage.java_class(spark, "java.io.BufferedReader")(
            storage.java_class(spark, "java.io.InputStreamReader")(stream, "UTF-8")
        )
        while (line := reader.readLine()) is not None:
            if str(line).strip(storage.BLANK_CHARACTERS):
                return str(line)
        return None
    finally:
        stream.close()


LONG = 7000  # past the bytes read in one call (storage.DIRECT_READ_BYTES)
FIRST_LINES = {
    "byte-order mark, CRLF": b"\xef\xbb\xbfid,note\r\n1,caf\xc3\xa9\r\n",
    "blank lines first, CR alone": b"\n \t\r\n\rid,note\rrest",
    "not UTF-8": b"id,caf\xe9,na\xc3\n1,2,3\n",
    "empty": b"",
    "blank lines only": b"\n\n  \n",
    "header past the first bytes": b"\n" * LONG + b"id,note\n",
    "header longer than they are": b"id," + b"x" * LONG + b"\n1\n",
    "CRLF split by their end": b"\n" * 5999 + b"\r\nid\n",
    "character split by their end": "\n".join(["", "id,nom\u00e9" * 600, "1"]).encode(),
}


@pytest.mark.parametrize("content", FIRST_LINES.values(), ids=FIRST_LINES.keys())
def test_the_first_line_is_the_line_java_reads_in_a_call_per_6000_bytes(spark, tmp_path, content, monkeypatch):
    delivery = tmp_path / "orders.csv"
    delivery.write_bytes(content)
    first_line = storage.read_first_line(spark, str(delivery))
    as_text = None if first_line is None else records.as_text_read(first_line)
    assert as_text == first_line_by_java(spark, str(delivery))
    calls = JvmCalls(spark, monkeypatch)
    storage.read_first_line(spark, str(delivery))
    assert calls.count <= 4 + max(1, -(-len(content) // storage.DIRECT_READ_BYTES))


# py4j tells the JVM when Python has dropped its proxy of a JVM object: that happens whenever
# Python's garbage collector runs, for objects of earlier code too, so it is not a call made here.
RELEASE = py4j_protocol.MEMORY_COMMAND_NAME + py4j_protocol.MEMORY_DEL_SUBCOMMAND_NAME


class JvmCalls:
    """Counts the driver's calls to the JVM while in use (releases of dropped objects aside)."""

    def __init__(self, spark, monkeypatch):
        client = spark.sparkContext._gateway._gateway_client
        self.count, send = 0, client.send_command

        def counted(command, *args, **kwargs):
            self.count += not command.startswith(RELEASE)
            return send(command, *args, **kwargs)

        monkeypatch.setattr(client, "send_command", counted)


def landing_file(name: str, checksum: str) -> storage.FileInfo:
    return storage.FileInfo(uri=f"file:/landing/{name}", path=f"/landing/{name}", name=name, size=1, modified_ms=0,
                            checksum=checksum)  # fmt: skip


def test_per_file_literals_cost_the_same_jvm_calls_for_a_thousand_files_as_for_twenty(spark, monkeypatch):
    # A map or list of F.lit values is a JVM call per value: two seconds of driver time per 1,000 files.
    odd_names = ["orders 'quoted'.csv", "back\\slash.csv", "caf\u00e9 #1 %41.csv", 'orders[1]{a}"*?.csv']
    many = [
        landing_file(name, f"md5:{index}") for index, name in enumerate(odd_names + [f"f{i}.csv" for i in range(996)])
    ]
    calls = []
    # A first pass may pay one-time lookups (py4j classes and functions) that nothing before it in the
    # process made: only the warmed-up passes are compared. Two files look up in one map; twenty
    # and a thousand in buckets of maps (literals.looked_up), the same calls whatever their number.
    for files in (many[:2], many[:20], many[:20], many):
        counter = JvmCalls(spark, monkeypatch)
        ids = extract.partition_of_each_row({info.uri: info.file_id for info in files})
        chosen = extract.literals.is_one_of(F.col(extract.FILE_ID), [info.file_id for info in files[::2]])
        delivered = {info.uri: datetime(2026, 12, 1, index % 24, tzinfo=UTC) for index, info in enumerate(files)}
        times = extract.delivery_times(files, delivered)
        calls.append(counter.count)
        monkeypatch.undo()
        schema = f"`{extract.SOURCE_FILE}` string, `{extract.FILE_ID}` string"
        rows = spark.createDataFrame([(info.uri, info.file_id) for info in files], schema)
        found = rows.select(ids.alias("id"), chosen.alias("chosen"), times.cast("timestamp")).collect()
        assert [row["id"] for row in found] == [info.file_id for info in files]
        assert [row["chosen"] for row in found] == [index % 2 == 0 for index in range(len(files))]
        # collected timestamps are the process's local time, as F.lit's were
        assert [row[2] for row in found] == [delivered[info.uri].astimezone().replace(tzinfo=None) for info in files]
    assert calls[3] == calls[2], calls


def test_a_delivery_of_many_small_files_is_one_raw_partition_of_a_parquet_file_per_core(spark, tmp_path):
    """Spark plans a task per 32 small files and each task writes a file of its own: 100 files were 4
    tasks and 4 Parquet files, and 10,000 were 313 (a partition per landing file: 100 folders)."""
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    for index in range(100):
        deliver(landing, [consultation(index)], name=f"consultations_2024_{index:03}.csv")
    extracted = run_job("extract", "consultations", lake, "r1", landing)
    assert extracted["tables"]["consultations"]["rows_written"] == 100
    partitions = list((lake / RAW).glob("_file_id=*"))
    assert len(partitions) == 1
    cores = spark.sparkContext.defaultParallelism
    assert 1 <= len(list(partitions[0].glob("*.parquet"))) <= cores
    mebibyte = 1024 * 1024
    big = storage.FileInfo(uri="file:/l/a.csv", path="/l/a.csv", name="a.csv", size=300 * mebibyte, modified_ms=0)
    assert extract.scan_tasks(spark, [big]) == max(cores, 3)  # one task per 128 MiB, as Spark splits a big file


def test_transform_plans_its_reads_in_three_splits_a_core_and_extract_and_load_as_spark_does(
    spark, tmp_path, monkeypatch
):
    """Six raw files of 40 MB were read in 3 tasks on 2 cores (a split per core's share, less each
    file's open cost): one core idle for a third of SF1 lineitem's silver write."""
    from etl_lib.steps import transform

    seen = {}
    planned = transform.transform_tables

    def transform_tables(spark_session, *rest):
        seen["transform"] = spark_session.conf.get("spark.sql.files.minPartitionNum", None)
        return planned(spark_session, *rest)

    monkeypatch.setattr(transform, "transform_tables", transform_tables)
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    deliver(landing, [consultation(1)])
    run_all("consultations", landing, lake, "r1")
    assert seen["transform"] == str(3 * spark.sparkContext.defaultParallelism)
    assert spark.conf.get("spark.sql.files.minPartitionNum", None) is None  # extract and load plan as Spark does
