"""Which rules a table is checked with: its DQDL ruleset plus what the gold model relies on.

Rulesets are `<table>.dqdl` files: the built-in ones ship inside etl_lib (`etl_lib/rulesets/
<dataset>/<table>.dqdl`); `--rules_path DIR` names a folder whose files replace them table by
table. The key and foreign keys declared in the dataset are always checked (IsPrimaryKey,
IsComplete and ReferentialIntegrity rules named like any other): a ruleset may restate them with
another severity, quarantine or fail, but cannot remove them or make them warnings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from importlib import resources

from etl_lib.datasets.base import Dataset, Table
from etl_lib.rules.model import (
    FAIL,
    QUARANTINE,
    WARN,
    AnyRule,
    Composite,
    Condition,
    Duration,
    Number,
    Position,
    Rule,
    Ruleset,
)
from etl_lib.rules.parser import parse_ruleset
from etl_lib.rules.row_checks import KEY_TYPES, SIMPLE_ROW_TYPES, ForeignKey

# Rule type -> (parameters, needs a condition). Parameters: a count, or -1 for one or more.
SUPPORTED: dict[str, tuple[int, bool]] = {
    "IsComplete": (1, False),
    "ColumnValues": (1, True),
    "ColumnLength": (1, True),
    "DataFreshness": (1, True),
    "IsUnique": (-1, False),
    "IsPrimaryKey": (-1, False),
    "ReferentialIntegrity": (2, True),
    "Completeness": (1, True),
    "Uniqueness": (-1, True),
    "UniqueValueRatio": (-1, True),
    "DistinctValuesCount": (1, True),
    "Mean": (1, True),
    "Sum": (1, True),
    "StandardDeviation": (1, True),
    "RowCount": (0, True),
    "ColumnCount": (0, True),
    "ColumnExists": (1, False),
    "ColumnDataType": (1, True),
    "CustomSql": (1, True),
}
# DQDL rule types this suite does not evaluate (they compare datasets, files or past runs).
NOT_SUPPORTED = ("AggregateMatch", "ColumnCorrelation", "ColumnNamesMatchPattern", "DatasetMatch",
                 "DetectAnomalies", "Entropy", "FileFreshness", "FileMatch", "FileSize", "FileUniqueness",
                 "RowCountMatch", "SchemaMatch", "JobStatus", "JobDuration", "FileCount")  # fmt: skip
ROW_TYPES = (*SIMPLE_ROW_TYPES, *KEY_TYPES, "ReferentialIntegrity")
THRESHOLD_TYPES = (*SIMPLE_ROW_TYPES, *KEY_TYPES)
FULL = Condition("=", (Number("1.0"),))


def _check_shape(rule: Rule) -> None:
    if rule.type in NOT_SUPPORTED:
        raise rule.error(f"rule type {rule.type} is not supported here (supported: {', '.join(SUPPORTED)})")
    if rule.type not in SUPPORTED:
        raise rule.error(f"unknown rule type {rule.type!r} (supported: {', '.join(SUPPORTED)})")
    count, needs_condition = SUPPORTED[rule.type]
    given = len(rule.parameters)
    if (count == -1 and given == 0) or (count >= 0 and given != count):
        expected = "one or more column names" if count == -1 else f"{count} parameter(s)"
        raise rule.error(f"{rule.type} takes {expected}, got {given}")
    if needs_condition != (rule.condition is not None):
        raise rule.error(f"{rule.type} {'needs' if needs_condition else 'takes no'} condition")
    durations = rule.condition is not None and any(isinstance(v, Duration) for v in rule.condition.values)
    if durations != (rule.type == "DataFreshness"):
        raise rule.error("only DataFreshness compares durations (e.g. <= 24 hours)")
    if rule.threshold is not None and rule.type not in THRESHOLD_TYPES:
        raise rule.error(f"with threshold applies to {', '.join(THRESHOLD_TYPES)}; {rule.type} has its own condition")
    if rule.type == "ReferentialIntegrity":
        reference(rule)  # raises on a malformed reference


def is_row_rule(rule: AnyRule) -> bool:
    """Judged row by row (failing rows can be quarantined): no threshold, and for
    ReferentialIntegrity every row (= 1.0)."""
    if isinstance(rule, Composite):
        return all(is_row_rule(m) and (isinstance(m, Composite) or m.type in SIMPLE_ROW_TYPES) for m in rule.rules)
    if rule.type not in ROW_TYPES or rule.threshold is not None:
        return False
    return rule.type != "ReferentialIntegrity" or rule.condition == FULL


def _checked(rule: AnyRule) -> AnyRule:
    """The rule with its severity resolved, after checking it can be evaluated."""
    members = rule.rules if isinstance(rule, Composite) else (rule,)
    for member in members:
        if isinstance(member, Composite):
            _checked(member)
        else:
            _check_shape(member)
    row = is_row_rule(rule)
    if (
        isinstance(rule, Composite)
        and not row
        and any(isinstance(m, Rule) and m.type in (*KEY_TYPES, "ReferentialIntegrity") for m in members)
    ):
        raise rule.error("IsUnique, IsPrimaryKey and ReferentialIntegrity cannot be combined in a composite here")
    severity = rule.severity or (QUARANTINE if row else FAIL)
    if severity == QUARANTINE and not row:
        raise rule.error("only rules judged per row (no threshold) can quarantine; use severity fail or warn")
    return replace(rule, severity=severity)


def reference(rule: Rule) -> ForeignKey:
    """ReferentialIntegrity "a,b" "parent.{x,y}" (or "a" "parent.x") as columns."""
    columns = tuple(c.strip() for c in rule.parameters[0].split(","))
    table, _, parent = rule.parameters[1].partition(".")
    parent_columns = tuple(c.strip() for c in parent.strip("{}").split(","))
    if not table or not parent or len(columns) != len(parent_columns) or not all(columns + parent_columns):
        raise rule.error('expected "col1,col2" "parent_table.{col1,col2}" with as many columns on each side')
    return ForeignKey(rule, columns, table, parent_columns)


def model_rules(table: Table) -> tuple[Rule, ...]:
    """What the gold model relies on: the key, complete foreign keys, and their parents."""
    where = Position(f"dataset declaration of {table.name}", 0, 0)
    rules = [Rule("IsPrimaryKey", table.key, position=where)]
    for fk in table.foreign_keys:
        rules += [Rule("IsComplete", (column,), position=where) for column in fk.columns]
        parent = fk.parent_columns[0] if len(fk.parent_columns) == 1 else "{" + ",".join(fk.parent_columns) + "}"
        rules.append(Rule("ReferentialIntegrity", (",".join(fk.columns), f"{fk.parent_table}.{parent}"), FULL,
                          position=where))  # fmt: skip
    return tuple(dict.fromkeys(rules))


@dataclass(frozen=True)
class TableRules:
    """A table's rules, every severity resolved, grouped by how they are evaluated."""

    table: str
    rules: tuple[AnyRule, ...]

    @property
    def quarantining(self) -> tuple[AnyRule, ...]:
        """Row rules whose failing rows are quarantined (or, with severity fail, fail the run)."""
        return tuple(rule for rule in self.rules if rule.severity != WARN and is_row_rule(rule))

    @property
    def judged_on_dataset(self) -> tuple[AnyRule, ...]:
        """Rules judged on the whole table: dataset rules, thresholds, and warnings."""
        return tuple(rule for rule in self.rules if rule.severity == WARN or not is_row_rule(rule))

    @property
    def severities(self) -> dict[str, str]:
        return {rule.text: str(rule.severity) for rule in self.rules}


