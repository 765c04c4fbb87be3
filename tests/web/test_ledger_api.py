"""The ledger over the API: filters, sort and counts; import a workbook (preview, all or nothing); export."""

from __future__ import annotations

import datetime as dt
from io import BytesIO
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import Workbook, load_workbook
from sqlalchemy.orm import Session, sessionmaker

from engine.ledger import demo
from engine.store.config import REPO_ROOT
from engine.store.db import transaction
from tests.conftest import People

SAMPLE = REPO_ROOT / "demo" / "problem-list-sample.xlsx"


@pytest.fixture
def units(sessions: sessionmaker[Session], people: People) -> None:
    """The sample ledger's units (the cast already has 办公室) and the owners it names."""
    with transaction(sessions) as session:
        demo.add_sample_people(session)


def upload(client: FlaskClient, people: People, content: bytes, dry_run: bool, user: str = "reporter") -> Any:
    return client.post(
        f"/api/v1/items/import?dry_run={'true' if dry_run else 'false'}",
        data={"file": (BytesIO(content), "台账.xlsx")},
        headers=people.auth(user),
        content_type="multipart/form-data",
    )


def workbook(rows: list[list[Any]]) -> bytes:
    """A workbook laid out as offices keep them: a merged title row, the header, the rows, a footer."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["2026年问题清单"])
    sheet.append(["序号", "存在问题", "问题来源", "牵头单位", "配合单位", "完成时限", "整改措施"])
    for row in rows:
        sheet.append(row)
    sheet.append([])
    sheet.append(["填报人：张三"])
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def total(client: FlaskClient, people: People, query: str = "") -> int:
    return int(client.get(f"/api/v1/items?{query}", headers=people.auth("approver")).json["total"])


def test_the_sample_ledger_previews_then_imports_its_40_items(client: FlaskClient, people: People, units: None) -> None:
    content = SAMPLE.read_bytes()
    preview = upload(client, people, content, dry_run=True)
    assert preview.status_code == 200, preview.json
    assert (len(preview.json["rows"]), preview.json["errors"]) == (40, [])
    first = preview.json["rows"][0]
    assert first["row"] == 3 and first["item"]["department"] and first["item"]["title"]
    assert total(client, people) == 0  # a preview saves nothing

    imported = upload(client, people, content, dry_run=False)
    assert imported.status_code == 201, imported.json
    assert imported.json["created"] == 40
    assert total(client, people) == 40
    assert total(client, people, "ongoing=true") == sum(r["item"]["ongoing"] for r in preview.json["rows"])
    # Row 3 gives measures and an owner: the item sits at its owner's task, as if both steps were done by hand.
    item = client.get(f"/api/v1/items/{imported.json['items'][0]}", headers=people.auth("auditor")).json
    assert (item["owner"], item["data"]["measures"]) == ("zhangwei.office", first["item"]["measures"])
    assert [task["name"] for task in item["tasks"]] == ["rectify"]
    assert item["latest_progress"]["note"] == first["item"]["progress"]
    events = client.get(f"/api/v1/items/{item['id']}/history", headers=people.auth("auditor")).json["events"]
    assert [(event["action"], event["task"]) for event in events] == [
        ("created", None),
        ("decision", "decide_deadline"),  # the lifecycle's deadline rule, as for any new item
        ("imported", None),
        ("imported", "define_measures"),
        ("imported", "assign_owner"),
    ]
    assert events[2]["data"]["row"] == 3


def test_row_errors_are_shown_and_refuse_the_whole_file(client: FlaskClient, people: People, units: None) -> None:
    content = workbook(
        [
            [1, "窗口排队时间长", "群众反映", "办公室", None, "2026年12月16日", "增设取号机"],
            [2, "会议室预约混乱", "自查", "不存在的科", None, "2026.12.1", None],
            [3, "台账更新不及时", "自查", "组织科", "办公室、人才办", "下个月", None],
            [4, "学习制度不落实", "巡察", "干部教育科", None, "长期坚持", None],
        ]
    )
    preview = upload(client, people, content, dry_run=True).json
    assert [row["row"] for row in preview["rows"]] == [3, 6]  # 巡察 is one of the office's sources
    assert [(e["row"], e["column"], e["value"]) for e in preview["errors"]] == [
        (4, "牵头单位", "不存在的科"),
        (5, "完成时限", "下个月"),
    ]
    assert "组织科" in preview["errors"][0]["accepted"] and "2026年3月1日" in preview["errors"][1]["accepted"]
    assert preview["skipped"] == [{"row": 7, "reason": "empty", "count": 1}, {"row": 8, "reason": "footer", "count": 1}]

    refused = upload(client, people, content, dry_run=False)
    assert refused.status_code == 422
    assert refused.content_type == "application/problem+json"
    assert len(refused.json["errors"]) == 2
    assert total(client, people) == 0


def test_a_file_that_is_no_ledger_is_a_clear_422(client: FlaskClient, people: People) -> None:
    response = upload(client, people, b"not a workbook", dry_run=True)
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "file"
    assert ".xlsx" in response.json["detail"]


def test_only_reporters_import(client: FlaskClient, people: People, units: None) -> None:
    assert upload(client, people, SAMPLE.read_bytes(), dry_run=False, user="owner").status_code == 403
    assert total(client, people) == 0


def test_filters_sort_and_counts(client: FlaskClient, people: People, units: None) -> None:
    upload(client, people, SAMPLE.read_bytes(), dry_run=False)
    auth = people.auth("approver")
    body = client.get("/api/v1/items?per_page=200&sort=deadline", headers=auth).json
    deadlines = [item["deadline"] for item in body["items"]]
    dated = [d for d in deadlines if d is not None]
    assert dated == sorted(dated) and deadlines[: len(dated)] == dated  # no deadline sorts last
    assert sum(count["count"] for count in body["counts"]) == 40

    window = client.get("/api/v1/items?deadline_from=2026-12-01&deadline_to=2026-12-31&per_page=200", headers=auth)
    assert window.json["items"] and all("2026-12-01" <= i["deadline"] <= "2026-12-31" for i in window.json["items"])
    by_source = client.get("/api/v1/items?source=群众反映&per_page=200", headers=auth).json
    assert by_source["items"] and {item["source"] for item in by_source["items"]} == {"群众反映"}
    # Counts per status ignore the status filter (they are the tabs of the ledger), not the others.
    assert sum(c["count"] for c in by_source["counts"]) == by_source["total"]
    assert client.get("/api/v1/items?sort=password", headers=auth).status_code == 422
    # The sample's severities, as its 严重程度 column gives them.
    severe = client.get("/api/v1/items?severity=严重&per_page=200", headers=auth).json
    assert {item["severity"] for item in severe["items"]} == {"严重"} and severe["total"] == 8
    refused = client.get("/api/v1/items?severity=很严重", headers=auth)
    assert (refused.status_code, [error["field"] for error in refused.json["errors"]]) == (422, ["severity"])


def test_the_export_holds_exactly_the_filtered_rows_and_reads_back(
    client: FlaskClient, people: People, units: None
) -> None:
    upload(client, people, SAMPLE.read_bytes(), dry_run=False)
    auth = people.auth("approver")
    wanted = client.get("/api/v1/items?source=自查&sort=id&per_page=200", headers=auth).json["items"]
    response = client.get("/api/v1/items/export.xlsx?source=自查&sort=id", headers=auth)
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    sheet = load_workbook(BytesIO(response.data)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    assert [row[1] for row in rows] == [item["id"] for item in wanted]
    assert [row[3] for row in rows] == [item["title"] for item in wanted]
    assert [row[6] for row in rows] == [item["severity"] for item in wanted]
    assert [row[11] for row in rows] == [
        dt.datetime.fromisoformat(i["deadline"]) if i["deadline"] else "长期坚持" for i in wanted
    ]
    # The exported ledger is itself a ledger the importer reads: by 编号, every item is unchanged.
    again = upload(client, people, response.data, dry_run=True).json
    assert (again["rows"], again["errors"]) == ([], [])
    assert [found["item_id"] for found in again["unchanged"]] == [item["id"] for item in wanted]


def test_administrators_keep_the_sources_and_the_import_follows(
    client: FlaskClient, people: People, units: None
) -> None:
    content = workbook([[1, "信访件办理不及时", "信访", "办公室", None, "2026-12-31", None]])
    assert upload(client, people, content, dry_run=True).json["errors"][0]["value"] == "信访"
    assert client.post("/api/v1/sources", json={"name": "信访"}, headers=people.auth("reporter")).status_code == 403
    added = client.post("/api/v1/sources", json={"name": "信访"}, headers=people.auth("admin"))
    assert (added.status_code, added.json) == (201, {"name": "信访", "active": True})
    listed = client.get("/api/v1/sources", headers=people.auth("reporter")).json["sources"]
    assert listed[-1] == {"name": "信访", "active": True}
    assert upload(client, people, content, dry_run=False).status_code == 201
    taken_off = client.delete("/api/v1/sources/信访", headers=people.auth("admin"))
    assert (taken_off.status_code, taken_off.json["active"]) == (200, False)
    again = client.post("/api/v1/sources", json={"name": "信访"}, headers=people.auth("admin"))
    assert again.status_code == 201  # back on the list
    assert client.post("/api/v1/sources", json={"name": "信访"}, headers=people.auth("admin")).status_code == 409
