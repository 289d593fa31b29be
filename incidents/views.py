
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.errors import DomainError
from config.forms import add_errors, show_error
from config.navigation import safe_next
from incidents import forms, permissions, queries, services
from incidents.models import OPEN_STATUSES, SEVERITY_DESCRIPTIONS, Incident, Service, Status
from incidents.paging import escalation, leads
from oncall import permissions as oncall_permissions
from oncall.models import Team

TIMELINE_PAGE = 200  # newest entries shown on the incident page; older ones behind a link


def _incident(request, number, *, write=False) -> Incident:
    """The one access check of this app: 404 if hidden, 403 if the user may not change it."""
    queryset = Incident.objects.select_related(
        "commander", "comms_lead", "declared_by", "merged_into"
    ).prefetch_related("services__team", "customer_tiers", "responders")
    incident = permissions.get_visible_incident(request.user, number, queryset)
    if write and not permissions.can_edit(request.user, incident):
        raise PermissionDenied("You can view this incident but not change it.")
    return incident


@login_required
@require_GET
def dashboard(request):
    if not request.user.has_perm(permissions.VIEW):
        raise PermissionDenied("Your account has no role yet; ask an admin to add you to one.")
    filters = forms.DashboardFilterForm(request.GET or None, auto_id="filter_%s")
    params = filters.cleaned_data if filters.is_valid() else {}
    q = params.get("q") or ""  # the form strips it
    status = queries.dashboard_status(params.get("status") or "", q)
    incidents = queries.filter_incidents(
        request.user,
        status=status,
        severity=params.get("severity") or "",
        service=params["service"].slug if params.get("service") else "",
        team=params["team"].slug if params.get("team") else "",
        mine=params.get("mine") or False,
        q=q,
        sort=params.get("sort") or "",
    )
    page = Paginator(incidents, settings.RELAY_INCIDENTS_PER_PAGE).get_page(request.GET.get("page"))
    page.object_list = queries.annotate_rows(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    open_only = query.copy()
    open_only["status"] = "open"
    context = {
        "page": page,
        "filters": filters,
        "query": query.urlencode(),
        "list_heading": _list_heading(status, searching=bool(q)),
        # A search widened to every status offers the way back to open incidents only.
        "open_only_query": open_only.urlencode() if q and not params.get("status") else "",
        "counts": queries.open_counts(request.user),
        "row_extras": queries.ROW_EXTRAS,
        "can_acknowledge": permissions.can_edit(request.user),
        "poll_seconds": settings.RELAY_DASHBOARD_POLL_SECONDS,
    }
    if request.htmx:
        return render(request, "incidents/dashboard.html#incident-list", context)
    can_declare = permissions.can_declare(request.user)
    context["declare_form"] = _side_declare_form() if can_declare else None
    context["severity_help"] = SEVERITY_DESCRIPTIONS
    context["show_on_call"] = oncall_permissions.can_view(request.user)
    return render(request, "incidents/dashboard.html", context)


def _side_declare_form():
    """The dashboard's declare form, not focused on load: on a phone it sits below the list, and
    focusing it would scroll the list and the menu out of sight. The declare page focuses it."""
    form = forms.DeclareForm()
    form.fields["title"].widget.attrs.pop("autofocus", None)
    return form


def _list_heading(status: str, *, searching: bool) -> str:
    if searching:
        return ("Matching incidents in any status" if status == "all"
                else f"Matching incidents: {_STATUS_LABELS.get(status, status)}")
    return {"open": "Open incidents", "all": "All incidents"}.get(
        status, f"Incidents: {_STATUS_LABELS.get(status, status)}")


_STATUS_LABELS = {**dict(Status.choices), "open": "open only", "closed": "closed"}


@login_required
@require_http_methods(["GET", "POST"])
def declare(request):
    """The declare page (the dashboard shows the same form beside the list)."""
    if not permissions.can_declare(request.user):
        raise PermissionDenied("Your role cannot declare incidents.")
    if request.method == "GET":
        return _render_declare(request, forms.DeclareForm())
    form = forms.DeclareForm(request.POST)
    if form.is_valid():
        try:
            incident = services.declare(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            return _redirect(request, incident)
    return _render_declare(request, form, status=400)


def _render_declare(request, form, status=200):
    chosen = form.cleaned_data.get("services") if form.is_bound else None
    context = {"declare_form": form, "severity_help": SEVERITY_DESCRIPTIONS,
               "silence": _silence(chosen or [])}
    return render(request, "incidents/declare.html", context, status=status)


@login_required
@require_GET
def paging_check(request):
    """The declare and report forms ask, as services are chosen, whether anyone would hear of
    an incident on them (incidents.paging.leads); the fragment says so, or nothing."""
    if not (permissions.can_declare(request.user) or request.user.has_perm("comms.report_issue")):
        raise PermissionDenied("Your role cannot declare incidents.")
    ids = [v for v in request.GET.getlist("services") + request.GET.getlist("service")
           if v.isdigit()]
    services = Service.objects.filter(pk__in=ids).select_related("team__lead")
    return render(request, "incidents/partials/_paging_warning.html",
                  {"silence": _silence(services)})


def _silence(services) -> str:
    return leads.silence_sentence(services) if leads.nobody_will_be_paged(services) else ""


def _redirect(request, incident):
    """After a change: htmx follows HX-Redirect, a plain form post gets a redirect."""
    url = incident_url(incident)
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


# URL names of panels other apps show on the incident page, each taking the incident's number and
# loaded by htmx on its own request (comms adds customers, SLA clocks and the communication log
# in its AppConfig.ready()), so this app imports none of them.
INCIDENT_PANELS: list[str] = []
# Facts other apps add to the incident page's header: callables (incident, user) returning dicts
# with "label", "value" (text or safe HTML) and "css" (comms adds affected customers and the SLA
# clock closest to its target).
INCIDENT_FACTS: list = []


def add_incident_panel(url_name: str) -> None:
    if url_name not in INCIDENT_PANELS:
        INCIDENT_PANELS.append(url_name)


def add_incident_facts(source) -> None:
    if source not in INCIDENT_FACTS:
        INCIDENT_FACTS.append(source)


def incident_url(incident) -> str:
    return reverse("incidents:detail", args=[incident.pk])


# The incident page's regions (templates/incidents/detail.html): each action answers with its own
# region; the state regions are refreshed out of band after any change and by the timeline poll.
REGION_OF = {
    "acknowledge": "action-acknowledge", "transition": "action-transition",
    "severity": "action-severity", "note": "action-note", "update": "action-update",
    "roles": "action-roles", "details": "action-details", "milestones": "action-milestones",
    "merge": "action-merge", "restrict": "action-visibility", "grant": "action-visibility",
    "handover": "incident-header", "escalate": "action-escalate",
}
STATE_REGIONS = ("incident-header", "action-acknowledge", "action-transition", "action-severity",
                 "action-escalate",
                 "action-update", "action-roles", "action-visibility")
HANDOVER_CHOICES = 4  # one-click "hand over to …" buttons in the header


@login_required
@require_GET
def detail(request, number):
    incident = _incident(request, number)
    return render(request, "incidents/detail.html", _detail_context(request, incident))


def _detail_context(request, incident, bound=None, show_all=None):
    """Everything the incident page renders; `bound` is a form with errors to show in place."""
    user = request.user
    show_all = request.GET.get("all") == "1" if show_all is None else show_all
    entries = incident.timeline.select_related("actor").order_by("-seq")
    if not show_all:
        entries = entries[:TIMELINE_PAGE]
    entries = permissions.hide_unseen_links(user, reversed(entries))
    context = _state_context(request, incident, bound)
    context.update({
        "entries": entries,
        "hidden_entries": incident.timeline_seq - len(entries),
        "severity_help": SEVERITY_DESCRIPTIONS,
        "teams": Team.objects.all() if incident.restricted else (),
        "panels": INCIDENT_PANELS,
    })
    return context


def _state_context(request, incident, bound=None):
    """What the header and the action regions need: also rendered by the timeline poll and
    after every action, so it stays a handful of queries."""
    user = request.user
    can_edit = permissions.can_edit(user, incident) and incident.status != "merged"
    forms_by_name = {
        "acknowledge": _NoFields(),
        "escalate": _NoFields(),
        "transition": forms.TransitionForm(incident=incident),
        "severity": forms.SeverityForm(initial={"severity": incident.severity}),
        "roles": forms.RolesForm(initial={
            "commander": incident.commander.username if incident.commander else None,
            "comms_lead": incident.comms_lead.username if incident.comms_lead else None,
            "responders": [u.username for u in incident.responders.all()],
        }),
        "note": forms.NoteForm(),
        "update": forms.UpdateForm(incident=incident),
        "details": forms.DetailsForm(initial={
            "title": incident.title, "description": incident.description,
            "services": list(incident.services.all()),
            "customer_tiers": list(incident.customer_tiers.all()),
        }),
        "milestones": forms.MilestonesForm(initial={
            name: getattr(incident, name) for name in forms.MilestonesForm.base_fields
            if name != "note"
        }),
        "merge": forms.MergeForm(),
        "restrict": forms.RestrictForm(),
        "grant": forms.GrantForm(),
        "handover": forms.HandoverForm(),
    }
    if bound is not None:
        forms_by_name[bound[0]] = bound[1]
    latest = services.latest_update(incident)
    next_at = parse_datetime(latest.data.get("next_update_at") or "") if latest else None
    return {
        "incident": incident,
        "merged_into_visible": _merged_into_visible(user, incident),
        "last_seq": incident.timeline_seq,
        "can_edit": can_edit,
        "can_correct": can_edit and permissions.can_correct_milestones(user, incident),
        "forms": forms_by_name,
        "poll_seconds": settings.RELAY_TIMELINE_POLL_SECONDS,
        "bound_form": bound[1] if bound else None,
        "latest_update": latest,
        "next_update_overdue": bool(next_at and next_at < timezone.now()),
        "handover_to": _handover_to(incident) if can_edit else (),
        "extra_facts": [fact for source in INCIDENT_FACTS for fact in source(incident, user)],
        # Readers' pages have no action regions to refresh.
        "state_regions": STATE_REGIONS if can_edit else STATE_REGIONS[:1],
    }


def _handover_to(incident) -> list:
    """People the commander role can be handed to in one click: the comms lead and responders."""
    people = [incident.comms_lead, *incident.responders.all()]
    seen, result = {incident.commander_id}, []
    for person in people:
        if person is not None and person.pk not in seen:
            seen.add(person.pk)
            result.append(person)
    return result[:HANDOVER_CHOICES]


def _merged_into_visible(user, incident) -> bool:
    """Whether the header may name the incident this one was merged into."""
    return bool(incident.merged_into_id) and not permissions.hidden_ids(
        user, [incident.merged_into_id])


@login_required
@require_GET
def timeline_poll(request, number):
    """New entries after ?after=<seq>: 204 when none, 286 (stop polling) once the incident is
    closed and nothing is left to show. Appended entries also refresh the header and the action
    regions out of band (relay.js keeps what is being typed in them)."""
    try:
        after = int(request.GET.get("after", "0"))
    except ValueError:
        return HttpResponse("after must be a whole number", status=400, content_type="text/plain")
    state = permissions.poll_state(request.user, number)
    if state is None:
        raise Http404("No such incident.")
    seq, status = state
    if seq <= after:
        return HttpResponse(status=204 if status in OPEN_STATUSES else 286)
    incident = _incident(request, number)
    entries = permissions.hide_unseen_links(request.user, incident.timeline.filter(
        seq__gt=after).select_related("actor").order_by("seq"))
    context = _state_context(request, incident)
    context.update({"entries": entries, "last_seq": entries[-1].seq, "oob": True})
    return render(request, "incidents/detail.html#timeline-update", context)


def _action(form_name, form_class, apply, *, needs_incident_form=False, correct=False):
    """Build a POST view: validate `form_class`, call `apply(incident, user, data)` (a service
    call), then answer with the action's own region and the refreshed state regions (htmx) or a
    redirect; errors → 400 with only the action's region, the errors beside its fields."""

    @login_required
    @require_POST
    def view(request, number):
        incident = _incident(request, number, write=True)
        if correct and not permissions.can_correct_milestones(request.user, incident):
            raise PermissionDenied("Only the incident commander can correct milestones.")
        kwargs = {"incident": incident} if needs_incident_form else {}
        form = form_class(request.POST, **kwargs)
        stale = False
        if form.is_valid():
            try:
                apply(incident, request.user, form.cleaned_data)
            except (ValidationError, DomainError) as error:
                show_error(form, error)
                # Refused by the incident's state (already acknowledged, closed meanwhile):
                # this page is behind, so its state regions are refreshed with the answer.
                stale = isinstance(error, DomainError)
            else:
                return _after_change(request, incident, form_name)
        return _answer(request, _incident(request, number), form_name, (form_name, form),
                       status=400, changed=stale)

    view.__name__ = f"{form_name}_view"
    return view


def _after_change(request, incident, form_name):
    if not request.htmx:
        return redirect(_next_url(request) or incident_url(incident))
    response = _answer(request, _incident(request, incident.pk), form_name, changed=True)
    response["HX-Trigger"] = "relay:changed"
    return response


def _next_url(request) -> str | None:
    """Lists (dashboard, My on-call) acknowledge in place and ask to come back."""
    return safe_next(request)


def _answer(request, incident, form_name, bound=None, status=200, changed=False):
    """htmx: the action's region (and, after a change, the other state regions out of band);
    a plain form post with errors: the whole page."""
    if not request.htmx:
        context = _detail_context(request, incident, bound, show_all=False)
        return render(request, "incidents/detail.html", context, status=status)
    main = REGION_OF[form_name]
    context = _state_context(request, incident, bound)
    context.update({"main": main, "changed": changed,
                    "state_regions": [r for r in context["state_regions"] if r != main],
                    "update_open": form_name == "update" and not changed,
                    "visibility_open": main == "action-visibility"})
    return render(request, "incidents/detail.html#answer", context, status=status)


def _acknowledge(incident, user, data):
    services.acknowledge(incident, by=user)


def _transition(incident, user, data):
    services.transition(incident, to=data["status"], by=user, note=data["note"])


def _severity(incident, user, data):
    services.change_severity(incident, severity=data["severity"], by=user, note=data["note"])


def _roles(incident, user, data):
    services.assign_roles(incident, by=user, commander=data["commander"],
                          comms_lead=data["comms_lead"], responders=data["responders"])


def _handover(incident, user, data):
    services.assign_roles(incident, by=user, commander=data["commander"])


def _escalate(incident, user, data):
    escalation.escalate_now(incident, by=user)


def _note(incident, user, data):
    services.add_note(incident, text=data["text"], by=user)


def _update(incident, user, data):
    services.post_update(incident, by=user, **data)


def _details(incident, user, data):
    services.update_details(incident, by=user, **data)


def _milestones(incident, user, data):
    services.correct_milestones(incident, by=user, **data)


def _merge(incident, user, data):
    try:
        target = permissions.get_visible_incident(user, data["into"])
    except Http404:
        raise ValidationError(
            {"into": f"There is no incident INC-{data['into']} you can see."}) from None
    services.merge(incident, into=target, by=user, note=data["note"])


def _restrict(incident, user, data):
    services.set_restricted(incident, restricted=data["restricted"], by=user)


def _grant(incident, user, data):
    services.grant_access(incident, by=user, user=data["user"], team=data["team"])


class _NoFields(forms.forms.Form):
    pass


acknowledge = _action("acknowledge", _NoFields, _acknowledge)
transition = _action("transition", forms.TransitionForm, _transition, needs_incident_form=True)
severity = _action("severity", forms.SeverityForm, _severity)
roles = _action("roles", forms.RolesForm, _roles)
handover = _action("handover", forms.HandoverForm, _handover)
escalate = _action("escalate", _NoFields, _escalate)
note = _action("note", forms.NoteForm, _note)
update = _action("update", forms.UpdateForm, _update, needs_incident_form=True)
details = _action("details", forms.DetailsForm, _details)
milestones = _action("milestones", forms.MilestonesForm, _milestones, correct=True)
merge = _action("merge", forms.MergeForm, _merge)
restrict = _action("restrict", forms.RestrictForm, _restrict)
grant = _action("grant", forms.GrantForm, _grant)

