"""E-mails that allauth sends speak with the app's own voice: no host name as a greeting or a
signature, and in the reader's language."""

import pytest
from django.core import mail
from django.urls import reverse


@pytest.mark.parametrize(
    "language,greeting,subject",
    [("en", "Hello,", "Set a new password"), ("nl", "Hallo,", "Stel een nieuw wachtwoord in")],
)
def test_the_password_reset_email_speaks_in_our_voice(world, client, language, greeting, subject):
    client.cookies["django_language"] = language
    response = client.post(
        reverse("account_reset_password"),
        {"email": world.patient_a.user.email},
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    body = message.body
    assert message.subject == subject
    assert body.startswith(greeting)
    assert "Hello from" not in body and "Thank you for using" not in body
    assert "testserver" not in body.replace("http://testserver/", "")
    assert "/accounts/password/reset/key/" in body
