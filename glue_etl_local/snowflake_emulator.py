"""A Snowflake for local runs: fakesnow's server (Snowflake's wire protocol in front of DuckDB), reached
by the real Snowflake connector with key-pair authentication, exactly as the load job reaches
Snowflake.

The lake is the external stage, as on AWS; here its URL is the lake's folder (`file://`) instead of
`s3://<bucket>/<lake>/` behind a storage integration, which only AWS and Snowflake can prove.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

_instances = itertools.count(1)


def new_private_key() -> str:
    """An RSA key pair's private half, PEM (PKCS#8), as Snowflake's key-pair authentication takes it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem.decode()


@contextlib.contextmanager
def _serve() -> Iterator[dict[str, Any]]:
    """fakesnow's server app on a free loopback port, in a thread (as `fakesnow.server()` does; that
    helper's name is shadowed by its own module once imported, so a second call would fail)."""
    import importlib
    import logging
    import socket
    import threading
    import time

    import uvicorn

    fakesnow_server = importlib.import_module("fakesnow.server")  # the module, with its ASGI `app`
    logging.getLogger("fakesnow.server").setLevel(logging.WARNING)  # not a line per login and query

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(fakesnow_server.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="snowflake emulator", daemon=True)
    thread.start()
    while thread.is_alive() and not server.started:
        time.sleep(0.05)
    if not server.started:
        raise RuntimeError("the Snowflake emulator did not start")
    try:
        yield {"account": "fakesnow", "host": "127.0.0.1", "port": port, "protocol": "http",
               "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False}}  # fmt: skip
    finally:
        server.should_exit = True
        thread.join()


class LocalSnowflake:
    """`with LocalSnowflake(workdir, lake) as snowflake:` a running emulator with the database and the
    lake stage created; `snowflake.secret()` is the warehouse secret the load job reads."""

    def __init__(self, workdir: Path, lake: Path) -> None:
        self.workdir, self.lake = workdir, lake
        # The emulator keeps its databases in memory for the process: each instance has its own.
        self.database = f"ANALYTICS_{next(_instances)}"
        self.stage = f"{self.database}.PUBLIC.LAKE"
        self._stack = contextlib.ExitStack()
        self._address: dict[str, Any] = {}
        self._key = new_private_key()

    def __enter__(self) -> LocalSnowflake:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._address = self._stack.enter_context(_serve())
        self.execute(f"CREATE DATABASE IF NOT EXISTS {self.database}")
        self.execute(f"CREATE STAGE IF NOT EXISTS {self.stage} URL = '{self.lake.resolve().as_uri()}/'")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stack.close()

    def secret(self) -> dict[str, Any]:
        return {
            "engine": "snowflake",
            "account": self._address["account"],
            "user": "etl_loader",
            "private_key": self._key,
            "warehouse": "LOAD_WH",
            "database": self.database,
            "role": "ETL_LOADER",
            "stage": self.stage,
            "host": self._address["host"],
            "port": self._address["port"],
            "protocol": self._address["protocol"],
            # An emulator error is a 500 the connector retries until this bound (for minutes without it);
            # its queries on local data answer in a second or two.
            "network_timeout": 12,
        }

    def secret_file(self) -> str:
        """The secret as a `file:` reference, for runs outside the local cloud."""
        path = self.workdir / "snowflake-secret.json"
        path.write_text(json.dumps(self.secret()))
        path.chmod(0o600)
        return f"file:{path}"

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        import snowflake.connector

        connection = snowflake.connector.connect(
            user="tester", password="-", database=self.database, session_parameters=self._address["session_parameters"],
            **{key: self._address[key] for key in ("account", "host", "port", "protocol")},
        )  # fmt: skip
        try:
            cursor = connection.cursor()
            cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            connection.close()

    def execute(self, sql: str) -> None:
        self.query(sql)
