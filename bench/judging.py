"""How an answer is compared with a reference fact, for the answer benchmark and the corpora it checks (stdlib only)."""

from __future__ import annotations

import re
import unicodedata


def normalize(text: str) -> str:
    """Lower case, accents folded, punctuation dropped, spaces collapsed; `631 592,50` and `631592.50` agree."""
    text = unicodedata.normalize("NFKD", text.lower().replace("œ", "oe"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"(?<=\d)[\s\u202f\u00a0.](?=\d{3}\b)", "", text)  # 100 000 / 100.000 -> 100000
    text = re.sub(r"(?<=\d)[.,](?=\d)", "d", text)  # decimal comma or dot, the same
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def contains(text: str, needle: str) -> bool:
    """The normalised needle as whole words of the normalised text."""
    return bool(normalize(needle)) and f" {normalize(needle)} " in f" {normalize(text)} "
