"""Intake figures per source, for a 旬 and a month, from submissions raised and triaged at known instants."""

from __future__ import annotations

import datetime as dt
from typing import Any

import time_machine
from flask.testing import FlaskClient

from tests.conftest import People

API = "/api/v1/submissions"


def at(day: str) -> time_machine.travel:
    # 10:00 in Beijing, the office's time zone.
    return time_machine.travel(dt.datetime.fromisoformat(f"{day}T02:00:00+00:00"), tick=False)


def raised(client: FlaskClient, people: People, day: str, source: str) -> int:
    body = {"kind": "problem", "text": f"{source} {day}", "source": source, "department": "works"}
    with at(day):
        response = client.post(API, json=body, headers=people.auth("owner"))
    assert response.status_code == 201, response.get_json()
    submission_id: int = response.get_json()["id"]
    return submission_id


def triaged(client: FlaskClient, people: People, day: str, submission_id: int, action: str, body: Any) -> Any:
    with at(day):
        response = client.post(f"{API}/{submission_id}/{action}", json=body, headers=people.auth("reporter"))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def rows(report: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    found = {f["source"]: (f["raised"], f["became_items"], f["median_days_to_triage"]) for f in report["sources"]}
    total = report["total"]
    return {**found, "total": (total["raised"], total["became_items"], total["median_days_to_triage"])}


def test_sources_per_xun_and_month(client: FlaskClient, people: People) -> None:
    public_1 = raised(client, people, "2026-11-12", "群众反映")
    public_2 = raised(client, people, "2026-11-13", "群众反映")
    raised(client, people, "2026-11-15", "献一策")
    own = raised(client, people, "2026-11-25", "自查")
    item = triaged(client, people, "2026-11-14", public_1, "accept", {})["item"]["id"]  # 2 days
    triaged(client, people, "2026-11-17", public_2, "decline", {"reason": "不属实"})  # 4 days
    triaged(client, people, "2026-11-26", own, "merge", {"item": item})  # 1 day

    auth = people.auth("auditor")
    dispatch = client.get("/api/v1/reports/sources/dispatch?period=2026-11-2", headers=auth).get_json()
    assert (dispatch["start"], dispatch["end"]) == ("2026-11-11", "2026-11-20")
    assert rows(dispatch) == {"群众反映": (2, 1, 3.0), "献一策": (1, 0, None), "total": (3, 1, 3.0)}
    monthly = client.get("/api/v1/reports/sources/monthly?month=2026-11", headers=auth).get_json()
    assert rows(monthly) == {"自查": (1, 1, 1.0), "群众反映": (2, 1, 3.0), "献一策": (1, 0, None), "total": (4, 2, 2.0)}
    office = client.get("/api/v1/reports/sources/monthly?month=2026-11&unit=office", headers=auth).get_json()
    assert rows(office) == {"total": (0, 0, None)}
    assert client.get("/api/v1/reports/sources/monthly?month=2026-11", headers=people.auth("owner")).status_code == 403
