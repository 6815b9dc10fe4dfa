"""Split documents on their structure (headings, paragraphs, tables), sized in the embedder's tokens."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from haystack import Document, component
from tokenizers import Tokenizer

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_SENTENCE_END = re.compile(r"(?<=[.!?;:…])\s+")


@dataclass
class Block:
    """A piece of a document's structure: a heading line, a paragraph or a table."""

    kind: str  # "heading", "text" or "table"
    text: str
    section: list[str]
    page: int | None
    header: str = ""  # tables: the header row (and its separator line)
    rows: list[str] = field(default_factory=list)  # tables: the body rows


def parse_blocks(text: str, paged: bool) -> list[Block]:
    """
    The blocks of a Markdown-like text: ATX headings (`## Titre`), paragraphs (separated by blank lines), pipe
    tables and fenced code. Form feeds separate pages.

    :param text: The document text.
    :param paged: Whether to number pages (form feeds mark page ends).
    :returns: The blocks in reading order, each with its section path (the titles of the headings above it).
    """
    blocks: list[Block] = []
    stack: list[tuple[int, str]] = []
    for page_number, page in enumerate(text.split("\f"), start=1):
        page_no = page_number if paged else None
        lines = page.split("\n")
        paragraph: list[str] = []

        def flush(paragraph: list[str] = paragraph, page_no: int | None = page_no) -> None:
            if paragraph:
                blocks.append(Block("text", "\n".join(paragraph), [t for _, t in stack], page_no))
                paragraph.clear()

        i = 0
        while i < len(lines):
            line, stripped = lines[i], lines[i].strip()
            heading = _HEADING.match(line)
            if not stripped:
                flush()
            elif heading:
                flush()
                level = len(heading.group(1))
                stack[:] = [(lvl, t) for lvl, t in stack if lvl < level] + [(level, heading.group(2).strip())]
                blocks.append(Block("heading", stripped, [t for _, t in stack], page_no))
            elif stripped.startswith("|"):
                flush()
                rows = []
                while i < len(lines) and lines[i].strip().startswith("|"):
                    rows.append(lines[i].strip())
                    i += 1
                size = 2 if len(rows) > 1 and _TABLE_SEPARATOR.match(rows[1]) else 1
                header = "\n".join(rows[:size])
                blocks.append(Block("table", "\n".join(rows), [t for _, t in stack], page_no, header, rows[size:]))
                continue
            elif _FENCE.match(line):
                flush()
                fence = [line]
                i += 1
                while i < len(lines) and not _FENCE.match(lines[i]):
                    fence.append(lines[i])
                    i += 1
                if i < len(lines):
                    fence.append(lines[i])
                paragraph.extend(fence)
                flush()
            else:
                paragraph.append(line.rstrip())
            i += 1
        flush()
    return blocks


@dataclass
class _Chunk:
    parts: list[str] = field(default_factory=list)
    tokens: int = 0
    section: list[str] = field(default_factory=list)
    page: int | None = None
    page_end: int | None = None
    headings_only: bool = True
    has_table: bool = False
    tail: str = ""  # the last text (not table) part, for the overlap of the next chunk

    def add(self, text: str, tokens: int, block: Block, kind: str) -> None:
        if not self.parts:
            self.section, self.page = block.section, block.page
        self.parts.append(text)
        self.tokens += tokens
        self.page_end = block.page if block.page is not None else self.page_end
        self.headings_only = self.headings_only and kind == "heading"
        self.has_table = self.has_table or kind == "table"
        self.tail = "" if kind == "table" else text

    def extend(self, separator: str, text: str, tokens: int, block: Block) -> None:
        """Continue the last part (the same paragraph) with more of its text."""
        self.parts[-1] += separator + text
        self.tokens += tokens
        self.page_end = block.page if block.page is not None else self.page_end
        self.tail = self.parts[-1]


