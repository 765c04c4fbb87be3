"""Demo data for ``make run``: the sample ledger's units, people and 40 items at realistic stages.

Items are driven through the real lifecycle (the same service calls as the API), so the demo's
history, tasks and statuses are what the product itself would have produced. The sample has no
登记日期: the demo dates its rows over the past three months (oldest first, relative to the office's
today), so that the first reports show an office at work rather than 40 items raised today.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.identity import identity, passwords
from engine.items import items, workflow
from engine.ledger import ledger
from engine.ledger.ledger_import import LedgerRow, read_ledger
from engine.store import clock
from engine.store.models import Item, User

# In the package (a link to the checkout's demo/), so that `rectiflow demo` works from an installed wheel.
SAMPLE_LEDGER = Path(__file__).parent / "demo_data" / "problem-list-sample.xlsx"
# Every demo user logs in to the pages with this password (a demo on one machine, never production).
DEMO_PASSWORD = "rectiflow-demo-2026"
# The demo's items were registered over this many days up to today.
REGISTERED_OVER = 90

DEPARTMENTS = {
    "office": ("办公室", False),
    "cadre_edu": ("干部教育科", False),
    "organisation": ("组织科", False),
    "talent": ("人才办", False),
    "cadre": ("干部科", False),
    "veteran": ("老干部科", False),
    "supervision": ("干部监督科", False),
    "grassroots": ("基层办", False),
    "civil_service": ("公务员科", False),
    "exit_entry": ("市公安局出入境管理支队", True),
}
# Romanised usernames for the owners named in the sample ledger.
PINYIN = {
    "张伟": "zhangwei", "刘洋": "liuyang", "赵磊": "zhaolei", "吴婷": "wuting", "马骏": "majun",
    "郭蕾": "guolei", "李娜": "lina", "杨帆": "yangfan", "周杰": "zhoujie", "孙丽": "sunli",
    "胡斌": "hubin", "王芳": "wangfang", "陈静": "chenjing", "黄敏": "huangmin", "徐涛": "xutao",
    "朱琳": "zhulin",
}  # fmt: skip
STAFF = {
    "reporter": ("office", ["reporter"], "问题登记员 Reporter"),
    "approver": ("office", ["approver"], "审核人 Approver"),
    # A second approver: severe items need one other than the reviewer to sign off (head_review).
    "office_head": ("office", ["approver"], "办公室主任 Office head"),
    "auditor": (None, ["auditor"], "审计员 Auditor"),
    "designer": (None, ["designer"], "流程设计员 Designer"),
    "admin": (None, ["admin"], "管理员 Administrator"),
}


@dataclass(frozen=True)
class DemoResult:
    loaded: bool
    tokens: dict[str, str]
    items: int


def is_empty(session: Session) -> bool:
    return not session.scalar(select(func.count()).select_from(Item)) and not session.scalar(
        select(func.count()).select_from(User)
    )


def load(session: Session, timezone: str, ledger: Path = SAMPLE_LEDGER) -> DemoResult:
    """Load the demo when the database is empty; either way, print-ready fresh tokens for the staff."""
    loaded = is_empty(session)
    if loaded:
        for code, (name, external) in DEPARTMENTS.items():
            identity.add_department(session, code, name, external)
            identity.add_user(session, f"{code}_manager", code, ["manager"], f"{name}负责人")
        for username, (department, roles, display) in STAFF.items():
            identity.add_user(session, username, department, roles, display)
        rows = read_ledger(ledger, _resolver(session)).rows
        for row, day in zip(rows, _registration_days(len(rows), clock.today(timezone)), strict=True):
            _drive(session, replace(row, registered=row.registered or day), timezone)
        # One hash for all: argon2 is slow on purpose, and these accounts share the password anyway.
        shared = passwords.hash_password(DEMO_PASSWORD)
        for user in session.scalars(select(User)):
            user.password_hash = shared
    tokens = {
        username: identity.create_token(session, username, "demo")
        for username in [*STAFF, "office_manager", *sorted(_owners(session))[:1]]
    }
    total = session.scalar(select(func.count()).select_from(Item)) or 0
    return DemoResult(loaded=loaded, tokens=tokens, items=total)


def _registration_days(count: int, today: dt.date) -> list[dt.date]:
    """``count`` dates spread evenly over the ``REGISTERED_OVER`` days before ``today``, oldest first."""
    return [today - dt.timedelta(days=REGISTERED_OVER - index * REGISTERED_OVER // count) for index in range(count)]


def add_sample_people(session: Session, ledger: Path = SAMPLE_LEDGER) -> None:
    """The sample ledger's units and the owners it names, so that the sample can be imported as it is."""
    for code, (name, external) in DEPARTMENTS.items():
        if identity.department_by_code(session, code) is None:
            identity.add_department(session, code, name, external)
    for row in read_ledger(ledger, _resolver(session)).rows:
        owner_account(session, row)


