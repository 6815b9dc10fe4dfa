"""Move the passages that name the question's day ahead: what happened on a day is told where that day is named."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from haystack import Document, component

from components.french_analysis import MONTHS, plain
from components.inline_async import runs_inline

# Each month by its folded name and its abbreviations (`sept.`, `oct`).
_ABBREVIATIONS = {"janv": 1, "fevr": 2, "fev": 2, "avr": 4, "juil": 7, "sept": 9, "oct": 10, "nov": 11, "dec": 12}
_MONTHS = {name: number for number, name in enumerate(MONTHS, start=1)} | _ABBREVIATIONS
_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
# `6 octobre`, `1er mars 2025`, `6 oct. 2025`; `06/10/2025`, `6.10.25`, `06/10`; `2025-10-06`. Read on folded text.
_WRITTEN = re.compile(rf"(?<![\d,.])(1er|[0-3]?\d)\s+({_MONTH_NAMES})\b\.?(?:\s+((?:19|20)\d\d)\b)?")
_NUMERIC = re.compile(r"(?<![\d,./-])([0-3]?\d)([/.])([01]?\d)(?:[/.]((?:19|20)?\d\d))?(?![\d,/-]|\.\d)")
_ISO = re.compile(r"(?<![\d-])((?:19|20)\d\d)-([01]\d)-([0-3]\d)(?![\d-])")

Day = tuple[int, int, int | None]  # day, month, year (None: not said)


def days_in(text: str, *, numeric_without_year: bool = True) -> set[Day]:
    """
    The days a text names, as (day, month, year or None): `6 octobre`, `1er mars 2025`, `06/10/2025`, `2025-10-06`.
    `numeric_without_year`: whether `14/10` alone counts (in a planning table, yes; in a question it may be a ratio).
    """
    folded = plain(text or "")
    days: set[Day] = set()
    for day, month, year in _WRITTEN.findall(folded):
        days.add((1 if day == "1er" else int(day), _MONTHS[month], int(year) if year else None))
    for day, separator, month, year in _NUMERIC.findall(folded):
        if year or (numeric_without_year and separator == "/"):  # `3.5` is a decimal
            full_year = (int(year) + 2000 if len(year) == 2 else int(year)) if year else None
            days.add((int(day), int(month), full_year))
    for year, month, day in _ISO.findall(folded):
        days.add((int(day), int(month), int(year)))
    return {(d, m, y) for d, m, y in days if 1 <= d <= 31 and 1 <= m <= 12}


def same_day(asked: Day, said: Day) -> bool:
    """The same day and month, and the same year when both say one (`le lundi 6 octobre` is 6 October 2025)."""
    return asked[:2] == said[:2] and (asked[2] is None or said[2] is None or asked[2] == said[2])


@component
@runs_inline
class DateFocus:
    """
    For a question naming a day (« Que s'est-il passé le 6 octobre 2025 sur le chantier ? »), moves up to `lead`
    passages that name that day, in any writing (`le lundi 6 octobre`, `06/10/2025`, `2025-10-06`), ahead of the
    others, in their order; the rest keep theirs.

    The passage telling the event does not share the question's other words (« que s'est-il passé », the site's name
    is in the title): ranked ninth of twenty, it was not among the five shown. Scores stay in descending order: the
    moved passages take the scores of the places they land on. A question naming no day, or a day no passage names,
    leaves the ranking unchanged.
    """

    def __init__(self, lead: int = 3, enabled: bool = True) -> None:
        """
        :param lead: How many passages naming the day may move ahead.
        :param enabled: False: the ranking is left unchanged.
        """
        if lead < 0:
            raise ValueError("lead must be >= 0")
        self.lead = lead
        self.enabled = enabled

    @component.output_types(documents=list[Document])
    def run(self, query: str, documents: list[Document]) -> dict[str, Any]:
        """
        :param query: The question.
        :param documents: The ranked passages, best first.
        :returns: `documents`, those naming the question's day first (up to `lead` of them).
        """
        asked = days_in(query, numeric_without_year=False) if self.enabled and self.lead else set()
        if not asked or not documents:
            return {"documents": list(documents)}
        naming = [
            d for d in documents if any(same_day(day, said) for said in days_in(d.content or "") for day in asked)
        ][: self.lead]
        if not naming:
            return {"documents": list(documents)}
        order = naming + [d for d in documents if not any(d is n for n in naming)]
        scores = [d.score for d in documents]
        return {"documents": [replace(d, score=s) for d, s in zip(order, scores, strict=True)]}
