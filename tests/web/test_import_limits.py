"""No upload can exhaust the server: a hostile workbook is a 413/422 problem naming the limit, and imports nothing."""

from __future__ import annotations

import os
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests import workbooks
from tests.conftest import People


def upload(client: FlaskClient, people: People, content: bytes, dry_run: bool) -> Any:
    # The multipart body is built here, in memory: the test client would spool a large one to a
    # temporary file that it leaves open when the server refuses the body without reading it.
    body = b"".join(
        [
            b"--cut\r\n",
            b'Content-Disposition: form-data; name="file"; filename="ledger.xlsx"\r\n',
            b"Content-Type: application/octet-stream\r\n\r\n",
            content,
            b"\r\n--cut--\r\n",
        ]
    )
    return client.post(
        f"/api/v1/items/import?dry_run={'true' if dry_run else 'false'}",
        data=body,
        headers=people.auth("reporter"),
        content_type="multipart/form-data; boundary=cut",
    )


def total(client: FlaskClient, people: People) -> int:
    return int(client.get("/api/v1/items", headers=people.auth("approver")).json["total"])


def refused(response: Any, status: int, limit: str) -> None:
    assert response.status_code == status, response.json
    assert response.content_type == "application/problem+json"
    assert limit in response.json["detail"]
    assert response.json["errors"][0]["field"] == "file"


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """As in the issue: a few hundred KB that expand to about 60 MB of empty rows."""
    return workbooks.empty_rows_bomb(3_300_000)


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_zip_bomb_of_empty_rows_is_413(client: FlaskClient, people: People, bomb: bytes, dry_run: bool) -> None:
    assert len(bomb) < 1_000_000
    refused(upload(client, people, bomb, dry_run), 413, "RECTIFLOW_IMPORT_MAX_MEMBER_BYTES")
    assert total(client, people) == 0


def test_a_huge_part_is_413(client: FlaskClient, people: People) -> None:
    refused(upload(client, people, workbooks.huge_part(60 * 1024 * 1024), False), 413, "RECTIFLOW_IMPORT_MAX_")
    assert total(client, people) == 0


@pytest.mark.parametrize("dimension", [None, "A1:B2"], ids=["claimed", "lying"])
def test_a_cell_at_row_two_million_is_422_not_a_huge_preview(
    client: FlaskClient, people: People, dimension: str | None
) -> None:
    content = workbooks.far_row(2_000_000, dimension)
    assert len(content) < 10_000
    for dry_run in (True, False):
        refused(upload(client, people, content, dry_run), 422, "RECTIFLOW_IMPORT_MAX_ROWS")
    assert total(client, people) == 0


def test_the_import_reads_bodies_up_to_its_own_limit_and_refuses_larger_ones(
    client: FlaskClient, people: People
) -> None:
    # Over the general 5 MB request cap, under the import's 10 MB: read, and refused for what it is.
    junk = os.urandom(7 * 1024 * 1024)
    response = upload(client, people, junk, dry_run=True)
    assert response.status_code == 422 and ".xlsx" in response.json["detail"]
    refused(upload(client, people, os.urandom(11 * 1024 * 1024), True), 413, "RECTIFLOW_IMPORT_MAX_BYTES")
    assert total(client, people) == 0


def test_a_sheet_broken_after_its_header_is_422_not_500(client: FlaskClient, people: People) -> None:
    broken = '<row r="3"><c r="A3" t="inlineStr"><is><t>x</t></is></c><broken'
    content = workbooks.with_parts({workbooks.SHEET: workbooks.sheet_xml("A1:B3", [broken])})
    refused(upload(client, people, content, dry_run=False), 422, ".xlsx")
    assert total(client, people) == 0
