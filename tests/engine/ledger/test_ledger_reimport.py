"""The ledger goes out and comes back: import maps every column, re-import updates by 编号, reports use 登记日期."""

from __future__ import annotations

import datetime as dt
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.audit import history
from engine.identity import identity
from engine.items import corrections, items, progress, sources
from engine.ledger import ledger, ledger_export
from engine.ledger.ledger_import import DATE_FORMS, SkippedRow
from engine.reports import reports
from engine.store.config import ImportLimits
from engine.store.db import transaction
from engine.store.errors import InvalidInput, StaleVersion
from engine.store.models import Item
from tests.conftest import People

TZ = "Asia/Shanghai"
HEADER = [
    "序号",
    "编号",
    "登记日期",
    "问题描述",
    "问题来源",
    "整改措施",
    "责任单位",
    "责任人",
    "整改时限",
    "整改进度",
    "备注",
]


def sheet(*rows: list[Any], header: list[str] = HEADER) -> bytes:
    book = Workbook()
    page = book.active
    assert page is not None
    page.append(["2026年问题清单"])
    page.append(header)
    for row in rows:
        page.append(row)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def row(title: str, **cells: Any) -> list[Any]:
    values = {"序号": 1, "问题描述": title, "问题来源": "自查", "责任单位": "办公室", "整改时限": "2026-12-31"}
    values.update(cells)
    return [values.get(name) for name in HEADER]


def checked(session: Session, content: bytes) -> tuple[ledger.LedgerPreview, ledger.Known]:
    vocabulary = ledger.known(session)
    return ledger.check(BytesIO(content), vocabulary, ImportLimits()), vocabulary


def import_sheet(session: Session, content: bytes) -> ledger.Applied:
    found, vocabulary = checked(session, content)
    return ledger.apply(session, identity.user_by_username(session, "reporter"), found, vocabulary, TZ)


def plan_of(session: Session, content: bytes) -> ledger.Plan:
    found, _vocabulary = checked(session, content)
    return ledger.plan(session, identity.user_by_username(session, "reporter"), found, TZ)


def export(session: Session) -> bytes:
    approver = identity.user_by_username(session, "approver")
    return ledger_export.export(session, approver, items.ItemFilter(sort="id"), dt.date(2026, 11, 30), TZ, 12)


@pytest.fixture
def office(sessions: sessionmaker[Session], people: People) -> sessionmaker[Session]:
    """The cast, with the owner known by a person's name."""
    with transaction(sessions) as session:
        identity.user_by_username(session, "owner").display_name = "张伟"
    return sessions


def test_import_maps_measures_owner_progress_remarks_and_registration_date(office: sessionmaker[Session]) -> None:
    content = sheet(
        row(
            "窗口排队时间长",
            登记日期="2026年3月1日",
            整改措施="增设取号机",
            责任人="张伟",
            整改进度="已采购",
            备注="群众来信",
        ),
        row("会议记录不全", 登记日期=dt.datetime(2026, 4, 2), 整改措施="建立会议记录制度"),
    )
    with transaction(office) as session:
        done = import_sheet(session, content)
    with transaction(office) as session:
        first, second = (session.get_one(Item, item_id) for item_id in done.created)
        assert first.owner is not None and first.owner.username == "owner"
        assert [task.name for task in items.live_tasks(session, first)] == ["rectify"]
        assert items.data_of(session, first)["measures"] == "增设取号机"
        assert (first.description, progress.latest(session, first).note) == ("群众来信", "已采购")  # type: ignore[union-attr]
        assert ledger.registered_on(first, TZ) == dt.date(2026, 3, 1)
        steps = [(e.action, e.task) for e in history.events(session, first.id) if e.action == "imported"]
        assert steps == [("imported", None), ("imported", "define_measures"), ("imported", "assign_owner")]
        # Measures without an owner: the item waits for its manager to name one.
        assert [task.name for task in items.live_tasks(session, second)] == ["assign_owner"]
        assert ledger.registered_on(second, TZ) == dt.date(2026, 4, 2)


def test_the_export_reads_back_as_all_unchanged(office: sessionmaker[Session]) -> None:
    with transaction(office) as session:
        import_sheet(
            session,
            sheet(
                row("窗口排队时间长", 登记日期="2026/3/1", 整改措施="增设取号机", 责任人="张伟", 整改进度="已采购"),
                row("  学习制度不落实 ", 整改时限="长期坚持", 问题来源=None, 备注="每月通报"),
            ),
        )
    with transaction(office) as session:
        plan = plan_of(session, export(session))
    assert (plan.creates, plan.updates, plan.errors) == ([], [], [])
    assert len(plan.unchanged) == 2


