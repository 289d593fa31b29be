"""The one versioned REST surface: each app registers its viewsets here."""

from rest_framework.routers import DefaultRouter

from incidents.api import IncidentViewSet

router = DefaultRouter()
router.register("incidents", IncidentViewSet, basename="incident")

urlpatterns = router.urls
