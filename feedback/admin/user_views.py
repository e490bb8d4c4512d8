"""Users: list, create, edit roles, deactivate, reset password or second factor, unlock.

Both the system administrator and the security administrator reach these pages; which accounts
each may manage is decided by :func:`feedback.admin.services.authorise_account_action` (三员分立),
and the pages offer only what the acting administrator may do.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import or_, select

from feedback.admin import services
from feedback.admin.blueprint import bp
from feedback.admin.forms import ActionForm, UserForm
from feedback.admin.services import AccountAction
from feedback.auth.sessions import live_counts
from feedback.errors import render_error
from feedback.exceptions import PermissionDenied, ValidationFailed
from feedback.extensions import db
from feedback.forms import show_errors
from feedback.i18n import gettext as _
from feedback.models import ADMIN_ROLES, Organisation, OrgKind, Role, User, UserRole, utcnow
from feedback.paging import MAX_ID, int_arg, page_arg
from feedback.security import acting_user, require_roles

PAGE_SIZE = 50
USER_MANAGERS = (Role.ADMIN, Role.SECURITY_ADMIN)


def _organisation_choices(
    actor: User, current: Organisation | None = None
) -> list[tuple[int, str]]:
    query = select(Organisation.id, Organisation.name).where(Organisation.active)
    if not actor.has_role(Role.ADMIN):
        # The security administrator manages administrator accounts only, all in the federation.
        query = query.where(Organisation.kind == OrgKind.FEDERATION)
    rows = db.session.execute(query.order_by(Organisation.kind, Organisation.name)).all()
    choices = [(row.id, row.name) for row in rows]
    if current is not None and current.id not in {org_id for org_id, _name in choices}:
        # The user's own organisation stays selectable (and saveable) even when deactivated.
        suffix = _("（已停用）") if not current.active else ""
        choices.insert(0, (current.id, f"{current.name}{suffix}"))
    return choices


def _get_user(user_id: int) -> User:
    # Administrators manage accounts of every organisation; only they reach these views.
    user = db.session.get(User, user_id) if user_id <= MAX_ID else None
    if user is None:
        abort(404)
    return user


def _allowed_actions(actor: User, user: User) -> set[str]:
    """The buttons to show on ``user``'s row or page (action values, for the template)."""
    return {
        action.value
        for action in AccountAction
        if action != AccountAction.CREATE and services.may(actor, action, user)
    }


@bp.route("/users")
@require_roles(*USER_MANAGERS)
def users() -> ResponseReturnValue:
    """List and search users."""
    actor = acting_user()
    q = request.args.get("q", "").strip()
    role = request.args.get("role", "")
    org_id = int_arg("org")
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
        query.order_by(Organisation.name, User.name),
        page=page_arg(),
        per_page=PAGE_SIZE,
        error_out=False,
    )
    return render_template(
        "admin/users.html",
        page=page,
        now=utcnow(),
        filters={"q": q, "role": role, "org": org_id or "", "status": status},
        allowed={user.id: _allowed_actions(actor, user) for user in page.items},
        sessions=live_counts([user.id for user in page.items]),
        may_create=bool(services.assignable_roles(actor)),
    )


@bp.route("/users/new", methods=["GET", "POST"])
@require_roles(*USER_MANAGERS)
def user_new() -> ResponseReturnValue:
    """Create a user with a one-time password shown once."""
    actor = acting_user()
    roles = services.assignable_roles(actor)
    if not roles:
        abort(403)
    form = UserForm(organisations=_organisation_choices(actor), roles=roles)
    preselected = int_arg("org")
    if request.method == "GET" and preselected is not None:
        form.organisation_id.data = preselected
    if form.validate_on_submit():
        org = db.session.get(Organisation, form.organisation_id.data)
        if org is None:
            abort(400)
        try:
            user, password = services.create_user(
                actor,
                email=form.email.data or "",
                name=form.name.data or "",
                phone=form.phone.data,
                organisation=org,
                roles=form.role_values(),
            )
        except PermissionDenied as denied:
            db.session.rollback()
            form.form_errors.append(str(denied))
            return _user_form(form, None, bootstrap=_bootstrap(actor, roles)), 403
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            db.session.commit()
            return render_template("admin/one_time_password.html", user=user, password=password)
    return _user_form(form, None, bootstrap=_bootstrap(actor, roles))


