"""The one versioned REST surface: each app registers its viewsets here."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from comms.customers.api import CustomerViewSet, IncidentCustomersView
from comms.messages.api import IncidentCadence, IncidentMessages, MessageViewSet
from comms.sla.api import IncidentSlaViewSet
from comms.status.api import ComponentViewSet, MaintenanceViewSet
from incidents.api import IncidentViewSet
from incidents.intake.api import IntegrationViewSet, ServiceViewSet
from postmortems.api import IncidentPostmortem
from postmortems.items.api import ActionItemViewSet, IncidentActionItems

router = DefaultRouter()
router.register("incidents", IncidentViewSet, basename="incident")
router.register("services", ServiceViewSet, basename="service")
router.register("integrations", IntegrationViewSet, basename="integration")
router.register("customers", CustomerViewSet, basename="customer")
router.register("messages", MessageViewSet, basename="message")
router.register("status/components", ComponentViewSet, basename="status-component")
router.register("status/maintenances", MaintenanceViewSet, basename="status-maintenance")
router.register("action-items", ActionItemViewSet, basename="action-item")
router.register(r"incidents/(?P<number>[0-9]{1,12})/sla", IncidentSlaViewSet,
                basename="incident-sla")

urlpatterns = [
    *router.urls,
    # Customers (comms.customers)
    path("incidents/<int:number>/customers/", IncidentCustomersView.as_view(),
         name="incident-customers"),
    # Customer messages (comms.messages)
    path("incidents/<int:number>/messages/", IncidentMessages.as_view(),
         name="incident-messages"),
    path("incidents/<int:number>/cadence/", IncidentCadence.as_view(), name="incident-cadence"),
    path("incidents/<int:number>/postmortem/", IncidentPostmortem.as_view(),
         name="incident-postmortem"),
    path("incidents/<int:number>/postmortem/action-items/", IncidentActionItems.as_view(),
         name="incident-postmortem-action-items"),
]
