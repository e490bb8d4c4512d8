"""The three kinds of field report, their sections and their quality rules (DESIGN.md §3).

One definition serves the web form, the Excel template, the import and the API.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from flask_babel import LazyString

from feedback.i18n import lazy_gettext as _l


class Kind(enum.StrEnum):
    """What a submission reports."""

    EXPERIENCE = "experience"
    PROBLEM = "problem"
    SUGGESTION = "suggestion"


class Sensitivity(enum.StrEnum):
    """Who may see a submission beyond the federation."""

    INTERNAL = "internal"  # the federation only; never in a ministry report
    MINISTRY = "ministry"  # may be quoted to the ministry
    PUBLIC = "public"  # may be published


@dataclass(frozen=True)
class Section:
    """A free-text part of a submission."""

    key: str
    label: LazyString
    required: bool
    hint: LazyString
    min_length: int = 0  # checked at submit time (drafts may be incomplete)
    max_length: int = 10_000


@dataclass(frozen=True)
class KindSpec:
    """A kind of submission: its name and its sections in display order."""

    kind: Kind
    label: LazyString
    sections: tuple[Section, ...]

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)


KINDS: dict[Kind, KindSpec] = {
    Kind.EXPERIENCE: KindSpec(
        Kind.EXPERIENCE,
        _l("典型经验"),
        (
            Section(
                "practice",
                _l("主要做法"),
                True,
                _l("做了什么、怎么做的、谁来做，写清关键措施和步骤。"),
                min_length=20,
            ),
            Section(
                "outcome",
                _l("取得成效"),
                True,
                _l("用数据说明效果，如隐患数量下降、事故率变化、覆盖企业数。"),
                min_length=10,
            ),
            Section(
                "replicability",
                _l("推广价值"),
                False,
                _l("适用于哪些园区或企业，推广需要什么条件。"),
            ),
        ),
    ),
    Kind.PROBLEM: KindSpec(
        Kind.PROBLEM,
        _l("发现问题"),
        (
            Section(
                "description",
                _l("问题描述"),
                True,
                _l("发生在哪里、涉及哪些企业或环节、具体表现是什么。"),
                min_length=20,
            ),
            Section("cause", _l("原因分析"), False, _l("制度、技术、人员、资金等方面的原因。")),
            Section("impact", _l("影响"), False, _l("可能导致的风险或已造成的后果。")),
            Section("suggestion", _l("建议"), False, _l("您认为应如何解决。")),
        ),
    ),
    Kind.SUGGESTION: KindSpec(
        Kind.SUGGESTION,
        _l("政策建议"),
        (
            Section(
                "description",
                _l("问题与依据"),
                True,
                _l("需要政策解决的问题，以及事实和数据依据。"),
                min_length=20,
            ),
            Section(
                "suggestion", _l("建议内容"), True, _l("具体、可操作的政策建议。"), min_length=10
            ),
            Section(
                "basis",
                _l("政策依据"),
                False,
                _l("相关法律法规、标准或规划条款，如《危险化学品安全法》。"),
            ),
            Section(
                "department",
                _l("建议责任部门"),
                False,
                _l("如应急管理部、工业和信息化部、生态环境部。"),
                max_length=200,
            ),
        ),
    ),
}

SENSITIVITY_LABELS: dict[Sensitivity, LazyString] = {
    Sensitivity.INTERNAL: _l("仅联合会内部使用"),
    Sensitivity.MINISTRY: _l("可报送应急管理部"),
    Sensitivity.PUBLIC: _l("可公开"),
}

# Sectors follow the plan's five key areas (R1–R5), plus "other".
SECTORS: tuple[str, ...] = ("化工（石化）", "医药", "危险化学品经营", "油气", "烟花爆竹", "其他")

TITLE_MIN, TITLE_MAX = 5, 100
SUMMARY_MAX = 500
CONTACT_NAME_MAX = 30
