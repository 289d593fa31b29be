"""Every staff write of the status page: branding, groups, components, a status set by hand, and
scheduled maintenance with alert intake's windows. The portal, the API, the demo data and the
commands all call these, so each rule is checked once and every change starts a new generation
of the page's cache inside its own transaction. `by` is the acting user (None: the system).

The steps a maintenance takes on its own are comms.status.maintenance's; "complete early" goes
through the same `move`, under the same row lock, so a person and the ticker never both take it.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.guards import has_role_perm
from comms.models import (
    Component,
    ComponentGroup,
    Maintenance,
    MaintenanceState,
    MaintenanceUpdate,
    StatusPage,
    SubscriberNotice,
)
from comms.status import cache, notices
from comms.status import components as statuses
from comms.status import maintenance as engine
from config import timerange
from config.errors import Conflict, NotAllowed
from incidents import audit
from incidents.intake import services as intake
from incidents.models import MaintenanceWindow

GROUP_FIELDS = ("name", "description", "position")
COMPONENT_FIELDS = ("name", "description", "group", "position", "follows_incidents", "internal")
BRANDING_FIELDS = ("name", "about", "logo_url", "accent_colour", "support_url", "time_zone")
MAINTENANCE_FIELDS = ("name", "body", "starts_at", "ends_at", "verify_minutes", "remind_minutes")
RUNNING = statuses.RUNNING
# What the audit log keeps of each: configuration, not what moves on its own (a component's
# status follows its incidents; a maintenance's state follows the clock).
AUDITED = {ComponentGroup: GROUP_FIELDS, Component: (*COMPONENT_FIELDS, "services"),
           StatusPage: BRANDING_FIELDS, Maintenance: (*MAINTENANCE_FIELDS, "components")}
THINGS = {ComponentGroup: "component_group", Component: "component",
          StatusPage: "status_page", Maintenance: "maintenance"}


CANCELLED = "This maintenance is cancelled: nothing will change at the announced time."


def _require(by, perm: str, doing: str) -> None:
    # by=None is the system itself (demo data, commands run by an operator).
    if by is not None and not has_role_perm(by, perm):
        raise NotAllowed(f"Your role cannot {doing}.")


def _clean_text(fields: dict) -> dict:
    return {k: v.strip() if isinstance(v, str) else v for k, v in fields.items()}


def _audited(obj) -> dict:
    state = audit.snapshot(obj, AUDITED[type(obj)])
    if isinstance(obj, Maintenance):
        state["windows"] = obj.windows.exists()  # alert intake's windows: nobody is paged
    return state


def _log(verb: str, obj, *, by, before: dict | None, after: dict | None, **extra) -> None:
    audit.log(f"{THINGS[type(obj)]}.{verb}", obj, actor=by, before=before, after=after,
              **extra)


def _unknown(fields: dict, allowed) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise ValidationError({f: "Not a field that can be set here." for f in unknown})


# --- Groups -------------------------------------------------------------------------------------

def save_group(*, by, group: ComponentGroup | None = None, **fields) -> ComponentGroup:
    _require(by, "comms.change_componentgroup" if group else "comms.add_componentgroup",
             "change component groups")
    _unknown(fields, GROUP_FIELDS)
    with transaction.atomic():
        if group is not None:
            group = ComponentGroup.objects.select_for_update().get(pk=group.pk)
        group = group or ComponentGroup()
        before = _audited(group) if group.pk else None
        for name, value in _clean_text(fields).items():
            setattr(group, name, value)
        group.full_clean()
        group.save()
        _log("update" if before else "create", group, by=by, before=before,
             after=_audited(group))
        cache.invalidate()
    return group


def delete_group(*, by, group: ComponentGroup) -> None:
    _require(by, "comms.delete_componentgroup", "delete component groups")
    with transaction.atomic():
        count = group.components.count()
        if count:
            raise Conflict(f"{group.name} still holds {count} component{'s' * (count != 1)}: "
                           "move them to another group or delete them first.")
        pk, before = group.pk, _audited(group)
        group.delete()
        _log("delete", group, by=by, before=before, after=None, object_id=pk)
        cache.invalidate()


# --- Components ---------------------------------------------------------------------------------

def save_component(*, by, component: Component | None = None, services=None,
                   **fields) -> Component:
    """Create or change a component; `services` (when given) replaces its linked services, and
    a component that follows incidents then shows what its services' open incidents call for."""
    _require(by, "comms.change_component" if component else "comms.add_component",
             "change components")
    _unknown(fields, COMPONENT_FIELDS)
    with transaction.atomic():
        if component is not None:
            component = Component.objects.select_for_update().get(pk=component.pk)
        component = component or Component()
        before = _audited(component) if component.pk else None
        for name, value in _clean_text(fields).items():
            setattr(component, name, value)
        component.full_clean(exclude=["services"])
        component.save()
        if services is not None:
            component.services.set(services)
        _log("update" if before else "create", component, by=by, before=before,
             after=_audited(component))
        cache.invalidate()
        statuses.recompute(component)
    return component


