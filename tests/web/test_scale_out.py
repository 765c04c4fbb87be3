"""``rectiflow serve --processes N``: real gunicorn processes on one port, sharing the database and Redis."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.store.config import REPO_ROOT
from engine.store.db import transaction
from tests.conftest import People, Server, server_process

API = "/api/v1"
PASSWORD = "a password long enough"
TWO = ("--processes", "2", "--threads", "4")
on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def until(what: str, check: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"still not {what} after {seconds} s"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def workers(server: Server) -> set[int]:
    """The gunicorn master's live children: its worker processes."""
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(child) for child in children if alive(int(child))}


def replace_by_force(server: Server, pid: int) -> set[int]:
    """kill -9 one worker; the requests meanwhile are answered; returns the workers once the master replaced it."""
    os.kill(pid, signal.SIGKILL)
    assert requests.get(f"{server.base}{API}/health", timeout=30).status_code == 200
    until("replaced", lambda: len(workers(server)) == 2 and pid not in workers(server))
    return workers(server)


@on_postgresql
def test_two_processes_serve_one_port_a_killed_one_is_replaced_and_sigterm_stops_all(
    database_url: str, people: People, tmp_path: Path, redis_url: str
) -> None:
    environ = {"RECTIFLOW_RATELIMIT_STORAGE_URI": redis_url, "RECTIFLOW_TRUSTED_PROXIES": "1"}
    with server_process(database_url, tmp_path, environ, TWO) as server:
        until("two workers", lambda: len(workers(server)) == 2)
        first = workers(server)
        made = requests.post(
            f"{server.base}{API}/items",
            json={"title": "多进程", "department": "office"},
            headers=people.auth("reporter"),
            timeout=30,
        )
        assert made.status_code == 201, made.text

        victim = min(first)
        after = replace_by_force(server, victim)
        assert len(after - first) == 1  # a new process in its place
        for _ in range(10):
            again = requests.get(
                f"{server.base}{API}/items/{made.json()['id']}", headers=people.auth("manager"), timeout=30
            )
            assert again.status_code == 200
        # Behind one trusted proxy, the address is the one it forwarded (gunicorn trusts nothing itself).
        forwarded = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9"}
        refused = requests.post(
            f"{server.base}{API}/auth/token", json={"username": "x", "password": "y"}, headers=forwarded, timeout=30
        )
        assert refused.status_code == 401
        log = requests.get(f"{server.base}{API}/audit/admin-log", headers=people.auth("auditor"), timeout=30)
        assert [e["remote_addr"] for e in log.json()["entries"] if e["action"] == "login.failed"] == ["203.0.113.9"]
        everyone = workers(server)

    assert server.process.returncode == 0
    assert not any(alive(pid) for pid in everyone)


@on_postgresql
def test_browser_sessions_and_login_limits_hold_across_processes(
    database_url: str, sessions: sessionmaker[Session], tmp_path: Path, redis_url: str
) -> None:
    # A name of its own: other runs may count logins in the same Redis.
    name = f"m{uuid.uuid4().hex[:10]}"
    with transaction(sessions) as session:
        identity.add_department(session, "office", "办公室")
        identity.add_user(session, name, "office", ["manager"], None, PASSWORD)
    environ = {
        "RECTIFLOW_RATELIMIT_STORAGE_URI": redis_url,
        "RECTIFLOW_LOGIN_ADDRESS_LIMIT": "1000 per minute",
        "RECTIFLOW_COOKIE_SECURE": "false",
    }
    wrong = {"username": name, "password": "a wrong guess"}
    with server_process(database_url, tmp_path, environ, TWO) as server:
        until("two workers", lambda: len(workers(server)) == 2)
        browser = requests.Session()
        page = browser.get(f"{server.base}/login", timeout=30).text
        form_token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert form_token
        login = {"username": name, "password": PASSWORD, "csrf_token": form_token.group(1)}
        assert browser.post(f"{server.base}/login", data=login, allow_redirects=False, timeout=30).status_code == 302
        url = f"{server.base}{API}/auth/token"
        assert [requests.post(url, json=wrong, timeout=30).status_code for _ in range(3)] == [401] * 3

        # Every process that saw the login and the first attempts is gone: what they knew was not theirs alone.
        for pid in workers(server):
            replace_by_force(server, pid)

        me = browser.get(f"{server.base}/auth/session", timeout=30)
        assert me.status_code == 200 and me.json()["username"] == name
        assert [requests.post(url, json=wrong, timeout=30).status_code for _ in range(2)] == [401] * 2
        assert requests.post(url, json={"username": name, "password": PASSWORD}, timeout=30).status_code == 429
        ended = browser.post(f"{server.base}/auth/logout", headers={"X-CSRFToken": me.json()["csrf_token"]}, timeout=30)
        assert ended.status_code == 204
        assert browser.get(f"{server.base}/auth/session", timeout=30).status_code == 401


def serve_two(tmp_path: Path, storage_uri: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RECTIFLOW_INSTANCE_PATH": str(tmp_path), "RECTIFLOW_RATELIMIT_STORAGE_URI": storage_uri}
    command = [sys.executable, "-m", "web.cli", "serve", "--port", "0", *TWO]
    return subprocess.run(command, env={**env, **environ}, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)


def test_several_processes_without_a_shared_store_for_the_login_limits_are_refused(tmp_path: Path) -> None:
    refused = serve_two(tmp_path, "memory://")
    assert refused.returncode != 0
    assert "several processes need a shared store for the login limits" in refused.stderr
    assert "RECTIFLOW_RATELIMIT_STORAGE_URI" in refused.stderr
    assert "listening" not in refused.stdout


def test_a_shared_store_that_does_not_answer_is_refused(tmp_path: Path) -> None:
    refused = serve_two(tmp_path, "redis://:secret@127.0.0.1:1/0")
    assert refused.returncode != 0
    assert "the login limits' store redis://127.0.0.1:1 does not answer" in refused.stderr
    assert "secret" not in refused.stderr


def test_several_processes_without_the_history_key_are_refused_once(tmp_path: Path, redis_url: str) -> None:
    refused = serve_two(tmp_path, redis_url, RECTIFLOW_AUDIT_KEY="")
    assert refused.returncode == 1
    assert refused.stderr.count("No audit key") == 1
    assert "Traceback" not in refused.stderr and "listening" not in refused.stdout
