"""DQDL: parsing (round trips, severities, one-line errors with positions) and which rules a table gets."""

from pathlib import Path

import pytest

from etl_lib.datasets import available_datasets, get_dataset
from etl_lib.rules import rulesets
from etl_lib.rules.model import FAIL, QUARANTINE, WARN, Composite, Rule, RulesetError
from etl_lib.rules.parser import parse_ruleset

TPCH = get_dataset("tpch")
RULESETS = Path(__file__).resolve().parents[2] / "glue_jobs" / "etl_lib" / "rulesets"

EVERY_SUPPORTED_RULE = [
    'IsComplete "c"',
    'ColumnValues "c" in ["A","B",NULL,EMPTY,WHITESPACES_ONLY]',
    'ColumnValues "c" not in [1,2.5,-3]',
    'ColumnValues "c" matches "[A-Z]\\d+"',
    'ColumnValues "c" not matches "x"',
    'ColumnValues "c" between 1 and 10',
    'ColumnValues "c" not between -1.5 and 2',
    'ColumnValues "c" != "x"',
    'ColumnValues "d" > (now() - 3 days)',
    'ColumnValues "d" <= (now() + 6 hours)',
    'ColumnValues "d" >= "2024-01-01"',
    'ColumnValues "c" > 0 where "c2 = \'x\'" with threshold >= 0.9',
    'ColumnLength "c" <= 12',
    'DataFreshness "d" <= 24 hours',
    'IsUnique "c"',
    'IsUnique "a" "b"',
    'IsPrimaryKey "a" "b"',
    'ReferentialIntegrity "a,b" "parent.{x,y}" = 1.0',
    'ReferentialIntegrity "a" "parent.x" >= 0.99',
    'Completeness "c" > 0.95',
    'Uniqueness "c" = 1.0',
    'UniqueValueRatio "c" between 0.1 and 0.9',
    'DistinctValuesCount "c" < 10',
    'Mean "c" between 80 and 100',
    'Sum "c" > 0',
    'StandardDeviation "c" < 5',
    "RowCount > 0",
    "RowCount in [1,2,3]",
    "ColumnCount = 4",
    'ColumnExists "c"',
    'ColumnDataType "c" = "INTEGER"',
    'ColumnDataType "c" in ["INTEGER","LONG"]',
    'CustomSql "select count(*) from primary where c > 0" > 10',
    '(IsComplete "a") and (IsComplete "b")',
    '((ColumnValues "a" >= 0) and (ColumnValues "a" <= 1)) or (ColumnValues "a" = NULL)',
]


def texts(ruleset):
    return [(rule.text, rule.severity) for rule in ruleset.rules]


@pytest.mark.parametrize("text", EVERY_SUPPORTED_RULE)
def test_every_supported_rule_round_trips_and_is_accepted(text):
    parsed = parse_ruleset(f"Rules = [ {text} ]", "t.dqdl")
    assert [rule.text for rule in parsed.rules] == [text]
    assert texts(parse_ruleset(parsed.text)) == texts(parsed)
    for rule in parsed.rules:
        rulesets._checked(rule)  # known type, right parameters and condition


def test_a_whole_document_with_comments_metadata_and_severities():
    document = """Metadata = { "Version": "1.0" }
    # a comment line
    Rules = [
        IsComplete "a",  # severity: fail
        # severity: warn
        RowCount > 10,
        # why: the feed sometimes sends a few
        # severity: WARN
        (ColumnValues "b" > 0) or (ColumnValues "b" = NULL),
        ColumnValues "c" in ["x"]  # not a severity
    ]"""
    parsed = parse_ruleset(document, "orders.dqdl")
    assert texts(parsed) == [('IsComplete "a"', FAIL), ("RowCount > 10", WARN),
                             ('(ColumnValues "b" > 0) or (ColumnValues "b" = NULL)', WARN),
                             ('ColumnValues "c" in ["x"]', None)]  # fmt: skip
    assert parsed.rules[0].position.line == 4
    assert str(parsed.rules[3].position) == "orders.dqdl:10:9"
    assert isinstance(parsed.rules[2], Composite)
    assert all(isinstance(r, Rule) for r in parsed.rules[2].rules)
    assert texts(parse_ruleset(parsed.text)) == texts(parsed)


