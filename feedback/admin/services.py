"""Use cases of the system administrator: organisations and users."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from feedback.audit.services import record
from feedback.auth import mfa
from feedback.auth.passwords import generate_one_time_password, hash_password, password_problems
from feedback.auth.services import end_all_sessions, normalise_email
from feedback.codes.phone import normalise_phone, phone_error
from feedback.codes.regions import is_valid_region
from feedback.codes.uscc import normalise_uscc, only_check_character_fails, uscc_error
from feedback.exceptions import PermissionDenied, ValidationFailed
from feedback.extensions import db
from feedback.i18n import gettext as _
from feedback.i18n import lazy_gettext as _l
from feedback.models import (
    ADMIN_ROLES,
    STAFF_ROLES,
    Organisation,
    OrgKind,
    ParkGrade,
    ParkLevel,
    Role,
    User,
    UserRole,
    utcnow,
)


@dataclass
class OrganisationData:
    """The editable fields of an organisation, as plain values."""

    name: str
    kind: OrgKind
    short_name: str | None = None
    uscc: str | None = None
    uscc_override: bool = False
    region_code: str | None = None
    affiliation: str | None = None
    park_grade: ParkGrade | None = None
    park_grade_year: int | None = None
    park_level: ParkLevel | None = None
    park_batch: str | None = None
    requires_approval: bool = False
    notes: str | None = None


def _blank_to_none(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _clean_organisation(data: OrganisationData, existing: Organisation | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    name = data.name.strip()
    if not name:
        errors.setdefault("name", []).append(_("请填写单位名称。"))
    elif _name_taken(name, existing):
        errors.setdefault("name", []).append(_("已有同名单位“%(name)s”。", name=name))
    uscc = normalise_uscc(data.uscc or "") or None
    if uscc:
        problem = uscc_error(uscc)
        # The override exists for early codes that fail only the check character; a code with
        # the wrong length, an illegal character or a malformed region part is a typo.
        overridable = only_check_character_fails(uscc)
        if problem and not (data.uscc_override and overridable):
            hint = _("如确认该代码为早期颁发且无误，可勾选“确认代码无误”后保存。")
            errors.setdefault("uscc", []).append(f"{problem}{hint if overridable else ''}")
        elif _uscc_taken(uscc, existing):
            errors.setdefault("uscc", []).append(_("该统一社会信用代码已被其他单位使用。"))
    region = _blank_to_none(data.region_code)
    if region and not is_valid_region(region):
        errors.setdefault("region_code", []).append(_("行政区划代码不存在，请从列表中选择。"))
    is_park = data.kind == OrgKind.PARK
    year = data.park_grade_year
    if is_park and year is not None and not 2000 <= year <= utcnow().year + 1:
        errors.setdefault("park_grade_year", []).append(_("评级年份不正确。"))
    if is_park and not region:
        errors.setdefault("region_code", []).append(_("化工园区须填写所在地区。"))
    if errors:
        raise ValidationFailed(errors)
    return {
        "name": name,
        "short_name": _blank_to_none(data.short_name),
        "kind": data.kind,
        "uscc": uscc,
        "uscc_check_overridden": bool(uscc and uscc_error(uscc)),
        "region_code": region,
        "affiliation": _blank_to_none(data.affiliation),
        # Park attributes mean nothing for other kinds; clearing them keeps reports honest.
        "park_grade": data.park_grade if is_park else None,
        "park_grade_year": year if is_park else None,
        "park_level": data.park_level if is_park else None,
        "park_batch": _blank_to_none(data.park_batch) if is_park else None,
        "requires_approval": data.requires_approval,
        "notes": _blank_to_none(data.notes),
    }


def _name_taken(name: str, existing: Organisation | None) -> bool:
    query = select(Organisation.id).where(Organisation.name == name)
    if existing is not None:
        query = query.where(Organisation.id != existing.id)
    return db.session.scalar(query) is not None


def _uscc_taken(uscc: str, existing: Organisation | None) -> bool:
    query = select(Organisation.id).where(Organisation.uscc == uscc)
    if existing is not None:
        query = query.where(Organisation.id != existing.id)
    return db.session.scalar(query) is not None


def _record_override(actor: User | None, org: Organisation) -> None:
    # An accepted code that fails the GB 32100 check is a decision someone must answer for.
    record(
        "uscc_override", actor=actor, object_type="organisation", object_id=org.id, uscc=org.uscc
    )


def create_organisation(actor: User | None, data: OrganisationData) -> Organisation:
    """Create an organisation after checking its name, credit code and region."""
    values = _clean_organisation(data, None)
    org = Organisation(**values)
    db.session.add(org)
    db.session.flush()
    record("organisation_create", actor=actor, object_type="organisation", object_id=org.id)
    if org.uscc_check_overridden:
        _record_override(actor, org)
    return org


def update_organisation(actor: User, org: Organisation, data: OrganisationData) -> Organisation:
    """Change an organisation's fields."""
    values = _clean_organisation(data, org)
    newly_overridden = values["uscc_check_overridden"] and (
        values["uscc"] != org.uscc or not org.uscc_check_overridden
    )
    changed = sorted(k for k, v in values.items() if getattr(org, k) != v)
    for key, value in values.items():
        setattr(org, key, value)
    db.session.flush()
    record(
        "organisation_update",
        actor=actor,
        object_type="organisation",
        object_id=org.id,
        fields=changed,
    )
    if newly_overridden:
        _record_override(actor, org)
    return org


