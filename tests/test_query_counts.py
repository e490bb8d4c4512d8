"""Every list page and dashboard costs a fixed number of SQL statements, however many rows.

One world grows in rounds: rows of every kind, spread over several organisations, users, tags,
plan items and reviewers, so that each page has relationships to load. Each page is rendered once
with N rows and once with 4N; a page that loads something per row (an N+1) costs more the second
time and fails here. ``test_every_page_is_classified`` walks ``app.url_map`` so that a new page
must be either counted here or said not to list rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from feedback.api import tokens
from feedback.consolidation import services as consolidation
from feedback.extensions import db
from feedback.filing import services as filing
from feedback.formatting import china_today
from feedback.models import (
    ConsolidatedSuggestion,
    Notification,
    PlanItem,
    Report,
    Role,
    Submission,
    TagGroup,
    User,
)
from feedback.reports import exports
from feedback.reports import services as reports
from feedback.review import queue
from feedback.review import services as review
from feedback.taxonomy import services as taxonomy
from tests.conftest import login
from tests.factories import (
    PASSWORD,
    make_campaign,
    make_org,
    make_submission,
    make_user,
    seed_taxonomy,
    similarity_link,
    stored_attachment,
)
from tests.filing.test_imports import _filled_template, _row, _upload
from tests.queries import statements
from tests.security.routes import is_api

N = 2  # rows of each kind in the first measurement; the second has 4N

PERSONAS: dict[str, tuple[Role, ...]] = {
    "submitter": (Role.SUBMITTER,),
    "reviewer": (Role.REVIEWER,),
    "compiler": (Role.COMPILER,),
    "admin": (Role.ADMIN,),
    "security_admin": (Role.SECURITY_ADMIN,),
    "auditor": (Role.AUDITOR,),
}


@dataclass
class World:
    """The personas, their clients and the objects whose pages list a growing number of rows."""

    users: dict[str, User]
    clients: dict[str, FlaskClient]
    hub: Submission  # gains comments, attachments, similar submissions, events
    reviewers: list[User]
    ids: dict[str, int] = field(default_factory=dict)
    accepted: list[Submission] = field(default_factory=list)
    suggestions: list[ConsolidatedSuggestion] = field(default_factory=list)
    import_url: str = ""
    rounds: itertools.count[int] = field(default_factory=itertools.count)


def _build(app: Flask) -> World:
    seed_taxonomy()
    hub_org = make_org(name="枢纽园区")
    users = {
        label: make_user(*roles, org=hub_org if label == "submitter" else None)
        for label, roles in PERSONAS.items()
    }
    clients = {}
    for label, user in users.items():
        clients[label] = app.test_client()
        login(clients[label], user.email, PASSWORD)
    reviewers = [users["reviewer"], *(make_user(Role.REVIEWER) for _ in range(2))]
    hub = make_submission(users["submitter"], submit=True, title="动火作业票证问题汇总")
    return World(users=users, clients=clients, hub=hub, reviewers=reviewers)


def _grow(world: World, k: int) -> None:
    """``k`` more rows of every kind (each round with new organisations, users, tags, items)."""
    number = next(world.rounds)
    users, reviewer, compiler = world.users, world.users["reviewer"], world.users["compiler"]
    admin = users["admin"]
    group = db.session.scalars(select(TagGroup).order_by(TagGroup.id)).first()
    assert group is not None
    chapter = db.session.scalars(
        select(PlanItem).where(PlanItem.parent_id.is_(None)).order_by(PlanItem.id)
    ).first()
    assert chapter is not None
    for n in range(k):
        tag = taxonomy.create_tag(admin, group, f"第{number}轮标签{n}")
        item = taxonomy.create_plan_item(
            admin, code=f"{chapter.code}{90 + number * 9 + n}", name=f"第{number}轮条目{n}",
            parent=chapter,
        )  # fmt: skip
        campaign = make_campaign(compiler, f"第{number}轮第{n}次报送")
        org = make_org()
        author = make_user(org=org)
        colleague = make_user(Role.SUBMITTER, org=world.hub.organisation)
        sent = make_submission(
            author, submit=True, title=f"第{number}轮第{n}份材料", tag_ids=[tag.id],
            plan_item_ids=[item.id],
        )  # fmt: skip
        own = make_submission(
            colleague, submit=True, title=f"本单位第{number}轮第{n}份", tag_ids=[tag.id],
            campaign_id=campaign.id,
        )  # fmt: skip
        make_submission(colleague, title=f"本单位第{number}轮第{n}份草稿", campaign_id=campaign.id)
        review.assign(reviewer, sent, world.reviewers[n % len(world.reviewers)])
        review.assign(reviewer, own, world.reviewers[(n + 1) % len(world.reviewers)])
        filing.decide(reviewer, sent, "start_review")
        filing.decide(reviewer, sent, "accept")
        world.accepted.append(sent)
        # The hub submission's lists: comments both ways, attachments, similar submissions.
        review.comment(
            world.reviewers[n % 3], world.hub, f"内部意见{number}-{n}", to_submitter=False
        )
        review.comment(reviewer, world.hub, f"给报送单位的意见{number}-{n}", to_submitter=True)
        stored_attachment(world.hub, colleague, f"附件{number}-{n}.pdf")
        for other in (sent, own):
            similarity_link(world.hub, other)
        suggestion = _suggestion(reviewer, f"第{number}轮第{n}条汇总建议", [item.id], [sent, own])
        world.suggestions.append(suggestion)
        report = _report(compiler, f"第{number}轮第{n}份报告")
        reports.add_items(compiler, report, submissions=[sent], suggestions=[suggestion])
        exports.create_job(reviewer, "xlsx", queue.QueueFilters.from_args(MultiDict()), [], 1)
        review.save_view(reviewer, f"筛选{number}-{n}", f"status=submitted&org={org.id}")
        for label in ("submitter", "reviewer"):
            tokens.create(users[label], name=f"令牌{number}-{n}", scopes=["read"])
        tokens.create(author, name=f"园区平台{number}-{n}", scopes=["read"])
        for user in users.values():
            db.session.add(
                Notification(user_id=user.id, kind="info", title=f"通知{number}-{n}",
                             link=f"/submissions/{own.id}")
            )  # fmt: skip
    db.session.commit()
    _containers(world)


def _report(compiler: User, title: str) -> Report:
    period = reports.ReportInput(
        title=title,
        period_label="2026年第四季度",
        period_start=date(2026, 10, 1),
        period_end=date(2026, 12, 31),
    )
    return reports.create(compiler, period)


def _suggestion(
    reviewer: User, title: str, plan_item_ids: list[int], sources: list[Submission]
) -> ConsolidatedSuggestion:
    return consolidation.create(
        reviewer,
        consolidation.SuggestionInput(
            title=title,
            description="多个园区反映危化品运输车辆缺少专用停车场。",
            suggestion="建议制定危化品车辆专用停车场建设指南。",
            plan_item_ids=plan_item_ids,
            references=" ".join(s.reference or "" for s in sources),
        ),
    )


def _containers(world: World) -> None:
    """This round's report (every accepted row, sent, answered), suggestion and campaign."""
    compiler, reviewer = world.users["compiler"], world.users["reviewer"]
    report = _report(compiler, f"全部材料的报告{len(world.accepted)}")
    reports.add_items(compiler, report, submissions=world.accepted, suggestions=world.suggestions)
    edition = reports.freeze(compiler, report)
    reports.mark_sent(compiler, edition, sent_on=china_today(), channel="公文交换",
                      document_number=f"石化联〔2026〕{len(world.accepted)}号")  # fmt: skip
    for entry in edition.snapshot:
        reports.respond(compiler, edition, entry["key"], verdict="adopted", note="",
                        responded_on=china_today())  # fmt: skip
    sources = [*world.accepted]
    suggestion = _suggestion(
        reviewer,
        f"汇总全部材料的建议{len(sources)}",
        [s.plan_items[0].id for s in sources],
        sources,
    )
    campaign = make_campaign(compiler, f"覆盖全部园区的报送{len(sources)}")
    db.session.commit()
    world.ids.update(report=report.id, version=edition.number, suggestion=suggestion.id,
                     campaign=campaign.id)  # fmt: skip
    client = world.clients["submitter"]
    rows = [_row(n) for n in range(len(world.accepted))]
    world.import_url = _upload(client, _filled_template(client, rows))


