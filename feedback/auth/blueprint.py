"""The auth blueprint object, shared by its view modules."""

from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth")
