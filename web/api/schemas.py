"""marshmallow schemas: the shape of every payload in and out of the API."""

from __future__ import annotations

from typing import Any

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate

from engine.items.items import INBOX_PAGE, SORTS
from engine.items.workflow import DEFAULT_PROCESS, JOINT_PROCESS
from engine.store import severity
from engine.store.idempotency import KEY_MAX
from engine.store.text import unstorable

# Pages are counted like ids (32-bit): beyond this the row offset would overflow the database's.
MAX_PAGE = 2**31 - 1


class Text(fields.String):
    """A string both databases can store: PostgreSQL text holds no NUL, UTF-8 holds no lone surrogate.

    Refused here as a 422 naming the field, instead of failing in the database as a 500.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        problem = unstorable(text)
        if problem:
            raise ValidationError(problem)
        return text


class Severity(fields.String):
    """严重程度: one of the engine's values (an enum in the OpenAPI document)."""

    def __init__(self, **kwargs: Any) -> None:
        described = ", ".join(f"{value} ({english})" for value, english in severity.ENGLISH.items())
        kwargs.setdefault("metadata", {"description": f"严重程度: {described}"})
        super().__init__(validate=validate.OneOf(severity.SEVERITIES, error=severity.UNKNOWN), **kwargs)


class ItemCreateSchema(Schema):
    title = Text(required=True, validate=validate.Length(min=1, max=500))
    description = Text(load_default="", validate=validate.Length(max=10000))
    source = Text(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=50),
        metadata={"description": "问题来源: one of the office's active sources (`GET /sources`)"},
    )
    category = Text(load_default=None, allow_none=True, validate=validate.Length(max=100))
    severity = Severity(load_default=severity.DEFAULT)
    department = Text(required=True, metadata={"description": "责任单位 code"})
    deadline = fields.Date(load_default=None, allow_none=True, metadata={"description": "整改时限 YYYY-MM-DD"})
    ongoing = fields.Boolean(load_default=False, metadata={"description": "长期坚持: no fixed deadline"})
    co_departments = fields.List(
        Text(validate=validate.Length(min=1, max=64)),
        load_default=(),
        validate=validate.Length(max=100),
        metadata={"description": "配合单位 codes: a joint task (联动攻坚) of the lead department and these"},
    )
    process = Text(
        load_default=None,
        validate=validate.Length(min=1, max=200),
        metadata={"description": f"process key; default {DEFAULT_PROCESS}, or {JOINT_PROCESS} with co_departments"},
    )


# A reason says something: blank is no reason.
REASON = (validate.Length(max=2000), validate.Regexp(r"\s*\S", error="请填写理由 Give a reason"))


class WithdrawSchema(Schema):
    reason = Text(required=True, validate=REASON, metadata={"description": "撤销理由"})


class CorrectionSchema(Schema):
    """The fields to correct: those left out keep their value, null clears an optional one."""

    reason = Text(required=True, validate=REASON, metadata={"description": "更正理由"})
    title = Text(validate=validate.Length(min=1, max=500))
    description = Text(allow_none=True, validate=validate.Length(max=10000), metadata={"description": "null: none"})
    source = Text(
        allow_none=True,
        validate=validate.Length(max=50),
        metadata={"description": "问题来源: one of `GET /sources`; null: none"},
    )
    category = Text(allow_none=True, validate=validate.Length(min=1, max=100), metadata={"description": "null: none"})
    severity = Severity()
    department = Text(validate=validate.Length(min=1, max=64), metadata={"description": "责任单位 code"})
    deadline = fields.Date(allow_none=True, metadata={"description": "整改时限 YYYY-MM-DD; null: none"})


