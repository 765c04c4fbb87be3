"""The one place configuration is read from the environment (prefix ``RECTIFLOW_``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Typed settings; every variable the product reads is a field here.

    - ``RECTIFLOW_INSTANCE_PATH``: folder for the SQLite file and other local state (default ``./instance``).
    - ``RECTIFLOW_DATABASE_URL``: SQLAlchemy URL (default a SQLite file in the instance folder);
      ``postgresql://`` and ``postgresql+psycopg://`` are both accepted.
    - ``RECTIFLOW_PROCESSES_PATH``: the bundled diagrams and their forms (default ``processes/``).
    - ``RECTIFLOW_MAX_UPLOAD_BYTES``: largest request body accepted (default 5 MB).
    - ``RECTIFLOW_TIMEZONE``: the office's time zone, for deadlines and report periods (default Asia/Shanghai).
    """

    instance_path: Path
    database_url: str
    processes_path: Path = REPO_ROOT / "processes"
    max_upload_bytes: int = 5 * 1024 * 1024
    timezone: str = "Asia/Shanghai"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        instance = Path(env.get("RECTIFLOW_INSTANCE_PATH", str(Path.cwd() / "instance"))).resolve()
        url = env.get("RECTIFLOW_DATABASE_URL") or f"sqlite:///{instance / 'rectiflow.sqlite3'}"
        return cls(
            instance_path=instance,
            database_url=url,
            processes_path=Path(env.get("RECTIFLOW_PROCESSES_PATH", str(REPO_ROOT / "processes"))),
            max_upload_bytes=int(env.get("RECTIFLOW_MAX_UPLOAD_BYTES", str(5 * 1024 * 1024))),
            timezone=env.get("RECTIFLOW_TIMEZONE", "Asia/Shanghai"),
        )
