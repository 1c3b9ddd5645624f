from etl_lib.records import FileRecords, csv_records, line_records, mismatches
from etl_lib.report import QualityReport, RuleResult, extract_results, render_markdown


def test_line_records_count_non_blank_lines_without_the_header(spark):
    lines = spark.createDataFrame(
        [("a", "h"), ("a", "1"), ("a", "  "), ("a", ""), ("a", "2"), ("b", "h"), ("c", "")], "file string, value string"
    )
    assert line_records(lines) == {"a": FileRecords(2, 2), "b": FileRecords(0, 0), "c": FileRecords(0, 1)}


def test_csv_records_allow_quoted_line_breaks_and_find_unclosed_quotes():
    assert csv_records('h1,h2\r\n1,"two\nlines"\r\n\r\n3,x\r\n', ",") == (2, 1, None)
    assert csv_records('h1,h2\n1,ok\n2,"open\n3,x\n', ",") == (
        0,
        0,
        "an unclosed quote in the record starting at line 3",
    )


def test_mismatches_name_each_file_with_both_counts():
    physical = {"f1": FileRecords(3, 0), "f2": FileRecords(2, 0)}
    assert mismatches(physical, {"f1": 3, "f2": 1}, ["f1", "f2"]) == ["f2: 2 records in the file but 1 read"]


def test_report_status_and_markdown():
    report = QualityReport("tpch", "r1", "2026-11-21T00:00:00+00:00")
    report.tables["orders"] = {"rows_read": 10, "rows_written": 8, "rows_quarantined": 2}
    report.results += extract_results("orders", {"rows_read": 10, "quarantine_by_rule": {"parse:o_orderdate": 1}})
    report.results.append(RuleResult("orders", "allowed_values:o_orderstatus", "transform", "quarantine", 9, 1,
                                      "quarantined", samples=("o_orderstatus='X' is not one of F, O, P",)))  # fmt: skip
    assert report.status == "quarantined"
    data = report.to_dict()
    assert (data["rules_broken"], data["rules_checked"]) == (2, 2)
    markdown = render_markdown(data)
    assert "**Status: QUARANTINED** - 2 of 2 rules broken" in markdown
    assert "| orders | 10 | 8 | 2 |" in markdown
    assert "| orders | extract | `parse:o_orderdate` | quarantine | 10 | 1 | quarantined |" in markdown
    assert "- o_orderstatus='X' is not one of F, O, P" in markdown
    report.failures.append("orders: min_rows (severity fail): 0 clean rows")
    assert report.status == "failed"
    assert "## Failures" in render_markdown(report.to_dict())
