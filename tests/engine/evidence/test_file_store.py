"""The file stores: each file written whole, the same bytes once; the S3 backend against a real S3-compatible
HTTP server on loopback (moto's server: an emulator of S3, not Amazon's service itself)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from engine.evidence import storage
from engine.store.config import EvidenceSettings


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[storage.FileStore]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # boto3 reads the standard AWS variables itself, as it does in production.
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    settings = EvidenceSettings(storage_url="s3://evidence/rectiflow", s3_endpoint_url=f"http://{host}:{port}")
    store = storage.open_store(settings, Path("/nonexistent"))
    assert isinstance(store, storage.S3Store)
    store.client.create_bucket(Bucket="evidence")
    yield store
    server.stop()


@pytest.fixture
def local(tmp_path: Path) -> storage.FileStore:
    return storage.open_store(EvidenceSettings(), tmp_path)


def put(store: storage.FileStore, tmp_path: Path, content: bytes) -> str:
    source = tmp_path / "upload"
    source.write_bytes(content)
    sha256 = hashlib.sha256(content).hexdigest()
    store.put(sha256, source)
    return sha256


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_a_file_is_stored_once_and_read_back(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> None:
    store: storage.FileStore = request.getfixturevalue(backend)
    content = "整改报告".encode() * 100_000
    sha256 = put(store, tmp_path, content)
    assert put(store, tmp_path, content) == sha256
    assert b"".join(storage.chunks(store.open(sha256))) == content
    assert store.digest(sha256) == sha256
    assert store.digest("0" * 64) is None
    with pytest.raises(FileNotFoundError):
        store.open("0" * 64)


def test_the_local_store_leaves_no_partial_file_and_heals_a_damaged_copy(tmp_path: Path) -> None:
    store = storage.LocalStore(tmp_path / "files")
    sha256 = put(store, tmp_path, b"%PDF-1.4 minutes")
    store.path(sha256).write_bytes(b"swapped")
    assert store.digest(sha256) != sha256
    put(store, tmp_path, b"%PDF-1.4 minutes")
    assert store.digest(sha256) == sha256
    assert [p.name for p in (tmp_path / "files").rglob("*") if p.is_file()] == [sha256]


def test_the_default_store_is_the_instance_folder(tmp_path: Path) -> None:
    store = storage.open_store(EvidenceSettings(), tmp_path)
    assert isinstance(store, storage.LocalStore) and store.root == tmp_path / "files"
    with pytest.raises(ValueError, match="RECTIFLOW_STORAGE_URL"):
        EvidenceSettings.from_env({"RECTIFLOW_STORAGE_URL": "ftp://x"})
