"""Form helpers shared by every app's views."""

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.renderers import TemplatesSetting


class PortalFormRenderer(TemplatesSetting):
    """Forms render through the project's templates, and a field's group
    (`{{ field.as_field_group }}`) labels it without Django's trailing colon, like the fields the
    portal lays out by hand (`templates/_field.html`)."""

    field_template_name = "forms/field.html"


def add_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service function's ValidationError on the form: on its field when the form has
    one of that name, else as a form-wide error."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)


def show_error(form: forms.Form, error) -> None:
    """Show what a service function refused, a ValidationError or a config.errors.DomainError,
    on the form: beside the field it names when the form has that field, else form-wide."""
    if isinstance(error, ValidationError):
        add_errors(form, error)
    else:
        form.add_error(error.field if error.field in form.fields else None, error.message)


# A 64-bit signed integer: what an AutoField/BigAutoField can hold on either database.
_KEY_RANGE = range(-(2 ** 63), 2 ** 63)


def _check_key(field, value) -> None:
    """Refuse, as an invalid choice, a primary key the database cannot hold. Django's model
    choice fields catch ValueError and TypeError but not the OverflowError SQLite raises (nor the
    DataError PostgreSQL raises) for a 400-digit number: a 500 instead of a form error."""
    if field.to_field_name or value in field.empty_values:
        return
    try:
        number = int(str(value).strip())
    except ValueError:
        return  # Django refuses it as an invalid choice itself
    if number not in _KEY_RANGE:
        raise ValidationError(field.error_messages["invalid_choice"], code="invalid_choice",
                              params={"value": str(value)[:40]})


def keys(values) -> list[int]:
    """The primary keys among raw request values (a form's partial data, say), dropping anything
    that is not a whole number the database can hold."""
    found = []
    for value in values:
        text = str(value).strip()
        if text.isascii() and text.isdigit() and int(text) in _KEY_RANGE:
            found.append(int(text))
    return found


class ModelChoiceField(forms.ModelChoiceField):
    """Django's, refusing keys the database cannot hold (see _check_key). Every form uses it."""

    def to_python(self, value):
        _check_key(self, value)
        return super().to_python(value)


class ModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Django's, refusing keys the database cannot hold (see _check_key). Every form uses it."""

    def _check_values(self, value):
        if isinstance(value, (list, tuple)):
            for item in value:
                _check_key(self, item)
        return super()._check_values(value)


def formfield(db_field, **kwargs):
    """A ModelForm's `Meta.formfield_callback`: relations get the choice fields above; an
    address typed without a scheme is taken as https (Django 6's default, not plain http)."""
    if isinstance(db_field, models.ManyToManyField):
        kwargs.setdefault("form_class", ModelMultipleChoiceField)
    elif isinstance(db_field, models.ForeignKey):
        kwargs.setdefault("form_class", ModelChoiceField)
    elif isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)
