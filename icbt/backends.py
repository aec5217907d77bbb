"""Authentication backends that load, with the user, what every page asks about them.

Every page needs to know whether the signed-in person is clinic staff or a patient
(``icbt.roles.roles_of``) and, for staff, whether they have a TOTP authenticator (the MFA gate
in ``icbt.middleware``). Loading both one-to-one relations and that fact in the query that
fetches the user saves three queries on every request, and the answer is never stale.

That query is the same on every request but for the user's id: its SQL is built once per
process (``icbt.shaped_sql``), not by the ORM on every request, which cost more than the rest
of a bare page together.
"""

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Exists, OuterRef

from icbt import shaped_sql


def _user_with_roles() -> shaped_sql.ShapedModels:
    from allauth.mfa.models import Authenticator

    totp = Authenticator.objects.filter(user=OuterRef("pk"), type=Authenticator.Type.TOTP)
    return shaped_sql.of_model_queryset(
        get_user_model()
        ._default_manager.select_related("staff__clinic", "patient__clinic")
        .defer("staff__clinic__logo", "patient__clinic__logo")
        .annotate(icbt_has_totp=Exists(totp))
        .filter(pk=shaped_sql.StandIn.row)
        .order_by()
    )


class _RolesWithTheUser:
    def get_user(self, user_id):
        try:
            pk = get_user_model()._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        if pk is None or not -(2**63) <= pk < 2**63:
            return None  # no row has it (SQLite would refuse to bind it)
        found = shaped_sql.shaped(("user_with_roles",), _user_with_roles)
        users = found.instances(connection, shaped_sql.bound(connection, found, {shaped_sql.StandIn.row: pk}))
        user = users[0] if users else None
        return user if user is not None and self.user_can_authenticate(user) else None


class ModelBackend(_RolesWithTheUser, DjangoModelBackend):
    pass


class AuthenticationBackend(_RolesWithTheUser, AllauthBackend):
    pass
