"""The post-mortem of an incident: its panel beside the incident's timeline, its page (the document,
the editor of the sections and the review flow), its published revisions with their diffs, its
exports (Markdown download, printable page) and the list of every visible post-mortem.

Every form posts to a view that calls postmortems.services (or drafting) and redirects back, or
answers the page again with the error beside the field and status 400. A post-mortem follows its
incident's visibility: a hidden incident's is a 404, like the incident itself."""

import re

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from config.errors import DomainError
from config.forms import show_error
from incidents import permissions as incident_permissions
from incidents.markdown import render as render_markdown
from postmortems import document, drafting, forms, permissions, services
from postmortems.items import services as items
from postmortems.items import views as item_views
from postmortems.models import Postmortem, Revision, State, Verdict

PANEL = "postmortems/incident_panel.html"
PER_PAGE = 25


# --- The incident page's panel ------------------------------------------------------------------

@login_required
@require_GET
def incident_panel(request, number):
    """State, level, reviewers and follow-up beside the timeline; without htmx, a page."""
    incident = incident_permissions.get_visible_incident(request.user, number)
    return _panel(request, incident)


@login_required
@require_POST
def start(request, number):
    incident = incident_permissions.get_visible_incident(request.user, number)
    _require_writer(request.user)
    try:
        drafting.start(incident, by=request.user)
    except DomainError as error:
        return _panel(request, incident, {"panel_error": error.message}, status=400)
    return _changed(request, incident)


@login_required
@require_POST
def set_level(request, number):
    incident, postmortem = _postmortem(request, number)
    if not _can_set_level(request.user, incident):
        raise PermissionDenied("Only the incident's commander or a post-mortem writer chooses "
                               "the level.")
    form = forms.LevelForm(request.POST, auto_id="id_level_%s")
    if form.is_valid():
        try:
            services.set_level(postmortem, by=request.user, level=form.cleaned_data["level"])
        except (ValidationError, DomainError) as error:
            show_error(form, error)
        else:
            return _changed(request, incident)
    if request.htmx:
        return _panel(request, incident, {"level_form": form}, status=400)
    return _page(request, incident, postmortem, {"level_form": form}, status=400)


def _panel(request, incident, bound=None, status=200):
    template = PANEL if request.htmx else "postmortems/panel_page.html"
    return render(request, template, _panel_context(request.user, incident, bound or {}),
                  status=status)


def _panel_context(user, incident, bound) -> dict:
    postmortem = (Postmortem.objects.filter(incident=incident)
                  .select_related("submitted_by", "published_by").first())
    context = {"incident": incident, "postmortem": postmortem,
               "can_write": permissions.can_write(user),
               "panel_error": bound.get("panel_error")}
    if postmortem is not None:
        context.update({
            "reviews": list(postmortem.reviews.select_related("reviewer")),
            "follow_up": items.follow_up(postmortem),
            "can_set_level": (_can_set_level(user, incident)
                              and postmortem.state != State.PUBLISHED),
            "level_form": bound.get("level_form") or forms.LevelForm(
                initial={"level": postmortem.level}, auto_id="id_level_%s"),
        })
    return context


# --- The post-mortem page -----------------------------------------------------------------------

@login_required
@require_GET
def postmortem_page(request, number):
    incident, postmortem = _postmortem(request, number)
    return _page(request, incident, postmortem)


@login_required
@require_POST
def edit(request, number):
    incident, postmortem = _postmortem(request, number)
    _require_writer(request.user)
    form = forms.SectionsForm(request.POST, postmortem=postmortem)
    extra = {}
    if form.is_valid():
        data = dict(form.cleaned_data)
        version = data.pop("version")
        try:
            services.edit(postmortem, by=request.user, version=version, **data)
        except services.StaleEdit as error:
            # Theirs in the editor (with its version), yours beside each section to copy from.
            form = forms.SectionsForm.refused(error.current, error.message)
            extra["stale_text"] = data
        except (ValidationError, DomainError) as error:
            show_error(form, error)
        else:
            return _back(incident, "editor")
    return _page(request, incident, postmortem, {"sections_form": form, **extra}, status=400)


@login_required
@require_POST
def redraft(request, number):
    incident, postmortem = _postmortem(request, number)
    _require_writer(request.user)
    return _act(request, incident, postmortem, drafting.redraft, "facts")


