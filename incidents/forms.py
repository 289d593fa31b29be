from django import forms
from django.contrib.auth import get_user_model
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join

from config import timerange
from config.forms import ModelChoiceField, ModelMultipleChoiceField
from incidents.models import CustomerTier, Incident, Service, Severity, Status
from incidents.queries import SORTS, parse_reference
from incidents.services import DESCRIPTION_MAX, NOTE_MAX, TITLE_MAX, UPDATE_TEXT_MAX
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
    """The status menu offers the next step first (Incident.status_menu); a step back, or
    reopening, asks to be confirmed with `confirm` so one slip of the finger cannot undo work."""

    status = forms.ChoiceField(choices=(), widget=Select)
    note = forms.CharField(required=False, max_length=NOTE_MAX, widget=forms.TextInput(
        attrs={"id": "id_transition_note", "aria-label": "Note", "placeholder": "Why (optional)"}))
    confirm = forms.BooleanField(required=False, label="Yes, go back",
                                 widget=forms.CheckboxInput(attrs={"id": "id_transition_confirm"}))

    def __init__(self, *args, incident: Incident, **kwargs):
        super().__init__(*args, **kwargs)
        self.incident = incident
        self.backwards = {value for value, back in incident.status_menu() if back}
        self.fields["status"].choices = [
            (value, status_choice_label(incident, value, back))
            for value, back in incident.status_menu()
        ]

    def clean(self):
        data = super().clean()
        to = data.get("status")
        if to in self.backwards and not data.get("confirm"):
            here = self.incident.get_status_display().lower()
            verb = "reopens the incident" if self.incident.status == Status.RESOLVED \
                else f"goes back from {here}"
            self.add_error("confirm", f"This {verb} to {Status(to).label.lower()}: tick "
                                      "“Yes, go back” to confirm.")
        return data


def status_choice_label(incident: Incident, value: str, back: bool) -> str:
    label = Status(value).label
    if not back:
        return label
    if incident.status == Status.RESOLVED:
        return f"Reopen: {label.lower()}"
    return f"Back to {label.lower()}"


NEXT_UPDATE_CHOICES = [("", "When something changes"), ("15", "In 15 minutes"),
                       ("30", "In 30 minutes"), ("60", "In 1 hour"), ("120", "In 2 hours"),
                       ("240", "In 4 hours")]


class UpdateForm(forms.Form):
    """A structured status update (services.post_update)."""

    status = forms.ChoiceField(choices=(), widget=Select(attrs={"id": "id_update_status"}),
                               help_text="Moving forward here also changes the incident's status.")
    known = forms.CharField(max_length=UPDATE_TEXT_MAX, label="What we know",
                            widget=forms.Textarea(attrs={"rows": 2, "placeholder":
                                                         "Impact, scope, cause if known"}))
    doing = forms.CharField(max_length=UPDATE_TEXT_MAX, label="What we are doing",
                            widget=forms.Textarea(attrs={"rows": 2, "placeholder":
                                                         "Mitigation under way, next steps"}))
    next_update_minutes = forms.TypedChoiceField(
        choices=NEXT_UPDATE_CHOICES, coerce=int, empty_value=None, required=False,
        label="Next update expected", widget=Select)

    def __init__(self, *args, incident: Incident, **kwargs):
        super().__init__(*args, **kwargs)
        forward = [value for value, back in incident.status_menu()
                   if not back and value != Status.DECLINED]
        self.fields["status"].choices = [
            (incident.status, f"{incident.get_status_display()} (no change)"),
            *((value, Status(value).label) for value in forward)]
        self.fields["status"].initial = incident.status


class HandoverForm(forms.Form):
    commander = ModelChoiceField(_people(), to_field_name="username")


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
