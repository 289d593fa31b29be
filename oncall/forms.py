from django import forms
from django.contrib.auth import get_user_model

from config import timerange
from config.forms import ModelChoiceField
from oncall.rotation import to_instant


class _PeriodForm(forms.Form):
    """A period entered as wall-clock times in the schedule's time zone."""

    # In range before clean() converts the wall times: year 1 or 9999 overflows there.
    start = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                validators=[timerange.validate])
    end = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                              validators=[timerange.validate])
    note = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, schedule, **kwargs):
        super().__init__(*args, **kwargs)
        self.schedule = schedule

    def _instant(self, name, edge):
        value = self.cleaned_data.get(name)
        if value is None:
            return None
        return to_instant(value.replace(tzinfo=None), self.schedule.tz, edge)

    def clean(self):
        cleaned = super().clean()
        cleaned["start"], cleaned["end"] = self._instant("start", "start"), \
            self._instant("end", "end")
        return cleaned


class OverrideForm(_PeriodForm):
    user = ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        to_field_name="username", label="Who covers")

    field_order = ["user", "start", "end", "note"]


class SwapForm(_PeriodForm):
    pass
