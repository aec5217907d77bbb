"""The dashboard read from its daily figures (``patients.figures``) counts as the source tables
do: contacts outside a treatment count for the teams their therapist is in now, and the figures
written by the services give the same dashboard as the figures counted again from the rows."""

import pytest
from django.utils import timezone

from icbt.models import Team
from patients import figures, services
from patients.models import DailyFigure, WorkTally
from tests.factories import make_patient, make_staff
from tests.messaging.helpers import submitted_answer
from tests.patients import staff_helpers as sh
from therapists.dashboard import clinic_dashboard

pytestmark = pytest.mark.django_db


def _contacts(world, team=None):
    d = clinic_dashboard(fetched_by=world.manager.user, team_id=team.pk if team else None)
    total = d.contacts_total
    return total.online, dict(total.sessions)


def test_contacts_outside_a_treatment_count_for_the_therapists_teams_now(world, clock):
    fatigue = Team.objects.create(clinic=world.clinic, name="Fatigue")
    fay = make_staff(world.clinic, "fay@alpha.test", therapist=True, teams=[fatigue])
    alone = make_patient(world.clinic, fay, "alone@patients.test")
    services.treatment_session_record(
        patient=alone, staff=fay, held_on=timezone.localdate(), kind="phone", minutes=20
    )
    services.intake_record(
        patient=alone,
        program=sh.tiny().program,
        therapist=fay,
        held_on=timezone.localdate(),
        answers={"goals": ["walk"]},
        decision="indicated",
    )
    assert _contacts(world) == (0, {"phone": 1, "intake": 1})
    assert _contacts(world, fatigue) == (0, {"phone": 1, "intake": 1})
    assert _contacts(world, world.team) == (0, {})
    fay.teams.set([world.team])  # she moves: her contacts outside a treatment move with her
    assert _contacts(world, fatigue) == (0, {})
    assert _contacts(world, world.team) == (0, {"phone": 1, "intake": 1})


def test_the_services_figures_give_the_dashboard_the_rows_give(world, clock):
    version = sh.tiny()
    enrollment = services.enrollment_create(
        patient=world.patient_a,
        version=version,
        therapist=world.therapist,
        enrolled_by=world.therapist,
        start_date=timezone.localdate(),
    )
    services.step_visit(enrollment=enrollment, step=version.steps.order_by("module__number", "position")[0])
    submitted_answer(enrollment)
    services.treatment_session_record(
        patient=world.patient_a, staff=world.therapist, held_on=timezone.localdate(), kind="video", minutes=30
    )
    services.intake_request_create(
        clinic=world.clinic, program=sh.tiny().program, name="Petra", email="petra@home.test"
    )

    def seen():
        d = clinic_dashboard(fetched_by=world.manager.user)
        return (
            [(r.staff_id, r.pending, r.active) for r in d.therapists],
            [(r.program, r.month, r.intake_requests, r.starts) for r in d.program_months],
            [(r.stage, r.patients) for r in d.funnel],
            [(r.month, r.online, dict(r.sessions)) for r in d.contacts],
            d.team_rows(),
        )

    written = seen()
    assert written[1] and written[2] and written[0][0][1:] == (1, 1)  # figures to compare
    assert figures.reconcile() == []
    DailyFigure.objects.all().delete()
    WorkTally.objects.all().delete()
    figures.reconcile(repair=True)
    assert seen() == written


def test_a_table_body_is_escaped_and_localized_as_the_template_does():
    from django.utils import translation

    from therapists.dashboard_presentation import Table

    table = Table("t", "T", ["Therapist", "Share", "Patients"], [["<b>Ann</b>", 12.5, 3]])
    with translation.override("nl"):
        html = table.body_html()
    assert html == '<tr><th scope="row">&lt;b&gt;Ann&lt;/b&gt;</th><td>12,5</td><td>3</td></tr>\n'


@pytest.mark.parametrize("language", ["en", "nl"])
def test_every_kind_of_cell_is_written_as_the_template_engine_writes_it(language):
    from django.template import Context, Template
    from django.utils import translation

    from therapists.dashboard_presentation import _cell

    values = [-1001, -5, 0, 7, 999, 1000, 123456, 2.5, 1234.75, None, True, False, "a & b", "<i>"]
    with translation.override(language):
        engine = Template("{{ v }}")
        for value in values:
            assert _cell(value) == engine.render(Context({"v": value})), value
