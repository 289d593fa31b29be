"""REST API of post-mortems: GET /incidents/{number}/postmortem/ answers the post-mortem as JSON
(postmortems.document.content), or with `?revision=k` a published revision as frozen. A hidden
incident's post-mortem is a 404, like the incident."""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions as drf_permissions
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents import permissions as incident_permissions
from postmortems import document, permissions
from postmortems.items import services as items
from postmortems.models import Postmortem, Revision

REVISION_MAX = 2**31 - 1


class IncidentPostmortem(APIView):
    """The incident's post-mortem: level, state, revision, facts, sections, action items and
    where its follow-up stands."""

    permission_classes = [drf_permissions.IsAuthenticated]

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT}, operation_id="incident_postmortem_retrieve",
        parameters=[OpenApiParameter(
            "revision", int, required=False,
            description="A published revision's number: that revision as it was published.")])
    def get(self, request, number):
        incident = incident_permissions.get_visible_incident(request.user, number)
        postmortem = permissions.visible_postmortems(request.user).filter(
            incident=incident).first()
        if postmortem is None:
            raise Http404("This incident has no post-mortem.")
        postmortem.incident = incident
        k = request.query_params.get("revision")
        if k is None:
            # With where its follow-up stands: the incident counts as closed once `complete`.
            return Response({**document.content(postmortem),
                             "follow_up": items.follow_up(postmortem)})
        return Response(_revision(postmortem, k).content)


def _revision(postmortem: Postmortem, k: str) -> Revision:
    if not (k.isascii() and k.isdigit() and 0 < int(k) <= REVISION_MAX):
        raise Http404("No such revision.")
    row = Revision.objects.filter(postmortem=postmortem, number=int(k)).first()
    if row is None:
        raise Http404("No such revision.")
    return row
