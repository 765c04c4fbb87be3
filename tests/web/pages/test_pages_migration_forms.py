"""The migration pages without a browser: who sees which page and button, the dry run's table, refusals by field."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy.orm import Session, sessionmaker

from engine.deadlines.worker import Worker
from engine.store.db import transaction
from tests.engine.items.test_item_migrations import default_v2
from tests.redesign import deploy_version, items_at_each_step
from tests.web.pages.conftest import PASSWORD
from tests.web.pages.test_pages_language import csrf

KEY = "rectification_item"
ASK = f"/processes/{KEY}/migrations/new"
LIST = f"/processes/{KEY}/migrations"


@pytest.fixture
def waiting(sessions: sessionmaker[Session], cast: None, tmp_path: Path) -> dict[str, int]:
    """Items of version 1 at each step; version 2 removes ``define_measures`` and renames ``assign_owner``."""
    with transaction(sessions) as session:
        found = items_at_each_step(session)
        deploy_version(session, default_v2(tmp_path / "forms"), tmp_path / "forms")
    return found


def log_in(app: Flask, username: str) -> FlaskClient:
    """A browser of its own for ``username``, logged in."""
    client = app.test_client()
    token = csrf(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def page(client: FlaskClient, path: str, status: int = 200) -> html.HtmlElement:
    response = client.get(path, follow_redirects=True)
    assert response.status_code == status, response.get_data(as_text=True)
    return html.fromstring(response.get_data(as_text=True))


def said(tree: html.HtmlElement, path: str) -> list[str]:
    return [re.sub(r"\s+", " ", found.text_content()).strip() for found in tree.xpath(path)]


def post_ask(client: FlaskClient, action: str, **fields: str) -> html.HtmlElement:
    form = page(client, f"{ASK}?from_version=1&to_version=2")
    (token,) = form.xpath("//form[@data-migrate-form]//input[@name='once_token']/@value")
    data = {"csrf_token": csrf(html.tostring(form, encoding="unicode")), "once_token": token, "action": action}
    response = client.post(ASK, data={**data, "from_version": "1", "to_version": "2", **fields}, follow_redirects=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    return html.fromstring(response.get_data(as_text=True))


def test_designers_and_admins_ask_the_readers_list_and_others_are_refused(app: Flask, waiting: object) -> None:
    for username in ("designer", "admin"):
        client = log_in(app, username)
        page(client, ASK)
    for username in ("approver", "auditor", "manager"):
        client = log_in(app, username)
        page(client, ASK, 403)
    for username in ("designer", "approver", "admin", "auditor"):
        client = log_in(app, username)
        assert said(page(client, LIST), "//p[@class='empty']") == ["此流程尚无迁移。"]
    for username in ("manager", "owner", "reporter"):
        client = log_in(app, username)
        page(client, LIST, 403)


def test_the_mapping_editor_offers_the_missing_steps_and_the_dry_run_says_item_by_item(
    app: Flask, waiting: dict[str, int]
) -> None:
    client = log_in(app, "designer")
    form = page(client, f"{ASK}?from_version=1&to_version=2")
    assert said(form, "//tr[@data-step]/td[1]") == ["制定整改措施 define_measures", "明确责任人 assign_owner"]
    # A renamed step comes with the step the comparison pairs it with; a removed one with none.
    assert form.xpath("//select[@name='mapping.assign_owner']/option[@selected]/@value") == ["appoint_owner"]
    assert form.xpath("//select[@name='mapping.define_measures']/option[@selected]/@value") == []
    targets = form.xpath("//select[@name='mapping.define_measures']/option/@value")
    assert targets == ["", "appoint_owner", "rectify", "review", "joint_review", "head_review", "site_check"]

    tried = post_ask(client, "dry_run", **{"mapping.assign_owner": "appoint_owner", "mapping.define_measures": ""})
    rows = {int(row.get("data-item")): row for row in tried.xpath("//section[@data-dry-run]//tbody/tr")}
    assert sorted(rows) == sorted(waiting[step] for step in ("define_measures", "assign_owner", "rectify", "review"))
    blocked = said(rows[waiting["define_measures"]], "./td")
    assert blocked[1:3] == ["v1", "无法迁移"]
    assert blocked[5] == "define_measures 步骤 'define_measures' 在新版本中不存在，请为其指定映射"
    assert said(rows[waiting["assign_owner"]], "./td")[2] == "可迁移"
    assert said(rows[waiting["assign_owner"]], "./td[4]/div") == ["assign_owner → appoint_owner", "deadline_warning"]
    at_rectify = rows[waiting["rectify"]]
    assert said(at_rectify, "./td[4]/div") == ["rectify", "deadline_warning"]  # the step and the deadline's warning
    assert said(at_rectify, "./td[5]/div") == ["停止：deadline_overdue_watch"]  # the overdue watch version 2 removes
    assert said(tried, "//section[@data-dry-run]/p[@class='hint']") == ["迁移 3 件，受阻 1 件 · 试运行不改变任何事项。"]
    # The choices made are kept for the next try.
    assert tried.xpath("//select[@name='mapping.assign_owner']/option[@selected]/@value") == ["appoint_owner"]
    assert tried.xpath("//select[@name='mapping.define_measures']/option[@selected]/@value") == []
    assert said(page(client, LIST), "//p[@class='empty']") == ["此流程尚无迁移。"]  # a dry run asks nothing

    client.get("/language/en")
    english = post_ask(client, "dry_run")
    row = english.xpath(f"//tr[@data-item='{waiting['define_measures']}']")[0]
    assert said(row, "./td")[2] == "Cannot move"
    assert said(row, "./td")[5].endswith("is not in the new version: map it to one of the new version's steps")


def test_refusals_appear_beside_their_fields(app: Flask, waiting: object) -> None:
    client = log_in(app, "designer")
    refused = post_ask(client, "ask", **{"mapping.define_measures": "nowhere"})
    assert said(refused, "//tr[@data-step='define_measures']//p[@class='error']") == ["第 2 版没有元素 'nowhere'"]
    assert refused.xpath("//tr[@data-step='define_measures']/@class") == ["step invalid"]

    refused = post_ask(client, "dry_run", to_version="9")
    assert said(refused, "//div[.//select[@id='f-to_version']]/p[@class='error']") == [
        "流程 'rectification_item' 没有第 9 版"
    ]
    refused = post_ask(client, "dry_run", to_version="1")
    assert said(refused, "//div[.//select[@id='f-from_version']]/p[@class='error']") == ["原版本与目标版本相同"]
    chosen = page(client, f"{ASK}?from_version=x&to_version=2")
    assert said(chosen, "//div[.//select[@id='f-from_version']]/p[@class='error']") == ["请填写数字"]
    assert chosen.xpath("//form[@data-migrate-form]") == []  # nothing to map or try before the versions are right
    refused = post_ask(client, "ask", note="说明\x00")
    assert refused.xpath("//div[.//textarea[@id='f-note']]/p[@class='error']")
    assert said(page(client, LIST), "//p[@class='empty']") == ["此流程尚无迁移。"]


MAPPED = {"mapping.define_measures": "appoint_owner", "mapping.assign_owner": "appoint_owner"}


def decide(client: FlaskClient, path: str, decision: str) -> html.HtmlElement:
    token = csrf(client.get(path).get_data(as_text=True))
    response = client.post(f"{path}/{decision}", data={"csrf_token": token}, follow_redirects=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    return html.fromstring(response.get_data(as_text=True))


def test_the_asker_withdraws_another_approver_confirms_and_the_inbox_says_what_waits(
    app: Flask, waiting: object, sessions: sessionmaker[Session]
) -> None:
    client = log_in(app, "designer")
    asked = post_ask(client, "ask", note="先试一次", **MAPPED)
    assert said(asked, "//p[@class='flash']") == ["已提交迁移申请，待审核人或管理员确认后执行"]
    assert said(asked, "//h1//span[@data-state]") == ["待确认"]
    assert said(asked, "//div[@data-decide]//button") == ["撤回"]  # the asker confirms nothing
    withdrawn = decide(client, f"{LIST}/1", "decline")
    assert said(withdrawn, "//p[@class='flash']") == ["已撤回迁移申请"]
    assert said(withdrawn, "//h1//span[@data-state]") == ["已撤回"]
    assert withdrawn.xpath("//div[@data-decide]") == []

    post_ask(client, "ask", note="去掉制定措施", **MAPPED)
    listed = page(client, LIST)
    assert said(listed, "//tr[@data-migration]/td[3]") == ["待确认", "已撤回"]
    assert said(listed, "//tr[@data-migration][1]/td[2]") == ["v1 的全部在办事项 → v2"]
    assert said(listed, "//tr[@data-migration][1]/td[6]") == ["去掉制定措施"]
    assert said(listed, "//tr[@data-migration][1]/td[7]") == ["迁移 4 件，受阻 0 件"]
    one = f"{LIST}/2"
    assert listed.xpath("//tr[@data-migration][1]//a/@href") == [one]
    assert page(client, "/inbox").xpath("//p[@data-migrations-awaiting]") == []  # not the asker's to confirm

    for username, buttons in (("auditor", []), ("admin", ["确认执行", "驳回"]), ("approver", ["确认执行", "驳回"])):
        client = log_in(app, username)
        assert said(page(client, one), "//div[@data-decide]//button") == buttons
    client = log_in(app, "auditor")
    token = csrf(client.get(one).get_data(as_text=True))
    assert client.post(f"{one}/confirm", data={"csrf_token": token}).status_code == 403

    client = log_in(app, "approver")
    inbox = page(client, "/inbox")
    assert said(inbox, "//p[@data-migrations-awaiting]") == ["1 个流程迁移待确认 rectification_item"]
    assert inbox.xpath("//p[@data-migrations-awaiting]/a/@href") == [LIST]
    running = decide(client, one, "confirm")
    assert said(running, "//p[@class='flash']") == ["已确认迁移，事项正在后台逐批迁移"]
    assert said(running, "//h1//span[@data-state]") == ["执行中"]
    assert running.xpath("//meta[@http-equiv='refresh']")  # the page follows the worker
    assert said(decide(client, one, "confirm"), "//p[@class='flash']") == ["迁移 2 已确认"]
    Worker(sessions, "test").run_until(threading.Event(), 0, until_idle=True)
    done = page(client, one)
    assert said(done, "//h1//span[@data-state]") == ["已执行"]
    assert said(done, "//section[@data-report]//p[@class='hint']") == ["迁移 4 件，受阻 0 件"]
    assert {row.get("data-outcome") for row in done.xpath("//section[@data-report]//tbody/tr")} == {"moved"}
    assert done.xpath("//div[@data-decide]") == []
    assert page(client, "/inbox").xpath("//p[@data-migrations-awaiting]") == []
    # Confirmed again (a second tab): said, not an error page.
    assert said(decide(client, one, "confirm"), "//p[@class='flash']") == ["迁移 2 已执行"]