class ItemQuerySchema(Schema):
    status = Text()
    department = Text()
    q = Text(validate=validate.Length(max=200))
    overdue = fields.Boolean(metadata={"description": "逾期: past the deadline and not closed"})
    due_within = fields.Integer(
        validate=validate.Range(min=0, max=3660), metadata={"description": "open items due in the next N days"}
    )
    ongoing = fields.Boolean(metadata={"description": "长期坚持 items"})
    incident = fields.Boolean(metadata={"description": "items with an open incident (a failed script or expression)"})
    lasting = fields.Boolean(
        metadata={
            "description": "长效机制: true, the items closed with a lasting measure; false, those closed without one "
            "(as `/reports/lasting` counts them)"
        }
    )
    source = Text(validate=validate.Length(max=50), metadata={"description": "问题来源"})
    category = Text(validate=validate.Length(max=100), metadata={"description": "问题类别"})
    severity = Severity()
    deadline_from = fields.Date(metadata={"description": "deadline on or after this day"})
    deadline_to = fields.Date(metadata={"description": "deadline on or before this day"})
    sort = fields.String(
        load_default="-id",
        validate=validate.OneOf([*SORTS, *(f"-{name}" for name in SORTS)]),
        metadata={"description": "a column, descending with a leading '-'"},
    )


class ItemPageQuerySchema(ItemQuerySchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=200))


class DepartmentRefSchema(Schema):
    code = fields.String()
    name = fields.String()


class TaskSchema(Schema):
    id = fields.Integer()
    item_id = fields.Integer()
    name = fields.String(metadata={"description": "the BPMN element id"})
    title = fields.String()
    lane = fields.String(allow_none=True)
    state = fields.String(metadata={"description": "ready or waiting"})
    unit = fields.String(allow_none=True, metadata={"description": "the unit (code) of a joint task's part"})
    candidates = fields.List(fields.String(), metadata={"description": "usernames who may complete it"})
    created_at = fields.DateTime()


class ProcessRefSchema(Schema):
    key = fields.String()
    version = fields.Integer()


class ItemSummarySchema(Schema):
    id = fields.Integer()
    title = fields.String()
    ongoing = fields.Boolean()
    warning = fields.Boolean(metadata={"description": "预警: the deadline is within 3 days"})
    overdue = fields.Boolean(metadata={"description": "逾期: the deadline has passed"})
    source = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    severity = Severity()
    department = fields.Nested(DepartmentRefSchema)
    deadline = fields.Date(allow_none=True)
    status = fields.String()
    status_label = fields.String()
    owner = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class PartSchema(Schema):
    department = fields.Nested(DepartmentRefSchema)
    role = fields.String(metadata={"description": "lead (牵头单位) or co (配合单位)"})
    state = fields.String(metadata={"description": "pending, done, or none (not asked yet)"})
    actor = fields.String(allow_none=True)
    contribution = fields.String(allow_none=True)
    data = fields.Dict(metadata={"description": "everything the unit submitted"})


class ProgressSchema(Schema):
    done = fields.Integer()
    total = fields.Integer()


class IdempotencyKeySchema(Schema):
    """The ``Idempotency-Key`` header of a creating POST (``web.once``)."""

    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        load_default=None,
        validate=validate.Length(min=1, max=KEY_MAX),
        metadata={
            "description": "A key of the caller's choosing (a UUID) for this request: sent again with the same "
            "request within `RECTIFLOW_IDEMPOTENCY_HOURS` (default 24 h), the first response comes back "
            "(marked `Idempotent-Replayed: true`) and nothing is created again; with a different request: 422. "
            "Keys are per user; only successful responses are kept."
        },
    )


class ProgressCreateSchema(Schema):
    note = Text(required=True, validate=validate.Length(min=1, max=5000), metadata={"description": "进展情况"})
    percent = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0, max=100))
    plan = Text(
        load_default=None, allow_none=True, validate=validate.Length(max=5000), metadata={"description": "下周计划"}
    )


class ProgressUpdateSchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor = fields.Function(lambda update: update.actor.username)
    note = fields.String()
    percent = fields.Integer(allow_none=True)
    plan = fields.String(allow_none=True)


class ProgressListSchema(Schema):
    updates = fields.List(fields.Nested(ProgressUpdateSchema))


class ItemIncidentSchema(Schema):
    id = fields.Integer()
    element = fields.String(metadata={"description": "the BPMN element whose script or expression failed"})
    message = fields.String()
    created_at = fields.DateTime()


class IncidentSchema(ItemIncidentSchema):
    item_id = fields.Integer()
    resolved_at = fields.DateTime(allow_none=True)
    resolved_by = fields.String(allow_none=True)


