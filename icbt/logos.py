"""A clinic's logo, made safe to show in pages, PDFs and e-mails.

A PNG is decoded and encoded again (nothing but the pixels survives: no metadata, no trailing
data). An SVG is parsed and rebuilt from an allow-list of drawing elements and attributes:
scripts, event handlers, foreignObject, styles, and every reference that leaves the file (href,
url(...) to anything but a fragment in the same file) are dropped. A file with a DOCTYPE or
entities is refused outright, so no entity expansion can happen. Both are size-capped.
"""

import base64
import io
import re
import xml.etree.ElementTree as ET

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MAX_BYTES = 48 * 1024
MAX_PIXELS = 1024
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
SVG_TYPE = "image/svg+xml"
PNG_TYPE = "image/png"

ELEMENTS = {
    "svg", "g", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "text", "tspan",
    "title", "desc", "defs", "linearGradient", "radialGradient", "stop", "clipPath", "mask", "use",
}  # fmt: skip
ATTRIBUTES = {
    "viewBox", "width", "height", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "d",
    "points", "transform", "fill", "fill-opacity", "fill-rule", "clip-rule", "stroke", "stroke-width",
    "stroke-opacity", "stroke-linecap", "stroke-linejoin", "stroke-miterlimit", "stroke-dasharray",
    "opacity", "id", "offset", "stop-color", "stop-opacity", "gradientUnits", "gradientTransform",
    "clip-path", "mask", "font-family", "font-size", "font-weight", "text-anchor", "dx", "dy",
    "preserveAspectRatio", "fx", "fy", "spreadMethod", "maskUnits", "clipPathUnits", "href",
}  # fmt: skip
_OUTSIDE_URL = re.compile(r"url\(\s*['\"]?\s*(?!#)", re.IGNORECASE)


def logo_clean(data: bytes) -> tuple[bytes, str]:
    """The logo made safe, and its content type. Raises ValidationError for anything else."""
    if len(data) > MAX_BYTES:
        raise ValidationError(_("The logo is too large: at most %(size)s KB.") % {"size": MAX_BYTES // 1024})
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png_clean(data), PNG_TYPE
    return _svg_clean(data), SVG_TYPE


def logo_data_uri(data: bytes, content_type: str) -> str:
    """The logo inline, for pages (the CSP allows data: images), PDFs and e-mails."""
    return f"data:{content_type};base64,{base64.b64encode(bytes(data)).decode('ascii')}"


def _png_clean(data: bytes) -> bytes:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            if max(image.size) > MAX_PIXELS:
                raise ValidationError(
                    _("The logo is too large: at most %(px)s pixels wide and high.") % {"px": MAX_PIXELS}
                )
            image.load()
            out = io.BytesIO()
            image.convert("RGBA").save(out, format="PNG", optimize=True)
    except (OSError, Image.DecompressionBombError) as error:
        raise ValidationError(_("This file is not a PNG or SVG image we can read.")) from error
    if out.tell() > MAX_BYTES:
        raise ValidationError(_("The logo is too large: at most %(size)s KB.") % {"size": MAX_BYTES // 1024})
    return out.getvalue()


def _svg_clean(data: bytes) -> bytes:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValidationError(_("This file is not a PNG or SVG image we can read.")) from error
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise ValidationError(_("This SVG file has parts we do not accept. Save it again as plain SVG."))
    try:
        # Safe without defusedxml: with no DOCTYPE there are no entities to expand or fetch.
        root = ET.fromstring(text)  # noqa: S314
    except ET.ParseError as error:
        raise ValidationError(_("This file is not a PNG or SVG image we can read.")) from error
    if root.tag != f"{{{SVG_NS}}}svg":
        raise ValidationError(_("This file is not a PNG or SVG image we can read."))
    clean = _svg_copy(root)
    ET.register_namespace("", SVG_NS)
    return ET.tostring(clean, encoding="utf-8")


def _svg_copy(element):
    """A copy with only allowed elements and attributes; text kept, everything else dropped."""
    copy = ET.Element(element.tag, _svg_attributes(element))
    copy.text = element.text
    for child in element:
        name = _local(child.tag, SVG_NS)
        if name in ELEMENTS:
            kept = _svg_copy(child)
            kept.tail = child.tail
            copy.append(kept)
    return copy


def _svg_attributes(element) -> dict:
    kept = {}
    for key, value in element.attrib.items():
        name = _local(key, None) or _local(key, XLINK_NS)
        if name not in ATTRIBUTES or _OUTSIDE_URL.search(value):
            continue
        if name == "href":
            if not value.strip().startswith("#"):
                continue
            key = "href"
        kept[key] = value
    return kept


def _local(tag: str, namespace: str | None) -> str | None:
    """The element or attribute name without its namespace, if it is in the given one."""
    if namespace is None:
        return tag if not tag.startswith("{") else None
    prefix = f"{{{namespace}}}"
    return tag[len(prefix) :] if tag.startswith(prefix) else None
