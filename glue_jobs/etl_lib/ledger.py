"""Which landing files extract has already processed (the local equivalent of job bookmarks).

The ledger is one JSON document in the lake, written only after the run's outputs are, so a
run that fails part-way re-reads its files next time. A file is new when its URI is not in the
ledger or its size or modification time changed (a re-delivery under the same name).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from etl_lib.storage import FileInfo


def parse_ledger(text: str | None) -> dict[str, dict[str, Any]]:
    if not text:
        return {}
    data = json.loads(text)
    files = data.get("files", {}) if isinstance(data, dict) else {}
    return dict(files)


def new_files(files: Iterable[FileInfo], ledger: Mapping[str, Mapping[str, Any]], reprocess: bool) -> list[FileInfo]:
    if reprocess:
        return list(files)
    fresh = []
    for info in files:
        seen = ledger.get(info.uri)
        if seen is None or seen.get("size") != info.size or seen.get("modified_ms") != info.modified_ms:
            fresh.append(info)
    return fresh


def record_files(
    ledger: Mapping[str, Mapping[str, Any]], processed: Iterable[FileInfo], run_id: str, table_of: Mapping[str, str]
) -> str:
    files = {uri: dict(entry) for uri, entry in ledger.items()}
    for info in processed:
        files[info.uri] = {
            "size": info.size,
            "modified_ms": info.modified_ms,
            "file_id": info.file_id,
            "table": table_of[info.uri],
            "run_id": run_id,
        }
    return json.dumps({"files": files}, indent=2, sort_keys=True)
