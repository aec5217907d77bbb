from tests.matrix import Route, signed_in

ROUTES = [
    Route("patients:home", signed_in(404, patient_a=200, patient_b=200)),
    Route("patients:access_log", signed_in(404, patient_a=200, patient_b=200)),
    Route("patients:staff_patient_list", signed_in(404, therapist=200, therapist2=200, outsider=200, manager=403,
                                                   admin=403)),
    Route("patients:staff_patient_invite", signed_in(404, therapist=200, therapist2=200, outsider=200,
                                                     manager=403, admin=403)),
    Route("patients:staff_patient_detail", signed_in(404, therapist=200, therapist2=403, manager=403, admin=403),
          kwargs=lambda w: {"pk": w.patient_a.pk}),
]
