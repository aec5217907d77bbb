"""Crisis information that cannot be lost: the national lines of the page's language are on every
page a patient or a visitor sees (the footer link, the public program pages and the intake form,
the message box, the crisis panel after a risk answer), as tap-to-call links, and a clinic's own
text is added below them, never instead of them."""

import re

import pytest
from django.db import transaction
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from icbt.crisis import national_block
from tests.test_authorization_matrix import ROUTES

pytestmark = pytest.mark.django_db

CLINIC_TEXT = "Our crisis line: 030 123 4567 (weekdays 9-17)."

DUTCH_LINES = ['href="tel:08000113"', "113 Zelfmoordpreventie", 'href="tel:112"', "huisartsenpost"]
ENGLISH_LINES = ['href="tel:112"', "local emergency number", "GP"]


def _lines(language):
    return DUTCH_LINES if language == "nl" else ENGLISH_LINES


def _get(client, url, language):
    return client.get(url, headers={"accept-language": language}, follow=False)


def _speak(user, language):
    """A signed-in person sees the language of their settings (the header is for visitors)."""
    user.language = language
    user.save(update_fields=["language"])


def _assert_block(html, language, where):
    for needle in _lines(language):
        assert needle in html, f"{where} ({language}): missing {needle!r}"


def test_the_dutch_block_names_113_and_112_and_the_huisartsenpost():
    names = " ".join(line.name + " " + line.text for line in national_block("nl"))
    phones = {line.tel for line in national_block("nl")}
    assert {"08000113", "112"} <= phones
    assert "113.nl" in names and "huisartsenpost" in names


def test_an_unknown_language_gets_the_english_block_never_an_empty_one():
    assert national_block("de") == national_block("en")
    assert national_block("en")


def test_the_clinic_text_is_added_below_the_national_lines_with_tap_to_call_numbers():
    template = Template("{% load crisis_tags %}{% crisis_block clinic_text=text %}")
    with translation.override("nl"):
        html = template.render(Context({"text": CLINIC_TEXT + "\n<script>x</script>"}))
    _assert_block(html, "nl", "block")
    assert '<a href="tel:0301234567" class="crisis-phone">030 123 4567</a>' in html
    assert html.index("0800-0113") < html.index("030 123 4567")
    assert "<script>" not in html and "&lt;script&gt;" in html


def _patient_and_public_pages(personas=("patient_a", "anonymous")):
    """Every GET route of the authorization matrix that one of ``personas`` may open (by default a
    patient or a visitor)."""
    for route in ROUTES:
        if route.method != "get":
            continue
        for persona in personas:
            if route.expect.get(persona) == 200:
                yield route, persona


def _html_pages(world, client_for, language, personas):
    """(route name, persona, url, html) of every page the matrix lets ``personas`` open."""
    for route, persona in _patient_and_public_pages(personas):
        # Each route's setup runs in a savepoint that is rolled back, as the matrix gives every
        # route a fresh world.
        with transaction.atomic():
            extra = route.setup(world) if route.setup else None
            kwargs = {}
            if route.kwargs:
                two = route.kwargs.__code__.co_argcount == 2
                kwargs = route.kwargs(world, extra) if two else route.kwargs(world)
            url = reverse(route.name, kwargs=kwargs)
            response = _get(client_for(world.persona(persona)), url, language)
            transaction.set_rollback(True)
        if response.status_code != 200 or not response.get("Content-Type", "").startswith("text/html"):
            continue
        yield route.name, persona, url, response.content.decode()


_FOCUSABLE = re.compile(r"<(a|button|input|select|textarea)\b")
HEADER_PERSONAS = ("anonymous", "patient_a", "therapist", "manager")


@pytest.mark.parametrize("language", ["en", "nl"])
def test_every_page_has_need_help_now_in_the_header_right_after_the_skip_link(
    clock, language, world, client_for
):
    """Signed out, patient and staff pages alike: the header's first link after "Skip to content"
    is "Need help now?", to the help page (the national lines and the patient's own clinic's
    text), before the main content and outside the menu that folds on a phone."""
    world.clinic.crisis_instructions = CLINIC_TEXT
    world.clinic.save()
    for persona in HEADER_PERSONAS[1:]:
        _speak(world.persona(persona), language)
    help_url = reverse("crisis_help")
    link = f'<a class="crisis-strip-link" href="{help_url}" data-crisis-header'
    seen = set()
    for name, persona, url, html in _html_pages(world, client_for, language, HEADER_PERSONAS):
        where = f"{url} ({persona}, {language})"
        assert link in html, f"{where}: no crisis link in the header"
        at = html.index(link)
        header = html[html.index("<header") : html.index("</header>")]
        assert link in header and at < html.index('<main id="main"'), f"{where}: not in the header"
        assert "site-nav" not in header[: header.index(link)], f"{where}: folded into the menu"
        skip = html.index('class="skip-link"')
        assert _FOCUSABLE.findall(html[skip + 1 : at]) == [], f"{where}: not right after the skip link"
        # Program pages speak the language of the patient's program version.
        label = "Nu hulp nodig?" if re.search(r'<html lang="nl"', html) else "Need help now?"
        assert html[at:].split("</a>", 1)[0].endswith(label), f"{where}: label"
        seen.add(persona)
        seen.add(name)
    assert set(HEADER_PERSONAS) <= seen
    assert {"home", "patients:home", "therapists:worklist", "crisis_help"} <= seen
    # The link's target shows the patient's own clinic's crisis text below the national lines.
    target = _get(client_for(world.patient_a.user), help_url, language).content.decode()
    _assert_block(target, language, "help page")
    assert "030 123 4567" in target


