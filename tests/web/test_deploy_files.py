"""deploy/: the nginx site run for real in front of ``rectiflow serve --processes 2``, and the systemd units."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from engine.store.config import REPO_ROOT
from tests.conftest import People, free_port, installed, server_process
from tests.web.test_scale_out import TWO, on_postgresql, until

DEPLOY = REPO_ROOT / "deploy"


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
    names = ["-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        ["openssl", *request, *names, "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True
    )
    return cert, key


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[tuple[int, int, int, Path]]:
    """deploy/nginx.conf on loopback ports; yields (upstream port for the app, http port, https port, certificate)."""
    binary = installed("nginx")
    upstream, plain, tls = free_port(), free_port(), free_port()
    cert, key = _certificate(tmp_path)
    site = (DEPLOY / "nginx.conf").read_text()
    for old, new in {
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream};",
        "listen 80;": f"listen 127.0.0.1:{plain};",
        "listen [::]:80;": "",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{tls} ssl http2;",
        "listen [::]:443 ssl http2;": "",
        "/etc/letsencrypt/live/rectiflow.example.org/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/rectiflow.example.org/privkey.pem": str(key),
        # nginx reaches the app from another address than the client's: which one the app reports tells.
        "proxy_pass http://rectiflow;": "proxy_pass http://rectiflow;\n        proxy_bind 127.0.0.2;",
    }.items():
        assert old in site
        site = site.replace(old, new)
    (tmp_path / "site.conf").write_text(site)
    temp = " ".join(
        f"{kind}_temp_path {tmp_path / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = tmp_path / "nginx.conf"
    main.write_text(
        ("user root;\n" if os.getuid() == 0 else "")  # its workers write the temporary files under tmp_path
        + f"daemon off;\npid {tmp_path / 'nginx.pid'};\nerror_log stderr;\nevents {{}}\n"
        + f"http {{\naccess_log off;\n{temp}\ninclude {tmp_path / 'site.conf'};\n}}\n"
    )
    command = [binary, "-e", "stderr", "-p", str(tmp_path), "-c", str(main)]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    with subprocess.Popen(command, stderr=subprocess.DEVNULL) as process:
        try:
            until("nginx listening or stopped", lambda: process.poll() is not None or _listening(tls), 30)
            assert process.poll() is None, "nginx stopped"
            yield upstream, plain, tls, cert
        finally:
            process.terminate()
            process.wait(timeout=30)


@on_postgresql
def test_nginx_serves_tls_in_front_of_two_processes_and_forwards_the_address_it_saw(
    database_url: str, people: People, tmp_path: Path, redis_url: str, nginx: tuple[int, int, int, Path]
) -> None:
    upstream, plain, tls, cert = nginx
    environ = {"RECTIFLOW_RATELIMIT_STORAGE_URI": redis_url, "RECTIFLOW_TRUSTED_PROXIES": "1"}
    app = tmp_path / "app"
    app.mkdir()
    with server_process(database_url, app, environ, TWO, port=upstream):
        base = f"https://127.0.0.1:{tls}"
        moved = requests.get(f"http://127.0.0.1:{plain}/login", allow_redirects=False, timeout=30)
        assert (moved.status_code, moved.headers["Location"]) == (301, "https://127.0.0.1/login")
        assert requests.get(f"{base}/api/v1/health", verify=str(cert), timeout=30).status_code == 200

        # The app takes the entry nginx appended (the client's 127.0.0.1, not nginx's own 127.0.0.2), and not
        # what the client wrote itself.
        forged = {"X-Forwarded-For": "198.51.100.66"}
        wrong = {"username": "manager", "password": "a wrong guess"}
        refused = requests.post(f"{base}/api/v1/auth/token", json=wrong, headers=forged, verify=str(cert), timeout=30)
        assert refused.status_code == 401
        log = requests.get(
            f"{base}/api/v1/audit/admin-log", headers=people.auth("auditor"), verify=str(cert), timeout=30
        )
        assert [e["remote_addr"] for e in log.json()["entries"] if e["action"] == "login.failed"] == ["127.0.0.1"]

        # A body over the largest the app takes is refused by nginx before a byte of it is sent on.
        connection = http.client.HTTPSConnection("127.0.0.1", tls, context=ssl.create_default_context(cafile=cert))
        connection.putrequest("POST", "/api/v1/items")
        connection.putheader("Content-Length", str(102 * 1024 * 1024))
        connection.endheaders()
        assert connection.getresponse().status == 413
        connection.close()


def test_the_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    program = Path(shutil.which("rectiflow") or REPO_ROOT / ".venv" / "bin" / "rectiflow")
    for unit, name in (
        ("rectiflow-web.service", "rectiflow-web.service"),
        ("rectiflow-worker@.service", "rectiflow-worker@1.service"),
    ):
        text = (DEPLOY / unit).read_text()
        assert "/opt/rectiflow/venv/bin/rectiflow" in text
        (tmp_path / name).write_text(text.replace("/opt/rectiflow/venv/bin/rectiflow", str(program)))
    units = [str(tmp_path / "rectiflow-web.service"), str(tmp_path / "rectiflow-worker@1.service")]
    verified = subprocess.run([analyze, "verify", "--man=no", *units], capture_output=True, text=True)
    assert (verified.returncode, verified.stderr) == (0, "")
