"""Evidence files over the API: upload, list, download, remove; limits, names, roles, the form field, the audit."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PROCESSES, RECTIFY_FORMS, People, deployment
from tests.engine.evidence import samples
from web.problems import PROBLEM_JSON

API = "/api/v1"


def create(client: FlaskClient, people: People) -> dict[str, Any]:
    body = {"title": "窗口服务排队时间长", "department": "office", "source": "群众反映"}
    response = client.post(f"{API}/items", json=body, headers=people.auth("reporter"))
    assert response.status_code == 201, response.json
    return dict(response.json or {})


def advance(client: FlaskClient, people: People, user: str, item: dict[str, Any], data: dict[str, Any]) -> Any:
    (task,) = item["tasks"]
    response = client.post(f"{API}/tasks/{task['id']}/complete", json={"data": data}, headers=people.auth(user))
    assert response.status_code == 200, response.json
    return response.json


def at_rectify(client: FlaskClient, people: People) -> dict[str, Any]:
    item = create(client, people)
    item = advance(client, people, "manager", item, {"measures": "增设自助取号机"})
    item = advance(client, people, "manager", item, {"owner": "owner"})
    assert item["tasks"][0]["name"] == "rectify"
    return item


def upload(
    client: FlaskClient, people: People, item_id: int, content: bytes, name: str, user: str = "owner", **form: Any
) -> Any:
    data = {"file": (io.BytesIO(content), name), **{key: str(value) for key, value in form.items()}}
    return client.post(
        f"{API}/items/{item_id}/attachments", data=data, content_type="multipart/form-data", headers=people.auth(user)
    )


def listed(client: FlaskClient, people: People, item_id: int, user: str = "owner") -> list[str]:
    response = client.get(f"{API}/items/{item_id}/attachments", headers=people.auth(user))
    assert response.status_code == 200, response.json
    return [found["filename"] for found in response.json["attachments"]]


def stored(instance: Path) -> list[Path]:
    return sorted(path for path in (instance / "files").rglob("*") if path.is_file())


def refused(response: Any, status: int) -> None:
    assert (response.status_code, response.mimetype) == (status, PROBLEM_JSON), response.json
    assert [error["field"] for error in response.json["errors"]] == ["file"]


def test_a_file_goes_up_and_comes_back_with_its_chinese_name(client: FlaskClient, people: People) -> None:
    item = at_rectify(client, people)
    task_id = item["tasks"][0]["id"]

    response = upload(client, people, item["id"], samples.PNG, "整改照片 第1张.png", task_id=task_id)

    assert response.status_code == 201, response.json
    added = response.json
    assert (added["filename"], added["media_type"], added["size"], added["task_id"]) == (
        "整改照片 第1张.png",
        "image/png",
        len(samples.PNG),
        task_id,
    )
    assert listed(client, people, item["id"], "auditor") == ["整改照片 第1张.png"]
    download = client.get(added["url"], headers=people.auth("auditor"))
    assert (download.status_code, download.data, download.mimetype) == (200, samples.PNG, "image/png")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%E6%95%B4%E6%94%B9%E7%85%A7%E7%89%87%20%E7%AC%AC1%E5%BC%A0.png" in disposition

    item = advance(client, people, "owner", item, {"result": "已增设", "evidence_files": [added["id"]]})
    assert item["status"] == "review"
    events = client.get(f"{API}/items/{item['id']}/history", headers=people.auth("auditor")).json["events"]
    (event,) = [e for e in events if e["action"] == "attachment_added"]
    assert (event["actor"], event["task"], event["data"]["sha256"], event["data"]["filename"]) == (
        "owner",
        "rectify",
        added["sha256"],
        "整改照片 第1张.png",
    )


def test_each_limit_is_refused_and_nothing_is_stored(small: Flask, people: People, tmp_path: Path) -> None:
    client = small.test_client()
    item = create(client, people)
    text = "整改说明".encode()

    refused(upload(client, people, item["id"], b"x" * 1001, "big.txt", "reporter"), 413)
    refused(upload(client, people, item["id"], b"x" * 200_000, "huge.txt", "reporter"), 413)  # over the body cap
    refused(upload(client, people, item["id"], samples.EXE, "setup.pdf", "reporter"), 415)
    refused(upload(client, people, item["id"], samples.declared_bomb(), "bomb.docx", "reporter"), 415)
    refused(upload(client, people, item["id"], b"", "empty.txt", "reporter"), 422)
    refused(upload(client, people, item["id"], text, "../..", "reporter"), 422)
    missing = client.post(
        f"{API}/items/{item['id']}/attachments",
        data={},
        content_type="multipart/form-data",
        headers=people.auth("reporter"),
    )
    refused(missing, 422)
    assert stored(tmp_path) == [] and listed(client, people, item["id"], "reporter") == []

    assert upload(client, people, item["id"], b"a" * 900, "one.txt", "reporter").status_code == 201
    refused(upload(client, people, item["id"], b"b" * 700, "two.txt", "reporter"), 413)  # 1,600 for the item
    assert upload(client, people, item["id"], b"c" * 500, "two.txt", "reporter").status_code == 201
    refused(upload(client, people, item["id"], b"d", "three.txt", "reporter"), 413)  # a third file
    assert len(stored(tmp_path)) == 2 and listed(client, people, item["id"], "reporter") == ["one.txt", "two.txt"]


@pytest.mark.parametrize(
    ("name", "content", "kept"),
    [
        ("../../etc/passwd", b"root:x:0:0", "passwd.txt"),
        ("/home/张三/报告.pdf", samples.PDF, "报告.pdf"),
        ("report\u202efdp.exe", samples.PDF, "reportfdp.exe.pdf"),
        (".bashrc", b"echo hi", "bashrc.txt"),
        ("index.html", b"<script>alert(1)</script>", "index.html.txt"),
    ],
)
def test_hostile_names_are_made_safe(client: FlaskClient, people: People, name: str, content: bytes, kept: str) -> None:
    item = create(client, people)
    response = upload(client, people, item["id"], content, name, "reporter")
    assert (response.status_code, response.json["filename"]) == (201, kept)


def test_each_role_may_do_only_what_it_must(client: FlaskClient, people: People) -> None:
    item = at_rectify(client, people)
    task_id = item["tasks"][0]["id"]
    added = upload(client, people, item["id"], samples.PDF, "验收单.pdf", task_id=task_id).json
    url = f"{API}/attachments/{added['id']}"

    assert upload(client, people, item["id"], samples.PDF, "x.pdf", "outsider").status_code == 404
    assert client.get(f"{API}/items/{item['id']}/attachments", headers=people.auth("outsider")).status_code == 404
    assert client.get(url, headers=people.auth("outsider")).status_code == 404
    assert client.delete(url, headers=people.auth("outsider")).status_code == 404
    assert upload(client, people, item["id"], samples.PDF, "x.pdf", "auditor").status_code == 403
    assert client.get(url, headers=people.auth("auditor")).status_code == 200
    assert client.delete(url, headers=people.auth("manager")).status_code == 403
    wrong_task = upload(client, people, item["id"], samples.PDF, "x.pdf", task_id=task_id + 1000)
    assert (wrong_task.status_code, wrong_task.json["errors"][0]["field"]) == (422, "task_id")

    spare = upload(client, people, item["id"], samples.PNG, "多余.png", task_id=task_id).json
    removed = client.delete(f"{API}/attachments/{spare['id']}", headers=people.auth("owner"))
    assert (removed.status_code, removed.json["removed_at"] is not None) == (200, True)
    assert listed(client, people, item["id"]) == ["验收单.pdf"]
    assert client.delete(f"{API}/attachments/{spare['id']}", headers=people.auth("owner")).status_code == 404

    advance(client, people, "owner", item, {"result": "已完成", "evidence_files": [added["id"]]})
    assert client.delete(url, headers=people.auth("owner")).status_code == 409
    events = client.get(f"{API}/items/{item['id']}/history", headers=people.auth("auditor")).json["events"]
    actions = [(e["action"], e["data"].get("attachment_id")) for e in events if e["action"].startswith("attachment")]
    assert actions == [
        ("attachment_added", added["id"]),
        ("attachment_added", spare["id"]),
        ("attachment_removed", spare["id"]),
    ]


def test_a_form_requiring_files_refuses_a_completion_without_them(client: FlaskClient, people: People) -> None:
    form = json.loads(RECTIFY_FORMS["rectify.json"])
    form["properties"]["evidence_files"]["minItems"] = 1
    form["required"].append("evidence_files")
    forms = {**RECTIFY_FORMS, "rectify.json": json.dumps(form).encode()}
    diagram = (PROCESSES / "rectification_item.bpmn").read_bytes()
    deployed = client.post(
        f"{API}/processes",
        data=deployment(diagram, forms),
        content_type="multipart/form-data",
        headers=people.auth("designer"),
    )
    assert deployed.status_code == 201, deployed.json
    item, other = at_rectify(client, people), at_rectify(client, people)
    (task,) = item["tasks"]
    elsewhere = upload(client, people, other["id"], samples.PDF, "别处.pdf").json["id"]
    removed = upload(client, people, item["id"], samples.PNG, "删掉.png").json["id"]
    client.delete(f"{API}/attachments/{removed}", headers=people.auth("owner"))

    for data in (
        {"result": "已完成"},
        {"result": "已完成", "evidence_files": []},
        {"result": "已完成", "evidence_files": [elsewhere]},
        {"result": "已完成", "evidence_files": [removed]},
    ):
        response = client.post(f"{API}/tasks/{task['id']}/complete", json={"data": data}, headers=people.auth("owner"))
        assert response.status_code == 422, data
        assert response.json["errors"][0]["field"].startswith("data.evidence_files"), response.json

    live = upload(client, people, item["id"], samples.PDF, "整改报告.pdf").json["id"]
    assert advance(client, people, "owner", item, {"result": "已完成", "evidence_files": [live]})["status"] == "review"


def test_audit_verify_names_a_swapped_or_missing_file(client: FlaskClient, people: People, tmp_path: Path) -> None:
    item = create(client, people)
    first = upload(client, people, item["id"], samples.PDF, "会议纪要.pdf", "reporter").json
    second = upload(client, people, item["id"], samples.PNG, "现场照片.png", "reporter").json
    assert client.get(f"{API}/audit/verify", headers=people.auth("auditor")).json["ok"]

    (tmp_path / "files" / first["sha256"][:2] / first["sha256"]).write_bytes(b"%PDF-1.4 another document")
    (tmp_path / "files" / second["sha256"][:2] / second["sha256"]).unlink()

    report = client.get(f"{API}/audit/verify", headers=people.auth("auditor")).json
    assert not report["ok"]
    reasons = [problem["reason"] for problem in report["problems"]]
    assert any("会议纪要.pdf" in reason and "do not match" in reason for reason in reasons), reasons
    assert any("现场照片.png" in reason and "missing" in reason for reason in reasons), reasons
