from datetime import date

from django import forms

from config import timerange
from config.forms import ModelChoiceField
from oncall.models import Team
from postmortems.insights.figures import Filters, default_range

# Two years of weeks is as much as a chart of weekly columns can show legibly.
MAX_DAYS = 731


class FilterForm(forms.Form):
    """The insights page's filters: UTC days, inclusive (by default the last 90), and a team."""

    start = forms.DateField(label="From", required=False, validators=[timerange.validate],
                            widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", required=False, validators=[timerange.validate],
                          widget=forms.DateInput(attrs={"type": "date"}))
    team = ModelChoiceField(queryset=Team.objects.order_by("name"), required=False,
                            empty_label="All teams")

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        start, end = data.get("start"), data.get("end")
        end = end or max(start or self.today, self.today)
        start = start or default_range(end)[0]
        if end < start:
            self.add_error("end", "The end is before the start.")
        elif (end - start).days >= MAX_DAYS:
            self.add_error("start", f"Choose at most {MAX_DAYS} days (two years).")
        data["start"], data["end"] = start, end
        return data

    def filters(self) -> Filters:
        """The chosen filters (call after is_valid()), or the defaults for an unbound form."""
        if not self.is_bound:
            return Filters(*default_range(self.today))
        data = self.cleaned_data
        return Filters(data["start"], data["end"], data.get("team"))
