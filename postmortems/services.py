"""The life of a post-mortem: edited under optimistic locking, its level chosen, submitted to named
reviewers, reviewed, published as a frozen revision, corrected into the next revision. Each step
locks the incident then the post-mortem, checks the rules and the person again (the portal and
the API both call these functions) and, except for edits, writes one `postmortem` timeline entry
whose data["action"] names the step.

Edits are not on the timeline (a writer saves often); the row keeps who saved last and when.
Editing while in review is allowed, because reviewers ask for small fixes; but an approval is for
the text approved, so once any reviewer has approved, an edit sends the post-mortem back to draft
(and that return is on the timeline). A published post-mortem is read-only: a correction starts
the next revision, and the published one stays as it was.
"""

import difflib

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.errors import Conflict, Invalid, NotAllowed
from config.strictjson import unstorable_reason
from incidents.models import EntryKind, Incident, TimelineEntry
from incidents.paging.notify import notify
from incidents.timeline import record
from postmortems import document, drafting, permissions
from postmortems.models import (
    SECTION_MAX,
    SECTIONS,
    Level,
    Postmortem,
    Review,
    Revision,
    State,
    Verdict,
)

SECTION_NAMES = tuple(name for name, *_ in SECTIONS)
COMMENT_MAX = 5000
REASON_MAX = 500


class StaleEdit(Conflict):
    """An edit made from an older version: refused, with the version that won."""

    def __init__(self, current: Postmortem):
        who = current.edited_by.get_username() if current.edited_by_id else "Relay"
        when = f" at {current.edited_at:%Y-%m-%d %H:%M} UTC" if current.edited_at else ""
        super().__init__(f"{who} saved this post-mortem{when} (now version {current.version}) "
                         "while you were editing it; your text was not saved. Their text is in "
                         "the editor and yours is beside it: merge and save again.", "version")
        self.current = current


# --- Editing ------------------------------------------------------------------------------------

def edit(postmortem: Postmortem, *, by, version: int, **sections) -> Postmortem:
    """Save the human sections given (only those) from the editor that started at `version`."""
    _require_writer(by)
    unknown = set(sections) - set(SECTION_NAMES)
    if unknown:
        raise Invalid(f"Not a section of a post-mortem: {', '.join(sorted(unknown))}.")
    texts = _clean_sections(sections)
    with transaction.atomic():
        incident, postmortem = _lock(postmortem)
        _require_not_published(postmortem)
        if postmortem.version != version:
            raise StaleEdit(postmortem)
        if texts.get("summary", postmortem.summary) != postmortem.summary:
            postmortem.summary_edited = True
        for name, text in texts.items():
            setattr(postmortem, name, text)
        postmortem.version += 1
        postmortem.edited_by, postmortem.edited_at = by, timezone.now()
        if postmortem.state == State.IN_REVIEW and postmortem.reviews.filter(
                verdict=Verdict.APPROVED).exists():
            postmortem.state = State.DRAFT
            _record(incident, postmortem, "returned", by,
                    f"Edited the post-mortem after it was approved: it is a draft again and "
                    f"needs another review (revision {postmortem.revision}).")
        postmortem.save()
    return postmortem


def set_level(postmortem: Postmortem, *, by, level: str) -> Postmortem:
    """The incident's commander (or any writer) chooses how much post-mortem the incident gets.
    Choosing a document where there were no facts yet drafts them at once; choosing none is for a
    post-mortem nobody has written in yet."""
    if level not in Level.values:
        raise Invalid("Choose none, a lightweight summary or the full post-mortem.", "level")
    with transaction.atomic():
        incident, postmortem = _lock(postmortem)
        if not (permissions.can_write(by) or
                (incident.commander_id is not None and incident.commander_id == by.pk
                 and permissions.can_view(by))):
            raise NotAllowed("Only the incident's commander or a post-mortem writer chooses "
                             "the level.")
        _require_not_published(postmortem)
        if postmortem.level == level:
            return postmortem
        if level == Level.NONE and (_written(postmortem) or postmortem.state != State.DRAFT):
            raise Conflict("People have written this post-mortem (or it is in review): choose "
                           "the summary instead of none, so their words stay in it.", "level")
        old = postmortem.level
        postmortem.level = level
        postmortem.save(update_fields=["level", "updated_at"])
        _record(incident, postmortem, "level", by,
                f"Set the post-mortem's level to {postmortem.get_level_display().lower()} "
                f"(was {Level(old).label.lower()}).", old=old)
        if level != Level.NONE and not postmortem.facts:
            if permissions.can_write(by):
                postmortem = drafting.redraft(postmortem, by=by)
            else:  # a commander without the writer's role: the drafting timer writes them
                Postmortem.objects.filter(pk=postmortem.pk).update(draft_due_at=timezone.now())
    return postmortem


# --- Review -------------------------------------------------------------------------------------