def set_organisation_active(actor: User, org: Organisation, active: bool) -> None:
    """Deactivate (its users can no longer log in) or reactivate an organisation."""
    if not active and org.id == actor.organisation_id:
        raise ValidationFailed.on("", _("不能停用您自己所在的单位。"))
    org.active = active
    if not active:
        for member in db.session.scalars(select(User).where(User.organisation_id == org.id)):
            end_all_sessions(member)
    record(
        "organisation_activate" if active else "organisation_deactivate",
        actor=actor,
        object_type="organisation",
        object_id=org.id,
    )
    db.session.flush()


# -- users -------------------------------------------------------------------------------------


class AccountAction(enum.StrEnum):
    """What an administrator does to a user account (see :func:`authorise_account_action`)."""

    CREATE = "create"
    EDIT = "edit"  # name and phone only
    CHANGE_ROLES = "change_roles"  # roles or organisation
    RESET_PASSWORD = "reset_password"  # noqa: S105 (an action name, not a password)
    ACTIVATE = "activate"
    DEACTIVATE = "deactivate"
    UNLOCK = "unlock"
    RESET_MFA = "reset_mfa"
    END_SESSIONS = "end_sessions"


# What a person may not do to their own account, and why.
_SELF_REFUSALS: dict[AccountAction, str] = {
    AccountAction.CHANGE_ROLES: _l("不能修改自己的角色或所属单位。"),
    AccountAction.RESET_PASSWORD: _l("请通过“修改密码”修改自己的密码。"),
    AccountAction.ACTIVATE: _l("不能启用或停用自己的账户。"),
    AccountAction.DEACTIVATE: _l("不能停用自己的账户。"),
    AccountAction.UNLOCK: _l("不能为自己的账户解锁。"),
    AccountAction.RESET_MFA: _l("不能重置自己的两步验证。"),
    AccountAction.END_SESSIONS: _l("请通过“退出登录”结束自己的全部登录。"),
}


def active_security_admin_exists() -> bool:
    """True while some security administrator can log in (ends the bootstrap exception)."""
    query = (
        select(User.id)
        .join(User.organisation)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.SECURITY_ADMIN, User.active, Organisation.active)
        .limit(1)
    )
    return db.session.scalar(query) is not None


