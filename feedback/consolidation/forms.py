"""The consolidated-suggestion form (shape only; the services enforce the rules)."""

from __future__ import annotations

from wtforms import HiddenField, StringField, TextAreaField

from feedback.admin.forms import MultiCheckboxField
from feedback.consolidation.services import SuggestionInput
from feedback.filing.choices import plan_item_choices
from feedback.forms import Form
from feedback.i18n import lazy_gettext as _l


class SuggestionForm(Form):
    """Title, problem and basis, suggestion, policy basis, department, plan items, sources."""

    version = HiddenField()
    title = StringField(_l("建议标题"), render_kw={"maxlength": 200, "required": True})
    description = TextAreaField(
        _l("问题与依据"),
        description=_l("各来源材料共同反映的问题、影响范围和事实依据。"),
        render_kw={"rows": 5, "required": True},
    )
    suggestion = TextAreaField(
        _l("建议内容"), description=_l("具体、可操作的政策建议。"),
        render_kw={"rows": 5, "required": True},
    )  # fmt: skip
    basis = TextAreaField(
        _l("政策依据"), description=_l("相关法律法规、标准或规划条款。"), render_kw={"rows": 2}
    )
    department = StringField(
        _l("建议责任部门"),
        description=_l("如应急管理部、工业和信息化部、生态环境部。"),
        render_kw={"maxlength": 200},
    )
    plan_item_ids = MultiCheckboxField(_l("涉及规划条目"), coerce=int, choices=[])
    references = TextAreaField(
        _l("来源材料编号"),
        description=_l("每行一个，如 FK-2026-000123；也可用逗号或空格分隔。"),
        render_kw={"rows": 4, "required": True, "spellcheck": "false"},
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # Choices are read per request (WTForms 3.4 drops tuple choices at construction).
        self.plan_item_ids.choices = plan_item_choices()

    def to_input(self) -> SuggestionInput:
        """The submitted values, as the services take them."""
        return SuggestionInput(
            title=self.title.data or "",
            description=self.description.data or "",
            suggestion=self.suggestion.data or "",
            basis=self.basis.data or "",
            department=self.department.data or "",
            plan_item_ids=list(self.plan_item_ids.data or []),
            references=self.references.data or "",
        )