def _resolver(session: Session) -> Callable[[str], str | None]:
    return lambda name: found.code if (found := identity.resolve_department(session, name)) else None


def _owners(session: Session) -> list[str]:
    return list(session.scalars(select(User.username).where(User.username.contains("."))))


def owner_account(session: Session, row: LedgerRow) -> str | None:
    """The account of the row's owner (a member of its unit), made on first mention."""
    if not row.owner_name:
        return None
    username = f"{PINYIN.get(row.owner_name, 'owner')}.{row.department}"
    if session.scalar(select(User).where(User.username == username)) is None:
        identity.add_user(session, username, row.department, ["member"], row.owner_name)
    return username


def _complete(session: Session, item: Item, username: str, data: dict[str, object], unit: str | None = None) -> None:
    actor = identity.user_by_username(session, username)
    task = next(t for t in items.live_tasks(session, item) if unit is None or t.instance_key == unit)
    workflow.complete_task(session, actor, task.id, data)


def _drive(session: Session, row: LedgerRow, timezone: str) -> None:
    """Bring the item to the stage its ledger row reports."""
    reporter = identity.user_by_username(session, "reporter")
    item = workflow.create_item(session, reporter, ledger.new_item(row), timezone)
    ledger.register(item, row, timezone)
    if row.co_departments:
        _drive_joint(session, item, row)
    else:
        _drive_single(session, item, row)


def _drive_single(session: Session, item: Item, row: LedgerRow) -> None:
    """未开始: measures agreed; 正在整改: owner at work; 已完成: reviewed (severe: signed off twice) and closed."""
    manager = f"{row.department}_manager"
    if row.measures:
        _complete(session, item, manager, {"measures": row.measures})
    owner = owner_account(session, row)
    if owner is None or row.progress not in ("正在整改", "已完成"):
        return
    _complete(session, item, manager, {"owner": owner})
    if row.progress == "已完成":
        _complete(session, item, owner, {"result": "已按整改措施完成整改"})
        _complete(session, item, "approver", {"decision": "approve", "comment": "整改到位，同意销号"})
        if item.status == "head_review":  # the lifecycle's decision table asked for a second sign-off
            _complete(session, item, "office_head", {"decision": "approve", "comment": "复核同意销号"})


def _drive_joint(session: Session, item: Item, row: LedgerRow) -> None:
    """未开始: no part delivered; 正在整改: the lead unit's part done; 已完成: consolidated and closed."""
    if row.progress not in ("正在整改", "已完成"):
        return
    units = [row.department, *row.co_departments] if row.progress == "已完成" else [row.department]
    for unit in units:
        _complete(session, item, f"{unit}_manager", {"contribution": row.measures or "已完成本单位任务"}, unit)
    if row.progress == "已完成":
        _complete(session, item, f"{row.department}_manager", {"summary": "各单位均已完成，汇总报审"})
        _complete(session, item, "approver", {"decision": "approve", "comment": "联动整改到位，同意销号"})
