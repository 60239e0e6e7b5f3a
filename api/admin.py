"""API keys in the admin: create (the key is shown once), revoke, see when last used."""

from django.contrib import admin, messages

from api.models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "role", "prefix", "created_at", "last_used_at", "revoked"]
    list_filter = ["role", "revoked"]
    search_fields = ["name", "prefix"]
    fields = ["name", "role", "revoked", "prefix", "created_at", "last_used_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]

    def save_model(self, request, obj: ApiKey, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key, secret = ApiKey.generate(obj.name, obj.role)
        obj.pk, obj.prefix, obj.key_hash = key.pk, key.prefix, key.key_hash
        messages.warning(request, f"The key for {key.name!r} is shown only now: {secret}")
