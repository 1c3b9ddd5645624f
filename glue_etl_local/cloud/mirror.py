"""Keeps a local folder per bucket identical to the local cloud's S3 (both directions).

Before a Glue job run the buckets are copied down (so Spark reads what `aws s3 cp` put there);
after it the folders are copied back up (so `aws s3 ls`, the Lambda and the next job see the
outputs). Files are compared by size and MD5 (the ETag of a single-part upload).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

SKIPPED_SUFFIXES = (".crc",)  # Hadoop's local checksum files are not data


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _remote_objects(s3: Any, bucket: str) -> dict[str, tuple[int, str]]:
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            objects[item["Key"]] = (int(item["Size"]), str(item["ETag"]).strip('"'))
    return objects


def _local_files(folder: Path) -> dict[str, Path]:
    if not folder.exists():
        return {}
    return {
        path.relative_to(folder).as_posix(): path
        for path in folder.rglob("*")
        if path.is_file() and not path.name.endswith(SKIPPED_SUFFIXES)
    }


def mirrorable(key: str) -> bool:
    """Keys that name a file inside the bucket's folder: not a folder marker, not absolute, no `..`
    (an object named `../../etc/x` must not be written outside the folder). Other keys are left
    alone in both directions."""
    parts = key.split("/")
    return bool(key) and not key.endswith("/") and not key.startswith("/") and ".." not in parts and "." not in parts


def _same(path: Path, size: int, etag: str) -> bool:
    return path.stat().st_size == size and ("-" in etag or _md5(path) == etag)


def download(s3: Any, bucket: str, folder: Path) -> int:
    """Makes folder equal to the bucket; returns how many files changed."""
    remote = _remote_objects(s3, bucket)
    local = _local_files(folder)
    changed = 0
    for key, (size, etag) in remote.items():
        if not mirrorable(key):
            continue
        target = folder / key
        if key in local and _same(local[key], size, etag):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(target))
        changed += 1
    for key, path in local.items():
        if key not in remote:
            path.unlink()
            changed += 1
    return changed


def upload(s3: Any, bucket: str, folder: Path) -> int:
    """Makes the bucket equal to folder; returns how many objects changed."""
    remote = _remote_objects(s3, bucket)
    local = _local_files(folder)
    changed = 0
    for key, path in local.items():
        if key in remote and _same(path, *remote[key]):
            continue
        s3.upload_file(str(path), bucket, key)
        changed += 1
    stale = [key for key in remote if key not in local and mirrorable(key)]
    for start in range(0, len(stale), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in stale[start : start + 1000]]})
    return changed + len(stale)
