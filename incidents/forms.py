from django import forms
from django.contrib.auth import get_user_model
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join

from config import timerange
from config.forms import ModelChoiceField, ModelMultipleChoiceField
from incidents.models import CustomerTier, Incident, Service, Severity, Status
from incidents.queries import SORTS, parse_reference
from incidents.services import DESCRIPTION_MAX, NOTE_MAX, TITLE_MAX
from oncall.models import Team

User = get_user_model()


def _people():
    return User.objects.filter(is_active=True).order_by("username")


class _OptionsInPython:
    """Render <select> options in Python. Django renders a template per option (about 0.1 ms
    each), and the incident page shows every person several times over."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        groups = []
        for group_name, options, _index in widget["optgroups"]:
            html = format_html_join("", '<option value="{}"{}>{}</option>', (
                (o["value"], " selected" if o["selected"] else "", o["label"]) for o in options))
            groups.append(format_html('<optgroup label="{}">{}</optgroup>', group_name, html)
                          if group_name else html)
        return format_html('<select name="{}"{}>{}</select>', name, flatatt(widget["attrs"]),
                           format_html_join("", "{}", ((g,) for g in groups)))


class Select(_OptionsInPython, forms.Select):
    pass


class SelectMultiple(_OptionsInPython, forms.SelectMultiple):
    pass


class DeclareForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX, widget=forms.TextInput(
        attrs={"placeholder": "What is broken? e.g. Checkout returns 502", "autofocus": True}))
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.P3, widget=Select)
    description = forms.CharField(required=False, max_length=DESCRIPTION_MAX,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    services = ModelMultipleChoiceField(Service.objects.all(), required=False,
                                              widget=SelectMultiple)
    customer_tiers = ModelMultipleChoiceField(CustomerTier.objects.all(), required=False,
                                                    widget=SelectMultiple)
    restricted = forms.BooleanField(required=False, help_text="Security or HR: only people "
                                    "granted access will see it.")


class TransitionForm(forms.Form):
    status = forms.ChoiceField(choices=(), widget=Select)
    note = forms.CharField(required=False, max_length=NOTE_MAX, widget=forms.TextInput(
        attrs={"id": "id_transition_note", "aria-label": "Note", "placeholder": "Why (optional)"}))

    def __init__(self, *args, incident: Incident, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [
            (value, Status(value).label) for value in incident.allowed_next()
        ]


class SeverityForm(forms.Form):
    severity = forms.ChoiceField(choices=Severity.choices, widget=Select)
    note = forms.CharField(required=False, max_length=NOTE_MAX, widget=forms.TextInput(
        attrs={"id": "id_severity_note", "aria-label": "Note", "placeholder": "Why (optional)"}))


class RolesForm(forms.Form):
    commander = ModelChoiceField(_people(), required=False, to_field_name="username",
                                       widget=Select)
    comms_lead = ModelChoiceField(_people(), required=False, to_field_name="username",
                                        label="Communications lead", widget=Select)
    responders = ModelMultipleChoiceField(_people(), required=False,
                                                to_field_name="username", widget=SelectMultiple)


class NoteForm(forms.Form):
    text = forms.CharField(max_length=NOTE_MAX, label="Note", widget=forms.Textarea(
        attrs={"rows": 3, "placeholder": "What did you see or try? Markdown works."}))


class DetailsForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX)
    description = forms.CharField(required=False, max_length=DESCRIPTION_MAX,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    services = ModelMultipleChoiceField(Service.objects.all(), required=False,
                                              widget=SelectMultiple)
    customer_tiers = ModelMultipleChoiceField(CustomerTier.objects.all(), required=False,
                                                    widget=SelectMultiple)


class UTCDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def format_value(self, value):
        if hasattr(value, "strftime"):
            return value.strftime("%Y-%m-%dT%H:%M:%S")
        return value


def _milestone(label: str, required: bool = True) -> forms.DateTimeField:
    return forms.DateTimeField(required=required, label=label, validators=[timerange.validate],
                               widget=UTCDateTimeInput(attrs={"step": 1}))


class MilestonesForm(forms.Form):
    """Times are entered and shown in UTC, the one clock every responder shares."""

    started_at = _milestone("Started")
    detected_at = _milestone("Detected")
    acknowledged_at = _milestone("Acknowledged", required=False)
    mitigated_at = _milestone("Mitigated", required=False)
    resolved_at = _milestone("Resolved", required=False)
    note = forms.CharField(required=False, max_length=NOTE_MAX, widget=forms.TextInput(
        attrs={"id": "id_milestones_note", "placeholder": "Why the correction"}))


class MergeForm(forms.Form):
    into = forms.CharField(max_length=20, label="Merge into", widget=forms.TextInput(
        attrs={"placeholder": "INC-123"}))
    note = forms.CharField(required=False, max_length=NOTE_MAX,
                           widget=forms.TextInput(attrs={"id": "id_merge_note"}))

    def clean_into(self):
        number = parse_reference(self.cleaned_data["into"])
        if number is None:
            raise forms.ValidationError("Enter an incident number such as INC-123.")
        return number


class RestrictForm(forms.Form):
    restricted = forms.BooleanField(required=False)


class GrantForm(forms.Form):
    user = ModelChoiceField(_people(), required=False, to_field_name="username",
                                  widget=Select)
    team = ModelChoiceField(Team.objects.all(), required=False, to_field_name="slug",
                                  widget=Select)

    def clean(self):
        data = super().clean()
        if bool(data.get("user")) == bool(data.get("team")):
            raise forms.ValidationError("Choose either a person or a team.")
        return data


class DashboardFilterForm(forms.Form):
    # "" is the default: open incidents, or every status when searching (queries.dashboard_status).
    STATUS_CHOICES = [("", "Open"), ("open", "Open only"), ("closed", "Closed"), ("all", "All"),
                      *Status.choices]
    q = forms.CharField(required=False, max_length=200, label="Search", widget=forms.TextInput(
        attrs={"placeholder": "Title or INC-123", "type": "search"}))
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False, widget=Select)
    severity = forms.ChoiceField(choices=[("", "Any severity"), *Severity.choices], required=False,
                                 widget=Select)
    service = ModelChoiceField(Service.objects.all(), required=False, to_field_name="slug",
                               empty_label="Any service", widget=Select)
    team = ModelChoiceField(Team.objects.all(), required=False, to_field_name="slug",
                            empty_label="Any team", widget=Select)
    sort = forms.ChoiceField(choices=[], required=False, widget=Select)
    mine = forms.BooleanField(required=False, label="Mine")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sort"].choices = [("", "Most urgent"),
                                       *((name, sort.label) for name, sort in SORTS.items())]
