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


def unsupported_figures(text: str, passages: list[str], question: str = "") -> list[str]:
    """
    The figures of `text` that appear in none of `passages` (nor in the question, which the user wrote).

    Single digits are left out: `1` or `2` stand for words as often as for facts (« 1 place PMR », « lot 2 ») and
    match nearly every passage anyway.
    """
    known = figures_in(question)
    for passage in passages:
        known |= figures_in(passage)
    found = figures_in(text)
    return sorted(f for f in found if f not in known and not (len(f) == 1 and f.isdigit()))
