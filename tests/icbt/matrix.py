from tests.matrix import LOGIN, NONE, Route, everyone, signed_in

ROUTES = [
    Route("home", everyone(302, anonymous=200), audit=NONE),
    Route("healthz", everyone(200), audit=NONE),
    Route("favicon", everyone(301), audit=NONE),
    Route(
        "crisis_help",
        everyone(200),
        note="the crisis lines are open to everyone, signed in or not",
        audit=NONE,
    ),
    Route("personal_settings", signed_in(200), audit=NONE),
    Route("styleguide", everyone(404), note="only with DEBUG on (tests/icbt/test_styleguide.py)", audit=NONE),
    Route(
        "sign_in_history",
        signed_in(200),
        note="only the person's own sign-ins: the page takes no id",
        audit=NONE,
    ),
    Route("email_change", signed_in(200), audit=NONE),
    Route(
        "email_change",
        signed_in(200),
        method="post",
        data=lambda w: {"email": "someone@else.test", "password": "not-the-password"},
        note="a wrong password keeps the form; the flow itself is tested in test_email_change",
        audit=NONE,
    ),
    Route(
        "email_change_confirm",
        everyone(404),
        kwargs=lambda w: {"token": "not-a-token"},
        note="a link that does not verify is a 404 for everyone",
        audit=NONE,
    ),
    Route(
        "retired_email_confirmation",
        everyone(404),
        kwargs=lambda w: {"key": "any-key"},
        note="allauth's address confirmation links are gone",
        audit=NONE,
    ),
    Route("session_keep_alive", signed_in(302), method="post", data=lambda w: {"next": "/"}, audit=NONE),
    Route("session_keep_alive", signed_in(405), audit=NONE),
    Route(
        "invitation_accept",
        everyone(404),
        kwargs=lambda w: {"token": "not-a-real-token"},
        note="an unknown token is a 404 for everyone; the valid path is tested in test_invitations",
        audit=NONE,
    ),
]

# URL names outside our code (allauth, Django admin, i18n): requested by their own tests or
# exercised through the sign-in tests. Listed so the matrix knows they are deliberate.
EXTERNAL_PREFIXES = ("account_", "mfa_", "admin:", "set_language", "socialaccount_")
_ = LOGIN
