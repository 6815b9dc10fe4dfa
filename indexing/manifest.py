"""What has been indexed: for each file, its fingerprint and the ids of the chunks written for it."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class FileEntry:
    """
    One indexed file.

    `status` says what the last run made of it, so that a listing shows files that hold no chunk too.
    `pending` is set before the file's chunks are written and cleared once both stores hold them: a run killed in
    between leaves it set, and the next run looks up whatever the stores hold for that file before replacing it.
    """

    fingerprint: str = ""
    chunk_ids: list[str] = field(default_factory=list)
    pending: bool = False
    status: str = "indexed"  # indexed, skipped, no_text or failed (FILE_STATUSES)
    reason: str = ""  # why a file is skipped, has no text or failed, in words a person understands
    ocr: bool = False  # some of its text was read by OCR
    source: str = ""  # the name shown to users (relative to its indexed folder); "" in manifests written before it
    indexed_at: float = 0.0  # when its chunks were last written (seconds since the epoch); 0: never, or not recorded


FILE_STATUSES = ("indexed", "skipped", "no_text", "failed")


class Manifest:
    """The indexing manifest, one JSON file, replaced atomically on every save (a kill never leaves half a file)."""

    VERSION = 1

    def __init__(self, path: Path, entries: dict[str, FileEntry] | None = None) -> None:
        """
        :param path: The JSON file.
        :param entries: File path -> entry.
        """
        self.path = path
        self.entries = entries or {}

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """The manifest at `path`, empty when there is none yet."""
        if not path.is_file():
            return cls(path)
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(path, {name: FileEntry(**entry) for name, entry in data.get("files", {}).items()})

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"version": self.VERSION, "files": {k: asdict(v) for k, v in sorted(self.entries.items())}}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(payload, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
