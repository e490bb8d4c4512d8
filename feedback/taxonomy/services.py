"""Editing the plan taxonomy and the tag vocabulary. Nothing in use is ever hard-deleted."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy import select

from feedback.audit.services import record
from feedback.exceptions import ValidationFailed
from feedback.extensions import db
from feedback.i18n import gettext as _
from feedback.models import CURRENT_PLAN_VERSION, PlanItem, Tag, TagGroup, User

T = TypeVar("T")
CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9]*(\.[A-Z0-9]+)*$")
# Depth of a sub-item (see PlanItem.depth): nothing is added below it.
MAX_DEPTH = 2


def plan_tree(version: str = CURRENT_PLAN_VERSION, *, active_only: bool = False) -> list[PlanItem]:
    """Items of ``version`` in tree order (each parent followed by its children)."""
    query = select(PlanItem).where(PlanItem.plan_version == version)
    if active_only:
        query = query.where(PlanItem.active)
    items = db.session.scalars(query.order_by(PlanItem.sort_order, PlanItem.code)).all()
    return tree_order(items, lambda item: (item.id, item.parent_id))


def tree_order(items: Iterable[T], keys: Callable[[T], tuple[int, int | None]]) -> list[T]:
    """``items`` (already in sibling order) with each parent followed by its children, depth
    first; ``keys`` gives an item's (id, parent id). Items under a missing parent are left out."""
    children: dict[int | None, list[T]] = {}
    for item in items:
        children.setdefault(keys(item)[1], []).append(item)
    ordered: list[T] = []
    pending = list(reversed(children.get(None, [])))
    while pending:
        item = pending.pop()
        ordered.append(item)
        pending.extend(reversed(children.get(keys(item)[0], [])))
    return ordered


def _clean_name(name: str, field: str = "name") -> str:
    name = " ".join(name.split())
    if not name:
        raise ValidationFailed.on(field, _("请填写名称。"))
    if len(name) > 200:
        raise ValidationFailed.on(field, _("名称不能超过 200 个字符。"))
    return name


def create_plan_item(
    actor: User,
    *,
    code: str,
    name: str,
    parent: PlanItem | None,
    description: str | None = None,
    sort_order: int | None = None,
) -> PlanItem:
    """Add an item under ``parent`` (or a new chapter) to the parent's plan version.

    The tree has three levels (chapter → system/project/sector → sub-item) and a child's code
    extends its parent's (S → S7, S3 → S3.1, G → G.T4), so the code alone shows where it sits.
    """
    code = code.strip().upper()
    version = parent.plan_version if parent else CURRENT_PLAN_VERSION
    if parent is not None and parent.depth >= MAX_DEPTH:
        raise ValidationFailed.on(
            "", _("规划条目最多分三级，%(code)s 已是最下一级，不能再添加下级。", code=parent.code)
        )
    if not CODE_PATTERN.match(code) or len(code) > 20:
        raise ValidationFailed.on(
            "code", _("编号只能由大写字母、数字和“.”组成，并以字母开头，如 S3.2。")
        )
    if parent is not None and not (code.startswith(parent.code) and len(code) > len(parent.code)):
        raise ValidationFailed.on(
            "code",
            _(
                "下级条目的编号须以上级编号 %(parent)s 开头并更长，如 %(example)s。",
                parent=parent.code,
                example=f"{parent.code}.1" if len(parent.code) > 1 else f"{parent.code}7",
            ),
        )
    taken = select(PlanItem.id).where(PlanItem.plan_version == version, PlanItem.code == code)
    if db.session.scalar(taken) is not None:
        raise ValidationFailed.on(
            "code", _("编号 %(code)s 已存在（停用的条目也保留编号）。", code=code)
        )
    if sort_order is None:
        siblings = select(PlanItem.sort_order).where(
            PlanItem.parent_id == (parent.id if parent else None)
        )
        sort_order = max(db.session.scalars(siblings).all(), default=0) + 1
    item = PlanItem(
        plan_version=version,
        code=code,
        name=_clean_name(name),
        parent=parent,
        description=(description or "").strip() or None,
        sort_order=sort_order,
    )
    db.session.add(item)
    db.session.flush()
    record("plan_item_create", actor=actor, object_type="plan_item", object_id=item.id, code=code)
    return item


def update_plan_item(
    actor: User, item: PlanItem, *, name: str, description: str | None, sort_order: int
) -> None:
    """Rename or re-describe an item; its code (what submissions link to) never changes."""
    item.name = _clean_name(name)
    item.description = (description or "").strip() or None
    item.sort_order = sort_order
    record("plan_item_update", actor=actor, object_type="plan_item", object_id=item.id)
    db.session.flush()