def delete_component(*, by, component: Component) -> None:
    """A component with a status history is kept: its uptime bars are part of the page's record
    (mark it internal to take it off the public page)."""
    _require(by, "comms.delete_component", "delete components")
    with transaction.atomic():
        changes = component.changes.count()
        if changes:
            raise Conflict(f"{component.name} has a status history ({changes} "
                           f"change{'s' * (changes != 1)}) that the page's uptime bars show, so "
                           "it cannot be deleted. Mark it internal to take it off the public "
                           "page.")
        pk, before = component.pk, _audited(component)
        component.delete()
        _log("delete", component, by=by, before=before, after=None, object_id=pk)
        cache.invalidate()


def set_status(*, by, component: Component, status: str, note: str = "") -> bool:
    """A status set by hand (statuses.set_by_hand checks the role and records it)."""
    return statuses.set_by_hand(component, status, by=by, note=note)


# --- Branding -----------------------------------------------------------------------------------

def save_branding(*, by, **fields) -> StatusPage:
    _require(by, "comms.change_statuspage", "change the status page's branding")
    _unknown(fields, BRANDING_FIELDS)
    with transaction.atomic():
        page = StatusPage.load()
        page = StatusPage.objects.select_for_update().get(pk=page.pk)
        before = _audited(page)
        for name, value in _clean_text(fields).items():
            setattr(page, name, value)
        page.full_clean()
        page.save()
        _log("update", page, by=by, before=before, after=_audited(page))
        cache.invalidate()
    return page


# --- Maintenance --------------------------------------------------------------------------------

def _check_times(row: Maintenance) -> None:
    timerange.check(starts_at=row.starts_at, ends_at=row.ends_at)
    if row.ends_at <= row.starts_at:
        raise ValidationError({"ends_at": "The maintenance must end after it starts."})


def schedule(*, by, components=(), windows: bool = False, **fields) -> Maintenance:
    """Schedule a maintenance: its first public update, the subscribers' "scheduled" notice,
    and, with `windows`, an alert-intake maintenance window per linked service of its
    components (nobody is paged for those services while it runs)."""
    _require(by, "comms.add_maintenance", "schedule maintenance")
    _unknown(fields, MAINTENANCE_FIELDS)
    with transaction.atomic():
        row = Maintenance(created_by=by, **_clean_text(fields))
        row.full_clean(exclude=["components", "windows"])
        _check_times(row)
        if row.ends_at <= timezone.now():
            raise ValidationError({"ends_at": "The maintenance must end in the future."})
        row.next_action_at = engine.next_action_at(row)
        row.save()
        row.components.set(components)
        MaintenanceUpdate.objects.create(maintenance=row, state=MaintenanceState.SCHEDULED,
                                         body=row.body, by=by)
        if windows:
            _sync_windows(row, by=by, wanted=True)
        _log("schedule", row, by=by, before=None, after=_audited(row))
        notices.for_maintenance(row, MaintenanceState.SCHEDULED)
        cache.invalidate()
    return row


def edit(*, by, maintenance: Maintenance, components=None, windows: bool | None = None,
         **fields) -> Maintenance:
    """Change a maintenance that is not completed. Its start moves only while it is scheduled,
    its end until it is being verified; its windows follow its times and components."""
    _require(by, "comms.change_maintenance", "change maintenance")
    _unknown(fields, MAINTENANCE_FIELDS)
    with transaction.atomic():
        row = Maintenance.objects.select_for_update().get(pk=maintenance.pk)
        if row.state == MaintenanceState.COMPLETED:
            raise Conflict("The maintenance is completed: it can no longer be changed.")
        before = (row.starts_at, row.ends_at, set(row.components.values_list("pk", flat=True)))
        audited = _audited(row)
        fields = _clean_text(fields)
        _refuse_moving_the_past(row, fields)
        for name, value in fields.items():
            setattr(row, name, value)
        row.full_clean(exclude=["components", "windows"])
        _check_times(row)
        row.next_action_at = engine.next_action_at(row)
        row.save()
        if components is not None:
            row.components.set(components)
        if windows is not None or components is not None or before[:2] != (row.starts_at,
                                                                              row.ends_at):
            wanted = row.windows.exists() if windows is None else windows
            _sync_windows(row, by=by, wanted=wanted)
        if row.state in RUNNING and components is not None:
            _components_follow(row, left=before[2] - {c.pk for c in components})
        _log("update", row, by=by, before=audited, after=_audited(row))
        cache.invalidate()
    maintenance.refresh_from_db()
    return row