@login_required
@require_POST
def submit(request, number):
    incident, postmortem = _postmortem(request, number)
    _require_writer(request.user)
    form = forms.ReviewersForm(request.POST, incident=incident)
    return _with_form(request, incident, postmortem, form, "reviewers_form", "review",
                      lambda data: services.submit(postmortem, by=request.user,
                                                   reviewers=list(data["reviewers"])))


@login_required
@require_POST
def review(request, number):
    incident, postmortem = _postmortem(request, number)
    if not postmortem.reviews.filter(reviewer=request.user).exists():
        raise PermissionDenied("Only the reviewers named for this post-mortem review it.")
    form = forms.VerdictForm(request.POST)
    return _with_form(request, incident, postmortem, form, "verdict_form", "review",
                      lambda data: services.review(postmortem, by=request.user, **data))


@login_required
@require_POST
def publish(request, number):
    incident, postmortem = _postmortem(request, number)
    _require_writer(request.user)
    return _act(request, incident, postmortem, services.publish, "review")


@login_required
@require_POST
def correct(request, number):
    incident, postmortem = _postmortem(request, number)
    _require_writer(request.user)
    form = forms.CorrectionForm(request.POST)
    return _with_form(request, incident, postmortem, form, "correction_form", "editor",
                      lambda data: services.correct(postmortem, by=request.user,
                                                    reason=data["reason"]))


def _with_form(request, incident, postmortem, form, name: str, anchor: str, apply):
    """Apply a valid form through the services and go back to the page at `anchor`; else the
    page again with the form's errors beside their fields (400)."""
    if form.is_valid():
        try:
            apply(form.cleaned_data)
        except (ValidationError, DomainError) as error:
            show_error(form, error)
        else:
            return _back(incident, anchor)
    return _page(request, incident, postmortem, {name: form}, status=400)


def _act(request, incident, postmortem, action, anchor):
    try:
        action(postmortem, by=request.user)
    except (ValidationError, DomainError) as error:
        text = error.message if isinstance(error, DomainError) else " ".join(error.messages)
        return _page(request, incident, postmortem, {"action_error": text}, status=400)
    return _back(incident, anchor)


def _page(request, incident, postmortem, bound=None, status=200):
    return render(request, "postmortems/page.html",
                  _page_context(request, incident, postmortem, bound or {}), status=status)


def _page_context(request, incident, postmortem, bound) -> dict:
    user = request.user
    can_write = permissions.can_write(user)
    open_ = postmortem.state != State.PUBLISHED
    reviews = list(postmortem.reviews.select_related("reviewer"))
    mine = next((r for r in reviews if r.reviewer_id == user.pk), None)
    in_review = postmortem.state == State.IN_REVIEW
    context = {
        "incident": incident,
        "postmortem": postmortem,
        "document": _document(postmortem),
        "reviews": reviews,
        "revisions": list(postmortem.revisions.select_related("published_by")
                          .order_by("-number")),
        "follow_up": items.follow_up(postmortem),
        "can_write": can_write,
        "can_edit": can_write and open_,
        "can_set_level": _can_set_level(user, incident) and open_,
        "can_publish": (can_write and in_review and bool(reviews)
                        and all(r.verdict == Verdict.APPROVED for r in reviews)),
        "my_review": mine if in_review else None,
        "action_error": bound.get("action_error"),
        "stale_text": bound.get("stale_text"),
        **item_views.section_context(request, postmortem),
    }
    if context["can_edit"]:
        context["sections_form"] = (bound.get("sections_form")
                                    or forms.SectionsForm.for_postmortem(postmortem))
        context["newer_entries"] = services.newer_entries(postmortem)
    if context["can_set_level"]:
        context["level_form"] = bound.get("level_form") or forms.LevelForm(
            initial={"level": postmortem.level}, auto_id="id_level_%s")
    if can_write and postmortem.state == State.DRAFT and postmortem.level != "none":
        context["reviewers_form"] = bound.get("reviewers_form") or forms.ReviewersForm(
            incident=incident, initial={"reviewers": [r.reviewer_id for r in reviews]})
    if mine is not None and in_review:
        context["verdict_form"] = bound.get("verdict_form") or forms.VerdictForm()
    if can_write and postmortem.state == State.PUBLISHED:
        context["correction_form"] = bound.get("correction_form") or forms.CorrectionForm()
    return context


def _document(postmortem) -> dict:
    """The document's parts as safe HTML: the people's sections and Relay's facts."""
    sections = [{**s, "html": render_markdown(s["text"])} for s in postmortem.sections()]
    summary = [s for s in sections if s["name"] == "summary"]
    return {"summary": summary[0] if summary else None,
            "facts": render_markdown(document.facts_markdown(postmortem)),
            "sections": [s for s in sections if s["name"] != "summary"]}


