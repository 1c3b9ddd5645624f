import datetime as dt
import json
from dataclasses import replace

import pytest

from etl_lib import ledger, storage
from etl_lib.storage import FileInfo, file_id
from etl_lib.summary import LOG_LINE_LIMIT, AccountingError, TableCounts, log_line, new_summary

START = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)


def test_accounting_mismatch_fails_with_the_numbers():
    summary = new_summary("transform", "tpch", "r1", "jr", START)
    summary.tables["orders"] = TableCounts(rows_read=10, rows_written=7, rows_quarantined=2)
    summary.tables["region"] = TableCounts(rows_read=5, rows_written=5)
    with pytest.raises(AccountingError, match=r"orders: read 10 != written 7 \+ quarantined 2") as raised:
        summary.check_accounting()
    assert "region" not in str(raised.value)


def test_rows_deleted_at_the_source_are_accounted_for():
    summary = new_summary("transform", "retail", "r2", "jr", START)
    summary.tables["sales_order"] = TableCounts(rows_read=10, rows_written=6, rows_quarantined=1, rows_superseded=1,
                                                rows_deleted_at_source=2)  # fmt: skip
    summary.check_accounting()
    summary.tables["sales_order"] = TableCounts(rows_read=10, rows_written=6, rows_quarantined=1, rows_superseded=1)
    with pytest.raises(AccountingError, match=r"sales_order: read 10 != written 6 \+ quarantined 1 \+ superseded 1$"):
        summary.check_accounting()


def test_summary_json_has_totals_and_duration():
    summary = new_summary("extract", "tpch", "r1", "jr", START)
    summary.tables["a"] = TableCounts(rows_read=3, rows_written=2, rows_quarantined=1)
    summary.finish("succeeded", "ok", now=START + dt.timedelta(seconds=90))
    data = json.loads(summary.to_json())
    assert data["totals"] == {"rows_read": 3, "rows_written": 2, "rows_quarantined": 1, "rows_superseded": 0,
                              "rows_deleted_at_source": 0}  # fmt: skip
    assert data["duration_seconds"] == 90.0
    assert data["status"] == "succeeded"


def info(name, size=10, modified=1, checksum="md5:aaa"):
    return FileInfo(uri=f"s3://landing/{name}", path=f"s3://landing/{name}", name=name, size=size,
                    modified_ms=modified, checksum=checksum)  # fmt: skip


URIS = [f"s3://landing/{name}" for name in ("a.csv", "b.csv", "d.csv", "gone.csv")]


def recorded(files, table_of, records=None, ingested_at=None, run_id="r1"):
    """The ledger with these files recorded, each in a partition of its own, read under declaration v1."""
    return ledger.parse_ledger(ledger.record_files({}, files, run_id, table_of, {"t": "v1"}, records or {},
                                                   ingested_at or {f.uri: START for f in files},
                                                   {f.uri: f.file_id for f in files}))  # fmt: skip


def test_ledger_picks_new_and_redelivered_files_by_content_only():
    seen = recorded([info("a.csv"), info("b.csv"), info("d.csv")], dict.fromkeys(URIS, "t"), {"s3://landing/a.csv": 12})
    current = [
        info("a.csv", modified=99),  # the same content sent again: not read again
        info("b.csv", checksum="md5:bbb"),  # other content, same size and time: read again
        info("c.csv"),
        info("d.csv", size=11, modified=2),
    ]
    assert [f.name for f in ledger.new_files(current, seen, reprocess=False, reading="v1")] == ["b.csv", "c.csv"]
    everything = ledger.new_files(current, seen, reprocess=True, reading="v1")
    assert [f.name for f in everything] == ["a.csv", "b.csv", "c.csv", "d.csv"]
    assert seen["s3://landing/a.csv"]["file_id"] == file_id("s3://landing/a.csv", "md5:aaa")
    assert (seen["s3://landing/a.csv"]["records"], seen["s3://landing/b.csv"]["records"]) == (12, None)
    assert ledger.partitions(seen, "t") == {file_id(f"s3://landing/{n}.csv", "md5:aaa") for n in "abd"}
    del seen["s3://landing/d.csv"]["partition"]  # recorded before files were batched: its file id was its partition
    assert ledger.partitions(seen, "t") == {file_id(f"s3://landing/{n}.csv", "md5:aaa") for n in "abd"}


