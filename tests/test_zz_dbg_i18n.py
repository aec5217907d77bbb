from tests.test_i18n import *  # noqa
from tests.test_i18n import _dutch, _page, pain_nl  # noqa

def test_dbg(world, pain_nl, client_for):
    from tests.patients.patient_helpers import enroll
    enroll(world.patient_a, pain_nl)
    client = client_for(_dutch(world.patient_a.user))
    r = client.get(reverse("patients:diary_list"))
    print(r.content.decode()[-3000:])
    t = client_for(_dutch(world.therapist.user))
    print(t.get(reverse("patients:staff_patient_list")).content.decode()[-2500:])
    assert 0
