"""REST API of the status page's components and scheduled maintenance, for the same people and
through the same services as the staff pages:

GET /status/components/, GET/PATCH /status/components/{code}/ (PATCH {status, note}: set by
hand); GET/POST /status/maintenances/, GET/PATCH /status/maintenances/{code}/,
POST /status/maintenances/{code}/updates/ and /complete/. Objects are named by their public
code, never by their primary key."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework import permissions as drf_permissions
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.guards import has_role_perm
from comms.models import (
    Component,
    ComponentStatus,
    Maintenance,
    MaintenanceUpdate,
)
from comms.status import services
from comms.status.components import NOTE_MAX
from config import timerange

CODE = r"[a-z0-9]{12}"


class ComponentSerializer(serializers.ModelSerializer):
    group = serializers.CharField(source="group.name", read_only=True, allow_null=True,
                                  default=None)
    services = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    # Plain text in the document: an enum named "status" would collide with the incidents'.
    status = serializers.CharField(read_only=True, help_text=", ".join(ComponentStatus.values))

    class Meta:
        model = Component
        fields = ["code", "name", "description", "group", "position", "status",
                  "status_changed_at", "follows_incidents", "internal", "services",
                  "updated_at"]
        read_only_fields = fields


class ComponentStatusInput(serializers.Serializer):
    # Text, not an enum, in the document: an enum named "status" collides with the incidents'.
    status = serializers.CharField(max_length=20, help_text=", ".join(ComponentStatus.values))
    note = serializers.CharField(max_length=NOTE_MAX, required=False, allow_blank=True,
                                 default="")

    def validate_status(self, value):
        if value not in ComponentStatus.values:
            raise serializers.ValidationError(
                f"Choose one of {', '.join(ComponentStatus.values)}.")
        return value


class UpdateSerializer(serializers.ModelSerializer):
    state = serializers.CharField(read_only=True)
    by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = MaintenanceUpdate
        fields = ["code", "state", "body", "at", "by"]
        read_only_fields = fields


class MaintenanceSerializer(serializers.ModelSerializer):
    state = serializers.CharField(read_only=True,
                                  help_text="scheduled, in_progress, verifying or completed.")
    components = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    windows = serializers.SerializerMethodField(
        help_text="Services with an alert-intake maintenance window from this maintenance.")
    updates = UpdateSerializer(many=True, read_only=True)

    class Meta:
        model = Maintenance
        fields = ["code", "name", "body", "state", "starts_at", "ends_at", "verify_minutes",
                  "remind_minutes", "components", "windows", "next_action_at", "updates",
                  "created_at", "updated_at"]
        read_only_fields = fields

    def get_windows(self, row) -> list[str]:
        return sorted(w.service.slug for w in row.windows.all())


class MaintenanceInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=10000)
    components = serializers.ListField(
        child=serializers.RegexField(f"^{CODE}$", max_length=12), max_length=500,
        help_text="Component codes.")
    starts_at = serializers.DateTimeField(validators=[timerange.validate])
    ends_at = serializers.DateTimeField(validators=[timerange.validate])
    verify_minutes = serializers.IntegerField(min_value=0, max_value=24 * 60, default=15)
    remind_minutes = serializers.IntegerField(min_value=0, max_value=7 * 24 * 60, default=60)
    windows = serializers.BooleanField(
        required=False, help_text="Create (true) or remove (false) alert-intake maintenance "
                                  "windows for the components' services.")

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as error:
            raise serializers.ValidationError(_flat(error.detail)) from None

    def validate_components(self, codes):
        found = list(Component.objects.filter(code__in=set(codes)))
        missing = set(codes) - {c.code for c in found}
        if missing:
            raise serializers.ValidationError(f"Unknown components: {', '.join(sorted(missing))}.")
        return found


def _flat(detail):
    """A list item's errors as sentences under the list's field ("components": ["Item 2: …"]):
    every 400 body is {field: [messages]}."""
    if not isinstance(detail, dict):
        return detail
    return {field: [f"Item {int(n) + 1}: {' '.join(map(str, m))}" for n, m in errors.items()]
            if isinstance(errors, dict) else errors for field, errors in detail.items()}


class MaintenanceEditInput(MaintenanceInput):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
            field.default = serializers.empty


class UpdateInput(serializers.Serializer):
    body = serializers.CharField(max_length=10000)


class CompleteInput(serializers.Serializer):
    body = serializers.CharField(max_length=10000, required=False, allow_blank=True, default="")


class RefusalSerializer(serializers.Serializer):
    detail = serializers.CharField()


REFUSED = {409: OpenApiResponse(RefusalSerializer, "The maintenance's state forbids it.")}


class StatusAccess(drf_permissions.BasePermission):
    """Reading needs the model's view permission; writes the method's (add, change) or the
    action's own `required_perm`."""

    WRITES = {"POST": "add", "PATCH": "change", "PUT": "change", "DELETE": "delete"}

    def has_permission(self, request, view):
        verb = self.WRITES.get(request.method, "view")
        perm = getattr(view, "required_perm", None) if verb != "view" else None
        return has_role_perm(request.user, perm or f"comms.{verb}_{view.model_name}")