def table_rules(table: Table, dataset: Dataset, ruleset: Ruleset) -> TableRules:
    """The model's rules first (a restated one keeps its place there), then the ruleset's."""
    checked = [_checked(rule) for rule in ruleset.rules]
    by_text = {rule.text: rule for rule in checked}
    model = [by_text.get(rule.text, _checked(rule)) for rule in model_rules(table)]
    for rule in model:
        if rule.severity == WARN:
            raise rule.error("the gold model relies on this rule: its severity can be quarantine or fail, not warn")
    names = {t.name for t in dataset.tables}
    for rule in checked:
        if isinstance(rule, Rule) and rule.type == "ReferentialIntegrity" and reference(rule).parent_table not in names:
            raise rule.error(f"{reference(rule).parent_table!r} is not a table of dataset {dataset.name}")
    model_texts = {rule.text for rule in model}
    return TableRules(table.name, (*model, *(rule for rule in checked if rule.text not in model_texts)))


def ruleset_text(rules: TableRules) -> str:
    """A table's rules as one DQDL document (the model's rules included), for --rules_path."""
    header = (f"# {rules.table}: the key and foreign keys come from the dataset declaration and are checked\n"
              "# even when left out; severities: quarantine (rows), fail (the run), warn (reported).\n")  # fmt: skip
    return header + Ruleset(rules.rules).text


RulesetReader = Callable[[str], str | None]


def builtin_ruleset_text(dataset: str, table: str) -> str | None:
    path = resources.files("etl_lib").joinpath("rulesets", dataset, f"{table}.dqdl")
    return path.read_text(encoding="utf-8") if path.is_file() else None


def dataset_rules(dataset: Dataset, override: RulesetReader | None = None) -> dict[str, TableRules]:
    """Every table's rules: from `override(file name)` when it has the table's file, else built in."""
    rules = {}
    for table in dataset.tables:
        name = f"{table.name}.dqdl"
        text = override(name) if override else None
        source = name if text is not None else f"rulesets/{dataset.name}/{name}"
        if text is None:
            text = builtin_ruleset_text(dataset.name, table.name) or "Rules = [ ]"
        rules[table.name] = table_rules(table, dataset, parse_ruleset(text, source))
    return rules


def unknown_ruleset_files(dataset: Dataset, names: Mapping[str, object]) -> list[str]:
    """Files in a rules folder that name no table of the dataset (a typo would otherwise be ignored)."""
    tables = {f"{table.name}.dqdl" for table in dataset.tables}
    return sorted(name for name in names if name.endswith(".dqdl") and name not in tables)
