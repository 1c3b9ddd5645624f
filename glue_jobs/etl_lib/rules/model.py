"""DQDL rules as values: what a ruleset says, independent of how it is evaluated.

A rule keeps its text as written in canonical form (`Rule.text`), its position in the file and
the severity this suite gives it (a `# severity: ...` comment, which Glue Data Quality ignores).
"""

from __future__ import annotations

from dataclasses import dataclass

QUARANTINE = "quarantine"  # failing rows go to quarantine with the rule as the reason
FAIL = "fail"  # the run fails, naming the rule and the numbers
WARN = "warn"  # reported, nothing else
SEVERITIES = (QUARANTINE, FAIL, WARN)

# Outcome of a rule, as Glue Data Quality names it.
PASSED, FAILED = "Passed", "Failed"


class RulesetError(ValueError):
    """A ruleset that cannot be used; the message is one line: `file:line:column: problem`."""


@dataclass(frozen=True)
class Keyword:
    """NULL, EMPTY or WHITESPACES_ONLY in a ColumnValues condition."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Number:
    """A number as written (1.0 stays 1.0 when the rule is printed)."""

    text: str

    @property
    def value(self) -> float:
        return float(self.text)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: str  # days | hours

    @property
    def hours(self) -> int:
        return self.amount * 24 if self.unit == "days" else self.amount

    def __str__(self) -> str:
        return f"{self.amount} {self.unit}"


@dataclass(frozen=True)
class Now:
    """now(), or (now() - 3 days): the run's time shifted by a duration."""

    shift_hours: int = 0
    text: str = "now()"

    def __str__(self) -> str:
        return self.text


Value = Number | str | Keyword | Duration | Now


def value_text(value: Value) -> str:
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    return str(value)


@dataclass(frozen=True)
class Condition:
    """operator is one of = != > >= < <= between in matches, negated by `not` where DQDL allows."""

    operator: str
    values: tuple[Value, ...]
    negated: bool = False

    def __str__(self) -> str:
        values = [value_text(v) for v in self.values]
        prefix = "not " if self.negated else ""
        if self.operator == "between":
            return f"{prefix}between {values[0]} and {values[1]}"
        if self.operator == "in":
            return f"{prefix}in [{','.join(values)}]"
        if self.operator == "matches":
            return f"{prefix}matches {values[0]}"
        return f"{self.operator} {values[0]}"


@dataclass(frozen=True)
class Position:
    source: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Rule:
    type: str
    parameters: tuple[str, ...]
    condition: Condition | None = None
    where: str | None = None
    threshold: Condition | None = None
    severity: str | None = None  # None: the default for its kind (see etl_lib.rules.row_checks)
    position: Position = Position("rules", 0, 0)

    @property
    def text(self) -> str:
        parts = [self.type, *(value_text(p) for p in self.parameters)]
        if self.condition is not None:
            parts.append(str(self.condition))
        if self.where is not None:
            parts.append(f"where {value_text(self.where)}")
        if self.threshold is not None:
            parts.append(f"with threshold {self.threshold}")
        return " ".join(parts)

    def error(self, problem: str) -> RulesetError:
        return RulesetError(f"{self.position}: {self.text}: {problem}")


@dataclass(frozen=True)
class Composite:
    operator: str  # and | or
    rules: tuple[AnyRule, ...]
    severity: str | None = None
    position: Position = Position("rules", 0, 0)

    @property
    def text(self) -> str:
        return f" {self.operator} ".join(f"({rule.text})" for rule in self.rules)

    def error(self, problem: str) -> RulesetError:
        return RulesetError(f"{self.position}: {self.text}: {problem}")


AnyRule = Rule | Composite


@dataclass(frozen=True)
class Ruleset:
    rules: tuple[AnyRule, ...]
    source: str = "rules"

    @property
    def text(self) -> str:
        lines = []
        for index, rule in enumerate(self.rules):
            comma = "," if index < len(self.rules) - 1 else ""
            if rule.severity is not None:
                lines.append(f"    # severity: {rule.severity}")
            lines.append(f"    {rule.text}{comma}")
        return "Rules = [\n" + "\n".join(lines) + "\n]\n"
