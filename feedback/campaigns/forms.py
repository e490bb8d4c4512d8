"""The form for opening a campaign."""

from __future__ import annotations

from typing import Any

from wtforms import (
    DateField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from feedback.codes.regions import provinces
from feedback.forms import Form
from feedback.i18n import lazy_gettext as _l


class CampaignForm(Form):
    """Title, period, dates, instructions and who is asked."""

    title = StringField(
        _l("任务名称"),
        validators=[DataRequired(_l("请填写任务名称。")), Length(max=200)],
        description=_l("如“2026年第四季度《规划方案》实施情况报送”。"),
    )
    period = StringField(
        _l("报送期间"),
        validators=[DataRequired(_l("请填写报送期间。")), Length(max=40)],
        description=_l("如“2026年第四季度”。"),
    )
    opens_on = DateField(_l("开始日期"), validators=[DataRequired(_l("请选择开始日期。"))])
    due_on = DateField(_l("截止日期"), validators=[DataRequired(_l("请选择截止日期。"))])
    instructions = TextAreaField(
        _l("填报说明"), validators=[Optional(), Length(max=4000)], render_kw={"rows": 4}
    )
    target_mode = RadioField(_l("填报对象"), choices=[], default="all_parks")
    province_code = SelectField(_l("省份（按省选择园区时）"), choices=[], validators=[Optional()])
    organisation_ids = SelectMultipleField(
        _l("指定单位（可多选）"),
        coerce=int,
        choices=[],
        validators=[Optional()],
        render_kw={"size": 8},
    )

    def __init__(self, *args: Any, organisations: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Choices are set here, not on the class: WTForms 3.3 deprecates tuple choices given
        # at construction.
        self.target_mode.choices = [
            ("all_parks", _l("全部化工园区")),
            ("parks_in_province", _l("某省的全部化工园区")),
            ("all_associations", _l("全部专业协会")),
            ("all_committees", _l("全部工作委员会")),
            ("picked", _l("指定单位")),
        ]
        self.province_code.choices = [("", _l("（请选择）"))] + [
            (p.code, p.name) for p in provinces()
        ]
        self.organisation_ids.choices = organisations
