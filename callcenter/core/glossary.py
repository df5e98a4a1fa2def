"""The console's words: one label map per thing named, each under its own name.

Every Chinese label of a code the system stores — roles, case states and kinds, case actions,
audit-log actions and fields, knowledge-base statuses, callback task statuses — is defined here
once; pages, templates (render.py passes them as globals), messages and exports read them from
here. The figures' labels live with the figures (`reports/figures.py`); a seat's states with
the live board (`floor/agents.SEAT_STATE_LABELS`).

A map is keyed by the code's value (what the database and the forms hold); an enum member
(`Status.resolved`, `Action.return_`) finds its label too, so callers need not write `.value`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class Labels(Mapping[Any, str]):
    """A read-only label map keyed by a code's value; a str-valued enum member finds its label."""

    __slots__ = ("_d",)

    def __init__(self, labels: dict[str, str]) -> None:
        self._d = dict(labels)

    @staticmethod
    def _key(key: Any) -> Any:
        return getattr(key, "value", key)

    def __getitem__(self, key: Any) -> str:
        return self._d[self._key(key)]

    def __contains__(self, key: object) -> bool:
        return self._key(key) in self._d

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __repr__(self) -> str:
        return f"Labels({self._d!r})"


# people ---------------------------------------------------------------------------------------
ROLE_LABELS = Labels({"operator": "话务员", "clerk": "承办人", "supervisor": "班长", "admin": "管理员"})

# cases (models.Kind, models.Status, models.Satisfaction, workflow.Action) ----------------------
KIND_LABELS = Labels({
    "complaint": "民众诉求",
    "consultation": "政策咨询",
    "report": "干部举报",
    "suggestion": "建议意见",
    "help": "求助",
    "praise": "表扬",
    "disclosure": "依申请公开",
})
# what callers and older registries also write for a kind (registry import)
KIND_ALIASES = {"投诉": "complaint", "举报": "report"}

CASE_STATE_LABELS = Labels({
    "registered": "已登记",
    "answered": "已答复",
    "dispatched": "已派单",
    "accepted": "已签收",
    "returned": "已退单",
    "resolved": "已办结",
    "reopened": "重办",
    "closed": "已归档",
    "merged": "重复件",
    "invalid": "无效",
})

# where a case came from (models.Ticket.source)
CASE_SOURCE_LABELS = Labels({"phone": "电话", "web": "网站", "api": "接口", "import": "导入"})

SATISFACTION_LABELS = Labels({"satisfied": "满意", "basically": "基本满意", "dissatisfied": "不满意"})

CASE_ACTION_LABELS = Labels({
    "register": "登记",
    "answer": "直接答复",
    "dispatch": "派单",
    "accept": "签收",
    "return": "退单",
    "redispatch": "重新派单",
    "request_extension": "申请延期",
    "decide_extension": "延期审批",
    "resolve": "办结",
    "callback": "回访",
    "reopen": "重办",
    "close": "归档",
    "merge": "并单",
    "invalidate": "无效",
    "urge": "督办",
    "chase": "催办",
})

# the audit log (审计日志, people/admin) -----------------------------------------------------------
AUDIT_ACTION_LABELS = Labels({
    "user.create": "新增用户",
    "user.update": "修改用户",
    "department.create": "新增承办单位",
    "department.update": "修改承办单位",
    "category.create": "新增问题分类",
    "category.update": "修改问题分类",
    "routing_rule.create": "新增派单规则",
    "routing_rule.update": "修改派单规则",
    "sla.update": "修改办理时限与回访规则",
    "script.update": "修改回访话术",
    "registry.export": "导出来电登记表",
    "caller.lookup": "查询来电号码历史",
    "session.revoke": "注销会话",
    "qa_checklist.create": "新建质检表",
    "qa.sample": "质检抽样",
    "qa.score": "质检评分",
    "qa.comment": "质检点评",
    "qa.appeal": "质检申诉",
    "qa.decide": "处理质检申诉",
    "recording.listen": "收听录音",
})
AUDIT_FIELD_LABELS = Labels({
    "code": "代码", "name": "名称", "phone": "电话", "active": "启用",
    "default_department": "默认承办单位", "resolve_working_days": "办理期限（工作日）", "callback_required": "需回访",
    "category": "问题分类", "keywords": "关键词", "department": "承办单位", "priority": "优先级",
    "username": "用户名", "display_name": "姓名", "role": "角色", "seat": "坐席", "password": "密码",
    "api_token": "接口令牌",
    "format": "格式", "rows": "行数", "from": "起始日期", "to": "截止日期", "file": "文件",
    "full_numbers": "完整号码", "confidential_identities": "保密件来电人身份", "callback_script": "回访话术",
    "via": "来源", "sessions": "登录会话", "session": "会话",
    "items": "检查项", "score": "得分", "fatal": "致命项未通过", "missed": "不符合的检查项", "comment": "点评",
    "appeal": "申诉理由", "decision": "处理结果", "note": "处理意见", "sample": "随机抽检", "dissatisfied": "不满意回访",
    "chase": "催办", "long": "超长通话",
})
# the page a whistleblower's identity was viewed on (services.get's `via`)
IDENTITY_VIEW_PAGE_LABELS = Labels({"case": "工单页", "print": "打印登记表", "api": "接口（API）"})

# the knowledge base (知识库) -----------------------------------------------------------------------
KB_ENTRY_STATUS_LABELS = Labels({"draft": "草稿", "in_review": "待审核", "published": "已发布", "expired": "已失效"})
KB_VERSION_STATUS_LABELS = Labels({"draft": "草稿", "in_review": "待审核", "published": "现行版本",
                                   "superseded": "已被替代", "rejected": "已退回"})
KB_PHRASING_STATUS_LABELS = Labels({"proposed": "待审核", "published": "已发布", "rejected": "已驳回"})

# calls (models.CallOutcome, as the drill-down lists show them)
CALL_OUTCOME_LABELS = Labels({"answered": "接通", "abandoned": "放弃", "refused": "占线未接入", "in_progress": "进行中",
                              "callback_answered": "外呼接通", "callback_unanswered": "外呼未接",
                              "callback_failed": "外呼失败"})

# notices (models.Notification.kind) on the operator's, clerk's and supervisor's pages
NOTICE_KIND_LABELS = Labels({
    "remind_1d": "到期提醒", "remind_2h": "到期提醒", "overdue": "超期", "escalated": "督办",
    "accept_overdue": "签收超期", "extension_waiting": "延期待批", "callback_overdue": "回访超期",
    "daily_summary": "日报", "chase": "催办",
})

# callbacks (回访任务) ------------------------------------------------------------------------------
CALLBACK_TASK_STATUS_LABELS = Labels({"pending": "待回访", "done": "完成", "unreachable": "联系不上",
                                      "cancelled": "取消"})
