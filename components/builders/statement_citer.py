"""Citations checked and attributed statement by statement, whatever the model wrote.

An answer is split into statements (French sentences; list items and table rows each count as one). For each
statement, the passages given to the model that *support* it are measured: every figure of the statement (amounts,
quantities, dates, codes, compared as numbers) is in the passage, every code too, and the passage holds at least
`min_overlap` of the statement's content words (French stems; `min_overlap_with_figures` when the figures already
match). Of the passages that support a statement, only those within `min_relative_support` of the best one count:
two passages that both hold the figure are cited together only when they say it about as well. Then:
- a `[n]` of the model is kept when passage `n` supports its statement, and replaced by the best supporting passage
  when `n` does not; a statement no passage supports keeps no citation and is reported as `unsupported`;
- a statement the model left uncited gets the passages that support it (at most `max_citations`);
- the refusal sentence, questions and statements with too few content words (connectives, « Voici les éléments : »)
  get none.

`StatementCiter` is the rule; `StreamingStatementCiter` applies it to the answer stream and `CitedAnswerBuilder`
feeds the whole answer through the same, so a streamed answer and a whole one carry the same text and citations. The
stream shows a statement's words as they come and holds back only its end (trailing punctuation, spaces and any
`[n]` the model writes): when the statement is complete it is checked, and its checked citations are shown before
its final punctuation. An unchecked `[n]` is never shown, and the time to the first token is the model's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from components.builders.citations import CITATION_GROUP, numbers_in
from components.builders.figures import figures_in
from components.french_analysis import FrenchAnalyzer, codes_in, fold

# The sentence every RAG prompt asks for when the passages do not hold the answer (prompts/rag_*.jinja2).
NOT_IN_DOCUMENTS = "Les documents fournis ne contiennent pas cette information."

# A sentence ends at . ! ? … followed by a space and what starts a sentence; not after an abbreviation or a number
# (`n° 2.`, `M. Lebrun`, `art. 3`, `PR 16+300`), and never inside a number (`631 592,50`).
_ABBREVIATIONS = "".join(
    rf"(?<!\b{a}\.)" for a in ("M", "MM", "Mme", "Mlle", "Dr", "St", "art", "p", "cf", "réf", "env")
)
_SENTENCE_END = re.compile(_ABBREVIATIONS + r"(?<=[.!?…])(\s*(?:\[[\d\s,;-]+\])*)\s+(?=[«\"(\[]?[A-ZÀ-Ý0-9*])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_TABLE_ROW = re.compile(r"^\s*\|")
# What the stream holds back at the end of the current statement: where its checked citations will go (before the
# final punctuation, or before a table row's closing `|`) and the start of a citation group the model is writing.
_HELD_TAIL = re.compile(r"[\s.!?…:;,|]*(?:\[[\d\s,;-]*)?$")
_MIN_WORDS = 2  # content words a statement needs to be cited at all
_SINGLE_DIGIT = re.compile(r"^\d$")


@dataclass
class Statement:
    """One statement of an answer and what supports it."""

    text: str  # as shown, with its checked citations
    cited: list[int] = field(default_factory=list)  # passage numbers, 1-based
    by_model: list[int] = field(default_factory=list)  # of those, the ones the model wrote itself
    supported: bool = True  # False: a factual statement that no passage supports
    checkable: bool = True  # False: the refusal sentence, connectives: no citation asked
    grounded: bool = True  # False: its figures come from documents about something else (left out of the answer)


def split_statements(text: str) -> list[str]:
    """
    The statements of an answer, in order, each with the whitespace that follows it, so that `"".join` gives
    the text back. A line break ends a statement (list items, table rows); so does the end of a sentence.
    """
    pieces: list[str] = []
    for line in re.split(r"(?<=\n)", text):
        if _TABLE_ROW.match(line):  # a table row is one statement, whatever its cells hold (« ép. 4 cm »)
            pieces.append(line)
            continue
        start = 0
        for match in _SENTENCE_END.finditer(line):
            end = match.end(1)
            pieces.append(line[start:end] + line[end : match.end()])
            start = match.end()
        if start < len(line):
            pieces.append(line[start:])
    return [p for p in pieces if p]


class StatementCiter:
    """Checks and attributes the citations of an answer's statements against the passages given to the model."""

    def __init__(
        self,
        min_overlap: float = 0.5,
        min_overlap_with_figures: float = 0.25,
        max_citations: int = 3,
        min_relative_support: float = 0.0,
    ) -> None:
        """
        :param min_overlap: Share of a statement's content words a passage must hold to support it.
        :param min_overlap_with_figures: The same, for a statement whose figures (at least one) the passage holds.
        :param max_citations: Citations added to one statement at most.
        :param min_relative_support: Share of the best passage's support another passage needs to be cited too
            (0: every supporting passage, up to `max_citations`).
        """
        self.min_overlap = min_overlap
        self.min_overlap_with_figures = min_overlap_with_figures
        self.max_citations = max_citations
        self.min_relative_support = min_relative_support
        self._analyzer = FrenchAnalyzer()
        self._passage = lru_cache(maxsize=4096)(self._passage_facts)

    def _passage_facts(self, text: str) -> tuple[frozenset[str], frozenset[str], str]:
        return frozenset(self._analyzer.words(text)), frozenset(figures_in(text)), fold(text.lower())

    def support(self, statement: str, passage: str) -> float:
        """How well a passage supports a statement: 0 (not at all) to 1 (every content word); figures must match."""
        bare = CITATION_GROUP.sub(" ", statement)
        words = set(self._analyzer.words(bare))
        figures = {f for f in figures_in(bare) if not _SINGLE_DIGIT.match(f)}
        passage_words, passage_figures, folded = self._passage(passage)
        if not figures <= passage_figures:
            return 0.0
        if any(fold(code.lower()) not in folded for code in codes_in(bare)):
            return 0.0
        overlap = len(words & passage_words) / len(words) if words else 0.0
        needed = self.min_overlap_with_figures if figures else self.min_overlap
        return overlap if overlap >= needed else 0.0

    def checkable(self, statement: str) -> bool:
        """Whether a statement states something to cite (not the refusal, not a connective, not a question)."""
        bare = CITATION_GROUP.sub(" ", statement).strip()
        if bare.endswith("?"):  # a question states nothing (a small model's answer that restates the question)
            return False
        if fold(NOT_IN_DOCUMENTS.lower()).rstrip(".") in fold(bare.lower()):
            return False
        words = self._analyzer.words(bare)
        return len(words) >= _MIN_WORDS or bool(figures_in(bare) - {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"})

    def cite(self, statement: str, passages: list[str]) -> Statement:
        """One statement with its citations checked and attributed."""
        written = [n for g in CITATION_GROUP.finditer(statement) for n in numbers_in(g.group(1))]
        body = without_citations(statement)
        if not self.checkable(body):
            return Statement(_with_citations(body, []), checkable=False)
        scores = {n: self.support(body, p) for n, p in enumerate(passages, start=1)}
        best = max(scores.values(), default=0.0)
        supporting = sorted(
            (n for n, s in scores.items() if s > 0 and s >= best * self.min_relative_support),
            key=lambda n: (-scores[n], n),
        )
        if not supporting:
            return Statement(_with_citations(body, []), supported=False)
        by_model = [n for n in dict.fromkeys(written) if n in supporting]
        cited = by_model or supporting[: self.max_citations]
        return Statement(_with_citations(body, cited), cited, by_model)


def _has_words(text: str) -> bool:
    return any(c.isalnum() for c in text)


def without_citations(statement: str) -> str:
    """A statement without its citation groups and the spaces they leave (« 592,50 € [1]. » -> « 592,50 €. »)."""
    body = CITATION_GROUP.sub("", statement)
    body = re.sub(r"[ \t]+([.,…])", r"\1", body)
    return re.sub(r"[ \t]{2,}", " ", body)


def _with_citations(body: str, cited: list[int]) -> str:
    """
    The statement with `[n]` before its final punctuation (« … 631 592,50 € HT [1]. »), or in the last cell of a
    table row (« | Total HT | 631 592,50 [1] | »: text after the last `|` would break the table), whitespace kept.
    """
    stripped = body.rstrip()
    after = body[len(stripped) :]
    trailing = "\n" * after.count("\n") or (" " if after else "")  # the space a removed `[n]` left goes
    if not cited:
        return stripped + trailing
    marks = "".join(f"[{n}]" for n in cited)
    if _TABLE_ROW.match(stripped) and stripped.endswith("|"):  # in the last cell: the row stays a table row
        return f"{stripped[:-1].rstrip()} {marks} |{trailing}"
    match = re.search(r"[.!?…:;]+$", stripped)
    if match:
        return f"{stripped[: match.start()].rstrip()} {marks}{match.group(0)}{trailing}"
    return f"{stripped} {marks}{trailing}"


class StreamingStatementCiter:
    """
    Cites an answer as it streams. The current statement's words are shown as they come; only its end is held back
    (`_HELD_TAIL`: trailing punctuation and spaces, a citation group being written), and once the statement is
    complete the rest is shown with its checked citations. What was shown is always the start of the whole answer's
    text, so a streamed and a whole answer end the same (`CitedAnswerBuilder` feeds the whole answer through it).

    With a `grounding` check (the question names something rare: `NameGrounding`), a statement is shown only once it
    is complete and checked: a statement whose figures come from documents about something else is left out, and
    when it comes before any grounded statement the answer becomes the refusal sentence (`refused`) and the rest of
    the model's text is dropped.
    """

    def __init__(
        self,
        citer: StatementCiter,
        passages: list[str],
        epilogue: Callable[[str], str] | None = None,
        grounding: Callable[[str], bool] | None = None,
    ) -> None:
        """
        :param citer: The rule, the same as the whole answer's.
        :param passages: The passages given to the model, in order.
        :param epilogue: What follows the whole answer, given its text (e.g. `closest_extract`), shown at the end.
        :param grounding: Whether a statement's figures come from the right documents (`NameGrounding.grounded`);
            None: not checked, statements stream word by word.
        """
        self.citer, self.passages, self.epilogue, self.grounding = citer, passages, epilogue, grounding
        self.statements: list[Statement] = []
        self.refused = False  # an ungrounded statement came first: the answer is the refusal sentence
        self.ending = ""  # what the epilogue added at the end
        self._pending = ""  # the current statement as the model wrote it
        self._shown = 0  # characters of it already shown (of its text without citations)
        self._received = ""  # the whole text as the model wrote it

    def feed(self, text: str) -> str:
        """What can be shown now: the statements completed by this text, cited, and the start of the next one."""
        if self.refused:
            return ""
        self._pending += text
        self._received += text
        pieces = split_statements(self._pending)
        done, self._pending = pieces[:-1], pieces[-1] if pieces else ""
        out = self._emit(done) if done else ""
        if self.grounding is not None or self.refused:  # shown once complete and checked
            return out
        body = without_citations(self._pending)
        visible = body[: _HELD_TAIL.search(body).start()]
        out += visible[self._shown :]
        self._shown = max(self._shown, len(visible))
        return out

    def close(self) -> str:
        """
        The rest of the last statement, and the epilogue, at the end of the stream; the refusal sentence when the
        answer says nothing (no reply, or citation marks alone: « [1] ») and no epilogue stands in for it.
        """
        rest, self._pending = self._pending, ""
        out = self._emit([rest]) if rest and not self.refused else ""
        if self.refused:
            return out
        if self.epilogue is not None:
            cited = "".join(st.text for st in self.statements if st.grounded).strip()
            self.ending = self.epilogue(cited or self._received.strip())  # « [1] » alone leaves no statement
            out += self.ending
        said = (without_citations(st.text) for st in self.statements if st.grounded)
        if not any(_has_words(text) for text in (*said, self.ending)):
            self.refused = True
            return NOT_IN_DOCUMENTS
        return out

    def _emit(self, pieces: list[str]) -> str:
        shown, self._shown = self._shown, 0
        text = ""
        for piece in pieces:
            statement = self.citer.cite(piece, self.passages)
            self.statements.append(statement)
            if self.grounding is not None and statement.checkable and not self.grounding(statement.text):
                statement.grounded = False
                if not any(st.grounded and st.checkable for st in self.statements):
                    self.refused = True
                    return (text + ("" if not text or text[-1].isspace() else " ") + NOT_IN_DOCUMENTS)[shown:]
                continue
            text += statement.text
        return text[shown:]
