"""Build what gets deployed: the job scripts, the library zip, the Lambda zip, the ASL definition.

Used by the local cloud and by `glue-etl deploy`, so both ship exactly the same artifacts.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

import etl_lib

PROJECT_ROOT = Path(etl_lib.__file__).resolve().parents[2]
JOB_SCRIPTS_DIR = PROJECT_ROOT / "glue_jobs"
LIBRARY_DIR = JOB_SCRIPTS_DIR / "etl_lib"
LAMBDA_DIR = PROJECT_ROOT / "lambda_notify"
ASL_PATH = PROJECT_ROOT / "state_machine" / "pipeline.asl.json"
JOBS = ("extract", "transform", "load")
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
# A fixed timestamp keeps the zips byte-identical across builds (same hash, no needless redeploys).
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


def _zip(files: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name], zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def library_zip() -> bytes:
    """etl_lib as a zip for Glue's --extra-py-files (the package at the root of the archive)."""
    files = {
        path.relative_to(JOB_SCRIPTS_DIR).as_posix(): path.read_bytes() for path in sorted(LIBRARY_DIR.rglob("*.py"))
    }
    return _zip(files)


def lambda_zip() -> bytes:
    """The notify function, flat at the root of the zip (handler: handler.handler)."""
    return _zip(
        {path.name: path.read_bytes() for path in sorted(LAMBDA_DIR.glob("*.py")) if path.name != "__init__.py"}
    )


def job_script(job: str) -> bytes:
    return (JOB_SCRIPTS_DIR / f"{job}.py").read_bytes()


def placeholders(definition: str) -> set[str]:
    return set(PLACEHOLDER.findall(definition))


def substitute(definition: str, values: Mapping[str, str]) -> str:
    """What Step Functions does with DefinitionSubstitutions; every placeholder must have a value."""
    missing = placeholders(definition) - set(values)
    if missing:
        raise ValueError(f"no value for placeholder(s) {', '.join(sorted(missing))} in the state machine definition")
    substituted = PLACEHOLDER.sub(lambda match: values[match.group(1)], definition)
    json.loads(substituted)  # a value that breaks the JSON is an error here, not at execution time
    return substituted
