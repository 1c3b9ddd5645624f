"""Datasets, found by name: `etl_lib.datasets.<name>` exposes `DATASET`."""

from __future__ import annotations

import importlib
import pkgutil
import re

from etl_lib.datasets.base import Dataset

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def available_datasets() -> list[str]:
    return sorted(
        module.name
        for module in pkgutil.iter_modules(__path__)
        if module.name != "base" and not module.name.startswith("_")
    )


def get_dataset(name: str) -> Dataset:
    known = available_datasets()
    if not _NAME.match(name) or name not in known:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(known)}")
    module = importlib.import_module(f"etl_lib.datasets.{name}")
    dataset = module.DATASET
    if not isinstance(dataset, Dataset) or dataset.name != name:
        raise ValueError(f"etl_lib.datasets.{name} must define DATASET = Dataset(name={name!r}, ...)")
    return dataset
