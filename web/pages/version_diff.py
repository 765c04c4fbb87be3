"""比较版本 Compare versions: what a new version of a process changes, in people's words, and the items it concerns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from engine.bpmn import deploy
from engine.bpmn.aspects import REFERENCES, Aspect, Change
from engine.bpmn.diff import VersionDiff
from engine.items import affected
from engine.store.errors import NotFound
from web import db
from web.api.diff_schemas import DiffQuerySchema
from web.pages import text
from web.pages.base import field_errors

ASPECTS = {
    Aspect.ID: _l("标识"),
    Aspect.TYPE: _l("元素类型"),
    Aspect.NAME: _l("名称"),
    Aspect.STATUS: _l("状态"),
    Aspect.STATUS_LABEL: _l("状态名称"),
    Aspect.ESCALATION: _l("升级提醒"),
    Aspect.LANE: _l("泳道"),
    Aspect.CANDIDATES: _l("可办理人"),
    Aspect.FORM_KEY: _l("表单"),
    Aspect.FORM_TITLE: _l("表单标题"),
    Aspect.FORM_RULES: _l("表单联动规则"),
    Aspect.FIELD_ADDED: _l("新增字段"),
    Aspect.FIELD_REMOVED: _l("删除字段"),
    Aspect.FIELD_TITLE: _l("字段标题"),
    Aspect.FIELD_TYPE: _l("字段类型"),
    Aspect.FIELD_FORMAT: _l("字段格式"),
    Aspect.FIELD_CHOICES: _l("可选值"),
    Aspect.FIELD_LABELS: _l("选项名称"),
    Aspect.FIELD_REQUIRED: _l("必填"),
    Aspect.FIELD_LIMITS: _l("填写限制"),
    Aspect.FIELD_DEFAULT: _l("默认值"),
    Aspect.FIELD_DESCRIPTION: _l("字段说明"),
    Aspect.MULTI_INSTANCE: _l("多实例"),
    Aspect.TIMER: _l("定时表达式"),
    Aspect.TIMER_KIND: _l("定时方式"),
    Aspect.ATTACHED_TO: _l("所附步骤"),
    Aspect.INTERRUPTING: _l("中断所附步骤"),
    Aspect.SCRIPT: _l("脚本"),
    Aspect.DEFAULT_FLOW: _l("默认路径"),
    Aspect.OUTGOING: _l("下一步"),
    Aspect.INCOMING: _l("上一步"),
    Aspect.SOURCE: _l("起点"),
    Aspect.TARGET: _l("终点"),
    Aspect.CONDITION: _l("条件"),
    Aspect.EXECUTION: _l("执行设置"),
}
TYPES = {
    "userTask": _l("用户任务"),
    "scriptTask": _l("脚本任务"),
    "task": _l("任务"),
    "manualTask": _l("人工任务"),
    "subProcess": _l("子流程"),
    "startEvent": _l("开始事件"),
    "endEvent": _l("结束事件"),
    "boundaryEvent": _l("边界事件"),
    "intermediateCatchEvent": _l("中间事件"),
    "intermediateThrowEvent": _l("中间事件"),
    "exclusiveGateway": _l("排他网关"),
    "parallelGateway": _l("并行网关"),
    "inclusiveGateway": _l("包容网关"),
    "eventBasedGateway": _l("事件网关"),
    "sequenceFlow": _l("连线"),
    "lane": _l("泳道"),
}
# The lane rules (engine.bpmn.lanes) as the people they name.
CANDIDATES = {
    "department_managers": _l("责任单位负责人"),
    "department_members": _l("责任单位人员"),
    "unit_managers": _l("参与单位负责人"),
    "unit_members": _l("参与单位人员"),
    "owner": _l("责任人"),
    "approvers": _l("审核人"),
    "independent_approvers": _l("审核人（不含上一步办理人）"),
}
WORDS = {
    "timeDate": _l("到时间点"),
    "timeDuration": _l("经过时长"),
    "timeCycle": _l("周期"),
    "parallel": _l("并行"),
    "sequential": _l("依次"),
}
_BILINGUAL = {Aspect.NAME, Aspect.STATUS_LABEL, Aspect.LANE, Aspect.FORM_TITLE, *(a for a in Aspect if "field_" in a)}


@dataclass(frozen=True)
class Line:
    """One change as the page says it: what, of which form field, from what to what."""

    label: str
    field: str | None
    before: str
    after: str


def _pick(value: object) -> str:
    return text.pick(value, str(get_locale()))


def _words(aspect: Aspect, value: Any, names: dict[str, str]) -> str:
    if value is None or value == {} or value == []:
        return "—"
    if isinstance(value, bool):
        return str(_l("是") if value else _l("否"))
    if aspect in REFERENCES:
        return "、".join(
            _pick(names.get(element, element)) for element in ([value] if isinstance(value, str) else value)
        )
    if aspect == Aspect.CANDIDATES:
        return f"{CANDIDATES[value]} ({value})" if value in CANDIDATES else str(value)
    if isinstance(value, list):
        return "、".join(map(str, value))
    if aspect == Aspect.FORM_RULES:
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "；".join(f"{key}: {_pick(inner) if aspect in _BILINGUAL else inner}" for key, inner in value.items())
    if value in WORDS:
        return str(WORDS[value])
    return _pick(value) if aspect in _BILINGUAL else str(value)


def lines(changes: tuple[Change, ...], names: dict[str, str]) -> list[Line]:
    return [
        Line(str(ASPECTS[c.aspect]), c.field, _words(c.aspect, c.before, names), _words(c.aspect, c.after, names))
        for c in changes
    ]


def _markers(diff: VersionDiff) -> str:
    """The newer diagram's colours (``viewer.js``): removed elements are not in it, so they are only listed."""
    return json.dumps({"rf-added": [e.id for e in diff.added], "rf-changed": [e.id for e in diff.changed]})


def page(key: str) -> str:
    session = db.session()
    versions = deploy.versions_of(session, key)
    # By default the latest version against the one before it.
    chosen = {"from": str(versions[max(len(versions) - 2, 0)].version), "to": str(versions[-1].version)}
    chosen |= {name: request.args[name] for name in chosen if request.args.get(name)}
    comparison, errors = None, []
    if len(versions) > 1 or request.args:
        try:
            query = DiffQuerySchema().load(chosen)
            comparison = affected.compare_versions(session, key, query["before"], query["after"])
        except (ValidationError, NotFound) as exc:
            errors = field_errors(exc)
    return render_template(
        "designer_diff.html",
        key=key,
        versions=versions,
        chosen=chosen,
        errors=errors,
        comparison=comparison,
        markers=_markers(comparison.diff) if comparison else "{}",
        lines=lines,
        aspects=ASPECTS,
        types=TYPES,
    )
