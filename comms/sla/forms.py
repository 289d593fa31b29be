from django import forms

from comms.sla.services import REASON_MAX


class PauseForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX, label="Reason",
        help_text="What you are waiting for from the customer (on the timeline).",
        widget=forms.TextInput(attrs={"placeholder": "Waiting for the customer's logs"}))
