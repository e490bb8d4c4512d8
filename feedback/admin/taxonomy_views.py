"""The plan taxonomy and the tag vocabulary."""

from __future__ import annotations

from typing import TypeVar

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from feedback.admin.blueprint import bp
from feedback.admin.forms import (
    ActionForm,
    PlanItemForm,
    TagForm,
    TagGroupForm,
    TagGroupNameForm,
)
from feedback.exceptions import ValidationFailed
from feedback.extensions import db
from feedback.forms import show_errors
from feedback.i18n import gettext as _
from feedback.models import PlanItem, Role, Tag, TagGroup
from feedback.paging import MAX_ID, int_arg
from feedback.security import acting_user, require_roles
from feedback.taxonomy import services

M = TypeVar("M")
TAG_EDITORS = (Role.ADMIN, Role.REVIEWER, Role.COMPILER)


def _get_or_404(model: type[M], object_id: int) -> M:
    # Taxonomy rows belong to no organisation: everyone reads them, editors change them.
    found = db.session.get(model, object_id) if object_id <= MAX_ID else None
    if found is None:
        abort(404)
    return found


@bp.route("/plan")
@require_roles(Role.ADMIN)
def plan() -> ResponseReturnValue:
    """The plan tree with add/edit/deactivate actions."""
    return render_template("admin/plan.html", items=services.plan_tree(), action_form=ActionForm())


@bp.route("/plan/new", methods=["GET", "POST"])
@require_roles(Role.ADMIN)
def plan_item_new() -> ResponseReturnValue:
    """Add a plan item under a parent (or a chapter)."""
    parent_id = int_arg("parent")
    parent = _get_or_404(PlanItem, parent_id) if parent_id is not None else None
    if parent is not None and parent.depth >= services.MAX_DEPTH:
        flash(
            _("规划条目最多分三级，%(code)s 已是最下一级，不能再添加下级。", code=parent.code),
            "danger",
        )
        return redirect(url_for("admin.plan"))
    form = PlanItemForm()
    if request.method == "GET" and parent is not None:
        form.code.data = f"{parent.code}." if len(parent.code) > 1 else parent.code
    if form.validate_on_submit():
        try:
            item = services.create_plan_item(
                acting_user(),
                code=form.code.data or "",
                name=form.name.data or "",
                parent=parent,
                description=form.description.data,
                sort_order=form.sort_order.data,
            )
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            db.session.commit()
            flash(_("已添加条目 %(label)s。", label=item.label), "success")
            return redirect(url_for("admin.plan"))
    return render_template("admin/plan_item_form.html", form=form, item=None, parent=parent)


@bp.route("/plan/<int:item_id>/edit", methods=["GET", "POST"])
@require_roles(Role.ADMIN)
def plan_item_edit(item_id: int) -> ResponseReturnValue:
    """Rename or describe a plan item (its code stays)."""
    item = _get_or_404(PlanItem, item_id)
    form = PlanItemForm(obj=item)
    form.code.data = item.code
    if form.validate_on_submit():
        try:
            services.update_plan_item(
                acting_user(),
                item,
                name=form.name.data or "",
                description=form.description.data,
                sort_order=form.sort_order.data or 0,
            )
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            db.session.commit()
            flash(_("已保存。"), "success")
            return redirect(url_for("admin.plan"))
    return render_template("admin/plan_item_form.html", form=form, item=item, parent=item.parent)


