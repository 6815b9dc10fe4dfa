"""An answer's figures must come from a document that names what the question names.

A small model reads a figure of the asked kind wherever it finds one. Asked « Depuis quand le SIEAL est-il client
de ROV ? », it answered « Depuis 2009 » from the fiche of another client; asked for the amount of the RD 27 works
announced for 2026 (a programme the documents mention, with no amount), it gave the amount of another affair's
contract. The passages did hold the question's names (the refusal check before the LLM let it through), only not in
the document the figure came from.

So, when the question names something rare (`AnswerabilityChecker`'s `names`: codes, years, rare capitalised words
and acronyms), a statement whose figures the passages hold is *grounded* when at least one passage holding one of
them belongs to a document that names every name (in its title, metadata or passages shown). An ungrounded first
statement makes the answer the refusal sentence; a later one is left out. Statements are then shown once complete
and checked, so only when some passage comes from a document that does not name the question's names: with code
focus (`CodeFocus`), a question naming an affair usually sees that affair's documents alone and streams word by
word. Measured on one run of the answer
benchmark (bench/answers.py, samples, spf-qr, piaf, conversations): it turns 2 of the 3 invented answers to
unanswerable sample questions into refusals and no answered question of any suite into one.
"""

from __future__ import annotations

from haystack import Document

from components.builders.figures import figures_in, stated_figures
from components.document_meta import document_key, document_texts, passage_texts
from components.french_analysis import FrenchAnalyzer

_analyzer = FrenchAnalyzer()


class NameGrounding:
    """Tells whether a statement's figures come from a document naming the question's names."""

    def __init__(self, names: list[str] | None, documents: list[Document], question: str | None = None) -> None:
        """
        :param names: The question's names, analysed (`AnswerabilityChecker`'s `names`); none: every statement is
            grounded.
        :param documents: The passages given to the model, in order.
        :param question: The question: its own figures (« en 2026 ») are not the answer's.
        """
        self._question = question or ""
        self._passages: list[tuple[set[str], bool]] = []  # each passage's figures, and whether its document names all
        if names:
            naming = {key: set(names) <= set(_analyzer.tokens(text)) for key, text in document_texts(documents).items()}
            self._passages = [
                (figures_in(text), naming[document_key(d)])
                for d, text in zip(documents, passage_texts(documents), strict=True)
            ]

    @property
    def active(self) -> bool:
        """
        Whether statements need checking: the question names something and some passage comes from a document
        that does not name it (otherwise every figure the passages hold is grounded, and the answer streams word by
        word).
        """
        return any(not naming for _, naming in self._passages)

    def grounded(self, statement: str) -> bool:
        """
        False when the statement states figures (not the question's, not single digits) that some passage holds,
        and every passage holding one comes from a document that does not name every name of the question.
        """
        if not self.active:
            return True
        figures = stated_figures(statement, self._question)
        holders = [naming for passage_figures, naming in self._passages if figures & passage_figures]
        return not holders or any(holders)
