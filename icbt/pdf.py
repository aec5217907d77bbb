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

import base64
import ipaddress
import logging
import mimetypes
import posixpath
import time
from datetime import timedelta
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils.crypto import salted_hmac

from icbt import crypto

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


# --- Made once per data version, at a bounded rate per person ----------------------------------

_UNCHANGED_STAMP = "-"
# A render in progress is marked for at most this long (a worker killed mid-render leaves its
# mark behind only this long); someone who asks meanwhile is told to try again in a moment.
RENDER_MARK_SECONDS = 120
RENDER_RETRY_SECONDS = 30


class PdfBusy(Exception):
    """This person may not have another PDF made now; ``retry_after`` seconds from now they may."""

    def __init__(self, *, retry_after: int, in_progress: bool):
        super().__init__("pdf rate limit")
        self.retry_after, self.in_progress = max(1, int(retry_after)), in_progress


def _with_stamp(context: dict, path: tuple[str, ...], value) -> dict:
    """A copy of ``context`` with the "made on" value at ``path`` replaced (copies along the path
    only; the rest is shared)."""
    if not path:
        return context
    copy = dict(context)
    head, *rest = path
    if head in copy:
        copy[head] = _with_stamp(copy[head], tuple(rest), value) if rest else value
    return copy


def data_version(template_name: str, context: dict, *, stamp: tuple[str, ...]) -> str:
    """A hash of what the PDF shows, leaving out the moment it is made: the HTML rendered with
    the "made on" value at ``stamp`` fixed. Equal data gives an equal version."""
    html = render_to_string(template_name, _with_stamp(context, stamp, _UNCHANGED_STAMP))
    # Keyed with the secret: whoever reads the cache keys cannot confirm a guess of the page.
    return salted_hmac("icbt.pdf", f"{template_name}\n{html}", algorithm="sha256").hexdigest()


def _rate_keys(user_id: int) -> tuple[str, str, str]:
    return (f"icbt:pdf:window:{user_id}", f"icbt:pdf:count:{user_id}", f"icbt:pdf:busy:{user_id}")


def _start_render(user_id: int) -> None:
    """Count one render for ``user_id`` in the current window and mark a render in progress,
    or raise :class:`PdfBusy`. Fixed windows of ``ICBT_PDF_WINDOW_SECONDS``; the counter and the
    in-progress mark live in the shared cache, so the limit holds across web workers."""
    window = settings.ICBT_PDF_WINDOW_SECONDS
    limit = settings.ICBT_PDF_RENDERS_PER_WINDOW
    window_key, count_key, busy_key = _rate_keys(user_id)
    now = time.time()
    cache.add(window_key, now, timeout=window)
    started = cache.get(window_key) or now
    retry_after = window - (now - started)
    if not cache.add(busy_key, now, timeout=RENDER_MARK_SECONDS):
        raise PdfBusy(retry_after=RENDER_RETRY_SECONDS, in_progress=True)
    cache.add(count_key, 0, timeout=window)
    try:
        count = cache.incr(count_key)
    except ValueError:  # expired between add and incr
        cache.set(count_key, 1, timeout=window)
        count = 1
    if count > limit:
        cache.delete(busy_key)
        raise PdfBusy(retry_after=retry_after, in_progress=False)


def _finish_render(user_id: int) -> None:
    cache.delete(_rate_keys(user_id)[2])


def pdf_once(
    *,
    user,
    kind: str,
    template_name: str,
    context: dict,
    scope: int,
    stamp: tuple[str, ...] = ("generated_at",),
) -> bytes:
    """The PDF of ``template_name`` with ``context`` for ``user``, made at most once per
    (user, kind, data version).

    Why: WeasyPrint holds a web worker for seconds per PDF, so one person pressing *download*
    six times could stall every worker. A PDF whose data did not change since this person last
    had it made comes from the cache (it then still says when it was made); a new one counts
    against ``ICBT_PDF_RENDERS_PER_WINDOW`` per ``ICBT_PDF_WINDOW_SECONDS``, and a person has
    one made at a time. Over the limit: :class:`PdfBusy`.

    The cache holds the PDF encrypted with the clinic's data key (``scope``), bound to its cache
    key, for ``ICBT_PDF_CACHE_SECONDS``: a cache server (Redis) never holds readable health data.
    """
    version = data_version(template_name, context, stamp=stamp)
    key = f"icbt:pdf:file:{user.pk}:{kind}:{version}"
    token = cache.get(key)
    if token:
        try:
            return base64.b64decode(crypto.decrypt(token, associated_data=key))
        except Exception:  # noqa: BLE001 - a stale or unreadable entry is made again
            logger.warning("pdf: a cached PDF could not be read; making it again")
    _start_render(user.pk)
    try:
        content = html_to_pdf(render_to_string(template_name, context))
    finally:
        _finish_render(user.pk)
    sealed = crypto.encrypt(base64.b64encode(content).decode("ascii"), scope=scope, associated_data=key)
    cache.set(key, sealed, timeout=settings.ICBT_PDF_CACHE_SECONDS)
    return content


def pdf_busy_response(request, busy: PdfBusy):
    """429 in plain words: when to try again (also as ``Retry-After``)."""
    from django.shortcuts import render
    from django.utils import timezone

    at = timezone.localtime() + timedelta(seconds=busy.retry_after)
    response = render(
        request,
        "icbt/pdf_busy.html",
        {"in_progress": busy.in_progress, "retry_at": at, "minutes": max(1, -(-busy.retry_after // 60))},
        status=429,
    )
    response["Retry-After"] = str(busy.retry_after)
    return response


def pdf_download(
    request,
    *,
    kind: str,
    template_name: str,
    context: dict,
    scope: int,
    filename: str,
    stamp: tuple[str, ...] = ("generated_at",),
):
    """The PDF as a download made by :func:`pdf_once`, or the 429 page."""
    try:
        content = pdf_once(
            user=request.user,
            kind=kind,
            template_name=template_name,
            context=context,
            scope=scope,
            stamp=stamp,
        )
    except PdfBusy as busy:
        return pdf_busy_response(request, busy)
    return pdf_response(content, filename=filename)
