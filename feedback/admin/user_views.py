"""Users: list, create, edit roles, deactivate, reset password, unlock."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import or_, select

from feedback.admin import services
from feedback.admin.blueprint import bp
from feedback.admin.forms import ActionForm, UserForm
from feedback.exceptions import PermissionDenied, ValidationFailed
from feedback.extensions import db
from feedback.forms import show_errors
from feedback.models import Organisation, Role, User, UserRole, utcnow
from feedback.security import acting_user, require_roles

PAGE_SIZE = 50
USER_MANAGERS = (Role.ADMIN, Role.SECURITY_ADMIN)


def _organisation_choices() -> list[tuple[int, str]]:
    rows = db.session.execute(
        select(Organisation.id, Organisation.name)
        .where(Organisation.active)
        .order_by(Organisation.kind, Organisation.name)
    ).all()
    return [(row.id, row.name) for row in rows]


def _get_user(user_id: int) -> User:
    # Administrators manage accounts of every organisation; only they reach these views.
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users")
@require_roles(*USER_MANAGERS)
def users() -> ResponseReturnValue:
    """List and search users."""
    q = request.args.get("q", "").strip()
    role = request.args.get("role", "")
    org_arg = request.args.get("org", "")
    org_id = int(org_arg) if org_arg.isdigit() else None
    status = request.args.get("status", "")
    query = select(User).join(User.organisation)
    if q:
        pattern = f"%{q}%"
        query = query.where(
            or_(User.email.like(pattern), User.name.like(pattern), Organisation.name.like(pattern))
        )
    if role in set(Role):
        query = query.where(
            User.id.in_(select(UserRole.user_id).where(UserRole.role == Role(role)))
        )
    if org_id:
        query = query.where(User.organisation_id == org_id)
    if status == "inactive":
        query = query.where(~User.active)
    elif status == "locked":
        query = query.where(User.locked_until > utcnow())
    elif status == "active":
        query = query.where(User.active)
    page = db.paginate(
        query.order_by(Organisation.name, User.name), per_page=PAGE_SIZE, error_out=False
    )
    return render_template(
        "admin/users.html",
        page=page,
        now=utcnow(),
        filters={"q": q, "role": role, "org": org_id or "", "status": status},
    )


@bp.route("/users/new", methods=["GET", "POST"])
@require_roles(Role.ADMIN)
def user_new() -> ResponseReturnValue:
    """Create a user with a one-time password shown once."""
    form = UserForm(organisations=_organisation_choices())
    preselected = request.args.get("org", "")
    if request.method == "GET" and preselected.isdigit():
        form.organisation_id.data = int(preselected)
    if form.validate_on_submit():
        org = db.session.get(Organisation, form.organisation_id.data)
        if org is None:
            abort(400)
        try:
            user, password = services.create_user(
                acting_user(),
                email=form.email.data or "",
                name=form.name.data or "",
                phone=form.phone.data,
                organisation=org,
                roles=form.role_values(),
            )
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            db.session.commit()
            return render_template("admin/one_time_password.html", user=user, password=password)
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@require_roles(Role.ADMIN)
def user_edit(user_id: int) -> ResponseReturnValue:
    """Edit a user's name, phone, organisation and roles."""
    user = _get_user(user_id)
    form = UserForm(obj=user, organisations=_organisation_choices())
    if request.method == "GET":
        form.roles.data = sorted(user.roles)
    form.email.data = user.email  # fixed: it is the login name
    if form.validate_on_submit():
        org = db.session.get(Organisation, form.organisation_id.data)
        if org is None:
            abort(400)
        try:
            services.update_user(
                acting_user(),
                user,
                name=form.name.data or "",
                phone=form.phone.data,
                organisation=org,
                roles=form.role_values(),
            )
        except PermissionDenied as denied:
            db.session.rollback()
            form.form_errors.append(str(denied))
        except ValidationFailed as failure:
            db.session.rollback()
            show_errors(form, failure)
        else:
            db.session.commit()
            flash(_("已保存。"), "success")
            return redirect(url_for("admin.users", q=user.email))
    return render_template("admin/user_form.html", form=form, user=user, action_form=ActionForm())


@bp.route(
    "/users/<int:user_id>/<any(activate, deactivate, unlock, reset):action>", methods=["POST"]
)
@require_roles(*USER_MANAGERS)
def user_action(user_id: int, action: str) -> ResponseReturnValue:
    """Deactivate, reactivate, unlock or reset the password of a user."""
    user = _get_user(user_id)
    actor = acting_user()
    if not ActionForm().validate_on_submit():
        abort(400)
    if action in ("activate", "deactivate", "reset") and not actor.has_role(Role.ADMIN):
        abort(403)
    try:
        if action == "unlock":
            services.unlock_user(actor, user)
            message = _("已解除锁定。")
        elif action == "reset":
            password = services.reset_password(actor, user)
            db.session.commit()
            return render_template("admin/one_time_password.html", user=user, password=password)
        else:
            services.set_user_active(actor, user, action == "activate")
            message = (
                _("账户已启用。") if action == "activate" else _("账户已停用，其登录已全部失效。")
            )
    except PermissionDenied as denied:
        flash(str(denied), "danger")
        return redirect(url_for("admin.users", q=user.email))
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("admin.users", q=user.email))
