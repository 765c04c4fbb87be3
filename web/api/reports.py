"""Rhythm reports: 旬调度, 月总结, 周计划, as JSON and as ``.xlsx`` (definitions: ``engine.reports.reports``)."""

from __future__ import annotations

from typing import Any

from flask import Response
from marshmallow import Schema, ValidationError

from engine.reports import report_xlsx, reports
from web import db
from web.api.blueprint import Blueprint
from web.api.downloads import XLSX, attachment
from web.api.schemas import FiguresReportSchema, Text, WeekPlanSchema
from web.auth import current_user

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


class DispatchQuerySchema(Schema):
    period = PeriodText("dispatch", "2026-11-2", "旬 YYYY-MM-N: N is 1 (上旬 1–10), 2 (中旬 11–20) or 3 (下旬 21–end)")


class MonthlyQuerySchema(Schema):
    month = PeriodText("monthly", "2026-11", "month YYYY-MM")


class WeekQuerySchema(Schema):
    week = PeriodText("week", "2026-W48", "ISO week YYYY-Www (Monday to Sunday)")


def _figures(period: reports.Period) -> reports.Report:
    return reports.figures(db.session(), current_user(), period, db.settings().timezone)


def _week(period: reports.Period) -> reports.WeekPlan:
    return reports.week_plan(db.session(), current_user(), period, db.settings().timezone)


def _xlsx(content: bytes, period: reports.Period) -> Response:
    disposition = attachment(f"{report_xlsx.title(period)}.xlsx", f"{period.kind}-{period.start.isoformat()}.xlsx")
    return Response(content, mimetype=XLSX, headers={"Content-Disposition": disposition})


@blp.route("/dispatch", methods=["GET"])
@blp.arguments(DispatchQuerySchema, location="query")
@blp.response(200, FiguresReportSchema, description="旬调度: per unit and in total")
@blp.problems()
def dispatch(query: dict[str, Any]) -> reports.Report:
    return _figures(query["period"])


@blp.route("/dispatch.xlsx", methods=["GET"])
@blp.arguments(DispatchQuerySchema, location="query")
@blp.response(200, content_type=XLSX, description="旬调度表, the same figures as a workbook")
@blp.problems()
def dispatch_xlsx(query: dict[str, Any]) -> Response:
    return _xlsx(report_xlsx.figures_workbook(_figures(query["period"])), query["period"])


@blp.route("/monthly", methods=["GET"])
@blp.arguments(MonthlyQuerySchema, location="query")
@blp.response(200, FiguresReportSchema, description="月总结: per unit and in total")
@blp.problems()
def monthly(query: dict[str, Any]) -> reports.Report:
    return _figures(query["month"])


@blp.route("/monthly.xlsx", methods=["GET"])
@blp.arguments(MonthlyQuerySchema, location="query")
@blp.response(200, content_type=XLSX, description="月总结表, the same figures as a workbook")
@blp.problems()
def monthly_xlsx(query: dict[str, Any]) -> Response:
    return _xlsx(report_xlsx.figures_workbook(_figures(query["month"])), query["month"])


@blp.route("/week", methods=["GET"])
@blp.arguments(WeekQuerySchema, location="query")
@blp.response(200, WeekPlanSchema, description="周计划: each unit's plans for the next week")
@blp.problems()
def week(query: dict[str, Any]) -> reports.WeekPlan:
    return _week(query["week"])


@blp.route("/week.xlsx", methods=["GET"])
@blp.arguments(WeekQuerySchema, location="query")
@blp.response(200, content_type=XLSX, description="周计划表, the same plans as a workbook")
@blp.problems()
def week_xlsx(query: dict[str, Any]) -> Response:
    return _xlsx(report_xlsx.week_workbook(_week(query["week"]), db.settings().timezone), query["week"])
