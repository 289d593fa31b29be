"""Staff pages of the status page under /status/manage/: the overview (components by group with
their status and a form to set it by hand, maintenance upcoming, running and recent), components,
groups, branding and scheduled maintenance. Everyone who may view components reads them;
Communications change them, always through comms.status.services."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.guards import has_role_perm
from comms.models import Component, ComponentGroup, Maintenance, MaintenanceState, StatusPage
from comms.status import manage_forms as forms
from comms.status import public, services
from config.errors import DomainError, NotAllowed
from config.forms import add_errors, show_error

VIEW, CHANGE = "comms.view_component", "comms.change_component"
RECENT_MAINTENANCES = 10


def _require(user, perm: str = VIEW) -> None:
    if not has_role_perm(user, perm):
        raise PermissionDenied("Your role cannot do this on the status page.")


def _component(request, code, perm=CHANGE) -> Component:
    _require(request.user, perm)
    return get_object_or_404(Component, code=code)


def _maintenance(request, code, perm=VIEW) -> Maintenance:
    _require(request.user, perm)
    return get_object_or_404(Maintenance, code=code)


def _refused(form, error: DomainError) -> None:
    """A refusal from the services, beside its field when it names one."""
    if isinstance(error, NotAllowed):
        raise PermissionDenied(error.message) from None
    show_error(form, error)


# --- The overview -------------------------------------------------------------------------------

@login_required
@require_GET
def overview(request):
    _require(request.user)
    return _render_overview(request)


def _render_overview(request, bound: tuple[str, forms.StatusForm] | None = None, status=200):
    can_edit = has_role_perm(request.user, CHANGE)
    rows = public.components(internal=True)
    groups: list[tuple[ComponentGroup | None, list]] = []
    for component in rows:
        if not groups or groups[-1][0] != component.group:
            groups.append((component.group, []))
        form = None
        if can_edit:
            form = (bound[1] if bound and bound[0] == component.code else forms.StatusForm(
                prefix=component.code, initial={"status": component.status}))
        groups[-1][1].append((component, form))
    empty_groups = ComponentGroup.objects.exclude(components__isnull=False)
    return render(request, "status/manage.html", {
        "groups": groups, "empty_groups": list(empty_groups), "can_edit": can_edit,
        "page": StatusPage.load(),
        "upcoming": Maintenance.objects.filter(state=MaintenanceState.SCHEDULED)
                                       .order_by("starts_at", "id"),
        "running": Maintenance.objects.filter(state__in=services.RUNNING)
                                      .order_by("starts_at", "id"),
        "recent": Maintenance.objects.filter(state=MaintenanceState.COMPLETED)
                                     .order_by("-ends_at", "-id")[:RECENT_MAINTENANCES],
    }, status=status)


@login_required
@require_POST
def set_status(request, code):
    component = _component(request, code)
    form = forms.StatusForm(request.POST, prefix=component.code)
    if form.is_valid():
        try:
            services.set_status(by=request.user, component=component, **form.cleaned_data)
        except DomainError as error:
            _refused(form, error)
        else:
            messages.success(request, f"{component.name} is now "
                                      f"{component.get_status_display().lower()}.")
            return redirect("status:manage")
    return _render_overview(request, bound=(component.code, form), status=400)


# --- Components and groups ----------------------------------------------------------------------

def _save(request, form, save, *, title, template="status/manage_form.html", extra=None):
    """The edit pages' common path: the service saves, refusals show beside their fields."""
    if request.method == "POST" and form.is_valid():
        try:
            saved = save(form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        except DomainError as error:
            _refused(form, error)
        else:
            messages.success(request, f"Saved {saved}.")
            return redirect("status:manage")
    return render(request, template, {"form": form, "title": title, **(extra or {})},
                  status=400 if request.method == "POST" else 200)


def _fields(data: dict, names) -> dict:
    return {name: data[name] for name in names if name in data}


@login_required
@require_http_methods(["GET", "POST"])
def component_new(request):
    _require(request.user, "comms.add_component")
    form = forms.ComponentForm(request.POST or None)
    return _save(request, form, lambda d: services.save_component(
        by=request.user, services=d["services"], **_fields(d, services.COMPONENT_FIELDS)),
        title="New component")


@login_required
@require_http_methods(["GET", "POST"])
def component_edit(request, code):
    component = _component(request, code)
    form = forms.ComponentForm(request.POST or None, instance=component,
                               initial={"services": list(component.services.all())})
    return _save(request, form, lambda d: services.save_component(
        by=request.user, component=component, services=d["services"],
        **_fields(d, services.COMPONENT_FIELDS)),
        title=f"Edit {component.name}",
        extra={"delete_url": "status:manage-component-delete", "code": component.code})


@login_required
@require_POST
def component_delete(request, code):
    component = _component(request, code, "comms.delete_component")
    return _delete(request, lambda: services.delete_component(by=request.user,
                                                              component=component),
                   f"Deleted {component.name}.")


def _delete(request, delete, done: str):
    try:
        delete()
    except NotAllowed as error:
        raise PermissionDenied(error.message) from None
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("status:manage")


@login_required
@require_http_methods(["GET", "POST"])
def group_new(request):
    _require(request.user, "comms.add_componentgroup")
    form = forms.GroupForm(request.POST or None)
    return _save(request, form, lambda d: services.save_group(by=request.user, **d),
                 title="New group")


@login_required
@require_http_methods(["GET", "POST"])
def group_edit(request, code):
    _require(request.user, "comms.change_componentgroup")
    group = get_object_or_404(ComponentGroup, code=code)
    form = forms.GroupForm(request.POST or None, instance=group)
    return _save(request, form, lambda d: services.save_group(by=request.user, group=group, **d),
                 title=f"Edit {group.name}",
                 extra={"delete_url": "status:manage-group-delete", "code": group.code})


@login_required
@require_POST
def group_delete(request, code):
    _require(request.user, "comms.delete_componentgroup")
    group = get_object_or_404(ComponentGroup, code=code)
    return _delete(request, lambda: services.delete_group(by=request.user, group=group),
                   f"Deleted {group.name}.")


@login_required
@require_http_methods(["GET", "POST"])
def branding(request):
    _require(request.user, "comms.change_statuspage")
    form = forms.BrandingForm(request.POST or None, instance=StatusPage.load())
    return _save(request, form, lambda d: services.save_branding(by=request.user, **d),
                 title="Branding")


# --- Maintenance --------------------------------------------------------------------------------

def _maintenance_fields(data: dict, row: Maintenance | None = None) -> dict:
    """The form's fields; a time left as shown is left out: the form shows minutes, and a
    start or end set to the second (through the API) must not look moved."""
    fields = _fields(data, services.MAINTENANCE_FIELDS)
    for name in ("starts_at", "ends_at") if row else ():
        if fields.get(name) == getattr(row, name).replace(second=0, microsecond=0):
            del fields[name]
    return fields


@login_required
@require_http_methods(["GET", "POST"])
def maintenance_new(request):
    _require(request.user, "comms.add_maintenance")
    form = forms.MaintenanceForm(request.POST or None)
    return _save(request, form, lambda d: services.schedule(
        by=request.user, components=d["components"], windows=d["windows"],
        **_maintenance_fields(d)), title="Schedule maintenance")


@login_required
@require_http_methods(["GET", "POST"])
def maintenance_detail(request, code):
    """The maintenance's page: its updates, and for Communications its edit form, an update
    form and its actions (complete early, cancel)."""
    maintenance = _maintenance(request, code)
    can_edit = has_role_perm(request.user, "comms.change_maintenance")
    if request.method == "POST":
        _require(request.user, "comms.change_maintenance")
    editable = can_edit and maintenance.state != MaintenanceState.COMPLETED
    form = forms.MaintenanceForm(request.POST or None, instance=maintenance,
                                 initial={"components": list(maintenance.components.all())})
    return _save(request, form, lambda d: services.edit(
        by=request.user, maintenance=maintenance, components=d["components"],
        windows=d["windows"], **_maintenance_fields(d, maintenance)),
        title=maintenance.name, template="status/manage_maintenance.html",
        extra=_maintenance_context(maintenance, can_edit, editable))


def _maintenance_context(maintenance, can_edit, editable, update_form=None,
                         complete_form=None) -> dict:
    return {
        "maintenance": maintenance, "can_edit": can_edit, "editable": editable,
        "updates": maintenance.updates.select_related("by").order_by("-at", "-id"),
        "windows": maintenance.windows.select_related("service").order_by("service__name"),
        "update_form": update_form or forms.UpdateForm(),
        "complete_form": complete_form or forms.CompleteForm(),
        "running": maintenance.state in services.RUNNING,
    }


def _render_refused(request, maintenance, **bound):
    """The maintenance page again, 400, with the refused form's errors beside its fields."""
    can_edit = has_role_perm(request.user, "comms.change_maintenance")
    return render(request, "status/manage_maintenance.html", {
        "title": maintenance.name, "form": forms.MaintenanceForm(
            instance=maintenance, initial={"components": list(maintenance.components.all())}),
        **_maintenance_context(maintenance, can_edit,
                               can_edit and maintenance.state != MaintenanceState.COMPLETED,
                               **bound)}, status=400)


@login_required
@require_POST
def maintenance_update(request, code):
    maintenance = _maintenance(request, code, "comms.add_maintenanceupdate")
    form = forms.UpdateForm(request.POST)
    if form.is_valid():
        try:
            services.post_update(by=request.user, maintenance=maintenance,
                                 body=form.cleaned_data["body"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "Update posted.")
            return redirect("status:manage-maintenance", maintenance.code)
    return _render_refused(request, maintenance, update_form=form)


@login_required
@require_POST
def maintenance_complete(request, code):
    maintenance = _maintenance(request, code, "comms.change_maintenance")
    form = forms.CompleteForm(request.POST)
    if not form.is_valid():
        return _render_refused(request, maintenance, complete_form=form)
    try:
        services.complete(by=request.user, maintenance=maintenance,
                          body=form.cleaned_data["body"])
    except NotAllowed as error:
        raise PermissionDenied(error.message) from None
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{maintenance.name} is completed.")
    return redirect("status:manage-maintenance", maintenance.code)


@login_required
@require_POST
def maintenance_delete(request, code):
    maintenance = _maintenance(request, code, "comms.delete_maintenance")
    try:
        services.delete(by=request.user, maintenance=maintenance)
    except NotAllowed as error:
        raise PermissionDenied(error.message) from None
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("status:manage-maintenance", maintenance.code)
    messages.success(request, f"Cancelled {maintenance.name}.")
    return redirect("status:manage")
