"""The docker command lines of `make docker-*`, checked here because this machine has no Docker engine."""

import re
import subprocess
import sys
from pathlib import Path

from glue_etl_local import docker, packaging

PROJECT = Path(packaging.PROJECT_ROOT)
IMAGE_TAG = "glue-etl-suite:glue5"


def test_build_uses_the_project_dockerfile_on_the_official_glue_5_image():
    assert docker.build_command(PROJECT) == [
        "docker", "build", "--file", str(PROJECT / "docker/Dockerfile"), "--tag", IMAGE_TAG, str(PROJECT)]  # fmt: skip
    dockerfile = (PROJECT / "docker/Dockerfile").read_text()
    assert re.search(r"^FROM public\.ecr\.aws/glue/aws-glue-libs:5$", dockerfile, re.MULTILINE)
    assert docker.BASE_IMAGE == "public.ecr.aws/glue/aws-glue-libs:5"


def test_test_command_mounts_the_project_and_runs_the_job_tests():
    command = docker.pytest_command(PROJECT)
    assert command[:4] == ["docker", "run", "--rm", "-i"]
    assert f"{PROJECT}:/home/hadoop/workspace" in command
    assert command[-3:] == [
        IMAGE_TAG,
        "-c",
        "python3 -m pytest -p no:cacheprovider -m 'not postgres' tests/unit tests/integration",
    ]
    assert "AWS_PROFILE" not in " ".join(command)


def test_credentials_are_mounted_read_only_with_a_profile():
    command = docker.pytest_command(PROJECT, ["tests/unit/test_runtime.py"], Path("/home/me/.aws"), "dev")
    assert "/home/me/.aws:/home/hadoop/.aws:ro" in command
    assert command[command.index("--env") + 1] == "AWS_PROFILE=dev"
    assert command[-1] == "python3 -m pytest -p no:cacheprovider tests/unit/test_runtime.py"


def test_job_command_is_a_glue_style_spark_submit():
    command = docker.job_command(PROJECT, "transform", ["--dataset", "tpch", "--lake_path", "s3://my lake/x"])
    assert command[-3:-1] == [IMAGE_TAG, "-c"]
    assert command[-1] == (
        "spark-submit --py-files /home/hadoop/workspace/dist/etl_lib.zip "
        "/home/hadoop/workspace/glue_jobs/transform.py --JOB_NAME docker-transform "
        "--dataset tpch --lake_path 's3://my lake/x'"
    )


def test_cli_prints_the_same_command_the_make_target_runs():
    result = subprocess.run(
        [sys.executable, "-m", "glue_etl_local.cli", "docker", "--print", "job", "load", "--dataset", "tpch"],
        capture_output=True, text=True, check=True, cwd=PROJECT,
    )  # fmt: skip
    assert result.stdout.strip().startswith("docker run --rm -i --name glue5-load")
    assert result.stdout.strip().endswith("--JOB_NAME docker-load --dataset tpch'")


def test_image_test_dependencies_have_the_project_pins():
    def without_extras(name):
        return name.split("[")[0]

    pyproject = (PROJECT / "pyproject.toml").read_text()
    pins = {
        without_extras(name): version for name, version in re.findall(r'"([A-Za-z0-9_.\[\],-]+)==([^"]+)"', pyproject)
    }
    for line in (PROJECT / "docker/requirements-test.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            assert pins.get(without_extras(name)) == version, f"docker/requirements-test.txt pins {name}=={version}"
