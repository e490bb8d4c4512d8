"""Chinese display labels of enum values (translated lazily for the English interface)."""

from __future__ import annotations

from flask_babel import LazyString

from feedback.i18n import lazy_gettext as _l
from feedback.models import OrgKind, ParkGrade, ParkLevel, Role

ORG_KIND: dict[str, LazyString] = {
    OrgKind.ASSOCIATION: _l("专业协会"),
    OrgKind.PARK: _l("化工园区"),
    OrgKind.COMMITTEE: _l("工作委员会"),
    OrgKind.AFFILIATE: _l("直属单位"),
    OrgKind.FEDERATION: _l("联合会"),
}

ROLE: dict[str, LazyString] = {
    Role.SUBMITTER: _l("填报人"),
    Role.ORG_APPROVER: _l("单位负责人"),
    Role.REVIEWER: _l("审核员"),
    Role.COMPILER: _l("汇编员"),
    Role.ADMIN: _l("系统管理员"),
    Role.SECURITY_ADMIN: _l("安全管理员"),
    Role.AUDITOR: _l("审计管理员"),
}

PARK_GRADE: dict[str, LazyString] = {
    ParkGrade.A: _l("A类（高安全风险）"),
    ParkGrade.B: _l("B类（较高安全风险）"),
    ParkGrade.C: _l("C类（一般安全风险）"),
    ParkGrade.D: _l("D类（较低安全风险）"),
}

PARK_LEVEL: dict[str, LazyString] = {
    ParkLevel.NATIONAL: _l("国家级"),
    ParkLevel.PROVINCIAL: _l("省级"),
    ParkLevel.MUNICIPAL: _l("地市级"),
}

ALL = {"ORG_KIND": ORG_KIND, "ROLE": ROLE, "PARK_GRADE": PARK_GRADE, "PARK_LEVEL": PARK_LEVEL}
