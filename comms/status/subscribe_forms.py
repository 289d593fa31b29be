"""The public subscription forms: an email address or a webhook URL, and which components."""

from django import forms
from django.core.exceptions import ValidationError

from comms.models import Component
from comms.status import public
from config import outbound
from config.forms import ModelMultipleChoiceField

ONE_OF = "Give an email address or a webhook URL."
NOT_BOTH = "Give an email address or a webhook URL, not both."


class ComponentsForm(forms.Form):
    components = ModelMultipleChoiceField(
        queryset=Component.objects.filter(internal=False), required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Choose none to hear about every component.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["components"].widget.choices = grouped_choices()


def grouped_choices() -> list:
    """The public components as the page lists them: ungrouped first, then each group."""
    choices, groups = [], {}
    for component in public.components():
        if component.group is None:
            choices.append((component.pk, component.name))
        else:
            groups.setdefault(component.group.name, []).append((component.pk, component.name))
    return choices + list(groups.items())


class SubscribeForm(ComponentsForm):
    email = forms.EmailField(required=False, max_length=254, label="Email address")
    url = forms.URLField(required=False, max_length=2000, assume_scheme="https",
                         validators=[outbound.validate_url], label="Webhook URL",
                         help_text="Notices are POSTed there as JSON, signed with a secret "
                                   "shown once after subscribing.")
    field_order = ["email", "url", "components"]

    def clean(self):
        data = super().clean()
        given = [name for name in ("email", "url") if data.get(name)]
        if len(given) == 2:
            raise ValidationError(NOT_BOTH)
        if not given and not (self.errors.get("email") or self.errors.get("url")):
            self.add_error("email", ONE_OF)
        return data


class ManageForm(ComponentsForm):
    pass
