"""Measures library API: propose (also from an item), search, link, adopt and repeal, who may do which,
hostile text, an item's mechanism and recurrence, the 长效机制 figures and the monthly summary's measures."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from engine.store.db import transaction
from engine.store.models import Attachment
from tests.conftest import People
from tests.measures_ledger import at, build

API = "/api/v1/measures"


def post(client: FlaskClient, people: People, user: str, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json=body, headers=people.auth(user))


def get(client: FlaskClient, people: People, user: str, url: str) -> Any:
    response = client.get(url, headers=people.auth(user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def ledger(sessions: sessionmaker[Session], people: People) -> list[int]:
    return build(sessions)


def history_actions(client: FlaskClient, people: People, item_id: int) -> list[str]:
    events = get(client, people, "auditor", f"/api/v1/items/{item_id}/history")["events"]
    return [event["action"] for event in events]


def test_an_approver_proposes_from_an_item_links_another_and_adopts(
    client: FlaskClient, people: People, ledger: list[int]
) -> None:
    lamp, _canteen, queue = ledger[0], ledger[1], ledger[2]
    response = post(client, people, "approver", f"/api/v1/items/{lamp}/measures", {"kind": "checklist"})
    assert response.status_code == 201, response.get_json()
    measure = response.get_json()
    assert (measure["title"], measure["kind"], measure["status"], measure["department"]["code"]) == (
        "东门路灯不亮",
        "checklist",
        "draft",
        "works",
    )
    assert [item["id"] for item in measure["items"]] == [lamp] and measure["proposed_by"] == "approver"

    linked = post(client, people, "approver", f"{API}/{measure['id']}/items", {"items": [queue, lamp]})
    assert [item["id"] for item in linked.get_json()["items"]] == [lamp, queue]
    adopted = post(
        client, people, "approver", f"{API}/{measure['id']}/status", {"status": "in_force", "on": "2026-03-15"}
    )
    assert adopted.status_code == 200 and adopted.get_json()["adopted_on"] == "2026-03-15"
    # Each linked item's history shows the link and the adoption, for whoever reads the item.
    assert history_actions(client, people, lamp)[-2:] == ["measure_linked", "measure_adopted"]
    assert history_actions(client, people, queue)[-2:] == ["measure_linked", "measure_adopted"]
    log = get(client, people, "auditor", "/api/v1/audit/admin-log")["entries"]
    assert [(e["action"], e["target"]) for e in log if e["action"].startswith("measure.")] == [
        ("measure.adopt", f"measure {measure['id']}"),
        ("measure.link", f"measure {measure['id']}"),
        ("measure.propose", f"measure {measure['id']}"),
    ]
    # Repealed is final: it does not come back into force.
    assert post(client, people, "approver", f"{API}/{measure['id']}/status", {"status": "repealed"}).status_code == 200
    again = post(client, people, "approver", f"{API}/{measure['id']}/status", {"status": "in_force"})
    assert again.status_code == 422 and again.get_json()["errors"][0]["field"] == "status"


def test_the_library_searches_titles_and_filters_by_kind_status_and_unit(
    client: FlaskClient, people: People, ledger: list[int]
) -> None:
    made = {}
    for title, kind, unit in [("路灯巡查清单", "checklist", "works"), ("食堂卫生管理制度", "rule", "office")]:
        body = {"title": title, "kind": kind, "department": unit, "summary": "每月巡查一次"}
        made[title] = post(client, people, "approver", API, body).get_json()["id"]
    post(client, people, "approver", f"{API}/{made['食堂卫生管理制度']}/status", {"status": "in_force"})

    def titles(query: str) -> list[str]:
        return [m["title"] for m in get(client, people, "owner", f"{API}?{query}")["measures"]]

    assert titles("") == ["食堂卫生管理制度", "路灯巡查清单"]
    assert titles("q=路灯") == ["路灯巡查清单"]
    assert titles("q=每月") == ["食堂卫生管理制度", "路灯巡查清单"]
    assert titles("kind=rule") == ["食堂卫生管理制度"]
    assert titles("status=draft") == ["路灯巡查清单"]
    assert titles("department=works") == ["路灯巡查清单"]
    assert titles("department=nowhere") == []
    assert client.get(f"{API}?kind=law", headers=people.auth("owner")).status_code == 422


def test_who_may_propose_link_and_adopt(client: FlaskClient, people: People, ledger: list[int]) -> None:
    body = {"title": "档案室防水巡查制度", "kind": "rule", "department": "office"}
    for user in ("owner", "reporter", "auditor", "admin", "works_manager"):
        assert post(client, people, user, API, body).status_code == 403, user
    # A manager proposes for their own unit only; approvers for any.
    assert post(client, people, "manager", API, {**body, "department": "works"}).status_code == 403
    mine = post(client, people, "manager", API, body)
    assert mine.status_code == 201
    measure = mine.get_json()["id"]
    assert post(client, people, "works_manager", f"{API}/{measure}/items", {"items": [ledger[5]]}).status_code == 403
    assert post(client, people, "manager", f"{API}/{measure}/items", {"items": [ledger[5]]}).status_code == 200
    # An item the proposer cannot see is not theirs to link (named as missing, not as forbidden).
    hidden = post(client, people, "manager", f"{API}/{measure}/items", {"items": [ledger[0]]})
    assert hidden.status_code == 422 and hidden.get_json()["errors"][0]["field"] == "items"
    # Adopting binds the office: approvers only.
    for user in ("manager", "reporter", "admin"):
        assert post(client, people, user, f"{API}/{measure}/status", {"status": "in_force"}).status_code == 403, user
    assert post(client, people, "approver", f"{API}/{measure}/status", {"status": "in_force"}).status_code == 200
    denied = get(client, people, "auditor", "/api/v1/audit/admin-log?action=denied")["entries"]
    assert any(entry["target"] == f"POST /api/v1/measures/{measure}/status" for entry in denied)
    # Everyone signed in reads the library, but only the items they may see.
    seen = get(client, people, "outsider", f"{API}/{measure}")
    assert seen["status"] == "in_force" and seen["items"] == []


def test_hostile_text_is_kept_as_given(client: FlaskClient, people: People, ledger: list[int]) -> None:
    title = '<script>alert("x")</script>=HYPERLINK("http://evil","点我")'
    response = post(client, people, "approver", API, {"title": title, "kind": "other", "department": "office"})
    assert response.status_code == 201 and response.get_json()["title"] == title
    nul = post(client, people, "approver", API, {"title": "a\x00b", "kind": "other", "department": "office"})
    assert nul.status_code == 422 and nul.get_json()["errors"][0]["field"] == "title"


def test_an_item_shows_its_mechanism_its_measures_and_whether_it_came_back(
    client: FlaskClient, people: People, ledger: list[int]
) -> None:
    lamp, canteen, queue, lamp_again, dishes, archive, lamp_next_year = ledger

    def of(item_id: int) -> dict[str, Any]:
        return dict(get(client, people, "approver", f"/api/v1/items/{item_id}/measures"))

    assert (of(lamp)["mechanism"], of(canteen)["mechanism"], of(queue)["mechanism"]) == (
        "measure_adopted",
        "none_needed",
        None,
    )
    again = of(lamp_again)
    assert again["came_back"] and again["months"] == 12
    assert [(e["id"], e["why"]) for e in again["earlier"]] == [(lamp, "similar_title")]
    assert [(e["id"], e["why"]) for e in of(dishes)["earlier"]] == [(canteen, "same_unit_category")]
    assert not of(archive)["came_back"] and not of(lamp_next_year)["came_back"]
    # An item its reader may not see is not named as an earlier one.
    assert get(client, people, "manager", f"/api/v1/items/{dishes}/measures")["came_back"]


def test_figures_count_closed_with_and_without_a_lasting_measure_and_the_recurring(
    client: FlaskClient, people: People, ledger: list[int]
) -> None:
    feb = get(client, people, "approver", "/api/v1/reports/lasting/monthly?month=2026-02")
    rows = {row["code"]: (row["closed_with"], row["closed_without"], row["recurring"]) for row in feb["units"]}
    assert rows == {"office": (0, 2, 0), "works": (1, 0, 0)}
    # 窗口排队时间长 had nothing noted; a measure in force linked to it counts it as closed with one.
    measure = post(client, people, "approver", f"/api/v1/items/{ledger[2]}/measures", {}).get_json()["id"]
    post(client, people, "approver", f"{API}/{measure}/status", {"status": "in_force", "on": "2026-03-02"})
    feb = get(client, people, "approver", "/api/v1/reports/lasting/monthly?month=2026-02")
    categories = {row["code"]: row["closed_with"] for row in feb["categories"]}
    assert categories == {"市政设施": 1, "后勤": 0, "服务": 1}
    assert (feb["total"]["closed_with"], feb["total"]["closed_without"]) == (2, 1)

    march = get(client, people, "approver", "/api/v1/reports/lasting/monthly?month=2026-03")
    assert {row["code"]: row["recurring"] for row in march["units"]} == {"office": 1, "works": 1}
    assert {row["code"]: row["recurring"] for row in march["categories"]} == {"照明": 1, "后勤": 1}
    assert [m["id"] for m in march["adopted"]] == [measure]
    first_xun = get(client, people, "approver", "/api/v1/reports/lasting/dispatch?period=2026-03-1&unit=works")
    assert [row["code"] for row in first_xun["units"]] == ["works"] and first_xun["total"]["recurring"] == 1
    assert client.get("/api/v1/reports/lasting/monthly?month=2026-03", headers=people.auth("owner")).status_code == 403


def test_the_monthly_summary_lists_the_measures_adopted_that_month(
    client: FlaskClient, people: People, ledger: list[int]
) -> None:
    title = "=1+1 路灯巡查清单"
    made = post(client, people, "approver", API, {"title": title, "kind": "checklist", "department": "works"})
    measure = made.get_json()["id"]
    with time_machine.travel(at("2026-03-20 10:00"), tick=False):
        post(client, people, "approver", f"{API}/{measure}/status", {"status": "in_force"})
    march = get(client, people, "approver", "/api/v1/reports/monthly?month=2026-03")
    assert [(m["title"], m["adopted_on"]) for m in march["adopted"]] == [(title, "2026-03-20")]
    assert get(client, people, "approver", "/api/v1/reports/monthly?month=2026-04")["adopted"] == []
    assert get(client, people, "approver", "/api/v1/reports/dispatch?period=2026-03-2")["adopted"] == []
    response = client.get("/api/v1/reports/monthly.xlsx?month=2026-03", headers=people.auth("approver"))
    sheet = load_workbook(BytesIO(response.data))["制度性措施"]
    cell = next(c for row in sheet.iter_rows() for c in row if c.value == title)
    assert cell.data_type == "s" and cell.quotePrefix  # text, never a formula


def test_the_document_is_an_evidence_file_the_proposer_may_see(
    client: FlaskClient, people: People, ledger: list[int], sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        files = [
            Attachment(item_id=item_id, sha256="ab" * 32, size=3, media_type="application/pdf", filename=name)
            for item_id, name in [(ledger[5], "档案室巡查制度.pdf"), (ledger[0], "路灯.pdf"), (ledger[5], "旧稿.pdf")]
        ]
        files[2].removed_at = at("2026-03-06 09:00")
        session.add_all(files)
        session.flush()
        own, other_unit, removed = (file.id for file in files)
    body = {"title": "档案室巡查制度", "kind": "rule", "department": "office", "items": [ledger[5]]}
    measure = post(client, people, "manager", API, body).get_json()["id"]
    url = f"{API}/{measure}/document"
    set_own = client.put(url, json={"document": own}, headers=people.auth("manager"))
    assert set_own.status_code == 200 and set_own.get_json()["document"]["filename"] == "档案室巡查制度.pdf"
    for refused in (other_unit, removed, 999):
        response = client.put(url, json={"document": refused}, headers=people.auth("manager"))
        assert response.status_code == 422 and response.get_json()["errors"][0]["field"] == "document", refused
    assert client.put(url, json={"document": own}, headers=people.auth("works_manager")).status_code == 403
    cleared = client.put(url, json={"document": None}, headers=people.auth("manager"))
    assert cleared.status_code == 200 and cleared.get_json()["document"] is None