@pytest.mark.parametrize("language", ["en", "nl"])
def test_every_patient_page_and_public_page_links_to_the_crisis_lines(clock, language, world, client_for):
    world.clinic.crisis_instructions = CLINIC_TEXT
    world.clinic.save()
    _speak(world.patient_a.user, language)
    help_url = reverse("crisis_help")
    checked = []
    for name, persona, url, html in _html_pages(world, client_for, language, ("patient_a", "anonymous")):
        assert f'href="{help_url}" data-crisis-link' in html, f"{url} ({persona}, {language}): no crisis link"
        # The numbers themselves, tap to call, on every page: not only behind a link.
        footer = html[html.index('class="site-footer') :]
        assert 'href="tel:08000113"' in footer and 'href="tel:112"' in footer, f"{url}: no crisis numbers"
        checked.append(name)
    assert "patients:home" in checked and "messaging:patient_conversation" in checked
    assert "patients:public_program" in checked and "crisis_help" in checked
    assert len(set(checked)) >= 10


@pytest.mark.parametrize("language", ["en", "nl"])
def test_the_help_page_shows_the_national_lines_and_for_a_patient_their_clinic_text(
    language, world, client_for
):
    world.clinic.crisis_instructions = CLINIC_TEXT
    world.clinic.save()
    _speak(world.patient_a.user, language)
    url = reverse("crisis_help")
    patient_html = _get(client_for(world.patient_a.user), url, language).content.decode()
    _assert_block(patient_html, language, "help page")
    assert "030 123 4567" in patient_html
    visitor_html = _get(client_for(None), url, language).content.decode()
    _assert_block(visitor_html, language, "help page, visitor")
    assert "030 123 4567" not in visitor_html


@pytest.mark.parametrize("language", ["en", "nl"])
def test_public_program_pages_and_the_intake_form_show_the_block(language, world, client_for):
    from tests.patients import staff_helpers as sh

    sh.tiny()
    client = client_for(None)
    for url in (
        reverse("patients:public_program_list"),
        reverse("patients:public_program", kwargs={"program_slug": "tiny-program"}),
        reverse("patients:public_intake_sent", kwargs={"program_slug": "tiny-program"}),
    ):
        html = _get(client, url, language).content.decode()
        _assert_block(html, language, url)
    # A request with errors (the form shown again) keeps the block.
    html = client.post(
        reverse("patients:public_program", kwargs={"program_slug": "tiny-program"}),
        {"name": ""},
        headers={"accept-language": language},
    ).content.decode()
    _assert_block(html, language, "intake form with errors")


@pytest.mark.parametrize("language", ["en", "nl"])
def test_the_message_box_says_it_is_not_for_emergencies_and_shows_the_lines(language, world, client_for):
    from tests.patients.patient_helpers import enroll, tiny_version

    world.clinic.crisis_instructions = CLINIC_TEXT
    world.clinic.save()
    _speak(world.patient_a.user, language)
    enroll(world.patient_a, tiny_version())
    html = _get(client_for(world.patient_a.user), reverse("messaging:patient_conversation"), language)
    html = html.content.decode()
    _assert_block(html, language, "message box")
    assert "030 123 4567" in html
    expected = "binnen 2 werkdagen" if language == "nl" else "within 2 working days"
    assert expected in html


@pytest.mark.parametrize("language", ["en", "nl"])
def test_the_crisis_panel_after_a_risk_answer_keeps_113_and_112_beside_the_clinic_text(
    language, world, client_for
):
    from tests.patients.patient_helpers import enroll, tiny_version

    world.clinic.crisis_instructions = CLINIC_TEXT
    world.clinic.save()
    _speak(world.patient_a.user, language)
    enroll(world.patient_a, tiny_version())
    answers = {**{f"q{n}": "1" for n in range(1, 9)}, "q9": "1"}
    html = client_for(world.patient_a.user).post("/me/steps/first/mood-start/", answers, follow=True)
    html = html.content.decode()
    assert 'class="crisis" role="alert"' in html
    # Program pages speak the language of the patient's program version.
    page_language = re.search(r'<html lang="(\w+)"', html).group(1)
    _assert_block(html, page_language, "crisis panel")
    assert "030 123 4567" in html


