"""Shared library of the Glue ETL suite, shipped to Glue with --extra-py-files.

Nothing here starts Spark at import time, and only `runtime` knows about `awsglue`.
"""
