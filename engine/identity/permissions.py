"""Role rules for actions that are not BPMN tasks (tasks follow the diagram's lanes: ``assignment``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.identity.identity import Role
from engine.store.errors import Forbidden
from engine.store.models import Item, ItemUnit, User


def require_reporter(user: User) -> None:
    """Reporters raise items."""
    if Role.REPORTER not in user.roles:
        raise Forbidden("只有填报人可以登记问题 Only reporters may raise items")


def require_raiser(user: User, department_id: int, from_submission: bool) -> None:
    """Reporters raise any item; a unit's manager raises one for their own unit when accepting a submission."""
    if Role.REPORTER in user.roles:
        return
    if from_submission and Role.MANAGER in user.roles and user.department_id == department_id:
        return
    raise Forbidden("只有填报人可以登记问题 Only reporters may raise items")


# 受理反映: the office that keeps the problem list is its reporters (they raise items); a unit's managers
# triage what concerns their unit.
def may_triage(user: User, department_id: int) -> bool:
    if Role.REPORTER in user.roles:
        return True
    return Role.MANAGER in user.roles and user.department_id == department_id


def require_triager(user: User, department_id: int | None = None) -> None:
    """The office (reporters) triages every submission; a unit's managers those about their unit.

    ``department_id`` None: the queue itself, which the office and any manager may open.
    """
    allowed = (
        bool(user.roles & {Role.REPORTER, Role.MANAGER}) if department_id is None else may_triage(user, department_id)
    )
    if not allowed:
        raise Forbidden(
            "只有办公室（填报人）和所涉单位负责人可以处理反映 "
            "Only the office (reporters) and the managers of the unit concerned triage submissions"
        )


def require_designer(user: User) -> None:
    """Designers deploy diagrams."""
    if Role.DESIGNER not in user.roles:
        raise Forbidden("只有流程设计人员可以部署流程 Only process designers may deploy diagrams")


def require_version_keeper(user: User) -> None:
    """Designers and administrators lint diagrams, choose the version new items start on and retire versions."""
    if not user.roles & {Role.DESIGNER, Role.ADMIN}:
        raise Forbidden("只有流程设计人员和管理员可以管理流程版本 Only designers and administrators manage versions")


def require_version_reader(user: User) -> None:
    """Designers, administrators and auditors compare versions of a process and see the items a change concerns."""
    if not user.roles & {Role.DESIGNER, Role.ADMIN, Role.AUDITOR}:
        raise Forbidden(
            "只有流程设计人员、管理员和审计员可以比较流程版本 "
            "Only process designers, administrators and auditors may compare process versions"
        )


# Who confirms a designer's migration of running items: the people who sign off the items' steps, or an admin.
MIGRATION_CONFIRMERS = frozenset({Role.APPROVER, Role.ADMIN})


def require_decision_reader(user: User) -> None:
    """Designers, administrators, approvers and auditors read deployed decisions and try them on inputs
    (deploying one is for designers, as deploying a diagram)."""
    if not user.roles & {Role.DESIGNER, Role.ADMIN, Role.APPROVER, Role.AUDITOR}:
        raise Forbidden(
            "只有流程设计人员、管理员、审核人和审计员可以查看决策表 "
            "Only designers, administrators, approvers and auditors may read decision tables"
        )


def require_migration_confirmer(user: User) -> None:
    """Approvers and administrators confirm (or decline) a migration a designer asked for."""
    if not user.roles & MIGRATION_CONFIRMERS:
        raise Forbidden("只有审批人和管理员可以确认迁移 Only approvers and administrators confirm a migration")


def require_migration_reader(user: User) -> None:
    """Those who ask for migrations, confirm them, or audit them see them."""
    if not user.roles & (MIGRATION_CONFIRMERS | {Role.DESIGNER, Role.AUDITOR}):
        raise Forbidden("您无权查看流程迁移 You may not see process migrations")


# Who may send a message to a running item: it moves the item on, or withdraws it (a diagram's boundary
# "withdraw"), whatever step it is at; so those who sign off items, and administrators.
MESSAGE_SENDERS = frozenset({Role.APPROVER, Role.ADMIN})