@pytest.mark.parametrize("program", ["master-your-pain", "master-your-fatigue"])
@pytest.mark.parametrize("language", ["en", "nl"])
def test_module_one_of_both_programs_has_a_safety_page_with_the_numbers(program, language):
    from programs import content_loader
    from programs.rendering import render_markdown

    parsed = {(p.program, p.language): p for p in content_loader.read_content()}[(program, language)]
    step = next(s for s in parsed.modules[0].steps if s.slug == "when-you-feel-worse")
    html = render_markdown(step.body_markdown)
    assert 'href="tel:08000113"' in html and 'href="tel:112"' in html
    # What to do when much worse, with thoughts of self-harm, with new or different symptoms.
    headings = re.findall(r"<h2>(.*?)</h2>", html)
    assert len(headings) >= 3


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("page", ["500.html", "503.html"])
def test_the_error_pages_show_the_crisis_lines_without_a_request_or_the_database(page, language):
    """Django renders 500.html without a context and server_error renders 503.html without the
    request's context processors; neither may need the database (the marker above allows it,
    the blocker below does not)."""
    from django.db import connection
    from django.template import loader
    from django.test.utils import CaptureQueriesContext

    with translation.override(language), CaptureQueriesContext(connection) as queries:
        html = (
            loader.get_template(page).render()
            if page == "500.html"
            else loader.render_to_string(page, {"path": "/"})
        )
    assert not queries.captured_queries
    assert 'href="tel:08000113"' in html and 'href="tel:112"' in html and "113" in html
    if language == "nl":
        assert "113 Zelfmoordpreventie" in html and "huisartsenpost" in html


def test_opening_hours_are_not_made_into_phone_links():
    template = Template("{% load crisis_tags %}{{ text|tel_links }}")
    html = template.render(
        Context({"text": "Call 030 123 4567 (weekdays 9-17, 10-12 in 2026), or 112 or 113."})
    )
    assert '<a href="tel:0301234567" class="crisis-phone">030 123 4567</a>' in html
    assert 'href="tel:112"' in html and 'href="tel:113"' in html
    assert "tel:917" not in html and "tel:1012" not in html and html.count("tel:") == 3
    assert "9-17" in html and "10-12" in html


TRICKY_CLINIC_TEXT = "Call your GP's practice on 030 123 4567 & say <urgent>."
TRICKY_ONCE = "Call your GP&#x27;s practice on "
TRICKY_TAIL = " &amp; say &lt;urgent&gt;."


def _assert_escaped_once(html, where):
    assert TRICKY_ONCE in html and TRICKY_TAIL in html, f"{where}: clinic text not escaped once"
    for twice in ("&amp;#x27;", "&amp;amp;", "&amp;lt;", "<urgent>"):
        assert twice not in html, f"{where}: {twice!r} in the page"


@pytest.mark.parametrize("language", ["en", "nl"])
def test_a_clinic_text_with_an_apostrophe_an_ampersand_and_a_tag_is_escaped_exactly_once_everywhere(
    clock, language, world, client_for
):
    """The message box, with and without a program, the help page and the crisis panel after a
    risk answer: the clinic's words as written, never "GP&#x27;s"."""
    from tests.patients.patient_helpers import enroll, tiny_version

    world.clinic.crisis_instructions = TRICKY_CLINIC_TEXT
    world.clinic.save()
    _speak(world.patient_a.user, language)
    _speak(world.patient_b.user, language)
    messages = reverse("messaging:patient_conversation")
    html = _get(client_for(world.patient_b.user), messages, language).content.decode()
    _assert_escaped_once(html, "message box without a program")
    enroll(world.patient_a, tiny_version())
    client = client_for(world.patient_a.user)
    html = _get(client, messages, language).content.decode()
    _assert_escaped_once(html, "message box")
    assert '<a href="tel:0301234567" class="crisis-phone">030 123 4567</a>' in html
    _assert_escaped_once(_get(client, reverse("crisis_help"), language).content.decode(), "help page")
    answers = {**{f"q{n}": "1" for n in range(1, 9)}, "q9": "1"}
    html = client.post("/me/steps/first/mood-start/", answers, follow=True).content.decode()
    assert 'class="crisis" role="alert"' in html
    _assert_escaped_once(html, "crisis panel")


def test_tel_links_escapes_plain_text_and_leaves_safe_text_as_it_is():
    from django.utils.html import escape

    template = Template("{% load crisis_tags %}{{ plain|tel_links }}|{{ safe|tel_links }}")
    html = template.render(Context({"plain": "GP's & <b>", "safe": escape("GP's & <b>")}))
    assert html == "GP&#x27;s &amp; &lt;b&gt;|GP&#x27;s &amp; &lt;b&gt;"
