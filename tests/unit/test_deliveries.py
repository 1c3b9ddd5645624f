"""Which raw partition each delivery's rows go to, and what a re-delivery replaces."""

from __future__ import annotations

import pytest

from etl_lib import deliveries
from etl_lib.storage import FileInfo

MB = 1024 * 1024


def landed(name: str, size: int = 100, checksum: str = "md5:one") -> FileInfo:
    return FileInfo(uri=f"s3://landing/{name}", path=f"s3://landing/{name}", name=name, size=size, modified_ms=0,
                    checksum=checksum)  # fmt: skip


def test_small_files_share_a_partition_and_a_big_file_keeps_its_own():
    small = [landed(f"orders_{index:03}.csv") for index in range(300)]
    big = landed("orders_big.csv", size=deliveries.OWN_PARTITION_BYTES)
    empty = landed("orders_empty.csv", size=0)
    partitions = deliveries.partitions_of([big, empty, *reversed(small)])
    assert partitions[big.uri] == big.file_id  # alone: the layout of a partition per file
    assert partitions[empty.uri] == empty.file_id  # writes nothing, so shares nothing
    assert {partitions[info.uri] for info in small} == {deliveries.partition_id([info.file_id for info in small])}
    assert deliveries.partitions_of([*small, empty, big]) == partitions  # whatever the order listed
    assert deliveries.partitions_of(small[:1]) == {small[0].uri: small[0].file_id}


def test_a_partition_holds_at_most_batch_bytes_of_landing_files():
    files = [landed(f"orders_{index}.csv", size=15 * MB) for index in range(9)]  # 135 MB: three partitions of 60 MB
    partitions = deliveries.partitions_of(files)
    members: dict[str, list[str]] = {}
    for info in files:
        members.setdefault(partitions[info.uri], []).append(info.name)
    assert sorted(len(names) for names in members.values()) == [1, 4, 4]
    assert all(len(names) * 15 * MB <= deliveries.BATCH_BYTES for names in members.values())


def ledger_entry(info: FileInfo, partition: str | None, table: str = "orders") -> dict[str, object]:
    entry = {"file_id": info.file_id, "table": table, "checksum": info.checksum, "records": 2}
    return {**entry, "partition": partition} if partition else entry


def test_a_redelivery_replaces_its_partition_and_the_files_that_stay_in_it_are_copied():
    a, b, c, old = landed("orders_a.csv"), landed("orders_b.csv"), landed("orders_c.csv"), landed("orders_old.csv")
    shared = deliveries.partition_id([a.file_id, b.file_id, c.file_id])
    ledger = {a.uri: ledger_entry(a, shared), b.uri: ledger_entry(b, shared), c.uri: ledger_entry(c, shared),
              old.uri: ledger_entry(old, None)}  # fmt: skip  # recorded before files were batched
    b_again, new = landed("orders_b.csv", checksum="md5:two"), landed("orders_new.csv")
    placed = deliveries.plan({"orders": [b_again, new]}, ledger)
    delivered = deliveries.partition_id([b_again.file_id, new.file_id])
    assert placed.partitions == {"orders": {b_again.uri: delivered, new.uri: delivered}}
    assert placed.replaced == {b.uri: shared}
    assert placed.staying == {shared: {a.uri: a.file_id, c.uri: c.file_id}}
    copy = deliveries.partition_id([a.file_id, c.file_id])
    assert placed.copies == {shared: copy}
    assert placed.tables == {shared: "orders"}
    assert placed.pending() == {"orders": {delivered, copy}}
    assert placed.partition_of() == {b_again.uri: delivered, new.uri: delivered, a.uri: copy, c.uri: copy}

    old_again = landed("orders_old.csv", checksum="md5:two")
    alone = deliveries.plan({"orders": [old_again]}, ledger)  # its own partition, by its file id
    assert (alone.replaced, alone.staying, alone.copies) == ({old.uri: old.file_id}, {}, {})


@pytest.mark.parametrize("resent", [("orders_a.csv", "orders_b.csv"), ("orders_a.csv",)])
def test_a_partition_whose_files_are_all_delivered_again_goes_whole(resent):
    a, b = landed("orders_a.csv"), landed("orders_b.csv")
    shared = deliveries.partition_id([a.file_id, b.file_id])
    ledger = {a.uri: ledger_entry(a, shared), b.uri: ledger_entry(b, shared)}
    placed = deliveries.plan({"orders": [landed(name, checksum="md5:two") for name in resent]}, ledger)
    assert set(placed.replaced) == {f"s3://landing/{name}" for name in resent}
    staying = {} if len(resent) == 2 else {shared: {b.uri: b.file_id}}
    assert placed.staying == staying
    assert placed.copies == ({} if len(resent) == 2 else {shared: b.file_id})  # one file left: its own id
