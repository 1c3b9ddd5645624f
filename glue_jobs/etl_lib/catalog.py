"""Publishing gold tables: the Glue Data Catalog on AWS, a JSON catalog file in the lake locally.

Gold tables are written by transform into a new `version=<run_id>` folder; publishing is a
pointer switch. On Glue the partitions are registered first, then one UpdateTable call moves
the table (and its partition-projection template, which Athena uses) to the new version, so
a query sees either the old version or the new one, never a mix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

PARQUET_FORMAT = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}


@dataclass(frozen=True)
class Partition:
    values: tuple[str, ...]
    location: str


@dataclass(frozen=True)
class GoldTableVersion:
    name: str
    version: str
    location: str
    columns: tuple[tuple[str, str], ...]  # (name, Hive type), partition columns excluded
    partition_keys: tuple[tuple[str, str], ...] = ()
    partitions: tuple[Partition, ...] = field(default_factory=tuple)
    rows: int = 0


class CatalogPublishError(RuntimeError):
    """Publishing did not complete; the message says which tables switched and which did not."""


class Catalog(Protocol):
    def current_versions(self, dataset: str) -> dict[str, str]: ...

    def publish(self, dataset: str, tables: Sequence[GoldTableVersion]) -> None: ...


def projection_parameters(table: GoldTableVersion) -> dict[str, str]:
    """Athena partition projection: the partitions follow the table's location atomically."""
    if not table.partition_keys:
        return {}
    params = {"projection.enabled": "true"}
    template = table.location
    for index, (name, _type) in enumerate(table.partition_keys):
        values = sorted({partition.values[index] for partition in table.partitions})
        if values and all(value.lstrip("-").isdigit() for value in values):
            numbers = [int(value) for value in values]
            params[f"projection.{name}.type"] = "integer"
            params[f"projection.{name}.range"] = f"{min(numbers)},{max(numbers)}"
        else:
            params[f"projection.{name}.type"] = "enum"
            params[f"projection.{name}.values"] = ",".join(values) or "none"
        template += f"/{name}=${{{name}}}"
    params["storage.location.template"] = template
    return params


def glue_table_input(dataset: str, table: GoldTableVersion) -> dict[str, Any]:
    return {
        "Name": table.name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "classification": "parquet",
            "EXTERNAL": "TRUE",
            "gold_dataset": dataset,
            "gold_version": table.version,
            **projection_parameters(table),
        },
        "StorageDescriptor": {
            "Columns": [{"Name": name, "Type": type_} for name, type_ in table.columns],
            "Location": table.location,
            **PARQUET_FORMAT,
        },
        "PartitionKeys": [{"Name": name, "Type": type_} for name, type_ in table.partition_keys],
    }


def _partition_input(table: GoldTableVersion, partition: Partition) -> dict[str, Any]:
    return {
        "Values": list(partition.values),
        "StorageDescriptor": {
            "Columns": [{"Name": name, "Type": type_} for name, type_ in table.columns],
            "Location": partition.location,
            **PARQUET_FORMAT,
        },
    }


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


