"""Forms of the administration pages (shape only; the services enforce the rules)."""

from __future__ import annotations

from typing import Any

from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from feedback import labels
from feedback.codes.regions import region_choices
from feedback.forms import Form
from feedback.i18n import lazy_gettext as _l
from feedback.models import OrgKind, ParkGrade, ParkLevel, Role


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes instead of a multi-select box (usable on phones)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _choices(mapping: dict[str, Any], blank: str | None = None) -> list[tuple[str, Any]]:
    options = [(key, label) for key, label in mapping.items()]
    return [("", blank), *options] if blank is not None else options


class OrganisationForm(Form):
    """Create or edit an organisation."""

    name = StringField(
        _l("单位全称"), validators=[DataRequired(_l("请填写单位名称。")), Length(max=200)]
    )
    short_name = StringField(_l("简称"), validators=[Optional(), Length(max=60)])
    kind = SelectField(_l("单位类型"), choices=[], validators=[InputRequired()])
    uscc = StringField(
        _l("统一社会信用代码"),
        validators=[Optional(), Length(max=40)],
        description=_l("18 位，保存前按国家标准 GB 32100 校验。"),
    )
    uscc_override = BooleanField(
        _l("确认代码无误（早期颁发的代码可能无法通过校验，将记入审计日志）")
    )
    region_code = SelectField(_l("所在地区"), choices=[], validators=[Optional()])
    affiliation = StringField(_l("隶属关系"), validators=[Optional(), Length(max=200)])
    park_grade = SelectField(_l("安全风险等级"), choices=[], validators=[Optional()])
    park_grade_year = IntegerField(
        _l("评级年份"), validators=[Optional(), NumberRange(2000, 2100, _l("评级年份不正确。"))]
    )
    park_level = SelectField(_l("园区级别"), choices=[], validators=[Optional()])
    park_batch = StringField(_l("认定批次"), validators=[Optional(), Length(max=100)])
    requires_approval = BooleanField(_l("报送前须经单位负责人审核"))
    notes = TextAreaField(_l("备注"), validators=[Optional(), Length(max=2000)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = _choices(labels.ORG_KIND)
        self.region_code.choices = [("", _l("（请选择）")), *region_choices()]
        self.park_grade.choices = _choices(labels.PARK_GRADE, _l("（未评级）"))
        self.park_level.choices = _choices(labels.PARK_LEVEL, _l("（未填写）"))

    def kind_value(self) -> OrgKind:
        return OrgKind(self.kind.data)

    def grade_value(self) -> ParkGrade | None:
        return ParkGrade(self.park_grade.data) if self.park_grade.data else None

    def level_value(self) -> ParkLevel | None:
        return ParkLevel(self.park_level.data) if self.park_level.data else None


class UserForm(Form):
    """Create or edit a user. The e-mail (login name) is fixed once created."""

    email = StringField(
        _l("邮箱（登录名）"),
        validators=[DataRequired(_l("请填写邮箱。")), Length(max=254)],
        render_kw={"inputmode": "email", "autocomplete": "off"},
    )
    name = StringField(_l("姓名"), validators=[DataRequired(_l("请填写姓名。")), Length(max=60)])
    phone = StringField(
        _l("联系电话"), validators=[Optional(), Length(max=30)], render_kw={"inputmode": "tel"}
    )
    organisation_id = SelectField(_l("所属单位"), coerce=int, choices=[])
    roles = MultiCheckboxField(
        _l("角色"),
        choices=[],
        description=_l("系统管理员、安全管理员、审计管理员三者互斥，且不兼任业务角色。"),
        # The boxes shown are the roles the acting administrator may give; any other role is
        # refused by the service with a reason rather than by WTForms' "Not a valid choice".
        validate_choice=False,
    )

    def __init__(
        self,
        *args: Any,
        organisations: list[tuple[int, str]],
        roles: list[Role] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.organisation_id.choices = organisations
        shown = list(Role) if roles is None else roles
        self.roles.choices = [(role.value, labels.ROLE[role]) for role in shown]

    def validate_roles(self, field: MultiCheckboxField) -> None:
        if not set(field.data or []) <= {role.value for role in Role}:
            raise ValidationError(_l("角色无效。"))

    def role_values(self) -> set[Role]:
        return {Role(value) for value in self.roles.data or []}


class PlanItemForm(Form):
    """Create or edit a plan item."""

    code = StringField(_l("编号"), validators=[DataRequired(_l("请填写编号。")), Length(max=20)])
    name = StringField(_l("名称"), validators=[DataRequired(_l("请填写名称。")), Length(max=200)])
    description = TextAreaField(_l("说明"), validators=[Optional(), Length(max=4000)])
    sort_order = IntegerField(
        _l("排序"),
        validators=[
            Optional(),
            NumberRange(-100_000, 100_000, _l("排序值应在 -100000 到 100000 之间。")),
        ],
    )


class TagForm(Form):
    """Add or rename a tag."""

    name = StringField(
        _l("标签名称"), validators=[DataRequired(_l("请填写标签名称。")), Length(max=100)]
    )


class TagGroupNameForm(Form):
    """Rename a tag group (its code stays)."""

    name = StringField(
        _l("分组名称"), validators=[DataRequired(_l("请填写分组名称。")), Length(max=100)]
    )


class TagGroupForm(Form):
    """Add a tag group."""

    code = StringField(
        _l("分组代码"), validators=[DataRequired(_l("请填写分组代码。")), Length(max=40)]
    )
    name = StringField(
        _l("分组名称"), validators=[DataRequired(_l("请填写分组名称。")), Length(max=100)]
    )


class ActionForm(Form):
    """An empty form: a button that POSTs with a CSRF token."""
