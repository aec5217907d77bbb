"""Every account has exactly one address, the one on the user row. allauth's address management
(now gone) let anyone attach other addresses, even other people's, to their account; a password
reset for such an address reached the wrong account. Remove every allauth address row that is not
the user's own address."""

from django.db import migrations
from django.db.models import F
from django.db.models.functions import Lower


def remove_foreign_addresses(apps, schema_editor):
    EmailAddress = apps.get_model("account", "EmailAddress")
    EmailAddress.objects.annotate(own=Lower(F("user__email")), this=Lower(F("email"))).exclude(
        own=F("this")
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("icbt", "0006_signin_history_and_security_audit_actions"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [migrations.RunPython(remove_foreign_addresses, migrations.RunPython.noop)]
