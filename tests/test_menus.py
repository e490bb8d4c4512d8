"""Staff menus kept per process: never older than the database, and not read when unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, insert, select

from feedback import menus
from feedback.extensions import db
from feedback.filing.choices import tag_choices
from feedback.models import CacheVersion, Role, Tag, TagGroup, User
from feedback.review import services
from tests.conftest import login
from tests.factories import PASSWORD, make_submission, make_user, plan_item
from tests.queries import statements


@contextmanager
def _request(app: Flask) -> Iterator[None]:
    """A request's own contexts, as in production: its own ``g`` and database session."""
    with app.app_context(), app.test_request_context():
        yield


def _version() -> int:
    found = db.session.scalar(select(CacheVersion.value).where(CacheVersion.name == menus.MENUS))
    return int(found or 0)


def _queue_as_reviewer(client: FlaskClient) -> User:
    reviewer = make_user(Role.REVIEWER, name="王审核")
    plan_item("S3")  # seeds the plan and the tags
    login(client, reviewer.email, PASSWORD)
    assert client.get("/review/").status_code == 200  # the menus are built
    return reviewer


def test_an_unchanged_menu_is_not_read_again(client: FlaskClient) -> None:
    _queue_as_reviewer(client)
    with statements() as seen:
        page = client.get("/review/").get_data(as_text=True)
    assert "S3" in page and "王审核" in page  # the menus are there…
    read = "\n".join(seen)
    for menu in ("FROM tag ", "FROM plan_item", "FROM consolidated_suggestion", "SELECT DISTINCT"):
        assert menu not in read, read  # …and not one of them was read again
    assert "FROM cache_version" in read


def test_a_tag_added_in_another_request_appears_at_once(client: FlaskClient) -> None:
    _queue_as_reviewer(client)
    before = _version()
    group = db.session.scalars(select(TagGroup)).first()
    assert group is not None
    db.session.add(Tag(name="新标签甲", group_id=group.id))
    db.session.commit()
    assert _version() == before + 1
    assert "新标签甲" in client.get("/review/").get_data(as_text=True)


def test_a_renamed_or_deactivated_reviewer_changes_the_menu(client: FlaskClient) -> None:
    _queue_as_reviewer(client)
    colleague = make_user(Role.REVIEWER, name="李同事")
    assert "李同事" in client.get("/review/").get_data(as_text=True)
    colleague.name = "李改名"
    db.session.commit()
    page = client.get("/review/").get_data(as_text=True)
    assert "李改名" in page and "李同事" not in page
    colleague.active = False
    db.session.commit()
    assert "李改名" not in client.get("/review/").get_data(as_text=True)


def test_everyday_writes_leave_the_menus_alone(app: Flask) -> None:
    """A login, a filed report or a tag put on a submission must not make every process read
    the menus again (nor, on PostgreSQL, queue behind the version row's lock)."""
    author = make_user()
    tag = db.session.scalars(select(Tag)).first() if plan_item("S3") else None
    assert tag is not None
    before = _version()
    author.failed_logins = 1
    submission = make_submission(author, submit=True)
    submission.tags.append(tag)
    db.session.commit()
    assert _version() == before


def test_a_write_that_rolls_back_leaves_no_copy(app: Flask) -> None:
    make_user(Role.REVIEWER)
    group = db.session.scalars(select(TagGroup)).first() if plan_item("S3") else None
    assert group is not None
    db.session.commit()
    with _request(app):
        assert "未提交的标签" not in dict(tag_choices()).values()
        db.session.add(Tag(name="未提交的标签", group_id=group.id))
        db.session.flush()
        # This transaction sees its own tag, as it should…
        assert "未提交的标签" in dict(tag_choices()).values()
        db.session.rollback()
    # Another change commits, and takes the version number the rolled-back one had raised to.
    db.session.add(Tag(name="已提交的标签", group_id=group.id))
    db.session.commit()
    with _request(app):
        # Nothing of the rolled-back write was kept under that number.
        names = dict(tag_choices()).values()
        assert "已提交的标签" in names and "未提交的标签" not in names


def test_another_process_s_commit_is_seen_once_the_version_moves(app: Flask) -> None:
    """The copy is tied to the number in the database, not to this process's own writes: what
    another process commits (here a Core statement on a connection of its own) is not seen
    while the number stands still, and is seen as soon as it moves."""
    group = db.session.scalars(select(TagGroup)).first() if plan_item("S3") else None
    assert group is not None
    db.session.commit()
    with _request(app):
        assert "外部标签" not in dict(tag_choices()).values()
    with db.engine.begin() as other:
        other.execute(insert(Tag).values(group_id=group.id, name="外部标签", active=True))
    db.session.commit()  # a new transaction, as a new request has: it sees the new tag
    assert db.session.scalar(select(Tag.id).where(Tag.name == "外部标签"))
    with _request(app):
        assert "外部标签" not in dict(tag_choices()).values()  # the copy was used
    with db.engine.begin() as other:
        menus.changed(other)
    db.session.commit()
    with _request(app):
        assert "外部标签" in dict(tag_choices()).values()


def test_a_missing_version_row_is_made_again(app: Flask) -> None:
    db.session.execute(delete(CacheVersion))
    db.session.commit()
    reviewer = make_user(Role.REVIEWER, name="新来的审核")
    db.session.commit()
    assert _version() == 1
    with _request(app):
        assert (reviewer.id, "新来的审核") in services.reviewer_choices()
