"""The authorization matrix: every URL of the application, and what each persona gets.

Each app lists its routes in ``tests/<app>/matrix.py`` as ``ROUTES = [Route(...), ...]``;
``tests/test_authorization_matrix.py`` collects them all and fails on any URL pattern that no
route covers. Personas (see tests/factories.World.persona):

    anonymous, patient_a, patient_b, therapist (treats A and B), therapist2 (same clinic),
    manager, admin (clinic admin), outsider (therapist+manager of another clinic)

``expect`` maps every persona to a status code. ``LOGIN`` means a redirect to the sign-in page.
``audit`` names the audit events (``"action:object_type"``) every allowed request must write,
and nothing else: ``NONE`` for a page without patient data, a tuple when a change writes the
access and the change. ``refused`` names the event a refused staff member's request writes
(``NONE``: their refusal is a role check, not recorded); a refused request never writes an
allowed event, and nobody who is not staff gets a recorded refusal.
``kwargs`` receives the World and returns the URL kwargs. ``setup`` (optional) receives the
World and may create objects first (its return value is passed as ``extra`` to ``kwargs``).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

PERSONAS = ["anonymous", "patient_a", "patient_b", "therapist", "therapist2", "manager", "admin", "outsider"]
STAFF = ("therapist", "therapist2", "manager", "admin", "outsider")
LOGIN = "login"
NONE = ()


@dataclass
class Route:
    name: str  # "namespace:url_name"
    expect: dict[str, object]
    audit: str | tuple[str, ...]  # what an allowed request writes; NONE for nothing
    kwargs: Callable | None = None
    method: str = "get"
    data: Callable | None = None  # World -> POST data
    setup: Callable | None = None
    note: str = ""
    extra_names: list[str] = field(default_factory=list)  # other URL names this entry covers
    refused: str | tuple[str, ...] = NONE  # what a refused staff member's request writes

    def audit_events(self, *, allowed: bool) -> set[str]:
        events = self.audit if allowed else self.refused
        return {events} if isinstance(events, str) else set(events)


def everyone(status, **overrides):
    """The same status for every persona, with overrides."""
    result = {persona: status for persona in PERSONAS}
    result.update(overrides)
    return result


def signed_in(status, **overrides):
    """Anonymous is sent to sign in; everyone signed in gets ``status`` unless overridden."""
    return everyone(status, anonymous=LOGIN, **overrides)
