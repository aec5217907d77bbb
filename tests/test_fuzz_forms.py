"""Bad input, fuzzed: every form that accepts input gets plausible submissions with some fields
replaced by what people paste and attackers try (oversized text, wrong types, NUL bytes, RTL
marks, emoji, bytes that are not UTF-8, HTML and script), and uploads get random files.

For every example:

* no server error (status below 500), also on the page a redirect leads to;
* ``<script>alert(1)</script>`` never appears unescaped in any answer;
* a form shown again (a 200 answer to a POST) says what is wrong and keeps every valid value
  typed alongside the bad one;
* text far over every limit is never accepted.

The forms are read from the pages themselves (``tests/fuzz/forms.py``), so a new field is fuzzed
as soon as a template shows it. ``ICBT_FUZZ_EXAMPLES`` raises the number of examples per form.
"""

import os
import re
import uuid
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.forms import baseline, parse_forms, pick_form, text_fields
from tests.fuzz.strategies import (
    BAD_UTF8,
    CONTENT_TYPES,
    FILE_NAMES,
    MARKER,
    OVERSIZE,
    UPLOADS,
    field_values,
    licensed_file,
)
from tests.fuzz.targets import TARGETS

# Examples per form: 10 keeps the file near a minute and a half on a two-core machine; set
# ICBT_FUZZ_EXAMPLES=50 (and ICBT_FUZZ_RANDOM=1 for new examples every run) for a deeper search.
EXAMPLES = int(os.environ.get("ICBT_FUZZ_EXAMPLES", "10"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("ICBT_FUZZ_RANDOM"),
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
ERROR_SHOWN = re.compile(r'class="[^"]*\berror\b|error-summary|message-error|role="alert"')


def _text(response) -> str:
    return response.content.decode("utf-8", "replace")


def _assert_safe(response, what):
    assert response.status_code < 500, f"{what}: server error {response.status_code}"
    assert MARKER not in _text(response), f"{what}: the script marker came back unescaped"


class Fuzzer:
    """One target in one world: its form, its baseline, and the checks on every answer."""

    def __init__(self, target, world, client_for, settings_fixture):
        self.target = target
        self.world = world
        for name, value in target.settings.items():
            setattr(settings_fixture, name, value)
        self.extra = target.setup(world) if target.setup else None
        if target.fresh:
            self.extra = target.fresh(world, self.extra)
        self.client: Client = client_for(world.persona(target.persona))
        page_url = target.page(world, self.extra)
        page = self.client.get(page_url)
        assert page.status_code == 200, f"{target.id}: {page_url} answered {page.status_code}"
        self.form = pick_form(parse_forms(_text(page)), has=target.has, action=self._action(page_url))
        self.text_fields = text_fields(self.form) - target.not_kept
        buttons = {f.name for f in self.form.fields if f.tag == "button" or f.type in ("submit", "image")}
        hidden = {f.name for f in self.form.fields if f.type == "hidden"}
        self.visible = self.form.names() - buttons - hidden
        self.names = sorted(
            self.form.names()
            - {"csrfmiddlewaretoken", "submission_key"}
            - set(target.uploads)
            - (buttons - target.buttons - set(target.overrides))
        )

    def _action(self, page_url) -> str:
        if self.target.action:
            return self.target.action(self.world, self.extra)
        return getattr(self, "form", None) and self.form.action.split("#")[0] or page_url

    def submit(
        self,
        mutations: dict,
        *,
        raw_bad_bytes: str | None = None,
        raw_field: str = "",
        files: dict | None = None,
    ):
        target = self.target
        if target.fresh:
            self.extra = target.fresh(self.world, self.extra)
        page_url = target.page(self.world, self.extra)
        self.action = self._action(page_url)
        data = baseline(self.form, overrides=target.overrides, buttons=target.buttons)
        if "submission_key" in data:
            # One rendered form is sent many times here; each send stands for a new render (the
            # same key again would be answered as a replay of the first).
            data["submission_key"] = str(uuid.uuid4())
        mutated = {raw_field} if raw_bad_bytes is not None else set()
        for name, value in mutations.items():
            mutated.add(name)
            if value is None:
                data.pop(name, None)
            else:
                data[name] = value
        kept = {
            name: value
            for name, value in data.items()
            if name in self.text_fields
            and name not in mutated
            and isinstance(value, str)
            and value.startswith("Kept")
        }
        what = f"{target.id} {self.action} {sorted(mutated)}"
        if target.method == "get":
            response = self.client.get(self.action, data)
        elif raw_bad_bytes is not None:
            # The field holds only the bad bytes (what it was drawn to hold is not sent).
            data.pop(raw_field, None)
            mutations = {k: v for k, v in mutations.items() if k != raw_field}
            body = "&".join(
                f"{quote(k)}={quote(v)}"
                for k, vs in data.items()
                for v in (vs if isinstance(vs, list) else [vs])
            )
            body += f"&{quote(raw_field)}=a{raw_bad_bytes}b"
            response = self.client.post(self.action, body, content_type="application/x-www-form-urlencoded")
        else:
            response = self.client.post(self.action, {**data, **(files or {})})
        _assert_safe(response, what)
        self.check(response, data, mutations, kept, what)
        return response

    def check(self, response, data, mutations, kept, what):
        target = self.target
        if response.status_code in (301, 302, 303):
            followed = self.client.get(response["Location"])
            _assert_safe(followed, f"{what} -> {response['Location']}")
            refused = "message-error" in _text(followed)  # refused, with a message on the next page
            # A filled-in honeypot drops the whole request while showing "sent", by design.
            dropped = any(data.get(name) for name in target.anything_goes)
            if target.oversize_rejected and not refused and not dropped:
                too_long = [
                    n
                    for n, v in mutations.items()
                    if isinstance(v, str)
                    and len(v) > OVERSIZE - 1
                    and n in self.text_fields
                    and n not in target.anything_goes
                ]
                assert not too_long, f"{what}: text over every limit in {too_long} was accepted"
            return
        if target.json or response.get("Content-Type", "").startswith("application/json"):
            return
        if target.method == "post" and response.status_code == 200 and target.rerender_is_rejection:
            text = _text(response)
            # Something a person typed or chose was refused: the page must say what. (A tampered
            # button or hidden value is refused too, but nobody could have typed it.)
            if set(mutations) & self.visible:
                assert ERROR_SHOWN.search(text), f"{what}: the form came back without saying what is wrong"
            lost = [name for name, value in kept.items() if value not in text]
            assert not lost, f"{what}: valid values typed alongside were lost: {lost}"


def _mutations(names):
    return st.dictionaries(st.sampled_from(names), field_values, min_size=1, max_size=min(3, len(names)))


FORM_TARGETS = [t for t in TARGETS if not t.uploads]
UPLOAD_TARGETS = [t for t in TARGETS if t.uploads]


@pytest.mark.parametrize("target", FORM_TARGETS, ids=[t.id for t in FORM_TARGETS])
def test_bad_input_in_every_form(target, world, client_for, settings):
    fuzzer = Fuzzer(target, world, client_for, settings)

    @FUZZ
    @given(data=st.data())
    def run(data):
        mutations = data.draw(_mutations(fuzzer.names), label="mutations")
        bad_bytes = data.draw(st.sampled_from([None, None, None, *BAD_UTF8]), label="bad bytes")
        raw_field = data.draw(st.sampled_from(fuzzer.names), label="bad bytes in")
        fuzzer.submit(
            mutations, raw_bad_bytes=bad_bytes if target.method == "post" else None, raw_field=raw_field
        )

    run()


@pytest.mark.parametrize("target", UPLOAD_TARGETS, ids=[t.id for t in UPLOAD_TARGETS])
def test_random_files_in_every_upload(target, world, client_for, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    fuzzer = Fuzzer(target, world, client_for, settings)

    @FUZZ
    @given(data=st.data())
    def run(data):
        files = {}
        for name, kind in target.uploads.items():
            if data.draw(st.booleans(), label=f"send {name}") or name == "file":
                content = data.draw(UPLOADS[kind], label=name)
                files[name] = SimpleUploadedFile(
                    data.draw(FILE_NAMES, label=f"{name} name"),
                    content,
                    content_type=data.draw(CONTENT_TYPES, label=f"{name} type"),
                )
        fuzzer.submit({}, files=files)

    run()


def test_too_many_fields_is_refused_cleanly(world, client_for):
    client = client_for(world.patient_a.user)
    response = client.post("/settings/", {f"f{i}": "x" for i in range(1200)})
    assert response.status_code == 400


def test_a_huge_body_is_refused_cleanly(world, client_for):
    client = client_for(world.patient_a.user)
    response = client.post("/settings/", {"language": "x" * 3_000_000})
    assert response.status_code in (400, 413)


# --- What the fuzzing found, pinned ------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"[" * 5000 + b"]" * 5000,  # was a RecursionError (500), and seconds of CPU per upload
        b"- " * 3000 + b"x",  # block nesting: RecursionError (500)
        b"? [a, b]\n: 1\n",  # a list as a key: TypeError (500)
        b"instrument: [cis_fatigue]\nlanguage: en\ntitle: t\nlicence: l\noptions: []\nreverse_scored: []\n"
        b"items: []\n",  # a list as the instrument code: TypeError (500)
        b'{"\\ud800": 1}',  # a lone surrogate, quoted in the error message: UnicodeEncodeError (500)
        licensed_file('"CIS\\0"', "I feel tired"),  # valid but for a NUL, which PostgreSQL cannot store
    ],
    ids=["flow-nesting", "block-nesting", "list-key", "list-code", "lone-surrogate", "nul"],
)
def test_questionnaire_files_that_broke_the_upload(
    content, world, client_for, django_capture_on_commit_callbacks
):
    client = client_for(world.admin.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/staff/programs/questionnaires/",
            {"file": SimpleUploadedFile("texts.yaml", content, "application/x-yaml")},
        )
    assert response.status_code == 302
    page = client.get("/staff/programs/questionnaires/")
    assert page.status_code == 200
    assert ERROR_SHOWN.search(_text(page))


def test_a_second_invitation_from_a_stale_page_says_why(world, client_for):
    from tests.patients import staff_helpers as sh

    request = sh.intake_request(world.clinic)
    client = client_for(world.therapist.user)
    url = f"/staff/intake-requests/{request.pk}/invite/"
    data = {"first_name": "Petra", "last_name": "Jansen", "email": "petra.j@example.org", "language": "en"}
    assert client.post(url, data).status_code == 302
    again = client.post(url, {**data, "email": "petra.k@example.org"}, follow=True)
    assert "This person has already been invited." in _text(again)


def test_a_second_decision_from_a_stale_page_says_why(world, client_for):
    from tests.patients import staff_helpers as sh

    enrollment = sh.enroll(world.patient_a)
    client = client_for(world.therapist.user)
    url = f"/staff/patients/{world.patient_a.pk}/enrollments/{enrollment.pk}/end/"
    assert client.post(url, {"reason": "Done."}).status_code == 302
    again = client.post(url, {"reason": "Typed in a second tab."}, follow=True)
    assert "This enrollment has ended; it can no longer be changed." in _text(again)
