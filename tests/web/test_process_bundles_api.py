"""A deployment is a bundle: the diagram and the forms it names, sent as parts or one zip, downloaded as deployed."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from engine.bpmn.bundle import from_folder
from tests.conftest import RECTIFY_FORMS, People, deployment
from tests.web.test_processes_api import (
    API,
    BUNDLED,
    KEY,
    assert_problem,
    complete,
    create_item,
    definitions,
    edited,
    node,
    redesigned,
    to_bytes,
)

CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"
# ``on_site_check`` (added by ``redesigned``) with a form of its own, which no server folder holds.
CHECK_FORM = {
    "type": "object",
    "required": ["found"],
    "properties": {"found": {"type": "string", "title": "核查情况 Findings", "maxLength": 200}},
}


def with_check_form() -> tuple[bytes, dict[str, bytes]]:
    root = etree.fromstring(redesigned())
    node(root, "on_site_check").set(f"{CAMUNDA}formKey", "on_site_check.json")
    forms = {**RECTIFY_FORMS, "on_site_check.json": json.dumps(CHECK_FORM, ensure_ascii=False, indent=2).encode()}
    return to_bytes(root), forms


def post(client: FlaskClient, people: People, data: dict[str, Any], user: str = "designer") -> TestResponse:
    return client.post(f"{API}/processes", data=data, content_type="multipart/form-data", headers=people.auth(user))


def a_zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def bundle_members(diagram: bytes = BUNDLED.read_bytes(), forms: dict[str, bytes] = RECTIFY_FORMS) -> dict[str, bytes]:
    return {"rectification_item.bpmn": diagram, **{f"forms/{key}": data for key, data in forms.items()}}


def zip_upload(content: bytes, **fields: Any) -> dict[str, Any]:
    return {"file": (io.BytesIO(content), "bundle.zip"), **fields}


def test_a_new_user_task_with_its_own_form_deploys_as_parts_and_its_form_validates_the_task(
    client: FlaskClient, people: People
) -> None:
    diagram, forms = with_check_form()
    response = post(client, people, deployment(diagram, forms, note="现场核查 On-site check"))
    assert response.status_code == 201, response.json
    assert (response.json["version"], response.json["note"]) == (2, "现场核查 On-site check")

    item = create_item(client, people)
    for user, data in [
        ("manager", {"measures": "m"}),
        ("manager", {"owner": "owner"}),
        ("owner", {"result": "r"}),
        ("approver", {"decision": "approve"}),
    ]:
        item = complete(client, people, user, item, data)
    (task,) = item["tasks"]
    refused = client.post(f"{API}/tasks/{task['id']}/complete", json={"data": {}}, headers=people.auth("approver"))
    assert "found" in json.dumps(assert_problem(refused, 422)["errors"])
    assert complete(client, people, "approver", item, {"found": "已核实"})["status"] == "closed"


def test_a_zip_deploys_and_its_download_is_byte_exact_and_deploys_as_the_same_version(
    client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> None:
    diagram, forms = with_check_form()
    deployed = post(client, people, zip_upload(a_zip(bundle_members(diagram, forms)), note="zip"))
    assert deployed.status_code == 201, deployed.json
    version = deployed.json["version"]

    download = client.get(f"{API}/processes/{KEY}/{version}/bundle.zip", headers=people.auth("auditor"))
    assert (download.status_code, download.mimetype) == (200, "application/zip")
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        got = {name: archive.read(name) for name in archive.namelist()}
    assert got == {f"{KEY}.bpmn": diagram, **{f"forms/{key}": data for key, data in forms.items()}}
    again = client.get(f"{API}/processes/{KEY}/{version}/bundle.zip", headers=people.auth("auditor"))
    assert again.data == download.data

    rows = definitions(sessions)
    redeployed = post(client, people, zip_upload(download.data))
    assert (redeployed.status_code, redeployed.json["version"]) == (200, version)
    assert redeployed.json["sha256"] == deployed.json["sha256"]
    assert definitions(sessions) == rows


def test_the_bundled_version_downloads_with_the_forms_init_deployed(client: FlaskClient, people: People) -> None:
    """And with its decision table, which ``rectiflow init`` deploys with it."""
    shipped = from_folder(BUNDLED, BUNDLED.parent / "forms")
    assert list(shipped.decisions) == ["deadline_rule.dmn"]
    download = client.get(f"{API}/processes/{KEY}/1/bundle.zip", headers=people.auth("auditor"))
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == {
            f"{KEY}.bpmn": BUNDLED.read_bytes(),
            **shipped.decisions,
            **{f"forms/{key}": data for key, data in shipped.forms.items()},
        }
    assert_problem(client.get(f"{API}/processes/{KEY}/9/bundle.zip", headers=people.auth("auditor")), 404)
    assert_problem(client.get(f"{API}/processes/{KEY}/1/bundle.zip"), 401)


def test_editing_only_a_form_makes_a_new_version_and_new_items_use_it(client: FlaskClient, people: People) -> None:
    measures = json.loads(RECTIFY_FORMS["define_measures.json"])
    measures["properties"]["measures"]["maxLength"] = 3
    forms = {**RECTIFY_FORMS, "define_measures.json": json.dumps(measures).encode()}
    response = post(client, people, deployment(BUNDLED.read_bytes(), forms))
    assert (response.status_code, response.json["version"]) == (201, 2), response.json
    item = create_item(client, people)
    (task,) = item["tasks"]
    long = client.post(
        f"{API}/tasks/{task['id']}/complete", json={"data": {"measures": "太长的措施"}}, headers=people.auth("manager")
    )
    assert_problem(long, 422)


def rename_rectify_form(key: str) -> bytes:
    return edited(lambda root: node(root, "rectify").set(f"{CAMUNDA}formKey", key))


REFUSED_FORMS: list[tuple[str, Callable[[], dict[str, Any]], str, dict[str, str]]] = [
    (
        "missing form",
        lambda: deployment(BUNDLED.read_bytes(), {k: v for k, v in RECTIFY_FORMS.items() if k != "review.json"}),
        "Form 'review.json' of user task 'review' is not in the bundle",
        {"element": "review", "form": "review.json"},
    ),
    (
        "invalid JSON",
        lambda: deployment(BUNDLED.read_bytes(), {**RECTIFY_FORMS, "review.json": b'{"type": "object",'}),
        "Form 'review.json' is not valid UTF-8 JSON",
        {"form": "review.json"},
    ),
    (
        "not a JSON Schema",
        lambda: deployment(BUNDLED.read_bytes(), {**RECTIFY_FORMS, "review.json": b'{"type": "tuple"}'}),
        "Form 'review.json' is not a valid JSON Schema",
        {"form": "review.json"},
    ),
    (
        "a form no task names",
        lambda: deployment(BUNDLED.read_bytes(), {**RECTIFY_FORMS, "reveiw.json": b'{"type": "object"}'}),
        "No user task of 'rectification_item' names form 'reveiw.json'",
        {"form": "reveiw.json"},
    ),
    (
        "a form key with a folder",
        lambda: deployment(BUNDLED.read_bytes(), {**RECTIFY_FORMS, "../review.json": b"{}"}),
        "Form key '../review.json' must be a file name",
        {"form": "../review.json"},
    ),
    (
        "forms beside a zip",
        lambda: zip_upload(a_zip(bundle_members()), form=[(io.BytesIO(b"{}"), "review.json")]),
        "Send the forms inside the zip",
        {"field": "form"},
    ),
]


@pytest.mark.parametrize(("case", "data", "words", "named"), REFUSED_FORMS, ids=[c[0] for c in REFUSED_FORMS])
def test_a_bad_form_is_refused_with_422_naming_it_and_changes_nothing(
    client: FlaskClient,
    people: People,
    sessions: sessionmaker[Session],
    case: str,
    data: Callable[[], dict[str, Any]],
    words: str,
    named: dict[str, str],
) -> None:
    before = definitions(sessions)
    body = assert_problem(post(client, people, data()), 422)
    assert words in body["detail"], body
    assert any(named.items() <= error.items() for error in body["errors"]), body
    assert definitions(sessions) == before


def symlink_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("rectification_item.bpmn", BUNDLED.read_bytes())
        link = zipfile.ZipInfo("forms/review.json")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return out.getvalue()


MB = 1024 * 1024
REFUSED_ZIPS: list[tuple[str, Callable[[], bytes], int, str | None, str]] = [
    ("parent path", lambda: a_zip({**bundle_members(), "../evil.json": b"{}"}), 422, "../evil.json", "Unsafe path"),
    ("absolute path", lambda: a_zip({**bundle_members(), "/etc/x.json": b"{}"}), 422, "/etc/x.json", "Unsafe path"),
    (
        "backslash",
        lambda: a_zip({**bundle_members(), "forms\\..\\x.json": b"{}"}),
        422,
        "forms\\..\\x.json",
        "Unsafe path",
    ),
    (
        "dot-dot inside forms",
        lambda: a_zip({**bundle_members(), "forms/../../x.json": b"{}"}),
        422,
        "forms/../../x.json",
        "Unsafe path",
    ),
    ("symlink", symlink_zip, 422, "forms/review.json", "may not hold a link"),
    ("nested folder", lambda: a_zip({**bundle_members(), "forms/a/b.json": b"{}"}), 422, "forms/a/b.json", "belong"),
    ("other file", lambda: a_zip({**bundle_members(), "README.md": b"hi"}), 422, "README.md", "does not belong"),
    (
        "two diagrams",
        lambda: a_zip({**bundle_members(), "other.bpmn": BUNDLED.read_bytes()}),
        422,
        None,
        "exactly one *.bpmn",
    ),
    ("not a zip", lambda: b"PK\x03\x04" + b"\x00" * 100, 422, None, "Not a readable zip"),
    (
        "compression ratio",
        lambda: a_zip({**bundle_members(), "forms/big.json": b" " * (3 * MB)}),
        413,
        "forms/big.json",
        "expands",
    ),
    (
        "unpacked size",
        # Each under the ratio check's floor: the sum is what is over.
        lambda: a_zip({f"forms/f{n}.json": b" " * 900_000 for n in range(7)}),
        413,
        "forms/f5.json",
        "unpacks to more than",
    ),
    (
        "too many members",
        lambda: a_zip({**bundle_members(), **{f"forms/f{n}.json": b"{}" for n in range(200)}}),
        413,
        None,
        "over the limit of 200",
    ),
]


@pytest.mark.parametrize(
    ("case", "content", "status", "member", "words"), REFUSED_ZIPS, ids=[c[0] for c in REFUSED_ZIPS]
)
def test_an_unsafe_zip_is_refused_naming_the_member_before_anything_is_stored(
    client: FlaskClient,
    people: People,
    sessions: sessionmaker[Session],
    case: str,
    content: Callable[[], bytes],
    status: int,
    member: str | None,
    words: str,
) -> None:
    before = definitions(sessions)
    body = assert_problem(post(client, people, zip_upload(content())), status)
    assert words in body["detail"], body
    if member is not None:
        assert [error.get("member") for error in body["errors"]] == [member], body
    assert definitions(sessions) == before


def test_a_note_is_stored_listed_and_checked(client: FlaskClient, people: People) -> None:
    for note, field in (("x" * 2001, "note"), ("a\x00b", "note")):
        body = assert_problem(post(client, people, deployment(redesigned(), note=note)), 422)
        assert [error["field"] for error in body["errors"]] == [field], body
    note = "新增现场核查\n整改中改名 Rectifying"
    assert post(client, people, deployment(redesigned(), note=note)).status_code == 201
    listed = client.get(f"{API}/processes", headers=people.auth("auditor")).json["processes"]
    (process,) = [p for p in listed if p["key"] == KEY]
    assert [(v["version"], v["note"], v["deployed_by"]) for v in process["versions"]] == [
        (1, None, None),
        (2, note, "designer"),
    ]


def test_a_form_sent_as_text_is_refused_by_lint_and_deploy_not_left_out(client: FlaskClient, people: People) -> None:
    for path in ("/validate", ""):
        data = {**deployment(BUNDLED.read_bytes()), "form": "-1.7e16"}
        response = client.post(
            f"{API}/processes{path}", data=data, content_type="multipart/form-data", headers=people.auth("designer")
        )
        assert_problem(response, 422)
