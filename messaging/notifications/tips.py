"""Booster tips for therapists: at most one a week, at the end of a digest, in rotation.

Original text, written for this project from the practice of guided ICBT (see the shared
clinical notes): 10-20 minutes per patient per week, answer within two working days, reserve
feedback time like an appointment, short messages, keep it positive, know when to react.
"""

from django.utils.translation import gettext_lazy as _

TIPS = [
    _("Block a fixed slot in your calendar for online feedback, as you would for an appointment."),
    _("Plan about 10 to 20 minutes per patient per week. Most feedback fits in that time."),
    _("Answer messages and handed-in work within two working days, so patients know what to expect."),
    _("Keep feedback short: a few sentences that the patient can read on a tired day."),
    _("Start with what went well. Patients keep going when their effort is noticed."),
    _("Name one concrete thing the patient did, rather than praising in general terms."),
    _("Give at most one suggestion per message. More than one is easy to forget."),
    _("Write in the patient's own words where you can: it shows you read what they wrote."),
    _("End your feedback with a small, clear next step for the coming week."),
    _("A missed week is information, not failure. Ask what got in the way, without judgement."),
    _("Not every diary entry needs a reply. Reply when it helps the patient take the next step."),
    _("React soon to signs of risk or crisis; routine questions can wait for the feedback day."),
    _("If a patient goes quiet, a short personal note often works better than a long reminder."),
    _("Use templates as a starting point, and add one sentence that is only about this patient."),
    _("Ask an open question now and then, so the patient writes back more than yes or no."),
    _("Avoid jargon in writing. Plain words are easier to read when energy and focus are low."),
    _("Comment on a single answer when it matters, so the feedback stays next to the work it is about."),
    _("Read the whole week before you write: patterns in diaries often say more than one entry."),
    _("Let patients set the pace. Agree on small steps that they can manage on a bad day too."),
    _("When you are away, arrange a colleague to cover, so no patient waits without an answer."),
    _("Re-read your message once before sending: is it kind, clear and short?"),
    _("Celebrate the end of each module, even when not every assignment was done."),
    _("Give your feedback on the agreed day. A steady rhythm helps patients keep theirs."),
    _("Write as you would speak in a session: warm, direct and personal."),
]


def tip_text(number: int) -> str:
    return str(TIPS[number % len(TIPS)])