def exported_with(session: Session, **cells: str) -> bytes:
    """The ledger as exported, its first item's row edited as a clerk would: column header -> new text."""
    book = load_workbook(BytesIO(export(session)))
    page = book.active
    assert page is not None
    columns = {cell.value: cell.column for cell in page[2]}
    for header, text in cells.items():
        page.cell(3, columns[header], text)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_withdrawn_item_is_exported_as_withdrawn_with_its_reason_and_reads_back_unchanged(
    office: sessionmaker[Session],
) -> None:
    with transaction(office) as session:
        content = sheet(row("窗口排队时间长", 整改措施="增设取号机", 责任人="张伟"), row("登记错了的问题", 备注="误登"))
        kept, mistaken = import_sheet(session, content).created
        corrections.withdraw(session, identity.user_by_username(session, "admin"), mistaken, "重复登记")
    with transaction(office) as session:
        exported = export(session)
        plan = plan_of(session, exported)
    page = load_workbook(BytesIO(exported)).active
    assert page is not None
    rows = [
        dict(zip([cell.value for cell in page[2]], values, strict=True))
        for values in page.iter_rows(3, values_only=True)
    ]
    shown = [(r["编号"], r["状态"], r["办结时间"], r["备注"], r["撤销理由"]) for r in rows]
    assert shown == [(kept, "责任人整改中", None, None, None), (mistaken, "已撤销", None, "误登", "重复登记")]
    assert (plan.creates, plan.updates, plan.errors) == ([], [], [])
    assert [u.item_id for u in plan.unchanged] == [kept, mistaken]


def test_a_reimport_cannot_edit_a_withdrawn_item(office: sessionmaker[Session]) -> None:
    with transaction(office) as session:
        (mistaken,) = import_sheet(session, sheet(row("登记错了的问题"))).created
        corrections.withdraw(session, identity.user_by_username(session, "admin"), mistaken, "重复登记")
    with transaction(office) as session:
        plan = plan_of(session, exported_with(session, 问题描述="改过的问题"))
    assert (plan.updates, plan.unchanged) == ([], [])
    (error,) = plan.errors
    assert (error.row, error.column, error.value, error.accepted) == (3, "问题描述", "改过的问题", "登记错了的问题")
    assert "撤销" in error.message


def test_a_reimport_with_edits_updates_field_by_field_with_history(office: sessionmaker[Session]) -> None:
    with transaction(office) as session:
        (item_id,) = import_sheet(session, sheet(row("窗口排队时间长", 登记日期="2026-03-01"))).created
    with transaction(office) as session:
        edited = exported_with(
            session, 问题描述="窗口排队时间过长", 整改时限="2027年1月15日", 整改进度="已增设两台取号机"
        )
        plan = plan_of(session, edited)
    assert plan.creates == [] and plan.errors == []
    (update,) = plan.updates
    assert [(c.label, c.old, c.new) for c in update.changes] == [
        ("问题描述", "窗口排队时间长", "窗口排队时间过长"),
        ("整改时限", "2026-12-31", "2027-01-15"),
        ("整改进度", "", "已增设两台取号机"),
    ]
    with transaction(office) as session:
        found, vocabulary = checked(session, edited)
        reporter = identity.user_by_username(session, "reporter")
        ledger.apply(session, reporter, found, vocabulary, TZ, expected=plan.fingerprint)
    with transaction(office) as session:
        item = session.get_one(Item, item_id)
        assert (item.title, item.deadline) == ("窗口排队时间过长", dt.date(2027, 1, 15))
        assert session.scalar(select(func.count()).select_from(Item)) == 1
        (event,) = [e for e in history.events(session, item_id) if e.action == "ledger_updated"]
        assert event.actor == "reporter"
        assert event.data["changes"][0] == {
            "field": "title",
            "label": "问题描述",
            "old": "窗口排队时间长",
            "new": "窗口排队时间过长",
        }
        again = plan_of(session, edited)
        assert (again.updates, [u.item_id for u in again.unchanged]) == ([], [item_id])


def test_the_severity_column_is_read_when_present_and_an_unknown_one_is_that_rows_error(
    office: sessionmaker[Session],
) -> None:
    with_severity = [*HEADER, "严重程度"]
    content = sheet([*row("门禁失灵"), "严重"], [*row("台账未更新"), None], header=with_severity)
    with transaction(office) as session:
        created = import_sheet(session, content).created + import_sheet(session, sheet(row("没有这一列"))).created
    with transaction(office) as session:
        assert [session.get_one(Item, item_id).severity for item_id in created] == ["严重", "一般", "一般"]
        plan = plan_of(session, sheet([*row("问题二"), "特别严重"], [*row("问题三"), "较重"], header=with_severity))
    (error,) = plan.errors
    assert (error.row, error.column, error.value, error.accepted) == (3, "严重程度", "特别严重", "一般、较重、严重")
    assert "severity" in error.message


def test_the_export_shows_the_severity_and_a_reimport_changes_it_or_leaves_it_when_empty(
    office: sessionmaker[Session],
) -> None:
    with transaction(office) as session:
        (item_id,) = import_sheet(session, sheet(row("窗口排队时间长"))).created
    with transaction(office) as session:
        page = load_workbook(BytesIO(export(session))).active
        assert page is not None
        shown = dict(zip([cell.value for cell in page[2]], next(page.iter_rows(3, values_only=True)), strict=True))
        assert (shown["问题类别"], shown["严重程度"]) == (None, "一般")
        edited = exported_with(session, 严重程度="较重")
        (update,) = plan_of(session, edited).updates
        assert [(c.label, c.old, c.new) for c in update.changes] == [("严重程度", "一般", "较重")]
        found, vocabulary = checked(session, edited)
        ledger.apply(session, identity.user_by_username(session, "reporter"), found, vocabulary, TZ)
    with transaction(office) as session:
        assert session.get_one(Item, item_id).severity == "较重"
        # An empty cell gives no severity: the item keeps its own.
        assert [u.item_id for u in plan_of(session, exported_with(session, 严重程度="")).unchanged] == [item_id]


