from django import forms

from comms.messages import cadence, services
from comms.models import Phase


class MessageForm(forms.Form):
    phase = forms.ChoiceField(choices=Phase.choices)
    subject = forms.CharField(max_length=services.SUBJECT_MAX)
    body = forms.CharField(max_length=services.BODY_MAX, widget=forms.Textarea(attrs={"rows": 8}))
    to_customers = forms.BooleanField(required=False, initial=True,
                                      label="Email the affected customers' contacts")
    to_status_page = forms.BooleanField(required=False, label="Show on the status page")
    # The version the editor started from: a save from an older one is refused.
    version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    FIELDS = ("phase", "subject", "body", "to_customers", "to_status_page", "version")

    @classmethod
    def for_message(cls, message, data=None):
        initial = {name: getattr(message, name) for name in cls.FIELDS}
        return cls(data, initial=initial, auto_id=f"id_m{message.pk}_%s")

    @classmethod
    def refused(cls, current, error: str):
        """The editor bound to the version that won, with why the edit was refused."""
        data = {name: getattr(current, name) for name in cls.FIELDS if name[:3] != "to_"}
        data.update({name: "on" for name in ("to_customers", "to_status_page")
                     if getattr(current, name)})
        form = cls.for_message(current, data)
        form.is_valid()
        form.add_error(None, error)
        return form


class CadenceForm(forms.Form):
    minutes = forms.IntegerField(min_value=cadence.MINUTES_MIN, max_value=cadence.MINUTES_MAX,
                                 label="Update customers every (minutes)")


class TemplateForm(forms.Form):
    subject = forms.CharField(max_length=200)
    body = forms.CharField(max_length=10000, widget=forms.Textarea(attrs={"rows": 8}))
