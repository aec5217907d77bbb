from icbt.models.audit import AuditEvent
from icbt.models.keys import DataKey
from icbt.models.users import Invitation, User

__all__ = ["AuditEvent", "DataKey", "Invitation", "User"]