def _bootstrap(actor: User, roles: list[Role]) -> bool:
    # The system administrator is offered administrator roles only while setting up.
    return actor.has_role(Role.ADMIN) and not ADMIN_ROLES.isdisjoint(roles)


def _user_form(form: UserForm, user: User | None, **context: object) -> str:
    return render_template("admin/user_form.html", form=form, user=user, **context)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@require_roles(*USER_MANAGERS)
def user_edit(user_id: int) -> ResponseReturnValue:
    """Edit a user's name, phone, organisation and roles."""
    user = _get_user(user_id)
    actor = acting_user()
    try:
        services.authorise_account_action(actor, AccountAction.EDIT, user)
    except PermissionDenied as denied:
        return render_error(403, str(denied))
    own = user.id == actor.id
    roles = sorted(user.roles) if own else services.assignable_roles(actor, user)
    form = UserForm(
        obj=user,
        organisations=_organisation_choices(actor, user.organisation),
        roles=roles,
    )
    if request.method == "GET":
        form.roles.data = sorted(user.roles)
    form.email.data = user.email  # fixed: it is the login name
    status = 200
    if form.validate_on_submit():
        org = db.session.get(Organisation, form.organisation_id.data)
        if org is None:
            abort(400)
        try:
            services.update_user(
                actor,
                user,
                name=form.name.data or "",
                phone=form.phone.data,
                organisation=org,
                roles=form.role_values(),
            )
        except PermissionDenied as denied:
            db.session.rollback()
            form.form_errors.append(str(denied))
            status = 403
        except ValidationFailed as failure:
            db.session.rollback()
            show_errors(form, failure)
        else:
            db.session.commit()
            flash(_("已保存。"), "success")
            return redirect(url_for("admin.users", q=user.email))
    page = _user_form(
        form, user, action_form=ActionForm(), allowed=_allowed_actions(actor, user), own=own
    )
    return page, status


_ACTIONS = {
    "activate": AccountAction.ACTIVATE,
    "deactivate": AccountAction.DEACTIVATE,
    "unlock": AccountAction.UNLOCK,
    "reset": AccountAction.RESET_PASSWORD,
    "reset-mfa": AccountAction.RESET_MFA,
    "end-sessions": AccountAction.END_SESSIONS,
}


@bp.route(
    "/users/<int:user_id>/"
    "<any(activate, deactivate, unlock, reset, 'reset-mfa', 'end-sessions'):action>",
    methods=["POST"],
)
@require_roles(*USER_MANAGERS)
def user_action(user_id: int, action: str) -> ResponseReturnValue:
    """Deactivate, reactivate, unlock, end the sessions of, or reset the password or second
    factor of a user."""
    user = _get_user(user_id)
    actor = acting_user()
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        if _ACTIONS[action] == AccountAction.UNLOCK:
            services.unlock_user(actor, user)
            message = _("已解除锁定。")
        elif _ACTIONS[action] == AccountAction.END_SESSIONS:
            services.end_sessions(actor, user)
            message = _("已结束该用户的全部登录，其各设备须重新登录。")
        elif _ACTIONS[action] == AccountAction.RESET_MFA:
            services.reset_mfa(actor, user)
            message = _("已重置两步验证：该用户下次登录时须重新设置。")
        elif _ACTIONS[action] == AccountAction.RESET_PASSWORD:
            password = services.reset_password(actor, user)
            db.session.commit()
            return render_template("admin/one_time_password.html", user=user, password=password)
        else:
            services.set_user_active(actor, user, action == "activate")
            message = (
                _("账户已启用。") if action == "activate" else _("账户已停用，其登录已全部失效。")
            )
    except PermissionDenied as denied:
        db.session.rollback()
        return render_error(403, str(denied))
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("admin.users", q=user.email))
