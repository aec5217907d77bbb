"""Template and snippet pages: personal ones per therapist, clinic-wide ones by the clinic admin."""

from django.urls import reverse

from messaging import services
from messaging.models import FeedbackTemplate


def test_therapist_creates_edits_and_deletes_a_personal_template(world, client_for):
    therapist = client_for(world.therapist.user)
    response = therapist.post(
        reverse("messaging:template_create"),
        {"title": "Good start", "body": "Well done, {first_name}!", "is_snippet": "on"},
    )
    assert response.status_code == 302
    template = FeedbackTemplate.objects.get()
    assert template.owner == world.therapist and template.clinic == world.clinic and template.is_snippet

    page = therapist.get(reverse("messaging:template_list")).content.decode()
    assert "Good start" in page and "My own" in page

    url = reverse("messaging:template_update", args=[template.pk])
    assert therapist.post(url, {"title": "Good start", "body": "Well done, {first_name}."}).status_code == 302
    template.refresh_from_db()
    assert template.body == "Well done, {first_name}." and not template.is_snippet

    assert therapist.get(reverse("messaging:template_delete", args=[template.pk])).status_code == 200
    assert therapist.post(reverse("messaging:template_delete", args=[template.pk])).status_code == 302
    assert not FeedbackTemplate.objects.exists()


def test_bad_template_keeps_what_was_typed(world, client_for):
    response = client_for(world.therapist.user).post(
        reverse("messaging:template_create"), {"title": "Oops", "body": "Dear {firstname}, see you."}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Unknown placeholder {firstname}" in page
    assert "Dear {firstname}, see you.</textarea>" in page
    assert not FeedbackTemplate.objects.exists()


def test_clinic_admin_keeps_the_clinic_templates(world, client_for):
    admin = client_for(world.admin.user)
    assert (
        admin.post(
            reverse("messaging:template_create"), {"title": "Welcome", "body": "Welcome, {first_name}."}
        ).status_code
        == 302
    )
    template = FeedbackTemplate.objects.get()
    assert template.owner is None and template.clinic == world.clinic
    page = client_for(world.therapist.user).get(reverse("messaging:template_list")).content.decode()
    assert "Welcome" in page
    assert reverse("messaging:template_update", args=[template.pk]) not in page  # therapists only use it
    assert (
        client_for(world.therapist.user)
        .post(reverse("messaging:template_delete", args=[template.pk]))
        .status_code
        == 403
    )
    assert FeedbackTemplate.objects.exists()


def test_a_person_with_both_roles_chooses_who_can_use_it(world, client_for):
    world.therapist.is_clinic_admin = True
    world.therapist.save()
    therapist = client_for(world.therapist.user)
    assert "everyone in the clinic" in therapist.get(reverse("messaging:template_create")).content.decode()
    therapist.post(reverse("messaging:template_create"), {"title": "A", "body": "a", "scope": "clinic"})
    therapist.post(reverse("messaging:template_create"), {"title": "B", "body": "b", "scope": "personal"})
    by_title = {t.title: t for t in FeedbackTemplate.objects.all()}  # titles are encrypted: read, not queried
    assert by_title["A"].owner is None
    assert by_title["B"].owner == world.therapist


def test_templates_never_cross_clinics(world, client_for):
    theirs = services.template_create(staff=world.outsider, title="Beta only", body="x")
    page = client_for(world.therapist.user).get(reverse("messaging:template_list")).content.decode()
    assert "Beta only" not in page
    url = reverse("messaging:template_update", args=[theirs.pk])
    assert client_for(world.therapist.user).get(url).status_code == 404