@bp.route("/plan/<int:item_id>/active", methods=["POST"])
@require_roles(Role.ADMIN)
def plan_item_set_active(item_id: int) -> ResponseReturnValue:
    """Deactivate or reactivate a plan item."""
    item = _get_or_404(PlanItem, item_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        services.set_plan_item_active(acting_user(), item, request.form.get("active") == "1")
    except ValidationFailed as failure:
        flash(str(failure), "danger")
    else:
        db.session.commit()
        flash(_("已更新 %(label)s。", label=item.label), "success")
    return redirect(url_for("admin.plan"))


@bp.route("/tags", methods=["GET", "POST"])
@require_roles(*TAG_EDITORS)
def tags() -> ResponseReturnValue:
    """Tag groups and tags; add a group."""
    group_form = TagGroupForm(prefix="group")
    if group_form.validate_on_submit():
        try:
            services.create_tag_group(
                acting_user(), group_form.code.data or "", group_form.name.data or ""
            )
        except ValidationFailed as failure:
            show_errors(group_form, failure)
        else:
            db.session.commit()
            flash(_("已添加分组。"), "success")
            return redirect(url_for("admin.tags"))
    return render_template(
        "admin/tags.html",
        groups=services.tag_groups(),
        group_form=group_form,
        tag_form=TagForm(),
        action_form=ActionForm(),
    )


@bp.route("/tags/groups/<int:group_id>/new", methods=["POST"])
@require_roles(*TAG_EDITORS)
def tag_new(group_id: int) -> ResponseReturnValue:
    """Add a tag to a group."""
    group = _get_or_404(TagGroup, group_id)
    form = TagForm()
    if form.validate_on_submit():
        try:
            services.create_tag(acting_user(), group, form.name.data or "")
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            db.session.commit()
            flash(_("已添加标签。"), "success")
            return redirect(url_for("admin.tags", _anchor=f"group-{group.id}"))
    return render_template(
        "admin/tags.html",
        groups=services.tag_groups(),
        group_form=TagGroupForm(prefix="group"),
        tag_form=form,
        failed_group=group.id,
        action_form=ActionForm(),
    ), 422


@bp.route("/tags/<int:tag_id>/edit", methods=["GET", "POST"])
@require_roles(*TAG_EDITORS)
def tag_edit(tag_id: int) -> ResponseReturnValue:
    """Rename a tag."""
    tag = _get_or_404(Tag, tag_id)
    form = TagForm(obj=tag)
    if form.validate_on_submit():
        try:
            services.rename_tag(acting_user(), tag, form.name.data or "")
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            db.session.commit()
            flash(_("已保存。"), "success")
            return redirect(url_for("admin.tags", _anchor=f"group-{tag.group_id}"))
    return render_template("admin/tag_form.html", form=form, tag=tag)


@bp.route("/tags/<int:tag_id>/active", methods=["POST"])
@require_roles(*TAG_EDITORS)
def tag_set_active(tag_id: int) -> ResponseReturnValue:
    """Deactivate or reactivate a tag."""
    tag = _get_or_404(Tag, tag_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    services.set_tag_active(acting_user(), tag, request.form.get("active") == "1")
    db.session.commit()
    flash(_("已更新标签“%(name)s”。", name=tag.name), "success")
    return redirect(url_for("admin.tags", _anchor=f"group-{tag.group_id}"))


@bp.route("/tags/groups/<int:group_id>/edit", methods=["GET", "POST"])
@require_roles(*TAG_EDITORS)
def tag_group_edit(group_id: int) -> ResponseReturnValue:
    """Rename a tag group."""
    group = _get_or_404(TagGroup, group_id)
    form = TagGroupNameForm(obj=group)
    if form.validate_on_submit():
        try:
            services.rename_tag_group(acting_user(), group, form.name.data or "")
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            db.session.commit()
            flash(_("已保存。"), "success")
            return redirect(url_for("admin.tags", _anchor=f"group-{group.id}"))
    return render_template("admin/tag_group_form.html", form=form, group=group)


@bp.route("/tags/groups/<int:group_id>/active", methods=["POST"])
@require_roles(*TAG_EDITORS)
def tag_group_set_active(group_id: int) -> ResponseReturnValue:
    """Deactivate or reactivate a tag group (never deleted)."""
    group = _get_or_404(TagGroup, group_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    active = request.form.get("active") == "1"
    services.set_tag_group_active(acting_user(), group, active)
    db.session.commit()
    if active:
        flash(_("已启用分组“%(name)s”。", name=group.name), "success")
    else:
        flash(_("已停用分组“%(name)s”，其标签不再供选择。", name=group.name), "success")
    return redirect(url_for("admin.tags", _anchor=f"group-{group.id}"))
