"""File and DataFrame I/O on the lake, through Hadoop's FileSystem.

Hadoop FS resolves `s3://` to EMRFS on Glue and `file:` or plain paths locally, so the jobs
use one code path everywhere. Every write here is an overwrite of a well-defined location,
which is what makes re-running a job idempotent.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from py4j.protocol import Py4JError
from pyspark import SparkContext
from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType
from pyspark.util import inheritable_thread_target

Result = TypeVar("Result")
Item = TypeVar("Item")


@dataclass(frozen=True)
class FileInfo:
    uri: str  # the (encoded) form Spark's input_file_name() reports, so the two can be matched
    path: str  # the Hadoop path to read it with (spark.read takes paths, not encoded URIs)
    name: str
    size: int
    modified_ms: int
    checksum: str = ""  # of the content; see with_checksums
    version: str = ""  # which write of the object this is, where the listing says (S3's ETag); see list_files
    reading: str = ""  # how and by which run it is read: reading it again gives it another partition

    @property
    def file_id(self) -> str:
        return file_id(self.uri, self.checksum, self.reading)


def file_name(uri: str) -> str:
    """A file's name as a person wrote it, from its (encoded) URI: `orders%201.csv` is `orders 1.csv`."""
    return urllib.parse.unquote(uri.rsplit("/", 1)[-1])


def file_id(uri: str, checksum: str = "", reading: str = "") -> str:
    """A short stable id of one reading of one delivery of a landing file (its raw and quarantine
    partition): a re-delivery with other content under the same name, or the same file read again
    (reprocessed, or under a changed declaration), gets another id, so the new rows are written and
    checked beside the old ones before they replace them, and a failed attempt leaves the old ones."""
    tail = f"|{reading}" if reading else ""
    return hashlib.sha256(f"{uri}|{checksum}{tail}".encode()).hexdigest()[:16]


@functools.cache
def _resolved_class(jvm: Any, name: str) -> Any:
    return functools.reduce(getattr, name.split("."), jvm)


