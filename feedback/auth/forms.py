"""Forms of the auth blueprint (shape only; rules live in the services)."""

from __future__ import annotations

from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from feedback.forms import Form
from feedback.i18n import lazy_gettext as _l


class LoginForm(Form):
    """E-mail and password."""

    email = StringField(
        _l("邮箱"),
        validators=[DataRequired(_l("请填写邮箱。")), Length(max=254)],
        render_kw={"autocomplete": "username", "inputmode": "email", "autofocus": True},
    )
    password = PasswordField(
        _l("密码"),
        validators=[DataRequired(_l("请填写密码。")), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )


class ChangePasswordForm(Form):
    """Current password, the new one twice."""

    current_password = PasswordField(
        _l("当前密码"),
        validators=[DataRequired(_l("请填写当前密码。"))],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        _l("新密码"),
        validators=[DataRequired(_l("请填写新密码。"))],
        description=_l(
            "至少 8 个字符，包含大写字母、小写字母、数字、符号中的至少三类；"
            "或 16 个字符以上的长口令。"
        ),
        render_kw={"autocomplete": "new-password"},
    )
    confirm_password = PasswordField(
        _l("再次输入新密码"),
        validators=[
            DataRequired(_l("请再次输入新密码。")),
            EqualTo("new_password", _l("两次输入的新密码不一致。")),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class MfaCodeForm(Form):
    """The 6-digit code of an authenticator app."""

    code = StringField(
        _l("验证码"),
        validators=[DataRequired(_l("请填写验证码。")), Length(max=40)],
        description=_l("打开手机上的验证器应用，输入当前显示的 6 位数字。"),
        render_kw={
            "autocomplete": "one-time-code",
            "inputmode": "numeric",
            "autofocus": True,
            "maxlength": 10,
        },
    )


class RecoveryCodeForm(Form):
    """One of the recovery codes shown when the authenticator was set up."""

    code = StringField(
        _l("恢复码"),
        validators=[DataRequired(_l("请填写恢复码。")), Length(max=40)],
        description=_l("形如 xxxx-xxxx-xxxx-xxxx，每个恢复码只能使用一次。"),
        render_kw={"autocomplete": "off", "autocapitalize": "none", "autofocus": True},
    )
