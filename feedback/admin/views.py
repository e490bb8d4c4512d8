"""Administration pages; the routes live in one module per subject."""

from feedback.admin import organisation_views, taxonomy_views, user_views
from feedback.admin.blueprint import bp

__all__ = ["bp", "organisation_views", "taxonomy_views", "user_views"]
