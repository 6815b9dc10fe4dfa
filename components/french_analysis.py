"""
The project's one French text analysis: every component that compares French words (the BM25 stores, the
answerability check, the context's key lines, the citation check, the metadata booster, the numeric prioritizer,
the query classifier) uses it, so they all match the same way.

`fold(text)`: ASCII folding; `plain(text)`: folded, lower case, typographic apostrophes and spaces made plain (what
rules written in plain French match); `contains_whole(text, phrase)`: a phrase found whole, never inside a longer code.

`FrenchAnalyzer.tokens(text)` is what the embedded BM25 store indexes and searches:
- words: split like Elasticsearch's standard tokenizer (letters and digits; `31,5` stays one number), elided
  articles dropped (`l'affaire` -> `affaire`), lower case, ASCII folding, French stop words removed, Snowball French
  stem (`réalisées` -> `realis`);
- codes, kept whole: a whitespace-separated token holding a digit and a letter or a `-`/`/` (`a2458`, `98-331`,
  `0/10`, `0/31,5`, `2025-11`, `f2025-0412`), and references, one to three upper-case prefix words followed by a
  code or a number (`nf p 98-331`, `p 98-331`, `nf en 13108-1`, `bb 0/10`, `gnt 0/31,5`, `rd 912`).

`FrenchAnalyzer.codes(text)` is the codes alone: the Elasticsearch store searches them in the `content.codes`
sub-field, whose analyzer (`ELASTICSEARCH_ANALYSIS` below: the same punctuation pattern, whitespace tokens, lower
case, ASCII folding, 2-4 word shingles) produces exactly these tokens among its shingles.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import Stemmer

# Snowball's French stop words (Lucene's `_french_`) plus the elided articles.
FRENCH_STOP_WORDS = frozenset(
    """
    a au aux avec ce ces dans de des du elle en et eux il ils je la le les leur lui ma mais me même mes moi mon ne nos
    notre nous on ou où par pas pour qu que qui sa se ses son sur ta te tes toi ton tu un une vos votre vous c d j l à
    m n s t y été étée étées étés étant étante étants étantes suis es est sommes êtes sont serai seras sera serons
    serez seront serais serait serions seriez seraient étais était étions étiez étaient fus fut fûmes fûtes furent
    sois soit soyons soyez soient fusse fusses fût fussions fussiez fussent ayant ayante ayantes ayants eu eue eues
    eus ai as avons avez ont aurai auras aura aurons aurez auront aurais aurait aurions auriez auraient avais avait
    avions aviez avaient eut eûmes eûtes eurent aie aies ait ayons ayez aient eusse eusses eût eussions eussiez
    eussent jusqu lorsqu puisqu quoiqu
    """.split()  # noqa: SIM905  (a list of words reads best as words)
)
# Question words: frequent in questions, rare in documents, so BM25 would weigh them heavily (+0.015 nDCG@10 on
# cnil-faq paraphrase, bench/bm25_analysis.py).
QUESTION_WORDS = frozenset(
    "quel quelle quels quelles combien comment pourquoi quand lequel laquelle lesquels lesquelles quoi dont".split()  # noqa: SIM905
)
# The months, folded, in the year's order (January is MONTHS[0]).
MONTHS = tuple("janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre".split())  # noqa: SIM905

# Punctuation that never belongs to a code, as a Java-compatible pattern (it is also the Elasticsearch char filter):
# brackets, quotes, Markdown emphasis, sentence punctuation, a `.` or `,` ending a token, and elided articles.
CODE_PUNCTUATION = (
    r"""[;:!?()\[\]{}«»"“”*`]|[.,…](?=\s|$)|(?<!\S)(?:[cdjlmnstCDJLMNST]|[Qq]u|[Jj]usqu|[Ll]orsqu|[Pp]uisqu)['’]"""
)
_CODE_PUNCTUATION = re.compile(CODE_PUNCTUATION)
_WORD = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+")
_HAS_DIGIT = re.compile(r"\d")
_CODE_CHARS = re.compile(r"[^\W\d_]|[-/]")
_PIECE_WITH_DIGIT = re.compile(r"(?<!\S)[^\s\d]*\d\S*")
_MAX_PREFIXES = 3
_MAX_PREFIX_LEN = 5
_PREFIX_WINDOW = (_MAX_PREFIX_LEN + 8) * _MAX_PREFIXES
_FOLDING = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ø": "o", "Ø": "O", "ł": "l"})


