"""Helpers shared by every blueprint's forms."""

from __future__ import annotations

from flask_wtf import FlaskForm

from feedback.exceptions import ValidationFailed


def show_errors(form: FlaskForm, failure: ValidationFailed) -> None:
    """Put a service's messages next to the fields they concern (form-wide ones at the top)."""
    for field_name, messages in failure.errors.items():
        field = form._fields.get(field_name) if field_name else None
        if field is not None:
            field.errors = [*field.errors, *messages]
        else:
            form.form_errors.extend(messages)