class IncidentListSchema(Schema):
    incidents = fields.List(fields.Nested(IncidentSchema))


class RetrySchema(Schema):
    data = fields.Dict(
        keys=Text(validate=validate.Length(min=1, max=200)),
        load_default=dict,
        metadata={"description": "variables set on the failed step before it runs again"},
    )


class ItemSchema(ItemSummarySchema):
    latest_progress = fields.Nested(ProgressUpdateSchema, allow_none=True)
    co_departments = fields.List(fields.Nested(DepartmentRefSchema))
    parts = fields.List(fields.Nested(PartSchema), metadata={"description": "each unit's part of a joint task"})
    progress = fields.Nested(ProgressSchema, allow_none=True)
    description = fields.String()
    process = fields.Nested(ProcessRefSchema)
    tasks = fields.List(fields.Nested(TaskSchema))
    data = fields.Dict()
    incident = fields.Nested(
        ItemIncidentSchema,
        allow_none=True,
        metadata={"description": "the open incident the item is stuck on (a failed script or expression), or null"},
    )


class StatusCountSchema(Schema):
    status = fields.String()
    label = fields.String()
    count = fields.Integer()


class LedgerRowSchema(ItemSummarySchema):
    lasting = fields.Boolean(
        allow_none=True,
        metadata={
            "description": "长效机制: closed with a lasting measure (its review noted 已建立长效机制, or a measure in "
            "force is linked), false: closed without one; null: not closed (open or withdrawn)"
        },
    )
    came_back = fields.Boolean(
        metadata={
            "description": "曾整改过: it looks like an item closed in the `RECTIFLOW_RECURRENCE_MONTHS` before it "
            "was raised (`GET /items/{id}/measures` names them)"
        }
    )
    submissions = fields.List(
        fields.Integer(), metadata={"description": "来源反映: the intake submissions accepted as it or merged into it"}
    )


class ItemPageSchema(Schema):
    items = fields.List(fields.Nested(LedgerRowSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    counts = fields.List(
        fields.Nested(StatusCountSchema), metadata={"description": "items per status under the other filters"}
    )


class SourceSchema(Schema):
    name = fields.String(metadata={"description": "问题来源, as items name it"})
    active = fields.Boolean(metadata={"description": "false: taken off the list; new items cannot name it"})


class SourceListSchema(Schema):
    sources = fields.List(fields.Nested(SourceSchema), metadata={"description": "in the office's order"})


class SourceCreateSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=50))


class LedgerUploadSchema(Schema):
    file = Upload(required=True, metadata={"description": "a ledger workbook (.xlsx)"})


class ImportQuerySchema(Schema):
    dry_run = fields.Boolean(load_default=False, metadata={"description": "preview only: nothing is saved"})
    fingerprint = fields.String(
        load_default=None,
        metadata={"description": "the preview's `fingerprint`: refuse (412) if the plan changed since that preview"},
    )


class LedgerItemSchema(Schema):
    title = fields.String()
    department = fields.String(metadata={"description": "责任单位 code"})
    co_departments = fields.List(fields.String())
    source = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    severity = Severity(allow_none=True, metadata={"description": "严重程度; null: not given (一般 for a new item)"})
    deadline = fields.Date(allow_none=True)
    ongoing = fields.Boolean()
    measures = fields.String(allow_none=True)
    owner_name = fields.String(allow_none=True)
    progress = fields.String(allow_none=True)
    remarks = fields.String(allow_none=True)
    number = fields.Integer(allow_none=True, metadata={"description": "编号: the item this row updates"})
    registered = fields.Date(allow_none=True, metadata={"description": "登记日期"})


class LedgerChangeSchema(Schema):
    field = fields.String()
    label = fields.String(metadata={"description": "the ledger column"})
    old = fields.String()
    new = fields.String()


class LedgerUpdateSchema(Schema):
    row = fields.Integer()
    item_id = fields.Integer()
    changes = fields.List(fields.Nested(LedgerChangeSchema))


class LedgerUnchangedSchema(Schema):
    row = fields.Integer()
    item_id = fields.Integer()


class LedgerPreviewRowSchema(Schema):
    row = fields.Integer()
    item = fields.Nested(LedgerItemSchema)


