"""Every page names its icon, and /favicon.ico answers for pages that do not (no 404, no
console error)."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_pages_name_an_icon_that_exists(client):
    page = client.get(reverse("account_login")).content.decode()
    icons = re.findall(r'<link rel="(?:icon|apple-touch-icon)" href="/static/([^"]+)"', page)
    assert {"img/icon.svg", "img/favicon.ico", "img/apple-touch-icon.png"} <= set(icons)
    for name in icons:
        assert finders.find(name), name


def test_favicon_ico_leads_to_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/img/favicon.ico"
    with open(finders.find("img/favicon.ico"), "rb") as icon:
        assert icon.read(4) == b"\x00\x00\x01\x00"  # an ICO file