def authorise_account_action(
    actor: User | None,
    action: AccountAction,
    target: User | None = None,
    roles: set[Role] | frozenset[Role] = frozenset(),
) -> None:
    """The one rule of who manages which account (三员分立); raises :class:`PermissionDenied`.

    ``target`` is the account acted on (None when creating), ``roles`` the roles it would hold
    afterwards (creating or re-roling). The rule:

    - nobody acts on their own account, except to edit their own name and phone;
    - an account that holds or would hold an administrator role (admin, security_admin,
      auditor) is managed only by a security administrator — with one bootstrap exception: the
      system administrator may create a security administrator or auditor while no active
      security administrator exists, so that a fresh installation can be set up;
    - business accounts are managed by the system administrator only (so no one can turn a
      business account into an administrator account or back through the web);
    - the security administrator may unlock any account and reset its second factor, and
      nobody else may reset a second factor;
    - ``actor`` None is the operator at the command line, who may do everything.
    """
    if actor is None:
        return
    if target is not None and target.id == actor.id:
        if action == AccountAction.EDIT:
            return
        refusal = _SELF_REFUSALS.get(action, _l("不能对自己的账户执行此操作。"))
        raise PermissionDenied(str(refusal))
    if action in (AccountAction.UNLOCK, AccountAction.END_SESSIONS) and actor.has_role(
        Role.SECURITY_ADMIN
    ):
        return
    if action == AccountAction.RESET_MFA:
        if actor.has_role(Role.SECURITY_ADMIN):
            return
        raise PermissionDenied(_("两步验证只能由安全管理员重置。"))
    # The account before and after: an account never crosses between the two administrators'
    # domains through the web (that would let one of them create the other's kind of account).
    privileged: list[bool] = []
    if target is not None:
        privileged.append(not target.roles.isdisjoint(ADMIN_ROLES))
    if action in (AccountAction.CREATE, AccountAction.CHANGE_ROLES):
        privileged.append(not ADMIN_ROLES.isdisjoint(roles))
    for admin_account in privileged:
        if actor.has_role(Role.SECURITY_ADMIN if admin_account else Role.ADMIN):
            continue
        bootstrap = (
            action == AccountAction.CREATE
            and actor.has_role(Role.ADMIN)
            and set(roles) <= {Role.SECURITY_ADMIN, Role.AUDITOR}
            and not active_security_admin_exists()
        )
        if bootstrap:
            continue
        if admin_account:
            raise PermissionDenied(
                _("系统管理员、安全管理员和审计管理员的账户只能由安全管理员管理（三员分立）。")
            )
        raise PermissionDenied(_("业务账户由系统管理员管理。"))


def may(
    actor: User,
    action: AccountAction,
    target: User | None = None,
    roles: set[Role] | frozenset[Role] = frozenset(),
) -> bool:
    """Whether :func:`authorise_account_action` would allow this (for showing buttons)."""
    try:
        authorise_account_action(actor, action, target, roles)
    except PermissionDenied:
        return False
    return True


def assignable_roles(actor: User, target: User | None = None) -> list[Role]:
    """The roles ``actor`` may give to a new account (or to ``target``), in display order."""
    action = AccountAction.CREATE if target is None else AccountAction.CHANGE_ROLES
    return [role for role in Role if may(actor, action, target, {role})]


def validate_roles(roles: set[Role], organisation: Organisation) -> None:
    """三员分立 and who may be federation staff; raises :class:`ValidationFailed`."""
    if not roles:
        raise ValidationFailed.on("roles", _("请至少选择一个角色。"))
    admin_roles = roles & ADMIN_ROLES
    if admin_roles and len(roles) > 1:
        raise ValidationFailed.on(
            "roles",
            _("系统管理员、安全管理员、审计管理员三个角色互斥（三员分立），且不能兼任业务角色。"),
        )
    if admin_roles and organisation.kind != OrgKind.FEDERATION:
        raise ValidationFailed.on(
            "roles", _("系统管理员、安全管理员和审计管理员只能由联合会的工作人员担任。")
        )
    if roles & STAFF_ROLES and organisation.kind != OrgKind.FEDERATION:
        raise ValidationFailed.on("roles", _("审核员和汇编员只能是联合会的工作人员。"))


def _check_user_fields(
    email: str, name: str, phone: str | None, existing: User | None
) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    email = normalise_email(email)
    local, at, domain = email.partition("@")
    if not (local and at and "." in domain) or any(c.isspace() for c in email):
        errors["email"] = [_("邮箱格式不正确。")]
    else:
        query = select(User.id).where(User.email == email)
        if existing is not None:
            query = query.where(User.id != existing.id)
        if db.session.scalar(query) is not None:
            errors["email"] = [_("该邮箱已被其他账户使用。")]
    if not name.strip():
        errors["name"] = [_("请填写姓名。")]
    normalised_phone = None
    if _blank_to_none(phone):
        normalised_phone = normalise_phone(phone or "")
        if normalised_phone is None:
            errors["phone"] = [phone_error(phone or "") or _("电话格式不正确。")]
    if errors:
        raise ValidationFailed(errors)
    return {"email": email, "name": name.strip(), "phone": normalised_phone}


