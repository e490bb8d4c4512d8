"""Realistic demo data: organisations across provinces, users for every role.

Rows are built in memory and flushed in bulk inside one transaction (the caller commits), with one
password hash shared by every demo account, so that large runs stay fast.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from feedback.auth.passwords import generate_one_time_password, hash_password
from feedback.codes.regions import Region, prefectures, province_of, provinces
from feedback.codes.uscc import make_uscc
from feedback.exceptions import DomainError
from feedback.extensions import db
from feedback.i18n import gettext as _
from feedback.models import Organisation, OrgKind, ParkGrade, ParkLevel, Role, User, UserRole

ASSOCIATIONS = (
    "中国氯碱工业协会", "中国氮肥工业协会", "中国染料工业协会", "中国农药工业协会",
    "中国磷复肥工业协会", "中国无机盐工业协会", "中国涂料工业协会", "中国合成树脂供销协会",
    "中国氟硅有机材料工业协会", "中国聚氨酯工业协会",
)  # fmt: skip
COMMITTEES = ("化工园区工作委员会", "中小企业工作委员会")
AFFILIATES = ("中国化工报社", "化学工业出版社")
PARK_SUFFIXES = ("化工园区", "化学工业园区", "石化产业园", "精细化工园区", "新材料产业园")
# Provinces with many parks get more demo parks.
PARK_HEAVY = ("320000", "370000", "330000", "210000", "410000", "420000", "510000", "610000")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ("伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "军", "杰", "涛", "明", "超", "霞", "平")
DEMO_DOMAIN = "demo.cpcif.local"
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@dataclass
class DemoResult:
    """What a demo run created: counts and the logins to print."""

    organisations: int = 0
    submissions: int = 0
    password: str = ""
    logins: list[tuple[str, str, str]] = field(default_factory=list)


def _uscc(rng: random.Random, prefix: str, region: str) -> str:
    body = "".join(rng.choice(_ALPHABET) for _ in range(9))
    return make_uscc(f"{prefix}{region}{body}")


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def _parks(rng: random.Random, count: int) -> list[tuple[str, Region]]:
    mainland = [p for p in provinces() if p.code < "700000"]
    weights = [4 if p.code in PARK_HEAVY else 1 for p in mainland]
    chosen: dict[str, tuple[str, Region]] = {}
    while len(chosen) < count:
        province = rng.choices(mainland, weights)[0]
        region = rng.choice(prefectures(province.code) or [province])
        # Municipalities have no prefectures: the park is named after the province-level city.
        short = "" if region is province else region.name.removesuffix("市").removesuffix("地区")
        name = f"{province.name}{short}{rng.choice(PARK_SUFFIXES)}"
        chosen.setdefault(name, (name, region))
    return list(chosen.values())


def _short_name(name: str, region: Region, taken: set[str]) -> str | None:
    """The name without its province, or None where that would not identify one park.

    A park in a municipality (北京市化工园区) would shorten to the bare suffix (化工园区), shared by
    every municipality's park; any other clash with a short name already in use also gets None.
    """
    if region.is_province:
        return None
    province = province_of(region.code)
    short = name.removeprefix(province.name)[:60] if province else name
    if short == name or short in taken:
        return None
    taken.add(short)
    return short


def _build_organisations(rng: random.Random, seed: int, parks: int) -> list[Organisation]:
    # The park list comes first from the run's random stream; each organisation's own details come
    # from a stream derived from its name, so a second run (skipping existing names) is stable.
    park_specs = _parks(rng, parks)
    existing = set(db.session.scalars(select(Organisation.name)))
    short_names = {
        short for short in db.session.scalars(select(Organisation.short_name)) if short is not None
    }
    orgs: list[Organisation] = []
    specs: list[tuple[str, OrgKind, str, str]] = [
        *((n, OrgKind.ASSOCIATION, "51", "110000") for n in ASSOCIATIONS),
        *((n, OrgKind.COMMITTEE, "51", "110000") for n in COMMITTEES),
        *((n, OrgKind.AFFILIATE, "12", "110000") for n in AFFILIATES),
    ]
    for name, kind, prefix, region in specs:
        if name not in existing:
            own = random.Random(f"{seed}:{name}")  # noqa: S311 (demo data)
            orgs.append(
                Organisation(
                    name=name, kind=kind, region_code=region, uscc=_uscc(own, prefix, region)
                )
            )
    for name, park_region in park_specs:
        if name in existing:
            continue
        rng = random.Random(f"{seed}:{name}")  # noqa: S311 (demo data)
        grade = rng.choices(list(ParkGrade), [1, 3, 10, 12])[0]
        orgs.append(
            Organisation(
                name=name,
                short_name=_short_name(name, park_region, short_names),
                kind=OrgKind.PARK,
                region_code=park_region.code,
                uscc=_uscc(rng, "11", park_region.code),
                park_grade=grade,
                park_grade_year=rng.choice((2024, 2025, 2026)),
                park_level=rng.choices(list(ParkLevel), [2, 5, 3])[0],
                park_batch=f"第{rng.randint(1, 4)}批",
                requires_approval=rng.random() < 0.5,
            )
        )
    return orgs


def _federation() -> Organisation:
    federation = db.session.scalars(
        select(Organisation).where(Organisation.kind == OrgKind.FEDERATION).limit(1)
    ).first()
    if federation is None:
        raise DomainError(_("请先运行 flask --app feedback init 创建联合会和首个管理员。"))
    return federation


def seed_demo_data(*, submissions: int, seed: int, parks: int = 60) -> DemoResult:
    """Create demo organisations, users and submissions (adds to what exists).

    Organisations and users whose names exist are skipped; ``submissions`` more are added each run.
    """
    rng = random.Random(seed)  # noqa: S311 (repeatable demo data, not secrets)
    federation = _federation()
    result = DemoResult(password=generate_one_time_password())
    password_hash = hash_password(result.password)
    orgs = _build_organisations(rng, seed, parks)
    db.session.add_all(orgs)
    db.session.flush()
    result.organisations = len(orgs)
    taken = set(db.session.scalars(select(User.email)))
    staff = [(f"reviewer{i}", Role.REVIEWER) for i in range(1, 4)] + [
        ("compiler1", Role.COMPILER),
        ("security1", Role.SECURITY_ADMIN),
        ("auditor1", Role.AUDITOR),
    ]
    plan = [(federation, local, role) for local, role in staff]
    for number, org in enumerate(orgs, start=1):
        prefix = "park" if org.kind == OrgKind.PARK else "org"
        plan.append((org, f"{prefix}{number}.submitter", Role.SUBMITTER))
        plan.append((org, f"{prefix}{number}.approver", Role.ORG_APPROVER))
    users: list[User] = []
    for org, local, role in plan:
        email = f"{local}@{DEMO_DOMAIN}"
        if email in taken:
            continue
        users.append(
            User(
                organisation=org,
                email=email,
                name=_person(rng),
                password_hash=password_hash,
                phone=f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
                must_change_password=False,
                role_rows=[UserRole(role=role)],
            )
        )
        result.logins.append((email, role.value, org.name))
    db.session.add_all(users)
    db.session.flush()
    if submissions:
        from feedback.filing.demo_data import seed_submissions

        upload_dir = Path(current_app.config["UPLOAD_DIR"])
        result.submissions = seed_submissions(submissions, seed=seed, upload_dir=upload_dir)
    return result
