"""Database endpoints and their credentials, always from a secret, never from job arguments or code.

A secret reference is a Secrets Manager secret id or ARN (on AWS and in the local cloud), or
`file:` and the path of a JSON file (plain local runs). The secret is the JSON document RDS and
Secrets Manager rotation use: `engine`, `host`, `port`, `dbname`, `username`, `password`; a full
JDBC `url` may replace engine, host, port and dbname.

A Snowflake warehouse secret has `engine: snowflake`, `account`, `user`, `private_key` (PEM, PKCS#8:
key-pair authentication), optionally `private_key_passphrase`, and `warehouse`, `database`, `role`,
`stage` (an external stage, created with a storage integration, whose URL is the lake root).
`host`/`port`/`protocol` override the account's address (PrivateLink, or an emulator);
`network_timeout` (seconds) bounds the connector's retries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# engine -> (JDBC sub-protocol, driver class, default port)
ENGINES = {
    "postgres": ("postgresql", "org.postgresql.Driver", 5432),
    "postgresql": ("postgresql", "org.postgresql.Driver", 5432),
    "redshift": ("redshift", "com.amazon.redshift.jdbc42.Driver", 5439),
    "mysql": ("mysql", "com.mysql.cj.jdbc.Driver", 3306),
}
DRIVER_BY_PROTOCOL = {protocol: driver for protocol, driver, _ in ENGINES.values()}


class SecretError(ValueError):
    """A secret that cannot be read or does not describe a database; one line, never its values."""


@dataclass(frozen=True)
class JdbcEndpoint:
    url: str
    user: str
    password: str = field(repr=False)
    driver: str

    @property
    def display_url(self) -> str:
        """The URL without its query string (where a password could hide), for logs and lineage."""
        return self.url.split("?", 1)[0]


def endpoint_from_secret(document: Mapping[str, Any], reference: str) -> JdbcEndpoint:
    missing = [key for key in ("username", "password") if not document.get(key)]
    if "url" not in document:
        missing += [key for key in ("engine", "host", "dbname") if not document.get(key)]
    if missing:
        raise SecretError(f"secret {reference}: missing field(s) {', '.join(missing)}")
    if "url" in document:
        url = str(document["url"])
        protocol = url.removeprefix("jdbc:").split(":", 1)[0]
        if not url.startswith("jdbc:") or protocol not in DRIVER_BY_PROTOCOL:
            supported = ", ".join(sorted(DRIVER_BY_PROTOCOL))
            raise SecretError(f"secret {reference}: url must be a jdbc: URL for one of {supported}")
        driver = DRIVER_BY_PROTOCOL[protocol]
    else:
        engine = str(document["engine"]).lower()
        if engine not in ENGINES:
            raise SecretError(f"secret {reference}: engine {engine!r} is not one of {', '.join(sorted(ENGINES))}")
        protocol, driver, default_port = ENGINES[engine]
        url = f"jdbc:{protocol}://{document['host']}:{document.get('port') or default_port}/{document['dbname']}"
    return JdbcEndpoint(url=url, user=str(document["username"]), password=str(document["password"]), driver=driver)


@dataclass(frozen=True)
class SnowflakeAccount:
    account: str
    user: str
    private_key: str = field(repr=False)
    warehouse: str
    database: str
    stage: str
    role: str | None = None
    private_key_passphrase: str | None = field(default=None, repr=False)
    address: Mapping[str, Any] = field(default_factory=dict)  # host, port, protocol when not the account's


def snowflake_from_secret(document: Mapping[str, Any], reference: str) -> SnowflakeAccount:
    required = ("account", "user", "private_key", "warehouse", "database", "stage")
    missing = [key for key in required if not document.get(key)]
    if missing:
        raise SecretError(f"secret {reference}: missing field(s) {', '.join(missing)} for a Snowflake warehouse")
    if "BEGIN" not in str(document["private_key"]):
        raise SecretError(f"secret {reference}: private_key must be a PEM private key (key-pair authentication)")
    address = {key: document[key] for key in ("host", "port", "protocol", "network_timeout") if document.get(key)}
    return SnowflakeAccount(
        **{key: str(document[key]) for key in required},
        role=str(document["role"]) if document.get("role") else None,
        private_key_passphrase=str(document["private_key_passphrase"])
        if document.get("private_key_passphrase")
        else None,
        address=address,
    )


def resolve_warehouse(reference: str) -> JdbcEndpoint | SnowflakeAccount:
    """A JDBC database (PostgreSQL, Redshift, ...) or a Snowflake account, by the secret's engine."""
    document = read_secret(reference)
    if str(document.get("engine", "")).lower() == "snowflake":
        return snowflake_from_secret(document, reference)
    return endpoint_from_secret(document, reference)


def read_secret(reference: str) -> dict[str, Any]:
    if reference.startswith("file:"):
        path = Path(reference.removeprefix("file:"))
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise SecretError(f"secret {reference}: cannot read the file ({error.strerror})") from None
    else:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            text = boto3.client("secretsmanager").get_secret_value(SecretId=reference)["SecretString"]
        except (BotoCoreError, ClientError) as error:
            raise SecretError(f"secret {reference}: {error}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        raise SecretError(f"secret {reference}: not a JSON document") from None
    if not isinstance(document, dict):
        raise SecretError(f"secret {reference}: not a JSON object")
    return document


def resolve_endpoint(reference: str) -> JdbcEndpoint:
    return endpoint_from_secret(read_secret(reference), reference)