Url = Callable[[World], str]


def _fixed(path: str) -> Url:
    return lambda _world: path


# endpoint -> (persona, url) for each way the page is measured. Every GET page that lists rows.
PAGES: dict[str, list[tuple[str, Url]]] = {
    "main.index": [(p, _fixed("/")) for p in ("submitter", "reviewer", "compiler", "admin")],
    "main.notifications": [("submitter", _fixed("/notifications"))],
    "main.organisation": [("submitter", lambda w: f"/organisations/{w.hub.organisation_id}")],
    "filing.index": [("submitter", _fixed("/submissions/"))],
    "filing.detail": [("submitter", lambda w: f"/submissions/{w.hub.id}")],
    "imports.preview": [("submitter", lambda w: w.import_url)],
    "review.index": [
        ("reviewer", _fixed("/review/")),
        ("reviewer", _fixed("/review/?status=accepted")),
        ("reviewer", _fixed("/review/?status=submitted&kind=problem&attachments=")),
        ("reviewer", _fixed("/review/?similar=1")),
        ("reviewer", _fixed("/review/?q=材料")),
        ("reviewer", _fixed("/review/?assignee=mine&org_kind=park")),
        ("compiler", _fixed("/review/")),
    ],
    "review.dashboard_page": [("reviewer", _fixed("/review/dashboard"))],
    "review.detail": [("reviewer", lambda w: f"/review/{w.hub.id}")],
    "consolidation.index": [("reviewer", _fixed("/review/consolidated/"))],
    "consolidation.detail": [("reviewer", lambda w: f"/review/consolidated/{w.ids['suggestion']}")],
    "consolidation.edit": [
        ("reviewer", lambda w: f"/review/consolidated/{w.ids['suggestion']}/edit")
    ],
    "reports.index": [("compiler", _fixed("/reports/"))],
    "reports.detail": [("compiler", lambda w: f"/reports/{w.ids['report']}")],
    "reports.preview": [("compiler", lambda w: f"/reports/{w.ids['report']}/preview")],
    "reports.preview_workbook": [
        ("compiler", lambda w: f"/reports/{w.ids['report']}/preview.xlsx")
    ],
    "reports.download": [
        ("compiler", lambda w: f"/reports/{w.ids['report']}/versions/{w.ids['version']}.xlsx")
    ],
    "reports.responses": [
        ("compiler", lambda w: f"/reports/{w.ids['report']}/versions/{w.ids['version']}/responses")
    ],
    "exports.index": [("reviewer", _fixed("/exports/"))],
    "exports.new": [("reviewer", _fixed("/exports/new"))],
    "campaigns.index": [("compiler", _fixed("/campaigns/"))],
    "campaigns.tracker": [("compiler", lambda w: f"/campaigns/{w.ids['campaign']}")],
    "campaigns.new": [("compiler", _fixed("/campaigns/new"))],
    "admin.users": [("admin", _fixed("/admin/users")), ("security_admin", _fixed("/admin/users"))],
    "admin.user_new": [("admin", _fixed("/admin/users/new"))],
    "admin.organisations": [("admin", _fixed("/admin/organisations"))],
    "admin.plan": [("admin", _fixed("/admin/plan"))],
    "admin.tags": [("admin", _fixed("/admin/tags"))],
    "auth.api_tokens": [("submitter", _fixed("/auth/tokens"))],
    "auth.all_api_tokens": [("security_admin", _fixed("/auth/tokens/all"))],
    "audit.index": [("auditor", _fixed("/audit/"))],
    "audit.export": [("auditor", _fixed("/audit/export.csv"))],
}

