"""Local Spark's file system (glue_etl_local/java/LocalFileSystemWithoutShell.java): Hadoop's, with
permissions set and read in the JVM instead of by a `chmod` or `ls -ld` process per file."""

import gzip
import os
import pwd
import random
import stat
import tempfile
import threading

import pytest
from py4j.protocol import Py4JJavaError

from etl_lib import storage
from glue_etl_local import hadoop_fs


def _file_system(spark, path):
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path.as_uri())
    return jvm, hadoop_path, hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_local_paths_are_served_by_the_file_system_without_shell(spark, tmp_path):
    _, _, file_system = _file_system(spark, tmp_path)
    # Where the jar cannot be built (the Glue image: no pyspark jars folder), Hadoop's own serves them.
    expected = hadoop_fs.LOCAL_FILESYSTEM_CLASS if hadoop_fs.can_build() else "org.apache.hadoop.fs.LocalFileSystem"
    assert file_system.getClass().getName() == expected


def test_permissions_set_reach_the_disk_and_are_read_back(spark, tmp_path):
    jvm, folder, file_system = _file_system(spark, tmp_path)
    target = tmp_path / "delivery.csv"
    target.write_text("id\n1\n")
    hadoop_file = jvm.org.apache.hadoop.fs.Path(folder, "delivery.csv")
    for mode in (0o640, 0o751, 0o604):
        file_system.setPermission(hadoop_file, jvm.org.apache.hadoop.fs.permission.FsPermission(mode))
        assert _mode(target) == mode
        assert file_system.getFileStatus(hadoop_file).getPermission().toShort() == mode
    listed = {str(status.getPath().getName()): status for status in file_system.listStatus(folder)}
    assert listed["delivery.csv"].getPermission().toShort() == 0o604
    assert listed["delivery.csv"].getOwner() == pwd.getpwuid(os.stat(target).st_uid).pw_name
    assert listed["delivery.csv"].getLen() == len("id\n1\n")


def test_spark_writes_get_hadoops_default_permissions(spark, tmp_path):
    output = tmp_path / "table"
    spark.range(3).selectExpr("id", "id % 2 AS part").write.partitionBy("part").parquet(str(output))
    folders = [path for path in output.rglob("*") if path.is_dir()]
    files = [path for path in output.rglob("*") if path.is_file()]
    assert len(folders) == 2
    assert any(path.name.endswith(".parquet") for path in files)
    # Hadoop's defaults (0777 folders, 0666 files) less its default umask 022, as its chmod would set them.
    assert {_mode(path) for path in [output, *folders]} == {0o755}
    assert {_mode(path) for path in files} == {0o644}
    assert spark.read.parquet(str(output)).count() == 3


def test_a_text_file_is_replaced_whole_never_seen_in_part(spark, tmp_path):
    """The ledger and the catalog file (which publishes gold locally) are rewritten in place: a
    reader meanwhile, or a run after a crash, must find the old text or the new one."""
    target = str(tmp_path / "_catalog" / "orders.json")
    versions = ["a" * 400_000, "b" * 300_000]
    storage.write_text(spark, target, versions[0])
    assert not (tmp_path / "_catalog" / ".orders.json.crc").exists()
    seen: set[int] = set()
    writing = threading.Event()

    def read_while_written() -> None:
        while writing.is_set():
            text = storage.read_text(spark, target)
            seen.add(len(text) if text in versions else -1)

    writing.set()
    reader = threading.Thread(target=read_while_written)
    reader.start()
    try:
        for index in range(40):
            storage.write_text(spark, target, versions[index % 2])
    finally:
        writing.clear()
        reader.join(60)
    assert -1 not in seen, "a reader saw the file in part"
    assert storage.read_text(spark, target) == versions[1]
    assert sorted(path.name for path in (tmp_path / "_catalog").iterdir()) == ["orders.json"]


def test_a_text_file_written_with_a_checksum_before_is_replaced_and_reads_back(spark, tmp_path):
    _, hadoop_path, file_system = _file_system(spark, tmp_path / "ledger.json")
    stream = file_system.create(hadoop_path, True)  # as the previous version of write_text did
    stream.write(bytearray(b'{"files": {}}'))
    stream.close()
    assert (tmp_path / ".ledger.json.crc").exists()
    storage.write_text(spark, str(tmp_path / "ledger.json"), '{"files": {"a": 1}}')
    assert storage.read_text(spark, str(tmp_path / "ledger.json")) == '{"files": {"a": 1}}'
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ledger.json"]


def test_files_read_on_the_driver_come_back_byte_for_byte_and_leave_no_temporary_file(spark, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    # Either side of what comes back as a byte array (the rest through a temporary file), in
    # bytes that are not UTF-8.
    direct = storage.DIRECT_READ_BYTES
    sizes = (0, direct - 1, direct, direct + 1, 65536)
    contents = {size: random.Random(size).randbytes(size) for size in sizes}
    for size, content in contents.items():
        (tmp_path / f"{size}.bin").write_bytes(content)
        assert storage.read_content(spark, str(tmp_path / f"{size}.bin")) == content
    text = "é,ü,€\n" * 2000
    (tmp_path / "ledger.json").write_text(text, encoding="utf-8")
    assert storage.read_text(spark, str(tmp_path / "ledger.json")) == text
    # Compressed files cut short: in the first bytes, and past them (the copy to the file fails).
    compressed = gzip.compress(contents[65536], mtime=0)
    for cut in (100, 30000):
        (tmp_path / "cut.csv.gz").write_bytes(compressed[:cut])
        with pytest.raises(Py4JJavaError, match="EOFException"):
            storage.read_content(spark, str(tmp_path / "cut.csv.gz"))
    assert list(scratch.iterdir()) == []