def submit(postmortem: Postmortem, *, by, reviewers) -> Postmortem:
    """Draft → in review, by the named reviewers (who are notified). A new round: the verdicts
    of any earlier round are cleared."""
    _require_writer(by)
    reviewers = _unique(reviewers)
    with transaction.atomic():
        incident, postmortem = _lock(postmortem)
        if postmortem.state != State.DRAFT:
            raise Conflict(f"The post-mortem is {postmortem.get_state_display().lower()}; only a "
                           "draft can be submitted for review.", "state")
        if postmortem.level == Level.NONE:
            raise Conflict("This incident's level is none: choose a summary or the full "
                           "post-mortem before asking for review.", "level")
        _check_reviewers(incident, reviewers, by)
        now = timezone.now()
        postmortem.reviews.exclude(reviewer__in=reviewers).delete()
        for reviewer in reviewers:
            Review.objects.update_or_create(
                postmortem=postmortem, reviewer=reviewer,
                defaults={"verdict": Verdict.PENDING, "comment": "", "requested_by": by,
                          "requested_at": now, "decided_at": None})
        postmortem.state = State.IN_REVIEW
        postmortem.submitted_by, postmortem.submitted_at = by, now
        postmortem.save()
        names = ", ".join(u.get_username() for u in reviewers)
        round_ = _round(incident, postmortem)
        _record(incident, postmortem, "submitted", by,
                f"Asked {names} to review the post-mortem (revision {postmortem.revision}).",
                reviewers=[u.get_username() for u in reviewers], round=round_)
        notify(incident, [u for u in reviewers if u.pk != by.pk],
               reason=f"pm-review:{postmortem.pk}:{postmortem.revision}:{round_}",
               subject=f"[Relay] {incident.reference}: please review the post-mortem",
               text=f"{by.get_username()} asked you to review the post-mortem of "
                    f"{incident.reference} ({incident.title}).",
               why="post-mortem review requested")
    return postmortem


def review(postmortem: Postmortem, *, by, verdict: str, comment: str = "") -> Review:
    """A named reviewer approves, or asks for changes (with a comment), which makes it a draft
    again."""
    if verdict not in (Verdict.APPROVED, Verdict.CHANGES):
        raise Invalid("Approve, or ask for changes.", "verdict")
    comment = _clean_text(comment, COMMENT_MAX, "comment")
    if verdict == Verdict.CHANGES and not comment:
        raise Invalid("Say what should change.", "comment")
    with transaction.atomic():
        incident, postmortem = _lock(postmortem)
        row = postmortem.reviews.select_for_update().filter(reviewer=by).first()
        if row is None or not permissions.can_view(by):
            raise NotAllowed("Only the reviewers named for this post-mortem review it.")
        if postmortem.state != State.IN_REVIEW:
            raise Conflict(f"The post-mortem is {postmortem.get_state_display().lower()}, not in "
                           "review.", "state")
        row.verdict, row.comment, row.decided_at = verdict, comment, timezone.now()
        row.save()
        if verdict == Verdict.CHANGES:
            postmortem.state = State.DRAFT
            postmortem.save(update_fields=["state", "updated_at"])
            _record(incident, postmortem, "changes_requested", by,
                    f"Asked for changes to the post-mortem: {comment}")
        else:
            _record(incident, postmortem, "approved", by,
                    f"Approved the post-mortem (revision {postmortem.revision})."
                    + (f" {comment}" if comment else ""))
    return row


def publish(postmortem: Postmortem, *, by) -> Postmortem:
    """In review → published, once every named reviewer approved: the document is frozen as a
    Revision and the post-mortem is read-only from then on."""
    _require_writer(by)
    with transaction.atomic():
        incident, postmortem = _lock(postmortem)
        if postmortem.state != State.IN_REVIEW:
            raise Conflict(f"The post-mortem is {postmortem.get_state_display().lower()}; only "
                           "one in review can be published.", "state")
        waiting = [r.reviewer.get_username() for r in
                   postmortem.reviews.select_related("reviewer")
                   if r.verdict != Verdict.APPROVED]
        if waiting or not postmortem.reviews.exists():
            raise Conflict(f"Every reviewer must approve it first (waiting for "
                           f"{', '.join(waiting) or 'a reviewer'}).", "state")
        now = timezone.now()
        postmortem.state = State.PUBLISHED
        postmortem.published_by, postmortem.published_at = by, now
        postmortem.incident = incident
        Revision.objects.create(
            postmortem=postmortem, number=postmortem.revision,
            markdown=document.markdown(postmortem), content=document.content(postmortem),
            reason=postmortem.correction_reason, published_by=by, published_at=now)
        postmortem.save()
        _record(incident, postmortem, "published", by,
                f"Published the post-mortem (revision {postmortem.revision}).")
    return postmortem


def correct(postmortem: Postmortem, *, by, reason: str) -> Postmortem:
    """Published → a draft of the next revision; the published revision stays as it was."""
    _require_writer(by)
    reason = _clean_text(reason, REASON_MAX, "reason")
    if not reason:
        raise Invalid("Say what the correction is for.", "reason")
    if "\n" in reason:
        raise Invalid("The reason is one line.", "reason")
    with transaction.atomic():
        incident, postmortem = _lock(postmortem)
        if postmortem.state != State.PUBLISHED:
            raise Conflict("Only a published post-mortem is corrected; edit the draft instead.",
                           "state")
        postmortem.state = State.DRAFT
        postmortem.revision += 1
        postmortem.correction_reason = reason
        postmortem.save()
        # The verdicts were on the published text; the next round names its reviewers afresh.
        postmortem.reviews.all().delete()
        _record(incident, postmortem, "correction", by,
                f"Started revision {postmortem.revision} of the post-mortem: {reason}")
    return postmortem


