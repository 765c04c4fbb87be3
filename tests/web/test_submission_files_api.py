"""A submission's files over the API: sent with it (signed in or public), read only by its submitter and triagers,
refused whole, and made the item's evidence (with their history events) when it is accepted or merged."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import People
from tests.engine.evidence import samples
from web.problems import PROBLEM_JSON

API = "/api/v1"
PROBLEM = {"kind": "problem", "text": "路灯不亮\n东门外三盏路灯坏了", "source": "群众反映", "department": "works"}


def send(client: FlaskClient, people: People, user: str | None, sent: list[tuple[bytes, str]]) -> Any:
    data: dict[str, Any] = {**PROBLEM, "files": [(io.BytesIO(content), name) for content, name in sent]}
    url = f"{API}/submissions" if user else f"{API}/public/submissions"
    return client.post(url, data=data, content_type="multipart/form-data", headers=people.auth(user) if user else {})


def stored(instance: Path) -> list[Path]:
    return sorted(path for path in (instance / "files").rglob("*") if path.is_file())


def refused(response: Any, status: int, field: str) -> None:
    assert (response.status_code, response.mimetype) == (status, PROBLEM_JSON), response.json
    assert [error["field"] for error in response.json["errors"]] == [field]


def history(client: FlaskClient, people: People, item_id: int) -> list[dict[str, Any]]:
    events = client.get(f"{API}/items/{item_id}/history", headers=people.auth("auditor")).json["events"]
    return [event for event in events if event["action"] == "attachment_added"]


def test_signed_in_files_are_read_by_the_submitter_and_triagers_and_become_the_items(
    small: Flask, people: People
) -> None:
    client = small.test_client()
    made = send(client, people, "owner", [(samples.PDF, "现场照片说明.pdf"), (samples.PNG, "路灯.png")])
    assert made.status_code == 201, made.json
    sent = made.json["files"]
    assert [(f["filename"], f["media_type"]) for f in sent] == [
        ("现场照片说明.pdf", "application/pdf"),
        ("路灯.png", "image/png"),
    ]
    url = sent[0]["url"]
    for reader in ("owner", "works_manager", "reporter"):
        got = client.get(url, headers=people.auth(reader))
        assert (got.status_code, got.data) == (200, samples.PDF), reader
    for outsider in ("outsider", "manager"):
        assert client.get(url, headers=people.auth(outsider)).status_code == 404, outsider
    [queued] = client.get(f"{API}/submissions", headers=people.auth("works_manager")).json["submissions"]
    assert [f["filename"] for f in queued["files"]] == ["现场照片说明.pdf", "路灯.png"]

    accepted = client.post(f"{API}/submissions/{made.json['id']}/accept", json={}, headers=people.auth("works_manager"))
    assert accepted.status_code == 200, accepted.json
    item_id = accepted.json["item"]["id"]
    listed = client.get(f"{API}/items/{item_id}/attachments", headers=people.auth("works_manager")).json
    assert [f["filename"] for f in listed["attachments"]] == ["现场照片说明.pdf", "路灯.png"]
    events = history(client, people, item_id)
    assert [(e["data"]["sha256"], e["data"]["submission"]) for e in events] == [
        (f["sha256"], made.json["id"]) for f in sent
    ]
    assert client.get(url, headers=people.auth("owner")).status_code == 200  # still the submitter's to read
    verified = client.get(f"{API}/audit/verify", headers=people.auth("auditor"))
    assert verified.status_code == 200 and verified.json["ok"] is True, verified.json


def test_public_files_merge_into_an_item_and_never_show_on_the_receipt(small: Flask, people: People) -> None:
    client = small.test_client()
    opened = client.put(f"{API}/submissions/public-form", json={"enabled": True}, headers=people.auth("admin"))
    assert opened.status_code == 200
    made = send(client, people, None, [(samples.PNG, "photo.png")])
    assert made.status_code == 201, made.json
    status = client.get(f"{API}/public/submissions/{made.json['receipt']}").json
    assert "files" not in status and "files" not in made.json
    [queued] = client.get(f"{API}/submissions", headers=people.auth("reporter")).json["submissions"]
    [file] = queued["files"]
    assert client.get(file["url"]).status_code == 401
    assert client.get(file["url"], headers=people.auth("outsider")).status_code == 404

    item = client.post(
        f"{API}/items", json={"title": "路灯", "department": "works"}, headers=people.auth("reporter")
    ).json
    merged = client.post(
        f"{API}/submissions/{queued['id']}/merge", json={"item": item["id"]}, headers=people.auth("reporter")
    )
    assert merged.status_code == 200, merged.json
    listed = client.get(f"{API}/items/{item['id']}/attachments", headers=people.auth("reporter")).json
    assert [f["filename"] for f in listed["attachments"]] == ["photo.png"]
    assert [e["data"]["sha256"] for e in history(client, people, item["id"])] == [file["sha256"]]


def test_a_refused_file_refuses_the_whole_submission(small: Flask, people: People, tmp_path: Path) -> None:
    client = small.test_client()
    refused(send(client, people, "owner", [(samples.PDF, "a.pdf"), (samples.EXE, "setup.pdf")]), 415, "file")
    refused(send(client, people, "owner", [(samples.PDF, "a.pdf"), (b"x" * 1001, "big.txt")]), 413, "file")
    refused(send(client, people, "owner", [(samples.PDF, f"{n}.pdf") for n in range(6)]), 422, "files")
    assert stored(tmp_path) == []
    assert client.get(f"{API}/submissions/mine", headers=people.auth("owner")).json["submissions"] == []
    # Without files, JSON as before.
    plain = client.post(f"{API}/submissions", json=PROBLEM, headers=people.auth("owner"))
    assert plain.status_code == 201 and plain.json["files"] == []


def test_triage_keeps_the_items_limits_and_a_refusal_changes_nothing(small: Flask, people: People) -> None:
    client = small.test_client()
    auth = people.auth("reporter")

    def triage(sent: list[tuple[bytes, str]], action: str, body: dict[str, Any]) -> tuple[int, Any]:
        made = send(client, people, "owner", sent)
        assert made.status_code == 201, made.json
        return made.json["id"], client.post(f"{API}/submissions/{made.json['id']}/{action}", json=body, headers=auth)

    def over(response: Any, variable: str) -> None:
        refused(response, 413, "files")
        assert variable in response.json["errors"][0]["message"]

    def state(item_id: int) -> tuple[list[str], list[str]]:
        listed = client.get(f"{API}/items/{item_id}/attachments", headers=auth).json["attachments"]
        events = client.get(f"{API}/items/{item_id}/history", headers=people.auth("auditor")).json["events"]
        return [f["filename"] for f in listed], [event["action"] for event in events]

    _, accepted = triage([(b"a" * 600, "a.txt"), (b"b" * 600, "b.txt")], "accept", {})
    assert accepted.status_code == 200, accepted.json
    full = accepted.json["item"]["id"]
    _, accepted = triage([(b"c" * 1000, "c.txt")], "accept", {})
    assert accepted.status_code == 200, accepted.json
    half = accepted.json["item"]["id"]
    before = state(full), state(half)

    third_file, response = triage([(b"d" * 10, "d.txt")], "merge", {"item": full})
    over(response, "RECTIFLOW_EVIDENCE_MAX_FILES")
    too_many_bytes, response = triage([(b"e" * 600, "e.txt")], "merge", {"item": half})  # 1,600 bytes
    over(response, "RECTIFLOW_EVIDENCE_MAX_ITEM_BYTES")
    too_big_new, response = triage([(b"f" * 800, "f.txt"), (b"g" * 800, "g.txt")], "accept", {})
    over(response, "RECTIFLOW_EVIDENCE_MAX_ITEM_BYTES")

    assert (state(full), state(half)) == before
    waiting = client.get(f"{API}/submissions?status=new", headers=auth).json["submissions"]
    assert sorted(row["id"] for row in waiting) == [third_file, too_many_bytes, too_big_new]
    _, response = triage([(b"h" * 500, "h.txt")], "merge", {"item": half})  # 1,500 bytes: just fits
    assert response.status_code == 200, response.json
    assert state(half)[0] == ["c.txt", "h.txt"]