@lru_cache(maxsize=200_000)
def fold(text: str) -> str:
    """ASCII folding: accents removed, ligatures spelled out (`Œuvre` -> `Oeuvre`)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLDING))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def plain(text: str) -> str:
    """Lower case, accents folded, typographic apostrophes and spaces made plain: `L’Œuvre été` -> `l'oeuvre ete`."""
    return fold(text.casefold().replace("\u2019", "'"))  # NFKD (in fold) turns no-break spaces into spaces


_BOUNDARY_BEFORE = r"(?<![a-z0-9/-])"
_BOUNDARY_AFTER = r"(?![a-z0-9/-])"


def contains_whole(text: str, phrase: str) -> bool:
    """
    Whether `phrase` occurs in `text` as a whole (folded, any run of spaces), never inside a longer code.

    `A2458` is not found in `A24581`, `BB 0/10` not in `BB 0/100`, `2025-11` not in `2025-11-03`.
    """
    words = plain(phrase).split()
    if not words:
        return False
    pattern = _BOUNDARY_BEFORE + r"\s+".join(re.escape(w) for w in words) + _BOUNDARY_AFTER
    return re.search(pattern, plain(text)) is not None


# A capitalised word (« Chaume », « Bréchy », « Val-de-Lière »'s parts); acronyms and codes are not among them.
_PROPER_NAME = re.compile(r"(?<![\w'’-])([A-ZÀÂÄÇÉÈÊËÎÏÔÖÙÛÜ][a-zàâäçéèêëîïôöùûüœ]{2,})(?![\w])")


def proper_names(text: str) -> list[str]:
    """
    The capitalised words of `text` that do not open a sentence, as written and in order: the names of places,
    people and organisations (« pont de la Chaume », « la commune de Bréchy »).
    """
    names = []
    for match in _PROPER_NAME.finditer(text or ""):
        before = text[: match.start()].rstrip(" «\"'(")
        if before and before[-1] not in ".!?:;":  # a sentence's first word is capitalised anyway
            names.append(match.group(1))
    return names


# A code names an affair, a document, a norm or a place: a letter and a digit (`A2458`, `F2025-0412`, `PRO-SEC-04`,
# `C07`), digits then a letter after a hyphen (`2024-VH-07`), or `RD 912` / `NF P 98-331` style references; not an
# ordinal or a measure written as one word (`1er`, `20e`, `100m`).
# A company adds its own shapes in `domain.code_patterns` (hayhooks.yml), e.g. numeric affair codes `\d{2}-\d{3}`.
DEFAULT_CODE_PATTERNS = (
    r"(?:NF(?: [A-Z]{1,2})?|RD|RN|PR|EN|ISO) ?\d[\d+/,.-]*\d",
    r"[A-Za-z]+(?:-[A-Za-z]+)*-?\d[\w/-]*",
    r"\d+-[A-Za-z][\w-]*",
)


def compile_code_patterns(patterns: Sequence[str]) -> re.Pattern[str]:
    """One expression for the shapes of codes, each matched whole (not inside a longer word or code)."""
    return re.compile(r"(?<![\w-])(?:" + "|".join(f"(?:{p})" for p in patterns) + r")(?![\w-])")


_CODE = compile_code_patterns(DEFAULT_CODE_PATTERNS)


def use_code_patterns(patterns: Sequence[str] | None) -> None:
    """
    The shapes of codes `codes_in` finds, for the whole process (`domain.code_patterns`; None: the defaults).
    Set when a graph is built from the configuration (`service.pipelines.build_pipeline`).
    """
    global _CODE  # noqa: PLW0603 (one configuration per process, as the graphs it builds)
    _CODE = compile_code_patterns(patterns or DEFAULT_CODE_PATTERNS)


def codes_in(text: str) -> list[str]:
    """
    The codes of a text, as written, in order, without repeats (compared folded): what a code pattern matches
    with a digit, and a letter or a separator (`A2458`, `NF P 98-331`, `24-017` when a pattern allows it).
    """
    seen: dict[str, str] = {}
    for match in _CODE.finditer(text or ""):
        code = match.group(0).strip(".,;:")
        if any(c.isdigit() for c in code) and any(c.isalpha() or c in "-/." for c in code):
            seen.setdefault(fold(code.lower()), code)
    return list(seen.values())


def names_code(text: str, code: str) -> bool:
    """Whether `text` names `code` whole, its spaces optional (`RD 912` is named by `RD912`)."""
    return contains_whole(text, code) or (" " in code and contains_whole(text, code.replace(" ", "")))


def folded_stop_words(words: frozenset[str] = FRENCH_STOP_WORDS | QUESTION_WORDS) -> frozenset[str]:
    """The stop words as they are compared: folded (`été` -> `ete`)."""
    return frozenset(fold(w) for w in words)


def is_code(token: str) -> bool:
    """A token that holds a digit and a letter, a `-` or a `/`: `A2458`, `98-331`, `0/10`, `2025-11`."""
    return _HAS_DIGIT.search(token) is not None and _CODE_CHARS.search(token) is not None


def _is_prefix(token: str) -> bool:
    return token.isalpha() and token.isupper() and len(token) <= _MAX_PREFIX_LEN


class FrenchAnalyzer:
    """Turns French text into BM25 terms: stemmed, folded words plus whole codes and references."""

    def __init__(
        self, stemmer: str = "french", stop_words: frozenset[str] = FRENCH_STOP_WORDS | QUESTION_WORDS
    ) -> None:
        """
        :param stemmer: A Snowball stemmer name known to PyStemmer, or `"none"` for no stemming.
        :param stop_words: Lower-case words never indexed (compared folded).
        """
        self._stemmer = None if stemmer == "none" else Stemmer.Stemmer(stemmer)
        self._stop_words = folded_stop_words(stop_words)
        self._terms: dict[str, str] = {}  # lower-case word -> term ("" for a stop word); words repeat a lot

    def _term(self, word: str) -> str:
        term = self._terms.get(word)
        if term is None:
            folded = fold(word)
            if folded in self._stop_words:
                term = ""
            else:  # folded first, as Elasticsearch's asciifolding runs before its stemmer
                term = self._stemmer.stemWord(folded) if self._stemmer and not folded[0].isdigit() else folded
            if len(self._terms) < 500_000:
                self._terms[word] = term
        return term

    def words(self, text: str) -> list[str]:
        """The stemmed, folded words of `text`, stop words and elided articles removed."""
        raw = _WORD.findall(text.lower())
        terms = list(map(self._terms.get, raw))  # the common case: every word seen before
        if None in terms:
            terms = [self._term(w) if t is None else t for t, w in zip(terms, raw, strict=True)]
        return [t for t in terms if t]

    def codes(self, text: str) -> list[str]:
        """The codes and references of `text`, lower case and folded, in order: `["nf p 98-331", "p 98-331", ...]`."""
        cleaned = _CODE_PUNCTUATION.sub(" ", text)
        found = []
        for match in _PIECE_WITH_DIGIT.finditer(cleaned):
            piece = match.group()
            code = is_code(piece)
            if not (code or piece.isdigit()):
                continue
            window = max(0, match.start() - _PREFIX_WINDOW)
            before = cleaned[window : match.start()].split()
            if window > 0 and before and not cleaned[window - 1].isspace():
                before = before[1:]  # a word cut by the window
            prefixes: list[str] = []
            while before and len(prefixes) < _MAX_PREFIXES and _is_prefix(before[-1]):
                prefixes.insert(0, before.pop())
            if code:
                found.append(fold(piece.lower()))
            if prefixes and (code or len(prefixes[-1]) >= 2):
                found.extend(fold(" ".join([*prefixes[j:], piece]).lower()) for j in range(len(prefixes)))
        return found

    def tokens(self, text: str) -> list[str]:
        """What BM25 indexes: `words(text)` then the codes that are not already one of those words."""
        words = self.words(text)
        seen = set(words)
        return words + [c for c in self.codes(text) if c not in seen]


def _elasticsearch_analysis() -> dict:
    return {
        "filter": {
            "french_elision": {
                "type": "elision",
                "articles_case": True,
                "articles": ["l", "m", "t", "qu", "n", "s", "j", "d", "c", "jusqu", "quoiqu", "lorsqu", "puisqu"],
            },
            "french_stop": {"type": "stop", "stopwords": sorted(folded_stop_words())},
            "french_stemmer": {"type": "stemmer", "language": "light_french"},
            "code_shingles": {
                "type": "shingle",
                "min_shingle_size": 2,
                "max_shingle_size": 4,
                "output_unigrams": True,
                "token_separator": " ",
            },
        },
        "char_filter": {
            "code_punctuation": {"type": "pattern_replace", "pattern": CODE_PUNCTUATION, "replacement": " "},
        },
        "normalizer": {"folded": {"type": "custom", "filter": ["lowercase", "asciifolding"]}},
        "analyzer": {
            "french_custom": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["french_elision", "lowercase", "asciifolding", "french_stop", "french_stemmer"],
            },
            "code_analyzer": {
                "type": "custom",
                "char_filter": ["code_punctuation"],
                "tokenizer": "whitespace",
                "filter": ["lowercase", "asciifolding", "code_shingles"],
            },
        },
    }


# The `analysis` index settings of the Elasticsearch store: the same steps as `FrenchAnalyzer` (Lucene's light
# French stemmer in place of Snowball's), and the `code_analyzer` whose shingles contain `FrenchAnalyzer.codes`.
ELASTICSEARCH_ANALYSIS: dict = _elasticsearch_analysis()
