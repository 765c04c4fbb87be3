"""总览 Dashboard: each chart draws the table printed under it."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import get_locale

from engine.reports import dashboard, report_xlsx
from web import db
from web.pages.base import me, require_login
from web.pages.errors import handle_on

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
bp.before_request(require_login)
handle_on(bp)


@bp.get("")
def index() -> str:
    session, today, timezone = db.session(), db.today(), db.settings().timezone
    current_xun, current_month = dashboard.current_periods(today)
    language = str(get_locale())
    # The charts draw the tables' text, so labels in the page's language need no change to the bundle.
    return render_template(
        "dashboard.html",
        units=dashboard.unit_states(session, me(), today),
        by_xun=dashboard.trend(session, me(), current_xun, timezone),
        by_month=dashboard.trend(session, me(), current_month, timezone),
        ageing=dashboard.overdue_ageing(session, me(), today),
        label=lambda period: report_xlsx.period_label(period, language),
        say=lambda words: report_xlsx.say(words, language),
    )
