"""Authentication backends that load the person's clinic roles with the user.

Every page needs to know whether the signed-in person is clinic staff or a patient
(``icbt.roles.roles_of``). Loading both one-to-one relations in the query that fetches the user
saves two queries on every request.
"""

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend


class _RolesWithTheUser:
    def get_user(self, user_id):
        user = get_user_model()._default_manager.select_related("staff", "patient").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None


class ModelBackend(_RolesWithTheUser, DjangoModelBackend):
    pass


class AuthenticationBackend(_RolesWithTheUser, AllauthBackend):
    pass
