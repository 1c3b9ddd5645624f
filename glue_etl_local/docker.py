"""The docker command lines for testing and running the jobs inside the official Glue 5.0 image.

`glue-etl docker build|test|job` run them (or print them with --print); the make targets
docker-build, docker-test and docker-job call those. Building the lines here, in one place, is what
lets a test check them on a machine without a Docker engine.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

BASE_IMAGE = "public.ecr.aws/glue/aws-glue-libs:5"
IMAGE = "glue-etl-suite:glue5"
WORKSPACE = "/home/hadoop/workspace"
AWS_CONFIG_IN_IMAGE = "/home/hadoop/.aws"


def build_command(project: Path) -> list[str]:
    return ["docker", "build", "--file", str(project / "docker" / "Dockerfile"), "--tag", IMAGE, str(project)]


def _run_prefix(project: Path, name: str, aws_config: Path | None, profile: str | None) -> list[str]:
    command = ["docker", "run", "--rm", "-i", "--name", name, "--volume", f"{project}:{WORKSPACE}",
               "--workdir", WORKSPACE]  # fmt: skip
    if aws_config is not None:
        command += ["--volume", f"{aws_config}:{AWS_CONFIG_IN_IMAGE}:ro"]
    if profile:
        command += ["--env", f"AWS_PROFILE={profile}"]
    return command


def pytest_command(
    project: Path, pytest_args: Sequence[str] = (), aws_config: Path | None = None, profile: str | None = None
) -> list[str]:
    """The unit and integration tests inside the image (GlueContext is real there). The image has
    no PostgreSQL server, so the JDBC tests (marked `postgres`) run in the main suite only."""
    selection = list(pytest_args) or ["-m", "not postgres", "tests/unit", "tests/integration"]
    pytest = ["python3", "-m", "pytest", "-p", "no:cacheprovider", *selection]
    return [*_run_prefix(project, "glue5-pytest", aws_config, profile), IMAGE, "-c", shlex.join(pytest)]


def job_command(
    project: Path,
    job: str,
    job_args: Sequence[str],
    aws_config: Path | None = None,
    profile: str | None = None,
) -> list[str]:
    """One job with spark-submit, as Glue runs it: the library zip on --py-files, Glue-style arguments."""
    submit = [
        "spark-submit",
        "--py-files", f"{WORKSPACE}/dist/etl_lib.zip",
        f"{WORKSPACE}/glue_jobs/{job}.py",
        "--JOB_NAME", f"docker-{job}",
        *job_args,
    ]  # fmt: skip
    return [*_run_prefix(project, f"glue5-{job}", aws_config, profile), IMAGE, "-c", shlex.join(submit)]
