"""Admin registrations of this area (comms/admin.py imports them). Writes go through
comms.customers.services, as from the portal, the API and the import; the admin wraps a change in
one transaction, so the customer and its inline rows are saved whole or not at all."""

from django.contrib import admin

from comms.customers import services
from comms.models import ContractTarget, Customer, CustomerContact


class ContactInline(admin.TabularInline):
    model = CustomerContact
    extra = 1


class ContractTargetInline(admin.TabularInline):
    model = ContractTarget
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "external_id", "tier", "csm", "updated_at"]
    list_filter = ["tier", "csm"]
    search_fields = ["name", "external_id", "contacts__email"]
    list_select_related = ["tier", "csm"]
    exclude = ["incidents"]
    inlines = [ContactInline, ContractTargetInline]

    def save_model(self, request, obj, form, change):
        """Nothing yet: save_related() saves the customer with its rows in one service call,
        so the change is one audit entry."""

    def save_related(self, request, form, formsets, change):
        rows = {}
        for formset in formsets:
            fields = (services.CONTACT_FIELDS if formset.model is CustomerContact
                      else services.TARGET_FIELDS)
            rows[formset.model] = [
                {f: row.cleaned_data[f] for f in fields} for row in formset.forms
                if row.has_changed() or row.instance.pk
                if row.cleaned_data and not row.cleaned_data.get("DELETE")]
            # The service replaced the rows; the admin's history message reads these.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        obj = form.instance
        saved, _ = services.save_customer(
            by=request.user, customer=obj if change else None,
            **{f: form.cleaned_data[f] for f in services.CUSTOMER_FIELDS
               if f in form.cleaned_data},
            contacts=rows.get(CustomerContact), targets=rows.get(ContractTarget))
        obj.pk = saved.pk
        obj._state.adding = False
        obj.refresh_from_db()

    def has_delete_permission(self, request, obj=None):
        # A customer named on incidents is part of their record (services.delete_customer).
        if obj is not None and obj.incidents.exists():
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        services.delete_customer(obj, by=request.user)
