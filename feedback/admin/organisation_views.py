"""Organisations: list, search, create, edit, deactivate."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, or_, select

from feedback.access import get_scoped_or_404
from feedback.admin import services
from feedback.admin.blueprint import bp
from feedback.admin.forms import ActionForm, OrganisationForm
from feedback.codes.regions import provinces
from feedback.exceptions import ValidationFailed
from feedback.extensions import db
from feedback.forms import show_errors
from feedback.i18n import gettext as _
from feedback.models import Organisation, OrgKind, Role, User
from feedback.paging import page_arg
from feedback.security import acting_user, require_roles

PAGE_SIZE = 50


def _form_data(form: OrganisationForm) -> services.OrganisationData:
    return services.OrganisationData(
        name=form.name.data or "",
        kind=form.kind_value(),
        short_name=form.short_name.data,
        uscc=form.uscc.data,
        uscc_override=bool(form.uscc_override.data),
        region_code=form.region_code.data,
        affiliation=form.affiliation.data,
        park_grade=form.grade_value(),
        park_grade_year=form.park_grade_year.data,
        park_level=form.level_value(),
        park_batch=form.park_batch.data,
        requires_approval=bool(form.requires_approval.data),
        notes=form.notes.data,
    )


@bp.route("/organisations")
@require_roles(Role.ADMIN)
def organisations() -> ResponseReturnValue:
    """List and search organisations."""
    q = request.args.get("q", "").strip()
    kind = request.args.get("kind", "")
    province = request.args.get("province", "")
    status = request.args.get("status", "active")
    query = select(Organisation)
    if q:
        pattern = f"%{q}%"
        query = query.where(
            or_(
                Organisation.name.like(pattern),
                Organisation.short_name.like(pattern),
                Organisation.uscc.like(pattern),
            )
        )
    if kind in set(OrgKind):
        query = query.where(Organisation.kind == OrgKind(kind))
    if province.isdigit() and len(province) == 6:
        query = query.where(Organisation.region_code.like(f"{province[:2]}%"))
    if status in ("active", "inactive"):
        query = query.where(Organisation.active == (status == "active"))
    page = db.paginate(
        query.order_by(Organisation.kind, Organisation.name),
        page=page_arg(),
        per_page=PAGE_SIZE,
        error_out=False,
    )
    member_counts = dict(
        db.session.execute(
            select(User.organisation_id, func.count())
            .where(User.organisation_id.in_([o.id for o in page.items]))
            .group_by(User.organisation_id)
        ).all()
    )
    return render_template(
        "admin/organisations.html",
        page=page,
        member_counts=member_counts,
        provinces=provinces(),
        filters={"q": q, "kind": kind, "province": province, "status": status},
    )


@bp.route("/organisations/new", methods=["GET", "POST"])
@require_roles(Role.ADMIN)
def organisation_new() -> ResponseReturnValue:
    """Create an organisation."""
    form = OrganisationForm()
    if form.validate_on_submit():
        try:
            org = services.create_organisation(acting_user(), _form_data(form))
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            db.session.commit()
            flash(_("已创建单位“%(name)s”。", name=org.name), "success")
            return redirect(url_for("main.organisation", org_id=org.id))
    return render_template("admin/organisation_form.html", form=form, org=None)


@bp.route("/organisations/<int:org_id>/edit", methods=["GET", "POST"])
@require_roles(Role.ADMIN)
def organisation_edit(org_id: int) -> ResponseReturnValue:
    """Edit an organisation."""
    org = get_scoped_or_404(Organisation, org_id, acting_user())
    form = OrganisationForm(obj=org)
    if request.method == "GET":
        form.uscc_override.data = org.uscc_check_overridden
    if form.validate_on_submit():
        try:
            services.update_organisation(acting_user(), org, _form_data(form))
        except ValidationFailed as failure:
            db.session.rollback()
            show_errors(form, failure)
        else:
            db.session.commit()
            flash(_("已保存。"), "success")
            return redirect(url_for("main.organisation", org_id=org.id))
    return render_template(
        "admin/organisation_form.html", form=form, org=org, action_form=ActionForm()
    )


@bp.route("/organisations/<int:org_id>/active", methods=["POST"])
@require_roles(Role.ADMIN)
def organisation_set_active(org_id: int) -> ResponseReturnValue:
    """Deactivate or reactivate an organisation."""
    org = get_scoped_or_404(Organisation, org_id, acting_user())
    if ActionForm().validate_on_submit():
        active = request.form.get("active") == "1"
        try:
            services.set_organisation_active(acting_user(), org, active)
        except ValidationFailed as failure:
            flash(str(failure), "danger")
        else:
            db.session.commit()
            flash(_("单位已启用。") if active else _("单位已停用，其用户无法再登录。"), "success")
    return redirect(url_for("main.organisation", org_id=org.id))
