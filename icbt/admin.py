"""Django admin for platform operators: accounts, clinics and their staff, and the audit trail
(read-only).

Clinic staff never use the admin; they work in the application. Deactivating an account here
ends its sessions at once (icbt.services.user_deactivate).
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from icbt import services
from icbt.models import AuditEvent, Clinic, StaffMember, Team, User


class ReadOnlyAdmin(admin.ModelAdmin):
    """An admin page that shows rows and never adds, changes or deletes them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_active", "is_staff", "date_joined"]
    list_filter = ["is_active", "is_staff", "is_superuser"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Person", {"fields": ["first_name", "last_name", "language"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]

    def save_model(self, request, obj, form, change):
        deactivated = change and "is_active" in form.changed_data and not obj.is_active
        super().save_model(request, obj, form, change)
        if deactivated:
            services.user_sessions_end(user=obj)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the trail can be searched, never changed."""

    list_display = [
        "at",
        "user_email",
        "role",
        "action",
        "outcome",
        "clinic_id",
        "patient_id",
        "object_type",
        "object_id",
        "client_ip",
    ]
    list_filter = ["action", "outcome", "role"]
    search_fields = ["user_email", "object_type", "object_id"]
    date_hierarchy = "at"


class TeamInline(admin.TabularInline):
    model = Team
    extra = 0


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "created_at"]
    search_fields = ["name"]
    inlines = [TeamInline]


@admin.register(StaffMember)
class StaffMemberAdmin(admin.ModelAdmin):
    list_display = ["user", "clinic", "is_therapist", "is_manager", "is_clinic_admin", "training_date"]
    list_filter = ["clinic", "is_therapist", "is_manager", "is_clinic_admin"]
    search_fields = ["user__email", "user__first_name", "user__last_name"]
    autocomplete_fields = ["user"]
    filter_horizontal = ["teams"]
