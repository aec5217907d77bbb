from icbt.models.audit import AuditChainHead, AuditEvent
from icbt.models.keys import DataKey
from icbt.models.notifications import Digest, Notification, NotificationPreference
from icbt.models.scoped import ClinicScoped
from icbt.models.submissions import FormSubmission
from icbt.models.tenancy import Accent, Clinic, StaffMember, Team
from icbt.models.users import Invitation, SignIn, User

__all__ = [
    "Accent",
    "AuditChainHead",
    "AuditEvent",
    "Clinic",
    "ClinicScoped",
    "DataKey",
    "Digest",
    "FormSubmission",
    "Invitation",
    "Notification",
    "NotificationPreference",
    "SignIn",
    "StaffMember",
    "Team",
    "User",
]
