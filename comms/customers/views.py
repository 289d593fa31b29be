from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.guards import has_role_perm
from comms.customers import forms, services
from comms.models import Customer
from config.errors import DomainError
from config.forms import add_errors, keys
from incidents import permissions
from incidents.models import Service
from incidents.paging import leads

VIEW, CHANGE, ADD, REPORT = ("comms.view_customer", "comms.change_customer",
                             "comms.add_customer", "comms.report_issue")
LIST_LIMIT = 200  # a CRM may hold thousands; the search narrows them


def _require(user, perm: str) -> None:
    if not has_role_perm(user, perm):
        raise PermissionDenied("Your role cannot do this with customers.")


def _customer(request, pk, perm=VIEW) -> Customer:
    """The one access check of the customer pages: 403 without the role, 404 if missing."""
    _require(request.user, perm)
    return get_object_or_404(Customer.objects.select_related("tier", "csm"), pk=pk)


@login_required
@require_GET
def customer_list(request):
    _require(request.user, VIEW)
    filters = forms.CustomerFilterForm(request.GET or None)
    params = filters.cleaned_data if filters.is_valid() else {}
    customers = Customer.objects.select_related("tier", "csm").order_by("name", "id")
    if params.get("q"):
        customers = customers.filter(Q(name__icontains=params["q"])
                                     | Q(external_id__icontains=params["q"]))
    if params.get("tier"):
        customers = customers.filter(tier=params["tier"])
    rows = list(customers[:LIST_LIMIT + 1])
    context = {"customers": rows[:LIST_LIMIT], "more": len(rows) > LIST_LIMIT,
               "filters": filters, "can_change": has_role_perm(request.user, ADD)}
    if request.htmx:
        return render(request, "comms/customers/list.html#customer-rows", context)
    return render(request, "comms/customers/list.html", context)


@login_required
@require_GET
def customer_detail(request, pk):
    customer = _customer(request, pk)
    incidents = permissions.visible_incidents(
        request.user, customer.incidents.order_by("-created_at"))[:50]
    return render(request, "comms/customers/detail.html", {
        "customer": customer,
        "contacts": customer.contacts.all(),
        "targets": customer.contract_targets.all(),
        "incidents": incidents,
        "can_change": has_role_perm(request.user, CHANGE),
    })


@login_required
@require_http_methods(["GET", "POST"])
def customer_create(request):
    _require(request.user, ADD)
    return _edit(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def customer_edit(request, pk):
    return _edit(request, _customer(request, pk, CHANGE))


def _edit(request, customer):
    data = request.POST if request.method == "POST" else None
    form = forms.CustomerForm(data, instance=customer)
    contacts = forms.ContactFormSet(data, prefix="contacts", initial=[
        {f: getattr(c, f) for f in services.CONTACT_FIELDS}
        for c in customer.contacts.all()] if customer else None)
    targets = forms.TargetFormSet(data, prefix="targets", initial=_target_rows(customer))
    if data is not None and all([form.is_valid(), contacts.is_valid(), targets.is_valid()]):
        try:
            saved, _ = services.save_customer(
                by=request.user, customer=customer,
                **{f: form.cleaned_data[f] for f in services.CUSTOMER_FIELDS},
                contacts=forms.rows_of(contacts), targets=forms.rows_of(targets))
        except ValidationError as error:
            add_errors(form, error)
        except DomainError as error:
            raise PermissionDenied(error.message) from None
        else:
            return redirect("customers:detail", saved.pk)
    status = 400 if data is not None else 200
    return render(request, "comms/customers/edit.html", {
        "customer": customer, "form": form, "contacts": contacts, "targets": targets,
    }, status=status)


def _target_rows(customer) -> list[dict]:
    """One row per severity, the contract's values filled in where it has them."""
    existing = {t.severity: t for t in customer.contract_targets.all()} if customer else {}
    return [{"severity": sev, "response_minutes": getattr(existing.get(sev), "response_minutes",
                                                          None),
             "resolution_minutes": getattr(existing.get(sev), "resolution_minutes", None)}
            for sev in forms.Severity.values]


# --- the incident page's panel -----------------------------------------------------------------

@login_required
@require_GET
def incident_panel(request, number):
    """The incident page's Affected customers panel (loaded by htmx beside the timeline); without
    JavaScript the same URL is a page of its own."""
    incident = permissions.get_visible_incident(request.user, number)
    return _render_panel(request, incident)


@login_required
@require_POST
def incident_set_customers(request, number):
    incident = permissions.get_visible_incident(request.user, number)
    if not services.can_set_customers(request.user, incident):
        raise PermissionDenied("Your role cannot change this incident's customers.")
    form = forms.IncidentCustomersForm(request.POST)
    if form.is_valid():
        changed = services.set_customers(incident, form.cleaned_data["customers"],
                                         by=request.user)
        if not request.htmx:
            return redirect("customers:incident-panel", incident.pk)
        response = _render_panel(request, incident)
        if changed:
            response["HX-Trigger"] = "relay:changed"
        return response
    return _render_panel(request, incident, form=form, status=400)


def _render_panel(request, incident, form=None, status=200):
    customers = list(incident.customers.select_related("tier", "csm").order_by("name", "id"))
    can_set = services.can_set_customers(request.user, incident)
    if can_set and form is None:
        form = forms.IncidentCustomersForm(initial={"customers": [c.pk for c in customers]})
    template = ("comms/customers/incident_panel.html" if request.htmx
                else "comms/customers/incident_panel_page.html")
    return render(request, template, {"incident": incident, "customers": customers,
                                      "form": form if can_set else None}, status=status)


# --- reporting a customer issue ---------------------------------------------------------------

@login_required
@require_http_methods(["GET", "POST"])
def report(request):
    _require(request.user, REPORT)
    form = forms.ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        severity = "" if data["severity"] == forms.SUGGESTED else data["severity"]
        try:
            incident = services.report_issue(
                by=request.user, title=data["title"], service=data["service"],
                customers=data["customers"], what_customer_sees=data["what_customer_sees"],
                severity=severity)
        except ValidationError as error:
            add_errors(form, error)
        else:
            return redirect(reverse("incidents:detail", args=[incident.pk]))
    return render(request, "comms/customers/report.html", {
        "form": form, **_suggestion(form), **_silence(form),
    }, status=400 if request.method == "POST" else 200)


@login_required
@require_GET
def report_suggestion(request):
    """The report form asks again as customers are ticked: the suggested severity and why."""
    _require(request.user, REPORT)
    form = forms.ReportForm(request.GET)
    form.is_valid()
    return render(request, "comms/customers/report.html#suggestion", _suggestion(form))


def _suggestion(form) -> dict:
    chosen = _chosen_customers(form)
    severity, why = services.suggest_severity(chosen)
    return {"suggested": severity, "suggested_why": why}


def _chosen_customers(form) -> list:
    if not form.is_bound:
        return []
    ids = keys(form.data.getlist("customers"))
    return list(Customer.objects.filter(pk__in=ids).select_related("tier"))


def _silence(form) -> dict:
    chosen = keys([form.data.get("service", "")]) if form.is_bound else []
    service = (Service.objects.filter(pk=chosen[0]).select_related("team").first()
               if chosen else None)
    silent = service is not None and leads.nobody_will_be_paged([service])
    return {"silence": leads.silence_sentence([service]) if silent else ""}
