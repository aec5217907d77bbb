"""Views of the message box: the patient's conversation, the therapist's composer, drafts,
reviews, internal notes, covering and templates.

Every staff view fetches the patient through ``patient_for_staff`` (checked and audited)
before anything else. Views that receive message text are wrapped in
``sensitive_post_parameters`` and ``sensitive_variables`` so an error report never carries it.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from icbt.access import require_staff_role
from icbt.audit import Action
from icbt.roles import roles_of
from icbt.submissions import submitted_once
from messaging import selectors, services
from messaging.access import share_get_for_patient, template_get_for_user, template_may_edit
from messaging.forms import ComposerForm, MessageForm, NoteForm, ShareForm, TemplateForm, UrgentContactForm
from patients import charts_measurement
from patients import services as patient_services
from patients.access import audited, own_patient, patient_access_record, patient_for_staff, staff_may_treat
from patients.feedback_links import item_label, link_url_for_patient

TEXT_FIELDS = ("body",)


def _wants_json(request) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


_UNSET = object()


def _conversation_context(request, *, conversation, enrollment, patient, draft=_UNSET, modules=None) -> dict:
    """Messages (marking the other side's as read), the draft and who answers. Fixed queries.
    For the patient, what a feedback is about links to the item (their answer, diary day,
    questionnaire or module)."""
    patient_user_id = patient.user_id
    viewer_is_patient = request.user.pk == patient_user_id
    places = selectors.module_places(enrollment=enrollment) if modules is None or viewer_is_patient else {}
    if modules is None:
        modules = {number: title for number, (title, _slug) in places.items()}
    thread = selectors.conversation_messages(conversation=conversation, modules=modules)
    module_slugs = {number: slug for number, (_title, slug) in places.items()}
    for m in thread:
        m.from_patient = m.author_id == patient_user_id
        m.from_viewer_side = m.from_patient == viewer_is_patient
        urls = (
            [link_url_for_patient(link, module_slugs) for link in m.links.all()]
            if viewer_is_patient
            else [""] * len(m.about)
        )
        m.about_links = list(zip(m.about, urls, strict=True))
    new_ids = {m.pk for m in thread if m.read_at is None and not m.from_viewer_side}
    services.conversation_mark_read(conversation=conversation, reader=request.user)
    if draft is _UNSET:
        draft = selectors.draft_get(conversation=conversation, author=request.user)
    return {
        "patient": patient,
        "enrollment": enrollment,
        "conversation": conversation,
        "thread": thread,
        "new_ids": new_ids,
        "draft": draft,
        "last_sent_at": selectors.last_sent_at(thread, request.user),
        "covering": selectors.active_shares(patient=patient),
        "clinic": enrollment.clinic,
        "modules": modules,
    }


# --- Patient ---------------------------------------------------------------------------------------


def _patient_page(request, *, patient, enrollment, conversation, form, draft=_UNSET):
    context = _conversation_context(
        request, conversation=conversation, enrollment=enrollment, patient=patient, draft=draft
    )
    context.update(form=form, draft_url=reverse("messaging:patient_draft"))
    return render(request, "messaging/patient_conversation.html", context)


@login_required
@submitted_once("message")
@sensitive_post_parameters(*TEXT_FIELDS)
@sensitive_variables()
def patient_conversation(request):
    """The patient's conversation with their therapist, with the reply form."""
    patient = own_patient(request)
    enrollment = selectors.enrollment_for_patient(patient=patient)
    if enrollment is None:
        return render(
            request,
            "messaging/patient_conversation.html",
            {"patient": patient, "enrollment": None, "clinic": patient.clinic},
        )
    enrollment.patient = patient
    conversation = services.conversation_get_or_create(enrollment=enrollment)
    if request.method == "POST":
        form = MessageForm(request.POST)
        if form.is_valid():
            try:
                services.message_send(
                    conversation=conversation,
                    author=request.user,
                    body=form.cleaned_data["body"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Your message has been sent."))
                return redirect("messaging:patient_conversation")
    else:
        draft = selectors.draft_get(conversation=conversation, author=request.user)
        form = MessageForm(initial={"body": draft.body if draft else ""})
        return _patient_page(
            request, patient=patient, enrollment=enrollment, conversation=conversation, form=form, draft=draft
        )
    return _patient_page(
        request, patient=patient, enrollment=enrollment, conversation=conversation, form=form
    )


@login_required
@require_POST
@sensitive_post_parameters(*TEXT_FIELDS)
@sensitive_variables()
def patient_draft(request):
    """Autosave of the patient's reply (JSON for the script; a redirect without script)."""
    patient = own_patient(request)
    enrollment = selectors.enrollment_for_patient(patient=patient)
    if enrollment is None or not enrollment.is_open:
        raise Http404
    enrollment.patient = patient
    conversation = services.conversation_get_or_create(enrollment=enrollment)
    try:
        draft = services.draft_save(
            conversation=conversation, author=request.user, body=request.POST.get("body", "")
        )
    except ValidationError as exc:
        if _wants_json(request):
            return JsonResponse({"saved": False, "error": " ".join(exc.messages)}, status=400)
        form = MessageForm(request.POST)
        form.is_valid()
        return _patient_page(
            request, patient=patient, enrollment=enrollment, conversation=conversation, form=form
        )
    return _draft_saved(request, draft, reverse("messaging:patient_conversation"))


def _draft_saved(request, draft, next_url):
    if _wants_json(request):
        return JsonResponse({"saved": True, "saved_at": draft.saved_at.isoformat() if draft else None})
    messages.success(request, _("Your draft has been saved."))
    return redirect(next_url)


# --- Staff: the composer --------------------------------------------------------------------------


def _staff_fetch(request, pk, *, purpose="conversation", action=None, audit=True):
    """Staff member, patient (checked and audited; with ``audit=False`` the caller records the
    allowed access itself) and the enrollment its messages belong to."""
    patient = patient_for_staff(
        request, pk, write=request.method == "POST", purpose=purpose, action=action, audit=audit
    )
    enrollment = selectors.enrollment_for_patient(patient=patient, starter_check=True)
    if enrollment is not None:
        enrollment.patient = patient
    return roles_of(request.user).staff, patient, enrollment


def _urgent_first(work) -> None:
    """A self-harm answer nobody has handled yet leads the questionnaires (the rest keep their
    order, oldest first): the safety signal is the first thing the composer shows of them."""
    work.questionnaires.sort(key=lambda q: not (q.urgent and q.reviewed_at is None))


def _staff_page(request, *, patient, enrollment, conversation, data=None, status=200):
    """The composer. ``data``: a POST to show again (with its errors) so nothing typed is lost."""
    draft = selectors.draft_get(conversation=conversation, author=request.user)
    asked = selectors.asked_refs(enrollment=enrollment, value=request.GET.get("attach", ""))
    include = list(asked)
    include += [selectors.parse_item_ref(ref) for ref in (draft.attachments if draft else [])]
    if data is not None:
        include += [selectors.parse_item_ref(ref) for ref in data.getlist("attach")]
    include = [ref for ref in include if ref is not None]
    work = selectors.work_since_last_feedback(enrollment=enrollment, include=include)
    _urgent_first(work)
    selectors.work_charts(enrollment=enrollment, work=work)
    templates = list(selectors.template_list(fetched_by=request.user, version=enrollment.version))
    kwargs = {"allowed_refs": work.refs(), "templates": templates}
    if data is not None:
        form = ComposerForm(data, **kwargs)
        form.is_valid()
    else:
        attach = list(draft.attachments) if draft else []
        refs = work.refs()
        attach += [str(ref) for ref in asked if str(ref) in refs and str(ref) not in attach]
        form = ComposerForm(initial={"body": draft.body if draft else "", "attach": attach}, **kwargs)
    context = _conversation_context(
        request,
        conversation=conversation,
        enrollment=enrollment,
        patient=patient,
        draft=draft,
        modules=work.modules,
    )
    context.update(
        form=form,
        work=work,
        rhythm=selectors.feedback_rhythm(enrollment=enrollment),
        templates=[
            (t, services.template_render(template=t, patient=patient, author=request.user)) for t in templates
        ],
        draft_url=reverse("messaging:staff_draft", args=[patient.pk]),
        review_url=reverse("messaging:item_review", args=[patient.pk]),
        on_behalf_of=services.conversation_side(conversation=conversation, user=request.user).on_behalf_of,
        scores_chart=charts_measurement.staff_scores_for(enrollment, only_measured=True),
        # Covering and sharing is the treating therapist's page: a covering colleague gets no link.
        may_share=staff_may_treat(roles_of(request.user).staff, patient),
    )
    return render(request, "messaging/staff_conversation.html", context, status=status)


@login_required
@submitted_once("message")
@sensitive_post_parameters(*TEXT_FIELDS)
@sensitive_variables()
def staff_conversation(request, pk):
    """The therapist's conversation with a patient and the feedback composer beside their work."""
    staff, patient, enrollment = _staff_fetch(request, pk)
    if enrollment is None:
        context = {"patient": patient, "enrollment": None, "may_share": staff_may_treat(staff, patient)}
        return render(request, "messaging/staff_conversation.html", context)
    conversation = services.conversation_get_or_create(enrollment=enrollment)
    if enrollment.starters_missing or enrollment.clinic_id != staff.clinic_id:
        services.template_starters_provide(clinic_id=staff.clinic_id)
    if request.method != "POST":
        return _staff_page(request, patient=patient, enrollment=enrollment, conversation=conversation)
    work = selectors.work_since_last_feedback(
        enrollment=enrollment,
        include=[r for r in map(selectors.parse_item_ref, request.POST.getlist("attach")) if r is not None],
    )
    templates = list(selectors.template_list(fetched_by=request.user, version=enrollment.version))
    form = ComposerForm(request.POST, allowed_refs=work.refs(), templates=templates)
    if not form.is_valid():
        return _staff_page(
            request, patient=patient, enrollment=enrollment, conversation=conversation, data=request.POST
        )
    if form.action == "insert":
        return _insert_template(
            request,
            form=form,
            templates=templates,
            patient=patient,
            enrollment=enrollment,
            conversation=conversation,
        )
    attach = form.cleaned_data["attach"]
    try:
        if attach or form.action == "feedback":
            services.feedback_send(
                conversation=conversation,
                author=request.user,
                body=form.cleaned_data["body"],
                items=attach,
            )
        else:
            services.message_send(
                conversation=conversation,
                author=request.user,
                body=form.cleaned_data["body"],
            )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _staff_page(
            request, patient=patient, enrollment=enrollment, conversation=conversation, data=request.POST
        )
    messages.success(
        request,
        _("Sent. %(name)s will see it the next time they sign in.") % {"name": patient.user.get_short_name()},
    )
    return redirect("messaging:staff_conversation", pk=patient.pk)


def _insert_template(request, *, form, templates, patient, enrollment, conversation):
    """Without JavaScript: add the chosen template's text (placeholders filled in) to what was
    typed, keep the chosen items, and show the composer again."""
    chosen = next((t for t in templates if str(t.pk) == form.cleaned_data["template"]), None)
    body = form.cleaned_data["body"]
    if chosen is not None:
        text = services.template_render(template=chosen, patient=patient, author=request.user)
        body = f"{body.rstrip()}\n\n{text}" if body.strip() else text
    try:
        services.draft_save(
            conversation=conversation, author=request.user, body=body, attachments=form.cleaned_data["attach"]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        data = request.POST.copy()
        data["body"] = body
        return _staff_page(
            request, patient=patient, enrollment=enrollment, conversation=conversation, data=data
        )
    return redirect(reverse("messaging:staff_conversation", args=[patient.pk]) + "#composer")


@login_required
@require_POST
@sensitive_post_parameters(*TEXT_FIELDS)
@sensitive_variables()
def staff_draft(request, pk):
    """Autosave of the composer: the text and the chosen items."""
    staff, patient, enrollment = _staff_fetch(request, pk, purpose="message_draft")
    if enrollment is None or not enrollment.is_open:
        raise Http404
    conversation = services.conversation_get_or_create(enrollment=enrollment)
    try:
        draft = services.draft_save(
            conversation=conversation,
            author=request.user,
            body=request.POST.get("body", ""),
            attachments=request.POST.getlist("attach"),
        )
    except ValidationError as exc:
        if _wants_json(request):
            return JsonResponse({"saved": False, "error": " ".join(exc.messages)}, status=400)
        return _staff_page(
            request, patient=patient, enrollment=enrollment, conversation=conversation, data=request.POST
        )
    next_url = reverse("messaging:staff_conversation", args=[patient.pk]) + "#composer"
    return _draft_saved(request, draft, next_url)


@login_required
@require_POST
@sensitive_post_parameters(*TEXT_FIELDS)
@sensitive_variables()
def item_review(request, pk):
    """Mark one item as reviewed without writing. Posted from inside the composer, so whatever
    was typed there is kept as the draft. A self-harm answer nobody handled yet is reviewed only
    through the confirmation step that records the contact (``_urgent_review``)."""
    # Audited once it is known what happens: a review, or (the confirmation step of a self-harm
    # answer, not reviewed yet) a view.
    staff, patient, enrollment = _staff_fetch(
        request, pk, purpose="review", action=Action.REVIEW, audit=False
    )
    if enrollment is None:
        patient_access_record(request, patient, purpose="review")
        raise Http404
    item = request.POST.get("item", "")
    ref = selectors.parse_item_ref(item)
    found = selectors.items_for_enrollment(enrollment=enrollment, refs=[ref]).get(str(ref)) if ref else None
    if found is not None and services.is_open_urgent(found):
        return _urgent_review(request, staff=staff, patient=patient, enrollment=enrollment, response=found)
    patient_access_record(request, patient, purpose="review", action=Action.REVIEW)
    try:
        services.item_mark_reviewed(enrollment=enrollment, item=item, reviewed_by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Marked as reviewed."))
    kept = _keep_draft(request, patient=patient, enrollment=enrollment)
    if kept is not None:
        return kept
    return redirect(reverse("messaging:staff_conversation", args=[patient.pk]) + "#work")


def _keep_draft(request, *, patient, enrollment):
    """What the composer posted along (its text, its chosen items) kept as the draft; the
    composer again (with the text) when it cannot be kept, else None."""
    if enrollment.is_open and ("body" in request.POST or "attach" in request.POST):
        conversation = services.conversation_get_or_create(enrollment=enrollment)
        try:
            services.draft_save(
                conversation=conversation,
                author=request.user,
                body=request.POST.get("body", ""),
                attachments=request.POST.getlist("attach"),
            )
        except ValidationError:
            return _staff_page(
                request, patient=patient, enrollment=enrollment, conversation=conversation, data=request.POST
            )
    return None


def _urgent_review(request, *, staff, patient, enrollment, response):
    """The confirmation step of reviewing a self-harm answer: it says that the patient was told
    they would be contacted soon, and asks how and when they were (or to whom it was handed
    over). Only the confirmed form marks the answer reviewed; the first step (posted from the
    composer) keeps what was typed there as the draft."""
    confirming = "confirm" in request.POST
    response_page = _urgent_review_done(
        request, staff=staff, patient=patient, enrollment=enrollment, response=response, confirming=confirming
    )
    action = Action.REVIEW if confirming and response_page.status_code == 302 else Action.VIEW
    patient_access_record(request, patient, purpose="review", action=action)
    return response_page


def _urgent_review_done(request, *, staff, patient, enrollment, response, confirming):
    """The step's page, or (confirmed and recorded) the redirect back to the composer."""
    form = UrgentContactForm(
        request.POST if confirming else None, colleagues=selectors.handover_candidates(staff=staff)
    )
    if not confirming:
        kept = _keep_draft(request, patient=patient, enrollment=enrollment)
        if kept is not None:
            return kept
    elif form.is_valid():
        contact = services.UrgentContact(
            method=form.cleaned_data["method"],
            on=form.cleaned_data["on"],
            handed_to=form.cleaned_data["handed_to"],
        )
        try:
            services.item_mark_reviewed(
                enrollment=enrollment,
                item=f"questionnaire:{response.pk}",
                reviewed_by=request.user,
                contact=contact,
            )
        except ValidationError as exc:
            fields = {"method": "method", "on": "on", "handed_to": "handed_to"}
            if hasattr(exc, "error_dict"):
                for name, errors in exc.error_dict.items():
                    form.add_error(fields.get(name), errors)
            else:
                form.add_error(None, exc.messages)
        else:
            messages.success(request, _("The contact is recorded and the answer is marked as reviewed."))
            return redirect(reverse("messaging:staff_conversation", args=[patient.pk]) + "#work")
    return render(
        request,
        "messaging/urgent_review.html",
        {
            "patient": patient,
            "response": response,
            "name": item_label(kind="questionnaire", obj=response),
            "form": form,
        },
        status=400 if confirming else 200,
    )


# --- Staff: notes and covering ----------------------------------------------------------------------


@login_required
@submitted_once("staff_note")
@sensitive_post_parameters(*TEXT_FIELDS)
@sensitive_variables()
def notes(request, pk):
    """Internal notes: for the staff who treat the patient (and a covering colleague) only."""
    patient = patient_for_staff(request, pk, write=request.method == "POST", purpose="staff_notes")
    staff = roles_of(request.user).staff
    form = NoteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.note_add(patient=patient, author=staff, body=form.cleaned_data["body"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("The note has been saved."))
            return redirect("messaging:notes", pk=patient.pk)
    return render(
        request,
        "messaging/notes.html",
        {"patient": patient, "notes": selectors.note_list(patient=patient), "form": form},
    )


@login_required
def sharing(request, pk):
    """The treating therapist shares the patient with a colleague of their team until a date.
    A share made is one event, written by the service; a page shown (a refused form too, which
    changes nothing) is a view."""
    patient = patient_for_staff(
        request, pk, write=request.method == "POST", purpose="care_share", covering=False, audit=False
    )
    staff = roles_of(request.user).staff
    form = ShareForm(request.POST or None, colleagues=selectors.share_candidates(staff=staff))
    if request.method == "POST" and form.is_valid():
        try:
            share = patient_services.share_create(patient=patient, shared_by=staff, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                _("%(name)s can now cover for you for this patient until %(date)s.")
                % {
                    "name": share.colleague.user.get_full_name(),
                    "date": date_format(share.until, "DATE_FORMAT"),
                },
            )
            return redirect("messaging:sharing", pk=patient.pk)
    patient_access_record(request, patient, purpose="care_share")
    return render(
        request,
        "messaging/sharing.html",
        {"patient": patient, "shares": selectors.share_list(patient=patient), "form": form},
    )


@login_required
@require_POST
def share_end(request, pk, share_pk):
    patient = patient_for_staff(request, pk, write=True, purpose="care_share", object_id=share_pk)
    staff = roles_of(request.user).staff
    share = share_get_for_patient(patient, share_pk)
    patient_services.share_end(share=share, ended_by=staff)
    messages.success(request, _("The sharing has ended."))
    if staff_may_treat(staff, patient):
        return redirect("messaging:sharing", pk=patient.pk)
    return redirect("messaging:covering")


@login_required
@audited("covered_patient_list", "therapist")
def covering(request):
    """The patients the viewer covers for a colleague, with the date each share ends."""
    shares = selectors.patients_covered_by(fetched_by=request.user)
    request.audit.shown(patient_ids=[share.patient_id for share in shares])
    return render(request, "messaging/covering.html", {"shares": shares})


# --- Templates ----------------------------------------------------------------------------------------


@login_required
def template_list(request):
    staff = require_staff_role(request.user, "therapist", "clinic_admin")
    services.template_starters_provide(clinic_id=staff.clinic_id)
    templates = list(selectors.template_list(fetched_by=request.user))
    for template in templates:
        template.may_edit = template_may_edit(staff, template)
    return render(
        request,
        "messaging/template_list.html",
        {
            "staff": staff,
            "clinic_templates": [t for t in templates if t.owner_id is None],
            "personal_templates": [t for t in templates if t.owner_id is not None],
        },
    )


def _template_fields(form) -> dict:
    return {name: form.cleaned_data[name] for name in ("title", "body", "is_snippet")}


@login_required
def template_create(request):
    staff = require_staff_role(request.user, "therapist", "clinic_admin")
    both = staff.is_therapist and staff.is_clinic_admin
    form = TemplateForm(
        request.POST or None,
        choose_scope=both,
        initial={"scope": "clinic" if request.GET.get("scope") == "clinic" else "personal"},
    )
    if request.method == "POST" and form.is_valid():
        clinic_wide = form.cleaned_data.get("scope") == "clinic" if both else not staff.is_therapist
        try:
            services.template_create(staff=staff, clinic_wide=clinic_wide, **_template_fields(form))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("The template has been saved."))
            return redirect("messaging:template_list")
    return render(request, "messaging/template_form.html", {"form": form, "template": None})


@login_required
def template_update(request, pk):
    staff = require_staff_role(request.user, "therapist", "clinic_admin")
    template = template_get_for_user(request.user, pk, write=True)
    form = TemplateForm(request.POST or None, instance=template)
    if request.method == "POST" and form.is_valid():
        try:
            services.template_update(template=template, staff=staff, **_template_fields(form))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("The template has been saved."))
            return redirect("messaging:template_list")
    return render(request, "messaging/template_form.html", {"form": form, "template": template})


@login_required
def template_delete(request, pk):
    staff = require_staff_role(request.user, "therapist", "clinic_admin")
    template = template_get_for_user(request.user, pk, write=True)
    if request.method == "POST":
        services.template_delete(template=template, staff=staff)
        messages.success(request, _("The template has been deleted."))
        return redirect("messaging:template_list")
    return render(request, "messaging/template_confirm_delete.html", {"template": template})
