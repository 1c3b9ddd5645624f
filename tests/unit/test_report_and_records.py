from etl_lib.records import CsvCount, FileRecords, csv_records, line_records, mismatches, whole_text_records
from etl_lib.rules.report import QualityReport, RuleResult, extract_results, render_markdown


def test_line_records_count_non_blank_lines_without_the_header_and_find_it_repeated(spark):
    lines = spark.createDataFrame(
        [("a", "h"), ("a", "1"), ("a", "  "), ("a", ""), ("a", "\t \x0b\x0c"), ("a", "2"), ("b", "h"), ("b", "h"),
         ("c", ""), ("d", "h"), ("d", '1,"x ""y"" z"'), ("d", '2,"open')],
        "file string, value string",
    )  # fmt: skip
    assert line_records(lines, {b"h"}) == {
        "a": FileRecords(2, 3),
        "b": FileRecords(1, 0, repeated_headers=1),
        "c": FileRecords(0, 1),
        "d": FileRecords(2, 0, unbalanced_quotes=True),
    }


def test_csv_records_allow_quoted_line_breaks_and_find_unclosed_quotes():
    assert csv_records('h1,h2\r\n1,"two\nlines"\r\n\r\n3,x\r\n', ",") == CsvCount(
        2, 1, 0, spans_lines=True, line_end="\r\n"
    )
    assert csv_records('\ufeffh1,h2\n1,"two\nlines"\nh1,h2\n"h1",h2\n', ",") == CsvCount(3, 0, 2, spans_lines=True)
    assert csv_records('h1,h2\n1,O"BRIEN\n', ",") == CsvCount(1, 0, 0)  # a quote inside a field quotes nothing
    assert csv_records('h1,h2\n1,ok\n2,"open\n3,x\n', ",") == CsvCount(
        0, 0, 0, "an unclosed quote in the record starting at line 3"
    )


def test_line_ends_are_mixed_only_when_records_end_in_more_than_one_way():
    one_kind = ("h\n1,x\n", "h\r\n1,x\r\n", "h\r1,x\r", 'h,n\r\n1,"a\nb"\r\n2,"c ""q""\rd"\r\n', "h\n", "h\r\n1,x")
    for text in one_kind:
        assert csv_records(text, ",").mixed_line_ends == "", text
    assert csv_records("h\n1,x\r\n2,y\n", ",").mixed_line_ends == "line 1 ends in LF, line 2 in CRLF"
    mixed = csv_records('h,n\r\n1,"a\n""b"""\r\n\r\n2,y\r3,z', ",").mixed_line_ends
    assert mixed == "line 1 ends in CRLF, line 5 in CR"
    # A quote inside a field opens no quoted field: the line end after it ends a record.
    assert csv_records('h,n\r\n5,O"BRIEN\n6,x\r\n', ",").mixed_line_ends == "line 1 ends in CRLF, line 2 in LF"


def test_a_whole_file_with_mixed_line_ends_is_counted_by_lines_unless_a_quoted_field_spans_lines():
    assert whole_text_records('h,n\r\n1,"a\nb"\r\n', ",") == FileRecords(1, 0, read_whole=True, line_end="\r\n")
    assert whole_text_records("h,n\n1,x\r\n  \r\nh,n\n2,y", ",", {b"h,n"}) == FileRecords(
        3,
        1,
        repeated_headers=1,
        read_by_lines_because="line 1 ends in LF, line 2 in CRLF, and no quoted field spans lines",
    )
    assert whole_text_records('h,n\n1,"a\nb"\r\n', ",") == (
        "line ends mixed (line 1 ends in LF, line 3 in CRLF) in a file whose quoted fields span lines: Spark's "
        "multi-line CSV reader would take the first as the only line end; re-send it with one kind of line end"
    )
    assert whole_text_records('h,n\n1,"open\r\n', ",") == "an unclosed quote in the record starting at line 2"


