"""Spark sees s3:// as local folders: a tiny Hadoop FileSystem (java/LocalS3FileSystem.java),
compiled once with javac against the jars pyspark ships, and a mount per bucket."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyspark

JAVA_SOURCE = Path(__file__).with_name("java") / "LocalS3FileSystem.java"
FILESYSTEM_CLASS = "glueetl.LocalS3FileSystem"


def _pyspark_jars() -> Path:
    return Path(pyspark.__file__).parent / "jars"


def ensure_jar(cache_dir: Path) -> Path:
    """The compiled file system jar, rebuilt only when the Java source changes."""
    source = JAVA_SOURCE.read_bytes()
    jar = cache_dir / f"local-s3-{hashlib.sha256(source).hexdigest()[:12]}.jar"
    if jar.exists():
        return jar
    javac = shutil.which("javac")
    if javac is None:
        raise RuntimeError("javac not found: the local cloud needs a JDK (apt-get install openjdk-17-jdk-headless)")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as build:
        classpath = f"{_pyspark_jars()}/*"
        subprocess.run(
            [javac, "--release", "11", "-nowarn", "-d", build, "-cp", classpath, str(JAVA_SOURCE)],
            check=True,
            capture_output=True,
        )
        partial = jar.with_suffix(".tmp")
        with zipfile.ZipFile(partial, "w") as archive:
            for compiled in Path(build).rglob("*.class"):
                archive.write(compiled, compiled.relative_to(build).as_posix())
        partial.rename(jar)
    return jar


def spark_settings(jar: Path) -> dict[str, str]:
    return {
        "spark.driver.extraClassPath": str(jar),
        "spark.hadoop.fs.s3.impl": FILESYSTEM_CLASS,
        # Mounts are added per job run; an uncached file system sees the newest mount table.
        "spark.hadoop.fs.s3.impl.disable.cache": "true",
    }


def mount_buckets(spark: Any, folders: Mapping[str, Path]) -> None:
    configuration = spark.sparkContext._jsc.hadoopConfiguration()
    for bucket, folder in folders.items():
        folder.mkdir(parents=True, exist_ok=True)
        configuration.set(f"fs.viewfs.mounttable.{bucket}.linkFallback", folder.resolve().as_uri())