def descendants(item: PlanItem) -> list[PlanItem]:
    """Every item below ``item`` (children, their children, …), parents before children."""
    found: list[PlanItem] = []
    frontier = [item.id]
    while frontier:
        children = db.session.scalars(
            select(PlanItem).where(PlanItem.parent_id.in_(frontier)).order_by(PlanItem.code)
        ).all()
        found.extend(children)
        frontier = [child.id for child in children]
    return found


def set_plan_item_active(actor: User, item: PlanItem, active: bool) -> None:
    """Deactivate (no longer offered for new submissions; old links stay) or reactivate.

    Deactivating takes the items below along: a sub-item of a withdrawn chapter must not stay
    on offer. Reactivating restores only ``item``; its sub-items are re-enabled one by one.
    """
    if active and item.parent is not None and not item.parent.active:
        raise ValidationFailed.on("", _("请先启用上级条目 %(code)s。", code=item.parent.code))
    item.active = active
    also = [] if active else [child for child in descendants(item) if child.active]
    for child in also:
        child.active = False
    record(
        "plan_item_activate" if active else "plan_item_deactivate",
        actor=actor,
        object_type="plan_item",
        object_id=item.id,
        descendants=[child.code for child in also],
    )
    db.session.flush()


def tag_groups() -> list[TagGroup]:
    """Every tag group with its tags (active and inactive); inactive groups come last."""
    query = select(TagGroup).order_by(TagGroup.active.desc(), TagGroup.sort_order, TagGroup.id)
    return list(db.session.scalars(query))


def _tag_name_taken(group: TagGroup, name: str, exclude: Tag | None = None) -> bool:
    query = select(Tag.id).where(Tag.group_id == group.id, Tag.name == name)
    if exclude is not None:
        query = query.where(Tag.id != exclude.id)
    return db.session.scalar(query) is not None


def create_tag(actor: User, group: TagGroup, name: str) -> Tag:
    """Add a tag to ``group`` (an active one)."""
    if not group.active:
        raise ValidationFailed.on("name", _("分组“%(name)s”已停用，请先启用。", name=group.name))
    name = _clean_name(name)
    if _tag_name_taken(group, name):
        raise ValidationFailed.on("name", _("“%(name)s”已在该分组中。", name=name))
    order = max((t.sort_order for t in group.tags), default=0) + 1
    tag = Tag(group=group, name=name, sort_order=order)
    db.session.add(tag)
    db.session.flush()
    record("tag_create", actor=actor, object_type="tag", object_id=tag.id, name=name)
    return tag


def rename_tag(actor: User, tag: Tag, name: str) -> None:
    """Rename a tag (submissions tagged with it follow, since they link by id)."""
    name = _clean_name(name)
    if _tag_name_taken(tag.group, name, exclude=tag):
        raise ValidationFailed.on("name", _("“%(name)s”已在该分组中。", name=name))
    old = tag.name
    tag.name = name
    record("tag_rename", actor=actor, object_type="tag", object_id=tag.id, old=old, new=name)
    db.session.flush()


def set_tag_active(actor: User, tag: Tag, active: bool) -> None:
    """Deactivate (no longer offered) or reactivate a tag."""
    tag.active = active
    record(
        "tag_activate" if active else "tag_deactivate",
        actor=actor,
        object_type="tag",
        object_id=tag.id,
    )
    db.session.flush()


def create_tag_group(actor: User, code: str, name: str) -> TagGroup:
    """Add a new group of tags."""
    code = code.strip().lower()
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,39}", code):
        raise ValidationFailed.on("code", _("分组代码只能由小写字母、数字和下划线组成。"))
    if db.session.scalar(select(TagGroup.id).where(TagGroup.code == code)) is not None:
        raise ValidationFailed.on("code", _("分组代码已存在。"))
    order = max(db.session.scalars(select(TagGroup.sort_order)).all(), default=0) + 1
    group = TagGroup(code=code, name=_clean_name(name), sort_order=order)
    db.session.add(group)
    db.session.flush()
    record("tag_group_create", actor=actor, object_type="tag_group", object_id=group.id)
    return group


def rename_tag_group(actor: User, group: TagGroup, name: str) -> None:
    """Rename a tag group; its code (what imports and reports use) stays."""
    name = _clean_name(name)
    if len(name) > 100:
        raise ValidationFailed.on("name", _("名称不能超过 100 个字符。"))
    old = group.name
    group.name = name
    record(
        "tag_group_rename",
        actor=actor,
        object_type="tag_group",
        object_id=group.id,
        old=old,
        new=name,
    )
    db.session.flush()


def set_tag_group_active(actor: User, group: TagGroup, active: bool) -> None:
    """Deactivate (its tags are no longer offered; existing links stay) or reactivate a group.

    Groups are never deleted, and the tags keep their own active flag, so reactivating a group
    brings back exactly the tags that were in use before.
    """
    group.active = active
    record(
        "tag_group_activate" if active else "tag_group_deactivate",
        actor=actor,
        object_type="tag_group",
        object_id=group.id,
    )
    db.session.flush()
