from tests.matrix import Route, signed_in

ROUTES = [
    Route("therapists:staff_list", signed_in(404, therapist=403, therapist2=403, manager=200, admin=200,
                                             outsider=200)),
    Route("therapists:staff_invite", signed_in(404, therapist=403, therapist2=403, manager=403, admin=200,
                                               outsider=403)),
    Route("therapists:clinic_overview", signed_in(404, therapist=403, therapist2=403, manager=200, admin=403,
                                                  outsider=200)),
    Route("therapists:audit_search", signed_in(404, therapist=403, therapist2=403, manager=403, admin=200,
                                               outsider=403)),
]
