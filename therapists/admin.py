from django.contrib import admin

from therapists.models import Clinic, StaffMember, Team


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
