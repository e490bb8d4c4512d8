"""The base of every form, and helpers shared by every blueprint's forms."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import Field, PasswordField
from wtforms.fields.core import UnboundField

from feedback.exceptions import ValidationFailed
from feedback.filing.text import nfc


def nfc_value(value: Any) -> Any:
    """A field's value in NFC: a string, or each string of a list (multiple selects)."""
    if isinstance(value, str):
        return nfc(value)
    if isinstance(value, list):
        return [nfc(item) if isinstance(item, str) else item for item in value]
    return value


class Form(FlaskForm):
    """Base of every form of the app: each field's value is NFC-normalised as it is read.

    One place for the whole app (SECURITY.md row 18) rather than a filter per field: a new
    field, or a new form deriving from this class, cannot forget it. Passwords are the one
    exception: they are normalised by :mod:`feedback.auth.passwords` when hashed and when
    verified, which must also accept a password hashed, before NFC, as it was typed.
    """

    class Meta(FlaskForm.Meta):
        def bind_field(
            self, form: Any, unbound_field: UnboundField[Any], options: dict[str, Any]
        ) -> Field:
            """Bind the field with :func:`nfc_value` as its first filter."""
            if not issubclass(unbound_field.field_class, PasswordField):
                filters = (nfc_value, *unbound_field.kwargs.get("filters", ()))
                options = {**options, "filters": filters}
            field: Field = unbound_field.bind(form=form, **options)
            return field


def show_errors(form: FlaskForm, failure: ValidationFailed) -> None:
    """Put a service's messages next to the fields they concern (form-wide ones at the top)."""
    for field_name, messages in failure.errors.items():
        field = form._fields.get(field_name) if field_name else None
        if field is not None:
            field.errors = [*field.errors, *messages]
        else:
            form.form_errors.extend(messages)
