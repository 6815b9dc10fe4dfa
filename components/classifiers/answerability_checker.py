"""Decide whether the passages found can answer the question, before the LLM is asked."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from haystack import Document, component, default_from_dict, default_to_dict, logging
from haystack.core.serialization import import_class_by_name

from components.document_meta import passage_texts
from components.french_analysis import FrenchAnalyzer, fold, is_code, proper_names

logger = logging.getLogger(__name__)

_YEAR = re.compile(r"(?<![\d/-])(?:19|20)\d\d(?![\d/-])")
# An acronym (« SIEAL », « DOE »): a name for what the answer is about, not for what the passages must hold (an
# acronym the documents spell out, « dossier des ouvrages exécutés », is no missing name).
_ACRONYM = re.compile(r"(?<![\w-])[A-ZÀ-Ý]{2,}(?![\w-])")
PASSAGE_CACHE_SIZE = 4096
# Snowball stems keep French verb and noun families apart (« reprendre » repren, « reprise » repris; « propose »
# propos, « proposition » proposit): a word of the question also counts as found when a passage word shares its
# first letters.
PREFIX_LETTERS = 5
_PREFIX_MARK = "\x00"
# Words that ask rather than name what is asked (« Présente-moi », « Donne le détail »): rare in documents, so
# their IDF would weigh heavily for nothing.
REQUEST_WORDS = (
    "présente présenter présentation donne donner indique indiquer décris décrire détaille détailler parle parler "
    "dis dire liste lister résume résumer rappelle rappeler explique expliquer cite citer montre montrer fiche "
    "peux pouvez sais savez voudrais voulez souhaite"
)


# Things a company numbers (« l'avenant n° 2 », « la situation 3 », « l'indice C », « le lot 02 »): a question that
# names one by its number is about that one, and passages that hold only another number cannot answer it.
DEFAULT_NUMBERED_WORDS = (
    "avenant",
    "situation",
    "lot",
    "indice",
    "tranche",
    "phase",
    "réunion",
    "compte rendu",
    "annexe",
    "révision",
    "version",
)
_NUMBER_MARK = r"(?:n\s*[°o]\.?|num[ée]ro|num\.|no\.)"
# After the word: « n° » or not, then the number; or up to three words, then « n° » (« situation de travaux n° 3 »).
_BEFORE_NUMBER = rf"(?:(?:\s+[a-z'’-]+){{1,3}}?\s*{_NUMBER_MARK}|\s*{_NUMBER_MARK}?)\s*"


@runtime_checkable
class TermStatistics(Protocol):
    """A document store that says how many documents hold each term of a text (its BM25 statistics)."""

    def term_statistics(self, text: str) -> tuple[int, dict[str, int]]:
        """(number of documents, {term: number of documents holding it}) for the analysed terms of `text`."""
        ...


@component
class AnswerabilityChecker:
    """
    Says whether the ranked passages can answer the question; when they cannot, the service answers « Les
    documents fournis ne contiennent pas cette information. » without asking the LLM (small models invent answers
    from unrelated passages).

    The question's terms (the French analysis of the BM25 stores: stems, codes kept whole, stop and question
    words left out) are weighed by their rarity in the whole index (BM25's IDF, from the document store's own
    statistics): « pont de la Chaume » weighs on « Chaume », not on « pont ». The passages cannot answer when
    - a *name* of the question is in none of them: a code (`A2459`, `F2025-0412`, `NF P 98-331`) or a capitalised
      word that the index holds in at most `max_name_share` of its documents, or in none;
    - or the best passage (title included) holds less than `min_coverage` of the question's weight.
    Without statistics (a store that gives none), every term weighs the same.

    It also gives the question's `names` (its codes, years, rare capitalised words and rare acronyms): what an
    answer's figures must come from a document naming (`NameGrounding`, in the answer builder).
    """

    def __init__(
        self,
        document_store: Any = None,
        min_coverage: float = 0.5,
        max_name_share: float = 0.2,
        enabled: bool = True,
        numbered_words: list[str] | None = None,
    ) -> None:
        """
        :param document_store: The BM25 store whose statistics weigh the terms (`term_statistics`); None: equal
            weights.
        :param min_coverage: Share of the question's IDF weight the best passage must hold.
        :param max_name_share: A capitalised word in more than this share of the documents is no name that
            must be found (« Conseil », « ROV » in a company's own documents).
        :param enabled: False: every question is answerable (the LLM alone decides).
        :param numbered_words: What a company numbers (`avenant`, `situation`, `lot`, `indice`...): a question naming
            one with its number or letter (« l'avenant n° 2 », « l'indice C ») cannot be answered by passages that
            name it with no other than another number. None: `DEFAULT_NUMBERED_WORDS`.
        """
        if not 0 <= min_coverage <= 1 or not 0 <= max_name_share <= 1:
            raise ValueError("min_coverage and max_name_share must be between 0 and 1")
        self.document_store = document_store
        self.min_coverage = min_coverage
        self.max_name_share = max_name_share
        self.enabled = enabled
        self.numbered_words = list(DEFAULT_NUMBERED_WORDS if numbered_words is None else numbered_words)
        words = "|".join(re.escape(fold(w.lower())) for w in sorted(self.numbered_words, key=len, reverse=True))
        # In the folded question: the word, « n° » or not, then a number (not a year) or one capital letter.
        self._numbered = (
            re.compile(rf"\b({words})s?{_BEFORE_NUMBER}(\d{{1,3}}|[a-z])\b(?![\w/.,-]*\d)") if words else None
        )
        self._analyzer = FrenchAnalyzer()
        self._request_terms = frozenset(self._analyzer.words(REQUEST_WORDS))
        self._passage_terms = lru_cache(maxsize=PASSAGE_CACHE_SIZE)(self._terms)

    def to_dict(self) -> dict[str, Any]:
        store = self.document_store.to_dict() if self.document_store is not None else None
        return default_to_dict(
            self,
            document_store=store,
            min_coverage=self.min_coverage,
            max_name_share=self.max_name_share,
            enabled=self.enabled,
            numbered_words=self.numbered_words,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnswerabilityChecker:
        params = dict(data.get("init_parameters") or {})
        store = params.get("document_store")
        if isinstance(store, dict):
            params["document_store"] = import_class_by_name(store["type"]).from_dict(store)
        return default_from_dict(cls, {**data, "init_parameters": params})

    def _terms(self, text: str) -> frozenset[str]:
        """A passage's terms, and the first letters of its longer words (« reprise » matches « reprendre »)."""
        terms = self._analyzer.tokens(text)
        prefixes = {_PREFIX_MARK + t[:PREFIX_LETTERS] for t in terms if len(t) >= PREFIX_LETTERS and t.isalpha()}
        return frozenset(terms) | prefixes

    def _statistics(self, question: str) -> tuple[int, dict[str, int]]:
        if not isinstance(self.document_store, TermStatistics):
            return 0, {}
        try:
            return self.document_store.term_statistics(question)
        except Exception as e:  # a store that is down: the terms weigh the same; retrieval reports the fault
            logger.warning("No term statistics for the answerability check: {error}", error=e)
            return 0, {}

    def assess(self, question: str, documents: list[Document]) -> dict[str, Any]:
        """The check's details: `answerable`, `coverage` of the best passage, `missing_names`, `names`."""
        terms = [t for t in dict.fromkeys(self._analyzer.tokens(question)) if t not in self._request_terms]
        if not terms:
            return {"answerable": bool(documents), "coverage": 1.0, "missing_names": [], "names": []}
        total, frequencies = self._statistics(question)
        names = self._names(question, total, frequencies)

        def idf(term: str) -> float:
            if not total:
                return 1.0
            df = frequencies.get(term, 0)
            return math.log(1 + (total - df + 0.5) / (df + 0.5))

        passages = [self._passage_terms(text) for text in passage_texts(documents)]
        found_anywhere = frozenset().union(*passages) if passages else frozenset()
        missing = [t for t in names if t not in found_anywhere]
        weights = {t: idf(t) for t in terms}
        whole = sum(weights.values()) or 1.0
        coverage = max((sum(w for t, w in weights.items() if _found(t, p)) / whole for p in passages), default=0.0)
        texts = [fold(text.lower()) for text in passage_texts(documents)]
        missing += [ref for ref in self.numbered_references(question) if not any(_names_ref(t, ref) for t in texts)]
        answerable = bool(documents) and not missing and coverage >= self.min_coverage
        names += [t for t in self._rare(_ACRONYM.findall(question), total, frequencies) if t not in names]
        return {"answerable": answerable, "coverage": round(coverage, 3), "missing_names": missing, "names": names}

    def numbered_references(self, question: str) -> list[str]:
        """The numbered things a question names (« avenant n° 2 » -> `avenant 2`, « l'indice C » -> `indice c`)."""
        if self._numbered is None:
            return []
        original = fold(question)
        refs = []
        for match in self._numbered.finditer(fold(question.lower())):
            value = match.group(2)
            if value.isalpha() and not original[match.start(2)].isupper():
                continue  # « lot à », « phase a été »: a letter names a version only when written as a capital
            refs.append(f"{match.group(1)} {value.lstrip('0') or '0' if value.isdigit() else value}")
        return list(dict.fromkeys(refs))

    def _names(self, question: str, total: int, frequencies: dict[str, int]) -> list[str]:
        """
        What the passages must hold for the question to be about them: its codes and references (`A2459`,
        `RD 27`, `NF P 98-115`: the longest form), its years (`2021`), its rare capitalised words.
        """
        names: list[str] = []
        seen_codes: set[str] = set()
        for code in self._analyzer.codes(question):  # longest form first: "nf p 98-115", "p 98-115", "98-115"
            bare = code.split()[-1]
            if bare in seen_codes or not (is_code(bare) or " " in code):
                continue
            seen_codes.add(bare)
            names.append(code)
        names += _YEAR.findall(question)
        names += self._rare(proper_names(question), total, frequencies)
        return list(dict.fromkeys(fold(n) for n in names))

    def _rare(self, words: list[str], total: int, frequencies: dict[str, int]) -> list[str]:
        """The terms of `words` that the index holds in at most `max_name_share` of its documents."""
        terms = [t for word in words for t in self._analyzer.words(word)]
        return [t for t in terms if (frequencies.get(t, 0) / total if total else 0.0) <= self.max_name_share]

    @component.output_types(
        documents=list[Document], answerable=bool, coverage=float, missing_names=list[str], names=list[str]
    )
    def run(self, documents: list[Document], query: str) -> dict[str, Any]:
        """
        :param documents: The ranked passages the LLM would be given.
        :param query: The (standalone) question.
        :returns: `documents` unchanged, `answerable`, the best passage's `coverage` of the question's weight and
            the names of the question found in no passage (`missing_names`), and all its `names` (acronyms
            included; none when the check is off).
        """
        if not self.enabled:
            return {"documents": documents, "answerable": True, "coverage": 1.0, "missing_names": [], "names": []}
        return {"documents": documents, **self.assess(query, documents)}


def _names_ref(text: str, ref: str) -> bool:
    """Whether a folded passage names the numbered thing `ref` (`avenant 2`): « avenant n° 2 », « Avenant 02 »…"""
    word, value = ref.rsplit(" ", 1)
    number = rf"0*{value}" if value.isdigit() else value
    return re.search(rf"\b{re.escape(word)}s?{_BEFORE_NUMBER}{number}\b(?![\w/.,-]*\d)", text) is not None


def _found(term: str, passage: frozenset[str]) -> bool:
    return term in passage or (
        len(term) >= PREFIX_LETTERS and term.isalpha() and _PREFIX_MARK + term[:PREFIX_LETTERS] in passage
    )