# --- Revisions and exports ----------------------------------------------------------------------

@login_required
@require_GET
def revision(request, number, k):
    incident, postmortem = _postmortem(request, number)
    if k > 2**31:
        raise Http404("No such revision.")
    revisions = {r.number: r for r in postmortem.revisions.filter(number__in=[k - 1, k])
                 .select_related("published_by")}
    if k not in revisions:
        raise Http404("No such revision.")
    current, previous = revisions[k], revisions.get(k - 1)
    return render(request, "postmortems/revision.html", {
        "incident": incident, "postmortem": postmortem, "revision": current,
        "previous": previous, "html": render_markdown(current.markdown),
        "diff": services.diff(previous, current) if previous else None,
    })


@login_required
@require_GET
def markdown_download(request, number):
    incident, postmortem = _postmortem(request, number)
    text = _revision_markdown(request, postmortem) or document.markdown(postmortem)
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{incident.reference}-postmortem.md"')
    return response


@login_required
@require_GET
def print_page(request, number):
    incident, postmortem = _postmortem(request, number)
    text = _revision_markdown(request, postmortem) or document.markdown(postmortem)
    return render(request, "postmortems/print.html", {
        "incident": incident, "postmortem": postmortem, "parts": _print_parts(text)})


# Sections long enough to start on a page of their own when printed.
PRINT_BREAKS = ("What was tried", "Timeline excerpt", "Contributing factors", "Action items")


def _print_parts(text: str) -> list[dict]:
    """The document cut at its second-level headings, each part rendered, the big ones marked
    to start a new printed page."""
    parts = []
    for number, chunk in enumerate(re.split(r"(?m)^(?=## )", text)):
        heading = chunk[3:].partition("\n")[0].strip() if chunk.startswith("## ") else ""
        parts.append({"html": render_markdown(chunk),
                      "break": number > 0 and heading in PRINT_BREAKS})
    return parts


def _revision_markdown(request, postmortem) -> str | None:
    """A published revision's frozen Markdown for `?revision=k`; None without it."""
    k = request.GET.get("revision")
    if k is None:
        return None
    if not (k.isascii() and k.isdigit() and len(k) < 10):
        raise Http404("No such revision.")
    row = Revision.objects.filter(postmortem=postmortem, number=int(k)).first()
    if row is None:
        raise Http404("No such revision.")
    return row.markdown


# --- The list -----------------------------------------------------------------------------------

@login_required
@require_GET
def postmortem_list(request):
    if not permissions.can_view(request.user):
        raise PermissionDenied("Your role cannot read post-mortems.")
    state = request.GET.get("state", "")
    rows = (permissions.visible_postmortems(request.user)
            .select_related("incident").order_by("-incident_id"))
    if state in State.values:
        rows = rows.filter(state=state)
    else:
        state = ""
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    counts = items.counts_by_postmortem([p.pk for p in page])
    for postmortem in page:
        postmortem.item_counts = counts.get(postmortem.pk, {"open": 0, "overdue": 0, "total": 0})
    return render(request, "postmortems/list.html", {
        "page": page, "state": state, "states": State.choices})


# --- Helpers ------------------------------------------------------------------------------------

def _postmortem(request, number):
    """The incident and its post-mortem, or 404 when there is none or the incident is hidden."""
    incident = incident_permissions.get_visible_incident(request.user, number)
    if not permissions.can_view(request.user):
        raise Http404("No such post-mortem.")
    postmortem = (Postmortem.objects.filter(incident=incident)
                  .select_related("edited_by", "submitted_by", "published_by").first())
    if postmortem is None:
        raise Http404("This incident has no post-mortem yet.")
    postmortem.incident = incident
    return incident, postmortem


def _can_set_level(user, incident) -> bool:
    return permissions.can_write(user) or (
        incident.commander_id is not None and incident.commander_id == user.pk
        and permissions.can_view(user))


def _require_writer(user) -> None:
    if not permissions.can_write(user):
        raise PermissionDenied("Your role cannot write post-mortems.")


def _back(incident, anchor: str):
    return redirect(reverse("postmortems:page", args=[incident.pk]) + f"#{anchor}")


def _changed(request, incident):
    if not request.htmx:
        return redirect("postmortems:page", number=incident.pk)
    response = _panel(request, incident)
    response["HX-Trigger"] = "relay:changed"
    return response

