"""The communication log: every message of an incident with its people, times, audience and
per-recipient delivery, the next-update countdown and cadence, and the draft editor. One panel,
loaded by htmx beside the incident's timeline and also a page of its own; every form posts to a
view that calls comms.messages' services and answers with the refreshed panel."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from comms.messages import cadence, drafts, forms, services
from comms.messages import permissions as perms
from comms.models import CustomerMessage, MessageDelivery, Phase, UpdateCadence
from config.errors import DomainError
from config.forms import add_errors, show_error
from incidents import permissions

ACTIONS = {"submit": services.submit, "approve": services.approve,
           "publish": services.publish, "discard": services.discard}
PANEL = "comms/messages/incident_panel.html"


@login_required
@require_GET
def incident_panel(request, number):
    """The incident page's Customer communication panel; without htmx, the log as a page."""
    incident = permissions.get_visible_incident(request.user, number)
    return _render(request, incident)


@login_required
@require_POST
def new_message(request, number):
    incident = permissions.get_visible_incident(request.user, number)
    if not perms.can_draft(request.user):
        raise PermissionDenied("Your role cannot draft customer messages.")
    form = forms.MessageForm(request.POST, auto_id="id_new_%s")
    if form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "version"}
        try:
            services.draft(incident, by=request.user, **data)
        except (ValidationError, DomainError) as error:
            show_error(form, error)
        else:
            return _changed(request, incident)
    return _render(request, incident, {"new_form": form}, status=400)


@login_required
@require_POST
def edit_message(request, pk):
    message, incident = _message(request, pk)
    if not perms.can_edit(request.user, message):
        raise PermissionDenied("You may edit only drafts you proposed.")
    form = forms.MessageForm.for_message(message, request.POST)
    extra = {}
    if form.is_valid():
        data = dict(form.cleaned_data)
        version = data.pop("version") or 0
        try:
            services.edit(message, by=request.user, version=version, **data)
        except services.StaleEdit as error:
            # Theirs in the editor (with its version), yours beside it to copy from.
            form = forms.MessageForm.refused(error.current, error.message)
            extra["stale_text"] = data
        except (ValidationError, DomainError) as error:
            show_error(form, error)
        else:
            return _changed(request, incident)
    return _render(request, incident, {"edit_forms": {message.pk: form}, **extra}, status=400)


@login_required
@require_POST
def act(request, pk, action):
    if action not in ACTIONS:
        raise Http404("No such action.")
    message, incident = _message(request, pk)
    allowed = (perms.can_publish(request.user) if action in ("approve", "publish")
               else perms.can_edit(request.user, message))
    if not allowed:
        raise PermissionDenied("Your role cannot do this with customer messages.")
    try:
        ACTIONS[action](message, by=request.user)
    except (ValidationError, DomainError) as error:
        text = error.message if isinstance(error, DomainError) else " ".join(error.messages)
        return _render(request, incident, {"action_errors": {message.pk: text}}, status=400)
    return _changed(request, incident)


@login_required
@require_POST
def set_cadence(request, number):
    incident = permissions.get_visible_incident(request.user, number)
    if not perms.can_set_cadence(request.user, incident):
        raise PermissionDenied("Only the communications lead or Communications set the cadence.")
    form = forms.CadenceForm(request.POST, auto_id="id_cadence_%s")
    if form.is_valid():
        try:
            cadence.set_cadence(incident, by=request.user, minutes=form.cleaned_data["minutes"])
        except (ValidationError, DomainError) as error:
            show_error(form, error)
        else:
            return _changed(request, incident)
    return _render(request, incident, {"cadence_form": form}, status=400)


# --- Templates ----------------------------------------------------------------------------------

@login_required
@require_GET
def templates_page(request):
    _require_templates(request.user)
    return _templates(request, {})


@login_required
@require_POST
def save_template(request, phase):
    _require_templates(request.user)
    if phase not in Phase.values:
        raise Http404("No such phase.")
    form = forms.TemplateForm(request.POST, auto_id=f"id_{phase}_%s")
    if form.is_valid():
        try:
            drafts.save_template(by=request.user, phase=phase, **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            return redirect(f"{reverse('messages:templates')}#template-{phase}")
    return _templates(request, {phase: form}, status=400)


def _require_templates(user) -> None:
    if not perms.can_change_templates(user):
        raise PermissionDenied("Only Communications can change the message templates.")


def _templates(request, bound, status=200):
    rows = []
    for phase in Phase:
        wording = drafts.wording(phase)
        form = bound.get(phase) or forms.TemplateForm(
            initial={"subject": wording.subject, "body": wording.body},
            auto_id=f"id_{phase}_%s")
        rows.append({"phase": phase, "form": form})
    return render(request, "comms/messages/templates.html",
                  {"rows": rows, "placeholders": drafts.PLACEHOLDERS}, status=status)


# --- Helpers ------------------------------------------------------------------------------------

def _message(request, pk):
    """The message and its incident, or 404 when there is none or its incident is hidden."""
    message = CustomerMessage.objects.filter(pk=pk).first()
    if message is None:
        raise Http404("No such message.")
    incident = permissions.get_visible_incident(request.user, message.incident_id)
    message.incident = incident
    return message, incident


def _changed(request, incident):
    if not request.htmx:
        return redirect("messages:incident-panel", number=incident.pk)
    response = _render(request, incident)
    response["HX-Trigger"] = "relay:changed"
    return response


def _render(request, incident, bound=None, status=200):
    template = PANEL if request.htmx else "comms/messages/log.html"
    return render(request, template, _context(request.user, incident, bound or {}),
                  status=status)


def _context(user, incident, bound) -> dict:
    people = ("author", "submitted_by", "approved_by", "published_by", "discarded_by")
    messages = list(CustomerMessage.objects.filter(incident=incident)
                    .select_related(*people).prefetch_related(
                        Prefetch("deliveries", MessageDelivery.objects.order_by("email")))
                    .order_by("-created_at", "-id"))
    open_ids = [m.pk for m in messages if m.state in services.OPEN_STATES]
    can_publish = perms.can_publish(user)
    tiers = services.approval_tiers(incident) if open_ids else []
    edit_forms = bound.get("edit_forms", {})
    for message in messages:
        message.is_open = message.pk in open_ids
        message.conflict = message.is_open and len(open_ids) > 1
        message.can_edit = message.is_open and perms.can_edit(user, message)
        message.can_approve = (can_publish and message.state == "pending" and bool(tiers)
                               and user.pk not in (message.author_id, message.submitted_by_id))
        message.can_publish = can_publish and message.is_open and not tiers
        message.form = edit_forms.get(message.pk) or (
            forms.MessageForm.for_message(message) if message.can_edit else None)
        message.error = bound.get("action_errors", {}).get(message.pk)
    schedule = UpdateCadence.objects.filter(incident=incident).select_related("set_by").first()
    return {
        "incident": incident,
        "log": messages,
        "conflicts": len(open_ids) > 1,
        "approval_tiers": tiers,
        "cadence": schedule,
        "now": timezone.now(),
        "can_draft": perms.can_draft(user),
        "can_set_cadence": perms.can_set_cadence(user, incident),
        "new_form": bound.get("new_form") or forms.MessageForm(
            initial={"phase": services.phase_of(incident)}, auto_id="id_new_%s"),
        "cadence_form": bound.get("cadence_form") or forms.CadenceForm(
            initial={"minutes": schedule.minutes if schedule else None},
            auto_id="id_cadence_%s"),
        "stale_text": bound.get("stale_text"),
        "can_change_templates": perms.can_change_templates(user),
    }
