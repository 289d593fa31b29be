"""Post-mortems in the Django admin, read only: every change goes through postmortems.services
and postmortems.items.services (locking, optimistic versions, the timeline, reminders), which the
admin's own save would skip."""

from django.contrib import admin

from incidents.admin import ReadOnlyAdmin
from postmortems.models import ActionItem, Postmortem, Review, Revision


@admin.register(Postmortem)
class PostmortemAdmin(ReadOnlyAdmin):
    list_display = ["incident", "level", "state", "revision", "facts_at", "published_at"]
    list_filter = ["state", "level"]
    search_fields = ["incident__title"]


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ["postmortem", "reviewer", "verdict", "decided_at"]
    list_filter = ["verdict"]


@admin.register(Revision)
class RevisionAdmin(ReadOnlyAdmin):
    list_display = ["postmortem", "number", "published_by", "published_at"]


@admin.register(ActionItem)
class ActionItemAdmin(ReadOnlyAdmin):
    list_display = ["title", "incident", "owner", "due_on", "priority", "kind", "status"]
    list_filter = ["status", "kind", "priority"]
    search_fields = ["title"]
