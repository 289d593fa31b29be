"""The one versioned REST surface: each app registers its viewsets here."""

from rest_framework.routers import DefaultRouter

from incidents.api import IncidentViewSet
from incidents.intake.api import IntegrationViewSet, ServiceViewSet

router = DefaultRouter()
router.register("incidents", IncidentViewSet, basename="incident")
router.register("services", ServiceViewSet, basename="service")
router.register("integrations", IntegrationViewSet, basename="integration")

urlpatterns = router.urls
