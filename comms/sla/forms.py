from datetime import date

from django import forms

from comms.models import ResponseOn, TierPolicy
from comms.sla.services import REASON_MAX
from config import timerange
from config.forms import formfield
from incidents.models import Severity


class PauseForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX, label="Reason",
        help_text="What you are waiting for from the customer (on the timeline).",
        widget=forms.TextInput(attrs={"placeholder": "Waiting for the customer's logs"}))


class PeriodForm(forms.Form):
    """The SLA page's reporting period: clocks that started on these days (UTC), inclusive."""

    start = forms.DateField(required=False, validators=[timerange.validate],
                            widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, validators=[timerange.validate],
                          widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", "The end is before the start.")
        return data


class TierPolicyForm(forms.ModelForm):
    class Meta:
        formfield_callback = formfield  # relations refuse keys the database cannot hold
        model = TierPolicy
        fields = ["calendar", "amber_percent_left", "red_percent_left", "suggested_severity",
                  "message_approval"]

    def clean(self):
        data = super().clean()
        amber, red = data.get("amber_percent_left"), data.get("red_percent_left")
        if amber and red and red >= amber:
            self.add_error("red_percent_left", "The red share is below the amber share.")
        return data


class TargetsForm(forms.Form):
    """The targets table of one tier: a row per severity."""

    def __init__(self, *args, tier=None, **kwargs):
        super().__init__(*args, **kwargs)
        existing = {t.severity: t for t in tier.sla_targets.all()} if tier else {}
        for severity in Severity.values:
            target = existing.get(severity)
            self.fields[f"{severity}_response_minutes"] = forms.IntegerField(
                required=False, min_value=1, max_value=10**6, label=f"{severity} response",
                initial=target.response_minutes if target else None)
            self.fields[f"{severity}_response_on"] = forms.ChoiceField(
                choices=ResponseOn.choices, label=f"{severity} response on",
                initial=target.response_on if target else ResponseOn.ACKNOWLEDGED)
            self.fields[f"{severity}_resolution_minutes"] = forms.IntegerField(
                required=False, min_value=1, max_value=10**6, label=f"{severity} resolution",
                initial=target.resolution_minutes if target else None)

    def rows(self):
        return [(s, self[f"{s}_response_minutes"], self[f"{s}_response_on"],
                 self[f"{s}_resolution_minutes"]) for s in Severity.values]

    def targets(self) -> dict:
        data = self.cleaned_data
        return {s: {"response_minutes": data[f"{s}_response_minutes"],
                    "response_on": data[f"{s}_response_on"],
                    "resolution_minutes": data[f"{s}_resolution_minutes"]}
                for s in Severity.values}


WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]


class CalendarForm(forms.Form):
    name = forms.CharField(max_length=100)
    time_zone = forms.CharField(max_length=64, initial="Europe/Berlin",
                                help_text="A time zone name such as Europe/Berlin.")
    weekdays = forms.TypedMultipleChoiceField(choices=WEEKDAYS, coerce=int,
                                              widget=forms.CheckboxSelectMultiple,
                                              initial=[0, 1, 2, 3, 4])
    start = forms.TimeField(initial="09:00", widget=forms.TimeInput(attrs={"type": "time"}))
    end = forms.TimeField(initial="17:00", widget=forms.TimeInput(attrs={"type": "time"}))
    holidays = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 5}),
        help_text="One a line: a date (YYYY-MM-DD), then its name.")

    def clean_holidays(self):
        days = []
        for number, line in enumerate(self.cleaned_data["holidays"].splitlines(), 1):
            if not line.strip():
                continue
            day, _, name = line.strip().partition(" ")
            try:
                parsed = date.fromisoformat(day)
            except ValueError:
                raise forms.ValidationError(f"Line {number}: {day!r} is not a date "
                                            "such as 2026-12-24.") from None
            if not timerange.in_range(parsed):
                raise forms.ValidationError(f"Line {number}: {timerange.MESSAGE}")
            days.append((parsed, name.strip()))
        return days

    def fields_for_model(self) -> dict:
        return {f: self.cleaned_data[f] for f in ("name", "time_zone", "weekdays", "start", "end")}
