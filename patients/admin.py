"""Platform operators see who is a patient of which clinic, never clinical content: the
treatment itself is only reachable through the application's audited views."""

from django.contrib import admin

from patients.models import Patient


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["case_reference", "clinic", "therapist", "created_at"]
    list_filter = ["clinic"]
    search_fields = ["case_reference"]
    readonly_fields = ["case_reference", "created_at"]
    autocomplete_fields = ["user"]
