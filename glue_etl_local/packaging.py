"""Build what gets deployed: the job scripts, the library zip, the Lambda zip, the ASL definition.

Used by the local cloud and by `glue-etl deploy`, so both ship exactly the same artifacts.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import subprocess
import sys
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


# Shipped inside the library zip (pure Python): Glue jobs need no internet to install them.
LIBRARY_VENDORED = ("lark",)


def library_zip() -> bytes:
    """etl_lib (code and built-in DQDL rulesets) as a zip for Glue's --extra-py-files, the package
    at the root of the archive, with the libraries it imports that Glue lacks."""
    own = {
        path.relative_to(JOB_SCRIPTS_DIR).as_posix(): path.read_bytes()
        for path in sorted(LIBRARY_DIR.rglob("*"))
        if path.suffix in (".py", ".dqdl") and "__pycache__" not in path.parts
    }
    vendored = {name: data for module in LIBRARY_VENDORED for name, data in _installed_files(module).items()}
    return _zip({**vendored, **own})


# Shipped inside the Lambda zip (the Python runtime has boto3 and jmespath, not these): the
# release needs no layer and no network at deploy time, and runs the versions pinned here.
LAMBDA_VENDORED = ("aws_lambda_powertools", "typing_extensions")


def _installed_files(name: str) -> dict[str, bytes]:
    """An installed module's source files, by their path in a zip's root (package or single module)."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{name} is not installed: run make setup")
    origin = Path(spec.origin)
    if origin.name != "__init__.py":
        return {origin.name: origin.read_bytes()}
    root = origin.parent
    return {
        path.relative_to(root.parent).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.suffix in (".py", ".typed", ".json") and "__pycache__" not in path.parts
    }


def lambda_zip() -> bytes:
    """The notify function, flat at the root of the zip (handler: handler.handler), with the
    libraries it imports that the runtime lacks."""
    own = {path.name: path.read_bytes() for path in sorted(LAMBDA_DIR.glob("*.py")) if path.name != "__init__.py"}
    vendored = {name: data for module in LAMBDA_VENDORED for name, data in _installed_files(module).items()}
    return _zip({**vendored, **own})


# The Snowflake connector for the load job, pinned as in pyproject.toml, and the Python of each Glue version.
SNOWFLAKE_CONNECTOR = "snowflake-connector-python==4.8.1"
GLUE_PYTHON = {"5.0": "3.11", "5.1": "3.11", "6.0": "3.13"}


def load_job_wheels(cache_dir: Path, glue_version: str = "5.1") -> dict[str, bytes]:
    """The Snowflake connector and every dependency as wheels for the Glue version's platform (x86_64
    Linux, its Python), by name under glue/python-modules/: the job installs them from the artifacts
    bucket with no index, so it needs no internet. Downloaded from PyPI once into cache_dir."""
    python = GLUE_PYTHON[glue_version]
    target = cache_dir / f"{SNOWFLAKE_CONNECTOR.replace('==', '-')}-py{python}"
    if not any(target.glob("*.whl")):
        platform = ["--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64",
                    "--platform", "manylinux_2_28_x86_64", "--python-version", python, "--implementation", "cp",
                    "--only-binary=:all:"]  # fmt: skip
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(target), *platform]
        subprocess.run([*command, SNOWFLAKE_CONNECTOR], check=True, capture_output=True, text=True)
    return {f"glue/python-modules/{wheel.name}": wheel.read_bytes() for wheel in sorted(target.glob("*.whl"))}


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
