"""CSV exports that open cleanly in Excel and cannot carry a formula.

- UTF-8 with a byte order mark, so Excel reads accents in names of staff and programs;
- written with the ``csv`` module, every cell in double quotes: a comma or a semicolon inside a
  cell never starts a new cell, whichever separator the spreadsheet assumes (Dutch Excel splits
  on ``;``, not on ``,``);
- *formula injection*: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return is prefixed with a single quote, so a spreadsheet shows it as text instead of
  running it (OWASP "CSV injection"). The same holds after every separator or line break inside
  a cell (``,``, ``;``, ``|``, tab, CR, LF): a program that ignores the quotes and splits there
  still finds no formula. Numbers are written as numbers.
"""

import csv
import io
import re

from django.http import HttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A formula character at the start, or right after anything a spreadsheet may split a cell on.
_FORMULA_AFTER_SEPARATOR = re.compile(r"(?<![^,;|\t\r\n])(?=[=+\-@\t\r])")


def safe_cell(value) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return value
    return _FORMULA_AFTER_SEPARATOR.sub("'", str(value))


def csv_bytes(headers: list, rows: list[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow([safe_cell(h) for h in headers])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def csv_response(headers: list, rows: list[list], *, filename: str) -> HttpResponse:
    """``filename`` must be plain ASCII and name no patient."""
    response = HttpResponse(csv_bytes(headers, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
