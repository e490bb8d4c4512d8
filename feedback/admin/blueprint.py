"""The administration blueprint object, shared by its view modules."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