def test_a_line_based_tables_file_is_read_whole_only_when_a_record_spans_lines():
    spanning = whole_text_records('h,n\n1,"a\nb"\n', ",", multiline=False)
    assert spanning == FileRecords(1, 0, read_whole=True, line_end="\n")
    inner_quote = whole_text_records('h,n\n1,O"BRIEN\n2,x\n', ",", multiline=False)
    assert inner_quote == FileRecords(2, 0, unbalanced_quotes=True)


def test_mismatches_name_each_file_with_both_counts():
    physical = {"f1": FileRecords(3, 0), "f2": FileRecords(2, 0)}
    assert mismatches(physical, {"f1": 3, "f2": 1}, ["f1", "f2"]) == ["f2: 2 records in the file but 1 read"]


def test_report_status_and_markdown_show_dqdl_rules_and_glue_outcomes():
    results = (
        *extract_results("orders", {"rows_read": 10, "quarantine_by_rule": {"parse:o_orderdate": 1}}),
        RuleResult("orders", 'ColumnValues "o_orderstatus" in ["F","O","P"]', "transform", "quarantine", 9, 1,
                   "quarantined", samples=("orders.csv, o_orderkey='7'",), evaluated_metrics={"Compliance": 8 / 9}),
        RuleResult("orders", "RowCount > 100", "transform", "warn", 1, 1, "warned",
                   "Value: 9 does not meet the constraint requirement", evaluated_metrics={"Dataset.*.RowCount": 9.0}),
    )  # fmt: skip
    report = QualityReport("tpch", "r1", "2026-11-21T00:00:00+00:00", results,
                           tables={"orders": {"rows_read": 10, "rows_written": 8, "rows_quarantined": 2}})  # fmt: skip
    assert report.status == "quarantined"
    data = report.to_dict()
    assert (data["rules_broken"], data["rules_checked"]) == (3, 3)
    assert [rule["outcome"] for rule in data["rules"]] == ["Failed", "Failed", "Failed"]
    markdown = render_markdown(data)
    assert "**Status: QUARANTINED** - 3 of 3 rules broken" in markdown
    assert "| orders | 10 | 8 | 2 |" in markdown
    assert "| orders | extract | `parse:o_orderdate` | Failed | quarantine | 10 | 1 | quarantined |" in markdown
    assert (
        '| orders | transform | `ColumnValues "o_orderstatus" in ["F","O","P"]` | Failed | quarantine | 9 | 1 |'
        in markdown
    )
    assert "- orders.csv, o_orderkey='7'" in markdown
    assert "- Value: 9 does not meet the constraint requirement" in markdown
    assert "- Dataset.*.RowCount = 9" in markdown
    failed = QualityReport(
        "tpch", "r1", "2026-11-21T00:00:00+00:00", results, ("orders: RowCount > 0 (severity fail)",)
    )
    assert failed.status == "failed"
    assert "## Failures" in render_markdown(failed.to_dict())
    passed = QualityReport(
        "tpch", "r1", "t", (RuleResult("orders", "RowCount > 0", "transform", "fail", 1, 0, "passed"),)
    )
    assert (passed.status, passed.to_dict()["rules"][0]["outcome"]) == ("passed", "Passed")


def test_the_line_end_a_whole_file_is_read_with_is_the_one_its_records_end_in():
    assert csv_records('h\r\n1,"a\nb"\r\n2,c\r\n', ",").line_end == "\r\n"  # Excel: LF in cells, CRLF rows
    assert csv_records('h\n1,"a\r\nb"\n', ",").line_end == "\n"
    assert csv_records('h\r1,"a\rb"\r', ",").line_end == "\r"
    assert csv_records("h\n1,x\n", ",").line_end == "\n"
    assert csv_records('h,n,"a\r\nb"', ",").line_end == "\n"  # no record ends in one: any will do
    assert whole_text_records('h,n\r\n1,"a\r\nb"\r\n', ",") == FileRecords(1, 0, read_whole=True, line_end="\r\n")