def require_message_sender(user: User) -> None:
    """Approvers and administrators send messages to items (an integration does so with such a user's token)."""
    if not user.roles & MESSAGE_SENDERS:
        raise Forbidden("只有审批人和管理员可以向事项发送消息 Only approvers and administrators send messages to items")


def require_admin(user: User) -> None:
    """Administrators manage people, departments and anyone's tokens, and retry failed steps (incidents)."""
    if Role.ADMIN not in user.roles:
        raise Forbidden("只有管理员可以执行此操作 Only administrators may do this")


def require_worker(user: User) -> None:
    """External workers (tokens of a user with the ``worker`` role) fetch, complete and fail external service tasks."""
    if Role.WORKER not in user.roles:
        raise Forbidden("只有外部工作者可以处理外部任务 Only external workers (role worker) handle external tasks")


def require_auditor(user: User) -> None:
    """Auditors verify and export the history."""
    if Role.AUDITOR not in user.roles:
        raise Forbidden("只有审计员可以核验和导出历史 Only auditors verify and export the history")


def require_log_reader(user: User) -> None:
    """Auditors, and administrators, read the admin log and the open incidents."""
    if not user.roles & {Role.AUDITOR, Role.ADMIN}:
        raise Forbidden("只有审计员和管理员可以查看 Only auditors and administrators may read this")


# The office's rhythm reports (周计划, 旬调度, 月总结): who hands them in, the units, the leaders and
# the auditors; each sees the figures of the items they may see. Members and designers do not need them.
REPORT_READERS = frozenset({Role.REPORTER, Role.MANAGER, Role.APPROVER, Role.AUDITOR, Role.ADMIN})


def may_read_reports(user: User) -> bool:
    return bool(user.roles & REPORT_READERS)


def require_report_reader(user: User) -> None:
    if not may_read_reports(user):
        raise Forbidden(
            "只有填报人、单位负责人、审核人、审计员和管理员可以查看报表 "
            "Only reporters, managers, approvers, auditors and administrators may read the reports"
        )


def require_progress_reporter(session: Session, user_id: int, item: Item) -> User:
    """The item's owner, and managers and members of every unit taking part, report its progress."""
    user = session.get_one(User, user_id)
    if item.owner_id == user.id:
        return user
    units = select(ItemUnit.department_id).where(ItemUnit.item_id == item.id)
    in_unit = user.department_id is not None and user.department_id in session.scalars(units)
    if in_unit and user.roles & {Role.MANAGER, Role.MEMBER}:
        return user
    raise Forbidden("只有责任人和参与单位可以报送进展 Only the owner and the units taking part report progress")


# Who adds evidence files to an item they may see: the people who work items. An auditor reads and
# downloads them but adds none; a designer (diagrams) and a worker (a program) add none either.
EVIDENCE_UPLOADERS = frozenset({Role.REPORTER, Role.MANAGER, Role.MEMBER, Role.APPROVER, Role.ADMIN})


def require_evidence_uploader(user: User) -> None:
    """The one rule for adding evidence; which items (those the user may see) is the caller's check."""
    if not user.roles & EVIDENCE_UPLOADERS:
        raise Forbidden("您无权上传佐证材料 You may not add evidence files (auditors read them only)")


# 制度性措施: those who sign items off (approvers) and the units' managers distil measures from them; a
# manager speaks for their own unit only. Adopting (施行) or repealing (废止) binds the whole office, so it is
# the approvers' (the leaders who sign off items), not a unit's.
def may_propose_measure(user: User, department_id: int | None = None) -> bool:
    if Role.APPROVER in user.roles:
        return True
    return Role.MANAGER in user.roles and (department_id is None or user.department_id == department_id)


def require_measure_proposer(user: User, department_id: int | None = None) -> None:
    """Approvers propose a measure for any unit, a manager for their own unit; both link items to it."""
    if not may_propose_measure(user, department_id):
        raise Forbidden(
            "只有审核人和本单位负责人可以提出制度性措施 "
            "Only approvers and the owning unit's managers may propose or change a measure"
        )


def require_measure_adopter(user: User) -> None:
    """Approvers adopt (施行) and repeal (废止) measures."""
    if Role.APPROVER not in user.roles:
        raise Forbidden("只有审核人可以施行或废止制度性措施 Only approvers may adopt or repeal a measure")
