"""GET /audit/verify: auditors only; the history carries its hashes."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.conftest import People

API = "/api/v1"


def test_auditors_verify_the_history_and_see_its_hashes(client: FlaskClient, people: People) -> None:
    item = client.post(
        f"{API}/items", json={"title": "审计", "department": "office"}, headers=people.auth("reporter")
    ).json
    task = item["tasks"][0]["id"]
    client.post(f"{API}/tasks/{task}/complete", json={"data": {"measures": "m"}}, headers=people.auth("manager"))
    report = client.get(f"{API}/audit/verify", headers=people.auth("auditor"))
    assert (report.status_code, report.json) == (200, {"ok": True, "checked": 2, "problems": []})
    for user in ("reporter", "manager", "approver", "designer", "admin"):
        assert client.get(f"{API}/audit/verify", headers=people.auth(user)).status_code == 403
    events = client.get(f"{API}/items/{item['id']}/history", headers=people.auth("auditor")).json["events"]
    assert events[0]["prev_hash"] == "0" * 64
    assert events[1]["prev_hash"] == events[0]["hash"] != events[1]["hash"]
