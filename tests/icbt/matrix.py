from tests.matrix import LOGIN, Route, everyone, signed_in

ROUTES = [
    Route("home", everyone(302, anonymous=200)),
    Route("healthz", everyone(200)),
    Route("favicon", everyone(301)),
    Route("personal_settings", signed_in(200)),
    Route(
        "invitation_accept",
        everyone(404),
        kwargs=lambda w: {"token": "not-a-real-token"},
        note="an unknown token is a 404 for everyone; the valid path is tested in test_invitations",
    ),
]

# URL names outside our code (allauth, Django admin, i18n): requested by their own tests or
# exercised through the sign-in tests. Listed so the matrix knows they are deliberate.
EXTERNAL_PREFIXES = ("account_", "mfa_", "admin:", "set_language", "socialaccount_")
_ = LOGIN
