"""API shapes of incidents. Serializers check the shape of input and look names up;
incidents.services decides what is allowed."""

from django.contrib.auth import get_user_model
from rest_framework import serializers

from config import timerange
from config.api_input import SlugRelatedField
from incidents import services
from incidents.models import CustomerTier, Incident, Service, Severity, Status, TimelineEntry

FILTER_STATUSES = [("all", "All"), ("open", "Open"), ("closed", "Closed"), *Status.choices]


def _usernames(**kwargs):
    return SlugRelatedField(slug_field="username", **kwargs)


def _user_lookup(**kwargs):
    # Roles go to active accounts only: a deactivated user could not act on the incident.
    users = get_user_model()._default_manager.filter(is_active=True)
    return _usernames(queryset=users, **kwargs)


class IncidentSerializer(serializers.ModelSerializer):
    number = serializers.IntegerField(source="pk", read_only=True)
    services = SlugRelatedField(slug_field="slug", many=True, read_only=True)
    customer_tiers = SlugRelatedField(slug_field="slug", many=True, read_only=True)
    # Null when unassigned, or declared by an alert rather than a person.
    commander = _usernames(read_only=True, allow_null=True)
    comms_lead = _usernames(read_only=True, allow_null=True)
    responders = _usernames(many=True, read_only=True)
    declared_by = _usernames(read_only=True, allow_null=True)
    merged_into = serializers.SerializerMethodField(
        help_text="Number of the incident this one was merged into; null when not merged, or "
                  "when that incident is hidden from the caller.")

    class Meta:
        model = Incident
        fields = [
            "number", "reference", "title", "description", "severity", "status", "services",
            "customer_tiers", "commander", "comms_lead", "responders", "restricted",
            "declared_by", "merged_into", "started_at", "detected_at", "acknowledged_at",
            "mitigated_at", "resolved_at", "closed_at", "created_at", "updated_at",
        ]
        read_only_fields = fields

    def get_merged_into(self, incident) -> int | None:
        # Set by api._with_everything_shown for the caller; absent means not known visible.
        return incident.merged_into_id if getattr(incident, "merged_into_visible", False) \
            else None


class IncidentFilterSerializer(serializers.Serializer):
    """Query parameters of the list; a blank value means no filter, as in an HTML form."""

    status = serializers.ChoiceField(choices=FILTER_STATUSES, required=False, allow_blank=True)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False, allow_blank=True)
    service = serializers.SlugField(required=False, allow_blank=True, help_text="Service slug.")
    team = serializers.SlugField(
        required=False, allow_blank=True, help_text="Team slug (owner of a service).")
    mine = serializers.BooleanField(
        required=False, allow_null=True, help_text="Only incidents where I am commander, "
        "comms lead, responder or declarer.")
    q = serializers.CharField(
        required=False, allow_blank=True,
        help_text="'INC-12' or '12' finds incident 12; other text searches titles.")


class DeclareSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=services.TITLE_MAX)
    severity = serializers.ChoiceField(choices=Severity.choices)
    description = serializers.CharField(
        max_length=services.DESCRIPTION_MAX, allow_blank=True, required=False)
    services = SlugRelatedField(
        slug_field="slug", queryset=Service.objects.all(), many=True, required=False)
    customer_tiers = SlugRelatedField(
        slug_field="slug", queryset=CustomerTier.objects.all(), many=True, required=False)
    restricted = serializers.BooleanField(default=False)
    started_at = serializers.DateTimeField(required=False, validators=[timerange.validate])


class TransitionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices)
    note = serializers.CharField(max_length=services.NOTE_MAX, allow_blank=True, default="")


class SeverityChangeSerializer(serializers.Serializer):
    severity = serializers.ChoiceField(choices=Severity.choices)
    note = serializers.CharField(max_length=services.NOTE_MAX, allow_blank=True, default="")


class NoteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=services.NOTE_MAX)


class RolesSerializer(serializers.Serializer):
    """Only the roles present in the request change; null clears a single role."""

    commander = _user_lookup(allow_null=True, required=False)
    comms_lead = _user_lookup(allow_null=True, required=False)
    responders = _user_lookup(many=True, required=False)


class TimelineQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(
        min_value=0, default=0, help_text="Only entries with a greater seq (for polling).")


class TimelineEntrySerializer(serializers.ModelSerializer):
    """An entry as stored, except that one naming an incident hidden from the caller
    (permissions.hide_unseen_links) keeps only its kind: no number, title or note."""

    # Null for entries written by intake, tasks and commands; actor_label names them.
    actor = _usernames(read_only=True, allow_null=True)

    def to_representation(self, entry):
        data = super().to_representation(entry)
        if getattr(entry, "hides_link", False):
            data.update(new_value="", note="", data={"restricted": True})
        return data

    class Meta:
        model = TimelineEntry
        fields = [
            "seq", "kind", "actor", "actor_label", "created_at", "old_value", "new_value",
            "note", "data", "prev_hash", "hash",
        ]
        read_only_fields = fields
