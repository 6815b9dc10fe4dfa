"""For a question asking for a figure, move the chunks that carry a relevant figure ahead."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from haystack import Document, component

from components.french_analysis import MONTHS, FrenchAnalyzer, plain
from components.inline_async import runs_inline

FIGURE_CLASS = "question_chiffree"

_NUMBER = re.compile(r"\d+(?:[  .,/-]?\d+)*")
# What kind of figure the question asks for, and what such a figure looks like in a passage (both folded).
FIGURE_KINDS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "date": (
        re.compile(r"\b(?:annee|quand|date|siecle|epoque|depuis quand|de quand|an)\b"),
        re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})\b|\b(?:" + "|".join(MONTHS) + r")\b|\b[0-9]{1,2}e siecle\b"),
    ),
    "amount": (
        re.compile(r"\b(?:montant|prix|cout|budget|somme|chiffre d'affaires|tarif|salaire|euros?|€)"),
        re.compile(r"\d\s*(?:€|eur\b|euros?\b|k€|m€|millions?|milliards?|ht\b|ttc\b)"),
    ),
    "percentage": (
        re.compile(r"\b(?:pourcentage|taux|part|proportion)\b|%"),
        re.compile(r"\d\s*(?:%|pour ?cent)"),
    ),
}


def asked_kinds(question: str) -> set[str]:
    """The kinds of figure a question asks for (`date`, `amount`, `percentage`): « quelle part » asks a percentage."""
    folded = plain(question)
    return {kind for kind, (asks, _) in FIGURE_KINDS.items() if asks.search(folded)}


def figure_kinds(text: str) -> set[str]:
    """The kinds of figure a text holds: `31 %` a percentage, `631 592,50 € HT` an amount, `mai 1998` a date."""
    folded = plain(text)
    return {kind for kind, (_, looks_like) in FIGURE_KINDS.items() if looks_like.search(folded)}


@component
@runs_inline
class NumericChunkPrioritizer:
    """
    For `question_chiffree` questions, moves the chunks that carry a figure relevant to the question ahead.

    Within the first `window` documents, a chunk carries a relevant figure when a number stands within
    `context_words` tokens of one of the question's content terms, or when it holds the kind of figure asked for
    (a year for "en quelle année", an amount for "quel montant", a percentage). Up to `lead` such chunks go first,
    in their order; the `keep_best` best other chunks follow them, so the best non-numeric passages are never
    pushed out of the first `lead + keep_best`; the rest keep their order. Scores stay in descending order: the
    moved documents take the scores of the positions they land on. Other question classes pass through.
    """

    def __init__(
        self,
        window: int = 10,
        lead: int = 3,
        keep_best: int = 2,
        context_words: int = 8,
        enabled: bool = True,
    ) -> None:
        """
        :param window: How many of the first documents are considered.
        :param lead: How many relevant-figure chunks may move ahead.
        :param keep_best: How many of the best other chunks follow them, ahead of the rest.
        :param context_words: How close (in tokens) a question term must be to a number.
        :param enabled: When `False`, documents pass through unchanged.
        """
        if window < 1 or lead < 0 or keep_best < 0 or context_words < 1:
            raise ValueError("window and context_words must be >= 1, lead and keep_best >= 0")
        self.window = window
        self.lead = lead
        self.keep_best = keep_best
        self.context_words = context_words
        self.enabled = enabled
        self._analyzer = FrenchAnalyzer()

    def carries_relevant_figure(self, query: str, terms: set[str], text: str) -> bool:
        """Whether `text` holds a number close to a question term, or the kind of figure `query` asks for."""
        folded = plain(text)
        if not _NUMBER.search(folded):
            return False
        if asked_kinds(query) & figure_kinds(text):
            return True
        words = self._analyzer.words(text)
        numbers = [i for i, w in enumerate(words) if w[0].isdigit()]
        near = self.context_words
        return any(w in terms for i in numbers for w in words[max(0, i - near) : i + near + 1] if not w[0].isdigit())

    @component.output_types(documents=list[Document])
    def run(self, query: str, documents: list[Document], query_class: str = "autre") -> dict[str, Any]:
        """
        :param query: The question.
        :param documents: Ranked documents, best first.
        :param query_class: The question's class (`QueryClassifier`); only `question_chiffree` reorders.
        :returns: `documents`, reordered for figure questions, unchanged otherwise.
        """
        if not self.enabled or query_class != FIGURE_CLASS or not documents:
            return {"documents": list(documents)}
        terms = {t for t in self._analyzer.words(query) if not t[0].isdigit()}
        head, tail = documents[: self.window], documents[self.window :]
        figures = [d for d in head if self.carries_relevant_figure(query, terms, d.content or "")]
        others = [d for d in head if not any(d is f for f in figures)]
        moved = figures[: self.lead]
        order = moved + others[: self.keep_best]
        order += [d for d in head if not any(d is o for o in order)]
        scores = [d.score for d in head]
        reordered = [replace(doc, score=score) for doc, score in zip(order, scores, strict=True)]
        return {"documents": reordered + list(tail)}
