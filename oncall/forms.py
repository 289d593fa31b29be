from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator

from config import timerange
from config.forms import ModelChoiceField, ModelMultipleChoiceField, formfield, keys
from oncall.models import EscalationPolicy, Layer, Schedule, Team
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
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_swap_%s")  # on the page beside the override form
        super().__init__(*args, **kwargs)


# --- Editing schedules and policies ------------------------------------------------------------
#
# The editors are a form for the object and a formset of its rows (layers, steps). Buttons that
# reorder, add or remove rows are submit buttons named "op": the view rewrites the posted data
# (rows, with_rows) and renders the forms again, so they work without JavaScript.

MAX_ROWS = 20
WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]


def _active_users():
    return get_user_model().objects.filter(is_active=True).order_by("username")


class _OwnedByTeam(forms.ModelForm):
    """A schedule or policy belongs to one of the editor's teams; its responders may edit it."""

    team_help = ""

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams
        self.fields["team"].required = True
        self.fields["team"].empty_label = None if len(teams) == 1 else "Pick a team"
        self.fields["team"].help_text = self.team_help


class ScheduleForm(_OwnedByTeam):
    # The stored configuration the editor started from (schedules.fingerprint), so a save over
    # someone else's newer edit is refused instead of silently undoing it.
    version = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Schedule
        fields = ["name", "team", "time_zone", "description"]
        formfield_callback = formfield  # relations refuse keys the database cannot hold
        help_texts = {"time_zone": "A name such as Europe/Berlin or America/New_York; the "
                                   "layers' dates and times are in it."}
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    team_help = "Its responders may edit this schedule."


class OrderedUsersField(forms.Field):
    """People in the order given (hidden inputs, one per person): a rotation's participants."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        values = value if isinstance(value, (list, tuple)) else [value] if value else []
        ids = keys(values)
        users = _active_users().in_bulk(ids)
        if len(ids) != len(values) or any(pk not in users for pk in ids):
            raise ValidationError("Someone in this list is not an active user.")
        return [users[pk] for pk in ids]


class LayerForm(forms.ModelForm):
    layer_id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    restrict_weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS, coerce=int, required=False, widget=forms.CheckboxSelectMultiple,
        label="Only on", help_text="None ticked: every day.")
    participants = OrderedUsersField(required=False)
    add_person = ModelChoiceField(queryset=_active_users(), required=False, label="Add a person",
                                  empty_label="Pick someone")

    class Meta:
        model = Layer
        fields = ["name", "rank", "start_date", "handoff_time", "turn_length", "turn_unit",
                  "restrict_start", "restrict_end", "restrict_weekdays"]
        labels = {"handoff_time": "Hand-off time", "turn_length": "Turn length",
                  "turn_unit": "Unit", "restrict_start": "On call from",
                  "restrict_end": "Until"}
        help_texts = {"restrict_start": "Optional daily window; leave both empty for all day.",
                      "restrict_end": "", "turn_length": "", "rank": "Higher layers win."}
        widgets = {"start_date": forms.DateInput(attrs={"type": "date"}),
                   "handoff_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                   "restrict_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                   "restrict_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rank"].validators.append(MaxValueValidator(99))
        self.fields["start_date"].validators.append(timerange.validate)

    def people(self) -> list:
        """The participants as the form holds them, valid or not, for the list with its
        buttons."""
        value = self["participants"].value() or []
        values = value if isinstance(value, (list, tuple)) else [value]
        users = _active_users().in_bulk(keys(values))
        return [users[pk] for pk in keys(values) if pk in users]


class BaseLayerFormSet(forms.BaseFormSet):
    """Each row edits the stored layer its hidden layer_id names (one of `schedule`'s), or a
    new one."""

    def __init__(self, *args, schedule, **kwargs):
        self.schedule = schedule
        self.stored = {layer.pk: layer for layer in schedule.layers.all()} if schedule.pk else {}
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        if index is None:  # the formset's empty form
            return {"instance": Layer(schedule=self.schedule)}
        value = self.data.get(f"{self.prefix}-{index}-layer_id") if self.is_bound else (
            self.initial[index].get("layer_id") if self.initial and index < len(self.initial)
            else None)
        found = keys([value]) if value not in (None, "") else []
        # pop: a second row naming the same layer (a doctored form) becomes a new layer
        layer = self.stored.pop(found[0], None) if found else None
        return {"instance": layer or Layer(schedule=self.schedule)}

    def clean(self):
        if any(self.errors):
            return
        seen_ranks, seen_names = set(), set()
        for form in self.forms:
            rank, name = form.cleaned_data.get("rank"), form.cleaned_data.get("name")
            if rank in seen_ranks:
                form.add_error("rank", "Another layer has this rank; each needs its own.")
            if name in seen_names:
                form.add_error("name", "Another layer has this name.")
            seen_ranks.add(rank)
            seen_names.add(name)
        if any(self.errors):
            raise ValidationError("Some layers need a change.")


LayerFormSet = forms.formset_factory(LayerForm, formset=BaseLayerFormSet, extra=0,
                                     max_num=MAX_ROWS, validate_max=True)


class PolicyForm(_OwnedByTeam):
    class Meta:
        model = EscalationPolicy
        fields = ["name", "team", "repeat", "ack_timeout_minutes", "description"]
        formfield_callback = formfield  # relations refuse keys the database cannot hold
        labels = {"ack_timeout_minutes": "Acknowledgement timeout (minutes)"}
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    team_help = "Its responders may edit this policy."


class StepForm(forms.Form):
    delay_minutes = forms.IntegerField(
        min_value=1, max_value=1440, initial=5, label="Then wait (minutes)",
        help_text="Before the next step, unless someone acknowledges.")
    users = ModelMultipleChoiceField(queryset=_active_users(), required=False, label="People",
                                     widget=forms.CheckboxSelectMultiple)
    schedules = ModelMultipleChoiceField(
        queryset=Schedule.objects.order_by("name"), required=False,
        widget=forms.CheckboxSelectMultiple, label="Whoever is on call on")
    teams = ModelMultipleChoiceField(
        queryset=Team.objects.order_by("name"), required=False,
        widget=forms.CheckboxSelectMultiple, label="Whoever is on call for team")

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not any(cleaned.get(f) for f in ("users", "schedules", "teams")):
            self.add_error("users", "A step must reach someone: tick a person, a schedule or a "
                                    "team.")
        return cleaned


StepFormSet = forms.formset_factory(StepForm, extra=0, min_num=1, validate_min=True,
                                    max_num=MAX_ROWS, validate_max=True)


def rows(data, prefix: str, fields) -> list[dict]:
    """The rows of a posted formset as {field: [values]}, at most MAX_ROWS of them."""
    try:
        total = min(int(data.get(f"{prefix}-TOTAL_FORMS", 0)), MAX_ROWS)
    except (TypeError, ValueError):
        total = 0
    return [{f: data.getlist(f"{prefix}-{i}-{f}") for f in fields} for i in range(max(total, 0))]


def with_rows(data, prefix: str, new_rows: list[dict]):
    """A copy of the posted data with the formset's rows replaced by `new_rows`."""
    copy = data.copy()
    for key in [k for k in copy if k.startswith(f"{prefix}-") and k[len(prefix) + 1].isdigit()]:
        del copy[key]
    for i, row in enumerate(new_rows):
        for name, values in row.items():
            copy.setlist(f"{prefix}-{i}-{name}", values)
    copy[f"{prefix}-TOTAL_FORMS"] = str(len(new_rows))
    copy[f"{prefix}-INITIAL_FORMS"] = "0"
    return copy
