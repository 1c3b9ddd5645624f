"""One local run per dataset and lake at a time: what the state machine's lease is to runs on AWS.

Two `glue-etl run`s (or job runs) on the same dataset and local lake, started by two terminals or two
cron entries, would write raw, silver and gold under each other and fail each other's accounting. The
second one waits for the first instead (an exclusive `flock` on a file in the lake's `_state/`,
released by the kernel when its holder ends, even killed), then runs on what the first left: its
new files only, or nothing new. Datasets lock separately, so two datasets share a lake side by side.
A lake on S3 has no local lock: runs there go through the state machine, whose lease serialises them.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO
from urllib.parse import urlparse

from etl_lib import layout


def local_lake_folder(lake: str) -> Path | None:
    """The lake's folder when it is on this machine (a path or a file: URI), else None."""
    parsed = urlparse(lake)
    if parsed.scheme in ("", "file"):
        return Path(parsed.path if parsed.scheme else lake)
    return None


@contextmanager
def dataset_run_lock(lake: str, dataset: str, run_id: str, waiting: TextIO = sys.stderr) -> Iterator[None]:
    """Holds the dataset's run lock on a local lake for the block, waiting (and saying so on
    waiting, once) while another run holds it; no lock for a lake that is not local."""
    folder = local_lake_folder(lake)
    if folder is None:
        yield
        return
    path = Path(layout.local_run_lock_path(str(folder), dataset))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        _acquire(handle, path, dataset, waiting)
        try:
            handle.truncate(0)
            handle.write(f"run {run_id}, process {os.getpid()}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _acquire(handle: TextIO, path: Path, dataset: str, waiting: TextIO) -> None:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another run"
        print(f"waiting: dataset {dataset} is being run in this lake ({holder}; lock {path})", file=waiting, flush=True)
        fcntl.flock(handle, fcntl.LOCK_EX)
