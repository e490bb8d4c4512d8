"""Forms of the report pages (shape only; the services enforce the rules)."""

from __future__ import annotations

from typing import Any

from wtforms import DateField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Optional

from feedback.forms import Form
from feedback.i18n import lazy_gettext as _l
from feedback.paging import bounded_int
from feedback.reports.services import ReportInput


class ReportForm(Form):
    """Title, period, scope and issuing organisation."""

    version = HiddenField()
    title = StringField(_l("报告标题"), render_kw={"maxlength": 200, "required": True})
    period_label = StringField(
        _l("报告期"), description=_l("如“2026年第四季度”。"), render_kw={"maxlength": 60}
    )
    period_start = DateField(_l("开始日期"), validators=[Optional()])
    period_end = DateField(_l("结束日期"), validators=[Optional()])
    campaign_id = SelectField(_l("对应填报任务"), choices=[], validators=[Optional()])
    issuer = StringField(_l("报送单位"), render_kw={"maxlength": 100})

    def __init__(self, *args: Any, campaigns: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.campaign_id.choices = [("", _l("（不限）")), *((str(i), t) for i, t in campaigns)]

    def to_input(self) -> ReportInput:
        """The submitted values, as the services take them."""
        raw = self.campaign_id.data or ""
        return ReportInput(
            title=self.title.data or "",
            period_label=self.period_label.data or "",
            period_start=self.period_start.data,
            period_end=self.period_end.data,
            campaign_id=bounded_int(raw),
            issuer=self.issuer.data or "",
        )


class SentForm(Form):
    """When, how and under which document number a version went to the ministry."""

    sent_on = DateField(_l("报送日期"), validators=[DataRequired(_l("请选择报送日期。"))])
    channel = StringField(
        _l("报送方式"), description=_l("如“公文交换”“机要交通”“电子邮件”。"),
        render_kw={"maxlength": 60},
    )  # fmt: skip
    document_number = StringField(
        _l("文号"), description=_l("如 石化联〔2026〕12号。"), render_kw={"maxlength": 60}
    )
