"""REST API of customers, for syncing them from a CRM: nested contacts and contract targets, an
upsert by the CRM's id, and an incident's affected customers. Writes go through
comms.customers.services, as from the portal."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework import permissions as drf_permissions
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.guards import has_role_perm
from comms.customers import services
from comms.models import ContractTarget, Customer, CustomerContact
from config import strictjson
from config.api_input import SlugRelatedField
from config.errors import NotAllowed
from incidents import permissions as incident_permissions
from incidents.models import CustomerTier

User = get_user_model()
EXTERNAL_ID = r"[-\w.:@]{1,100}"


class ContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomerContact
        fields = ["name", "email", "role", "receives_updates"]


class ContractTargetSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContractTarget
        fields = ["severity", "response_minutes", "resolution_minutes"]
        extra_kwargs = {"response_minutes": {"max_value": 10**6},
                        "resolution_minutes": {"max_value": 10**6}}


class CustomerSerializer(serializers.ModelSerializer):
    tier = SlugRelatedField(slug_field="slug", queryset=CustomerTier.objects.all())
    csm = SlugRelatedField(slug_field="username", queryset=User.objects.filter(is_active=True),
                           required=False, allow_null=True)
    contacts = ContactSerializer(many=True, required=False,
                                 help_text="When given, replaces the customer's contacts.")
    contract_targets = ContractTargetSerializer(
        many=True, required=False, help_text="When given, replaces the contract targets.")

    class Meta:
        model = Customer
        fields = ["id", "external_id", "name", "tier", "csm", "notes", "contacts",
                  "contract_targets", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        # Uniqueness is the service's to check (an upsert updates the row holding the id).
        extra_kwargs = {"external_id": {"validators": []}}

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as error:
            raise serializers.ValidationError(_flat(error.detail)) from None


def _flat(detail):
    """Errors of nested rows as sentences under their field ("contacts": ["Contact 2: email:
    …"]), as the service words them: every 400 body is {field: [messages]}."""
    if not isinstance(detail, dict):
        return detail
    flat = {}
    for field, errors in detail.items():
        if isinstance(errors, dict):  # per row: {0: {"email": [...]}} or {0: [...]}
            label = {"contacts": "Contact", "contract_targets": "Target"}.get(field, "Item")
            errors = [f"{label} {_number(n)}: {f'{name}: ' if name else ''}{_words(messages)}"
                      for n, row in errors.items()
                      for name, messages in (row.items() if isinstance(row, dict)
                                             else [("", row)])]
        flat[field] = ([str(e) for e in errors] if isinstance(errors, list)
                       else [str(errors)])
    return flat


def _number(index) -> str:
    return str(int(index) + 1) if str(index).isdigit() else str(index)


def _words(messages) -> str:
    return " ".join(map(str, messages)) if isinstance(messages, list) else str(messages)


class CustomerAccess(drf_permissions.BasePermission):
    """The token user's model permissions: view to read, add, change, delete to write."""

    ACTIONS = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}

    def has_permission(self, request, view):
        verb = self.ACTIONS.get(request.method, "view")
        return has_role_perm(request.user, f"comms.{verb}_customer")


class CustomerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      mixins.CreateModelMixin, mixins.UpdateModelMixin,
                      mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = CustomerSerializer
    permission_classes = [drf_permissions.IsAuthenticated, CustomerAccess]
    lookup_value_regex = r"[0-9]{1,18}"
    queryset = Customer.objects.select_related("tier", "csm").prefetch_related(
        "contacts", "contract_targets").order_by("name", "id")

    def get_object(self):
        # The upsert route names the customer by its CRM id (OPTIONS asks for it too).
        if "external_id" in self.kwargs:
            return get_object_or_404(self.get_queryset(), external_id=self.kwargs["external_id"])
        return super().get_object()

    def perform_create(self, serializer):
        serializer.instance = _save(self.request.user, None, serializer.validated_data)[0]

    def perform_update(self, serializer):
        serializer.instance = _save(self.request.user, serializer.instance,
                                    serializer.validated_data)[0]

    def perform_destroy(self, instance):
        services.delete_customer(instance, by=self.request.user)

    @extend_schema(request=CustomerSerializer, responses={200: CustomerSerializer,
                                                          201: CustomerSerializer},
                   parameters=[OpenApiParameter("external_id", str, "path",
                                                pattern=f"^{EXTERNAL_ID}$")])
    @action(detail=False, methods=["put"], url_path=f"external/(?P<external_id>{EXTERNAL_ID})")
    def upsert(self, request, external_id=None):
        """Create or update the customer with this CRM id: 201 created, 200 updated. Contacts
        and contract targets given replace the customer's."""
        with transaction.atomic():
            existing = Customer.objects.select_for_update().filter(
                external_id=external_id).first()
            if existing is None and not has_role_perm(request.user, "comms.add_customer"):
                raise NotAllowed("Your role cannot add customers.")
            serializer = CustomerSerializer(existing, data={**_as_dict(request.data),
                                                            "external_id": external_id})
            serializer.is_valid(raise_exception=True)
            customer, outcome = _save(request.user, existing, serializer.validated_data)
        customer = self.get_queryset().get(pk=customer.pk)
        code = status.HTTP_201_CREATED if outcome == services.CREATED else status.HTTP_200_OK
        return Response(CustomerSerializer(customer).data, status=code)


def _as_dict(data) -> dict:
    if not isinstance(data, dict):
        raise serializers.ValidationError({"non_field_errors": ["Send a JSON object."]})
    return dict(data)


def _save(user, customer, data: dict):
    fields = {f: data[f] for f in services.CUSTOMER_FIELDS if f in data}
    try:
        return services.save_customer(by=user, customer=customer, **fields,
                                      contacts=data.get("contacts"),
                                      targets=data.get("contract_targets"))
    except DjangoValidationError as error:
        raise serializers.ValidationError(
            error.message_dict if hasattr(error, "error_dict") else error.messages) from None


# --- an incident's affected customers ----------------------------------------------------------

@extend_schema_field({"oneOf": [{"type": "integer", "minimum": 1},
                                {"type": "string", "pattern": f"^{EXTERNAL_ID}$"}]})
class CustomerRefField(serializers.Field):
    """A customer's id (a number) or its CRM external id (text)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            raise serializers.ValidationError("Give a customer id (a number) or external id.")
        if isinstance(data, str) and strictjson.unstorable_reason(data):
            raise serializers.ValidationError(strictjson.unstorable_reason(data))
        if isinstance(data, int) and not 0 < data < 2**63:
            raise serializers.ValidationError(f"No customer has id {data}.")
        return data


class IncidentCustomersInput(serializers.Serializer):
    customers = serializers.ListField(child=CustomerRefField(), max_length=500)

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as error:
            raise serializers.ValidationError(_flat(error.detail)) from None

    def validate_customers(self, refs):
        ids = {r for r in refs if isinstance(r, int)}
        external = {r for r in refs if isinstance(r, str)}
        found = list(Customer.objects.filter(pk__in=ids) | Customer.objects.filter(
            external_id__in=external))
        missing = (ids - {c.pk for c in found}) | (external - {c.external_id for c in found})
        if missing:
            raise serializers.ValidationError(
                f"Unknown customers: {', '.join(sorted(map(str, missing)))}.")
        return found


class AffectedCustomerSerializer(serializers.ModelSerializer):
    tier = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    csm = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Customer
        fields = ["id", "external_id", "name", "tier", "csm"]


class IncidentCustomersView(APIView):
    """GET the customers an incident affects; PUT replaces them (ids or external ids). An
    incident the caller cannot see is 404, whatever the method."""

    permission_classes = [drf_permissions.IsAuthenticated]

    def _incident(self, request, number):
        return incident_permissions.get_visible_incident(request.user, number)

    @extend_schema(responses=AffectedCustomerSerializer(many=True))
    def get(self, request, number):
        incident = self._incident(request, number)
        if not has_role_perm(request.user, "comms.view_customer"):
            raise NotAllowed("Your role cannot see customers.")
        return Response(_affected(incident))

    @extend_schema(request=IncidentCustomersInput,
                   responses=AffectedCustomerSerializer(many=True))
    def put(self, request, number):
        incident = self._incident(request, number)
        if not services.can_set_customers(request.user, incident):
            raise NotAllowed("Your role cannot change this incident's customers.")
        serializer = IncidentCustomersInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.set_customers(incident, serializer.validated_data["customers"],
                               by=request.user)
        return Response(_affected(incident))


def _affected(incident) -> list:
    customers = incident.customers.select_related("tier", "csm").order_by("name", "id")
    return AffectedCustomerSerializer(customers, many=True).data
