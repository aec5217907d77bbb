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

import io
import re
from datetime import date, timedelta

import pytest
from pypdf import PdfReader

from tests.browser.conftest import (
    DEMO_PASSWORD,
    PHONE,
    link_paths,
    mail_html,
    mail_text,
    manage,
    open_nav_link,
    role_of,
    sent_mails,
)

pytestmark = pytest.mark.browser

THERAPIST = "therapist@linde.example"  # Tessa Bakker
COLLEAGUE = "therapist2@linde.example"  # Daan Visser
MANAGER = "manager@linde.example"
ADMIN = "admin@linde.example"
SANNE = "sanne.meijer@example.org"
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
    therapist.locator("main .work-item", has_text="Intake request").get_by_role(
        "link", name="Master your Fatigue"
    ).click()
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
    colleague.get_by_label("Note for your colleague").fill(
        "Low back pain for years; would the program suit him?"
    )
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
    therapist.get_by_label("Last name").fill("Meijer")
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
    # The demo therapist works in the Pain and the Fatigue team: the treatment counts under one.
    therapist.get_by_label(re.compile(r"^Team")).select_option(label="Fatigue")
    click_and_wait(therapist, therapist.get_by_role("button", name="Enroll"))
    assert "The invitation to set a password is on its way." in main_text(therapist)
    visit(therapist, None, "enrolled")
    overview = main_text(therapist)
    assert "Master your Fatigue" in overview and "every two weeks, on Thursday" in overview

    # The invitation: no clinic, no treatment named; one invitation (enrolling kept the link
    # that was sent when the account was made), and its link works once.
    invitations = [m for m in sent_mails(app_server, SANNE) if link_paths(mail_text(m), "/invitation/")]
    assert len(invitations) == 1, "one invitation per patient at a time"
    body = mail_text(invitations[-1]) + mail_html(invitations[-1])
    for word in ("Fatigue", "Linde", "therapy", "CBT", "Tessa"):
        assert word not in body, f"the invitation e-mail names {word!r}"
    link = link_paths(mail_text(invitations[-1]), "/invitation/")[0]

    # Sanne, on her phone: the link sets her password and signs her in at once; she is asked
    # once how she wants to hear about new feedback (an e-mail without content is suggested).
    page = anonymous
    page.icbt_who = role_of(SANNE)
    visit(page, link, "set-password")
    page.get_by_label("New password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_label("New password again").fill(DEMO_PASSWORD)
    click_and_wait(page, page.get_by_role("button", name="Save password"))
    assert "/settings/notifications/first/" in page.url, page.url
    assert "Your password is set." in main_text(page)
    visit(page, None, "first-sign-in-question")
    assert page.get_by_label(re.compile("^Send me one short e-mail a day")).is_checked()
    click_and_wait(page, page.get_by_role("button", name="Save and continue"))
    assert page.url.endswith("/me/"), page.url
    _storage_states[SANNE] = page.context.storage_state()
    # The link is used up.
    other = page.context.new_page()
    assert other.goto(link).status == 404
    other.close()
    visit(page, None, "home-first-time")
    home = main_text(page)
    assert "Master your Fatigue" in home and "Tessa Bakker" in home
    assert "Start with module 1" in home

    # She chooses to hear by e-mail soon after something new waits for her.
    open_nav_link(page, "Settings")
    visit(page, None, "settings")
    page.get_by_role("link", name="Choose when we e-mail you about news").click()
    visit(page, None, "notification-settings")
    page.get_by_label("Send me e-mails about news in the application").check()
    page.get_by_label("soon (at most once every few minutes)").check()
    click_and_wait(page, page.get_by_role("button", name="Save"))
    visit(page, None, "notification-settings-saved")

    # And starts: home shows the one next thing.
    page.goto("/me/")
    page.get_by_role("link", name="Start: Welcome to Master your Fatigue").click()
    visit(page, None, "first-step")
    assert "Step 1 of 17" in main_text(page)
    therapist.goto(patient_url)
    assert "active" in main_text(therapist)
    story["started"] = True


# --- 3. Module 1, its assignments, a week of diaries and the graph ----------------------------------

STEP_KIND_BUTTONS = {
    "questionnaire": "Send my answers",
    "assignment": "Hand in to your therapist",
    "diary": "Save my diary",
}


def fill_form(form, values=None):
    """Fills what a patient would: every radio group (the option ``values[name]``, by default the
    first), every empty text field, number and time. Works on any assignment, diary or
    questionnaire of the programs, whatever their fields."""
    values = values or {}
    radios, fields = form.evaluate(
        """f => [
            [...new Set([...f.querySelectorAll('input[type=radio]')].map(r => r.name))],
            [...f.querySelectorAll('textarea, input[type=text], input[type=number], input[type=time]')]
                .filter(e => e.offsetParent !== null && !e.value && e.id)
                .map(e => [e.id, e.name, e.type]),
        ]"""
    )
    for name in radios:
        form.locator(f"input[type=radio][name='{name}']").nth(int(values.get(name, 0))).check()
    for element_id, name, kind in fields:
        default = {"number": "1", "time": "08:00"}.get(kind, "I wrote this on my phone.")
        form.locator(f"[id='{element_id}']").fill(str(values.get(name, default)))


def step_kind(page) -> str:
    """The kind of step that is open, from the button that hands it in ('page' when none)."""
    labels = page.locator("main button").all_inner_texts()
    return next((kind for kind, button in STEP_KIND_BUTTONS.items() if button in labels), "page")


RAND = "Questionnaire: your physical functioning these days"
NRS = "Questionnaire: how tired were you in the past week?"
PHQ = "Questionnaire: your mood over the past two weeks"


def answers(points: int, items: int) -> dict:
    """The same option (0 = the first) for questions q1..q<items>."""
    return {f"q{number}": points for number in range(1, items + 1)}


def walk_module(page, visit, *, values=None, per_step=None, stop_at=None):
    """From the step that is open, step by step to the end of the module (or to the step titled
    ``stop_at``): each form is filled and handed in (``per_step``: the options of the step with
    that title), then on with 'Next'. Returns the step
    titles and kinds it went through."""
    values = values or {}
    walked, shown, done_shown = [], set(), set()
    module = re.search(r"/me/steps/([^/]+)/", page.url).group(1)
    while True:
        title = page.locator("main h1").inner_text()
        kind = step_kind(page)
        if kind not in shown:  # one screenshot and axe run per kind of step
            shown.add(kind)
            visit(page, None, f"step-{len(walked) + 1:02d}-{kind}", key=f"step:{kind}")
        walked.append((title, kind))
        if kind != "page":
            form = page.locator("main form", has=page.get_by_role("button", name=STEP_KIND_BUTTONS[kind]))
            fill_form(form, {**values, **(per_step or {}).get(title, {})})
            click_and_wait(page, page.get_by_role("button", name=STEP_KIND_BUTTONS[kind]))
            assert page.locator(".error-summary, .errorlist").count() == 0, (
                f"{title}: {main_text(page)[:500]}"
            )
            if kind not in done_shown:
                done_shown.add(kind)
                visit(page, None, f"step-{len(walked):02d}-{kind}-done", key=f"step:{kind}:done")
        if stop_at and title == stop_at:
            return walked
        click_and_wait(page, page.locator("main .step-nav .step-next"))
        if f"/me/steps/{module}/" not in page.url:
            return walked


def test_journey_3_module_one_assignments_a_week_of_diaries_and_the_graph(signed_in, visit, story):
    needs(story, "started", 2)
    page = signed_in(SANNE, staff=False, viewport=PHONE).page
    visit(page, "/me/", "home")
    page.get_by_role("link", name=re.compile("^(Start|Continue)")).first.click()
    walked = walk_module(
        page,
        visit,
        per_step={RAND: answers(0, 10), NRS: {"q1": 9}, PHQ: answers(1, 8)},  # 8 of 9: no crisis item
        values={
            "sleep_quality": 4,
            "bedtime": "23:30",
            "woke_time": "07:15",
            "got_up_time": "08:30",
            "lying_down_minutes": "60",
            "napped": 0,
        },
    )
    kinds = [kind for _title, kind in walked]
    assert (
        kinds.count("assignment") == 3 and kinds.count("diary") == 2 and kinds.count("questionnaire") >= 3
    ), walked
    # Module 1 done, module 2 opens and 'Next' goes straight on to it.
    assert "/me/steps/sleep-wake-cycle/intro/" in page.url, page.url
    visit(page, "/me/modules/getting-started/", "module-1-done")
    assert "17 of 17 steps done" in main_text(page)

    # The rest of the week: the sleep-wake diary for the six days before today, filled in today.
    page.get_by_role("link", name="My diaries").click()
    diary = page.get_by_role("region", name="Sleep-wake diary")
    today = None
    diary.get_by_role("link", name="Fill in a day you missed").click()
    write_url = page.url
    for back in range(1, 7):
        if back > 1:
            page.goto(write_url)
        day = page.get_by_label("Which day is this entry about?")
        today = today or date.fromisoformat(day.input_value())
        day.fill((today - timedelta(days=back)).isoformat())
        form = page.locator("main form", has=page.get_by_role("button", name="Save my diary"))
        form.get_by_role("group", name=re.compile("How well did you sleep")).get_by_label(
            str(3 + back % 4), exact=True
        ).check()
        if back == 1:
            visit(page, None, "diary-missed-day")
        click_and_wait(page, page.get_by_role("button", name="Save my diary"))
        assert "Your diary is saved" in main_text(page)
    story["diary_days"] = [today - timedelta(days=back) for back in range(7)]

    # Her own graph: a month shows all seven days, as a picture and as a table.
    page.goto(f"/me/diaries/sleep-wake/?period=month&date={today.isoformat()}")
    if today.day < 7:  # the week began last month
        page.goto(f"/me/diaries/sleep-wake/?period=week&date={today.isoformat()}")
    visit(page, None, "sleep-wake-graph")
    assert page.locator("main svg.chart").count() >= 1
    page.get_by_text("Show the numbers as a table").first.click()
    assert page.locator("main table").first.is_visible()
    visit(page, None, "sleep-wake-graph-table")
    visit(page, "/me/diaries/", "my-diaries")
    story["module_1_done"] = True


# --- 4. The therapist's worklist, that diary, feedback with a template ---------------------------


def test_journey_4_feedback_on_the_diary_from_the_worklist_with_a_template(
    app_server, signed_in, visit, story
):
    needs(story, "module_1_done", 3)

    # The clinic admin keeps a template for the whole clinic.
    admin = signed_in(ADMIN, staff=True).page
    visit(admin, "/staff/templates/", "admin-templates")
    admin.get_by_role("link", name=re.compile("New template|Add a template|New")).first.click()
    visit(admin, None, "admin-new-template")
    admin.get_by_label("Title").fill("Thanks for your diary week")
    admin.get_by_label("Text").fill(
        "Dear {first_name}, thank you for keeping your diary every day this week."
    )
    click_and_wait(admin, admin.get_by_role("button", name="Save"))
    assert "Thanks for your diary week" in main_text(admin)

    therapist = signed_in(THERAPIST, staff=True).page
    visit(therapist, "/staff/worklist/", "worklist")
    therapist.locator("main").get_by_role("link", name=re.compile(r"^Diary weeks")).click()
    visit(therapist, None, "worklist-diary-weeks")
    rows = therapist.locator("main .work-group", has_text="Sanne Meijer").locator(".work-item")
    assert rows.count() >= 1, main_text(therapist)
    rows.last.get_by_role("link").click()
    visit(therapist, None, "composer-with-diary")
    assert "attach=week:" in therapist.url
    ticked = therapist.locator("main input[name=attach]:checked")
    assert ticked.count() >= 1, "the diary from the worklist is attached to the feedback"

    body = therapist.get_by_label("Your feedback or message")
    body.fill("")
    therapist.get_by_label("Template or snippet").select_option(label="Thanks for your diary week")
    therapist.get_by_role("button", name="Insert").click()
    assert body.input_value() == "Dear Sanne, thank you for keeping your diary every day this week."
    body.press("End")
    body.type(" You slept better on the days you got up at the same time.")
    story["mails_before_feedback"] = len(sent_mails(app_server, SANNE))
    click_and_wait(therapist, therapist.get_by_role("button", name="Send feedback"))
    assert "Sent." in main_text(therapist)
    visit(therapist, None, "feedback-sent", key="composer-sent")
    thread = therapist.locator("main li", has_text="You slept better on the days").last.inner_text()
    assert "About:" in thread and "diary" in thread, f"the feedback is not attached to the diary: {thread}"
    story["feedback"] = "You slept better on the days you got up at the same time."


# --- 5. A digest without health data; the patient reads the feedback and replies -------------------


# What the patient wrote or was told, the program, the therapist, the clinic: none of it in an e-mail.
NOT_IN_EMAILS = (
    "slept",
    "diary every day",
    "Sleep-wake",
    "sleep",
    "Fatigue",
    "fatigue",
    "Tessa",
    "Bakker",
    "Linde",
    "CBT",
)


def test_journey_5_digest_email_feedback_read_and_a_reply(app_server, signed_in, visit, story):
    feedback = needs(story, "feedback", 4)
    # Sanne chose 'soon': the feedback queued a digest round for her at once (Celery runs eagerly
    # here). The scheduled round, run now as beat would, must not send it a second time (it may
    # send other news, such as module 2 being open, in an e-mail of its own).
    output = manage(app_server, "send_digests")
    digests = sent_mails(app_server, SANNE)[story["mails_before_feedback"] :]
    about_feedback = [m for m in digests if "written feedback for you" in mail_text(m)]
    assert len(about_feedback) == 1, f"{len(about_feedback)} e-mails about the feedback:\n{output}"
    for digest in digests:
        whole = f"{digest['Subject']}\n{mail_text(digest)}\n{mail_html(digest)}"
        for clinical in (feedback, *NOT_IN_EMAILS):
            assert clinical not in whole, f"a digest e-mail contains {clinical!r}:\n{whole}"
    text = mail_text(about_feedback[0])
    links = [p for p in link_paths(text, "/") if "/unsubscribe/" not in p and "/settings/" not in p]
    assert links, f"the digest has no link into the application:\n{text}"

    page = signed_in(SANNE, staff=False, viewport=PHONE).page
    visit(page, links[0], "from-the-digest")
    if "/me/messages/" not in page.url:
        open_nav_link(page, "Messages")
        visit(page, None, "messages")
    assert feedback in main_text(page)
    assert "Not for emergencies" in main_text(page)
    page.get_by_label(re.compile("message", re.IGNORECASE)).last.fill(
        "Thank you! I will keep getting up at 8:30."
    )
    click_and_wait(page, page.locator("#composer").get_by_role("button", name="Send", exact=True))
    visit(page, None, "reply-sent")
    assert "Thank you! I will keep getting up at 8:30." in main_text(page)

    # The feedback also sits next to the diary entry it is about: in her diary, that day is marked.
    open_nav_link(page, "My program")
    page.get_by_role("link", name="My diaries").click()
    page.locator("main .entry-list li", has=page.locator(".status-feedback")).first.get_by_role(
        "link"
    ).click()
    visit(page, None, "diary-entry-with-feedback")
    assert feedback in main_text(page)

    # The reply waits on the therapist's worklist.
    therapist = signed_in(THERAPIST, staff=True).page
    therapist.goto("/staff/worklist/?kind=message")
    assert "Sanne Meijer" in main_text(therapist)
    story["replied"] = True


# --- 6. To the end: modules opened, end questionnaires scored, the stepped-care decision -----------


def test_journey_6_to_the_end_scores_and_the_stepped_care_decision(signed_in, visit, story):
    needs(story, "replied", 5)
    therapist = signed_in(THERAPIST, staff=True).page
    therapist.goto(story["patient_url"])
    therapist.get_by_role("link", name="Tailor the program").click()
    visit(therapist, None, "tailor")
    # Modules 2 to 5 are the same kind of work as module 1: the shortcut opens the last one.
    click_and_wait(therapist, therapist.get_by_role("button", name="Open module 6 now"))
    assert "Module 6 is saved." in main_text(therapist)

    page = signed_in(SANNE, staff=False, viewport=PHONE).page
    visit(page, "/me/", "home-all-modules-open")
    page.get_by_role("link", name=re.compile("Module 6")).first.click()
    visit(page, None, "module-6")
    page.locator("main").get_by_role("link", name=re.compile("physical functioning")).last.click()
    # A little better, but still limited in most activities and tired.
    end = {RAND: answers(1, 10), NRS: {"q1": 7}, PHQ: answers(1, 4)}
    walked = walk_module(page, visit, per_step=end, stop_at=PHQ)
    assert [kind for _t, kind in walked].count("questionnaire") == 3, walked
    page.goto("/me/questionnaires/")
    visit(page, None, "my-scores")

    # The therapist enters the licensed CIS from the paper form and records the decision.
    therapist.goto(story["patient_url"])
    therapist.get_by_role("link", name="End of program and stepped care").click()
    visit(therapist, None, "end-of-program")
    therapist.get_by_text("Enter a score from a paper form").click()
    therapist.get_by_label("Questionnaire").select_option(label="Fatigue severity (CIS)")
    therapist.get_by_label("Moment").select_option(label="end")
    therapist.get_by_label("Total score").fill("42")
    click_and_wait(therapist, therapist.get_by_role("button", name=re.compile("Save|Enter")).first)
    # No CIS start score was entered: filing it as the end score asks for a confirmation first.
    therapist.get_by_label("Yes, this is the end score, although there is no start score").check()
    click_and_wait(therapist, therapist.get_by_role("button", name=re.compile("Save|Enter")).first)
    assert "The score is saved." in main_text(therapist)
    visit(therapist, None, "end-scores-and-advice", key="end-with-advice")
    # Scored: RAND-36 physical functioning 0 -> 50 (0-100), fatigue 9 -> 7, PHQ-9 8 -> 4; CIS 42.
    scores = {
        row["Questionnaire"].split(" (licensed")[0]: (row["Start"], row["End"])
        for row in table_rows(therapist.locator("main table", has_text="Physical functioning (RAND-36)"))
    }
    assert scores["Physical functioning (RAND-36)"] == ("0", "50"), scores
    assert scores["Fatigue (0-10)"] == ("9", "7"), scores
    assert scores["Mood (PHQ-9)"] == ("8", "4"), scores
    assert scores["Fatigue severity (CIS)"][1].startswith("42"), scores
    advice = main_text(therapist)
    assert "Advice: step up to face-to-face CBT" in advice
    assert "CIS fatigue at the end: 42" in advice and "RAND-36 physical functioning at the end: 50" in advice

    therapist.get_by_label("step up to face-to-face CBT").check()
    therapist.get_by_label("Reason").fill(
        "Still severely fatigued; we agreed on face-to-face CBT at the clinic."
    )
    # Sanne's reply from journey 5 still waits for an answer: ending asks to confirm it stays listed.
    therapist.get_by_label(re.compile("End it anyway")).check()
    click_and_wait(therapist, therapist.get_by_role("button", name="Record the decision"))
    assert "The decision is recorded." in main_text(therapist)
    visit(therapist, None, "after-the-decision")
    assert "stepped up to face-to-face care" in main_text(therapist)
    therapist.get_by_role("link", name="Questionnaires and end of program").click()
    visit(therapist, None, "decision-recorded", key="end-decided")
    assert "Still severely fatigued" in main_text(therapist)
    story["stepped_up"] = True


# --- 7. The treatment summary; the manager's figures and period report -------------------------------


def download(page, link_name):
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name).click()
    with open(info.value.path(), "rb") as handle:
        return info.value.suggested_filename, handle.read()


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF"), "not a PDF"
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def table_rows(table) -> list[dict]:
    """A table as one dict per body row, by column header."""
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    return [
        dict(zip(headers, [c.strip() for c in row.locator("th, td").all_inner_texts()], strict=False))
        for row in table.locator("tbody tr").all()
    ]


