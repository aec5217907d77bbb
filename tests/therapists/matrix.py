from tests.matrix import NONE, Route, signed_in

ROUTES = [
    Route(
        "therapists:staff_list",
        signed_in(404, therapist=403, therapist2=403, manager=200, admin=200, outsider=200),
        audit=NONE,
    ),
    Route(
        "therapists:staff_invite",
        signed_in(404, therapist=403, therapist2=403, manager=403, admin=200, outsider=403),
        audit=NONE,
    ),
    Route(
        "therapists:clinic_overview",
        signed_in(404, therapist=403, therapist2=403, manager=200, admin=403, outsider=200),
        audit=NONE,
    ),
    Route(
        "therapists:clinic_identity",
        signed_in(404, therapist=403, therapist2=403, manager=403, admin=200, outsider=403),
        audit=NONE,
    ),
    Route(
        "therapists:audit_search",
        signed_in(404, therapist=403, therapist2=403, manager=403, admin=200, outsider=403),
        audit=NONE,
        note="the empty form searches nothing",
    ),
    Route(
        "therapists:audit_search",
        signed_in(404, therapist=403, therapist2=403, manager=403, admin=200, outsider=403),
        data=lambda w: {"action": "view"},
        audit="search:audit_log",
    ),
]

# The worklist, the caseload and the manager's dashboard with its exports. Therapists
# see their own worklist and caseload (also in another clinic); managers see their own clinic's
# aggregates (the outsider is therapist and manager of the other clinic); patients get 404.
THERAPISTS_ONLY = signed_in(404, therapist=200, therapist2=200, outsider=200, manager=403, admin=403)
MANAGERS_ONLY = signed_in(404, therapist=403, therapist2=403, manager=200, admin=403, outsider=200)

ROUTES += [
    Route("therapists:worklist", THERAPISTS_ONLY, audit="search:worklist"),
    Route("therapists:caseload", THERAPISTS_ONLY, audit="search:caseload"),
    Route("therapists:dashboard", MANAGERS_ONLY, audit=NONE),
    Route("therapists:dashboard_pdf", MANAGERS_ONLY, audit="export:clinic_report"),
    Route(
        "therapists:dashboard_csv",
        MANAGERS_ONLY,
        kwargs=lambda w: {"table": "therapists"},
        audit="export:clinic_report",
    ),
]
