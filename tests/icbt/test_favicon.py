"""Every page names its icon, and /favicon.ico answers for pages that do not (no 404, no
console error)."""

import json
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse
from PIL import Image

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


MARK_BLUE = (11, 92, 140)  # the fill of static/img/icon.svg


def _png(name):
    return Image.open(finders.find(name))


def _looks_like_the_mark(image):
    """The blue square with the white dot at the top right (24.5, 8.5 of 32)."""
    rgb = image.convert("RGB")
    size = rgb.width
    assert rgb.getpixel((size // 2, size - size // 8)) == MARK_BLUE
    assert rgb.getpixel((round(size * 24.5 / 32), round(size * 8.5 / 32))) == (255, 255, 255)


def test_the_apple_touch_icon_is_the_mark_edge_to_edge():
    """The phone rounds the corners itself: no black or transparent corners."""
    icon = _png("img/apple-touch-icon.png")
    assert icon.size == (180, 180)
    _looks_like_the_mark(icon)
    assert icon.convert("RGB").getpixel((1, 1)) == MARK_BLUE


def test_the_favicon_holds_the_mark_in_three_sizes():
    icon = _png("img/favicon.ico")
    assert icon.ico.sizes() == {(16, 16), (32, 32), (48, 48)}
    _looks_like_the_mark(icon.ico.getimage((48, 48)))


def test_the_web_app_manifest_names_icons_drawn_from_the_mark(client):
    page = client.get(reverse("account_login")).content.decode()
    assert re.search(r'<link rel="manifest" href="/static/img/app.webmanifest">', page)
    manifest = json.loads(Path(finders.find("img/app.webmanifest")).read_text())
    pngs = [icon for icon in manifest["icons"] if icon["type"] == "image/png"]
    assert {icon["sizes"] for icon in pngs} == {"192x192", "512x512"}
    for icon in pngs:
        image = _png(f"img/{icon['src']}")
        assert f"{image.width}x{image.height}" == icon["sizes"]
        _looks_like_the_mark(image)
