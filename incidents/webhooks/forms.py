"""The form of an outgoing webhook subscription."""

from django import forms

from config.forms import formfield
from incidents.models import WebhookEvent, WebhookSubscription


class WebhookForm(forms.ModelForm):
    url = forms.URLField(assume_scheme="https", max_length=2000)
    events = forms.MultipleChoiceField(choices=WebhookEvent.choices, required=False,
                                       widget=forms.CheckboxSelectMultiple,
                                       help_text="None ticked: every event.")

    class Meta:
        formfield_callback = formfield  # relations refuse keys the database cannot hold
        model = WebhookSubscription
        fields = ["name", "service", "url", "secret", "events", "active"]
