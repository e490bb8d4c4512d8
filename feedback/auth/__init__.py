"""Logging in and out, passwords and the session."""