# --- Revisions ----------------------------------------------------------------------------------

def diff(revision_a: Revision, revision_b: Revision, context: int = 3) -> list[dict]:
    """The line diff from a to b as rows for a template: kind same, added or removed, and a
    `gap` row where unchanged lines are left out."""
    lines = difflib.unified_diff(revision_a.markdown.splitlines(),
                                 revision_b.markdown.splitlines(), n=context, lineterm="")
    rows = []
    for line in lines:
        if line.startswith(("---", "+++")) and not rows:
            continue
        if line.startswith("@@"):
            rows.append({"kind": "gap", "text": line})
        elif line.startswith("+"):
            rows.append({"kind": "added", "text": line[1:]})
        elif line.startswith("-"):
            rows.append({"kind": "removed", "text": line[1:]})
        else:
            rows.append({"kind": "same", "text": line[1:]})
    return rows


def newer_entries(postmortem: Postmortem) -> int:
    """Timeline entries written since the facts were drafted, less the post-mortem's own."""
    return (TimelineEntry.objects.filter(incident_id=postmortem.incident_id,
                                         seq__gt=postmortem.facts_seq)
            .exclude(kind=EntryKind.POSTMORTEM)
            .exclude(Q(kind=EntryKind.NOTIFICATION) & (Q(new_value__startswith="pm-review:")
                                                       | Q(new_value__startswith="postmortem-")))
            .count())


# --- Helpers ------------------------------------------------------------------------------------

def _lock(postmortem: Postmortem) -> tuple[Incident, Postmortem]:
    incident = Incident.objects.select_for_update().get(pk=postmortem.incident_id)
    locked = Postmortem.objects.select_for_update().get(pk=postmortem.pk)
    locked.incident = incident
    return incident, locked


def _require_writer(user) -> None:
    if not permissions.can_write(user):
        raise NotAllowed("Your role cannot write post-mortems.")


def _require_not_published(postmortem: Postmortem) -> None:
    if postmortem.state == State.PUBLISHED:
        raise Conflict("The post-mortem is published and read-only: start a correction to "
                       "change it.", "state")


def _clean_text(text, limit: int, field: str) -> str:
    text = str(text or "").strip()
    if len(text) > limit:
        raise Invalid(f"At most {limit} characters (this has {len(text)}).", field)
    if unstorable_reason(text):
        raise Invalid(unstorable_reason(text), field)
    return text


def _clean_sections(sections: dict) -> dict:
    errors, texts = {}, {}
    for name, text in sections.items():
        text = str(text or "").strip()
        if len(text) > SECTION_MAX:
            errors[name] = f"At most {SECTION_MAX} characters (this has {len(text)})."
        elif unstorable_reason(text):
            errors[name] = unstorable_reason(text)
        texts[name] = text
    if errors:
        raise ValidationError(errors)
    return texts


def _written(postmortem: Postmortem) -> bool:
    """Whether people wrote any of it (Relay's own summary does not count)."""
    return postmortem.summary_edited or any(
        getattr(postmortem, name).strip() for name in SECTION_NAMES if name != "summary")


def _unique(users) -> list:
    seen, unique = set(), []
    for user in users or ():
        if user is not None and user.pk not in seen:
            seen.add(user.pk)
            unique.append(user)
    return unique


def _check_reviewers(incident: Incident, reviewers: list, by) -> None:
    if not reviewers:
        raise Invalid("Name at least one reviewer.", "reviewers")
    if [u.pk for u in reviewers] == [by.pk]:
        raise Invalid("Someone other than you must review it: add another reviewer.",
                      "reviewers")
    # visible_postmortems: the role to read post-mortems and the sight of this incident.
    blind = [u.get_username() for u in reviewers
             if not permissions.visible_postmortems(u).filter(incident=incident).exists()]
    if blind:
        raise Invalid(f"{', '.join(blind)} cannot see this incident's post-mortem.",
                      "reviewers")


def _round(incident: Incident, postmortem: Postmortem) -> int:
    """Which review round of this revision this is: notices are once per round."""
    return TimelineEntry.objects.filter(
        incident_id=incident.pk, kind=EntryKind.POSTMORTEM, new_value="submitted",
        data__postmortem=postmortem.pk, data__revision=postmortem.revision).count() + 1


def _record(incident: Incident, postmortem: Postmortem, action: str, by, note: str, *,
            old: str = "", **data) -> None:
    record(incident, EntryKind.POSTMORTEM, by, old=old, new=action, note=note,
           data={"action": action, "postmortem": postmortem.pk,
                 "revision": postmortem.revision, "state": postmortem.state, **data})