class LedgerRowErrorSchema(Schema):
    row = fields.Integer()
    column = fields.String()
    message = fields.String()
    value = fields.String(allow_none=True, metadata={"description": "the cell as found"})
    accepted = fields.String(allow_none=True, metadata={"description": "what the cell may hold"})


class LedgerSkippedSchema(Schema):
    row = fields.Integer(metadata={"description": "the first skipped row"})
    reason = fields.String(metadata={"description": "empty, footer or heading"})
    count = fields.Integer(metadata={"description": "how many rows from `row` on (a run of blank rows is one entry)"})


class LedgerPreviewSchema(Schema):
    rows = fields.List(fields.Nested(LedgerPreviewRowSchema), metadata={"description": "the rows to create or update"})
    creates = fields.List(fields.Nested(LedgerPreviewRowSchema), metadata={"description": "rows without 编号"})
    updates = fields.List(fields.Nested(LedgerUpdateSchema), metadata={"description": "each changed field"})
    unchanged = fields.List(fields.Nested(LedgerUnchangedSchema))
    errors = fields.List(fields.Nested(LedgerRowErrorSchema))
    skipped = fields.List(fields.Nested(LedgerSkippedSchema))
    fingerprint = fields.String(metadata={"description": "names this plan: pass it to the import to apply exactly it"})


class LedgerImportedSchema(Schema):
    created = fields.Integer()
    items = fields.List(fields.Integer(), metadata={"description": "the new items' ids, in ledger order"})
    updated = fields.List(fields.Integer(), metadata={"description": "the ids of the items the ledger changed"})
    unchanged = fields.Integer()


class HistoryEventSchema(Schema):
    seq = fields.Integer()
    at = fields.DateTime()
    actor = fields.String(allow_none=True)
    action = fields.String()
    task = fields.String(allow_none=True)
    status_from = fields.String(allow_none=True)
    status_to = fields.String(allow_none=True)
    data = fields.Dict()
    prev_hash = fields.String()
    hash = fields.String(metadata={"description": "SHA-256 over the event and prev_hash (tamper evidence)"})


class HistoryPruneSchema(Schema):
    through_seq = fields.Integer(metadata={"description": "events 1..through_seq were removed"})
    pruned_at = fields.DateTime()
    retention_days = fields.Integer()
    archive = fields.String(metadata={"description": "the archive file that holds them"})


class HistorySchema(Schema):
    events = fields.List(fields.Nested(HistoryEventSchema))
    pruned = fields.Nested(
        HistoryPruneSchema,
        allow_none=True,
        metadata={"description": "set when older events were removed under the retention policy"},
    )


class InboxQuerySchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=INBOX_PAGE, validate=validate.Range(min=1, max=200))


class TaskListSchema(Schema):
    tasks = fields.List(
        fields.Nested(TaskSchema), metadata={"description": "those of overdue items first, then the oldest"}
    )
    total = fields.Integer(metadata={"description": "ready tasks in all, on every page"})
    page = fields.Integer()
    per_page = fields.Integer()


class MessageSchema(Schema):
    name = Text(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "the bpmn:message name an event or receive task of the item's diagram waits for"},
    )
    variables = fields.Dict(
        keys=Text(validate=validate.Length(min=1, max=200)),
        load_default=dict,
        metadata={
            "description": "merged into the data of what catches the message (department, units, "
            "deadline_end, owner and business_key are the item's own: refused)"
        },
    )


class MessageStartSchema(MessageSchema):
    business_key = Text(
        load_default=None,
        validate=validate.Length(min=1, max=200),
        metadata={
            "description": "correlation: the message goes to the item a message started with this key, if any; "
            "else it starts an item that keeps the key (variable business_key)"
        },
    )


class CompleteSchema(Schema):
    data = fields.Dict(keys=fields.String(), required=True, metadata={"description": "the task form's fields"})


