from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """No public sign-up: clinic admins invite staff and therapists invite patients."""

    def is_open_for_signup(self, request):
        return False
