"""REST API of action items, for tracker syncs (Jira, Linear): the same services, visibility and
filters as the portal's /action-items/.

GET /action-items/ (filters: owner, status, team, overdue, incident), GET/PATCH
/action-items/{id}/ (PATCH names the version it was made from: a stale one is refused with 409
and the item as it is now), POST /action-items/{id}/status/, POST
/incidents/{number}/postmortem/action-items/. A hidden item is a 404, like a missing one."""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework import permissions as drf_permissions
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_input import SlugRelatedField
from config.errors import Conflict
from config.strictjson import unstorable_reason
from incidents import permissions as incident_permissions
from oncall.models import Team
from postmortems import permissions as perms
from postmortems.items import queries, services
from postmortems.models import ActionItem, ItemKind, ItemStatus, Priority

INT_MAX = 2**31 - 1
STATUS_FILTERS = ["open", "finished", ItemStatus.IN_PROGRESS, ItemStatus.DONE,
                  ItemStatus.ACCEPTED]
CANNOT_CHANGE = "Only Responders and the item's owner can change an action item."


class ActionItemSerializer(serializers.ModelSerializer):
    incident = serializers.IntegerField(source="incident_id", read_only=True,
                                        help_text="The incident's number.")
    reference = serializers.CharField(source="incident.reference", read_only=True)
    postmortem = serializers.IntegerField(source="postmortem_id", read_only=True)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True,
                                         allow_null=True)
    # Text, not an enum, in the document: an enum named "status" collides with the incidents'.
    status = serializers.CharField(read_only=True, help_text=", ".join(ItemStatus.values))
    # Text, not a URI, in the document: most items have no ticket ("").
    ticket_url = serializers.CharField(read_only=True,
                                       help_text="The issue in your tracker, or empty.")
    overdue = serializers.SerializerMethodField(help_text="Open and past its due date.")
    url = serializers.SerializerMethodField(help_text="The item on the post-mortem's page.")

    class Meta:
        model = ActionItem
        fields = ["id", "incident", "reference", "postmortem", "title", "description", "owner",
                  "due_on", "priority", "kind", "status", "accepted_reason", "ticket_url",
                  "overdue", "version", "created_at", "finished_at", "url"]
        read_only_fields = fields

    def get_overdue(self, item) -> bool:
        return item.is_overdue(self.context.get("today"))

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, item) -> str:
        path = reverse("items:incident-items", args=[item.incident_id])
        request = self.context.get("request")
        url = request.build_absolute_uri(path) if request is not None else path
        return f"{url}#action-item-{item.pk}"


class ActionItemFilterSerializer(serializers.Serializer):
    """Query parameters of the list; a blank value means no filter, as in the portal's form."""

    owner = serializers.CharField(required=False, allow_blank=True, max_length=150,
                                  help_text="A username, or `me`.")
    status = serializers.CharField(required=False, allow_blank=True, max_length=20,
                                   help_text="open (open and in progress), finished (done and "
                                             "accepted), in_progress, done or accepted.")
    team = SlugRelatedField(slug_field="slug", queryset=Team.objects.all(), required=False,
                            allow_null=True, help_text="Team slug (owner of a service).")
    overdue = serializers.BooleanField(required=False, help_text="Only open, overdue items.")
    incident = serializers.IntegerField(required=False, min_value=1, max_value=INT_MAX,
                                        help_text="The incident's number.")

    def validate_owner(self, value):
        if not value:
            return None
        if value == "me":
            return self.context["request"].user
        reason = unstorable_reason(value)
        if reason:
            raise serializers.ValidationError(reason)
        owner = get_user_model().objects.filter(username=value).first()
        if owner is None:
            raise serializers.ValidationError(f"No user is called {value}.")
        return owner

    def validate_status(self, value):
        if value and value not in STATUS_FILTERS:
            raise serializers.ValidationError(f"Choose one of {', '.join(STATUS_FILTERS)}.")
        return value


class ActionItemInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    owner = SlugRelatedField(slug_field="username", queryset=get_user_model().objects.all(),
                             required=False, allow_null=True,
                             help_text="A username; null for nobody yet.")
    due_on = serializers.DateField(required=False, allow_null=True,
                                   help_text="Omitted or null on creation: the default for the "
                                             "incident's severity.")
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    kind = serializers.ChoiceField(choices=ItemKind.choices, required=False)
    ticket_url = serializers.CharField(max_length=500, required=False, allow_blank=True,
                                       help_text="The issue in your tracker, if there is one.")


