"""The site header: the product's name and mark, the section marked for screen readers, the
worklist count as a badge, and a menu button that only the script reveals (so the links stay in
view without it)."""

import re

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _nav_links(html):
    nav = html[html.index('<nav id="site-nav"') : html.index("</nav>")]
    return re.findall(r'<a href="([^"]+)"( aria-current="(\w+)")?>', nav)


def test_the_header_shows_the_product_name_and_mark(client):
    html = client.get(reverse("account_login")).content.decode()
    brand = html[html.index('class="brand"') : html.index("</a>", html.index('class="brand"'))]
    assert f'<span class="brand-name">{settings.PRODUCT_NAME}</span>' in brand
    assert 'class="brand-mark"' in brand and 'aria-hidden="true"' in brand
    assert f"· {settings.PRODUCT_NAME}</title>" in html
    assert ">icbt<" not in html


def test_the_current_page_and_its_section_are_marked(world, client_for):
    client = client_for(world.therapist.user)
    list_url = reverse("patients:staff_patient_list")
    links = _nav_links(client.get(list_url).content.decode())
    assert [(url, current) for url, _, current in links if current] == [(list_url, "page")]
    detail_url = reverse("patients:staff_patient_detail", args=[world.patient_a.pk])
    assert detail_url.startswith(list_url)
    links = _nav_links(client.get(detail_url).content.decode())
    assert [(url, current) for url, _, current in links if current] == [(list_url, "true")]


def test_the_menu_button_waits_for_the_script_and_controls_the_navigation(world, client_for):
    html = client_for(world.patient_a.user).get(reverse("patients:home")).content.decode()
    button = re.search(r"<button [^>]*data-menu-button[^>]*>", html).group(0)
    assert 'aria-controls="site-nav"' in button and 'aria-expanded="false"' in button
    assert " hidden" in button
    assert '<nav id="site-nav"' in html and "data-closed" not in html


def test_signed_out_pages_have_no_menu(client):
    html = client.get(reverse("account_login")).content.decode()
    assert "data-menu-button" not in html
