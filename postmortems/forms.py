from django import forms
from django.contrib.auth.models import Permission, User
from django.db.models import Q

from config.forms import ModelMultipleChoiceField
from postmortems import services
from postmortems.models import SECTION_MAX, SECTIONS, Level, Verdict
from postmortems.permissions import visible_postmortems


class SectionsForm(forms.Form):
    """The sections people write, at the post-mortem's level, as Markdown."""

    # The version the editor started from: a save from an older one is refused.
    version = forms.IntegerField(min_value=1, max_value=2**31 - 1, widget=forms.HiddenInput)

    def __init__(self, *args, postmortem, **kwargs):
        kwargs.setdefault("auto_id", "id_pm_%s")
        super().__init__(*args, **kwargs)
        shown = {s["name"] for s in postmortem.sections()}
        for name, heading, prompt, _ in SECTIONS:
            if name in shown:
                self.fields[name] = forms.CharField(
                    label=heading, help_text=prompt, required=False, max_length=SECTION_MAX,
                    strip=False, widget=forms.Textarea(attrs={"rows": 6}))

    @property
    def section_names(self) -> list[str]:
        return [name for name in self.fields if name != "version"]

    @classmethod
    def for_postmortem(cls, postmortem, data=None):
        initial = {name: getattr(postmortem, name) for name, *_ in SECTIONS}
        return cls(data, initial={**initial, "version": postmortem.version},
                   postmortem=postmortem)

    @classmethod
    def refused(cls, current, error: str):
        """The editor bound to the version that won, with why the save was refused."""
        data = {name: getattr(current, name) for name, *_ in SECTIONS}
        form = cls.for_postmortem(current, {**data, "version": current.version})
        form.is_valid()
        form.add_error(None, error)
        return form


class LevelForm(forms.Form):
    level = forms.ChoiceField(choices=Level.choices, label="Level")


class ReviewersForm(forms.Form):
    reviewers = ModelMultipleChoiceField(
        User.objects.none(), widget=forms.CheckboxSelectMultiple,
        help_text="Each reviewer is notified and must approve before it is published.")

    def __init__(self, *args, incident, **kwargs):
        kwargs.setdefault("auto_id", "id_review_%s")
        super().__init__(*args, **kwargs)
        self.fields["reviewers"].queryset = reviewer_choices(incident)


class VerdictForm(forms.Form):
    verdict = forms.ChoiceField(
        choices=[(Verdict.APPROVED, "Approve"), (Verdict.CHANGES, "Ask for changes")],
        widget=forms.RadioSelect, initial=Verdict.APPROVED)
    comment = forms.CharField(required=False, max_length=services.COMMENT_MAX,
                              widget=forms.Textarea(attrs={"rows": 3}),
                              help_text="Required when you ask for changes.")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_verdict_%s")
        super().__init__(*args, **kwargs)


class CorrectionForm(forms.Form):
    reason = forms.CharField(max_length=services.REASON_MAX, label="What does it correct?")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_correct_%s")
        super().__init__(*args, **kwargs)


def reviewer_choices(incident):
    """People who read post-mortems, for the picker; services.submit checks each one's sight of
    this incident (a restricted one narrows the list here too)."""
    perms = Permission.objects.filter(codename="view_postmortem",
                                      content_type__app_label="postmortems")
    users = (User.objects.filter(is_active=True)
             .filter(Q(is_superuser=True) | Q(groups__permissions__in=perms)
                     | Q(user_permissions__in=perms))
             .distinct().order_by("username"))
    if incident.restricted:
        allowed = [u.pk for u in users
                   if visible_postmortems(u).filter(incident=incident).exists()]
        users = User.objects.filter(pk__in=allowed).order_by("username")
    return users
