"""Authentication backends that load, with the user, what every page asks about them.

Every page needs to know whether the signed-in person is clinic staff or a patient
(``icbt.roles.roles_of``) and, for staff, whether they have a TOTP authenticator (the MFA gate
in ``icbt.middleware``). Loading both one-to-one relations and that fact in the query that
fetches the user saves three queries on every request, and the answer is never stale.
"""

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.db.models import Exists, OuterRef


class _RolesWithTheUser:
    def get_user(self, user_id):
        from allauth.mfa.models import Authenticator

        totp = Authenticator.objects.filter(user=OuterRef("pk"), type=Authenticator.Type.TOTP)
        user = (
            get_user_model()
            ._default_manager.select_related("staff__clinic", "patient__clinic")
            .defer("staff__clinic__logo", "patient__clinic__logo")
            .annotate(icbt_has_totp=Exists(totp))
            .filter(pk=user_id)
            .first()
        )
        return user if user is not None and self.user_can_authenticate(user) else None


class ModelBackend(_RolesWithTheUser, DjangoModelBackend):
    pass


class AuthenticationBackend(_RolesWithTheUser, AllauthBackend):
    pass