def test_an_empty_ruleset():
    assert parse_ruleset("Rules = [ ]").rules == ()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('Rules = [ "a" ]', "t.dqdl:1:11: unexpected \"a\"; expected (, ], a rule type"),
        ('Rules = [ IsComplete "a" ', "t.dqdl:1:22: the ruleset ends early"),
        ('Rules = [\n  IsComplete "a"\n  IsComplete "b"\n]',
         "t.dqdl:3:3: unexpected IsComplete; expected ), ,, ], a comparison,"),
        ('Rules = [ ColumnValues "a" between 1 or 2 ]', "t.dqdl:1:38: between needs `and`, not `or`"),
        ('Rules = [ (IsComplete "a") and (IsComplete "b") or (IsComplete "c") ]',
         "t.dqdl:1:12: mix of `and` and `or` without parentheses"),
        ('Rules = [ IsComplete "a" # severity: loud\n]', "t.dqdl:1:26: severity 'loud' is not one of"),
        ("Rules = [ RowCount > 3 $ ]", "t.dqdl:1:24: unexpected character '$'"),
        ('Rules = [ DataFreshness "d" <= 1.5 hours ]', "t.dqdl:1:32: a duration is a whole number"),
        ('Rules = [ ColumnValues "a" in ["x" ]', "t.dqdl:1:36: the ruleset ends early"),
        ('Rules = [ IsComplete "a" ]\n# severity: fail', "t.dqdl:2:1: severity comment after the last rule"),
    ],
)  # fmt: skip
def test_syntax_errors_are_one_line_with_the_position(document, message):
    with pytest.raises(RulesetError) as raised:
        parse_ruleset(document, "t.dqdl")
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('IsComplet "a"', "t.dqdl:2:3: IsComplet \"a\": unknown rule type 'IsComplet' (supported: IsComplete,"),
        ('Entropy "a" > 1', 't.dqdl:2:3: Entropy "a" > 1: rule type Entropy is not supported here'),
        ('IsComplete "a" "b"', "IsComplete takes 1 parameter(s), got 2"),
        ('IsComplete "a" > 1', "IsComplete takes no condition"),
        ('ColumnValues "a"', "ColumnValues needs condition"),
        ('RowCount "a" > 1', "RowCount takes 0 parameter(s), got 1"),
        ("IsUnique", "IsUnique takes one or more column names, got 0"),
        ('ColumnValues "a" > 3 days', "only DataFreshness compares durations"),
        ('DataFreshness "a" > 3', "only DataFreshness compares durations"),
        ('ReferentialIntegrity "a,b" "parent.x" = 1.0', 'expected "col1,col2" "parent_table.{col1,col2}"'),
        ("# severity: quarantine\n  RowCount > 0", "only rules judged per row (no threshold) can quarantine"),
        ('# severity: quarantine\n  ColumnValues "a" > 0 with threshold > 0.9', "only rules judged per row"),
        ('(IsUnique "a") or (IsComplete "b")', "cannot be combined in a composite here"),
        (
            'ReferentialIntegrity "a" "customer.x" = 1.0 with threshold > 0.5',
            "ReferentialIntegrity has its own condition",
        ),
    ],
)
def test_rules_that_cannot_be_evaluated_are_refused_naming_rule_and_position(text, message):
    ruleset = parse_ruleset(f"Rules = [\n  {text}\n]", "t.dqdl")
    with pytest.raises(RulesetError) as raised:
        rulesets.table_rules(TPCH.table("orders"), TPCH, ruleset)
    assert message in str(raised.value)
    assert str(raised.value).startswith("t.dqdl:")
    assert "\n" not in str(raised.value)


def test_the_model_rules_come_first_and_cannot_be_removed_or_weakened():
    orders = TPCH.table("orders")
    empty = rulesets.table_rules(orders, TPCH, parse_ruleset("Rules = [ ]"))
    assert [(rule.text, rule.severity) for rule in empty.rules] == [
        ('IsPrimaryKey "o_orderkey"', QUARANTINE),
        ('IsComplete "o_custkey"', QUARANTINE),
        ('ReferentialIntegrity "o_custkey" "customer.c_custkey" = 1.0', QUARANTINE),
    ]
    restated = parse_ruleset('Rules = [ RowCount > 0,\n# severity: fail\nIsPrimaryKey "o_orderkey" ]')
    rules = rulesets.table_rules(orders, TPCH, restated)
    assert (rules.rules[0].text, rules.rules[0].severity) == ('IsPrimaryKey "o_orderkey"', FAIL)
    assert [rule.text for rule in rules.judged_on_dataset] == ["RowCount > 0"]
    weakened = parse_ruleset('Rules = [ # severity: warn\nIsComplete "o_custkey" ]', "o.dqdl")
    with pytest.raises(RulesetError, match="the gold model relies on this rule"):
        rulesets.table_rules(orders, TPCH, weakened)
    unknown = parse_ruleset('Rules = [ ReferentialIntegrity "o_clerk" "clerks.id" = 1.0 ]', "o.dqdl")
    with pytest.raises(RulesetError, match=r"o.dqdl:1:11: .*'clerks' is not a table of dataset tpch"):
        rulesets.table_rules(orders, TPCH, unknown)


