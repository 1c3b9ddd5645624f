"""The one line a person reads when a job fails: Glue's ErrorMessage, hence the email and the SMS.

It names what failed and where (a file, a path, a rule) and never quotes a row's values: Spark's
runtime errors may (`The value '...' cannot be cast`), so theirs are reduced to their error class."""

from __future__ import annotations

from typing import Any

# Java exceptions whose messages name files, paths, buckets and connections, never a row's values.
MESSAGE_SAFE_CLASSES = ("java.io.", "java.nio.", "java.net.", "org.apache.hadoop.", "com.amazonaws.",
                        "software.amazon.", "org.apache.spark.SparkFileNotFoundException")  # fmt: skip
# Spark errors about plans, schemas and paths: their messages name columns and files, not values.
MESSAGE_SAFE_CAPTURED = ("AnalysisException", "ParseException")
# Spark error classes whose messages name a file, a column and types, never a value: a Parquet
# column of another type than declared (raw written under an earlier declaration), Spark 3.5 and 4.
MESSAGE_SAFE_ERROR_CLASSES = ("_LEGACY_ERROR_TEMP_2063", "FAILED_READ_FILE.PARQUET_COLUMN_DATA_TYPE_MISMATCH")
MAX_CAUSES = 32
LOG_HINT = "the job's log has the details"


def _first_line(text: object) -> str:
    stripped = str(text).strip()
    return stripped.splitlines()[0] if stripped else ""


def database_error_line(error: BaseException) -> str:
    """A database call's failure in one line: the driver's own first line, kept (it names the
    relation, constraint or connection; PostgreSQL puts details, which may quote values, on later
    lines), not py4j's, which only names the method that was called."""
    java_exception = getattr(error, "java_exception", None)
    text = _first_line(java_exception.toString() if java_exception is not None else error)
    return text[:500] if text else type(error).__name__


def java_causes(java_exception: Any) -> list[Any]:
    """A Java exception and its causes, outermost first."""
    chain = [java_exception]
    while len(chain) < MAX_CAUSES and (cause := chain[-1].getCause()) is not None:
        chain.append(cause)
    return chain


def _error_class(java_exception: Any) -> str:
    """A Spark error's class (`CAST_INVALID_INPUT`): getCondition on Spark 4, getErrorClass before."""
    for method in ("getCondition", "getErrorClass"):
        try:
            value = getattr(java_exception, method)()
        except Exception:  # noqa: BLE001 - not a SparkThrowable, or not this Spark's method name
            continue
        if value:
            return str(value)
    return ""


def spark_condition(error: BaseException) -> tuple[str, dict[str, str]]:
    """The Spark error class of a failure (`NUMERIC_VALUE_OUT_OF_RANGE`, without a sub-class such as
    `.WITH_SUGGESTION`) and its message parameters, from the innermost cause that has one; ("", {})
    for an error that is not Spark's. The parameters may hold a row's value: not for messages."""
    java_exception = getattr(error, "java_exception", None) or getattr(error, "_origin", None)
    if java_exception is None:
        return "", {}
    for exception in reversed(java_causes(java_exception)):
        error_class = _error_class(exception)
        if error_class:
            parameters = exception.getMessageParameters()
            return error_class.split(".")[0], {str(key): str(parameters[key]) for key in parameters}
    return "", {}


def _java_failure(java_exception: Any) -> str:
    chain = java_causes(java_exception)
    names = [str(exception.getClass().getName()) for exception in chain]
    root_message = _first_line(chain[-1].getMessage() or "")
    if names[-1].startswith(MESSAGE_SAFE_CLASSES) and root_message:
        return f"{names[-1]}: {root_message}"
    classes = [(exception, _error_class(exception)) for exception in reversed(chain)]
    error_class = next((found for _, found in classes if found), "")
    safe = next((exception for exception, found in classes if found in MESSAGE_SAFE_ERROR_CLASSES), None)
    if safe is not None:
        return f"{names[-1]} [{error_class}]: {_first_line(safe.getMessage() or '')}"
    within = f"in {names[0]}; " if len(names) > 1 else ""
    return f"{names[-1]}{f' [{error_class}]' if error_class else ''} ({within}{LOG_HINT})"


def failure_line(error: BaseException, limit: int = 1000) -> str:
    """What went wrong, in one line. Python's errors (the suite's own, which name files and rules):
    type and first line. Spark's analysis errors: their message. Any other Java error (py4j's own
    line only names the method called; pyspark converts some, keeping the original): its innermost
    cause, with the message when that is a file system or I/O error, else the classes only."""
    captured = type(error).__module__.startswith("pyspark.errors")
    if captured and type(error).__name__ in MESSAGE_SAFE_CAPTURED:
        return f"{type(error).__name__}: {_first_line(error)}"[:limit]
    java_exception = getattr(error, "java_exception", None) or getattr(error, "_origin", None)
    if java_exception is not None:
        return _java_failure(java_exception)[:limit]
    if captured:
        error_class = getattr(error, "getErrorClass", lambda: None)()
        return f"{type(error).__name__} [{error_class}] ({LOG_HINT})"[:limit]
    return f"{type(error).__name__}: {_first_line(error)}"[:limit]
