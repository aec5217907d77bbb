"""Demo data for trying the application: two clinics and every kind of person.

Refuses to run in production (DJANGO_DEBUG=false). Safe to run twice: existing people and
clinics are found again, not duplicated.
"""

from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from devtools.demo import seed_patient_demo
from icbt.models import Clinic, NotificationPreference, StaffMember, Team, User
from patients.models import Patient

DEMO_PASSWORD = "demo-icbt-2026"
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # 160 bits, base32

LINDE_STAFF = [
    # email, first, last, roles, teams
    ("admin@linde.example", "Anouk", "de Vries", {"is_clinic_admin": True}, []),
    ("manager@linde.example", "Marco", "Jansen", {"is_manager": True}, ["Pain", "Fatigue"]),
    ("therapist@linde.example", "Tessa", "Bakker", {"is_therapist": True}, ["Pain", "Fatigue"]),
    ("therapist2@linde.example", "Daan", "Visser", {"is_therapist": True}, ["Fatigue"]),
]
LINDE_PATIENTS = [
    ("pain.patient@linde.example", "Petra", "Smit"),
    ("fatigue.patient@linde.example", "Frank", "Mulder"),
]


class Command(BaseCommand):
    help = "Create the demo clinics, staff and patients (development only; safe to run twice)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when any clinic exists already."
        )

    def handle(self, *args, if_empty=False, **options):
        if not settings.DEBUG:
            raise CommandError(
                "seed_demo creates accounts with a known password: it refuses to run with DJANGO_DEBUG=false."
            )
        if if_empty and Clinic.objects.exists():
            self.stdout.write("Clinics exist already: demo data left as it is.")
            return
        with transaction.atomic():
            self._seed()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Password for every account: {DEMO_PASSWORD}"))

    def _seed(self):
        linde, _ = Clinic.objects.get_or_create(
            name="Linde Clinic",
            defaults={
                "kind": Clinic.Kind.INSTITUTE,
                "crisis_instructions": (
                    "In an emergency, call 112. Outside office hours, call your GP's out-of-hours service."
                ),
            },
        )
        teams = {name: Team.objects.get_or_create(clinic=linde, name=name)[0] for name in ("Pain", "Fatigue")}
        staff = {}
        for email, first, last, roles, team_names in LINDE_STAFF:
            member = self._staff(linde, email, first, last, roles)
            member.teams.set([teams[n] for n in team_names])
            staff[email] = member
        staff["therapist@linde.example"].training_date = timezone.localdate().replace(month=1, day=15)
        staff["therapist@linde.example"].save(update_fields=["training_date"])
        staff["therapist2@linde.example"].training_date = timezone.localdate().replace(month=3, day=10)
        staff["therapist2@linde.example"].save(update_fields=["training_date"])
        for email, first, last in LINDE_PATIENTS:
            self._patient(linde, staff["therapist@linde.example"], email, first, last)
        # The demo therapist gets "soon" digests, so that under `make run` an e-mail lands in
        # var/mail/ within minutes of a patient's action (the default is daily at 08:00).
        NotificationPreference.objects.get_or_create(
            user=staff["therapist@linde.example"].user,
            defaults={"email_enabled": True, "frequency": NotificationPreference.Frequency.SOON},
        )

        noorderzon, _ = Clinic.objects.get_or_create(
            name="Noorderzon Practice",
            defaults={"kind": Clinic.Kind.PRACTICE, "crisis_instructions": "In an emergency, call 112."},
        )
        owner = self._staff(
            noorderzon,
            "owner@noorderzon.example",
            "Olivia",
            "Noordhuis",
            {"is_therapist": True, "is_manager": True, "is_clinic_admin": True},
        )
        self._patient(noorderzon, owner, "patient@noorderzon.example", "Noah", "de Boer")
        seed_patient_demo(self.stdout)  # enrollments, diaries, answers (devtools/demo.py)

    def _user(self, email, first, last) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email=email, password=DEMO_PASSWORD, first_name=first, last_name=last
            )
            self.stdout.write(f"  created {email}")
        return user

    def _staff(self, clinic, email, first, last, roles) -> StaffMember:
        user = self._user(email, first, last)
        member, _ = StaffMember.objects.get_or_create(user=user, defaults={"clinic": clinic, **roles})
        if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
            TOTP.activate(user, DEMO_TOTP_SECRET)
            RecoveryCodes.activate(user)
        return member

    def _patient(self, clinic, therapist, email, first, last) -> Patient:
        user = self._user(email, first, last)
        patient, _ = Patient.objects.get_or_create(
            user=user, defaults={"clinic": clinic, "therapist": therapist}
        )
        return patient
