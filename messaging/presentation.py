"""Turning a patient's stored work into short, readable lines for the therapist's composer.

Pure functions over loaded objects: no queries, no writes. Answers and diary texts are
encrypted JSON; a value that does not parse is shown as it is rather than hidden, so a
therapist never misses what a patient wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from icbt.fields import decode_json_text
from programs.field_types import display, field_type, moment_label, think_feel_do_moments


@dataclass
class Line:
    label: str
    value: str


@dataclass
class DiaryTable:
    """The entries of one diary: one row per entry (oldest first), with each short field as a
    labelled line and the free text apart."""

    diary_type: object
    columns: list[str]
    rows: list[tuple[object, list[Line], list[Line]]] = field(default_factory=list)  # (entry, cells, texts)

    @property
    def summary(self) -> str:
        return diary_summary(entry for entry, _cells, _texts in self.rows)


def answer_lines(answer) -> list[Line]:
    """The fields of a submitted assignment answer, in the order the assignment asks them."""
    content = decode_json_text(answer.submitted_content or answer.content, empty={})
    if not isinstance(content, dict):
        return [Line("", display(content))]
    lines = []
    seen = set()
    for definition in answer.step.fields:
        name = definition.get("name")
        if name in content:
            lines += _answer_field_lines(definition, content[name])
            seen.add(name)
    for name, value in content.items():
        if name not in seen:
            lines.append(Line(name, display(value)))
    return lines


def _answer_field_lines(definition: dict, value) -> list[Line]:
    label = definition.get("label", definition.get("name"))
    if definition.get("type") != "think_feel_do":
        return [Line(label, display(value, definition))]
    return [
        Line(f"{label} · {moment_label(number)}", "\n".join(f"{part} {text}" for part, text in moment))
        for number, moment in enumerate(think_feel_do_moments(value), start=1)
    ] or [Line(label, display(value, definition))]


def diary_tables(entries) -> list[DiaryTable]:
    """Entries grouped per diary, oldest first, with the diary's short fields as columns and its
    free text listed under the row."""
    tables: dict[int, DiaryTable] = {}
    for entry in sorted(entries, key=lambda e: (e.diary_type_id, e.entry_date)):
        diary_type = entry.diary_type
        definitions = [d for d in diary_type.fields if isinstance(d, dict)]
        short = [d for d in definitions if not field_type(d).is_text]
        table = tables.get(diary_type.pk)
        if table is None:
            columns = [d.get("label", d.get("name")) for d in short]
            table = tables[diary_type.pk] = DiaryTable(diary_type, columns)
        values = entry.values if isinstance(entry.values, dict) else {}
        cells = [display(values.get(d.get("name")), d) for d in short]
        texts = []
        text = decode_json_text(entry.text, empty={})
        labels = {d.get("name"): d.get("label", d.get("name")) for d in definitions}
        if isinstance(text, dict):
            texts = [Line(labels.get(k, k), display(v)) for k, v in text.items() if v not in (None, "")]
        elif text:
            texts = [Line("", display(text))]
        table.rows.append((entry, [Line(c, v) for c, v in zip(table.columns, cells, strict=True)], texts))
    return list(tables.values())


def diary_summary(entries) -> str:
    """One sentence about a set of entries: how many, over which days."""
    entries = list(entries)
    if not entries:
        return ""
    dates = sorted(e.entry_date for e in entries)
    if len(dates) == 1:
        return _("1 entry, %(date)s") % {"date": date_format(dates[0])}
    return _("%(count)s entries from %(first)s to %(last)s") % {
        "count": len(entries),
        "first": date_format(dates[0]),
        "last": date_format(dates[-1]),
    }
