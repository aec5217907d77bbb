"""What leaves the server in cookies: no flash message (it may name the patient), only the
session and CSRF cookies, and after a save that redirects the code of a fixed confirmation
(``icbt.flash``, tested in test_flash.py)."""

from django.urls import reverse


def test_a_flash_message_stays_in_the_session_not_in_a_cookie(world, client_for):
    client = client_for(world.patient_a.user)
    response = client.post(reverse("personal_settings"), {"language": "en"})
    assert response.status_code == 302
    assert "messages" not in response.cookies
    page = client.get(response["Location"]).content.decode()
    assert "Your settings are saved." in page
