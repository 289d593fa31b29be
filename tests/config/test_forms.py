"""Every form's relation fields refuse a key the database cannot hold with a form error: Django's
own raise OverflowError (SQLite) or DataError (PostgreSQL) for a 400-digit number, a 500."""

import importlib
import inspect
import pkgutil

import pytest
from django import forms

from config.forms import ModelChoiceField, ModelMultipleChoiceField, keys
from incidents.models import Service
from tests.conftest import make_user

APPS = ["incidents", "oncall", "comms", "accounts"]


def _form_classes():
    for app in APPS:
        package = importlib.import_module(app)
        for info in pkgutil.walk_packages(package.__path__, f"{app}."):
            if not info.name.endswith("forms"):
                continue
            module = importlib.import_module(info.name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, forms.BaseForm) and cls.__module__ == module.__name__:
                    yield cls


def test_every_relation_field_of_every_form_is_the_guarded_one():
    found, unguarded = 0, []
    for cls in _form_classes():
        for name, field in cls.base_fields.items():
            if isinstance(field, forms.ModelChoiceField):
                found += 1
                if not isinstance(field, (ModelChoiceField, ModelMultipleChoiceField)):
                    unguarded.append(f"{cls.__module__}.{cls.__name__}.{name}")
    assert found > 10  # the walk reached the forms
    assert unguarded == []


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["9" * 400, str(2 ** 63), "-" + "9" * 30])
def test_a_huge_key_is_an_invalid_choice(value):
    single = ModelChoiceField(Service.objects.all())
    many = ModelMultipleChoiceField(Service.objects.all())
    with pytest.raises(forms.ValidationError) as caught:
        single.clean(value)
    assert caught.value.code == "invalid_choice"
    with pytest.raises(forms.ValidationError):
        many.clean([value])


@pytest.mark.django_db
def test_declare_form_with_a_huge_service_key_answers_with_the_form(client):
    client.force_login(make_user("rita", "Responders"))
    response = client.post("/incidents/declare/", {"title": "Checkout down", "severity": "P2",
                                                    "services": "9" * 400})
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content


def test_keys_keeps_only_whole_numbers_the_database_can_hold():
    assert keys(["1", " 22 ", "9" * 400, str(2 ** 63 - 1), "²", "-3", "1e3", "", "x", "\x00"]) == [
        1, 22, 2 ** 63 - 1]


APPS_WITH_FORMS = APPS + ["postmortems"]


def _every_form_class():
    for app in APPS_WITH_FORMS:
        package = importlib.import_module(app)
        for info in pkgutil.walk_packages(package.__path__, f"{app}."):
            if info.name.endswith("forms"):
                module = importlib.import_module(info.name)
                for _, cls in inspect.getmembers(module, inspect.isclass):
                    if issubclass(cls, forms.BaseForm) and cls.__module__ == module.__name__:
                        yield cls


def test_field_groups_label_without_a_trailing_colon():
    """`{{ field.as_field_group }}` goes through the portal's field template: "Name", as on the
    fields laid out by hand, not Django's "Name:"; fieldsets get a legend of the same text."""

    class Sample(forms.Form):
        name = forms.CharField(help_text="Shown <b>beside</b> it.")
        days = forms.MultipleChoiceField(choices=[("mon", "Mon")],
                                         widget=forms.CheckboxSelectMultiple)

    form = Sample(data={})
    form.is_valid()
    name, days = form["name"].as_field_group(), form["days"].as_field_group()
    assert '<label for="id_name">Name</label>' in name
    assert 'id="id_name_helptext"' in name and "This field is required." in name
    assert "<legend>Days</legend>" in days and 'id="id_days_0"' in days


@pytest.mark.django_db
def test_no_portal_form_labels_a_field_with_a_colon():
    checked = 0
    for cls in _every_form_class():
        try:
            form = cls()
        except TypeError:
            continue  # forms that need their object; their fields render through the same template
        for field in form:
            if field.is_hidden or not field.label:
                continue
            html = field.as_field_group()
            checked += 1
            where = f"{cls.__module__}.{cls.__name__}.{field.name}"
            assert f"{field.label}:</label>" not in html, where
            assert f"{field.label}:</legend>" not in html, where
    assert checked > 30
