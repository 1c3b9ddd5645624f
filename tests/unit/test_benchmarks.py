import subprocess
import sys

import psutil
import pytest

from benchmarks import cost
from benchmarks.many_files import case_landing
from benchmarks.tpch_bench import Run, compare, tree_memory

# A parent touches 256 MiB, then forks a child that shares those pages (as the JVM's forked
# children share its memory until they exec) and both wait.
SHARING_TREE = """
import os, time
held = bytearray(256 * 2**20)
held[::4096] = b"x" * len(held[::4096])
if os.fork() == 0:
    time.sleep(60)
    os._exit(0)
print("ready", flush=True)
time.sleep(60)
"""


def test_every_glue_job_run_is_billed_at_least_a_minute_per_worker():
    dollars, dpu_seconds = cost.run_cost(
        {"extract": 0.0, "transform": 0.0, "load": 0.0}, workers=2, execution_class="STANDARD"
    )
    assert dpu_seconds == 3 * 60 * 2
    assert dollars == pytest.approx(360 / 3600 * 0.44 + 20 * 0.025 / 1000)


def test_long_stages_are_billed_by_the_second_on_the_executor_cores():
    local = {"extract": 400.0, "transform": 0.0, "load": 0.0}  # 400 s on 2 local cores -> 200 s on 4
    _, dpu_seconds = cost.run_cost(local, workers=2, execution_class="FLEX")
    assert dpu_seconds == (20 + 200) * 2 + 60 * 2 * 2


def test_larger_scales_follow_the_measured_growth():
    results = [
        {"engine": "spark", "scale": 0.1, "stages": {"extract": 10.0, "transform": 10.0, "load": 1.0}},
        {"engine": "spark", "scale": 1.0, "stages": {"extract": 100.0, "transform": 50.0, "load": 1.0}},
    ]
    times = cost.stage_times(results, 10.0)
    assert times["extract"] == pytest.approx(1000.0)  # linear growth continues linearly
    assert times["transform"] == pytest.approx(250.0)  # x5 per decade continues
    assert times["load"] == pytest.approx(1.0)


def run(engine, **gold):
    return Run(1.0, engine, 1.0, {}, 0, 0, 0, gold={"dim_customer": {}, "dim_supplier": {}, "dim_part": {},
                                                   "dim_date": {}, "fact_sales": gold})  # fmt: skip


def test_gold_comparison_reports_each_differing_shared_column():
    ours, theirs = run("spark", rows="10", net_revenue="5.00"), run("pandas", rows="10", net_revenue="5.01", extra="1")
    assert compare(ours, theirs) == ["fact_sales.net_revenue: spark 5.00 != pandas 5.01"]
    assert compare(ours, run("duckdb", rows="10", net_revenue="5.00")) == []


def test_the_plot_has_one_line_per_engine_through_its_measured_points(tmp_path):
    from xml.etree import ElementTree

    from benchmarks.tpch_bench import plot

    runs = [Run(scale, engine, seconds, {}, 0, 0, 0) for engine, factor in (("spark", 10.0), ("duckdb", 1.0))
            for scale, seconds in ((0.1, 2.0 * factor), (1.0, 20.0 * factor))]  # fmt: skip
    plot(runs, tmp_path / "tpch.svg")
    root = ElementTree.fromstring((tmp_path / "tpch.svg").read_text())
    groups = {group.get("id"): group for group in root.iter("{http://www.w3.org/2000/svg}g")}
    for engine in ("spark", "duckdb"):
        (line, *_markers) = groups[f"engine {engine}"].iter("{http://www.w3.org/2000/svg}path")
        assert line.get("d", "").count("L") == 1  # one segment: from the SF 0.1 point to the SF 1 point
    texts = {text.text for text in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"spark", "duckdb", "TPC-H scale factor"} <= texts


def test_the_typical_glue_job_is_held_to_row_counts_only():
    ours = run("spark", rows="10", net_revenue="5.00")
    assert compare(ours, run("glue_typical", rows="10", net_revenue="5.01")) == []
    assert compare(ours, run("glue_typical", rows="11", net_revenue="5.00")) == [
        "fact_sales.rows: spark 10 != glue_typical 11"
    ]


def test_the_memory_of_a_process_tree_counts_shared_pages_once():
    parent = subprocess.Popen([sys.executable, "-c", SHARING_TREE], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == "ready"
        tree = [psutil.Process(parent.pid), *psutil.Process(parent.pid).children()]
        assert len(tree) == 2
        resident = sum(process.memory_info().rss for process in tree)
        assert resident > 500 * 2**20  # each member's resident size holds the shared 256 MiB
        assert 256 * 2**20 < tree_memory(tree[0]) < 350 * 2**20
    finally:
        for process in psutil.Process(parent.pid).children():
            process.kill()
        parent.kill()
        parent.wait()


def test_each_many_files_case_reads_its_own_rows_not_the_warm_ups(tmp_path):
    def data_lines(landing):
        return sum(len(path.read_text().splitlines()) - 1 for path in landing.iterdir())

    warm_up = case_landing(tmp_path, 20, 2)
    case = case_landing(tmp_path, 200, 2)
    assert (data_lines(warm_up), data_lines(case)) == (20, 200)
    assert len(list(case_landing(tmp_path, 200, 10).iterdir())) == 10