class ProcessVersionSchema(Schema):
    """One version: its definition's columns, whether it is the default, and its running items."""

    key = fields.String(attribute="definition.key")
    version = fields.Integer(attribute="definition.version")
    name = fields.String(attribute="definition.name")
    sha256 = fields.String(attribute="definition.sha256")
    deployed_at = fields.DateTime(attribute="definition.deployed_at")
    deployed_by = fields.String(attribute="definition.deployed_by", allow_none=True)
    note = fields.String(attribute="definition.note", allow_none=True, metadata={"description": "变更说明"})
    default = fields.Boolean(metadata={"description": "new items start on this version (marked by a designer)"})
    retired = fields.Boolean(attribute="definition.retired", metadata={"description": "no new items start on it"})
    running = fields.Integer(metadata={"description": "items on this version not yet closed or withdrawn"})


class ProcessSchema(Schema):
    key = fields.String()
    name = fields.String()
    latest_version = fields.Integer()
    default_version = fields.Integer(
        allow_none=True,
        metadata={"description": "the version marked default; null: new items start on the latest version"},
    )
    versions = fields.List(fields.Nested(ProcessVersionSchema))


class ProcessListSchema(Schema):
    processes = fields.List(fields.Nested(ProcessSchema))


class DeployedSchema(Schema):
    key = fields.String()
    version = fields.Integer()
    name = fields.String()


class LintProblemSchema(Schema):
    element = fields.String(metadata={"description": "the BPMN id at fault (or the process key)", "example": "review"})
    code = fields.String(metadata={"description": "the rule (processes/README.md, Lint)", "example": "form-missing"})
    severity = fields.String(metadata={"description": "error (refused at deploy) or warning", "example": "error"})
    message = fields.String(metadata={"description": "中文 English"})
    line = fields.Integer(allow_none=True, metadata={"description": "line of the element in the .bpmn file"})


class LintSchema(Schema):
    valid = fields.Boolean(metadata={"description": "true when no problem is an error: the diagram would deploy"})
    problems = fields.List(fields.Nested(LintProblemSchema))


class HealthSchema(Schema):
    status = fields.String()
    database = fields.String()


