"""The API token pages under the user's account: create (shown once), list, revoke."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange

from feedback.admin.forms import ActionForm, MultiCheckboxField
from feedback.api import tokens
from feedback.audit import refusals
from feedback.auth.blueprint import bp
from feedback.exceptions import PermissionDenied, ValidationFailed
from feedback.extensions import db
from feedback.forms import Form, show_errors
from feedback.i18n import gettext as _
from feedback.i18n import lazy_gettext as _l
from feedback.models import ApiToken, Role, Scope, User, utcnow
from feedback.security import acting_user, require_roles

SCOPE_LABELS = {
    Scope.READ: _l("读取（read）"),
    Scope.FILE: _l("填报（file）"),
    Scope.REVIEW: _l("审核（review）"),
    Scope.COMPILE: _l("汇编报告（compile）"),
}


class TokenForm(Form):
    """Name, lifetime and scopes of a new token."""

    name = StringField(
        _l("令牌名称"),
        validators=[DataRequired(_l("请填写令牌名称。")), Length(max=tokens.NAME_MAX)],
        description=_l("例如：园区安全风险智能化管控平台"),
    )
    expires_days = IntegerField(
        _l("有效期（天）"),
        default=tokens.DEFAULT_DAYS,
        validators=[NumberRange(1, tokens.MAX_DAYS, _l("有效期须为 1 至 365 天。"))],
    )
    scopes = MultiCheckboxField(_l("权限范围"), choices=[])


def _form_for(user: User) -> TokenForm:
    form = TokenForm()
    form.scopes.choices = [(s.value, str(SCOPE_LABELS[s])) for s in tokens.allowed_scopes(user)]
    return form


def _page(form: TokenForm, user: User, secret: str | None = None) -> str:
    return render_template(
        "auth/tokens.html",
        form=form,
        tokens=tokens.tokens_of(user),
        can_create=bool(tokens.allowed_scopes(user)),
        secret=secret,
        action_form=ActionForm(),
        now=utcnow(),
        labels=SCOPE_LABELS,
    )


@bp.route("/tokens", methods=["GET", "POST"])
def api_tokens() -> ResponseReturnValue:
    """One's own API tokens; a new one is shown once, right after it is created."""
    user = acting_user()
    form = _form_for(user)
    if form.validate_on_submit():
        try:
            created = tokens.create(
                user,
                name=form.name.data or "",
                scopes=list(form.scopes.data or []),
                expires_days=form.expires_days.data or 0,
            )
        except ValidationFailed as failure:
            db.session.rollback()
            show_errors(form, failure)
            return _page(form, user), 422
        except PermissionDenied:
            abort(403)
        db.session.commit()
        return _page(_form_for(user), user, secret=created.secret)
    return _page(form, user), 422 if form.errors else 200


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
def revoke_api_token(token_id: int) -> ResponseReturnValue:
    """Revoke one's own token (or, for the security administrator, anyone's)."""
    user = acting_user()
    token = db.session.get(ApiToken, token_id)
    if token is None or (token.owner_id != user.id and not user.has_role(Role.SECURITY_ADMIN)):
        if token is not None:
            refusals.deny_existing("api_token", token_id)
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    tokens.revoke(user, token)
    db.session.commit()
    flash(_("令牌“%(name)s”已吊销。", name=token.name), "success")
    if token.owner_id != user.id:
        return redirect(url_for("auth.all_api_tokens"), 303)
    return redirect(url_for("auth.api_tokens"), 303)


@bp.route("/tokens/all")
@require_roles(Role.SECURITY_ADMIN)
def all_api_tokens() -> ResponseReturnValue:
    """Every user's tokens, for the security administrator (DESIGN.md §2)."""
    return render_template(
        "auth/tokens_all.html",
        tokens=tokens.all_tokens(acting_user()),
        action_form=ActionForm(),
        now=utcnow(),
    )
