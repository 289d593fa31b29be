"""Forms of the staff pages of the status page. They check input; the rules (who may, which
times may move) are comms.status.services', whose errors the views show beside the fields.

Times are entered and shown in the portal's current time zone, named in each label."""

from django import forms
from django.utils import timezone

from comms.models import Component, ComponentGroup, ComponentStatus, Maintenance, StatusPage
from comms.status.components import NOTE_MAX
from config import timerange
from config.forms import ModelChoiceField, ModelMultipleChoiceField, formfield
from incidents.models import Service

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class StatusForm(forms.Form):
    """Set one component's status by hand (prefixed by the component's code on the overview)."""

    status = forms.ChoiceField(choices=ComponentStatus.choices)
    note = forms.CharField(required=False, max_length=NOTE_MAX, widget=forms.TextInput(
        attrs={"placeholder": "Why, in a few words (staff only)"}))


class GroupForm(forms.ModelForm):
    class Meta:
        formfield_callback = formfield  # relations refuse keys the database cannot hold
        model = ComponentGroup
        fields = ["name", "description", "position"]


class ComponentForm(forms.ModelForm):
    group = ModelChoiceField(ComponentGroup.objects.order_by("position", "name"),
                             required=False, empty_label="No group")
    services = ModelMultipleChoiceField(
        Service.objects.order_by("name"), required=False, label="Linked services",
        widget=forms.CheckboxSelectMultiple,
        help_text="Open incidents on these services move the component (when it follows them).")

    class Meta:
        formfield_callback = formfield  # relations refuse keys the database cannot hold
        model = Component
        fields = ["name", "description", "group", "position", "services", "follows_incidents",
                  "internal"]


class BrandingForm(forms.ModelForm):
    class Meta:
        formfield_callback = formfield  # relations refuse keys the database cannot hold
        model = StatusPage
        fields = ["name", "about", "logo_url", "accent_colour", "support_url", "time_zone"]
        widgets = {"about": forms.Textarea(attrs={"rows": 3}),
                   "accent_colour": forms.TextInput(attrs={"type": "color"})}


def _local_time(label: str) -> forms.DateTimeField:
    return forms.DateTimeField(label=label, validators=[timerange.validate],
                               widget=forms.DateTimeInput(format=LOCAL_FORMAT,
                                                          attrs={"type": "datetime-local"}))


class MaintenanceForm(forms.ModelForm):
    components = ModelMultipleChoiceField(
        Component.objects.select_related("group").order_by("position", "name"),
        widget=forms.CheckboxSelectMultiple,
        help_text="They show under maintenance while it runs (those that follow incidents).")
    starts_at = _local_time("Starts")
    ends_at = _local_time("Ends")
    windows = forms.BooleanField(
        required=False, label="Also create alert-intake maintenance windows for the linked "
                              "services", help_text="Nobody is paged for alerts on those "
                                                    "services while it runs.")

    class Meta:
        formfield_callback = formfield  # relations refuse keys the database cannot hold
        model = Maintenance
        fields = ["name", "body", "components", "starts_at", "ends_at", "verify_minutes",
                  "remind_minutes"]
        widgets = {"body": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zone = timezone.get_current_timezone_name()
        for name in ("starts_at", "ends_at"):
            self.fields[name].label = f"{self.fields[name].label} ({zone})"
        if self.instance.pk:
            self.fields["windows"].initial = self.instance.windows.exists()

    def clean(self):
        data = super().clean()
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", "The maintenance must end after it starts.")
        return data

    def _post_clean(self):
        # The model's checks run in the service, on the locked row; here only the form's.
        pass


class UpdateForm(forms.Form):
    body = forms.CharField(max_length=10000, label="Update", widget=forms.Textarea(
        attrs={"rows": 3, "placeholder": "What customers read on the page"}))


class CompleteForm(forms.Form):
    body = forms.CharField(required=False, max_length=10000, label="Closing words",
                           widget=forms.Textarea(attrs={"rows": 2, "placeholder": (
                               "The scheduled maintenance has been completed.")}))
