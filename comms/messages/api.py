"""REST API of customer messages and the update cadence: the same services as the portal.

GET/POST /incidents/{number}/messages/, GET/PATCH /messages/{id}/ (PATCH names the version it
was made from: a stale one is refused with 409), POST /messages/{id}/{submit|approve|publish|
discard}/, GET/PUT /incidents/{number}/cadence/."""

from django.db.models import Prefetch
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework import permissions as drf_permissions
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from comms.messages import cadence, services
from comms.models import CustomerMessage, MessageDelivery, Phase, UpdateCadence
from incidents import permissions

INT_MAX = 2**31 - 1


class DeliverySerializer(serializers.ModelSerializer):
    # Plain text in the document: an enum named "status" would collide with the incidents'.
    status = serializers.CharField(read_only=True,
                                   help_text="pending, delivered or failed (after retries).")

    class Meta:
        model = MessageDelivery
        fields = ["id", "name", "email", "status", "attempts", "last_error", "due_at",
                  "finished_at"]


class MessageSerializer(serializers.ModelSerializer):
    incident = serializers.IntegerField(source="incident_id", read_only=True)
    author = serializers.SlugRelatedField(slug_field="username", read_only=True,
                                          allow_null=True)
    submitted_by = serializers.SlugRelatedField(slug_field="username", read_only=True,
                                          allow_null=True)
    approved_by = serializers.SlugRelatedField(slug_field="username", read_only=True,
                                          allow_null=True)
    published_by = serializers.SlugRelatedField(slug_field="username", read_only=True,
                                          allow_null=True)
    discarded_by = serializers.SlugRelatedField(slug_field="username", read_only=True,
                                          allow_null=True)
    superseded_by = serializers.IntegerField(source="superseded_by_id", read_only=True,
                                             allow_null=True)
    deliveries = DeliverySerializer(many=True, read_only=True)

    class Meta:
        model = CustomerMessage
        fields = ["id", "incident", "phase", "subject", "body", "to_customers",
                  "to_status_page", "state", "prepared", "version", "requires_approval",
                  "author", "created_at", "submitted_by", "submitted_at", "approved_by",
                  "approved_at", "published_by", "published_at", "discarded_by",
                  "discarded_at", "superseded_by", "deliveries"]
        read_only_fields = fields


class MessageInputSerializer(serializers.Serializer):
    phase = serializers.ChoiceField(choices=Phase.choices)
    subject = serializers.CharField(max_length=services.SUBJECT_MAX)
    body = serializers.CharField(max_length=services.BODY_MAX)
    to_customers = serializers.BooleanField(default=True)
    to_status_page = serializers.BooleanField(default=False)


