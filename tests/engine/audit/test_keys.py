"""The audit key: made by `rectiflow init`, kept out of the database and its backups, required to write history."""

from __future__ import annotations

import gzip
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.audit import keys
from engine.store.config import Settings
from engine.store.errors import AuditKeyMissing
from web import create_app
from web.cli import main


def test_init_makes_a_private_key_once_and_the_export_leaves_it_out(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    runner = CliRunner(
        env={
            "RECTIFLOW_AUDIT_KEY": None,
            "RECTIFLOW_INSTANCE_PATH": str(instance),
            "RECTIFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'rectiflow.sqlite3'}",
        }
    )
    first = runner.invoke(main, ["init"])
    assert first.exit_code == 0, first.output
    key_file = instance / "audit.key"
    assert f"audit key made: {key_file}" in first.output
    key = key_file.read_text()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key.strip()) == 64
    again = runner.invoke(main, ["init"])
    assert (again.exit_code, "audit key made" in again.output, key_file.read_text()) == (0, False, key)

    assert runner.invoke(main, ["audit", "verify"]).exit_code == 0
    dump = tmp_path / "backup.gz"
    assert runner.invoke(main, ["export", str(dump)]).exit_code == 0
    assert key.strip() not in gzip.decompress(dump.read_bytes()).decode()


def test_nothing_that_writes_or_verifies_history_starts_without_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RECTIFLOW_AUDIT_KEY")
    monkeypatch.setenv("RECTIFLOW_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("RECTIFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'rectiflow.sqlite3'}")
    with pytest.raises(AuditKeyMissing, match="RECTIFLOW_AUDIT_KEY"):
        create_app({"TESTING": True})
    for command in (["audit", "verify"], ["demo"], ["import", __file__]):
        refused = CliRunner().invoke(main, command)
        assert (refused.exit_code, "No audit key" in refused.output) == (1, True), command
    assert not (tmp_path / "audit.key").exists()


def test_a_short_key_is_refused() -> None:
    with pytest.raises(AuditKeyMissing, match="at least 32"):
        keys.load(Settings.from_env({"RECTIFLOW_AUDIT_KEY": "short"}))
