"""Where evidence files' bytes live, each once, under its SHA-256: a local folder or an S3-compatible store.

Content addressing makes a write idempotent (the same bytes are stored once, whoever uploads them
again) and lets ``audit verify`` prove the bytes on file are those the history names. This module
depends on nothing above ``engine.store``: the audit reads through it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import unquote, urlsplit

from engine.store.config import EvidenceSettings

CHUNK = 1024 * 1024


class FileStore(Protocol):
    """The few things the product asks of a file store."""

    def put(self, sha256: str, source: Path) -> None:
        """Store ``source`` (whose SHA-256 the caller computed) unless those bytes are there already."""

    def open(self, sha256: str) -> BinaryIO:
        """The stored bytes, to be read once and closed; FileNotFoundError when they are not there."""

    def digest(self, sha256: str) -> str | None:
        """The SHA-256 of what is stored under ``sha256`` now (None: nothing is)."""


def hash_stream(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _relative(sha256: str) -> str:
    """``ab/abcdef...``: a folder level keeps any one folder to a few thousand files."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a SHA-256: {sha256!r}")
    return f"{sha256[:2]}/{sha256}"


class LocalStore:
    """A folder (by default ``<instance>/files``); each file written whole or not at all."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / _relative(sha256)

    def put(self, sha256: str, source: Path) -> None:
        target = self.path(sha256)
        # Stored already and intact: nothing to do. A damaged copy is replaced by these (verified) bytes.
        if self.digest(sha256) == sha256:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        # Temp file in the same folder, then rename: a reader never sees half a file, a crash leaves none.
        handle, temp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as out, source.open("rb") as given:
                shutil.copyfileobj(given, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        finally:
            Path(temp).unlink(missing_ok=True)

    def open(self, sha256: str) -> BinaryIO:
        return self.path(sha256).open("rb")

    def digest(self, sha256: str) -> str | None:
        try:
            with self.open(sha256) as stored:
                return hash_stream(stored)
        except FileNotFoundError:
            return None


class S3Store:
    """An S3-compatible bucket, objects under ``<prefix>/ab/<sha256>``; boto3 is imported only here."""

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None) -> None:
        try:
            # Imported here: boto3 comes with the ``s3`` extra only, a plain install runs without it.
            import boto3
        except ImportError as exc:
            needed = "RECTIFLOW_STORAGE_URL is s3://: install the s3 extra (pip install 'rectiflow[s3]')"
            raise RuntimeError(needed) from exc
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client: Any = boto3.client("s3", endpoint_url=endpoint_url)

    def key(self, sha256: str) -> str:
        return f"{self.prefix}/{_relative(sha256)}" if self.prefix else _relative(sha256)

    def put(self, sha256: str, source: Path) -> None:
        if self.digest(sha256) == sha256:
            return
        # One PUT (or a multipart upload) is atomic: the object appears whole or not at all.
        self.client.upload_file(str(source), self.bucket, self.key(sha256))

    def open(self, sha256: str) -> BinaryIO:
        try:
            body: BinaryIO = self.client.get_object(Bucket=self.bucket, Key=self.key(sha256))["Body"]
        except self.client.exceptions.NoSuchKey as exc:
            raise FileNotFoundError(self.key(sha256)) from exc
        return body

    def digest(self, sha256: str) -> str | None:
        try:
            stored = self.open(sha256)
        except FileNotFoundError:
            return None
        try:
            return hash_stream(stored)
        finally:
            stored.close()


def open_store(settings: EvidenceSettings, instance_path: Path) -> FileStore:
    """The store ``RECTIFLOW_STORAGE_URL`` names (unset: ``<instance>/files``)."""
    url = urlsplit(settings.storage_url)
    if url.scheme == "s3":
        return S3Store(url.netloc, url.path, settings.s3_endpoint_url)
    if url.scheme == "file":
        return LocalStore(Path(unquote(url.path)))
    return LocalStore(instance_path / "files")


def chunks(stream: BinaryIO) -> Iterator[bytes]:
    """Read a stored file a chunk at a time, closing it at the end (a download, a backup)."""
    try:
        yield from iter(lambda: stream.read(CHUNK), b"")
    finally:
        stream.close()
