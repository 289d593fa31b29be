from django import forms

from accounts import timezones


def _zone_choices():
    return [("", "My browser's time zone"), *((n, n.replace("_", " ")) for n in
                                              sorted(timezones.names()))]


class SettingsForm(forms.Form):
    time_zone = forms.ChoiceField(
        choices=_zone_choices, required=False, label="Time zone",
        help_text="Every time in Relay is shown, and entered, in this zone, with its label.")
