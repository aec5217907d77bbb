"""gunicorn's access log without secrets.

Invitation links, password-reset links and e-mail confirmations carry their token in the path
(and some clients repeat it in a query string or a Referer header). Whoever reads the access log
must not be able to use them, so every request line, path, query and referrer is written with
its tokens replaced by ``[redacted]``.
"""

import re

from gunicorn.glogging import Logger

REDACTED = "[redacted]"
# A path segment that looks like a token: 20 characters or more of the alphabets of random and
# signed tokens, whatever the mix (a random token may by chance have no digit). Numbers, case
# references and short slugs such as "ex-think-feel-do" stay readable, and so do lowercase words
# joined by hyphens of any length.
_TOKEN = re.compile(r"[A-Za-z0-9_\-:.~=%]{20,}")
_SLUG = re.compile(r"[a-z]+(?:-[a-z]+)+")


def _redact_token(match: re.Match) -> str:
    return match.group() if _SLUG.fullmatch(match.group()) else REDACTED


def redact(text: str | None) -> str:
    """``text`` with every token-like path segment replaced and any query string dropped."""
    if not text:
        return text or ""
    head, _, query = text.partition("?")
    head = _TOKEN.sub(_redact_token, head)
    return f"{head}?{REDACTED}" if query else head


def redact_request_line(line: str) -> str:
    method, _, rest = line.partition(" ")
    target, _, protocol = rest.rpartition(" ")
    if not target:  # no protocol part
        target, protocol = rest, ""
    return " ".join(part for part in (method, redact(target), protocol) if part)


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["r"] = redact_request_line(atoms["r"])
        atoms["U"] = redact(atoms["U"])
        atoms["q"] = REDACTED if atoms.get("q") else ""
        atoms["f"] = redact(atoms["f"]) if atoms.get("f") not in (None, "-") else atoms.get("f", "-")
        for key in [k for k in atoms if k in ("{referer}i", "{cookie}i", "{authorization}i")]:
            atoms[key] = REDACTED
        return atoms
