"""Small builders for test data. A 'world' is two clinics with every kind of person in them."""

from dataclasses import dataclass

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP

from icbt.models import Clinic, StaffMember, Team, User
from patients.models import Patient

TEST_PASSWORD = "a-Long-test-passw0rd"
TEST_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def make_user(email, *, first_name="Test", last_name="Person", password=TEST_PASSWORD, **extra) -> User:
    return User.objects.create_user(
        email=email, password=password, first_name=first_name, last_name=last_name, **extra
    )


def give_totp(user, secret=TEST_TOTP_SECRET):
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, secret)
    return user


def make_staff(
    clinic, email, *, therapist=False, manager=False, admin=False, teams=(), totp=True, **user_extra
):
    user = make_user(email, **user_extra)
    member = StaffMember.objects.create(
        user=user, clinic=clinic, is_therapist=therapist, is_manager=manager, is_clinic_admin=admin
    )
    if teams:
        member.teams.set(teams)
    if totp:
        give_totp(user)
    return member


def make_patient(clinic, therapist, email, **user_extra) -> Patient:
    user = make_user(email, **user_extra)
    return Patient.objects.create(user=user, clinic=clinic, therapist=therapist)


@dataclass
class World:
    clinic: Clinic
    other_clinic: Clinic
    team: Team
    therapist: StaffMember  # treats patient_a and patient_b
    therapist2: StaffMember  # same clinic, treats nobody here
    manager: StaffMember
    admin: StaffMember
    outsider: StaffMember  # therapist (and manager) of the other clinic
    patient_a: Patient
    patient_b: Patient
    other_patient: Patient  # patient of the other clinic

    def persona(self, name):
        """The user behind a persona name of the authorization matrix (None = anonymous)."""
        return {
            "anonymous": None,
            "patient_a": self.patient_a.user,
            "patient_b": self.patient_b.user,
            "therapist": self.therapist.user,
            "therapist2": self.therapist2.user,
            "manager": self.manager.user,
            "admin": self.admin.user,
            "outsider": self.outsider.user,
        }[name]


def make_world() -> World:
    clinic = Clinic.objects.create(name="Alpha Clinic")
    team = Team.objects.create(clinic=clinic, name="Pain")
    other = Clinic.objects.create(name="Beta Practice", kind=Clinic.Kind.PRACTICE)
    therapist = make_staff(clinic, "alice@alpha.test", therapist=True, teams=[team], first_name="Alice")
    therapist2 = make_staff(clinic, "tom@alpha.test", therapist=True, teams=[team], first_name="Tom")
    manager = make_staff(clinic, "mary@alpha.test", manager=True, first_name="Mary")
    admin = make_staff(clinic, "adam@alpha.test", admin=True, first_name="Adam")
    outsider = make_staff(other, "charlie@beta.test", therapist=True, manager=True, first_name="Charlie")
    patient_a = make_patient(clinic, therapist, "anna@patients.test", first_name="Anna")
    patient_b = make_patient(clinic, therapist, "bob@patients.test", first_name="Bob")
    other_patient = make_patient(other, outsider, "olga@patients.test", first_name="Olga")
    return World(
        clinic,
        other,
        team,
        therapist,
        therapist2,
        manager,
        admin,
        outsider,
        patient_a,
        patient_b,
        other_patient,
    )
