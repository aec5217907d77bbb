"""The patient's confirmations after a save that redirects: fixed texts, shown on the next page
from a short-lived cookie that holds only their code (``icbt.flash``; an opaque "p1", not
"diary"), so such a save writes no session. Imported by the app's ``ready``: every process
knows every code."""

from django.utils.translation import gettext_lazy as _

from icbt.flash import confirmation

DIARY_SAVED = confirmation("p1", _("Your diary is saved. You can change it until the end of the day."))
DIARY_STEP_SAVED = confirmation(
    "p2", _("Today's diary is saved. You can change it until the end of the day.")
)
MOMENT_SAVED = confirmation(
    "p3", _("Your entry is saved. The next time, you start a new entry; this one is kept.")
)
