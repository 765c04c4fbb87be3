"""``rectiflow serve``: waitress in one process, or a gunicorn master keeping N worker processes on one port.

One process (the default, ``make run``) is waitress with threads. ``--processes N`` (N > 1) is gunicorn:
its master binds the port and keeps N ``gthread`` worker processes serving it, starts a new one when
one dies, and on SIGTERM stops them all after their requests in flight. Which process answers makes no
difference: state lives in the database, the login counters in the shared store
(``RECTIFLOW_RATELIMIT_STORAGE_URI``), the session key in ``RECTIFLOW_SECRET_KEY`` or the instance folder.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import sys
import threading
from typing import Any
from urllib.parse import urlsplit

import click
from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers.base import Worker as GunicornWorker
from limits.storage import MemoryStorage, storage_from_string
from sqlalchemy import Engine

from engine.audit import keys
from engine.bpmn import live
from engine.deadlines.worker import Worker
from engine.store.config import Settings
from engine.store.db import configured_engine, make_session_factory


def timer_worker(engine: Engine, settings: Settings, name: str, lease: float, batch: int, verbose: bool) -> Worker:
    """The background worker (BPMN timers, e-mail, webhooks...); ``verbose``: print each job it ran."""
    live.pool.capacity = settings.live_workflows

    def report(job_id: int, item_id: int | None, fired: list[str]) -> None:
        click.echo(f"job {job_id} item {item_id} fired {','.join(fired) or '-'}")
        sys.stdout.flush()

    return Worker(
        make_session_factory(engine, keys.load(settings)),
        name=name,
        lease=dt.timedelta(seconds=lease),
        batch=batch,
        on_done=report if verbose else None,
        mail=settings.mail,
        recurrence_months=settings.recurrence_months,
    )


def _worker_beside(settings: Settings) -> threading.Event:
    """A worker thread in this process (jobs are leased: any number of them may run); set the event to stop it."""
    name = f"{socket.gethostname()}:{os.getpid()}:serve"
    background = timer_worker(configured_engine(settings), settings, name, 60.0, 10, False)
    stop = threading.Event()
    threading.Thread(target=background.run_until, args=(stop, 1.0), daemon=True).start()
    return stop


def _announce(host: str, port: int) -> None:
    # Printed once the socket listens, so scripts can wait for this line instead of polling.
    click.echo(f"Rectiflow listening on http://{host}:{port}/api/v1/docs")
    sys.stdout.flush()


def one_process(settings: Settings, host: str, port: int, threads: int, worker: bool) -> None:
    from waitress.server import create_server

    from web import create_app

    if worker:
        _worker_beside(settings)
    # Behind RECTIFLOW_TRUSTED_PROXIES proxies the app's ProxyFix reads X-Forwarded-*: waitress must pass them on
    # (it drops them by default, and every client would look like the proxy).
    server = create_server(
        create_app(),
        host=host,
        port=port,
        threads=threads,
        ident="rectiflow",
        clear_untrusted_proxy_headers=not settings.trusted_proxies,
    )
    _announce(host, server.effective_port)
    server.run()


def require_shared_limits(settings: Settings) -> None:
    """Refuse several processes that would each count login attempts apart (N processes: N times the limit)."""
    uri = settings.ratelimit_storage_uri
    storage = storage_from_string(uri)
    if isinstance(storage, MemoryStorage):
        raise click.UsageError(
            f"several processes need a shared store for the login limits, not {uri}: "
            "set RECTIFLOW_RATELIMIT_STORAGE_URI (e.g. redis://127.0.0.1:6379/0)"
        )
    if not storage.check():
        where = urlsplit(uri)  # without any password in it
        raise click.ClickException(
            f"the login limits' store {where.scheme}://{where.hostname}:{where.port} does not answer"
        )


class _Gunicorn(BaseApplication):
    """gunicorn's master configured here, not from its command line or a config file."""

    def __init__(self, settings: Settings, host: str, options: dict[str, Any], worker: bool) -> None:
        self.settings, self.host, self.options, self.worker = settings, host, options, worker
        self.stop_worker: threading.Event | None = None
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        self.cfg.set("when_ready", self._ready)
        self.cfg.set("worker_exit", self._worker_exit)

    def load(self) -> Flask:
        """In each worker process, after the fork: its own app, database pool and worker thread."""
        from web import create_app

        if self.worker:
            self.stop_worker = _worker_beside(self.settings)
        return create_app()

    def _ready(self, arbiter: Arbiter) -> None:
        _announce(self.host, arbiter.LISTENERS[0].sock.getsockname()[1])

    def _worker_exit(self, _arbiter: Arbiter, _worker: GunicornWorker) -> None:
        if self.stop_worker is not None:
            self.stop_worker.set()


def many_processes(settings: Settings, host: str, port: int, processes: int, threads: int, worker: bool) -> None:
    require_shared_limits(settings)
    # Each worker process builds the app; a missing history key would fail them all, one traceback each.
    keys.load(settings)
    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": processes,
        "worker_class": "gthread",
        "threads": threads,
        "proc_name": "rectiflow",
        # Exactly as with waitress: only the app's ProxyFix, with RECTIFLOW_TRUSTED_PROXIES hops, reads
        # X-Forwarded-*. gunicorn passes those headers on but itself trusts no peer to set the scheme
        # (it would trust 127.0.0.1 by default, whatever the count).
        "forwarded_allow_ips": "",
        "secure_scheme_headers": {},
        # gunicorn's runtime control socket sits at one path per user: two servers would fight over it.
        "control_socket_disable": True,
    }
    _Gunicorn(settings, host, options, worker).run()
