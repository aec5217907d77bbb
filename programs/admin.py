"""Django admin (platform operators): read-only content, and the clinic additions.

Content versions are read-only here as everywhere: they change only by loading files."""

from django import forms
from django.contrib import admin

from icbt.admin import ReadOnlyAdmin
from programs import services
from programs.models import ClinicProgramSetting, LicensedInstrument, ProgramVersion, StepMedia


@admin.register(ProgramVersion)
class ProgramVersionAdmin(ReadOnlyAdmin):
    list_display = ["program", "language", "number", "title", "published_at"]
    list_filter = ["program", "language"]


class StepMediaAdminForm(forms.ModelForm):
    """The same checks as the clinic admin's upload page: type by content, size, captions."""

    class Meta:
        model = StepMedia
        fields = ["clinic", "step_key", "language", "file", "captions"]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload and "file" in self.changed_data:
            services.validate_media_file(upload, kind=None)
        return upload

    def clean_captions(self):
        upload = self.cleaned_data["captions"]
        if upload and "captions" in self.changed_data:
            services.validate_captions_file(upload)
        return upload


@admin.register(StepMedia)
class StepMediaAdmin(admin.ModelAdmin):
    form = StepMediaAdminForm
    list_display = ["clinic", "step_key", "language", "uploaded_at"]
    list_filter = ["clinic", "language"]
    search_fields = ["step_key"]
    readonly_fields = ["uploaded_by", "uploaded_at"]

    def save_model(self, request, obj, form, change):
        earlier = StepMedia.objects.filter(pk=obj.pk).first() if change else None
        obj.uploaded_by = request.user
        super().save_model(request, obj, form, change)
        if earlier is not None:
            services.step_media_files_forget(obj, [earlier.file.name, earlier.captions.name])


@admin.register(ClinicProgramSetting)
class ClinicProgramSettingAdmin(admin.ModelAdmin):
    list_display = ["clinic", "program", "updated_at"]


@admin.register(LicensedInstrument)
class LicensedInstrumentAdmin(admin.ModelAdmin):
    list_display = ["clinic", "code", "language", "uploaded_at"]
    readonly_fields = ["source_sha256", "uploaded_by", "uploaded_at"]
