"""The one place that decides which organisations' data a user may see.

Every query for organisation-owned data goes through :func:`scoped` or :func:`get_scoped_or_404`
(submissions through the narrower rule of ``feedback.filing.services.visible_condition``);
another organisation's object is answered with 404, never 403, so its existence is not revealed
(SECURITY.md row 13).
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import abort
from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute

from feedback.extensions import db
from feedback.models import Organisation, Role, User

T = TypeVar("T")

# Who sees every organisation's *metadata* (organisation records, member lists). Content such as
# submissions gets its own, narrower rule: administrators see none of it (DESIGN.md §2).
METADATA_ROLES = (Role.REVIEWER, Role.COMPILER, Role.ADMIN, Role.SECURITY_ADMIN)


def owner_column(model: type[Any]) -> InstrumentedAttribute[int]:
    """The column naming the organisation that owns rows of ``model``."""
    if model is Organisation:
        return Organisation.id
    column = getattr(model, "organisation_id", None)
    if column is None:
        raise TypeError(f"{model.__name__} is not owned by an organisation")
    return column  # type: ignore[no-any-return]


def sees_all(user: User, roles: tuple[Role, ...] = METADATA_ROLES) -> bool:
    """True when ``user`` may see rows of every organisation for this purpose."""
    return user.has_role(*roles)


def scoped(
    statement: Select[Any],
    model: type[Any],
    user: User,
    *,
    all_roles: tuple[Role, ...] = METADATA_ROLES,
) -> Select[Any]:
    """Restrict ``statement`` to rows of ``model`` that ``user`` may see."""
    if sees_all(user, all_roles):
        return statement
    return statement.where(owner_column(model) == user.organisation_id)


def get_scoped_or_404(
    model: type[T], object_id: int, user: User, *, all_roles: tuple[Role, ...] = METADATA_ROLES
) -> T:
    """The object with ``object_id`` if ``user`` may see it, else abort with 404."""
    pk = model.id  # type: ignore[attr-defined]
    statement = scoped(select(model).where(pk == object_id), model, user, all_roles=all_roles)
    found: T | None = db.session.scalars(statement).one_or_none()
    if found is None:
        from feedback.audit import refusals

        refusals.deny_if_exists(model, object_id)
        abort(404)
    return found