class ProblemSchema(Schema):
    """RFC 9457 problem details, as every error leaves (``web.problems``)."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.List(fields.Dict(), metadata={"description": "each field (or BPMN element) at fault"})


class ReportPeriodSchema(Schema):
    kind = fields.String(metadata={"description": "dispatch (旬调度), monthly (月总结) or week (周计划)"})
    label = fields.String(metadata={"example": "2026年11月中旬"})
    start = fields.Date(metadata={"description": "the first day"})
    end = fields.Date(metadata={"description": "the last day (included)"})


class ReportFiguresSchema(Schema):
    open_at_start = fields.Integer(metadata={"description": "期初在办: open when the period began"})
    raised = fields.Integer(metadata={"description": "本期新增: raised in the period"})
    closed = fields.Integer(metadata={"description": "本期销号: closed in the period"})
    overdue = fields.Integer(metadata={"description": "逾期: open at the end, deadline day passed"})
    due_next = fields.Integer(metadata={"description": "下期到期: open at the end, due in the next period"})
    no_progress = fields.Integer(metadata={"description": "本期无进展: open in the period, no progress update"})
    closure_rate = fields.Float(allow_none=True, metadata={"description": "销号率: closed / (open_at_start + raised)"})
    avg_days_to_close = fields.Float(allow_none=True, metadata={"description": "平均办结天数 of the closed items"})


class ReportUnitFiguresSchema(ReportFiguresSchema):
    department = fields.Nested(DepartmentRefSchema, metadata={"description": "the lead (responsible) unit"})

    class Meta:
        fields = ("department", *ReportFiguresSchema._declared_fields)


class FiguresReportSchema(Schema):
    period = fields.Nested(ReportPeriodSchema)
    next = fields.Nested(ReportPeriodSchema, metadata={"description": "the next period (for due_next)"})
    units = fields.List(fields.Nested(ReportUnitFiguresSchema))
    total = fields.Nested(ReportFiguresSchema)
    unit = fields.Nested(DepartmentRefSchema, allow_none=True, metadata={"description": "the unit asked for, or null"})
    adopted = fields.List(
        fields.Nested("MeasureSchema"),
        metadata={"description": "月总结: the measures (制度性措施) adopted in the month; empty for a 旬"},
    )


class WeekPlanItemSchema(Schema):
    item_id = fields.Integer()
    title = fields.String()
    plan = fields.String(metadata={"description": "下周计划: the item's latest plan reported this week"})
    at = fields.DateTime()
    actor = fields.String(metadata={"description": "username of who reported it"})
    actor_name = fields.String()


class WeekPlanUnitSchema(Schema):
    department = fields.Nested(DepartmentRefSchema)
    plans = fields.List(fields.Nested(WeekPlanItemSchema))


class WeekPlanSchema(Schema):
    period = fields.Nested(ReportPeriodSchema)
    next = fields.Nested(ReportPeriodSchema, metadata={"description": "the week the plans are for"})
    units = fields.List(fields.Nested(WeekPlanUnitSchema))
    total = fields.Integer(metadata={"description": "how many plans"})
    unit = fields.Nested(DepartmentRefSchema, allow_none=True, metadata={"description": "the unit asked for, or null"})


class NotificationSchema(Schema):
    """A notification as said in the language ``Accept-Language`` prefers (both, Chinese first, without one)."""

    id = fields.Integer()
    kind = fields.String(
        metadata={
            "description": "task, assigned, rejection, extension_requested, extension_decided, or a deadline "
            "escalation (warning, overdue); before 0007 also extension"
        }
    )
    item_id = fields.Integer(allow_none=True)
    data = fields.Dict(
        keys=fields.String(),
        metadata={"description": "what happened: the item's title, the step, the reason, deadlines (ISO dates)..."},
    )
    title = fields.String()
    message = fields.String()
    created_at = fields.DateTime()
    read = fields.Boolean()


class NotificationListSchema(Schema):
    notifications = fields.List(fields.Nested(NotificationSchema))


class ExtensionCreateSchema(Schema):
    new_deadline = fields.Date(required=True, metadata={"description": "新的整改时限 YYYY-MM-DD"})
    reason = Text(required=True, validate=validate.Length(min=1, max=5000), metadata={"description": "延期理由"})


class ExtensionDecisionSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(("grant", "refuse")))
    comment = Text(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=5000),
        metadata={"description": "审批意见; required to refuse"},
    )


class ExtensionSchema(Schema):
    id = fields.Integer()
    item_id = fields.Integer()
    requested_by = fields.Function(lambda request: request.requested_by.username)
    requested_at = fields.DateTime()
    current_deadline = fields.Date(allow_none=True)
    new_deadline = fields.Date()
    reason = fields.String()
    state = fields.String(metadata={"description": "pending, granted or refused"})
    decided_by = fields.Function(lambda request: request.decided_by.username if request.decided_by else None)
    decided_at = fields.DateTime(allow_none=True)
    comment = fields.String(allow_none=True)


class ExtensionListSchema(Schema):
    extensions = fields.List(fields.Nested(ExtensionSchema))


class AssignSchema(Schema):
    assignee = Text(required=True, validate=validate.Length(min=1, max=64), metadata={"description": "username"})


class AuditProblemSchema(Schema):
    item_id = fields.Integer()
    seq = fields.Integer(allow_none=True)
    reason = fields.String()


class AuditReportSchema(Schema):
    ok = fields.Boolean()
    checked = fields.Integer(metadata={"description": "events checked"})
    problem_count = fields.Integer(metadata={"description": "all problems found (the list shows the first 1000)"})
    problems = fields.List(fields.Nested(AuditProblemSchema))


class HistoryExportQuerySchema(Schema):
    item_id = fields.Integer(validate=validate.Range(min=1, max=MAX_PAGE), metadata={"description": "one item"})
    actor = Text(validate=validate.Length(max=64))
    action = Text(validate=validate.Length(max=32))
    department = Text(validate=validate.Length(max=64), metadata={"description": "unit code"})
    since = fields.Date(metadata={"description": "from this office date (included)"})
    until = fields.Date(metadata={"description": "to this office date (included)"})


class HistoryExportRowSchema(HistoryEventSchema):
    item_id = fields.Integer()
    title = fields.String()
    department = fields.String()


class HistoryExportSchema(Schema):
    events = fields.List(fields.Nested(HistoryExportRowSchema))
