"""The WSGI entry point for gunicorn: the only module that creates an app at import."""

from feedback import create_app

app = create_app()