def _refuse_moving_the_past(row: Maintenance, fields: dict) -> None:
    errors = {}
    if "starts_at" in fields and fields["starts_at"] != row.starts_at \
            and row.state != MaintenanceState.SCHEDULED:
        errors["starts_at"] = "It has started: its start can no longer move."
    if "ends_at" in fields and fields["ends_at"] != row.ends_at \
            and row.state == MaintenanceState.VERIFYING:
        errors["ends_at"] = "It has ended and is being verified: its end can no longer move."
    if errors:
        raise ValidationError(errors)


def _components_follow(row: Maintenance, left: set[int]) -> None:
    statuses.following_maintenance(row)
    for component in Component.objects.filter(pk__in=left).order_by("pk"):
        statuses.recompute(component, maintenance=row)


def delete(*, by, maintenance: Maintenance) -> None:
    """Cancel a maintenance that has not started; its windows are removed. One nobody was told
    of yet is deleted; one subscribers were told of stays in the history, completed with a
    "cancelled" update that they receive too."""
    _require(by, "comms.delete_maintenance", "cancel maintenance")
    with transaction.atomic():
        row = Maintenance.objects.select_for_update().get(pk=maintenance.pk)
        if row.state != MaintenanceState.SCHEDULED:
            raise Conflict("The maintenance has started: complete it instead of cancelling it.")
        windows = list(row.windows.all())
        pk, before = row.pk, {**_audited(row), "state": row.state}
        if SubscriberNotice.objects.filter(maintenance=row).exists():
            engine.move(row, MaintenanceState.COMPLETED, at=timezone.now(), by=by,
                        body=CANCELLED)
            Maintenance.objects.filter(pk=row.pk).update(next_action_at=None)
            row.windows.clear()
            state = Maintenance.objects.values_list("state", flat=True).get(pk=row.pk)
            _log("cancel", row, by=by, before=before, after={**_audited(row), "state": state},
                 note="Subscribers had been told of it: it stays in the history, completed "
                      "with a cancelled update.")
        else:
            row.delete()
            _log("delete", row, by=by, before=before, after=None, object_id=pk)
        for window in windows:
            window.delete()  # intake forgets its cached windows on the delete signal
        cache.invalidate()


def post_update(*, by, maintenance: Maintenance, body: str) -> MaintenanceUpdate:
    """A public update in the maintenance's current state (what customers read)."""
    _require(by, "comms.add_maintenanceupdate", "post maintenance updates")
    body = (body or "").strip()
    with transaction.atomic():
        row = Maintenance.objects.select_for_update().get(pk=maintenance.pk)
        update = MaintenanceUpdate(maintenance=row, state=row.state, body=body, by=by)
        update.full_clean()
        update.save()
        Maintenance.objects.filter(pk=row.pk).update(updated_at=update.at)
        cache.invalidate()
        if row.state != MaintenanceState.COMPLETED:
            notices.for_maintenance(row, "update", update)
    return update


def complete(*, by, maintenance: Maintenance, body: str = "") -> Maintenance:
    """Complete a running maintenance early: its components follow and its windows end now."""
    _require(by, "comms.change_maintenance", "complete maintenance")
    with transaction.atomic():
        row = Maintenance.objects.select_for_update().get(pk=maintenance.pk)
        if row.state not in RUNNING:
            raise Conflict("Only a maintenance in progress or being verified can be completed "
                           "early." if row.state == MaintenanceState.SCHEDULED
                           else "The maintenance is already completed.")
        now = timezone.now()
        engine.move(row, MaintenanceState.COMPLETED, at=now, by=by,
                         body=(body or "").strip())
        Maintenance.objects.filter(pk=row.pk).update(next_action_at=None)
        for window in row.windows.filter(ends_at__gt=now):
            if window.starts_at >= now:
                window.delete()
            else:
                intake.update_maintenance_window(by=by, window=window, ends_at=now)
    maintenance.refresh_from_db()
    return maintenance


# --- Alert intake's windows ---------------------------------------------------------------------

def _sync_windows(row: Maintenance, *, by, wanted: bool) -> None:
    """One window per linked service of the maintenance's components, over its times; none when
    not `wanted`. Windows already over are left as they are (they are history)."""
    now = timezone.now()
    services = {}
    if wanted:
        for component in row.components.prefetch_related("services"):
            for service in component.services.all():
                services[service.pk] = service
    existing: dict[int, MaintenanceWindow] = {}
    for window in row.windows.select_related("service"):
        if window.service_id not in services:
            if window.ends_at > now:
                window.delete()
            continue
        existing[window.service_id] = window
    reason = f"Status page maintenance: {row.name}"[:200]
    for pk, service in services.items():
        window = existing.get(pk)
        if window is None:
            row.windows.add(intake.create_maintenance_window(
                by=by, service=service, starts_at=row.starts_at, ends_at=row.ends_at,
                reason=reason))
        elif (window.starts_at, window.ends_at, window.reason) != (row.starts_at, row.ends_at,
                                                                    reason):
            intake.update_maintenance_window(by=by, window=window, starts_at=row.starts_at,
                                             ends_at=row.ends_at, reason=reason)

