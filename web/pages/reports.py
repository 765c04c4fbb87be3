"""报表 Reports: 周计划, 旬调度 and 月总结 of any period, on the page and as the same workbook to hand in.

Who may read them is the API's rule (``permissions.require_report_reader``); the figures are the
API's (``engine.reports``), and the page's labels are the workbook's (``report_xlsx``), in the
page's language.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flask import Blueprint, Response, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _

from engine.identity import identity, permissions
from engine.intake import figures
from engine.measures import figures as lasting
from engine.reports import report_xlsx, reports
from engine.store.errors import InvalidInput
from web import db
from web.api.reports import workbook_response
from web.pages import measures, text
from web.pages.base import me, require_login
from web.pages.errors import handle_on

bp = Blueprint("report_pages", __name__, url_prefix="/reports")
bp.before_request(require_login)
handle_on(bp)
KIND = "<any(week, dispatch, monthly):kind>"


@bp.before_request
def _readers_only() -> None:
    permissions.require_report_reader(me())


@dataclass
class Choice:
    """The period and unit asked for; what could not be read is named per field, the current period shown instead."""

    period: reports.Period
    unit: reports.Unit | None = None
    errors: list[dict[str, str]] = field(default_factory=list)

    def refuse(self, name: str, message: str) -> None:
        self.errors.append({"field": name, "message": message})


def _choice(kind: str) -> Choice:
    """``day`` (any date: its period) or ``period`` (``2026-11-2``, as the links write it), and ``unit``."""
    choice = Choice(reports.containing(kind, db.today()))
    day, code = request.args.get("day", "").strip(), request.args.get("period", "").strip()
    try:
        if day:
            choice.period = reports.containing(kind, _day(day))
        elif code:
            choice.period = reports.parse(kind, code)
    except reports.InvalidPeriod:
        choice.refuse("day", _("没有这一期：%(period)s；请选一个日期", period=code))
    except ValueError:
        first, last = reports.MIN_YEAR, reports.MAX_YEAR
        choice.refuse("day", _("日期应写作 年-月-日（%(first)d–%(last)d 年），如 2026-11-25", first=first, last=last))
    try:
        choice.unit = reports.scope(db.session(), request.args.get("unit", "").strip())
    except InvalidInput as exc:
        choice.refuse("unit", text.pick(exc.detail, _language()))
    return choice


def _day(text: str) -> dt.date:
    """A date of the years periods are counted in (the next period of the last day must still be a date)."""
    day = dt.date.fromisoformat(text)
    if not reports.MIN_YEAR <= day.year <= reports.MAX_YEAR:
        raise ValueError(text)
    return day


def _language() -> str:
    return str(get_locale())


def _report(choice: Choice) -> reports.Report | reports.WeekPlan:
    return reports.report(db.session(), me(), choice.period, db.settings().timezone, choice.unit)


def _page(kind: str, choice: Choice) -> str:
    language = _language()
    return render_template(
        "reports.html",
        kind=kind,
        kinds=reports.KINDS,
        choice=choice,
        report=_report(choice),
        title=report_xlsx.title(choice.period, choice.unit, language),
        label=lambda period: report_xlsx.period_label(period, language),
        headers=report_xlsx.headers(kind, language),
        figure_values=report_xlsx.figure_values,
        total=report_xlsx.say(report_xlsx.TOTAL, language),
        departments=identity.departments(db.session()),
        intake=None
        if kind == "week"
        else figures.report(db.session(), choice.period, db.settings().timezone, choice.unit),
        lasting=None if kind == "week" else _lasting(choice),
        **measures.labels(),
    )


def _lasting(choice: Choice) -> lasting.LastingReport:
    settings, days = db.settings(), (choice.period.start, choice.period.stop)
    unit = choice.unit.code if choice.unit else None
    return lasting.report(db.session(), me(), days, settings.timezone, settings.recurrence_months, unit)


@bp.get("", defaults={"kind": "dispatch"})
@bp.get(f"/{KIND}")
def index(kind: str) -> str:
    """A period or unit that cannot be read is named beside its field, over the current period's report."""
    return _page(kind, _choice(kind))


@bp.get(f"/{KIND}.xlsx")
def download(kind: str) -> Response | tuple[str, int]:
    choice = _choice(kind)
    if choice.errors:
        return _page(kind, choice), 422
    return workbook_response(_report(choice), me(), _language())