def test_journey_7_treatment_summary_pdf_and_the_managers_figures_and_report(signed_in, visit, story):
    needs(story, "stepped_up", 6)
    therapist = signed_in(THERAPIST, staff=True).page
    therapist.goto(story["patient_url"])
    name, content = download(therapist, "Treatment summary (PDF)")
    summary = re.sub(r"\s+", " ", pdf_text(content))
    assert name.endswith(".pdf") and "Sanne" not in name and "Meijer" not in name
    assert "Master your Fatigue" in summary and "42" in summary, summary[:1500]
    assert "step up" in summary.lower(), "the stepped-care decision is in the summary"

    manager = signed_in(MANAGER, staff=True).page
    manager.goto("/")
    open_nav_link(manager, "Dashboard")
    visit(manager, None, "dashboard")
    figures = main_text(manager)
    assert "Sanne" not in figures and "Meijer" not in figures, "the dashboard names a patient"
    # This month: Frank (the demo) and Sanne started Master your Fatigue, Ilse asked for an
    # intake for it, and Sanne stepped up to face-to-face care.
    per_month = table_rows(manager.locator("main table", has_text="Per program and month"))
    fatigue = [row for row in per_month if row.get("Program") == "Master your Fatigue"][-1]
    assert fatigue["Step-ups"] == "1" and int(fatigue["Starts"]) >= 2, fatigue
    assert int(fatigue["Intake requests"]) >= 1, fatigue

    name, content = download(manager, "Clinic period report (PDF)")
    report = pdf_text(content)
    assert name.endswith(".pdf") and "Linde" in report
    assert "Sanne" not in report and "Meijer" not in report, "the period report names a patient"
    visit(manager, "/staff/clinic/", "clinic-overview")