# GET pages that list no rows that grow with the data (forms of one object, fixed lists, files).
NOT_LISTS = {
    "static", "main.healthz", "main.readyz", "auth.login", "auth.mfa_verify", "auth.account",
    "auth.change_password", "auth.mfa_setup", "audit.verify",  # verify reads the chain in batches
    "admin.organisation_new", "admin.organisation_edit", "admin.plan_item_new",
    "admin.plan_item_edit", "admin.tag_edit", "admin.tag_group_edit", "admin.user_edit",
    "filing.choose_kind", "filing.edit", "filing.revision", "filing.download", "imports.start",
    "imports.template", "consolidation.new", "reports.new", "reports.edit", "reports.reword",
    "exports.detail", "exports.progress", "exports.download", "imports.progress",
    "main.privacy",  # static text from the column registry, no query
}  # fmt: skip


Key = tuple[str, str, int]  # endpoint, persona, which of the endpoint's URLs


def _measure(world: World) -> tuple[dict[Key, int], dict[Key, int]]:
    """Statements and response bytes per page."""
    counts, sizes = {}, {}
    for endpoint, ways in PAGES.items():
        for number, (persona, url) in enumerate(ways):
            path = url(world)
            client = world.clients[persona]
            db.session.commit()
            with statements() as seen:
                response = client.get(path)
                sizes[(endpoint, persona, number)] = len(response.get_data())
                response.close()
            assert response.status_code == 200, (endpoint, path, response.status_code)
            counts[(endpoint, persona, number)] = len(seen)
    return counts, sizes


def test_every_page_is_classified(app: Flask) -> None:
    """A new GET page is either measured below or said to list nothing that grows."""
    pages = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ()) and not is_api(rule)
    }
    assert pages - PAGES.keys() - NOT_LISTS == set()
    assert (PAGES.keys() | NOT_LISTS) - pages == set()
    assert PAGES.keys().isdisjoint(NOT_LISTS)


def test_list_pages_cost_the_same_with_n_and_4n_rows(app: Flask) -> None:
    world = _build(app)
    _grow(world, N)
    few, small = _measure(world)
    _grow(world, 3 * N)
    many, large = _measure(world)
    # The pages did show more rows (else the comparison proves nothing)...
    assert [key for key in few if large[key] <= small[key]] == []
    # ...and cost the same: page, persona, which URL, statements with N rows and with 4N.
    table = "\n".join(f"{k[0]:26} {k[1]:15} {k[2]} {few[k]:3} {many[k]:3}" for k in few)
    assert [key for key in few if many[key] != few[key]] == [], table