def test_thresholds_and_warnings_are_judged_on_the_table_and_the_rest_per_row():
    ruleset = parse_ruleset("""Rules = [
        ColumnValues "o_orderstatus" in ["F","O","P"],
        ColumnValues "o_orderstatus" in ["F","O"] with threshold > 0.5,
        # severity: warn
        ColumnValues "o_totalprice" > 0,
        ReferentialIntegrity "o_custkey" "customer.c_custkey" >= 0.99,
        IsUnique "o_clerk" "o_orderdate"
    ]""")
    rules = rulesets.table_rules(TPCH.table("orders"), TPCH, ruleset)
    assert [r.text for r in rules.quarantining][3:] == ['ColumnValues "o_orderstatus" in ["F","O","P"]',
                                                        'IsUnique "o_clerk" "o_orderdate"']  # fmt: skip
    assert [(r.text, r.severity) for r in rules.judged_on_dataset] == [
        ('ColumnValues "o_orderstatus" in ["F","O"] with threshold > 0.5', FAIL),
        ('ColumnValues "o_totalprice" > 0', WARN),
        ('ReferentialIntegrity "o_custkey" "customer.c_custkey" >= 0.99', FAIL),
    ]


@pytest.mark.parametrize("name", available_datasets())
def test_the_shipped_rulesets_are_valid_and_export_round_trips(name, tmp_path):
    dataset = get_dataset(name)
    shipped = {path.stem for path in (RULESETS / name).glob("*.dqdl")}
    assert shipped == {table.name for table in dataset.tables}
    rules = rulesets.dataset_rules(dataset)
    for table, table_rules in rules.items():
        (tmp_path / f"{table}.dqdl").write_text(rulesets.ruleset_text(table_rules))
    again = rulesets.dataset_rules(dataset, lambda file: (tmp_path / file).read_text())
    assert {t: [(r.text, r.severity) for r in tr.rules] for t, tr in again.items()} == {
        t: [(r.text, r.severity) for r in tr.rules] for t, tr in rules.items()
    }


def test_a_rules_folder_replaces_only_the_tables_it_has_and_names_strays():
    override = {"orders.dqdl": 'Rules = [ ColumnValues "o_clerk" matches "Clerk#[0-9]{9}" ]'}
    rules = rulesets.dataset_rules(TPCH, override.get)
    assert [r.text for r in rules["orders"].rules][-1] == 'ColumnValues "o_clerk" matches "Clerk#[0-9]{9}"'
    assert "RowCount > 0" not in [r.text for r in rules["orders"].rules]  # the shipped orders rules are replaced
    assert "RowCount > 0" in [r.text for r in rules["lineitem"].rules]  # the others are kept
    assert rulesets.unknown_ruleset_files(TPCH, {"order.dqdl": 1, "orders.dqdl": 1, "notes.txt": 1}) == ["order.dqdl"]


def test_glue_etl_rules_export_then_check_a_folder(tmp_path, capsys):
    from glue_etl_local.cli import main

    assert main(["rules", "export", "--dataset", "tpch", "--rules-path", str(tmp_path)]) == 0
    assert sorted(path.name for path in tmp_path.glob("*.dqdl")) == sorted(f"{t.name}.dqdl" for t in TPCH.tables)
    assert 'IsPrimaryKey "o_orderkey"' in (tmp_path / "orders.dqdl").read_text()
    assert main(["rules", "check", "--dataset", "tpch", "--rules-path", str(tmp_path)]) == 0
    assert "valid DQDL for dataset tpch (customer.dqdl 5 rules," in capsys.readouterr().out
    (tmp_path / "orders.dqdl").write_text('Rules = [ ColumnValues "o_orderstatus" in ["F" ]')
    assert main(["rules", "check", "--dataset", "tpch", "--rules-path", str(tmp_path)]) == 1
    assert "orders.dqdl:1:" in capsys.readouterr().err
