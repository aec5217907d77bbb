"""Platform operators see who is a patient of which clinic, never clinical content: the
treatment itself is only reachable through the application's audited views."""

from django.contrib import admin
from django.db import transaction

from patients.models import Patient, TimelineEvent
from patients.services.recording import timeline_record
from patients.services.referrals import therapist_hand_over


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["case_reference", "clinic", "therapist", "created_at"]
    list_filter = ["clinic"]
    search_fields = ["case_reference"]
    readonly_fields = ["case_reference", "created_at"]
    autocomplete_fields = ["user"]

    def save_model(self, request, obj, form, change):
        """A new therapist set here takes over as a referral would: the open treatments, the
        waiting work and its counts go with the patient, and the timeline says so."""
        if not (change and "therapist" in form.changed_data):
            super().save_model(request, obj, form, change)
            return
        therapist = obj.therapist
        with transaction.atomic():
            obj.therapist_id = form.initial.get("therapist")
            super().save_model(request, obj, form, change)
            patient, previous = therapist_hand_over(patient_id=obj.pk, therapist=therapist)
            timeline_record(
                patient_id=patient.pk,
                clinic_id=patient.clinic_id,
                kind=TimelineEvent.Kind.THERAPIST,
                actor_id=request.user.pk,
                detail={"from": previous, "to": therapist.pk if therapist else None},
            )
        obj.therapist = therapist