def create_user(
    actor: User | None,
    *,
    email: str,
    name: str,
    organisation: Organisation,
    roles: set[Role],
    phone: str | None = None,
    password: str | None = None,
    must_change_password: bool = True,
) -> tuple[User, str | None]:
    """Create a user. Without ``password`` a one-time password is generated and returned."""
    authorise_account_action(actor, AccountAction.CREATE, None, roles)
    values = _check_user_fields(email, name, phone, None)
    validate_roles(roles, organisation)
    one_time = None
    if password is None:
        one_time = password = generate_one_time_password()
    else:
        problems = password_problems(password, email=values["email"], context=(organisation.name,))
        if problems:
            raise ValidationFailed({"password": problems})
    user = User(
        **values,
        organisation=organisation,
        password_hash=hash_password(password),
        must_change_password=must_change_password,
        role_rows=[UserRole(role=role) for role in sorted(roles)],
    )
    db.session.add(user)
    db.session.flush()
    record("user_create", actor=actor, object_type="user", object_id=user.id, roles=sorted(roles))
    return user, one_time


def update_user(
    actor: User,
    user: User,
    *,
    name: str,
    phone: str | None,
    organisation: Organisation,
    roles: set[Role],
) -> None:
    """Change a user's details and roles. Nobody changes their own roles or organisation."""
    privilege_changed = roles != user.roles or organisation.id != user.organisation_id
    authorise_account_action(
        actor,
        AccountAction.CHANGE_ROLES if privilege_changed else AccountAction.EDIT,
        user,
        roles,
    )
    values = _check_user_fields(user.email, name, phone, user)
    validate_roles(roles, organisation)
    user.name = values["name"]
    user.phone = values["phone"]
    if privilege_changed:
        user.organisation = organisation
        user.role_rows = [UserRole(role=role) for role in sorted(roles)]
        # A change of privilege starts from a fresh session (SECURITY.md row 10).
        end_all_sessions(user)
        record(
            "user_roles_change",
            actor=actor,
            object_type="user",
            object_id=user.id,
            roles=sorted(roles),
            organisation_id=organisation.id,
        )
    record("user_update", actor=actor, object_type="user", object_id=user.id)
    db.session.flush()


def set_user_active(actor: User | None, user: User, active: bool) -> None:
    """Deactivate (ending every session at once) or reactivate a user."""
    authorise_account_action(
        actor, AccountAction.ACTIVATE if active else AccountAction.DEACTIVATE, user
    )
    user.active = active
    if active:
        user.reactivated_at = utcnow()  # a dormant account gets a fresh start
    else:
        end_all_sessions(user)
    record(
        "user_activate" if active else "user_deactivate",
        actor=actor,
        object_type="user",
        object_id=user.id,
    )
    db.session.flush()


def reset_password(actor: User, user: User) -> str:
    """Give ``user`` a new one-time password that must be changed at next login."""
    authorise_account_action(actor, AccountAction.RESET_PASSWORD, user)
    password = generate_one_time_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    user.password_changed_at = utcnow()
    user.failed_logins = 0
    user.locked_until = None
    end_all_sessions(user)
    record("password_reset", actor=actor, object_type="user", object_id=user.id)
    db.session.flush()
    return password


def unlock_user(actor: User, user: User) -> None:
    """Lift a lockout before its 30 minutes are up."""
    authorise_account_action(actor, AccountAction.UNLOCK, user)
    user.locked_until = None
    user.failed_logins = 0
    record("account_unlock", actor=actor, object_type="user", object_id=user.id)
    db.session.flush()


def end_sessions(actor: User | None, user: User) -> None:
    """End every live session of ``user`` now (a stolen or forgotten login); audited."""
    authorise_account_action(actor, AccountAction.END_SESSIONS, user)
    end_all_sessions(user)
    record("user_end_sessions", actor=actor, object_type="user", object_id=user.id)
    db.session.flush()


def reset_mfa(actor: User | None, user: User) -> None:
    """Remove a user's authenticator (lost phone): they set one up again at their next login."""
    authorise_account_action(actor, AccountAction.RESET_MFA, user)
    mfa.clear(user)
    end_all_sessions(user)
    record("mfa_reset", actor=actor, object_type="user", object_id=user.id)
    db.session.flush()


def count_users() -> int:
    """How many user accounts exist."""
    return int(db.session.scalar(select(func.count()).select_from(User)) or 0)
