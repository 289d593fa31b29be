"""REST API of SLA clocks: an incident's clocks, and pausing and resuming them. The same access
rules and services as the panel (404 for a hidden incident, 403 without the right)."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import permissions as drf_permissions
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from comms.models import ClockPause, SlaClock
from comms.sla import present, services
from incidents import permissions


class ClockSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="clock.pk")
    kind = serializers.CharField(source="clock.kind")
    customer = serializers.SerializerMethodField()
    tier = serializers.CharField(source="clock.tier.name")
    severity = serializers.CharField(source="clock.severity")
    source = serializers.CharField(source="clock.source")
    state = serializers.CharField()
    level = serializers.CharField()
    target_minutes = serializers.IntegerField(source="clock.target_minutes")
    started_at = serializers.DateTimeField(source="clock.started_at")
    due_at = serializers.DateTimeField(source="clock.due_at", allow_null=True)
    stopped_at = serializers.DateTimeField(source="clock.stopped_at", allow_null=True)
    left_seconds = serializers.IntegerField(allow_null=True,
                                            help_text="Negative: breached by; null: paused.")
    text = serializers.CharField(help_text="In words: '3h 28m left of 4h'.")

    def get_customer(self, view) -> str | None:
        return view.clock.customer.name if view.clock.customer_id else None

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.left_seconds is not None:
            data["left_seconds"] = round(instance.left_seconds)
        return data


class PauseInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=services.REASON_MAX)


class PauseSerializer(serializers.ModelSerializer):
    class Meta:
        model = ClockPause
        fields = ["started_at", "ended_at", "reason"]


class IncidentSlaViewSet(viewsets.GenericViewSet):
    """/api/v1/incidents/{number}/sla/: the incident's live clocks."""

    permission_classes = [drf_permissions.IsAuthenticated]
    serializer_class = ClockSerializer
    pagination_class = None
    queryset = SlaClock.objects.none()  # for the schema
    answers_conflict = True  # pause and resume raise Conflict (config.errors)

    def _incident(self):
        return permissions.get_visible_incident(self.request.user, self.kwargs["number"])

    @extend_schema(responses=ClockSerializer(many=True))
    def list(self, request, number=None):
        incident = self._incident()
        now = timezone.now()
        rows = list(SlaClock.objects.filter(incident=incident, replaced_at=None)
                    .select_related("customer", "tier").order_by("key", "-kind"))
        calendars = services.calendars_for(rows)
        spans = list(ClockPause.objects.filter(incident=incident)
                     .values_list("started_at", "ended_at"))
        views = [present.describe(c, now, calendars.get(c.calendar_id), spans) for c in rows]
        return Response(ClockSerializer(views, many=True).data)

    @extend_schema(request=PauseInputSerializer, responses={201: PauseSerializer})
    @action(detail=False, methods=["post"])
    def pause(self, request, number=None):
        incident = self._incident()
        data = PauseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        paused = services.pause(incident, by=request.user, reason=data.validated_data["reason"])
        return Response(PauseSerializer(paused).data, status=201)

    @extend_schema(request=None, responses=PauseSerializer)
    @action(detail=False, methods=["post"])
    def resume(self, request, number=None):
        paused = services.resume(self._incident(), by=request.user)
        return Response(PauseSerializer(paused).data)
