"""PDF rendering with WeasyPrint, fenced in.

A PDF is made from HTML that holds patient data (and, for the patient's own download, text the
patient typed). WeasyPrint fetches every URL it finds in that HTML: stylesheets, images,
``@import``, ``url()`` in CSS, ``<object>``, SVG ``<image>``. With the default fetcher, text a
patient typed such as ``<img src="file:///etc/passwd">`` (were it ever rendered unescaped) or a
link to ``http://169.254.169.254/`` would make the server read local files or call internal
services (SSRF). So the renderer uses :class:`StaticOnlyURLFetcher`, which:

- serves only the application's own static files, read from disk through Django's staticfiles
  finders (or the collected ``STATIC_ROOT`` in production), for URLs on the application's own
  host (``SITE_URL`` or the internal base URL below) under ``STATIC_URL``;
- never opens a network connection, so it cannot follow a redirect or reach another host, a
  link-local address (cloud metadata), a private network or localhost;
- refuses everything else: ``file:``, ``ftp:``, ``data:`` bigger than a small limit, other
  hosts, paths outside ``STATIC_URL`` and paths that climb out of it (``..``).

A refused URL is logged (the URL's scheme and host only, never a path that might carry data)
and the PDF is made without that resource. Fonts come from the system (DejaVu), never from the
web.
"""

from __future__ import annotations

import ipaddress
import logging
import mimetypes
import posixpath
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

# Relative URLs in the HTML (``/static/css/pdf.css``) are resolved against this base, which
# exists nowhere: the fetcher recognises it and reads the file from disk.
INTERNAL_BASE_URL = "https://icbt-pdf.invalid/"
DATA_URL_MAX = 512 * 1024


class URLRefused(ValueError):
    """The PDF renderer refused to fetch a URL."""


def _own_hosts() -> set[str]:
    hosts = {urlsplit(INTERNAL_BASE_URL).netloc.lower()}
    site = urlsplit(getattr(settings, "SITE_URL", "") or "")
    if site.netloc:
        hosts.add(site.netloc.lower())
    return hosts


def _is_internal_address(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host in ("localhost",) or host.endswith(".localhost")
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def static_path_for(url: str) -> str:
    """The file on disk for one of our static URLs, or :class:`URLRefused`."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise URLRefused(f"scheme {scheme or '(none)'} refused")
    host = parts.netloc.lower()
    if host not in _own_hosts():
        kind = "an internal address" if _is_internal_address(parts.hostname or "") else "another host"
        raise URLRefused(f"{kind} refused: {parts.hostname}")
    static_prefix = urlsplit(settings.STATIC_URL).path
    path = unquote(parts.path)
    if "\x00" in path or "\\" in path:
        raise URLRefused("malformed path refused")
    normalised = posixpath.normpath(path)
    if not path.startswith(static_prefix) or not (normalised + "/").startswith(static_prefix):
        raise URLRefused("only static files are served")
    name = normalised[len(static_prefix) :]
    if not name or name.startswith("/") or ".." in name.split("/"):
        raise URLRefused("path refused")
    found = finders.find(name)
    if found:
        return found
    try:
        if staticfiles_storage.exists(name):
            return staticfiles_storage.path(name)
    except NotImplementedError:  # pragma: no cover - a storage without local paths
        pass
    raise URLRefused("static file not found")


def _weasyprint():
    import weasyprint  # imported late: Pango is loaded only when a PDF is made

    return weasyprint


def make_url_fetcher():
    """A WeasyPrint URL fetcher that serves our static files and refuses everything else."""
    weasyprint = _weasyprint()

    class StaticOnlyURLFetcher(weasyprint.URLFetcher):
        def __init__(self):
            super().__init__(timeout=1, allowed_protocols=("http", "https", "data"), allow_redirects=False)
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
            scheme = urlsplit(url).scheme.lower()
            try:
                if scheme == "data":
                    if len(url) > DATA_URL_MAX:
                        raise URLRefused("data URL too large")
                    # Decoded locally by urllib's data handler: no file, no network.
                    return super().fetch(url, headers)
                path = static_path_for(url)
            except URLRefused as exc:
                parts = urlsplit(url)
                self.refused.append(url)
                logger.warning(
                    "pdf: refused a %s URL (host %s): %s",
                    parts.scheme or "relative",
                    parts.hostname or "-",
                    exc,
                )
                raise
            content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
            with open(path, "rb") as handle:
                body = handle.read()
            return weasyprint.urls.URLFetcherResponse(url, body, {"Content-Type": content_type})

    return StaticOnlyURLFetcher()


def html_to_pdf(html: str, *, fetcher=None) -> bytes:
    """The PDF of ``html``; relative URLs resolve against the internal base and are served
    from our static files only."""
    weasyprint = _weasyprint()
    fetcher = fetcher or make_url_fetcher()
    return weasyprint.HTML(string=html, base_url=INTERNAL_BASE_URL, url_fetcher=fetcher).write_pdf()


def render_pdf(template_name: str, context: dict, *, request=None) -> bytes:
    """Render a Django template to HTML and that to PDF."""
    return html_to_pdf(render_to_string(template_name, context, request=request))


def pdf_response(content: bytes, *, filename: str, inline: bool = False):
    """An HTTP response with a PDF. ``filename`` must be plain ASCII (no names of patients)."""
    from django.http import HttpResponse

    response = HttpResponse(content, content_type="application/pdf")
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
