"""Action items on the page: the section of a post-mortem's page (also a page of its own at
/incidents/<n>/postmortem/items/) and "My action items". Every form posts to a view that calls
postmortems.items.services; with htmx it answers with the refreshed section, without it
redirects back to the page the form came from (`next`), or to the post-mortem."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.guards import has_role_perm
from config.errors import DomainError
from config.forms import show_error
from config.navigation import safe_next
from incidents import permissions as incident_permissions
from postmortems import permissions as perms
from postmortems.items import forms, queries, services
from postmortems.models import ActionItem, Postmortem

SECTION = "postmortems/items/_section.html"
PER_PAGE = 50


# --- The post-mortem's section --------------------------------------------------------------------

def section_context(request, postmortem: Postmortem, bound: dict | None = None) -> dict:
    """What templates/postmortems/items/_section.html needs, under one key (`item_section`) so
    the post-mortem page can merge it into its own context without clashing names. `bound`
    carries forms with errors from a refused post."""
    bound = bound or {}
    user, today = request.user, timezone.localdate()
    items = list(ActionItem.objects.filter(postmortem=postmortem)
                 .select_related("owner", "finished_by").order_by("due_on", "id"))
    can_add = perms.can_write_items(user)
    edit_forms, errors = bound.get("edit_forms", {}), bound.get("item_errors", {})
    for item in items:
        item.overdue = item.is_overdue(today)
        item.can_update = perms.can_update_item(user, item)
        item.error = errors.get(item.pk)
    people = forms.owners() if can_add or any(i.can_update for i in items) else []
    for item in items:
        item.form = edit_forms.get(item.pk) or (
            forms.ItemForm.for_item(item, people=people) if item.can_update and item.is_open
            else None)
    return {"item_section": {
        "postmortem": postmortem,
        "incident": postmortem.incident,
        "items": items,
        "follow_up": services.follow_up(postmortem, today),
        "can_add": can_add,
        "new_form": bound.get("new_form") or (
            forms.ItemForm(auto_id="id_new_item_%s", people=people) if can_add else None),
        "default_due": services.default_due_on(postmortem.incident, timezone.now()),
        "stale": bound.get("stale"),
        "remind_days": settings.RELAY_ACTION_ITEM_REMIND_DAYS,
        "next": _next(request, postmortem.incident_id),
    }}


@login_required
@require_GET
def incident_items(request, number):
    """The section as a page of its own (and, for htmx, the section alone)."""
    postmortem = _postmortem(request, number)
    return _render(request, postmortem)


@login_required
@require_POST
def new_item(request, number):
    postmortem = _postmortem(request, number)
    if not perms.can_write_items(request.user):
        raise PermissionDenied("Your role cannot add action items.")
    form = forms.ItemForm(request.POST, auto_id="id_new_item_%s")
    if form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "version"}
        try:
            item = services.create(postmortem, by=request.user, **data)
        except (ValidationError, DomainError) as error:
            show_error(form, error)
        else:
            return _changed(request, postmortem, f"Added “{item.title}”.")
    return _render(request, postmortem, {"new_form": form}, status=400)


@login_required
@require_POST
def edit_item(request, pk):
    item, postmortem = _item(request, pk)
    form = forms.ItemForm.for_item(item, request.POST)
    bound = {}
    if form.is_valid():
        data = dict(form.cleaned_data)
        version = data.pop("version") or 0
        try:
            services.update(item, by=request.user, version=version, **data)
        except services.StaleItem as error:
            # Theirs in the editor (with its version); what you typed beside it to copy from.
            form = forms.ItemForm.refused(error.current, error.message)
            bound["stale"] = {"item": item.pk, "data": data}
        except (ValidationError, DomainError) as error:
            show_error(form, error)
        else:
            return _changed(request, postmortem, f"Saved “{form.cleaned_data['title']}”.")
    return _render(request, postmortem, {"edit_forms": {item.pk: form}, **bound}, status=400)


@login_required
@require_POST
def set_status(request, pk):
    item, postmortem = _item(request, pk)
    form = forms.StatusForm(request.POST)
    if form.is_valid():
        try:
            item = services.set_status(item, by=request.user, **form.cleaned_data)
        except (ValidationError, DomainError) as error:
            show_error(form, error)
        else:
            return _changed(request, postmortem,
                            f"“{item.title}” is {item.get_status_display().lower()}.")
    text = " ".join(message for messages_ in form.errors.values() for message in messages_)
    return _render(request, postmortem, {"item_errors": {item.pk: text}}, status=400)


# --- My action items ----------------------------------------------------------------------------

@login_required
@require_GET
def my_items(request):
    """The signed-in person's items, open ones first; leads widen it to every item they may see
    (restricted incidents' items only when they may see the incident)."""
    if not has_role_perm(request.user, perms.VIEW_ITEMS):
        raise PermissionDenied("Your account has no role yet; ask an admin to add you to one.")
    filters = forms.FilterForm(request.GET or None, auto_id="filter_%s")
    valid = filters.is_valid() if request.GET else True
    params = filters.cleaned_data if request.GET and valid else {}
    scope = params.pop("scope", "mine")
    items = queries.filter_items(request.user, owner=None if scope == "all" else request.user,
                                 **params)
    page = Paginator(items, PER_PAGE).get_page(request.GET.get("page"))
    today = timezone.localdate()
    for item in page.object_list:
        item.overdue = item.is_overdue(today)
        item.can_update = perms.can_update_item(request.user, item)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filters": filters, "page": page, "query": query.urlencode(),
               "open_items": [i for i in page.object_list if i.is_open],
               "finished_items": [i for i in page.object_list if not i.is_open],
               "mine": scope != "all",
               "next": request.get_full_path()}
    return render(request, "postmortems/items/mine.html", context, status=200 if valid else 400)


