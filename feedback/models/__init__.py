"""The models, one module per aggregate. Importing this package registers every table."""

from feedback.models.audit import AuditRecord
from feedback.models.base import Base, utcnow
from feedback.models.organisation import Organisation, OrgKind, ParkGrade, ParkLevel
from feedback.models.plan import CURRENT_PLAN_VERSION, PlanItem, Tag, TagGroup
from feedback.models.user import ADMIN_ROLES, ORG_ROLES, STAFF_ROLES, Role, User, UserRole

__all__ = [
    "ADMIN_ROLES",
    "CURRENT_PLAN_VERSION",
    "ORG_ROLES",
    "STAFF_ROLES",
    "AuditRecord",
    "Base",
    "OrgKind",
    "Organisation",
    "ParkGrade",
    "ParkLevel",
    "PlanItem",
    "Role",
    "Tag",
    "TagGroup",
    "User",
    "UserRole",
    "utcnow",
]
