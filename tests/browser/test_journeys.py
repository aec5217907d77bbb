"""The seven journeys of PRODUCT.md in Chromium, one test each, from the public program page to
the manager's period report. Every page a journey visits is screenshotted
(test-artifacts/screenshots/<test>/) and checked with axe at a phone and a desktop width.

The journeys tell one story and run in this file's order (pytest keeps definition order, and
``--dist loadfile`` keeps a file on one worker): a person asks for an intake and a colleague refers
a patient (1); the therapist invites a new patient, Sanne, records her intake, enrolls her in Master
your Fatigue, and Sanne sets her password and starts (2); Sanne does module 1 and keeps her diaries
for a week (3); the therapist gives feedback on that diary from the worklist with a template (4);
Sanne hears of it by a digest e-mail, reads it and replies (5); the therapist opens the later
modules, Sanne fills in the end questionnaires and the stepped-care decision is recorded (6); the
therapist exports the treatment summary and the manager reads the clinic's figures and downloads
the period report (7). What one journey leaves for the next is kept in ``story``.
"""

import re
from datetime import date, timedelta

import pytest

from tests.browser.conftest import DEMO_PASSWORD, PHONE, link_paths, mail_html, mail_text, manage, sent_mails

pytestmark = pytest.mark.browser

THERAPIST = "therapist@linde.example"  # Tessa Bakker
COLLEAGUE = "therapist2@linde.example"  # Daan Visser
MANAGER = "manager@linde.example"
ADMIN = "admin@linde.example"
SANNE = "sanne.visser@example.org"
RUBEN = "ruben.jansen@example.org"


@pytest.fixture(scope="module")
def story():
    return {}


def needs(story, key, journey):
    if key not in story:
        pytest.fail(f"this journey goes on from journey {journey}, which did not get that far: run the file")
    return story[key]


def main_text(page) -> str:
    return page.locator("main").inner_text()


def click_and_wait(page, locator):
    with page.expect_navigation():
        locator.click()


# --- 1. A person asks for an intake; a colleague refers a patient -----------------------------------


def test_journey_1_public_program_page_intake_request_and_a_referral(anonymous, signed_in, visit):
    page = anonymous  # a phone
    visit(page, "/programs/", "programs")
    page.get_by_role("link", name="Master your Fatigue").click()
    visit(page, None, "program-page")
    assert "Ask for an intake" in main_text(page)
    page.get_by_label("Your name").fill("Ilse Bos")
    page.get_by_label("Your e-mail address").fill("ilse.bos@example.org")
    page.get_by_label("Clinic", exact=True).select_option(label="Linde Clinic")
    page.get_by_label("Message").fill("Best reached in the morning.")
    page.get_by_label("I agree that the clinic uses these details").check()
    click_and_wait(page, page.get_by_role("button", name="Send my request"))
    assert "/programs/master-your-fatigue/request-sent/" in page.url
    visit(page, None, "request-sent")

    # The clinic's therapist finds the request on the worklist and marks it contacted.
    therapist = signed_in(THERAPIST, staff=True).page
    visit(therapist, "/staff/worklist/?kind=intake_request", "worklist-intake-requests")
    therapist.locator("main tr", has_text="Intake request").get_by_role("link", name="Master your Fatigue").click()
    visit(therapist, None, "intake-request")
    assert "ilse.bos@example.org" in main_text(therapist)
    therapist.get_by_label("Status").select_option(label="contacted")
    click_and_wait(therapist, therapist.get_by_role("button", name="Save status"))
    visit(therapist, None, "intake-requests-after-marking")
    assert "The request is marked contacted." in main_text(therapist)

    # A colleague invites a patient of theirs and refers him to the ICBT therapist.
    colleague = signed_in(COLLEAGUE, staff=True).page
    visit(colleague, "/staff/patients/", "colleague-patients")
    colleague.get_by_role("link", name="Invite a patient").click()
    visit(colleague, None, "colleague-invite")
    colleague.get_by_label("First name").fill("Ruben")
    colleague.get_by_label("Last name").fill("Jansen")
    colleague.get_by_label("E-mail address").fill(RUBEN)
    click_and_wait(colleague, colleague.get_by_role("button", name="Send invitation"))
    visit(colleague, None, "colleague-patient")
    colleague.get_by_role("link", name="Refer to a colleague").click()
    visit(colleague, None, "referral-form")
    colleague.get_by_label("Refer to").select_option(label="Tessa Bakker")
    colleague.get_by_label("Program").select_option(label="Master your Pain")
    colleague.get_by_label("Note for your colleague").fill("Low back pain for years; would the program suit him?")
    click_and_wait(colleague, colleague.get_by_role("button", name="Send the referral"))
    assert "Your colleague has been asked." in main_text(colleague)

    # The therapist accepts, and the patient is in her list.
    visit(therapist, "/staff/referrals/", "referrals")
    therapist.locator("main").get_by_role("link", name=re.compile("Ruben Jansen")).first.click()
    visit(therapist, None, "referral")
    therapist.get_by_label("Accept: I become this patient's therapist").check()
    click_and_wait(therapist, therapist.get_by_role("button", name="Send my answer"))
    assert "You are now this patient's therapist." in main_text(therapist)
    visit(therapist, None, "referred-patient")
    therapist.goto("/staff/patients/")
    assert "Ruben Jansen" in main_text(therapist)


# --- 2. Intake, decision, goals, enrollment; the invitation; a password; the start -----------------