def test_a_confirm_applies_nothing_when_the_items_changed_since_the_preview(office: sessionmaker[Session]) -> None:
    with transaction(office) as session:
        import_sheet(session, sheet(row("窗口排队时间长")))
    content = sheet(row("窗口排队时间过长", 编号=1))
    with transaction(office) as session:
        seen = plan_of(session, content).fingerprint
    with transaction(office) as session:
        session.get_one(Item, 1).category = "作风建设"  # someone edits the item meanwhile
        session.get_one(Item, 1).title = "另一个标题"
    with pytest.raises(StaleVersion), transaction(office) as session:
        found, vocabulary = checked(session, content)
        ledger.apply(session, identity.user_by_username(session, "reporter"), found, vocabulary, TZ, expected=seen)
    with transaction(office) as session:
        assert session.get_one(Item, 1).title == "另一个标题"


def test_every_error_of_a_row_is_listed_at_once_with_the_value_and_what_is_accepted(
    office: sessionmaker[Session],
) -> None:
    content = sheet(row("问题一", 问题来源="传闻", 责任单位="宣传部", 整改时限="下月底", 登记日期="三月", 编号="A-1"))
    with transaction(office) as session:
        plan = plan_of(session, content)
    found = {error.column: (error.row, error.value, error.accepted) for error in plan.errors}
    assert found == {
        "编号": (3, "A-1", "留空（新登记），或本系统导出台账中的编号"),
        "登记日期": (3, "三月", DATE_FORMS),
        "问题来源": (3, "传闻", "、".join(sources.DEFAULTS)),
        "责任单位": (3, "宣传部", "办公室、工务科"),
        "整改时限": (3, "下月底", DATE_FORMS + "、长期坚持"),
    }


def test_an_owner_who_is_not_of_the_unit_is_an_error_naming_its_people(office: sessionmaker[Session]) -> None:
    with transaction(office) as session:
        (error,) = plan_of(session, sheet(row("问题一", 整改措施="整改", 责任人="李四"))).errors
    assert (error.column, error.value) == ("责任人", "李四")
    assert "张伟" in (error.accepted or "")
    with transaction(office) as session:
        (alone,) = plan_of(session, sheet(row("问题一", 责任人="张伟"))).errors
    assert (alone.column, alone.value) == ("责任人", "张伟") and "整改措施" in alone.message


def test_lines_after_the_table_are_skipped_and_listed(office: sessionmaker[Session]) -> None:
    content = sheet(
        row("问题一"),
        ["合计", None, None, "共 1 项"],
        [],
        ["填报单位（盖章）：办公室", None, None, None, None, None, "填报日期：2026年11月30日"],
        ["填报人：王芳", None, None, "联系电话：12345678"],
        ["备注：本表一式两份"],
        [None, None, None, "请于每月 5 日前报送", None, None, "组织科"],
    )
    with transaction(office) as session:
        plan = plan_of(session, content)
    assert (len(plan.creates), plan.errors) == (1, [])
    assert plan.skipped == [
        SkippedRow(4, "footer"),
        SkippedRow(5, "empty"),
        SkippedRow(6, "footer"),
        SkippedRow(7, "footer"),
        SkippedRow(8, "footer"),
        SkippedRow(9, "footer"),
    ]


def test_an_unknown_numbers_and_moved_units_are_errors_not_duplicates(office: sessionmaker[Session]) -> None:
    with transaction(office) as session:
        import_sheet(session, sheet(row("问题一")))
    with transaction(office) as session:
        plan = plan_of(session, sheet(row("问题一", 编号=99), row("问题一", 编号=1, 责任单位="工务科")))
        assert [(e.row, e.column, e.value) for e in plan.errors] == [(3, "编号", "99"), (4, "责任单位", "works")]
        with pytest.raises(InvalidInput):
            import_sheet(session, sheet(row("问题一", 编号=99)))


def test_reports_count_an_imported_item_in_its_own_registration_period(office: sessionmaker[Session]) -> None:
    moment = dt.datetime(2026, 11, 20, 10, tzinfo=ZoneInfo(TZ))
    with time_machine.travel(moment, tick=False), transaction(office) as session:
        import_sheet(session, sheet(row("三月的问题", 登记日期="2026-03-05"), row("今天登记的问题")))
    with transaction(office) as session:
        approver = identity.user_by_username(session, "approver")
        march = reports.figures(session, approver, reports.month(2026, 3), TZ).total
        november = reports.figures(session, approver, reports.month(2026, 11), TZ).total
    # Without 登记日期 an item is registered on the day of the import.
    assert (march.raised, november.raised, november.open_at_start) == (1, 1, 1)
