"""The audit trail and published content versions are read-only in the Django admin too."""

from django.contrib import admin
from django.test import RequestFactory

from icbt.models import AuditEvent
from programs.models import ProgramVersion


def test_the_admin_never_adds_changes_or_deletes_audit_events_or_content_versions():
    request = RequestFactory().get("/admin/")
    for model in (AuditEvent, ProgramVersion):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
        assert not model_admin.has_delete_permission(request)
