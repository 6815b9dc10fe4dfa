"""Flag the chunks that carry figures: numbers with units, amounts, percentages, dates."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from haystack import Document, component

_NUMBER = r"\d+(?:[ \u00a0\u202f.]\d{3})*(?:[.,]\d+)?"
_UNITS = (
    r"%|‰|€|k€|M€|euros?|EUR|HT|TTC|mm|cm|dm|km|m²|m2|m³|m3|ml|m|t|kg|g|l|L|h|min|s|jours?|semaines?|mois|ans?|"
    r"MPa|kPa|bars?|kN|N|°C|°|kW|kWh|W|V|A|t/m³|t/m3|kg/m³|kg/m3"
)
_MONTHS = r"janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|décembre|decembre"
FIGURE_PATTERN = re.compile(
    rf"(?:{_NUMBER}\s?(?:{_UNITS})(?![\w]))"  # 94,2 % · 1 245 800 € · 6,5 cm · 20 jours
    rf"|(?:[€$]\s?{_NUMBER})"  # € 1 200
    r"|(?:\b\d+,\d+\b)"  # 6,5 (a decimal, e.g. in a table whose header gives the unit)
    r"|(?:\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b)"  # 08/10/2025
    r"|(?:\b\d{4}-\d{2}-\d{2}\b)"  # 2025-10-08
    rf"|(?:\b\d{{1,2}}(?:er)?\s+(?:{_MONTHS})\s+\d{{4}}\b)",  # 3 mars 2025
    re.IGNORECASE,
)


def has_figures(text: str) -> bool:
    """Whether a text holds a number with a unit, an amount, a percentage or a date."""
    return FIGURE_PATTERN.search(text or "") is not None


@component
class FigureDetector:
    """
    Sets `has_figures` on each document: true when its text holds a number with a unit (cm, t, MPa, jours…),
    an amount (€, HT, TTC), a percentage, a decimal number or a date. The numeric prioritiser favours these chunks
    for questions that ask for a figure.
    """

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """
        :param documents: Chunks.
        :returns: `documents`, new documents with `has_figures` in their metadata.
        """
        return {
            "documents": [
                replace(doc, meta={**doc.meta, "has_figures": has_figures(doc.content or "")}) for doc in documents
            ]
        }
