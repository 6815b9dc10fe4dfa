"""Count and cut text in the LLM's own tokens (its `tokenizer.json`), for context and history budgets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tokenizers import Tokenizer


class TokenBudget:
    """
    Counts tokens with the real tokenizer of the model (a folder holding `tokenizer.json`, or the file itself).

    Without a tokenizer it falls back to an estimate (1 token per 3 characters, close to what BPE tokenizers give
    on French text), so a budget still holds approximately.
    """

    CHARS_PER_TOKEN = 3

    def __init__(self, tokenizer: str | None = None) -> None:
        """
        :param tokenizer: A folder holding `tokenizer.json`, or its path; None to estimate.
        """
        self.tokenizer = tokenizer
        self._tokenizer: Any = None

    def warm_up(self) -> None:
        if self.tokenizer is None or self._tokenizer is not None:
            return
        path = Path(self.tokenizer)
        if not path.is_absolute() and not path.exists():  # relative to the project, wherever it runs from
            path = Path(__file__).resolve().parents[2] / path
        if path.is_dir():
            path = path / "tokenizer.json"
        if not path.is_file():
            raise FileNotFoundError(f"No tokenizer at {path}: set generation.tokenizer to a folder with tokenizer.json")
        self._tokenizer = Tokenizer.from_file(str(path))

    def count(self, text: str) -> int:
        """How many tokens `text` takes."""
        self.warm_up()
        if self._tokenizer is None:
            return -(-len(text) // self.CHARS_PER_TOKEN)
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def fit(self, text: str, max_tokens: int) -> tuple[str, bool, int]:
        """
        Cut `text` to `max_tokens` tokens (whole words when it can), counting it in the same encoding.

        :returns: the first `max_tokens` tokens of `text`, whether it was cut, and its token count when it was not
            (`max_tokens` when it was).
        """
        self.warm_up()
        if self._tokenizer is None:
            limit = max_tokens * self.CHARS_PER_TOKEN
            if len(text) <= limit:
                return text, False, -(-len(text) // self.CHARS_PER_TOKEN)
            end = limit
        else:
            encoding = self._tokenizer.encode(text, add_special_tokens=False)
            if len(encoding.ids) <= max_tokens:
                return text, False, len(encoding.ids)
            end = encoding.offsets[max_tokens][0] if max_tokens > 0 else 0
        head = text[:end]
        space = head.rfind(" ")
        if space > len(head) // 2:
            head = head[:space]
        return head.rstrip() + " […]", True, max_tokens
