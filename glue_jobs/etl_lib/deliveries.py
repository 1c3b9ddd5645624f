"""Which raw partition each landing file's rows go to: a big file its own, small files together.

A partition per landing file lets a re-delivery replace its file's rows by removing one folder,
but every partition is a folder, a Parquet file and a commit of its own: 1,000 files of two rows
each cost 1.4 s more to write than the same rows in one partition here, and on S3 each one is
requests on the write, on every listing and on every read of raw. So files under
OWN_PARTITION_BYTES are written together, up to BATCH_BYTES a partition; when one of them is
delivered again, the rows of the others are copied to a new partition (at most BATCH_BYTES of
landing data) before the old one is removed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from etl_lib.storage import FileInfo

OWN_PARTITION_BYTES = 16 * 1024 * 1024
BATCH_BYTES = 64 * 1024 * 1024


def partition_id(file_ids: Collection[str]) -> str:
    """The partition of these files' rows: a file's own id when it is alone (the layout of a
    partition per file), else a digest of the ids."""
    if len(file_ids) == 1:
        return next(iter(file_ids))
    return hashlib.sha256("|".join(sorted(file_ids)).encode()).hexdigest()[:16]


def partitions_of(files: Iterable[FileInfo]) -> dict[str, str]:
    """URI -> raw partition of each file: files of OWN_PARTITION_BYTES or more alone, and empty
    ones (they write nothing: a re-delivery of one then touches no other file's rows), the others
    together in URI order, up to BATCH_BYTES a partition."""
    groups: list[list[FileInfo]] = []
    batch: list[FileInfo] = []
    batch_bytes = 0
    for info in sorted(files, key=lambda info: info.uri):
        if info.size >= OWN_PARTITION_BYTES or info.size == 0:
            groups.append([info])
            continue
        if batch and batch_bytes + info.size > BATCH_BYTES:
            groups.append(batch)
            batch, batch_bytes = [], 0
        batch.append(info)
        batch_bytes += info.size
    groups += [batch] if batch else []
    ids = [partition_id([member.file_id for member in group]) for group in groups]
    return {info.uri: partition for group, partition in zip(groups, ids, strict=True) for info in group}


def partition_of_entry(entry: Mapping[str, Any]) -> str:
    """The raw partition a ledger entry's rows are in (an entry written before files were
    batched names only its file id, which was its partition)."""
    return str(entry.get("partition") or entry["file_id"])


@dataclass(frozen=True)
class Plan:
    """Where a run's new deliveries go, and what they replace."""

    partitions: dict[str, dict[str, str]]  # table -> URI -> partition of each new delivery
    replaced: dict[str, str]  # URI -> the partition of the earlier delivery it replaces
    staying: dict[str, dict[str, str]]  # replaced partition -> URI -> file id of the files that stay in it
    copies: dict[str, str]  # replaced partition -> the partition its staying files' rows are copied to
    tables: dict[str, str]  # replaced partition -> its table

    def pending(self) -> dict[str, set[str]]:
        """The partitions the run writes, by table: new deliveries and copies."""
        written = {table: set(by_uri.values()) for table, by_uri in self.partitions.items()}
        for old, copy in self.copies.items():
            written.setdefault(self.tables[old], set()).add(copy)
        return written

    def partition_of(self) -> dict[str, str]:
        """URI -> partition of every new delivery and of every file whose rows are copied."""
        new = {uri: partition for by_uri in self.partitions.values() for uri, partition in by_uri.items()}
        return {**new, **{uri: self.copies[old] for old, files in self.staying.items() for uri in files}}


def plan(fresh: Mapping[str, Sequence[FileInfo]], ledger: Mapping[str, Mapping[str, Any]]) -> Plan:
    """The partitions of the new deliveries of each table (fresh: by table), the partitions of the
    earlier deliveries they replace, and, for each of those that holds files which stay, where
    their rows are copied to (a partition is removed whole, never rewritten in place)."""
    partitions = {table: partitions_of(files) for table, files in fresh.items()}
    new = {partition for by_uri in partitions.values() for partition in by_uri.values()}
    earlier = {info.uri: partition_of_entry(ledger[info.uri]) for files in fresh.values() for info in files
               if info.uri in ledger}  # fmt: skip
    replaced = {uri: old for uri, old in earlier.items() if old not in new}
    staying: dict[str, dict[str, str]] = {}
    for uri, entry in sorted(ledger.items()):
        old = partition_of_entry(entry)
        if old in replaced.values() and uri not in replaced:
            staying.setdefault(old, {})[uri] = str(entry["file_id"])
    tables = {partition_of_entry(ledger[uri]): str(ledger[uri]["table"]) for uri in replaced}
    copies = {old: partition_id(list(files.values())) for old, files in staying.items()}
    return Plan(partitions, replaced, staying, copies, tables)
