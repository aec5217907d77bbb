"""WeasyPrint renders our own static files and nothing else: no local files, no other hosts, no
internal addresses, no redirects, and never a network connection."""

import io
import socket

import pytest
from pypdf import PdfReader

from icbt.pdf import INTERNAL_BASE_URL, URLRefused, html_to_pdf, make_url_fetcher, static_path_for

HOSTILE = [
    "file:///etc/passwd",
    "FILE:///etc/passwd",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00::1]/static/css/pdf.css",
    "http://10.0.0.8/static/css/pdf.css",
    "http://127.0.0.1:6379/",
    "http://localhost/static/css/pdf.css",
    "https://evil.example/static/css/pdf.css",
    "ftp://evil.example/x",
    f"{INTERNAL_BASE_URL}etc/passwd",
    f"{INTERNAL_BASE_URL}static/../../../../etc/passwd",
    f"{INTERNAL_BASE_URL}static/%2e%2e/%2e%2e/etc/passwd",
    f"{INTERNAL_BASE_URL}static/css/missing.css",
]


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_urls_are_refused(url, no_network):
    fetcher = make_url_fetcher()
    with pytest.raises(URLRefused):
        fetcher.fetch(url)
    assert fetcher.refused == [url]
    assert not no_network


def test_our_static_files_are_served_from_disk(settings, no_network):
    settings.SITE_URL = "https://care.example.org"
    fetcher = make_url_fetcher()
    for url in (f"{INTERNAL_BASE_URL}static/css/pdf.css", "https://care.example.org/static/css/pdf.css"):
        response = fetcher.fetch(url)
        assert b"@page" in response.read()
        assert response.content_type == "text/css"
    assert static_path_for(f"{INTERNAL_BASE_URL}static/css/pdf.css").endswith("static/css/pdf.css")
    assert not no_network


def test_a_document_full_of_hostile_references_renders_without_them(no_network, caplog):
    html = """
    <html><head>
      <link rel="stylesheet" href="/static/css/pdf.css">
      <link rel="stylesheet" href="file:///etc/passwd">
      <link rel="stylesheet" href="http://169.254.169.254/latest/meta-data/iam">
      <style>@import url("file:///etc/shadow"); body { background: url("http://10.1.2.3/x.png"); }</style>
    </head><body>
      <h1>Report</h1>
      <img src="file:///etc/passwd" alt="">
      <img src="http://169.254.169.254/latest/meta-data/" alt="">
      <object data="file:///etc/hostname"></object>
      <iframe src="file:///etc/passwd"></iframe>
      <svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
           width="10" height="10">
        <image xlink:href="file:///etc/passwd" width="10" height="10"/>
      </svg>
      <p>Body text</p>
    </body></html>
    """
    fetcher = make_url_fetcher()
    content = html_to_pdf(html, fetcher=fetcher)
    text = pdf_text(content)
    assert "Report" in text and "Body text" in text
    assert "root:" not in text
    assert "file:///etc/passwd" in fetcher.refused
    assert "http://169.254.169.254/latest/meta-data/" in fetcher.refused
    assert not no_network
    # The stylesheet of our own was used (A4 page from pdf.css).
    page = PdfReader(io.BytesIO(content)).pages[0]
    assert round(float(page.mediabox.width)) == 595


def test_redirects_are_never_followed(no_network):
    fetcher = make_url_fetcher()
    assert not any(type(h).__name__ == "HTTPRedirectHandler" for h in fetcher.handlers)
    with pytest.raises(URLRefused):
        fetcher.fetch("http://redirector.example/to/static/css/pdf.css")
