"""Run SQL through Athena (on AWS, or in the local cloud where it runs in DuckDB) and print the rows."""

from __future__ import annotations

import time
from typing import Any

FINISHED = {"SUCCEEDED", "FAILED", "CANCELLED"}


class QueryFailedError(RuntimeError):
    pass


def run_athena_query(
    athena: Any, sql: str, database: str, workgroup: str | None = None, timeout: float = 600
) -> tuple[list[str], list[list[str | None]]]:
    """(column names, rows as text) of one query, waited for."""
    request: dict[str, Any] = {"QueryString": sql, "QueryExecutionContext": {"Database": database}}
    if workgroup:
        request["WorkGroup"] = workgroup
    query_id = athena.start_query_execution(**request)["QueryExecutionId"]
    deadline = time.monotonic() + timeout
    while True:
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        if status["State"] in FINISHED:
            break
        if time.monotonic() > deadline:
            raise QueryFailedError(f"query {query_id} still {status['State']} after {timeout}s")
        time.sleep(0.5)
    if status["State"] != "SUCCEEDED":
        raise QueryFailedError(f"query {query_id} {status['State']}: {status.get('StateChangeReason', '')}")
    rows: list[list[str | None]] = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
        rows.extend([cell.get("VarCharValue") for cell in row["Data"]] for row in page["ResultSet"]["Rows"])
    header, body = (rows[0], rows[1:]) if rows else ([], [])
    return [str(name) for name in header], body


def format_table(columns: list[str], rows: list[list[str | None]]) -> str:
    texts = [["NULL" if value is None else value for value in row] for row in rows]
    widths = [max([len(name), *(len(row[i]) for row in texts)]) for i, name in enumerate(columns)]
    lines = [" | ".join(name.ljust(width) for name, width in zip(columns, widths, strict=True))]
    lines.append("-+-".join("-" * width for width in widths))
    lines += [" | ".join(value.rjust(width) for value, width in zip(row, widths, strict=True)) for row in texts]
    return "\n".join(lines)
