"""A throwaway PostgreSQL server for the tests and the JDBC demo: Debian's server binaries
(`apt-get install postgresql`), a temporary data directory, loopback only, password login.

Also applies the retail sample's SQL scripts (schema, seed, updates) to a database.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

RETAIL_SQL = Path(__file__).with_name("sql") / "retail"
SERVER_PACKAGES = "apt-get install postgresql libpostgresql-jdbc-java"


def server_binaries() -> Path:
    """The newest installed server's bin directory (Debian keeps them off PATH)."""
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if installed:
        return installed[-1].parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError(f"PostgreSQL server binaries not found; install them: {SERVER_PACKAGES}")
    return Path(initdb).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def apply_script(conninfo: str, script: str) -> None:
    """Runs one of the retail sample's SQL files (schema, seed, updates) in one transaction."""
    import psycopg

    sql = (RETAIL_SQL / f"{script}.sql").read_text(encoding="utf-8")
    with psycopg.connect(conninfo) as connection:
        connection.execute(sql.encode())


class LocalPostgres:
    """`with LocalPostgres() as pg:` a server on 127.0.0.1:pg.port with database pg.database.

    PostgreSQL refuses to run as root; when we are root the server runs as the `postgres` user."""

    def __init__(self, database: str = "retail", user: str = "etl") -> None:
        self.database = database
        self.user = user
        self.password = secrets.token_urlsafe(12)
        self.port = _free_port()
        self.bin = server_binaries()
        self.data_dir = Path(tempfile.mkdtemp(prefix="glue-etl-pg-"))
        self._run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *command: str) -> None:
        result = subprocess.run([*self._run_as, *command], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(command[0]).name} failed: {(result.stderr or result.stdout).strip()}")

    def start(self) -> LocalPostgres:
        password_file = self.data_dir / "password"
        password_file.write_text(self.password)
        if self._run_as:  # the server's account must own its directory and read the password file
            account = pwd.getpwnam("postgres")
            for path in (self.data_dir, password_file):
                os.chown(path, account.pw_uid, account.pw_gid)
        cluster = str(self.data_dir / "cluster")
        self._run(str(self.bin / "initdb"), "-D", cluster, "-U", self.user, f"--pwfile={password_file}",
                  "--auth=scram-sha-256", "-E", "UTF8", "--no-instructions")  # fmt: skip
        password_file.unlink()
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", cluster, "-l", str(self.data_dir / "server.log"), "-o", options,
                  "-w", "start")  # fmt: skip
        self.create_database(self.database)
        return self

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"'.encode())

    def stop(self) -> None:
        cluster = self.data_dir / "cluster"
        if (cluster / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(cluster), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def conninfo(self, database: str | None = None) -> str:
        return (
            f"host=127.0.0.1 port={self.port} dbname={database or self.database} "
            f"user={self.user} password={self.password}"
        )

    def secret(self, database: str | None = None) -> dict[str, Any]:
        """The connection as a Secrets Manager / RDS secret document."""
        return {
            "engine": "postgres",
            "host": "127.0.0.1",
            "port": self.port,
            "dbname": database or self.database,
            "username": self.user,
            "password": self.password,
        }

    def write_secret_file(self, path: Path, database: str | None = None) -> str:
        """The secret as a file only its owner can read; returns the `file:` reference."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(self.secret(database)))
        return f"file:{path}"
