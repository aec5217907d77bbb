from icbt.models.audit import AuditChainHead, AuditEvent
from icbt.models.keys import DataKey
from icbt.models.notifications import Digest, Notification, NotificationPreference
from icbt.models.scoped import ClinicScoped
from icbt.models.submissions import FormSubmission
from icbt.models.users import Invitation, SignIn, User

__all__ = [
    "AuditChainHead",
    "AuditEvent",
    "ClinicScoped",
    "DataKey",
    "Digest",
    "FormSubmission",
    "Invitation",
    "Notification",
    "NotificationPreference",
    "SignIn",
    "User",
]
