"""The Hadoop file systems of local Spark (java/*.java), compiled once with javac against the jars
pyspark ships: the local file system without a `chmod` process per file written, and s3:// served
from local folders (cloud/s3fs.py mounts the buckets)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pyspark

JAVA_SOURCES = tuple(sorted((Path(__file__).with_name("java")).glob("*.java")))
LOCAL_FILESYSTEM_CLASS = "glueetl.LocalFileSystemWithoutShell"
# Beside the interpreter: a new virtualenv (another pyspark) compiles its own.
DEFAULT_CACHE = Path(sys.prefix) / "share" / "glue-etl"


def _pyspark_jars() -> Path:
    return Path(pyspark.__file__).parent / "jars"


def ensure_jar(cache_dir: Path = DEFAULT_CACHE) -> Path:
    """The compiled file systems' jar, rebuilt only when a Java source or pyspark changes."""
    digest = hashlib.sha256(pyspark.__version__.encode())
    for source in JAVA_SOURCES:
        digest.update(source.read_bytes())
    jar = cache_dir / f"glue-etl-hadoop-{digest.hexdigest()[:12]}.jar"
    if jar.exists():
        return jar
    javac = shutil.which("javac")
    if javac is None:
        raise RuntimeError("javac not found: local Spark needs a JDK (apt-get install openjdk-17-jdk-headless)")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as build:
        command = [javac, "--release", "11", "-nowarn", "-d", build, "-cp", f"{_pyspark_jars()}/*"]
        subprocess.run([*command, *map(str, JAVA_SOURCES)], check=True, capture_output=True)
        partial = jar.with_suffix(f".{os.getpid()}.tmp")
        with zipfile.ZipFile(partial, "w") as archive:
            for compiled in Path(build).rglob("*.class"):
                archive.write(compiled, compiled.relative_to(build).as_posix())
        partial.rename(jar)  # atomic: a process compiling at the same time finds a whole jar or none
    return jar


def local_fs_settings(jar: Path) -> dict[str, str]:
    """Session settings that put the jar on the driver's class path and use it for file: paths."""
    return {"spark.driver.extraClassPath": str(jar), "spark.hadoop.fs.file.impl": LOCAL_FILESYSTEM_CLASS}


def can_build() -> bool:
    """Whether the jar can be compiled here: a JDK, and pyspark's own jars (the Glue image keeps
    Spark's jars elsewhere and runs the jobs on Glue's file systems)."""
    return shutil.which("javac") is not None and _pyspark_jars().is_dir()


def local_session(app_name: str, extra_settings: dict[str, str] | None = None) -> Any:
    """The process's local SparkSession (etl_lib.runtime.local_spark_session, which the jobs reuse),
    writing local files without forking `chmod` wherever the jar can be built."""
    from etl_lib.runtime import local_spark_session

    file_system = local_fs_settings(ensure_jar()) if can_build() else {}
    return local_spark_session(app_name, {**file_system, **(extra_settings or {})})
