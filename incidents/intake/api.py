"""REST API of services and integrations, so teams can provision them as code. An integration's
key is in the response that creates or rotates it, and never again."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework import permissions as drf_permissions
from rest_framework.decorators import action
from rest_framework.response import Response

from config.api_input import SlugRelatedField
from incidents import permissions
from incidents.intake import services
from incidents.models import Integration, IntegrationFormat, Service
from oncall.models import EscalationPolicy, Team


@extend_schema_field({"anyOf": [{"type": "string", "format": "uri", "maxLength": 200},
                                 {"type": "string", "maxLength": 0}]})
class OptionalURIField(serializers.URLField):
    """A URI, or empty for none: what the model's validate_uri lets in, and so what comes out."""


class ServiceSerializer(serializers.ModelSerializer):
    team = SlugRelatedField(slug_field="slug", queryset=Team.objects.all(),
                                        required=False, allow_null=True)
    escalation_policy = SlugRelatedField(
        slug_field="name", queryset=EscalationPolicy.objects.all(), required=False,
        allow_null=True)

    class Meta:
        model = Service
        fields = ["slug", "name", "description", "runbook_url", "team", "escalation_policy",
                  "auto_resolve", "group_by", "group_window_minutes", "stale_alert_days",
                  "flap_threshold", "flap_window_minutes"]

    # runbook_url keeps the model's validators and gets the schema of what they let in.
    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping,
                                models.URLField: OptionalURIField}


class IntegrationSerializer(serializers.ModelSerializer):
    service = SlugRelatedField(slug_field="slug", queryset=Service.objects.all())
    format = serializers.ChoiceField(choices=[
        c for c in IntegrationFormat.choices if c[0] != IntegrationFormat.HEARTBEAT])

    class Meta:
        model = Integration
        fields = ["id", "service", "name", "format", "key_prefix", "enabled",
                  "rate_limit_per_minute", "email_dedup", "signing_secret", "created_at",
                  "rotated_at"]
        read_only_fields = ["id", "key_prefix", "created_at", "rotated_at"]
        extra_kwargs = {"signing_secret": {"write_only": True}}


class IntegrationWithKeySerializer(IntegrationSerializer):
    key = serializers.CharField(read_only=True, help_text="Shown only in this response.")

    class Meta(IntegrationSerializer.Meta):
        fields = [*IntegrationSerializer.Meta.fields, "key"]


class IntakeAccess(drf_permissions.BasePermission):
    """Every role with a view permission reads; managing needs can_manage_intake."""

    message = "Your role cannot change services or integrations."

    def has_permission(self, request, view):
        if request.method in drf_permissions.SAFE_METHODS:
            return permissions.can_view_intake(request.user)
        return permissions.can_manage_intake(request.user)


class ServiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     mixins.UpdateModelMixin, viewsets.GenericViewSet):
    serializer_class = ServiceSerializer
    permission_classes = [drf_permissions.IsAuthenticated, IntakeAccess]
    lookup_field = "slug"
    # Only slug characters reach the query (a NUL would be a DataError on PostgreSQL): 404.
    lookup_value_regex = r"[-\w]+"
    queryset = Service.objects.select_related("team", "escalation_policy").order_by("name")

    def perform_create(self, serializer):
        serializer.instance = _call(services.create_service, by=self.request.user,
                                    **serializer.validated_data)

    def perform_update(self, serializer):
        _call(services.update_service_settings, by=self.request.user,
              service=serializer.instance, **serializer.validated_data)


class IntegrationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                         mixins.UpdateModelMixin, viewsets.GenericViewSet):
    serializer_class = IntegrationSerializer
    permission_classes = [drf_permissions.IsAuthenticated, IntakeAccess]
    queryset = Integration.objects.select_related("service").exclude(
        format=IntegrationFormat.HEARTBEAT).order_by("id")

    @extend_schema(request=IntegrationSerializer, responses={201: IntegrationWithKeySerializer})
    def create(self, request):
        serializer = IntegrationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        integration, key = _call(services.create_integration, by=request.user,
                                 **serializer.validated_data)
        return Response(_with_key(integration, key), status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        _call(services.update_integration, by=self.request.user,
              integration=serializer.instance, **serializer.validated_data)

    @extend_schema(request=None, responses=IntegrationWithKeySerializer)
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        integration = self.get_object()
        key = services.rotate_integration_key(by=request.user, integration=integration)
        return Response(_with_key(integration, key))


def _call(service_function, **arguments):
    """A service's ValidationError (a rule, beyond the serializer's shape) as a 400 by field."""
    try:
        return service_function(**arguments)
    except DjangoValidationError as error:
        raise serializers.ValidationError(
            error.message_dict if hasattr(error, "error_dict") else error.messages) from None


def _with_key(integration: Integration, key: str) -> dict:
    return {**IntegrationSerializer(integration).data, "key": key}
