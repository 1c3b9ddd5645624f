"""A local run waits for another local run of the same dataset and lake, and only for that."""

from __future__ import annotations

import io
import threading

from glue_etl_local.run_lock import dataset_run_lock, local_lake_folder


def test_a_second_run_of_the_dataset_waits_until_the_first_releases_the_lake(tmp_path):
    events: list[str] = []
    first_holds, first_may_end = threading.Event(), threading.Event()
    waiting = io.StringIO()

    def first() -> None:
        with dataset_run_lock(str(tmp_path), "orders", "run-1"):
            events.append("first starts")
            first_holds.set()
            first_may_end.wait(10)
            events.append("first ends")

    def second() -> None:
        with dataset_run_lock(str(tmp_path), "orders", "run-2", waiting=waiting):
            events.append("second starts")

    holder = threading.Thread(target=first)
    holder.start()
    assert first_holds.wait(10)
    follower = threading.Thread(target=second, daemon=True)
    follower.start()
    follower.join(0.5)
    assert follower.is_alive(), "the second run did not wait for the first"
    first_may_end.set()
    holder.join(10)
    follower.join(10)
    assert events == ["first starts", "first ends", "second starts"]
    message = waiting.getvalue()
    assert message.count("\n") == 1
    assert "dataset orders is being run in this lake (run run-1, process" in message
    assert str(tmp_path / "_state" / "orders" / "local_run.lock") in message


def test_two_datasets_in_one_lake_do_not_wait_for_each_other(tmp_path):
    waiting = io.StringIO()

    def other_dataset() -> None:
        with dataset_run_lock(str(tmp_path), "customers", "run-2", waiting=waiting):
            pass

    with dataset_run_lock(str(tmp_path), "orders", "run-1"):
        follower = threading.Thread(target=other_dataset, daemon=True)
        follower.start()
        follower.join(10)
        assert not follower.is_alive(), "a run of another dataset waited for this one"
    assert waiting.getvalue() == ""


def test_the_lock_is_free_again_after_a_run_that_failed(tmp_path):
    try:
        with dataset_run_lock(str(tmp_path), "orders", "run-1"):
            raise RuntimeError("the run failed")
    except RuntimeError:
        pass
    waiting = io.StringIO()
    with dataset_run_lock(str(tmp_path), "orders", "run-2", waiting=waiting):
        pass
    assert waiting.getvalue() == ""


def test_only_a_lake_on_this_machine_is_locked_here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert local_lake_folder(str(tmp_path)) == tmp_path
    assert local_lake_folder(f"file://{tmp_path}") == tmp_path
    assert local_lake_folder("s3://bucket/lake") is None
    with dataset_run_lock("s3://bucket/lake", "orders", "run-1"):
        pass
    assert list(tmp_path.iterdir()) == []  # nothing written here for a lake on S3
