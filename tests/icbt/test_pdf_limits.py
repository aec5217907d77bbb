"""PDF downloads are made once per (person, kind, data version) and at a bounded rate per person:
one person pressing *download* many times cannot hold every web worker."""

import pytest
from django.core.cache import cache
from django.urls import reverse

import icbt.pdf
from patients.models import TreatmentSession
from tests.messaging.helpers import enroll
from tests.work import settle

pytestmark = pytest.mark.django_db


@pytest.fixture
def renders(monkeypatch):
    """Every PDF WeasyPrint makes in this test, in order."""
    made = []
    real = icbt.pdf.html_to_pdf

    def counting(html, **kwargs):
        made.append(html)
        return real(html, **kwargs)

    monkeypatch.setattr(icbt.pdf, "html_to_pdf", counting)
    return made


def _summary_url(world):
    return reverse("patients:staff_treatment_summary", kwargs={"pk": world.patient_a.pk})


def _add_session(world, minutes):
    from django.utils import timezone

    TreatmentSession.objects.create(
        clinic_id=world.patient_a.clinic_id,
        patient=world.patient_a,
        held_on=timezone.localdate(),
        kind="phone",
        minutes=minutes,
        recorded_by=world.therapist,
    )
    settle()


def test_the_same_data_is_rendered_once(world, client_for, renders):
    enroll(world.patient_a)
    client = client_for(world.patient_a.user)
    first = client.get(reverse("patients:my_data_pdf"))
    second = client.get(reverse("patients:my_data_pdf"))
    assert first.status_code == second.status_code == 200
    assert second.content == first.content and first.content.startswith(b"%PDF")
    assert len(renders) == 1


def test_changed_data_is_rendered_again(world, client_for, renders):
    enroll(world.patient_a)
    therapist = client_for(world.therapist.user)
    assert therapist.get(_summary_url(world)).status_code == 200
    _add_session(world, 25)
    assert therapist.get(_summary_url(world)).status_code == 200
    assert therapist.get(_summary_url(world)).status_code == 200
    assert len(renders) == 2


def test_each_person_has_their_own_copy(world, client_for, renders):
    enroll(world.patient_a)
    assert client_for(world.therapist.user).get(_summary_url(world)).status_code == 200
    assert client_for(world.admin.user).get(_summary_url(world)).status_code in (403, 404)
    assert len(renders) == 1
    assert client_for(world.patient_a.user).get(reverse("patients:my_data_pdf")).status_code == 200
    assert len(renders) == 2


def test_the_cache_holds_no_readable_pdf(world, client_for):
    """The cached PDF is encrypted with the clinic's data key: a cache server never holds
    readable health data."""
    enroll(world.patient_a)
    client_for(world.patient_a.user).get(reverse("patients:my_data_pdf"))
    keys = [k.split(":", 2)[-1] for k in cache._cache]  # LocMemCache: ":<version>:<key>"
    values = [cache.get(key) for key in keys if key.startswith("icbt:pdf:file:")]
    assert len(values) == 1 and values[0].startswith("icbt1:")
    assert "%PDF" not in values[0] and world.patient_a.user.first_name not in values[0]


def test_over_the_limit_is_a_429_in_plain_words(world, client_for, renders, settings):
    settings.ICBT_PDF_RENDERS_PER_WINDOW = 2
    settings.ICBT_PDF_WINDOW_SECONDS = 600
    enroll(world.patient_a)
    therapist = client_for(world.therapist.user)
    assert therapist.get(_summary_url(world)).status_code == 200
    _add_session(world, 20)
    assert therapist.get(_summary_url(world)).status_code == 200
    _add_session(world, 30)
    refused = therapist.get(_summary_url(world))
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 600
    page = refused.content.decode()
    assert "You asked for many PDFs in a short time." in page
    assert "Try again in 10 minutes (after " in page
    assert len(renders) == 2
    # What did not change still comes from the cache; other people are not limited.
    removed = TreatmentSession.objects.filter(minutes=30).delete()
    assert removed[0] == 1
    settle()
    assert therapist.get(_summary_url(world)).status_code == 200
    assert len(renders) == 2
    assert client_for(world.patient_a.user).get(reverse("patients:my_data_pdf")).status_code == 200


def test_one_at_a_time_per_person(world, client_for, renders):
    """While a PDF is being made for someone, their next request is answered at once with 429
    instead of holding a second worker."""
    enroll(world.patient_a)
    cache.add(f"icbt:pdf:busy:{world.patient_a.user.pk}", 1, timeout=60)
    refused = client_for(world.patient_a.user).get(reverse("patients:my_data_pdf"))
    assert refused.status_code == 429 and refused["Retry-After"] == "30"
    assert "A PDF is being made for you right now." in refused.content.decode()
    assert not renders
    # The mark is gone once a render finishes (also when it fails).
    cache.delete(f"icbt:pdf:busy:{world.patient_a.user.pk}")
    assert client_for(world.patient_a.user).get(reverse("patients:my_data_pdf")).status_code == 200
    assert cache.get(f"icbt:pdf:busy:{world.patient_a.user.pk}") is None


def test_the_clinic_report_is_limited_too(world, client_for, renders, settings):
    settings.ICBT_PDF_RENDERS_PER_WINDOW = 1
    manager = client_for(world.manager.user)
    url = reverse("therapists:dashboard_pdf")
    assert manager.get(url, {"start": "2026-01-01", "end": "2026-12-31"}).status_code == 200
    assert manager.get(url, {"start": "2026-01-01", "end": "2026-12-31"}).status_code == 200
    assert manager.get(url, {"start": "2025-01-01", "end": "2025-12-31"}).status_code == 429
    assert len(renders) == 1


def test_downloads_commit_their_audit_event_before_rendering():
    """A download runs outside the request transaction: its audit row (whose seal locks the
    clinic's audit chain on PostgreSQL until commit) is committed at once, not held while
    WeasyPrint renders for seconds."""
    from django.urls import resolve, reverse

    urls = [
        reverse("patients:staff_treatment_summary", args=[1]),
        reverse("patients:my_data_pdf"),
        reverse("patients:my_data_json"),
        reverse("therapists:dashboard_pdf"),
        reverse("therapists:dashboard_csv", kwargs={"table": "therapists"}),
    ]
    for url in urls:
        view = resolve(url).func
        assert "default" in getattr(view, "_non_atomic_requests", set()), url


def test_the_cache_key_cannot_confirm_a_guessed_page(monkeypatch, settings):
    """Whoever reads the cache keys cannot test a guess of what a PDF shows: the data version
    is keyed with the installation's secret, not a plain hash of the page."""
    monkeypatch.setattr(icbt.pdf, "render_to_string", lambda name, context: "<p>Pain 7 of 10</p>")
    version = icbt.pdf.data_version("report.html", {}, stamp=())
    assert version == icbt.pdf.data_version("report.html", {}, stamp=())
    settings.SECRET_KEY = "another-installation-" + "x" * 40
    assert icbt.pdf.data_version("report.html", {}, stamp=()) != version