def test_a_file_still_at_the_version_recorded_keeps_its_checksum_and_any_other_is_checksummed_again():
    versioned = [replace(info(name), version=f"etag-{name}") for name in ("a.csv", "b.csv")] + [info("d.csv")]
    seen = recorded(versioned, dict.fromkeys(URIS, "t"))
    assert seen["s3://landing/a.csv"]["version"] == "etag-a.csv"
    listed = [
        replace(info("a.csv", checksum=""), version="etag-a.csv"),  # the same write of the object
        replace(info("b.csv", checksum=""), version="etag-b2"),  # written again
        replace(info("c.csv", checksum=""), version="etag-c.csv"),  # new
        info("d.csv", checksum=""),  # a file system whose listing names no version (local files)
    ]
    assert ledger.unchanged_checksums(listed, seen) == {"s3://landing/a.csv": "md5:aaa"}
    checksummed = [replace(file, checksum="md5:aaa") for file in listed[1:]]  # b and d: the same content
    updated = ledger.with_versions(seen, [*checksummed, replace(listed[1], checksum="md5:other")])
    assert {uri: entry.get("version") for uri, entry in updated.items()} == {
        "s3://landing/a.csv": "etag-a.csv",
        "s3://landing/b.csv": "etag-b2",  # rewritten with the same content: its new version is recorded
        "s3://landing/d.csv": "",  # listed without a version: nothing to record
    }
    assert ledger.with_versions(seen, [replace(listed[1], checksum="md5:other")]) == seen


def test_files_read_under_another_declaration_are_read_again_or_named_when_gone():
    table_of = {f"s3://landing/{name}": "t" for name in ("a.csv", "b.csv", "gone.csv")}
    seen = recorded([info("a.csv"), info("b.csv"), info("gone.csv")], table_of)
    seen["s3://landing/b.csv"].pop("reading")  # recorded before readings were: taken as the current one
    current = [info("a.csv"), info("b.csv"), info("c.csv")]
    assert [f.name for f in ledger.new_files(current, seen, reprocess=False, reading="v1")] == ["c.csv"]
    assert [f.name for f in ledger.new_files(current, seen, reprocess=False, reading="v2")] == ["a.csv", "c.csv"]
    assert ledger.read_differently(current, seen, "v2") == ["s3://landing/a.csv"]
    assert ledger.read_differently(current, seen, "v1") == []
    uris = [f.uri for f in current]
    assert ledger.left_with_another_reading(seen, "t", "v2", uris) == ["s3://landing/gone.csv"]
    assert ledger.left_with_another_reading(seen, "t", "v1", uris) == []
    assert ledger.left_with_another_reading(seen, "other", "v2", uris) == []
    kept = ledger.with_readings_kept(seen, ["s3://landing/gone.csv"], "v2")
    assert ledger.left_with_another_reading(kept, "t", "v2", uris) == []
    assert kept["s3://landing/gone.csv"]["typed_under"] == "v1"
    assert seen["s3://landing/gone.csv"]["reading"] == "v1"  # the ledger given is left as it was


def test_a_delivery_read_again_keeps_the_time_it_was_first_read():
    seen = recorded([info("a.csv"), info("b.csv")], {URIS[0]: "t", URIS[1]: "t"})
    seen[URIS[1]].pop("ingested_at")  # recorded before ingestion times were: read again as new
    later = START + dt.timedelta(days=3)
    current = [info("a.csv"), info("b.csv"), info("a.csv", checksum="md5:new"), info("c.csv")]
    assert [ledger.first_ingested([f], seen, later, {}) for f in current] == [
        {URIS[0]: START},  # the same delivery read again (reprocessed, redeclared)
        {URIS[1]: later},
        {URIS[0]: later},  # another delivery under the same name
        {"s3://landing/c.csv": later},
    ]
    assert ledger.runs_without_ingestion_times(current, seen) == {"r1"}  # b.csv's run: its summary has the time
    run_started = {"r1": START.isoformat()}
    assert ledger.first_ingested([info("b.csv")], seen, later, run_started) == {URIS[1]: START}
    assert ledger.first_ingested([current[2]], seen, later, run_started) == {URIS[0]: later}  # a new delivery
    assert "ingested_at" not in seen[URIS[1]]  # the ledger given is left as it was


