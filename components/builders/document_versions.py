"""
Versions of one document among the passages: the latest first, the older ones named as such.

A company keeps the versions of a document side by side (`devis_D25-031_indice_A.pdf`, `…_indice_B.pdf`; the
minutes of meeting n° 7, then n° 9; `planning_v2.xlsx`). Retrieval finds them all, and a small model takes the first
figure it reads. Documents whose names differ only by a version marker (indice, révision, version, a number, a date)
are one *series*: the latest of a series is read first, and each older one is labelled with the newer one's name.
A question that names a version (« l'indice A du devis ») reads that version as the current one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

from haystack import Document

from components.document_meta import SOURCE_KEYS, TITLE_KEYS, document_key, first_value

_EDGE = r"(?:^|(?<=[_\s.\-]))"
_END = r"(?=$|[_\s.\-])"
# The markers a version is written with in a file name, by kind, each capturing its value (a letter or a number).
DEFAULT_VERSION_MARKERS: dict[str, str] = {
    "indice": _EDGE + r"(?:indice|ind)[_\s.\-]?([a-z]|\d{1,2})" + _END,
    "revision": _EDGE + r"(?:r[ée]v(?:ision)?)[_\s.\-]?([a-z]|\d{1,2})" + _END,
    "version": _EDGE + r"(?:version|v)[_\s.\-]?(\d{1,2})" + _END,
    "numero": _EDGE + r"(?:n|no|n°|num)[_\s.\-]?(\d{1,3})" + _END,
}
_DATE = re.compile(_EDGE + r"((?:19|20)\d{2})[-_.]?(0[1-9]|1[0-2])[-_.]?([0-2]\d|3[01])" + _END)
_SEPARATORS = re.compile(r"[_\s.\-]+")


@dataclass(frozen=True)
class Version:
    series: str  # the name without its version markers and dates
    markers: dict[str, str]  # kind -> value, as written (lower case)
    date: str  # yyyymmdd, or ""

    @property
    def rank(self) -> tuple[tuple[int, int | str], ...]:
        """Later versions rank higher: markers by kind (numbers as numbers, letters as letters), then the date."""
        ranked: list[tuple[int, int | str]] = []
        for kind in sorted(self.markers):
            value = self.markers[kind]
            ranked.append((1, int(value)) if value.isdigit() else (0, value))
        return (*ranked, (0, self.date))


class DocumentVersions:
    """Finds the series among the passages' documents and puts the latest version of each first."""

    def __init__(self, markers: dict[str, str] | None = None) -> None:
        """
        :param markers: Regular expressions by kind, each with one group capturing the version's value, matched
            case-insensitively in file names (separators `_`, `-`, `.` and spaces); default `DEFAULT_VERSION_MARKERS`.
        """
        self.markers = {kind: re.compile(p, re.IGNORECASE) for kind, p in (markers or DEFAULT_VERSION_MARKERS).items()}

    def version_of(self, name: str) -> Version:
        """The series and version a file name says (`DV_25-0312_indice_B.md` -> series `dv 25 0312`, indice `b`)."""
        stem = PurePosixPath(name.replace("\\", "/")).name.rsplit(".", 1)[0].lower()
        markers: dict[str, str] = {}
        for kind, pattern in self.markers.items():
            match = pattern.search(stem)
            if match:
                markers[kind] = _value(match.group(1))
                stem = stem[: match.start()] + " " + stem[match.end() :]
        dates = list(_DATE.finditer(stem))
        date = "".join(dates[-1].groups()) if dates else ""
        for match in reversed(dates):
            stem = stem[: match.start()] + " " + stem[match.end() :]
        return Version(_SEPARATORS.sub(" ", stem).strip(), markers, date)

    def asked(self, question: str) -> dict[str, str]:
        """The versions a question names (« l'indice A », « la révision 2 »), by kind."""
        words = f" {question.lower()} ".replace("'", " ").replace("’", " ")
        found = {}
        for kind, pattern in self.markers.items():
            match = pattern.search(words)
            if match:
                found[kind] = _value(match.group(1))
        return found

    def order(self, documents: list[Document], question: str | None = None) -> list[Document]:
        """
        `documents` (ranked passages) with each series' latest version moved to where the series first ranked, the
        older ones after it, marked `superseded_by` (the latest's name) in their metadata; the rest in their order.
        A version the question names counts as the latest of its series.
        """
        names = {document_key(d): _name(d) for d in documents}
        versions = {key: self.version_of(name) for key, name in names.items()}
        members: dict[str, list[str]] = {}
        for key, version in versions.items():
            if version.markers or version.date:
                members.setdefault(version.series, []).append(key)
        series = {s: keys for s, keys in members.items() if s and len(keys) > 1}
        if not series:
            return documents
        asked = self.asked(question or "")

        def current_first(key: str) -> tuple[int, tuple[tuple[int, int | str], ...]]:
            version = versions[key]
            named = bool(asked) and all(version.markers.get(k) == v for k, v in asked.items() if k in version.markers)
            named = named and any(k in version.markers for k in asked)
            return (1 if named else 0, version.rank)

        latest = {s: max(keys, key=current_first) for s, keys in series.items()}
        first_at: dict[str, int] = {}
        for position, document in enumerate(documents):
            s = versions[document_key(document)].series
            first_at.setdefault(s if s in series else f"\0{position}", position)

        def place(item: tuple[int, Document]) -> tuple[int, int, int]:
            position, document = item
            key = document_key(document)
            s = versions[key].series
            if s not in series:
                return (first_at[f"\0{position}"], 0, position)
            return (first_at[s], 0 if key == latest[s] else 1, position)

        by_key = {document_key(d): d for d in documents}
        ordered = []
        for _, document in sorted(enumerate(documents), key=place):
            s = versions[document_key(document)].series
            if s in series and document_key(document) != latest[s]:
                superseded = {**document.meta, "superseded_by": _label(by_key[latest[s]])}
                ordered.append(replace(document, meta=superseded))
            else:
                ordered.append(document)
        return ordered


def _value(written: str) -> str:
    """A version's value as compared: lower case, numbers without leading zeros (`n07` is n° 7)."""
    return str(int(written)) if written.isdigit() else written.lower()


def _name(document: Document) -> str:
    """The file name a passage's document goes by (a mail's attachment: its own name)."""
    return str(first_value(document.meta, SOURCE_KEYS) or first_value(document.meta, TITLE_KEYS) or document.id)


def _label(document: Document) -> str:
    return str(first_value(document.meta, TITLE_KEYS) or PurePosixPath(_name(document)).name)
