"""REST API of incidents. Views translate HTTP to incidents.services calls and back; who may see
and change what is asked of incidents.permissions only."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework import permissions as drf_permissions
from rest_framework.decorators import action
from rest_framework.response import Response

from incidents import permissions, queries, services
from incidents.models import Incident
from incidents.serializers import (
    DeclareSerializer,
    IncidentFilterSerializer,
    IncidentSerializer,
    NoteSerializer,
    RolesSerializer,
    SeverityChangeSerializer,
    TimelineEntrySerializer,
    TimelineQuerySerializer,
    TransitionSerializer,
)


class IncidentAccess(drf_permissions.BasePermission):
    """Declaring needs can_declare; every change to an incident needs can_edit."""

    message = "Your role cannot declare or change incidents."

    def has_permission(self, request, view):
        return view.action != "create" or permissions.can_declare(request.user)

    def has_object_permission(self, request, view, obj):
        return (request.method in drf_permissions.SAFE_METHODS
                or permissions.can_edit(request.user, obj))


ROLES = ("commander", "comms_lead", "responders")


@extend_schema_view(
    list=extend_schema(parameters=[IncidentFilterSerializer]),
    create=extend_schema(request=DeclareSerializer, responses={201: IncidentSerializer}),
)
class IncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      viewsets.GenericViewSet):
    """Incidents visible to the caller. Changes go through the POST actions; incidents are
    never edited in place or deleted."""

    serializer_class = IncidentSerializer
    permission_classes = [drf_permissions.IsAuthenticated, IncidentAccess]
    lookup_url_kwarg = "number"
    queryset = Incident.objects.none()  # for the schema; requests use the visibility filter
    answers_conflict = True  # services raise Conflict, see config.errors.api_exception_handler

    def get_queryset(self):
        filters = IncidentFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
        incidents = queries.filter_incidents(
            self.request.user,
            status=params.get("status") or "all",
            severity=params.get("severity", ""),
            service=params.get("service", ""),
            team=params.get("team", ""),
            mine=bool(params.get("mine")),
            q=params.get("q", ""),
        )
        return _with_everything_shown(incidents, self.request.user)

    def get_object(self):
        # Actions re-read the row under a lock, so only the detail view prefetches.
        queryset = (_with_everything_shown(Incident.objects, self.request.user)
                    if self.action == "retrieve" else None)
        incident = permissions.get_visible_incident(
            self.request.user, self.kwargs["number"], queryset)
        self.check_object_permissions(self.request, incident)
        return incident

    def create(self, request):
        data = _validated(DeclareSerializer, request)
        incident = services.declare(by=request.user, **data)
        return Response(IncidentSerializer(incident).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TransitionSerializer, responses=IncidentSerializer)
    @action(detail=True, methods=["post"])
    def transition(self, request, number=None):
        incident = self.get_object()
        data = _validated(TransitionSerializer, request)
        services.transition(incident, to=data["status"], note=data["note"], by=request.user)
        return Response(IncidentSerializer(incident).data)

    @extend_schema(request=None, responses=IncidentSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, number=None):
        incident = services.acknowledge(self.get_object(), by=request.user)
        return Response(IncidentSerializer(incident).data)

    @extend_schema(request=SeverityChangeSerializer, responses=IncidentSerializer)
    @action(detail=True, methods=["post"])
    def severity(self, request, number=None):
        incident = self.get_object()
        data = _validated(SeverityChangeSerializer, request)
        services.change_severity(
            incident, severity=data["severity"], note=data["note"], by=request.user)
        return Response(IncidentSerializer(incident).data)

    @extend_schema(request=NoteSerializer, responses={201: TimelineEntrySerializer})
    @action(detail=True, methods=["post"])
    def notes(self, request, number=None):
        incident = self.get_object()
        data = _validated(NoteSerializer, request)
        entry = services.add_note(incident, text=data["text"], by=request.user)
        return Response(TimelineEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RolesSerializer, responses=IncidentSerializer)
    @action(detail=True, methods=["post"])
    def roles(self, request, number=None):
        incident = self.get_object()
        data = _validated(RolesSerializer, request)
        roles = {role: data.get(role, services.UNSET) for role in ROLES}
        services.assign_roles(incident, by=request.user, **roles)
        return Response(IncidentSerializer(incident).data)

    @extend_schema(parameters=[TimelineQuerySerializer],
                   responses=TimelineEntrySerializer(many=True))
    @action(detail=True, methods=["get"])
    def timeline(self, request, number=None):
        incident = self.get_object()
        after = _validated(TimelineQuerySerializer, request, request.query_params)["after"]
        entries = incident.timeline.filter(seq__gt=after).select_related("actor")
        page = permissions.hide_unseen_links(
            request.user, self.paginate_queryset(entries.order_by("seq")))
        return self.get_paginated_response(TimelineEntrySerializer(page, many=True).data)


def _with_everything_shown(incidents, user):
    """What IncidentSerializer reads, fetched in a constant number of queries."""
    return incidents.for_list().select_related("declared_by").prefetch_related(
        "customer_tiers", "responders").annotate(
        merged_into_visible=permissions.visible_flag(user, "merged_into"))


def _validated(serializer_class, request, data=None) -> dict:
    serializer = serializer_class(data=request.data if data is None else data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