def test_journey_2_intake_enrollment_invitation_and_start(
    app_server, signed_in, anonymous, _storage_states, visit, story
):
    therapist = signed_in(THERAPIST, staff=True).page
    visit(therapist, "/staff/patients/", "my-patients")
    therapist.get_by_role("link", name="Invite a patient").click()
    visit(therapist, None, "invite")
    therapist.get_by_label("First name").fill("Sanne")
    therapist.get_by_label("Last name").fill("Visser")
    therapist.get_by_label("E-mail address").fill(SANNE)
    click_and_wait(therapist, therapist.get_by_role("button", name="Send invitation"))
    assert "The invitation is on its way." in main_text(therapist)
    story["patient_url"] = patient_url = re.sub(r"^https?://[^/]+", "", therapist.url)
    story["patient_pk"] = int(re.search(r"/staff/patients/(\d+)/", patient_url).group(1))
    visit(therapist, None, "patient-invited")

    # The intake, face to face: the CDC criteria, goals in her own words, the decision.
    therapist.locator("main").get_by_role("link", name="Master your Fatigue").click()
    visit(therapist, None, "intake-form")
    for criterion in (
        "Fatigue for at least six months",
        "New or definite onset",
        "Not the result of ongoing exertion",
        "Not substantially relieved by rest",
        "Substantial reduction in earlier",
    ):
        therapist.get_by_label(criterion).check()
    for symptom in ("Impaired short-term memory", "Muscle pain", "Unrefreshing sleep", "Malaise after"):
        therapist.get_by_label(symptom).check()
    therapist.get_by_label("Comorbidity").fill("Mild hay fever.")
    therapist.get_by_label("relatively active (bursts of activity, then rest)").check()
    therapist.get_by_label("Goal 1").fill("Work three days a week on the ward again")
    therapist.get_by_label("Goal 2").fill("Swim twice a week")
    click_and_wait(therapist, therapist.get_by_role("button", name="Check the criteria"))
    visit(therapist, None, "intake-criteria-checked", key="intake-checked")
    therapist.get_by_label("indicated for the online program").check()
    click_and_wait(therapist, therapist.get_by_role("button", name="Save the intake"))
    assert "The intake is recorded." in main_text(therapist)
    visit(therapist, None, "intake-recorded")
    intake = main_text(therapist)
    assert "Work three days a week on the ward again" in intake and "indicated" in intake

    # Enrollment: the program, a fortnightly rhythm on Thursday.
    therapist.goto(patient_url)
    therapist.locator("main").get_by_role("link", name=re.compile("^Enroll")).first.click()
    visit(therapist, None, "enroll")
    therapist.get_by_label("Program").select_option(label="Master your Fatigue (English, version 1)")
    therapist.get_by_label("every two weeks").check()
    therapist.get_by_label("Feedback day").select_option(label="Thursday")
    click_and_wait(therapist, therapist.get_by_role("button", name="Enroll"))
    assert "The invitation to set a password is on its way." in main_text(therapist)
    visit(therapist, None, "enrolled")
    overview = main_text(therapist)
    assert "Master your Fatigue" in overview and "every two weeks, on Thursday" in overview

    # The invitation: no clinic, no treatment named; its link works once.
    invitations = [m for m in sent_mails(app_server, SANNE) if link_paths(mail_text(m), "/invitation/")]
    assert len(invitations) == 2, "one invitation when invited, a fresh one when enrolled"
    body = mail_text(invitations[-1]) + mail_html(invitations[-1])
    for word in ("Fatigue", "Linde", "therapy", "CBT", "Tessa"):
        assert word not in body, f"the invitation e-mail names {word!r}"
    link = link_paths(mail_text(invitations[-1]), "/invitation/")[0]
    old_link = link_paths(mail_text(invitations[0]), "/invitation/")[0]


    # Sanne, on her phone: the older link no longer works; the newest sets her password.
    page = anonymous
    page.icbt_who = SANNE
    visit(page, old_link, "old-invitation-link", status=404)
    visit(page, link, "set-password")
    page.get_by_label("New password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_label("New password again").fill(DEMO_PASSWORD)
    click_and_wait(page, page.get_by_role("button", name="Save password"))
    assert "/accounts/login/" in page.url and "Your password is set." in main_text(page)
    visit(page, None, "sign-in")
    page.get_by_label("Email").fill(SANNE)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    click_and_wait(page, page.get_by_role("button", name="Sign in"))
    assert page.url.endswith("/me/"), page.url
    _storage_states[SANNE] = page.context.storage_state()
    visit(page, None, "home-first-time")
    home = main_text(page)
    assert "Master your Fatigue" in home and "Tessa Bakker" in home
    assert "You are in module 1" in home

    # She chooses to hear by e-mail soon after something new waits for her.
    page.locator("header").get_by_role("link", name="Settings").click()
    visit(page, None, "settings")
    page.get_by_role("link", name="Choose when we e-mail you about news").click()
    visit(page, None, "notification-settings")
    page.get_by_label("Send me e-mails about news in the application").check()
    page.get_by_label("soon (at most once every few minutes)").check()
    click_and_wait(page, page.get_by_role("button", name="Save"))
    visit(page, None, "notification-settings-saved", key="notifications-saved")

    # And starts: home shows the one next thing.
    page.goto("/me/")
    page.locator("main").get_by_role("link", name=re.compile("Welcome to Master your Fatigue")).first.click()
    visit(page, None, "first-step")
    assert "Step 1 of 16" in main_text(page)
    therapist.goto(patient_url)
    assert "active" in main_text(therapist)
    story["started"] = True
