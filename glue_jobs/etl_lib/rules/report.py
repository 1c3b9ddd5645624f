"""The data-quality report of a run: JSON for machines, Markdown for people. Pure functions.

Each rule's result carries Glue Data Quality's outcome (`outcome`: Passed/Failed, `failure_reason`,
`evaluated_metrics`) and this suite's `status`: what its severity did (quarantined, failed, warned).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from etl_lib.rules import model

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
    detail: str = ""  # Glue DQ's FailureReason, or what the numbers were
    samples: tuple[str, ...] = ()
    evaluated_metrics: dict[str, float] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        return model.FAILED if self.status != PASSED else model.PASSED


@dataclass(frozen=True)
class QualityReport:
    dataset: str
    run_id: str
    generated_at: str
    results: tuple[RuleResult, ...] = ()
    failures: tuple[str, ...] = ()
    tables: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """failed, else quarantined (rows were set aside), else warned, else passed."""
        if self.failures:
            return FAILED
        statuses = {result.status for result in self.results}
        return next((status for status in (QUARANTINED, WARNED) if status in statuses), PASSED)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "run_id": self.run_id,
            "generated_at": self.generated_at,
            "status": self.status,
            "failures": list(self.failures),
            "tables": {name: dict(counts) for name, counts in self.tables.items()},
            "rules": [{**asdict(result), "outcome": result.outcome} for result in self.results],
            "rules_broken": sum(1 for r in self.results if r.broken),
            "rules_checked": len(self.results),
        }


def row_rule_status(broken: int, severity: str) -> str:
    if not broken:
        return PASSED
    return {model.FAIL: FAILED, model.WARN: WARNED}.get(severity, QUARANTINED)


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
            model.QUARANTINE,
            checked,
            int(by_rule.get(rule, 0)),
            row_rule_status(int(by_rule.get(rule, 0)), model.QUARANTINE),
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
    lines += ["", "## Rules", "", "| table | stage | rule | outcome | severity | checked | broken | status |",
              "| --- | --- | --- | --- | --- | ---: | ---: | --- |"]  # fmt: skip
    for rule in report["rules"]:
        lines.append(
            f"| {rule['table']} | {rule['stage']} | `{_cell(rule['rule'])}` | {rule.get('outcome', '')} | "
            f"{rule['severity']} | {rule['checked']:,} | {rule['broken']:,} | {rule['status']} |"
        )
    samples = [rule for rule in report["rules"] if rule["samples"] or rule["detail"] or rule.get("evaluated_metrics")]
    if samples:
        lines += ["", "## Details", ""]
        for rule in samples:
            lines.append(f"**{rule['table']} `{_cell(rule['rule'])}`**")
            if rule["detail"]:
                lines.append(f"- {_cell(rule['detail'])}")
            metrics = rule.get("evaluated_metrics") or {}
            lines += [f"- {name} = {value:g}" for name, value in metrics.items()]
            lines += [f"- {_cell(sample)}" for sample in rule["samples"]]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