class GlueCatalog:
    """The AWS Glue Data Catalog (or the local cloud's, through AWS_ENDPOINT_URL)."""

    def __init__(self, database: str, client: Any | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("glue")
        self.database = database
        self.client = client

    def _table(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self.client.get_table(DatabaseName=self.database, Name=name)["Table"])
        except self.client.exceptions.EntityNotFoundException:
            return None

    def _ensure_database(self, dataset: str) -> None:
        try:
            self.client.get_database(Name=self.database)
        except self.client.exceptions.EntityNotFoundException:
            description = f"Gold tables of dataset {dataset}, published by the Glue ETL suite's load job"
            self.client.create_database(DatabaseInput={"Name": self.database, "Description": description})

    def current_versions(self, dataset: str) -> dict[str, str]:
        try:
            self.client.get_database(Name=self.database)
        except self.client.exceptions.EntityNotFoundException:
            return {}
        versions = {}
        for page in self.client.get_paginator("get_tables").paginate(DatabaseName=self.database):
            for table in page["TableList"]:
                parameters = table.get("Parameters", {})
                if parameters.get("gold_version") and parameters.get("gold_dataset", dataset) == dataset:
                    versions[table["Name"]] = parameters["gold_version"]
        return versions

    def _existing_partitions(self, name: str) -> set[tuple[str, ...]]:
        existing: set[tuple[str, ...]] = set()
        paginator = self.client.get_paginator("get_partitions")
        for page in paginator.paginate(DatabaseName=self.database, TableName=name):
            existing.update(tuple(partition["Values"]) for partition in page["Partitions"])
        return existing

    def _checked(self, action: str, table: str, response: Mapping[str, Any]) -> None:
        """Batch partition calls report failures in Errors, not as exceptions: none may pass unseen."""
        errors = response.get("Errors") or []
        if errors:
            first = errors[0]
            values = first.get("PartitionValues") or first.get("PartitionValueList")
            detail = first.get("ErrorDetail", {})
            raise CatalogPublishError(
                f"{action} on {self.database}.{table} failed for {len(errors)} partition(s), first {values}: "
                f"{detail.get('ErrorCode')}: {detail.get('ErrorMessage')}"
            )

    def _sync_partitions(self, table: GoldTableVersion) -> set[tuple[str, ...]]:
        """Points existing partitions at the new version and creates new ones; returns stale ones."""
        existing = self._existing_partitions(table.name)
        wanted = {partition.values: partition for partition in table.partitions}
        to_create = [_partition_input(table, p) for values, p in wanted.items() if values not in existing]
        to_update = [
            {"PartitionValueList": list(values), "PartitionInput": _partition_input(table, p)}
            for values, p in wanted.items()
            if values in existing
        ]
        for chunk in _chunks(to_create, 100):
            response = self.client.batch_create_partition(
                DatabaseName=self.database, TableName=table.name, PartitionInputList=chunk
            )
            self._checked("BatchCreatePartition", table.name, response)
        for chunk in _chunks(to_update, 100):
            response = self.client.batch_update_partition(
                DatabaseName=self.database, TableName=table.name, Entries=chunk
            )
            self._checked("BatchUpdatePartition", table.name, response)
        return existing - set(wanted)

    def _switch(self, dataset: str, table: GoldTableVersion) -> None:
        """Partitions first, then the table's location: a query sees the old or the new version."""
        table_input = glue_table_input(dataset, table)
        current = self._table(table.name)
        if current is None:
            self.client.create_table(DatabaseName=self.database, TableInput=table_input)
            if table.partitions:
                self._sync_partitions(table)
            return
        owner = current.get("Parameters", {}).get("gold_dataset", dataset)
        if owner != dataset:
            raise CatalogPublishError(
                f"table {self.database}.{table.name} belongs to dataset {owner}, not {dataset}: "
                "publish each dataset to its own database"
            )
        stale = self._sync_partitions(table) if table.partitions else set()
        self.client.update_table(DatabaseName=self.database, TableInput=table_input)
        for chunk in _chunks(sorted(stale), 25):
            response = self.client.batch_delete_partition(
                DatabaseName=self.database,
                TableName=table.name,
                PartitionsToDelete=[{"Values": list(values)} for values in chunk],
            )
            self._checked("BatchDeletePartition", table.name, response)

    def publish(self, dataset: str, tables: Sequence[GoldTableVersion]) -> None:
        """Glue has no multi-table transaction: tables switch one by one, and a failure says exactly
        which switched; publishing the same version again completes it (every call is idempotent)."""
        self._ensure_database(dataset)
        switched: list[str] = []
        for table in tables:
            try:
                self._switch(dataset, table)
            except Exception as error:
                version = table.version
                done = ", ".join(switched) or "none"
                left = ", ".join(t.name for t in tables if t.name not in switched)
                raise CatalogPublishError(
                    f"publishing {dataset} version {version} to Glue database {self.database} stopped at "
                    f"{table.name}: switched: {done}; not switched: {left} (run the load again to finish): "
                    f"{str(error).splitlines()[0] if str(error) else type(error).__name__}"
                ) from error
            switched.append(table.name)


class FileCatalog:
    """A JSON catalog in the lake (`_catalog/<dataset>.json`), for runs with no AWS at all."""

    def __init__(self, read_text: Any, write_text: Any, path: str) -> None:
        self._read_text = read_text
        self._write_text = write_text
        self.path = path

    def document(self) -> dict[str, Any]:
        text = self._read_text(self.path)
        return json.loads(text) if text else {"tables": {}}

    def current_versions(self, dataset: str) -> dict[str, str]:
        return {name: entry["version"] for name, entry in self.document()["tables"].items()}

    def publish(self, dataset: str, tables: Sequence[GoldTableVersion]) -> None:
        document = self.document()
        document["dataset"] = dataset
        published_at = datetime.now(UTC).isoformat(timespec="seconds")
        for table in tables:
            entry = asdict(table)
            entry["published_at"] = published_at
            document["tables"][table.name] = entry
        # One write of the whole document: readers see all tables switch together.
        self._write_text(self.path, json.dumps(document, indent=2, sort_keys=True))