# --- Helpers ------------------------------------------------------------------------------------

def _postmortem(request, number) -> Postmortem:
    """The incident's post-mortem, or 404 when the incident is hidden or has none."""
    incident = incident_permissions.get_visible_incident(request.user, number)
    if not perms.can_view(request.user):
        raise PermissionDenied("Your role cannot read post-mortems.")
    postmortem = Postmortem.objects.filter(incident=incident).first()
    if postmortem is None:
        raise Http404("This incident has no post-mortem yet.")
    postmortem.incident = incident
    return postmortem


def _item(request, pk) -> tuple[ActionItem, Postmortem]:
    """The item and its post-mortem: 404 when hidden, 403 when this person may not change it."""
    item = ActionItem.objects.filter(pk=pk).select_related("owner").first()
    if item is None:
        raise Http404("No such action item.")
    postmortem = _postmortem(request, item.incident_id)
    if not perms.can_update_item(request.user, item):
        raise PermissionDenied("Only Responders and the item's owner can change an action item.")
    return item, postmortem


def _next(request, number: int) -> str:
    """Where a plain form post returns: the page it came from when that is a path of ours, else
    the post-mortem's page at its action items."""
    target = safe_next(request)
    if target:
        return target
    if request.method == "GET" and not request.htmx:
        return request.get_full_path()
    return reverse("postmortems:page", args=[number]) + "#action-items"


def _changed(request, postmortem: Postmortem, done: str):
    if not request.htmx:
        messages.success(request, done)
        # Never redirect(): a `next` that is not a path would be looked up as a URL name.
        return HttpResponseRedirect(_next(request, postmortem.incident_id))
    response = _render(request, postmortem)
    response["HX-Trigger"] = "relay:changed"
    return response


def _render(request, postmortem: Postmortem, bound=None, status=200):
    template = SECTION if request.htmx else "postmortems/items/page.html"
    return render(request, template, section_context(request, postmortem, bound), status=status)
