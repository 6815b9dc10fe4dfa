"""The figures of a text (amounts, quantities, percentages, dates, codes), compared as numbers.

`631 592,50`, `631592,50` and `631 592.50` are one figure; `A2458` holds the figure `2458`. Used to tell whether a
figure in an answer appears in a passage given to the model (the citation step and the answer benchmark), so an
invented figure is never shown as a cited fact.
"""

from __future__ import annotations

import re

from components.builders.citations import CITATION_GROUP

# Digit groups of three separated by a space (normal, no-break or narrow) or a dot, then decimals.
_NUMBER = re.compile(r"(?<![\d,.])\d{1,3}(?:[ \u00a0\u202f.]\d{3})+(?:,\d+)?(?![\d])|\d+(?:[.,]\d+)?")
_GROUP_SEPARATORS = re.compile(r"[ \u00a0\u202f.](?=\d{3}(?:\D|$))")


def normalize_figure(text: str) -> str:
    """`631 592,50` -> `631592.5`; `3 230` -> `3230`; `05` -> `5` (leading and trailing zeros do not count)."""
    value = _GROUP_SEPARATORS.sub("", text) if re.search(r"\d[ \u00a0\u202f.]\d{3}", text) else text
    value = value.replace(",", ".")
    if "." in value:
        whole, _, decimals = value.partition(".")
        decimals = decimals.rstrip("0")
        whole = whole.lstrip("0") or "0"
        return f"{whole}.{decimals}" if decimals else whole
    return value.lstrip("0") or "0"


def figures_in(text: str) -> set[str]:
    """The figures of a text, normalised; citation marks `[n]` are not figures."""
    text = CITATION_GROUP.sub(" ", text or "")
    return {normalize_figure(m.group(0)) for m in _NUMBER.finditer(text)}


def stated_figures(text: str, question: str = "") -> set[str]:
    """
    The figures `text` states: those of the question (which the user wrote) and single digits left out (`1` or `2`
    stand for words as often as for facts, « 1 place PMR », « lot 2 », and match nearly every passage anyway).
    """
    return {f for f in figures_in(text) - figures_in(question) if len(f) > 1}


def unsupported_figures(text: str, passages: list[str], question: str = "") -> list[str]:
    """The figures `text` states (`stated_figures`) that appear in none of `passages`."""
    known: set[str] = set()
    for passage in passages:
        known |= figures_in(passage)
    return sorted(stated_figures(text, question) - known)
