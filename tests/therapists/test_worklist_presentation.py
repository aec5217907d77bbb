"""The worklist as a calm list grouped by patient: urgent first, then the longest waiting; how
long each item waits in words."""

import re
from datetime import date, datetime, timedelta

import pytest
from django.template import engines
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format, get_format

from patients.models import QuestionnaireResponse
from tests.messaging.helpers import diary_entry, enroll, submitted_answer
from tests.patients.staff_helpers import intake_request
from tests.work import settle
from therapists.worklist import WorkItem
from therapists.worklist_presentation import _DateStyle, waiting_words, worklist_groups

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.get_fixed_timezone(0))


def _item(patient_id, hours, *, urgent=False, kind="diary"):
    name = {1: "Anna", 2: "Bob", None: ""}[patient_id]
    return WorkItem(
        kind=kind,
        since=NOW - timedelta(hours=hours),
        url="/x/",
        label="",
        patient_id=patient_id,
        patient_name=name,
        case_reference=f"C-{patient_id}" if patient_id else "",
        urgent=urgent,
        now=NOW,
    )


def test_items_are_grouped_by_patient_in_the_order_of_their_first_item():
    urgent = _item(2, 1, urgent=True)
    items = [urgent, _item(1, 90), _item(None, 50, kind="intake_request"), _item(2, 80), _item(1, 3)]
    groups = worklist_groups(items)
    assert [(g.patient_id, g.name) for g in groups] == [(2, "Bob"), (1, "Anna"), (None, "New people")]
    assert [line.item for line in groups[0].items] == [urgent, items[3]]
    assert groups[0].urgent and not groups[1].urgent
    assert [line.waiting for line in groups[1].items] == ["3 days ago", "3 hours ago"]


def test_each_line_comes_with_its_strings_formatted_once():
    """What the template shows of a line is prepared with it: the dates as the ``date`` filter
    would write them, the kind's label, how the line stands out and the word that says so."""
    urgent = _item(1, 2, urgent=True, kind="questionnaire")
    flagged = _item(1, 5, kind="questionnaire")
    flagged.flagged = True
    overdue = _item(1, 30, kind="feedback_overdue")
    overdue.flagged = True
    plain = _item(1, 40)
    plain.label = "Week 48 of 2026: 3 entries"
    with translation.override("nl"), timezone.override("Europe/Amsterdam"):
        lines = worklist_groups([urgent, flagged, overdue, plain], now=NOW)[0].items
        local = timezone.localtime(urgent.since)
        assert lines[0].datetime == date_format(local, "c") == "2026-11-30T11:00:00+01:00"
        assert lines[0].title == date_format(local, "DATETIME_FORMAT")
        assert lines[0].kind_label == str(urgent.kind_label) != "Questionnaire to review"
    assert [(line.mark, line.tag) for line in lines] == [
        ("urgent", "urgent"),
        ("flagged", "flagged"),
        ("flagged", ""),  # overdue feedback says so itself
        ("", ""),
    ]
    assert [line.text for line in lines][2:] == [lines[2].kind_label, "Week 48 of 2026: 3 entries"]


@pytest.mark.parametrize(
    ("age", "words"),
    [
        (timedelta(minutes=20), "less than an hour ago"),
        (timedelta(hours=1), "1 hour ago"),
        (timedelta(hours=23, minutes=59), "23 hours ago"),
        (timedelta(days=1, hours=2), "1 day ago"),
        (timedelta(days=13), "13 days ago"),
        (timedelta(days=14), "since 16 Nov 2026"),
        (timedelta(minutes=-5), "less than an hour ago"),  # a clock a little ahead
    ],
)
def test_waiting_in_words(age, words):
    with translation.override("en"), timezone.override("UTC"):
        assert waiting_words(NOW - age, NOW) == words


def test_waiting_in_dutch_in_the_dutch_date_style():
    with translation.override("nl"), timezone.override("UTC"):
        assert waiting_words(NOW - timedelta(days=30), NOW).endswith(date_format(date(2026, 10, 31)))
        assert date_format(date(2026, 10, 31)).startswith("31 okt")


@pytest.mark.django_db
def test_the_page_shows_one_card_per_patient_with_the_urgent_one_first(world, client_for):
    calm = enroll(world.patient_a, start_days_ago=20, weekday=timezone.localdate().weekday())
    diary_entry(calm, days_ago=3)
    submitted_answer(calm)
    urgent = enroll(world.patient_b, start_days_ago=20, weekday=timezone.localdate().weekday())
    QuestionnaireResponse.objects.create(
        clinic_id=urgent.clinic_id,
        enrollment=urgent,
        code="phq9",
        moment="start",
        total=20,
        flags=["self_harm"],
    )
    settle()
    intake_request(world.clinic)
    html = client_for(world.therapist.user).get(reverse("therapists:worklist")).content.decode()
    names = [n.strip() for n in re.findall(r'<h3 class="work-group-name"[^>]*>([^<]+)', html)]
    assert names[:2] == [world.patient_b.display_name, world.patient_a.display_name]
    assert "New people" in names
    anna = html.split(world.patient_a.display_name, 1)[1].split("</section>")[0]
    assert anna.count('<li class="work-item') == 2
    title = r'title="\d+ \w{3} \d{4}, \d\d:\d\d"'  # the full date in the page's one style
    assert re.search(rf'<time class="work-age" datetime="[^"]+" {title}>less than an hour ago<', anna)
    assert "<table" not in html.split("<main", 1)[1]


