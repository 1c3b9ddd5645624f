"""Spark sees s3:// as local folders: a tiny Hadoop FileSystem (../java/LocalS3FileSystem.java,
compiled by glue_etl_local.hadoop_fs), and a mount per bucket."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from glue_etl_local.hadoop_fs import local_fs_settings

FILESYSTEM_CLASS = "glueetl.LocalS3FileSystem"


def spark_settings(jar: Path) -> dict[str, str]:
    return {
        **local_fs_settings(jar),
        "spark.hadoop.fs.s3.impl": FILESYSTEM_CLASS,
        # Mounts are added per job run; an uncached file system sees the newest mount table.
        "spark.hadoop.fs.s3.impl.disable.cache": "true",
    }


def mount_buckets(spark: Any, folders: Mapping[str, Path]) -> None:
    configuration = spark.sparkContext._jsc.hadoopConfiguration()
    for bucket, folder in folders.items():
        folder.mkdir(parents=True, exist_ok=True)
        configuration.set(f"fs.viewfs.mounttable.{bucket}.linkFallback", folder.resolve().as_uri())
