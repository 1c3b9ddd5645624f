"""Glue entry script: the load job. It only wires arguments, runtime and step; see etl_lib."""

import sys

from etl_lib.job import run_job
from etl_lib.steps import run_load


def main(argv: list[str]) -> None:
    run_job("load", argv, run_load)


if __name__ == "__main__":
    main(sys.argv[1:])
