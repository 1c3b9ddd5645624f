"""The three jobs' steps, wired from the pure functions.

Each step takes a SparkSession and JobArgs, does its I/O through `storage`, and returns a
RunSummary. Nothing here knows whether it runs on Glue or locally.
"""

from etl_lib.steps.common import write_summary
from etl_lib.steps.extract import ExtractError, run_extract
from etl_lib.steps.load import run_load
from etl_lib.steps.transform import run_transform

__all__ = ["ExtractError", "run_extract", "run_load", "run_transform", "write_summary"]
