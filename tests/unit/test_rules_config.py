import json

import pytest

from etl_lib import rules_config
from etl_lib.datasets import available_datasets, get_dataset
from etl_lib.datasets.base import FAIL, WARN, MinRows, Range, Regex
from etl_lib.rules_config import RulesConfigError, load_rules

TPCH = get_dataset("tpch")


@pytest.mark.parametrize("name", available_datasets())
def test_exported_rules_load_back_to_the_declared_ones(name):
    dataset = get_dataset(name)
    exported = rules_config.export_rules(dataset)
    assert load_rules(exported, dataset) == {t.name: t.declared_rules() for t in dataset.tables}


def test_a_configured_table_replaces_its_declared_rules_and_others_keep_theirs():
    text = json.dumps({"tables": {"orders": {
        "rules": [{"type": "range", "column": "o_totalprice", "min": 0, "severity": "fail"},
                  {"type": "regex", "column": "o_clerk", "pattern": "^Clerk#[0-9]{9}$"},
                  {"type": "not_null", "column": "o_orderkey"}, {"type": "not_null", "column": "o_custkey"}],
        "foreign_keys": [{"columns": ["o_custkey"], "parent_table": "customer", "parent_columns": ["c_custkey"],
                          "severity": "fail"}],
        "table_rules": [{"type": "min_rows", "value": 10, "severity": "warn"}],
        "newest_first": ["o_orderdate"]}}})  # fmt: skip
    effective = rules_config.effective_rules(TPCH, load_rules(text, TPCH))
    orders = effective["orders"]
    assert orders.rules[:2] == (Range("o_totalprice", 0.0, None, FAIL), Regex("o_clerk", "^Clerk#[0-9]{9}$"))
    assert orders.table_rules == (MinRows(10, WARN),)
    assert orders.newest_first == ("o_orderdate",)
    assert [fk.severity for fk in orders.foreign_keys] == [FAIL]
    assert effective["lineitem"] == TPCH.table("lineitem").declared_rules()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "rules: not valid JSON"),
        ({"tables": {"sales": {}}}, "rules.tables.sales: not a table of dataset tpch"),
        ({"dataset": "consultations", "tables": {}}, "rules.dataset: the file is for 'consultations', not 'tpch'"),
        ({"tables": {"orders": {"rules": [{"type": "between", "column": "x"}]}}},
         'rules.tables.orders.rules[0].type: "between" is not one of not_null, not_blank'),
        ({"tables": {"orders": {"rules": [{"type": "not_null"}]}}},
         "rules.tables.orders.rules[0]: missing field 'column'"),
        ({"tables": {"orders": {"rules": [{"type": "not_null", "column": 3}]}}},
         "rules.tables.orders.rules[0].column: expected a string, got 3"),
        ({"tables": {"orders": {"rules": [{"type": "not_null", "column": "a", "severity": "panic"}]}}},
         "rules.tables.orders.rules[0].severity: 'panic' is not one of quarantine, fail"),
        ({"tables": {"orders": {"rules": [{"type": "range", "column": "a"}]}}},
         "rules.tables.orders.rules[0]: a range needs min, max or both"),
        ({"tables": {"orders": {"rules": [{"type": "regex", "column": "a", "pattern": "(("}]}}},
         "rules.tables.orders.rules[0].pattern: not a valid regular expression"),
        ({"tables": {"orders": {"rules": [{"type": "not_null", "column": "a", "colour": "red"}]}}},
         "rules.tables.orders.rules[0]: unknown field(s) colour"),
        ({"tables": {"orders": {"table_rules": [{"type": "max_quarantine_ratio", "value": 5}]}}},
         "rules.tables.orders.table_rules[0].value: a ratio between 0 and 1 is expected"),
        ({"tables": {"orders": {"table_rules": [{"type": "min_rows", "value": 1, "severity": "quarantine"}]}}},
         "rules.tables.orders.table_rules[0].severity: 'quarantine' is not one of fail, warn"),
        ({"tables": {"orders": {"rules": [{"type": "not_null", "column": "o_orderkey"}]}}},
         "rules.tables.orders: cannot remove not_null:o_custkey, foreign_key:o_custkey->customer: the key"),
        ({"tables": {"lineitem": {}}},
         "rules.tables.lineitem: cannot remove not_null:l_orderkey, not_null:l_linenumber, not_null:l_partkey, "
         "not_null:l_suppkey, foreign_key:l_orderkey->orders, foreign_key:l_partkey->part, "
         "foreign_key:l_suppkey->supplier"),
        ({"tables": {"orders": {"foreign_keys": [{"columns": ["a"], "parent_table": "x", "parent_columns": ["b"]}]}}},
         "rules.tables.orders.foreign_keys[0].parent_table: 'x' is not a table of dataset tpch"),
        ({"tables": {"orders": {"foreign_keys": [{"columns": ["a", "b"], "parent_table": "customer",
                                                  "parent_columns": ["c"]}]}}},
         "rules.tables.orders.foreign_keys[0]: columns and parent_columns differ in length"),
    ],
)  # fmt: skip
def test_problems_are_reported_as_one_line_naming_the_place(document, message):
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(RulesConfigError) as raised:
        load_rules(text, TPCH)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)
