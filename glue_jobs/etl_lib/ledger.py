"""Which landing files extract has already processed (the local equivalent of job bookmarks).

The ledger is one JSON document in the lake, written only after the run's outputs are, so a
run that fails part-way re-reads its files next time. A file is new when its URI is not in the
ledger or its content changed (a re-delivery under the same name with other content: compared by
checksum, never by size and time). The same content delivered again is not read again.
A file's content is checksummed once per version of it: where the listing names the version (S3's
ETag, new with every write of the object), a file still at the version recorded keeps its
recorded checksum, so a run reads the bytes of new and changed files only, not of all of landing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from etl_lib.deliveries import partition_of_entry
from etl_lib.storage import FileInfo


def parse_ledger(text: str | None) -> dict[str, dict[str, Any]]:
    """The ledger's entries by URI; a ledger that is not one (cut short, edited by hand) is a
    ValueError, never an empty ledger: that would take every delivery for new."""
    if not text:
        return {}
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise ValueError('not a JSON object with "files"')
    return dict(data["files"])


def unchanged_checksums(files: Iterable[FileInfo], ledger: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """The recorded checksum of each file whose listing shows the version the ledger recorded (by
    URI): the same write of the object, so the content checksummed then."""
    return {info.uri: str(entry["checksum"]) for info in files
            if info.version and (entry := ledger.get(info.uri)) is not None
            and entry.get("version") == info.version and entry.get("checksum")}  # fmt: skip


def with_versions(ledger: Mapping[str, Mapping[str, Any]], files: Iterable[FileInfo]) -> dict[str, Any]:
    """The ledger with the listed version of each file whose entry holds its content (the same
    checksum) under another version or none (recorded before versions were): from then on it is
    not read for its checksum again."""
    entries = {uri: dict(entry) for uri, entry in ledger.items()}
    for info in files:
        entry = entries.get(info.uri)
        if info.version and entry is not None and entry.get("checksum") == info.checksum:
            entries[info.uri] = {**entry, "version": info.version}
    return entries


def read_under_another(entry: Mapping[str, Any], reading: str) -> bool:
    """The ledger entry was read under another declaration (reading: its table's digest now; an
    entry without one was read under this one)."""
    return bool(entry.get("reading", reading) != reading)


def new_files(
    files: Iterable[FileInfo], ledger: Mapping[str, Mapping[str, Any]], reprocess: bool, reading: str
) -> list[FileInfo]:
    """The files to read: not read yet, delivered again with other content, or read under another
    declaration of their table."""
    if reprocess:
        return list(files)
    return [info for info in files if ledger.get(info.uri, {}).get("checksum") != info.checksum
            or read_under_another(ledger[info.uri], reading)]  # fmt: skip


def read_differently(files: Iterable[FileInfo], ledger: Mapping[str, Mapping[str, Any]], reading: str) -> list[str]:
    """URIs of these files that were read, with this content, under another declaration."""
    return [info.uri for info in files if ledger.get(info.uri, {}).get("checksum") == info.checksum
            and read_under_another(ledger[info.uri], reading)]  # fmt: skip


def left_with_another_reading(
    ledger: Mapping[str, Mapping[str, Any]], table: str, reading: str, present: Iterable[str]
) -> list[str]:
    """URIs of the table's files read under another declaration and no longer in landing."""
    here = set(present)
    return sorted(uri for uri, entry in ledger.items() if entry.get("table") == table and uri not in here
                  and read_under_another(entry, reading))  # fmt: skip


def with_readings_kept(ledger: Mapping[str, Mapping[str, Any]], uris: Iterable[str], reading: str) -> dict[str, Any]:
    """The ledger with these files (read under another declaration, no longer in landing) taken as
    read under this one, the earlier one kept in `typed_under`: they are warned about once."""
    files = {uri: dict(entry) for uri, entry in ledger.items()}
    for uri in uris:
        files[uri] = {**files[uri], "reading": reading, "typed_under": files[uri].get("reading")}
    return files


