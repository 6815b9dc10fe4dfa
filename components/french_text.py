"""French text matching shared by the ranking components: accent folding, content terms, codes kept whole."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Elided articles and pronouns (l', d', qu', jusqu'...) are dropped before tokenising.
_ELISION = re.compile(r"\b(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu|quoiqu)'", re.IGNORECASE)
# A token is a code (`a2458`, `98-331`, `0/10`, `2025-11`, `3,5`) or a plain word: codes are never cut.
_TOKEN = re.compile(r"\d+(?:[.,/-]\d+)*|[a-z]+\d[a-z0-9]*(?:[-/]\d+)*|[a-z]+")
_BOUNDARY_BEFORE = r"(?<![a-z0-9/-])"
_BOUNDARY_AFTER = r"(?![a-z0-9/-])"

STOP_WORDS = frozenset(
    [
        "a",
        "au",
        "aux",
        "avec",
        "ce",
        "ces",
        "cet",
        "cette",
        "dans",
        "de",
        "des",
        "du",
        "elle",
        "elles",
        "en",
        "est",
        "et",
        "etait",
        "eu",
        "il",
        "ils",
        "je",
        "la",
        "le",
        "les",
        "leur",
        "leurs",
        "lui",
        "ma",
        "mais",
        "me",
        "meme",
        "mes",
        "moi",
        "mon",
        "ne",
        "nos",
        "notre",
        "nous",
        "on",
        "ou",
        "par",
        "pas",
        "pour",
        "qu",
        "que",
        "quel",
        "quelle",
        "quelles",
        "quels",
        "qui",
        "sa",
        "se",
        "ses",
        "son",
        "sont",
        "sur",
        "ta",
        "te",
        "tes",
        "toi",
        "ton",
        "tu",
        "un",
        "une",
        "vos",
        "votre",
        "vous",
        "y",
        "ete",
        "etre",
        "fait",
        "faire",
        "ont",
        "avait",
        "sont-ils",
        "combien",
        "comment",
        "quand",
        "pourquoi",
        "quoi",
        "dont",
        "cela",
        "ca",
        "donc",
        "alors",
        "aussi",
        "plus",
        "tres",
        "si",
        "sans",
        "sous",
        "entre",
        "vers",
        "chez",
    ]
)


def fold(text: str) -> str:
    """Lower case, accents removed, typographic apostrophes and spaces made plain."""
    text = text.replace("\u2019", "'").replace("\u00a0", " ").replace("\u202f", " ")
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    """Folded tokens of `text`, codes and numbers kept whole (`nf`, `p`, `98-331`; `a2458`; `2025-11`)."""
    return _TOKEN.findall(_ELISION.sub(" ", fold(text)))


def stem(token: str) -> str:
    """A light French stem: plural `s`/`x` removed from words (never from codes)."""
    if len(token) > 3 and token.isalpha() and token[-1] in "sx":
        return token[:-1]
    return token


def content_terms(text: str) -> set[str]:
    """The stemmed tokens of `text` that are not stop words."""
    return {stem(t) for t in tokens(text) if t not in STOP_WORDS and (len(t) > 1 or t.isdigit())}


def contains_whole(text: str, phrase: str) -> bool:
    """
    Whether `phrase` occurs in `text` as a whole (folded, any run of spaces), never inside a longer code.

    `A2458` is not found in `A24581`, `BB 0/10` not in `BB 0/100`, `2025-11` not in `2025-11-03`.
    """
    words = fold(phrase).split()
    if not words:
        return False
    pattern = _BOUNDARY_BEFORE + r"\s+".join(re.escape(w) for w in words) + _BOUNDARY_AFTER
    return re.search(pattern, fold(text)) is not None


def as_strings(value: object) -> list[str]:
    """A metadata value as a list of non-empty strings (a list of tags, a single string, a number)."""
    items: Iterable[object] = value if isinstance(value, list | tuple | set) else [value]
    return [str(v).strip() for v in items if v is not None and str(v).strip()]
