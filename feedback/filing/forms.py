"""The submission form, built per kind from :mod:`feedback.filing.kinds`."""

from __future__ import annotations

from typing import Any

from wtforms import (
    BooleanField,
    Field,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, Optional

from feedback.admin.forms import MultiCheckboxField
from feedback.codes.regions import region_choices
from feedback.exceptions import ValidationFailed
from feedback.filing.kinds import (
    CONTACT_NAME_MAX,
    KINDS,
    SECTORS,
    SENSITIVITY_LABELS,
    SUMMARY_MAX,
    TITLE_MAX,
    Kind,
    Sensitivity,
)
from feedback.filing.services import SubmissionInput
from feedback.forms import Form
from feedback.i18n import gettext as _
from feedback.i18n import lazy_gettext as _l
from feedback.paging import bounded_int


class MarkRequired:
    """Marks a field as required for display only: drafts may be saved incomplete, and the
    quality rules are checked by the service when the submission is sent."""

    field_flags = {"required": True}  # noqa: RUF012 (WTForms reads this class attribute)

    def __call__(self, form: Any, field: Field) -> None:
        return None


class SubmissionFormBase(Form):
    """Fields every kind has. Checks only shape; the services apply the quality rules."""

    idempotency_key = HiddenField()
    version = HiddenField()
    title = StringField(
        _l("标题"),
        validators=[MarkRequired(), Length(max=TITLE_MAX)],
        description=_l("一句话说明是什么，如“园区承包商动火作业票证管理不规范”。"),
    )
    summary = TextAreaField(
        _l("摘要"),
        validators=[MarkRequired(), Length(max=SUMMARY_MAX)],
        description=_l("一两句话概括，审核人员先看这里。"),
        render_kw={"rows": 2},
    )
    plan_item_ids = MultiCheckboxField(_l("相关规划条目"), coerce=int, choices=[])
    tag_ids = MultiCheckboxField(_l("建议标签"), coerce=int, choices=[], validators=[Optional()])
    region_code = SelectField(_l("所在地区"), choices=[], validators=[MarkRequired(), Optional()])
    sector = SelectField(_l("行业领域"), choices=[], validators=[Optional()])
    campaign_id = SelectField(_l("对应填报任务"), choices=[], validators=[Optional()])
    contact_name = StringField(
        _l("联系人"), validators=[MarkRequired(), Length(max=CONTACT_NAME_MAX)]
    )
    contact_phone = StringField(
        _l("联系电话"),
        validators=[MarkRequired(), Length(max=30)],
        description=_l("手机号或带区号的固定电话，如 13812345678、0512-68681234。"),
        render_kw={"inputmode": "tel", "autocomplete": "tel"},
    )
    sensitivity = RadioField(_l("使用范围"), choices=[], default=Sensitivity.MINISTRY.value)
    anonymous = BooleanField(_l("报送应急管理部时不显示本单位名称（显示为单位类型和省份）"))
    attachments = MultipleFileField(
        _l("附件"),
        description=_l(
            "PDF、Word（.docx）、Excel（.xlsx）、JPEG 或 PNG，单个不超过 20 MB，最多 10 个。"
        ),
        render_kw={"accept": ".pdf,.docx,.xlsx,.jpg,.jpeg,.png"},
    )

    kind: Kind  # set on the per-kind subclass

    def section_fields(self) -> list[Field]:
        return [self[section.key] for section in KINDS[self.kind].sections]

    def to_input(self) -> SubmissionInput:
        campaign = self.campaign_id.data
        return SubmissionInput(
            kind=self.kind,
            title=self.title.data or "",
            summary=self.summary.data or "",
            sections={s.key: self[s.key].data or "" for s in KINDS[self.kind].sections},
            plan_item_ids=list(self.plan_item_ids.data or []),
            tag_ids=list(self.tag_ids.data or []),
            region_code=self.region_code.data or None,
            sector=self.sector.data or None,
            contact_name=self.contact_name.data or "",
            contact_phone=self.contact_phone.data or "",
            sensitivity=_sensitivity(self.sensitivity.data),
            anonymous=bool(self.anonymous.data),
            campaign_id=bounded_int(str(campaign or "")),
        )


def _sensitivity(value: str | None) -> Sensitivity:
    try:
        return Sensitivity(value or Sensitivity.MINISTRY.value)
    except ValueError:
        raise ValidationFailed.on("sensitivity", _("请选择使用范围。")) from None


_FORM_CLASSES: dict[Kind, type[SubmissionFormBase]] = {}


def form_class(kind: Kind) -> type[SubmissionFormBase]:
    """The form class for ``kind`` (its sections added as text areas)."""
    if kind not in _FORM_CLASSES:
        fields: dict[str, Any] = {"kind": kind}
        for section in KINDS[kind].sections:
            fields[section.key] = TextAreaField(
                section.label,
                validators=[
                    *([MarkRequired()] if section.required else []),
                    Length(max=section.max_length),
                ],
                description=section.hint,
                render_kw={"rows": 5, "data-required": "1" if section.required else "0"},
            )
        _FORM_CLASSES[kind] = type(f"{kind.value.title()}Form", (SubmissionFormBase,), fields)
    return _FORM_CLASSES[kind]


def fill_choices(
    form: SubmissionFormBase,
    *,
    plan_items: list[tuple[int, str]],
    tags: list[tuple[int, str]],
    campaigns: list[tuple[int, str]],
) -> None:
    """Set the choice lists (active plan items and tags, open campaigns) on a form."""
    form.plan_item_ids.choices = plan_items
    form.tag_ids.choices = tags
    form.region_code.choices = [("", _l("（请选择）")), *region_choices()]
    form.sector.choices = [("", _l("（请选择）")), *((s, s) for s in SECTORS)]
    form.campaign_id.choices = [
        ("", _l("（不对应具体任务）")),
        *((str(i), t) for i, t in campaigns),
    ]
    form.sensitivity.choices = [(k.value, label) for k, label in SENSITIVITY_LABELS.items()]


class NoteForm(Form):
    """A decision with a note (return, reject)."""

    note = TextAreaField(_l("说明"), validators=[Length(max=4000)], render_kw={"rows": 3})
