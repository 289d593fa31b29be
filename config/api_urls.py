"""The one versioned REST surface: each app registers its viewsets here."""

from rest_framework.routers import DefaultRouter

from comms.sla.api import IncidentSlaViewSet
from incidents.api import IncidentViewSet
from incidents.intake.api import IntegrationViewSet, ServiceViewSet

router = DefaultRouter()
router.register("incidents", IncidentViewSet, basename="incident")
router.register("services", ServiceViewSet, basename="service")
router.register("integrations", IntegrationViewSet, basename="integration")
router.register(r"incidents/(?P<number>[0-9]{1,12})/sla", IncidentSlaViewSet,
                basename="incident-sla")

urlpatterns = router.urls
