"""The data-quality report of a run: JSON for machines, Markdown for people. Pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

PASSED, QUARANTINED, FAILED, WARNED = "passed", "quarantined", "failed", "warned"


class DataQualityError(RuntimeError):
    """A rule of severity `fail` was broken; the message names the rule and the numbers."""


@dataclass(frozen=True)
class RuleResult:
    table: str
    rule: str
    stage: str  # extract (typing) or transform (rules)
    severity: str
    checked: int  # rows the rule was checked on (for table rules: 1)
    broken: int
    status: str
    detail: str = ""
    samples: tuple[str, ...] = ()


@dataclass
class QualityReport:
    dataset: str
    run_id: str
    generated_at: str
    results: list[RuleResult] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    tables: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def status(self) -> str:
        if self.failures:
            return FAILED
        return QUARANTINED if any(r.broken for r in self.results) else PASSED

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "run_id": self.run_id,
            "generated_at": self.generated_at,
            "status": self.status,
            "failures": self.failures,
            "tables": self.tables,
            "rules": [asdict(result) for result in self.results],
            "rules_broken": sum(1 for r in self.results if r.broken),
            "rules_checked": len(self.results),
        }


def row_rule_status(broken: int, severity: str) -> str:
    if not broken:
        return PASSED
    return FAILED if severity == "fail" else QUARANTINED


def extract_results(table: str, extract_counts: Mapping[str, Any]) -> list[RuleResult]:
    """The typing checks of the same run's extract that quarantined rows, from its summary."""
    by_rule = extract_counts.get("quarantine_by_rule", {})
    checked = int(extract_counts.get("rows_read", 0))
    names = sorted(by_rule)
    return [
        RuleResult(
            table,
            rule,
            "extract",
            "quarantine",
            checked,
            int(by_rule.get(rule, 0)),
            row_rule_status(int(by_rule.get(rule, 0)), "quarantine"),
        )
        for rule in names
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\\\|").replace("\\n", " ")


def render_markdown(report: Mapping[str, Any]) -> str:
    lines = [
        f"# Data quality: {report['dataset']} run {report['run_id']}",
        "",
        f"**Status: {report['status'].upper()}** - {report['rules_broken']} of {report['rules_checked']} rules "
        f"broken by at least one row. Generated {report['generated_at']}.",
        "",
    ]
    if report["failures"]:
        lines += ["## Failures", "", *[f"- {_cell(failure)}" for failure in report["failures"]], ""]
    lines += ["## Tables", "", "| table | rows read | clean rows | quarantined |", "| --- | ---: | ---: | ---: |"]
    for name, counts in report["tables"].items():
        lines.append(
            f"| {name} | {counts['rows_read']:,} | {counts['rows_written']:,} | {counts['rows_quarantined']:,} |"
        )
    lines += ["", "## Rules", "", "| table | stage | rule | severity | checked | broken | status |",
              "| --- | --- | --- | --- | ---: | ---: | --- |"]  # fmt: skip
    for rule in report["rules"]:
        lines.append(
            f"| {rule['table']} | {rule['stage']} | `{_cell(rule['rule'])}` | {rule['severity']} | "
            f"{rule['checked']:,} | {rule['broken']:,} | {rule['status']} |"
        )
    samples = [rule for rule in report["rules"] if rule["samples"] or rule["detail"]]
    if samples:
        lines += ["", "## Examples", ""]
        for rule in samples:
            lines.append(f"**{rule['table']} `{_cell(rule['rule'])}`**")
            if rule["detail"]:
                lines.append(f"- {_cell(rule['detail'])}")
            lines += [f"- {_cell(sample)}" for sample in rule["samples"]]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