def test_the_same_content_under_another_name_is_found_in_the_ledger_and_in_the_delivery():
    seen = recorded([info("a.csv", checksum="md5:one")], {"s3://landing/a.csv": "t"})
    delivery = [
        info("a_copy.csv", checksum="md5:one"),  # a copy of what run r1 read
        info("c.csv", checksum="md5:two"),
        info("b.csv", checksum="md5:two"),  # the same as c.csv, first by name
        info("a.csv", checksum="md5:one"),  # itself again (reprocess): not a copy
        info("e.csv", size=0, checksum="md5:empty"),
        info("f.csv", size=0, checksum="md5:empty"),  # empty files are copies of nothing
    ]
    assert ledger.same_content(delivery, seen) == {
        "s3://landing/a_copy.csv": "s3://landing/a.csv",
        "s3://landing/c.csv": "s3://landing/b.csv",
    }


def test_a_delivery_id_depends_on_its_content_and_on_its_reading():
    assert file_id("s3://landing/a.csv", "md5:1") != file_id("s3://landing/a.csv", "md5:2")
    assert file_id("s3://landing/a.csv", "md5:1") == info("a.csv", checksum="md5:1").file_id
    read_again = replace(info("a.csv", checksum="md5:1"), reading="v2|r2")
    assert read_again.file_id == file_id("s3://landing/a.csv", "md5:1", "v2|r2")
    assert read_again.file_id != file_id("s3://landing/a.csv", "md5:1")


def test_hidden_paths_are_those_spark_and_hive_skip():
    assert storage.is_hidden("/_temporary/0/part.csv")
    assert storage.is_hidden("/.staging/x.csv")
    assert storage.is_hidden("/orders/_SUCCESS")
    assert not storage.is_hidden("/orders/orders.1.csv")
    assert not storage.is_hidden("/my_orders.csv")
    assert not storage.is_hidden("/_file_id=0a1b/part-0.parquet")  # a partition folder


def test_a_pending_record_names_the_partitions_a_run_began_and_a_broken_one_names_none():
    text = ledger.render_pending({"orders": ["b", "a"], "region": []})
    assert ledger.parse_pending(text) == {"orders": {"a", "b"}, "region": set()}
    assert ledger.parse_pending(None) == ledger.parse_pending(text[:15]) == ledger.parse_pending("[]") == {}


def test_empty_ledger_text_means_nothing_seen_and_a_broken_one_is_an_error():
    assert ledger.parse_ledger(None) == {}
    assert ledger.parse_ledger("") == {}
    with pytest.raises(ValueError, match="line 1 column"):
        ledger.parse_ledger('{"files": {"s3://landing/a.csv": {"checksum"')  # cut short
    with pytest.raises(ValueError, match='not a JSON object with "files"'):
        ledger.parse_ledger("[]")


def test_the_log_line_of_a_10000_file_run_fits_a_cloudwatch_event_and_names_the_whole_summary():
    files = [f"s3://landing/tpch/orders_{i:05}.csv" for i in range(10_000)]
    summary = new_summary("extract", "tpch", "r1", "jr_1")
    summary.tables["orders"] = TableCounts(rows_read=20_000, rows_written=20_000, files=files,
                                           file_records=dict.fromkeys(files, 2), replaced_files=files)  # fmt: skip
    summary.warnings.extend(f"{uri} was delivered again with other content" for uri in files)
    summary.finish("succeeded", "ok")
    line = log_line(summary, "s3://lake/_runs/tpch/r1/extract.json")
    assert len(line) <= LOG_LINE_LIMIT
    logged = json.loads(line)["run_summary"]
    assert logged["tables"]["orders"]["rows_written"] == 20_000
    assert "files" not in logged["tables"]["orders"]
    assert logged["totals"] == summary.totals()
    assert len(logged["warnings"]) == 20
    assert logged["left_out"] == (
        "per-file lists, 10000 warning(s) and 0 unclaimed file(s) in all: the whole summary is "
        "s3://lake/_runs/tpch/r1/extract.json"
    )
    small = new_summary("extract", "tpch", "r2", "jr_2")
    assert json.loads(log_line(small, "s3://lake/x.json")) == {"run_summary": small.to_dict()}
