import datetime as dt
import json

import pytest

from etl_lib import ledger
from etl_lib.storage import FileInfo, file_id
from etl_lib.summary import AccountingError, TableCounts, new_summary

START = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)


def test_accounting_mismatch_fails_with_the_numbers():
    summary = new_summary("transform", "tpch", "r1", "jr", START)
    summary.tables["orders"] = TableCounts(rows_read=10, rows_written=7, rows_quarantined=2)
    summary.tables["region"] = TableCounts(rows_read=5, rows_written=5)
    with pytest.raises(AccountingError, match=r"orders: read 10 != written 7 \+ quarantined 2") as raised:
        summary.check_accounting()
    assert "region" not in str(raised.value)


def test_summary_json_has_totals_and_duration():
    summary = new_summary("extract", "tpch", "r1", "jr", START)
    summary.tables["a"] = TableCounts(rows_read=3, rows_written=2, rows_quarantined=1)
    summary.finish("succeeded", "ok", now=START + dt.timedelta(seconds=90))
    data = json.loads(summary.to_json())
    assert data["totals"] == {"rows_read": 3, "rows_written": 2, "rows_quarantined": 1, "rows_superseded": 0}
    assert data["duration_seconds"] == 90.0
    assert data["status"] == "succeeded"


def info(name, size=10, modified=1):
    return FileInfo(uri=f"s3://landing/{name}", path=f"s3://landing/{name}", name=name, size=size, modified_ms=modified)


def test_ledger_picks_new_and_redelivered_files_only():
    seen = ledger.parse_ledger(ledger.record_files({}, [info("a.csv"), info("b.csv")], "r1", {
        "s3://landing/a.csv": "t", "s3://landing/b.csv": "t"}))  # fmt: skip
    current = [info("a.csv"), info("b.csv", size=11), info("c.csv")]
    assert [f.name for f in ledger.new_files(current, seen, reprocess=False)] == ["b.csv", "c.csv"]
    assert [f.name for f in ledger.new_files(current, seen, reprocess=True)] == ["a.csv", "b.csv", "c.csv"]
    assert seen["s3://landing/a.csv"]["file_id"] == file_id("s3://landing/a.csv")


def test_empty_ledger_text_means_nothing_seen():
    assert ledger.parse_ledger(None) == {}
    assert ledger.parse_ledger("") == {}
