"""Platform operators see who is a patient of which clinic, never clinical content: the
treatment itself is only reachable through the application's audited views."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from icbt.models import StaffMember
from patients.models import Enrollment, Patient, TimelineEvent
from patients.services.recording import timeline_record
from patients.services.referrals import therapist_hand_over


class PatientAdminForm(forms.ModelForm):
    """On a patient who exists: only their own clinic's therapists, and never no therapist while
    a treatment is open (the same rules ``therapist_hand_over`` enforces)."""

    class Meta:
        model = Patient
        fields = ["user", "clinic", "therapist"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and "therapist" in self.fields:
            self.fields["therapist"].queryset = StaffMember.objects.filter(
                clinic_id=self.instance.clinic_id, is_therapist=True
            )

    def clean_therapist(self):
        therapist = self.cleaned_data.get("therapist")
        if (
            self.instance.pk
            and therapist is None
            and Enrollment.objects.filter(patient=self.instance, status__in=Enrollment.OPEN_STATUSES).exists()
        ):
            raise ValidationError(_("This patient is in treatment: choose the therapist who takes over."))
        return therapist


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    form = PatientAdminForm
    list_display = ["case_reference", "clinic", "therapist", "created_at"]
    list_filter = ["clinic"]
    search_fields = ["case_reference"]
    readonly_fields = ["case_reference", "created_at"]
    autocomplete_fields = ["user"]

    def get_readonly_fields(self, request, obj=None):
        # A patient's clinic holds their records and keys: it is never moved here.
        return [*self.readonly_fields, "clinic"] if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        """A new therapist set here takes over as a referral would: the open treatments, the
        waiting work and its counts go with the patient, and the timeline says so (the admin's
        own audit event records the change)."""
        if not (change and "therapist" in form.changed_data):
            super().save_model(request, obj, form, change)
            return
        therapist = obj.therapist
        with transaction.atomic():
            # The other fields first, the therapist as the locked row has it; then the hand-over.
            obj.therapist_id = (
                Patient.objects.select_for_update().values_list("therapist_id", flat=True).get(pk=obj.pk)
            )
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