class MessageEditSerializer(MessageInputSerializer):
    version = serializers.IntegerField(min_value=1, max_value=INT_MAX,
                                       help_text="The version this edit was made from.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name != "version":
                field.required = False
                field.default = serializers.empty


class CadenceSerializer(serializers.ModelSerializer):
    incident = serializers.IntegerField(source="incident_id", read_only=True)
    set_by = serializers.SlugRelatedField(slug_field="username", read_only=True,
                                          allow_null=True)

    class Meta:
        model = UpdateCadence
        fields = ["incident", "minutes", "due_at", "reminded_for", "set_by"]
        read_only_fields = ["incident", "due_at", "reminded_for", "set_by"]


class CadenceInputSerializer(serializers.Serializer):
    minutes = serializers.IntegerField(min_value=cadence.MINUTES_MIN,
                                       max_value=cadence.MINUTES_MAX)


class MessageRefusalSerializer(serializers.Serializer):
    detail = serializers.CharField()


REFUSED = {
    400: OpenApiResponse(MessageRefusalSerializer, "A rule refuses it (no recipients)."),
    409: OpenApiResponse(MessageRefusalSerializer, "The message's state or a guard refuses it."),
}


def _messages():
    return CustomerMessage.objects.select_related(
        "author", "submitted_by", "approved_by", "published_by", "discarded_by"
    ).prefetch_related(Prefetch("deliveries", MessageDelivery.objects.order_by("email")))


def _validated(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class IncidentMessages(APIView):
    """The messages of one incident, newest first; POST drafts a new one."""

    permission_classes = [drf_permissions.IsAuthenticated]
    answers_conflict = True

    @extend_schema(responses=MessageSerializer(many=True), operation_id="incident_messages_list")
    def get(self, request, number):
        incident = permissions.get_visible_incident(request.user, number)
        rows = _messages().filter(incident=incident).order_by("-created_at", "-id")
        return Response(MessageSerializer(rows, many=True).data)

    @extend_schema(request=MessageInputSerializer, responses={201: MessageSerializer},
                   operation_id="incident_messages_create")
    def post(self, request, number):
        incident = permissions.get_visible_incident(request.user, number)
        data = _validated(MessageInputSerializer, request)
        message = services.draft(incident, by=request.user, **data)
        return Response(MessageSerializer(_messages().get(pk=message.pk)).data,
                        status=status.HTTP_201_CREATED)


class MessageViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One message with its per-recipient deliveries, and its transitions."""

    serializer_class = MessageSerializer
    permission_classes = [drf_permissions.IsAuthenticated]
    queryset = CustomerMessage.objects.none()  # for the schema; get_object checks visibility
    answers_conflict = True
    http_method_names = ["get", "patch", "post", "head", "options"]

    def get_object(self):
        try:
            message = _messages().get(pk=int(self.kwargs["pk"]))
        except (CustomerMessage.DoesNotExist, ValueError, OverflowError):
            raise Http404("No such message.") from None
        permissions.get_visible_incident(self.request.user, message.incident_id)
        return message

    @extend_schema(request=MessageEditSerializer,
                   responses={200: MessageSerializer, **REFUSED})
    def partial_update(self, request, pk=None):
        message = self.get_object()
        data = dict(_validated(MessageEditSerializer, request))
        services.edit(message, by=request.user, version=data.pop("version"), **data)
        return self._answer(message)

    def _act(self, request, transition):
        message = self.get_object()
        transition(message, by=request.user)
        return self._answer(message)

    def _answer(self, message):
        return Response(MessageSerializer(_messages().get(pk=message.pk)).data)

    @extend_schema(request=None, responses={200: MessageSerializer, **REFUSED})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._act(request, services.submit)

    @extend_schema(request=None, responses={200: MessageSerializer, **REFUSED})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._act(request, services.approve)

    @extend_schema(request=None, responses={200: MessageSerializer, **REFUSED})
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        return self._act(request, services.publish)

    @extend_schema(request=None, responses={200: MessageSerializer, **REFUSED})
    @action(detail=True, methods=["post"])
    def discard(self, request, pk=None):
        return self._act(request, services.discard)


class IncidentCadence(APIView):
    """How often the incident's customers hear from us; PUT sets it (the communications lead,
    Communications, admins)."""

    permission_classes = [drf_permissions.IsAuthenticated]

    @extend_schema(responses=CadenceSerializer, operation_id="incident_cadence_retrieve")
    def get(self, request, number):
        incident = permissions.get_visible_incident(request.user, number)
        row = UpdateCadence.objects.filter(incident=incident).select_related("set_by").first()
        if row is None:
            raise Http404("This incident has no update cadence.")
        return Response(CadenceSerializer(row).data)

    @extend_schema(request=CadenceInputSerializer, responses=CadenceSerializer,
                   operation_id="incident_cadence_update")
    def put(self, request, number):
        incident = permissions.get_visible_incident(request.user, number)
        data = _validated(CadenceInputSerializer, request)
        row = cadence.set_cadence(incident, by=request.user, minutes=data["minutes"])
        row = UpdateCadence.objects.select_related("set_by").get(pk=row.pk)
        return Response(CadenceSerializer(row).data)