class ActionItemEditSerializer(ActionItemInputSerializer):
    version = serializers.IntegerField(min_value=1, max_value=INT_MAX,
                                       help_text="The version this edit was made from.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["title"].required = False
        # A due date stays a date: only new items take the default.
        self.fields["due_on"].allow_null = False


class ActionItemStatusSerializer(serializers.Serializer):
    # Text, not an enum, in the document: an enum named "status" collides with the incidents'.
    status = serializers.CharField(max_length=20, help_text=", ".join(ItemStatus.values))
    reason = serializers.CharField(max_length=services.REASON_MAX, required=False,
                                   allow_blank=True, default="",
                                   help_text="Why it is accepted without being done (required "
                                             "for accepted).")

    def validate_status(self, value):
        if value not in ItemStatus.values:
            raise serializers.ValidationError(f"Choose one of {', '.join(ItemStatus.values)}.")
        return value


class ActionItemConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    current = ActionItemSerializer(help_text="The item as it is now (its version included).")


def _validated(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _context(request) -> dict:
    return {"request": request, "today": timezone.localdate()}


def _visible_item(user, pk) -> ActionItem:
    """The item, or 404 whether it does not exist or is hidden from this user."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404("No such action item.") from None
    item = perms.visible_items(user, ActionItem.objects.select_related("owner", "incident")
                               ).filter(pk=pk).first() if 0 < pk <= INT_MAX else None
    if item is None:
        raise Http404("No such action item.")
    return item


class ActionItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        viewsets.GenericViewSet):
    """Action items visible to the caller (a restricted incident's only to those who may see
    it): open ones first by due date, then finished ones, the most recently finished first."""

    serializer_class = ActionItemSerializer
    permission_classes = [drf_permissions.IsAuthenticated]
    queryset = ActionItem.objects.none()  # for the schema; requests use the visibility filter
    lookup_value_regex = "[0-9]{1,12}"
    answers_conflict = True  # set_status raises Conflict (config.errors)
    http_method_names = ["get", "patch", "post", "head", "options"]

    def get_queryset(self):
        filters = ActionItemFilterSerializer(data=self.request.query_params,
                                             context={"request": self.request})
        filters.is_valid(raise_exception=True)
        return queries.filter_items(self.request.user, **filters.validated_data)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "today": timezone.localdate()}

    def get_object(self):
        return _visible_item(self.request.user, self.kwargs["pk"])

    @extend_schema(parameters=[ActionItemFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(description="Change an open item's fields, naming the version the change "
                               "was made from.", request=ActionItemEditSerializer, responses={
        200: ActionItemSerializer,
        409: OpenApiResponse(ActionItemConflictSerializer, "Made from an older version, or the "
                             "item is finished: nothing was changed.")})
    def partial_update(self, request, pk=None):
        item = self._changeable()
        data = dict(_validated(ActionItemEditSerializer, request))
        try:
            item = services.update(item, by=request.user, version=data.pop("version"), **data)
        except Conflict as error:
            current = _visible_item(request.user, item.pk)
            return Response({"detail": error.message, "current": ActionItemSerializer(
                current, context=_context(request)).data}, status=status.HTTP_409_CONFLICT)
        return self._answer(item)

    @extend_schema(description="Finish (done), accept as is (with a reason), start or reopen.",
                   request=ActionItemStatusSerializer, responses=ActionItemSerializer)
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, pk=None):
        item = self._changeable()
        data = _validated(ActionItemStatusSerializer, request)
        item = services.set_status(item, by=request.user, **data)
        return self._answer(item)

    def _changeable(self) -> ActionItem:
        """The visible item; 403 before reading the body when this person may not change it
        (the services check again)."""
        item = self.get_object()
        if not perms.can_update_item(self.request.user, item):
            raise PermissionDenied(CANNOT_CHANGE)
        return item

    def _answer(self, item):
        item = _visible_item(self.request.user, item.pk)
        return Response(ActionItemSerializer(item, context=_context(self.request)).data)


class IncidentActionItems(APIView):
    """Add an action item to the incident's post-mortem (whoever may write action items in the
    portal: Responders)."""

    permission_classes = [drf_permissions.IsAuthenticated]

    @extend_schema(request=ActionItemInputSerializer, responses={201: ActionItemSerializer},
                   operation_id="incident_postmortem_action_items_create")
    def post(self, request, number):
        incident = incident_permissions.get_visible_incident(request.user, number)
        postmortem = perms.visible_postmortems(request.user).filter(incident=incident).first()
        if postmortem is None:
            raise Http404("This incident has no post-mortem.")
        if not perms.can_write_items(request.user):
            raise PermissionDenied("Your role cannot add action items.")
        data = _validated(ActionItemInputSerializer, request)
        item = services.create(postmortem, by=request.user, **data)
        item = _visible_item(request.user, item.pk)
        return Response(ActionItemSerializer(item, context=_context(request)).data,
                        status=status.HTTP_201_CREATED)