def _validated(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ComponentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                       viewsets.GenericViewSet):
    """Components, group first; PATCH sets one's status by hand (Communications)."""

    serializer_class = ComponentSerializer
    permission_classes = [drf_permissions.IsAuthenticated, StatusAccess]
    model_name = "component"
    lookup_field = "code"
    lookup_value_regex = CODE
    http_method_names = ["get", "patch", "head", "options"]
    queryset = Component.objects.select_related("group").prefetch_related("services").order_by(
        "group__position", "group__name", "position", "name")

    @extend_schema(request=ComponentStatusInput, responses=ComponentSerializer)
    def partial_update(self, request, code=None):
        component = self.get_object()
        services.set_status(by=request.user, component=component,
                            **_validated(ComponentStatusInput, request))
        return Response(ComponentSerializer(self.get_queryset().get(pk=component.pk)).data)


class MaintenanceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                         viewsets.GenericViewSet):
    """Scheduled maintenance, latest start first; POST schedules one."""

    serializer_class = MaintenanceSerializer
    permission_classes = [drf_permissions.IsAuthenticated, StatusAccess]
    model_name = "maintenance"
    lookup_field = "code"
    lookup_value_regex = CODE
    answers_conflict = True
    required_perm = None  # the actions name theirs
    http_method_names = ["get", "post", "patch", "head", "options"]
    queryset = Maintenance.objects.prefetch_related(
        "components", "windows__service", "updates__by").order_by("-starts_at", "-id")

    def _answer(self, row, code=status.HTTP_200_OK):
        return Response(MaintenanceSerializer(self.get_queryset().get(pk=row.pk)).data,
                        status=code)

    @extend_schema(request=MaintenanceInput, responses={201: MaintenanceSerializer})
    def create(self, request):
        data = dict(_validated(MaintenanceInput, request))
        row = services.schedule(by=request.user, components=data.pop("components"),
                                windows=data.pop("windows", False), **data)
        return self._answer(row, status.HTTP_201_CREATED)

    @extend_schema(request=MaintenanceEditInput,
                   responses={200: MaintenanceSerializer, **REFUSED})
    def partial_update(self, request, code=None):
        row = self.get_object()
        data = dict(_validated(MaintenanceEditInput, request))
        services.edit(by=request.user, maintenance=row, components=data.pop("components", None),
                      windows=data.pop("windows", None), **data)
        return self._answer(row)

    @extend_schema(request=UpdateInput, responses={201: UpdateSerializer})
    @action(detail=True, methods=["post"], required_perm="comms.add_maintenanceupdate")
    def updates(self, request, code=None):
        """Post a public update in the maintenance's current state."""
        row = self.get_object()
        update = services.post_update(by=request.user, maintenance=row,
                                      **_validated(UpdateInput, request))
        return Response(UpdateSerializer(update).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CompleteInput, responses={200: MaintenanceSerializer, **REFUSED})
    @action(detail=True, methods=["post"], required_perm="comms.change_maintenance")
    def complete(self, request, code=None):
        """Complete a maintenance in progress or being verified now."""
        row = self.get_object()
        services.complete(by=request.user, maintenance=row, **_validated(CompleteInput, request))
        return self._answer(row)