def same_delivery(info: FileInfo, ledger: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The ledger entry of this file when it holds this content (a re-read), else None."""
    entry = ledger.get(info.uri)
    return entry if entry is not None and entry.get("checksum") == info.checksum else None


def first_ingested(
    files: Iterable[FileInfo],
    ledger: Mapping[str, Mapping[str, Any]],
    now: datetime,
    run_started: Mapping[str, str],
) -> dict[str, datetime]:
    """URI -> when each file's delivery was first read: the same content read again (under a
    changed declaration, or reprocessed) keeps that time, so deduplication still ranks its rows by
    when they were delivered and a later delivery's rows stay the newest. An entry recorded before
    the ledger kept these times takes its run's start (run_started: run id -> when its extract
    started, the time it stamped the rows with)."""

    def first(info: FileInfo) -> datetime:
        entry = same_delivery(info, ledger) or {}
        recorded = entry.get("ingested_at") or run_started.get(str(entry.get("run_id")))
        return datetime.fromisoformat(str(recorded)) if recorded else now

    return {info.uri: first(info) for info in files}


def runs_without_ingestion_times(files: Iterable[FileInfo], ledger: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The runs that read these files' deliveries before the ledger kept ingestion times."""
    entries = [entry for info in files if (entry := same_delivery(info, ledger)) is not None]
    return {str(entry["run_id"]) for entry in entries if not entry.get("ingested_at") and entry.get("run_id")}


def same_content(files: Iterable[FileInfo], ledger: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """URI -> the URI of a file with the same content under another name, delivered earlier (in
    the ledger) or before it in these files (by URI). Empty files are not copies of anything."""
    known = {str(entry["checksum"]): uri for uri, entry in sorted(ledger.items()) if entry.get("checksum")}
    copies = {}
    for info in sorted(files, key=lambda info: info.uri):
        if info.size == 0:
            continue
        original = known.setdefault(info.checksum, info.uri)
        if original != info.uri:
            copies[info.uri] = original
    return copies


def render_pending(ids_by_table: Mapping[str, Iterable[str]]) -> str:
    """The record an extract writes before its new partitions (partition ids by table: its new
    deliveries' and the copies of the files that stay in a partition it replaces)."""
    return json.dumps({"file_ids": {table: sorted(ids) for table, ids in ids_by_table.items()}}, indent=2)


def parse_pending(text: str | None) -> dict[str, set[str]]:
    """Partition ids by table that a run wrote, or began to write, without committing them. A
    record left cut short names nothing: with a ledger, unnamed partitions go anyway; without one,
    extract refuses to remove them (remove_leftover_partitions), so nothing is lost either way."""
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    ids = data.get("file_ids") if isinstance(data, dict) else None
    return {str(table): set(names) for table, names in ids.items()} if isinstance(ids, dict) else {}


def partitions(ledger: Mapping[str, Mapping[str, Any]], table: str) -> set[str]:
    """The partitions of a table's current deliveries: any other partition in raw is left over."""
    return {partition_of_entry(entry) for entry in ledger.values() if entry.get("table") == table}


def recorded_count(entry: Mapping[str, Any]) -> int | None:
    """The records counted in an entry's file (raw and quarantine rows together), None for an
    entry written before the ledger kept them."""
    count = entry.get("records")
    return int(count) if count is not None else None


def record_files(
    ledger: Mapping[str, Mapping[str, Any]],
    processed: Iterable[FileInfo],
    run_id: str,
    table_of: Mapping[str, str],
    readings: Mapping[str, str],
    records: Mapping[str, int | None],
    ingested_at: Mapping[str, datetime],
    partitions: Mapping[str, str],
) -> str:
    """The ledger with these files recorded; readings: each table's declaration digest; records:
    the records counted in each file; ingested_at: when each file's delivery was first read;
    partitions: the raw partition of each file's rows (these files', and other files' whose rows
    were copied to another)."""
    files = {uri: {**entry, "partition": partitions[uri]} if uri in partitions else dict(entry)
             for uri, entry in ledger.items()}  # fmt: skip
    for info in processed:
        files[info.uri] = {
            "size": info.size,
            "modified_ms": info.modified_ms,
            "checksum": info.checksum,
            "version": info.version,
            "file_id": info.file_id,
            "partition": partitions[info.uri],
            "table": table_of[info.uri],
            "reading": readings[table_of[info.uri]],
            "records": records.get(info.uri),
            "ingested_at": ingested_at[info.uri].isoformat(),
            "run_id": run_id,
        }
    return render(files)


def render(files: Mapping[str, Mapping[str, Any]]) -> str:
    return json.dumps({"files": files}, indent=2, sort_keys=True)
