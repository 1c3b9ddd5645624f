"""Glue entry script: the extract job. It only wires arguments, runtime and step; see etl_lib."""

import sys

from etl_lib.job import run_job
from etl_lib.steps import run_extract


def main(argv: list[str]) -> None:
    run_job("extract", argv, run_extract)


if __name__ == "__main__":
    main(sys.argv[1:])
