from django.contrib import admin, messages

from accounts.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked"]
    list_filter = ["revoked"]
    search_fields = ["name", "user__username", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    fields = ["user", "name", "revoked", "prefix", "created_at", "last_used_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            raw = obj.assign_new_key()
            messages.warning(request, f"API token for {obj.user}: {raw} — copy it now, it is "
                                      "stored hashed and will not be shown again.")
        super().save_model(request, obj, form, change)