@component
class StructuredDocumentSplitter:
    """
    Splits documents into chunks that follow their structure, sized in the embedder's own tokens.

    A heading starts a new chunk; paragraphs are packed up to `max_tokens`, a paragraph too long for one chunk is
    cut at line, then sentence, then word boundaries, and consecutive chunks of one section share about
    `overlap_tokens` of text. A table is never cut inside a row: a table too long for one chunk is split into row
    groups and every group repeats the table's header row. Form feeds (PDF and DOCX page breaks) give page numbers.

    Each chunk gets `section_path` (the titles of the headings above it) and `section` (the same, joined with " > "),
    `page` and `page_end` when known, `chunk_index` and `chunk_count` (its position in its file), `has_table`,
    `ocr: true` when a page it spans was read by OCR (the document's `ocr_pages`), and an id computed from its file
    path (and attachment name), the file's hash, its position and its text: the same file always gives the same ids.
    """

    def __init__(self, tokenizer: str | None = None, max_tokens: int = 320, overlap_tokens: int = 48) -> None:
        """
        :param tokenizer: The embedder's model folder (holding `tokenizer.json`); without it, words are counted.
        :param max_tokens: The most tokens a chunk holds (a single table row may exceed it: rows are never cut).
        :param overlap_tokens: About how many tokens of text consecutive chunks of one section share.
        """
        if max_tokens < 16:
            raise ValueError("max_tokens must be at least 16")
        if not 0 <= overlap_tokens < max_tokens // 2:
            raise ValueError("overlap_tokens must be between 0 and half of max_tokens")
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self._tokenizer: Any = None

    def warm_up(self) -> None:
        """Load the embedder's tokenizer (a local file: nothing is downloaded)."""
        if self.tokenizer is None or self._tokenizer is not None:
            return
        path = Path(self.tokenizer)
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json" if path.is_dir() else path))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._tokenizer = tokenizer

    def count_tokens(self, texts: list[str]) -> list[int]:
        """The embedder's token count of each text (without special tokens)."""
        if self.tokenizer is not None and self._tokenizer is None:
            self.warm_up()
        if self._tokenizer is None:
            return [len(t.split()) for t in texts]
        return [len(e.ids) for e in self._tokenizer.encode_batch(texts, add_special_tokens=False)]

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """
        :param documents: Whole documents, text in Markdown (headings, pipe tables) or plain.
        :returns: `documents`, the chunks of every document in order.
        """
        chunks: list[Document] = []
        for doc in documents:
            chunks.extend(self._split(doc))
        return {"documents": chunks}

    def _split(self, doc: Document) -> list[Document]:
        text = doc.content or ""
        blocks = parse_blocks(text, paged="\f" in text or doc.meta.get("file_type") == "pdf")
        packed = self._pack(blocks)
        origin = f"{doc.meta.get('file_path') or doc.meta.get('source') or ''}\x1f{doc.meta.get('file_hash', '')}"
        if doc.meta.get("attachment"):  # a mail's attachments share its file: their chunks differ by name
            origin += f"\x1f{doc.meta['attachment']}"
        ocr_pages = set(doc.meta.get("ocr_pages") or [])
        doc_meta = {k: v for k, v in doc.meta.items() if k not in {"ocr_pages", "ocr"}}
        result = []
        for index, chunk in enumerate(packed):
            content = "\n\n".join(chunk.parts)
            meta = {
                **doc_meta,
                "section_path": chunk.section,
                "section": " > ".join(chunk.section),
                "chunk_index": index,
                "split_id": index,
                "chunk_count": len(packed),
                "has_table": chunk.has_table,
            }
            if chunk.page is not None:
                meta["page"] = chunk.page
                meta["page_end"] = chunk.page_end or chunk.page
            pages = range(chunk.page, (chunk.page_end or chunk.page) + 1) if chunk.page is not None else range(1, 2)
            if ocr_pages and any(page in ocr_pages for page in pages):
                meta["ocr"] = True  # its text was read from a scan: the answer's sources say so
            digest = hashlib.sha256(f"{origin}\x1f{index}\x1f{content}".encode()).hexdigest()
            result.append(Document(id=digest, content=content, meta=meta))
        return result

    def _pack(self, blocks: list[Block]) -> list[_Chunk]:
        done: list[_Chunk] = []
        current = _Chunk()

        def flush(continued: bool) -> _Chunk:
            """Close the current chunk; a chunk continuing the same section starts with the overlap."""
            nonlocal current
            previous = current
            if previous.parts and not previous.headings_only:
                done.append(previous)
                current = _Chunk()
                if continued and previous.tail and self.overlap_tokens:
                    overlap = self._tail(previous.tail)
                    if overlap:
                        current.add(overlap, self.count_tokens([overlap])[0], _block_like(previous), "overlap")
            return current

        for block in blocks:
            if block.kind == "heading":
                if not current.headings_only:
                    flush(continued=False)
                current.add(block.text, self.count_tokens([block.text])[0], block, "heading")
                current.section = block.section
                continue
            if block.kind == "table":
                current = self._add_table(block, current, flush)
                continue
            (tokens,) = self.count_tokens([block.text])
            if current.tokens + tokens <= self.max_tokens:
                current.add(block.text, tokens, block, "text")
                continue
            started = False  # whether the open chunk holds a unit of this block yet
            reserved = current.tokens if current.headings_only else 0  # the headings travel with the first units
            for unit, unit_tokens, separator in self._units(block.text, max(self.max_tokens - reserved, 8)):
                if current.tokens + unit_tokens > self.max_tokens:
                    current = flush(continued=True)
                    started = False
                    if current.tokens + unit_tokens > self.max_tokens and not current.headings_only:
                        # the overlap leaves no room: drop it
                        current.parts, current.tokens, current.tail = [], 0, ""
                if started:
                    current.extend(separator, unit, unit_tokens, block)
                else:
                    current.add(unit, unit_tokens, block, "text")
                    started = True
        flush(continued=False)
        return done

    def _add_table(self, block: Block, current: _Chunk, flush: Callable[[bool], _Chunk]) -> _Chunk:
        """Add a table whole if it fits, else in row groups that each repeat the header; returns the open chunk."""
        (tokens,) = self.count_tokens([block.text])
        if current.tokens + tokens <= self.max_tokens:
            current.add(block.text, tokens, block, "table")
            return current
        current = flush(False)
        (header_tokens,) = self.count_tokens([block.header])
        group: list[str] = []
        group_tokens = header_tokens
        for row, row_tokens in zip(block.rows, self.count_tokens(block.rows), strict=True):
            if group and current.tokens + group_tokens + row_tokens > self.max_tokens:
                current.add("\n".join([block.header, *group]), group_tokens, block, "table")
                current = flush(False)
                group, group_tokens = [], header_tokens
            group.append(row)
            group_tokens += row_tokens
        if group or not block.rows:
            current.add("\n".join([block.header, *group]), group_tokens, block, "table")
        return current

    def _units(self, text: str, limit: int) -> list[tuple[str, int, str]]:
        """
        A paragraph cut at line, then sentence, then word boundaries into units of at most `limit` tokens.

        :returns: (text, tokens, separator from the previous unit) triples.
        """
        units: list[tuple[str, int, str]] = []
        lines = [line for line in text.split("\n") if line.strip()]
        for line, tokens in zip(lines, self.count_tokens(lines), strict=True):
            if tokens <= limit:
                units.append((line, tokens, "\n"))
                continue
            sentences = [s for s in _SENTENCE_END.split(line) if s.strip()]
            for i, (sentence, sentence_tokens) in enumerate(zip(sentences, self.count_tokens(sentences), strict=True)):
                separator = " " if i else "\n"
                if sentence_tokens <= limit:
                    units.append((sentence, sentence_tokens, separator))
                else:
                    windows = self._word_windows(sentence, limit)
                    units.extend((w, t, separator if j == 0 else " ") for j, (w, t) in enumerate(windows))
        return units

    def _word_windows(self, text: str, limit: int) -> list[tuple[str, int]]:
        words = text.split()
        counts = self.count_tokens(words)
        windows: list[tuple[str, int]] = []
        start, total = 0, 0
        for i, count in enumerate(counts):
            if total + count > limit and i > start:
                windows.append((" ".join(words[start:i]), total))
                start, total = i, 0
            total += count
        if start < len(words):
            windows.append((" ".join(words[start:]), total))
        return windows

    def _tail(self, text: str) -> str:
        """The last sentences of a text that fit in `overlap_tokens`, else its last words."""
        sentences = [s for s in _SENTENCE_END.split(text.replace("\n", " ")) if s.strip()]
        kept: list[str] = []
        total = 0
        for sentence, tokens in zip(reversed(sentences), reversed(self.count_tokens(sentences)), strict=True):
            if total + tokens > self.overlap_tokens:
                break
            kept.insert(0, sentence)
            total += tokens
        if kept:
            return " ".join(kept)
        words = text.split()
        counts = self.count_tokens(words)
        start, total = len(words), 0
        while start > 0 and total + counts[start - 1] <= self.overlap_tokens:
            start -= 1
            total += counts[start]
        return " ".join(words[start:])


def _block_like(chunk: _Chunk) -> Block:
    return Block("text", "", chunk.section, chunk.page_end)