def java_class(spark: SparkSession, name: str) -> Any:
    """A JVM class by its full name, looked up once per process: each part of a dotted name is a
    round trip to the JVM (0.5 ms for Hadoop's Path), paid per file when it is looked up per call."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    return _resolved_class(jvm, name)


@functools.cache
def _hadoop_configuration(context: SparkContext) -> Any:
    """The context's Hadoop configuration: one object for the context's life, fetched once rather
    than a JVM call per file."""
    return context._jsc.hadoopConfiguration()  # type: ignore[union-attr]


def _hadoop(spark: SparkSession, path: str) -> tuple[Any, Any]:
    hadoop_path = java_class(spark, "org.apache.hadoop.fs.Path")(path)
    return hadoop_path.getFileSystem(_hadoop_configuration(spark.sparkContext)), hadoop_path


def exists(spark: SparkSession, path: str) -> bool:
    fs, hadoop_path = _hadoop(spark, path)
    return bool(fs.exists(hadoop_path))


def is_hidden(relative_path: str) -> bool:
    """Hidden as Spark and Hive see it: a part of the path below the root starts with `.`, or with
    `_` without being a partition folder (`_file_id=...`)."""
    parts = [part for part in relative_path.split("/") if part]
    return any(part.startswith(".") or (part.startswith("_") and "=" not in part) for part in parts)


def list_files(spark: SparkSession, root: str) -> list[FileInfo]:
    """Every file below root (recursively), skipping hidden files and folders (`_temporary/`,
    `.staging/`, `_SUCCESS`), sorted by URI."""
    fs, hadoop_path = _hadoop(spark, root)
    if not fs.exists(hadoop_path):
        return []
    root_uri = fs.makeQualified(hadoop_path).toUri().getPath().rstrip("/")
    found = []
    iterator = fs.listFiles(hadoop_path, True)
    version_of = None
    while iterator.hasNext():  # each call below crosses to the JVM: as few as possible per file
        status = iterator.next()
        version_of = version_of or _version_reader(status)
        uri = str(status.getPath().toUri().toString())
        path, uri_path = path_of_uri(uri)
        if is_hidden(uri_path[len(root_uri) :]):
            continue
        found.append(
            FileInfo(
                uri=uri,
                path=path,
                name=uri_path.rsplit("/", 1)[-1],
                size=int(status.getLen()),
                modified_ms=int(status.getModificationTime()),
                version=version_of(status),
            )
        )
    return sorted(found, key=lambda info: info.uri)


def path_of_uri(uri: str) -> tuple[str, str]:
    """(the Hadoop path's text, the decoded path part) of a listed file's URI, as Hadoop's
    Path.toString() and URI.getPath() give them: computed here rather than asked of the JVM,
    two calls a file of a listing."""
    parts = urllib.parse.urlsplit(uri)
    decoded = urllib.parse.unquote(parts.path)
    authority = f"//{urllib.parse.unquote(parts.netloc)}" if parts.netloc else ""
    return f"{parts.scheme}:{authority}{decoded}", decoded


# Hadoop's EtagSource (3.3.2 and later), then S3A's located status before it.
ETAG_METHODS = ("getEtag", "getETag")


def _version_reader(status: Any) -> Callable[[Any], str]:
    """How to read a listed file's version from the statuses of its file system: the ETag where
    the status carries one (S3A's, from the listing itself: no request per file), else nothing.
    Probed on the first status of a listing, not per file: a missing method is a JVM round trip."""
    for method in ETAG_METHODS:
        try:
            getattr(status, method)()
        except Py4JError:
            continue
        return functools.partial(_etag, method)
    return lambda listed: ""


def _etag(method: str, status: Any) -> str:
    return str(getattr(status, method)() or "")


GLOB_CHARACTERS = frozenset("\\*?[]{}")


def literal_path(path: str) -> str:
    """A file's path as Spark's readers take it literally: they expand glob patterns, so a landing
    file named `orders[1].csv` or `orders{a}.csv` is read only with its pattern characters escaped."""
    return "".join(f"\\{character}" if character in GLOB_CHARACTERS else character for character in path)


def file_listing(spark: SparkSession, roots: Iterable[str]) -> list[tuple[str, int, int]]:
    """(path, size, modification ms) of every file below the roots that exist, hidden ones skipped
    as Spark skips them, sorted. Spark's file index lists them and one small job returns them, so
    thousands of files cost a fraction of a second instead of several calls each through the driver."""
    existing = [root for root in roots if exists(spark, root)]
    if not existing:
        return []
    found = (
        spark.read.format("binaryFile")
        .option("recursiveFileLookup", "true")
        .load(existing)
        .select("path", "length", F.col("modificationTime").cast("timestamp").cast("double"))
        .collect()
    )
    return sorted((str(row[0]), int(row[1]), round(float(row[2]) * 1000)) for row in found)


def content_checksum(spark: SparkSession, path: str) -> str:
    """The file system's checksum of a file when it keeps one (HDFS; S3A keeps none by default),
    else the MD5 of its bytes, computed in the JVM in one call."""
    fs, hadoop_path = _hadoop(spark, path)
    checksum = fs.getFileChecksum(hadoop_path)
    if checksum is not None:
        return f"{checksum.getAlgorithmName()}:{bytes(checksum.getBytes()).hex()}"
    stream = fs.open(hadoop_path)
    try:
        return f"md5:{java_class(spark, 'org.apache.commons.codec.digest.DigestUtils').md5Hex(stream)}"
    finally:
        stream.close()


# Per-file calls (a HEAD or GET each on S3) are latency, not work: this many run at once.
FILE_CALL_THREADS = 16


def for_each_file(read: Callable[[Item], Result], files: Iterable[Item]) -> list[Result]:
    """read(file) for every file (a FileInfo, a path), FILE_CALL_THREADS at a time, in the files' order."""
    with ThreadPoolExecutor(max_workers=FILE_CALL_THREADS, thread_name_prefix="file-calls") as pool:
        return list(pool.map(inheritable_thread_target(read), files))


def with_checksums(spark: SparkSession, files: Iterable[FileInfo], known: Mapping[str, str]) -> list[FileInfo]:
    """The files with their content's checksum: known (by URI) where it is already known, else read."""
    return for_each_file(lambda info: replace(info, checksum=known.get(info.uri) or content_checksum(spark, info.path)),
                         files)  # fmt: skip


def list_directories(spark: SparkSession, path: str) -> list[str]:
    fs, hadoop_path = _hadoop(spark, path)
    if not fs.exists(hadoop_path):
        return []
    return sorted(status.getPath().getName() for status in fs.listStatus(hadoop_path) if status.isDirectory())


def read_text(spark: SparkSession, path: str) -> str | None:
    """A small text file's content (read whole, not a JVM call per line), or None when it does not exist."""
    fs, hadoop_path = _hadoop(spark, path)
    if not fs.exists(hadoop_path):
        return None
    return _read_all(spark, fs.open(hadoop_path)).decode("utf-8")


# py4j sends a reply of up to 8 KiB (a byte array: base64, a third larger) in one TCP segment;
# a longer one goes in two, and the second waits for a delayed acknowledgement: about 40 ms a call
# on Linux (a file of 8 KiB returned as a byte array took 44 ms; one of 6 KiB, 2 ms).
DIRECT_READ_BYTES = 6000


def _read_all(spark: SparkSession, stream: Any) -> bytes:
    """All of a JVM stream's bytes, closing it: up to DIRECT_READ_BYTES as a byte array, the rest
    through a local temporary file the JVM copies it to."""
    try:
        head = bytes(stream.readNBytes(DIRECT_READ_BYTES))
        if len(head) < DIRECT_READ_BYTES:
            return head
        handle, local = tempfile.mkstemp(prefix="jvm-read-")
        os.close(handle)
        try:
            java_class(spark, "org.apache.commons.io.FileUtils").copyToFile(
                stream, java_class(spark, "java.io.File")(local)
            )
            return head + Path(local).read_bytes()
        finally:
            os.unlink(local)
    finally:
        stream.close()


# Compressed files Spark reads as text, decompressing by the name's suffix (Hadoop's codecs that
# need no native library; as case-sensitive as Hadoop's own lookup).
COMPRESSED_SUFFIXES = (".gz", ".bz2")


def content_name(name: str) -> str:
    """The name of what a file holds: without the suffix of a compression Spark reads through."""
    return next((name.removesuffix(suffix) for suffix in COMPRESSED_SUFFIXES if name.endswith(suffix)), name)


@functools.cache
def _codecs(spark: SparkSession) -> Any:
    configuration = _hadoop_configuration(spark.sparkContext)
    return java_class(spark, "org.apache.hadoop.io.compress.CompressionCodecFactory")(configuration)


def _open_content(spark: SparkSession, path: str) -> Any:
    """A stream of a file's content, decompressed as Spark's readers decompress it (by the name)."""
    fs, hadoop_path = _hadoop(spark, path)
    stream = fs.open(hadoop_path)
    codec = _codecs(spark).getCodec(hadoop_path) if content_name(path) != path else None
    if codec is None:
        return stream
    try:
        return codec.createInputStream(stream)
    except Exception:
        stream.close()
        raise


# What Spark's CSV reader takes for a blank line and skips, the header's place included (Java's
# String.trim strips every character up to U+0020, tabs and form feeds too; Spark SQL's trim only spaces).
BLANK_CHARACTERS = "".join(chr(code) for code in range(0x21))


# Each a byte of its own in UTF-8 and in every encoding a table may declare (datasets.base.encoding_problem).
BLANK_BYTES = BLANK_CHARACTERS.encode("ascii")

# The line ends of Spark's text reader (Hadoop's LineReader) and of Java's BufferedReader.readLine:
# LF, CRLF, or CR alone. They are bytes no character of a table's encoding holds, so bytes split before decoding.
LINE_END = re.compile(rb"\r\n|\r|\n")


def read_first_line(spark: SparkSession, path: str) -> bytes | None:
    """The first line of a file's content that is not blank (its CSV header: Spark's reader skips
    blank lines before it too), as bytes for the table's encoding to decode, without reading the
    rest; None when there is none (an empty file, a compressed one, whose bytes are not empty, or
    one of blank lines only).

    The bytes come back DIRECT_READ_BYTES a call and are split here as Java's BufferedReader
    splits lines: a JVM call per line and per reader object was 8 calls a file, this is 5 for a
    header within the first 6,000 bytes."""
    stream = _open_content(spark, path)
    try:
        unfinished = b""  # the last line read so far, which may go on past these bytes
        while True:
            chunk = bytes(stream.readNBytes(DIRECT_READ_BYTES))
            *complete, unfinished = LINE_END.split(unfinished + chunk)
            whole = len(chunk) < DIRECT_READ_BYTES
            lines = [*complete, unfinished] if whole else complete
            first = next((line for line in lines if line.strip(BLANK_BYTES)), None)
            if first is not None:
                return first
            if whole:
                return None
    finally:
        stream.close()


def java_decoded(spark: SparkSession, content: bytes, charset: str) -> str | None:
    """content decoded as Java, and so Spark's CSV reader, decodes it in this charset (bytes it
    does not map replaced by U+FFFD); None when Java knows no charset by that name."""
    if not java_class(spark, "java.nio.charset.Charset").isSupported(charset):
        return None
    return str(java_class(spark, "java.lang.String")(bytearray(content), charset))


def read_content(spark: SparkSession, path: str) -> bytes:
    """A small file's whole content, decompressed as Spark reads it (in one call up to DIRECT_READ_BYTES)."""
    return _read_all(spark, _open_content(spark, path))


def read_to_end(spark: SparkSession, path: str) -> int:
    """Reads a file's content to its end and returns its length: raises when it cannot be read
    through (a truncated or corrupt compressed file), as Spark's readers would."""
    stream = _open_content(spark, path)
    try:
        return int(java_class(spark, "org.apache.commons.io.IOUtils").consume(stream))
    finally:
        stream.close()


def write_text(spark: SparkSession, path: str, text: str) -> None:
    """Write a small text file, replacing any previous version whole: readers, and a run after a
    crash, find the old text or the new, never a part (the ledger, the catalog file that publishes
    gold). On S3 a single PUT is that; on a local disk the text goes to a hidden file renamed over
    the old one."""
    fs, hadoop_path = _hadoop(spark, path)
    if fs.getScheme() != "file":
        _write_bytes(fs, hadoop_path, text)
        return
    # Through the raw file system, without a checksum file: a .crc renamed after its data could be
    # left behind by a crash, naming the old content. The old one goes first (no .crc: nothing to verify).
    raw = fs.getRawFileSystem()
    temporary = java_class(spark, "org.apache.hadoop.fs.Path")(
        hadoop_path.getParent(), f".{hadoop_path.getName()}.{uuid.uuid4().hex}.tmp"
    )
    _write_bytes(raw, temporary, text)
    checksum_file = fs.getChecksumFile(hadoop_path)
    if raw.exists(checksum_file):
        raw.delete(checksum_file, False)
    if not raw.rename(temporary, hadoop_path):  # rename(2): replaces the old file at once
        raw.delete(temporary, False)
        raise OSError(f"could not replace {path}")


def _write_bytes(fs: Any, hadoop_path: Any, text: str) -> None:
    stream = fs.create(hadoop_path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def delete(spark: SparkSession, path: str) -> None:
    fs, hadoop_path = _hadoop(spark, path)
    if fs.exists(hadoop_path):
        fs.delete(hadoop_path, True)


def delete_all(spark: SparkSession, paths: Iterable[str]) -> None:
    for path in paths:
        delete(spark, path)


def delete_subfolders(spark: SparkSession, parent: str, names: Iterable[str]) -> None:
    """Deletes the named folders of parent that exist, listing parent once rather than asking
    for each name (thousands of deliveries: one listing, not thousands of requests)."""
    present = set(list_directories(spark, parent))
    delete_all(spark, [f"{parent}/{name}" for name in names if name in present])


def has_data_files(spark: SparkSession, path: str) -> bool:
    """True when path holds at least one data file (a write of zero rows leaves only markers)."""
    fs, hadoop_path = _hadoop(spark, path)
    if not fs.exists(hadoop_path):
        return False
    iterator = fs.listFiles(hadoop_path, True)
    while iterator.hasNext():
        if not iterator.next().getPath().getName().startswith((".", "_")):
            return True
    return False


def read_parquet(spark: SparkSession, path: str, schema: StructType | str | None = None) -> DataFrame | None:
    """The Parquet dataset at path, or None when it holds no rows' files at all. With a schema
    (a StructType or DDL, partition columns included) no Spark job reads a footer to infer it."""
    if not has_data_files(spark, path):
        return None
    return (spark.read.schema(schema) if schema is not None else spark.read).parquet(path)


def write_parquet(df: DataFrame, path: str, partition_by: Iterable[str] = ()) -> None:
    """Overwrite a Parquet dataset; with partition columns, only the partitions present in df."""
    writer = df.write.mode("overwrite")
    columns = list(partition_by)
    if columns:
        writer = writer.partitionBy(*columns)
    writer.parquet(path)


def write_parquet_observed(
    df: DataFrame, path: str, metrics: Mapping[str, Column], partition_by: Iterable[str] = ()
) -> dict[str, Any]:
    """write_parquet, returning aggregates (name -> aggregate column) of the rows it wrote, computed
    as they flow into the writer (an observation: no second job reads them back)."""
    observation = Observation()
    write_parquet(
        df.observe(observation, *[column.alias(name) for name, column in metrics.items()]), path, partition_by
    )
    return dict(observation.get)


def write_parquet_counted(df: DataFrame, path: str, partition_by: Iterable[str] = ()) -> int:
    """write_parquet, returning how many rows it wrote (observed, not read back)."""
    return int(write_parquet_observed(df, path, {"rows": F.count(F.lit(1))}, partition_by)["rows"])
