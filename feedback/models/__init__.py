"""The models, one module per aggregate. Importing this package registers every table."""

from feedback.models.audit import AuditAnchor, AuditRecord
from feedback.models.base import Base, utcnow
from feedback.models.cache import CacheVersion
from feedback.models.campaign import Campaign, campaign_target
from feedback.models.consolidation import (
    ConsolidatedSource,
    ConsolidatedSuggestion,
    consolidated_plan_item,
)
from feedback.models.export import ExportJob, ExportStatus
from feedback.models.notification import ImportBatch, Notification
from feedback.models.organisation import Organisation, OrgKind, ParkGrade, ParkLevel
from feedback.models.plan import CURRENT_PLAN_VERSION, PlanItem, Tag, TagGroup
from feedback.models.report import (
    MinistryResponse,
    Report,
    ReportItem,
    ReportVersion,
    Verdict,
)
from feedback.models.similarity import (
    LinkStatus,
    SimilarityBand,
    SimilarityLink,
    SimilaritySignature,
)
from feedback.models.submission import (
    EDITABLE,
    RECEIVED,
    Attachment,
    Comment,
    Event,
    ReferenceCounter,
    Revision,
    SavedView,
    Status,
    Submission,
    submission_plan_item,
    submission_tag,
)
from feedback.models.token import ApiToken, Scope
from feedback.models.user import (
    ADMIN_ROLES,
    ORG_ROLES,
    STAFF_ROLES,
    RecoveryCode,
    Role,
    User,
    UserRole,
    UserSession,
)

__all__ = [
    "ADMIN_ROLES",
    "CURRENT_PLAN_VERSION",
    "EDITABLE",
    "ORG_ROLES",
    "RECEIVED",
    "STAFF_ROLES",
    "ApiToken",
    "Attachment",
    "AuditAnchor",
    "AuditRecord",
    "Base",
    "CacheVersion",
    "Campaign",
    "Comment",
    "ConsolidatedSource",
    "ConsolidatedSuggestion",
    "Event",
    "ExportJob",
    "ExportStatus",
    "ImportBatch",
    "LinkStatus",
    "MinistryResponse",
    "Notification",
    "OrgKind",
    "Organisation",
    "ParkGrade",
    "ParkLevel",
    "PlanItem",
    "RecoveryCode",
    "ReferenceCounter",
    "Report",
    "ReportItem",
    "ReportVersion",
    "Revision",
    "Role",
    "SavedView",
    "Scope",
    "SimilarityBand",
    "SimilarityLink",
    "SimilaritySignature",
    "Status",
    "Submission",
    "Tag",
    "TagGroup",
    "User",
    "UserRole",
    "UserSession",
    "Verdict",
    "campaign_target",
    "consolidated_plan_item",
    "submission_plan_item",
    "submission_tag",
    "utcnow",
]
