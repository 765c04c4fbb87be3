"""Rhythm reports: 旬调度, 月总结, 周计划, as JSON and as ``.xlsx`` (definitions: ``engine.reports.reports``).

Who may read them is ``permissions.require_report_reader``, the pages' rule too. A workbook's labels
are in the language ``Accept-Language`` prefers (Chinese or English), in both when it asks for none.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from marshmallow import Schema, ValidationError

from engine.identity import permissions
from engine.intake import figures
from engine.measures import figures as lasting
from engine.reports import report_xlsx, reports
from engine.store.models import User
from web import db
from web.api.blueprint import Blueprint
from web.api.downloads import XLSX, attachment
from web.api.intake_schemas import IntakeReportSchema
from web.api.language import requested_language
from web.api.measure_schemas import LastingReportSchema
from web.api.schemas import FiguresReportSchema, Text, WeekPlanSchema
from web.auth import check_first, current_user

blp = Blueprint("reports", __name__, url_prefix="/reports", description="报表 旬调度, 月总结, 周计划 Rhythm reports")


class PeriodText(Text):
    """A period string, loaded as an ``engine.reports.reports.Period``; a bad one is a 422 naming the field."""

    def __init__(self, kind: str, example: str, description: str) -> None:
        # The pattern documents the format; parsing also checks the ranges (month 1–12, ISO weeks of the year).
        metadata = {"description": description, "example": example, "pattern": reports.pattern(kind)}
        super().__init__(required=True, metadata=metadata)
        self.kind = kind

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        try:
            return reports.parse(self.kind, super()._deserialize(value, attr, data, **kwargs))
        except reports.InvalidPeriod as exc:
            raise ValidationError(str(exc)) from exc


class ReportQuerySchema(Schema):
    unit = Text(metadata={"description": "a unit's code: only its items (the title names it)", "example": "works"})


class DispatchQuerySchema(ReportQuerySchema):
    period = PeriodText("dispatch", "2026-11-2", "旬 YYYY-MM-N: N is 1 (上旬 1–10), 2 (中旬 11–20) or 3 (下旬 21–end)")


class MonthlyQuerySchema(ReportQuerySchema):
    month = PeriodText("monthly", "2026-11", "month YYYY-MM")


class WeekQuerySchema(ReportQuerySchema):
    week = PeriodText("week", "2026-W48", "ISO week YYYY-Www (Monday to Sunday)")


def _report(period: reports.Period, query: dict[str, Any]) -> reports.Report | reports.WeekPlan:
    session = db.session()
    unit = reports.scope(session, query.get("unit"))
    return reports.report(session, current_user(), period, db.settings().timezone, unit)


def workbook_response(report: reports.Report | reports.WeekPlan, reader: User, language: str | None) -> Response:
    """The report's workbook as a download named by its title (the pages send it too); 旬调度 and 月总结 with the
    sources and 长效机制 sheets of the same period and unit, as ``reader`` may see them."""
    period = report.period
    name = report_xlsx.title(period, report.unit, language)
    disposition = attachment(f"{name}.xlsx", f"{period.kind}-{period.start.isoformat()}.xlsx")
    if isinstance(report, reports.WeekPlan):
        content = report_xlsx.week_workbook(report, db.settings().timezone, language)
    else:
        companions = report_xlsx.Companions(_sources(period, report.unit), _lasting(reader, period, report.unit))
        content = report_xlsx.figures_workbook(report, companions, language)
    return Response(content, mimetype=XLSX, headers={"Content-Disposition": disposition})


def _xlsx(period: reports.Period, query: dict[str, Any]) -> Response:
    return workbook_response(_report(period, query), current_user(), requested_language())


@blp.route("/dispatch", methods=["GET"])
@check_first(permissions.require_report_reader)
@blp.arguments(DispatchQuerySchema, location="query")
@blp.response(200, FiguresReportSchema, description="旬调度: per unit and in total")
@blp.problems(403)
def dispatch(query: dict[str, Any]) -> reports.Report | reports.WeekPlan:
    return _report(query["period"], query)


@blp.route("/dispatch.xlsx", methods=["GET"])
@check_first(permissions.require_report_reader)
@blp.arguments(DispatchQuerySchema, location="query")
@blp.response(200, content_type=XLSX, description="旬调度表, the same figures as a workbook")
@blp.problems(403)
def dispatch_xlsx(query: dict[str, Any]) -> Response:
    return _xlsx(query["period"], query)


@blp.route("/monthly", methods=["GET"])
@check_first(permissions.require_report_reader)
@blp.arguments(MonthlyQuerySchema, location="query")
@blp.response(200, FiguresReportSchema, description="月总结: per unit and in total")
@blp.problems(403)
def monthly(query: dict[str, Any]) -> reports.Report | reports.WeekPlan:
    return _report(query["month"], query)


@blp.route("/monthly.xlsx", methods=["GET"])
@check_first(permissions.require_report_reader)
@blp.arguments(MonthlyQuerySchema, location="query")
@blp.response(200, content_type=XLSX, description="月总结表, the same figures as a workbook")
@blp.problems(403)
def monthly_xlsx(query: dict[str, Any]) -> Response:
    return _xlsx(query["month"], query)


@blp.route("/week", methods=["GET"])
@check_first(permissions.require_report_reader)
@blp.arguments(WeekQuerySchema, location="query")
@blp.response(200, WeekPlanSchema, description="周计划: each unit's plans for the next week")
@blp.problems(403)
def week(query: dict[str, Any]) -> reports.Report | reports.WeekPlan:
    return _report(query["week"], query)


@blp.route("/week.xlsx", methods=["GET"])
@check_first(permissions.require_report_reader)
@blp.arguments(WeekQuerySchema, location="query")
@blp.response(200, content_type=XLSX, description="周计划表, the same plans as a workbook")
@blp.problems(403)
def week_xlsx(query: dict[str, Any]) -> Response:
    return _xlsx(query["week"], query)


def _sources(period: reports.Period, unit: reports.Unit | None) -> figures.IntakeReport:
    return figures.report(db.session(), period, db.settings().timezone, unit)


def _sources_json(period: reports.Period, query: dict[str, Any]) -> figures.IntakeReport:
    return _sources(period, reports.scope(db.session(), query.get("unit")))


@blp.route("/sources/dispatch", methods=["GET"])
@check_first(permissions.require_report_reader)
@blp.arguments(DispatchQuerySchema, location="query")
@blp.response(
    200, IntakeReportSchema, description="反映 per 问题来源 in a 旬: raised, became items, median days to triage"
)
@blp.problems(403)
def sources_dispatch(query: dict[str, Any]) -> figures.IntakeReport:
    return _sources_json(query["period"], query)


@blp.route("/sources/monthly", methods=["GET"])
@check_first(permissions.require_report_reader)
@blp.arguments(MonthlyQuerySchema, location="query")
@blp.response(200, IntakeReportSchema, description="反映 per 问题来源 in a month: raised, became items, median days")
@blp.problems(403)
def sources_monthly(query: dict[str, Any]) -> figures.IntakeReport:
    return _sources_json(query["month"], query)


def _lasting(reader: User, period: reports.Period, unit: reports.Unit | None) -> lasting.LastingReport:
    settings, days = db.settings(), (period.start, period.stop)
    code = unit.code if unit else None
    return lasting.report(db.session(), reader, days, settings.timezone, settings.recurrence_months, code)


def lasting_report(period: reports.Period, unit_code: str | None) -> dict[str, Any]:
    """长效机制 figures of the period, as the workbook's sheet has them."""
    found = _lasting(current_user(), period, reports.scope(db.session(), unit_code))
    return {"start": period.start, "end": period.end, **found.__dict__}


@blp.route("/lasting/dispatch", methods=["GET"])
@check_first(permissions.require_report_reader)
@blp.arguments(DispatchQuerySchema, location="query")
@blp.response(200, LastingReportSchema, description="长效机制 in a 旬: closed with/without a measure, recurring")
@blp.problems(403)
def lasting_dispatch(query: dict[str, Any]) -> dict[str, Any]:
    return lasting_report(query["period"], query.get("unit"))


@blp.route("/lasting/monthly", methods=["GET"])
@check_first(permissions.require_report_reader)
@blp.arguments(MonthlyQuerySchema, location="query")
@blp.response(200, LastingReportSchema, description="长效机制 in a month: closed with/without a measure, recurring")
@blp.problems(403)
def lasting_monthly(query: dict[str, Any]) -> dict[str, Any]:
    return lasting_report(query["month"], query.get("unit"))
