"""Pages travel gzipped to browsers that accept it; media and byte ranges travel as they are."""

import gzip

import pytest
from django.http import HttpResponse, StreamingHttpResponse
from django.test import RequestFactory
from django.urls import reverse

from icbt.middleware import PageCompressionMiddleware

LONG_TEXT = b"A calm page of plain words. " * 40


def _through_middleware(response, accept="gzip, deflate"):
    request = RequestFactory().get("/", headers={"accept-encoding": accept})
    return PageCompressionMiddleware(lambda request: response)(request)


@pytest.mark.django_db
def test_a_page_is_gzipped_when_the_browser_accepts_it(client):
    plain = client.get(reverse("account_login"))
    zipped = client.get(reverse("account_login"), headers={"accept-encoding": "gzip"})
    assert "Content-Encoding" not in plain
    assert zipped["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped["Vary"]
    assert len(zipped.content) < len(plain.content) / 2
    assert b"<html" in gzip.decompress(zipped.content)


def test_json_and_scripts_are_gzipped():
    for content_type in ("application/json", "text/javascript; charset=utf-8", "image/svg+xml"):
        response = _through_middleware(HttpResponse(LONG_TEXT, content_type=content_type))
        assert response["Content-Encoding"] == "gzip", content_type


def test_nothing_is_gzipped_for_a_browser_that_does_not_ask():
    response = _through_middleware(HttpResponse(LONG_TEXT, content_type="text/html"), accept="identity")
    assert "Content-Encoding" not in response
    assert response.content == LONG_TEXT


@pytest.mark.parametrize("content_type", ["audio/wav", "video/mp4", "image/png", "application/pdf"])
def test_media_passes_untouched(content_type):
    response = _through_middleware(HttpResponse(LONG_TEXT, content_type=content_type))
    assert "Content-Encoding" not in response
    assert response.content == LONG_TEXT


def test_a_byte_range_passes_untouched():
    partial = StreamingHttpResponse(iter([LONG_TEXT]), status=206, content_type="text/plain")
    partial["Content-Length"] = str(len(LONG_TEXT))
    response = _through_middleware(partial)
    assert "Content-Encoding" not in response
    assert response["Content-Length"] == str(len(LONG_TEXT))
    assert b"".join(response.streaming_content) == LONG_TEXT