# The markup a line had when the template wrote it item by item: the lines written in Python
# (``_LineMarkup``) must give the same HTML, escaping and all.
LINE_TEMPLATE = """{% load i18n %}{% for line in lines %}
  <li class="work-item{% if line.mark %} work-item-{{ line.mark }}{% endif %}">
    <span class="work-kind">{{ line.kind_label }}{% if line.tag == "urgent" %} <span class="tag tag-urgent">{% trans "urgent" %}</span>{% elif line.tag %} <span class="tag tag-flagged">{% trans "flagged" %}</span>{% endif %}</span>
    <a class="work-link" href="{{ line.item.url }}">{{ line.text }}</a>
    <time class="work-age" datetime="{{ line.datetime }}" title="{{ line.title }}">{{ line.waiting }}</time>
  </li>
  {% endfor %}"""  # noqa: E501


@pytest.mark.parametrize("language", ["en", "nl"])
def test_the_lines_are_written_as_the_template_wrote_them(language):
    urgent = _item(1, 2, urgent=True, kind="questionnaire")
    urgent.label = 'PHQ-9: item 9 answered above 0 <b>"&"</b>'
    flagged = _item(1, 5, kind="questionnaire")
    flagged.flagged = True
    overdue = _item(1, 30, kind="feedback_overdue")
    overdue.flagged = True
    old = _item(2, 24 * 40, kind="answer")
    old.url = "/staff/patients/2/messages/?attach=answer:7&x='1'#composer"
    old.label = "Module 2: <Pacing> & 'rest'"
    request = _item(None, 3, kind="intake_request")
    with translation.override(language), timezone.override("Europe/Amsterdam"):
        groups = worklist_groups([urgent, flagged, overdue, old, request], now=NOW)
        template = engines["django"].from_string(LINE_TEMPLATE)
        for group in groups:
            assert group.lines_html == template.render({"lines": group.items})
    assert (
        "<b>" not in groups[0].lines_html and "&lt;b&gt;&quot;&amp;&quot;&lt;/b&gt;" in groups[0].lines_html
    )
    assert groups[0].lines_html.count('<span class="tag tag-') == 2  # overdue feedback says so itself


# The groups as the worklist's template wrote them, each group's lines placed as one string.
GROUPS_TEMPLATE = """{% for group in groups %}
<section class="work-group{% if group.mark %} work-group-{{ group.mark }}{% endif %}" aria-labelledby="work-group-{{ group.number }}">
  <h3 class="work-group-name" id="work-group-{{ group.number }}">{{ group.name }}{% if group.case_reference %} <span class="muted">{{ group.case_reference }}</span>{% endif %}</h3>
  <ul class="work-items">
  {{ group.lines_html }}
  </ul>
</section>
{% endfor %}"""  # noqa: E501


@pytest.mark.parametrize("language", ["en", "nl"])
def test_the_groups_are_written_as_the_template_wrote_them(language):
    urgent = _item(1, 2, urgent=True, kind="questionnaire")
    urgent.patient_name = 'Anna <b>"&"</b> O\'Neill'
    urgent.case_reference = "C-<1>"
    flagged = _item(2, 5, kind="questionnaire")
    flagged.flagged = True
    plain = _item(1, 40)
    request = _item(None, 3, kind="intake_request")
    with translation.override(language), timezone.override("Europe/Amsterdam"):
        groups = worklist_groups([urgent, flagged, plain, request], now=NOW)
        written = engines["django"].from_string(GROUPS_TEMPLATE).render({"groups": groups})
    assert "".join(group.html for group in groups) == written
    assert [group.mark for group in groups] == ["urgent", "flagged", ""]
    assert "&lt;b&gt;&quot;&amp;&quot;&lt;/b&gt; O&#x27;Neill" in written and "C-&lt;1&gt;" in written


@pytest.mark.parametrize("language", ["en", "nl"])
@pytest.mark.parametrize(
    "style",
    [
        "DATETIME_FORMAT",
        "DATE_FORMAT",
        "TIME_FORMAT",
        r"\d\a\y: l jS F Y (D N n m y z L t W o b E w), H:i:s A a g G h P u f e O T Z I r c U",
    ],
)
def test_a_pages_dates_read_as_date_format_writes_them(language, style):
    """The part of a date that depends on the day is formatted once per day, the time per
    value: the same strings as ``date_format``, across a change of summer time too."""
    start = datetime(2026, 3, 28, 0, 30, tzinfo=timezone.get_fixed_timezone(0))
    values = [start + timedelta(minutes=97 * i) for i in range(60)]  # 29 March included
    with translation.override(language), timezone.override("Europe/Amsterdam"):
        dates = _DateStyle(get_format(style) if style.endswith("FORMAT") else style)
        for value in values + values:
            local = timezone.localtime(value)
            assert dates(local) == date_format(local, style)
        assert len(dates.days) == len({timezone.localtime(value).date() for value in values}) == 5


def test_words_and_dates_made_once_per_process_follow_the_language_of_each_page():
    """The words and dates of the lines are kept from page to page (made once per process), per
    language: an English page after a Dutch one, and back, each reads as its own language."""
    item = _item(1, 20 * 24)
    local = item.since.astimezone(timezone.get_fixed_timezone(60))
    seen = {}
    for language in ("nl", "en", "nl", "en"):
        with translation.override(language), timezone.override(timezone.get_fixed_timezone(60)):
            line = worklist_groups([item], now=NOW)[0].items[0]
            assert line.title == date_format(local, "DATETIME_FORMAT")
            assert line.waiting == waiting_words(item.since, NOW)
            assert line.waiting.endswith(date_format(local.date(), "DATE_FORMAT"))
            assert line.kind_label == str(item.kind_label)
            seen.setdefault(language, set()).add((line.title, line.waiting, line.kind_label))
    assert len(seen["nl"]) == len(seen["en"]) == 1
    assert seen["nl"] != seen["en"]
