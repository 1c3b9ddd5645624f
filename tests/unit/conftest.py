"""Fixtures shared by the unit tests that talk to moto in process."""

import pytest


@pytest.fixture
def offline_aws(monkeypatch):
    """Credentials and a region for boto3 that reach no account, and no endpoint override (moto's
    in-process mock answers, not a local cloud server left configured in the environment)."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
