import pytest

from etl_lib.args import ArgumentError, parse_args

BASE = ["--JOB_NAME", "etl-extract", "--JOB_RUN_ID", "jr_123", "--dataset", "tpch", "--lake_path", "s3://lake/"]


def test_parses_glue_style_arguments_and_ignores_glue_own_ones():
    args = parse_args(
        "extract",
        [
            *BASE,
            "--source_path",
            "s3://landing/tpch/",
            "--job-bookmark-option",
            "job-bookmark-enable",
            "--TempDir",
            "x",
        ],
    )
    assert args.job_name == "etl-extract"
    assert args.job_run_id == "jr_123"
    assert args.lake_path == "s3://lake"
    assert args.source_path == "s3://landing/tpch"
    assert args.run_id == "jr_123"  # defaults to the Glue job run id
    assert args.reprocess is False
    assert args.catalog_database is None


def test_equals_form_and_explicit_optional_values():
    args = parse_args(
        "load", ["--dataset=consultations", "--lake_path=/tmp/lake", "--run_id=run-7", "--catalog_database=gold_db"]
    )
    assert (args.dataset, args.run_id, args.catalog_database) == ("consultations", "run-7", "gold_db")
    assert args.job_name == "local-load"


@pytest.mark.parametrize(
    ("job", "argv", "message"),
    [
        ("load", [*BASE, "--warehouse_schema", "dw; drop"], "load: --warehouse_schema must be a plain SQL identifier"),
        ("transform", ["--lake_path", "/l"], "transform: missing required argument --dataset"),
        ("transform", [*BASE, "--reprocess", "maybe"], "transform: --reprocess must be true or false, got 'maybe'"),
        ("transform", [*BASE, "--run_id", "a/b"], "transform: --run_id 'a/b' may only contain"),
        ("transform", [*BASE, "--run_id", "a..b"], "transform: --run_id 'a..b' may only contain"),
        ("transform", [*BASE, "--run_id", "..."], "transform: --run_id '...' may only contain"),
        ("transform", [*BASE, "--run_id", "r:1"], "transform: --run_id 'r:1' may only contain"),
        ("load", [*BASE, "--shuffle_partitions", "0"], "load: --shuffle_partitions must be a positive integer"),
        ("extract", [*BASE, "--table_parallelism", "two"], "extract: --table_parallelism must be a positive integer"),
        ("deploy", BASE, "unknown job 'deploy'"),
    ],
)
def test_bad_arguments_give_one_line_naming_the_argument(job, argv, message):
    with pytest.raises(ArgumentError) as raised:
        parse_args(job, argv)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_tables_run_four_at_a_time_unless_told():
    assert parse_args("extract", BASE).table_parallelism == 4
    assert parse_args("extract", [*BASE, "--table_parallelism", "1"]).table_parallelism == 1


def test_glue_arguments_round_trip_as_strings():
    args = parse_args("transform", [*BASE, "--reprocess", "true"])
    assert args.as_glue_arguments()["reprocess"] == "true"
    assert parse_args("transform", [f"--{k}={v}" for k, v in args.as_glue_arguments().items()]) == args


def test_secrets_are_references_and_source_path_is_optional_for_database_datasets():
    secret = "arn:aws:secretsmanager:eu-west-1:1:secret:oltp"
    args = parse_args("extract", [*BASE, "--source_secret", secret, "--warehouse_schema", "dw"])
    assert args.source_path is None
    assert args.source_secret == secret
    assert args.warehouse_schema == "dw"
    assert parse_args("extract", [f"--{k}={v}" for k, v in args.as_glue_arguments().items()]) == args
