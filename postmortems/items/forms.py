from django import forms
from django.contrib.auth import get_user_model

from config.forms import ModelChoiceField
from oncall.models import Team
from postmortems.items import services
from postmortems.models import ActionItem, ItemKind, ItemStatus, Priority

User = get_user_model()


def owners() -> list:
    """Who can own an item, read once per request: every editor on a page shares the list."""
    return list(User.objects.filter(is_active=True).order_by("username"))


class ItemForm(forms.Form):
    title = forms.CharField(max_length=200)
    owner = forms.ChoiceField(required=False)
    due_on = forms.DateField(required=False, label="Due date",
                             widget=forms.DateInput(attrs={"type": "date"}),
                             help_text="Empty: the default for the incident's severity.")
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.MEDIUM)
    kind = forms.ChoiceField(choices=ItemKind.choices, initial=ItemKind.PREVENT)
    description = forms.CharField(required=False, max_length=5000,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    ticket_url = forms.URLField(required=False, max_length=500, assume_scheme="https",
                                label="Ticket URL",
                                widget=forms.TextInput(attrs={"inputmode": "url"}),
                                help_text="The issue in your tracker, if there is one.")
    # The version the editor started from: a save from an older one is refused.
    version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, people: list | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.people = {user.get_username(): user for user in
                       (owners() if people is None else people)}
        self.fields["owner"].choices = [("", "Nobody yet"), *((n, n) for n in self.people)]

    def clean_owner(self):
        return self.people.get(self.cleaned_data["owner"])

    @classmethod
    def for_item(cls, item: ActionItem, data=None, people: list | None = None):
        initial = {name: getattr(item, name) for name in services.EDITABLE}
        initial["owner"] = item.owner.get_username() if item.owner_id else None
        initial["version"] = item.version
        form = cls(data, initial=initial, auto_id=f"id_item{item.pk}_%s", people=people)
        form.fields["due_on"].required = True  # the default applies to new items only
        form.fields["due_on"].help_text = ""
        return form

    @classmethod
    def refused(cls, current: ActionItem, error: str):
        """The editor bound to the version that won, with why the edit was refused."""
        form = cls.for_item(current)
        data = {name: form.initial.get(name) for name in form.fields}
        data = {name: "" if value is None else value for name, value in data.items()}
        form = cls.for_item(current, data, people=list(form.people.values()))
        form.is_valid()
        form.add_error(None, error)
        return form


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=ItemStatus.choices)
    reason = forms.CharField(required=False, max_length=services.REASON_MAX,
                             label="Why accept it without doing it")


class FilterForm(forms.Form):
    SCOPES = [("mine", "My items"), ("all", "Every item I can see")]
    STATUSES = [("", "Open and finished"), ("open", "Open"), ("finished", "Finished")]
    scope = forms.ChoiceField(choices=SCOPES, required=False, label="Whose")
    status = forms.ChoiceField(choices=STATUSES, required=False)
    team = ModelChoiceField(Team.objects.all(), required=False, to_field_name="slug",
                            empty_label="Any team")
    overdue = forms.BooleanField(required=False, label="Overdue only")
