"""The WSGI entry point for gunicorn: the only module that creates an app at import.

Production settings are the default here: a gunicorn started without configuration refuses to run
with a missing secret key or trusted hosts instead of silently serving with development settings.
``make run`` opts into development with ``FEEDBACK_ENV=development``.
"""

import os

from feedback import create_app

app = create_app(os.environ.get("FEEDBACK_ENV", "production"))
