"""Index files and folders through the `indexing` graph."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from haystack import Pipeline

from service.pipelines import build_pipeline
from service.settings import Settings

SUPPORTED_SUFFIXES = {".md", ".markdown", ".txt"}
BATCH_FILES = 16


@dataclass
class IndexReport:
    files: int = 0
    chunks: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        text = f"{self.files} files indexed, {self.chunks} chunks written, {len(self.failed)} failed, {self.seconds:.1f} s"
        for path, reason in self.failed.items():
            text += f"\n  failed: {path}: {reason}"
        return text


def collect_files(paths: Iterable[Path]) -> list[Path]:
    """The supported files under the given files and folders, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
        elif path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES:
            found.append(path)
        elif not path.exists():
            raise FileNotFoundError(f"No such file or folder: {path}")
    return found


def _source_name(path: Path, roots: list[Path]) -> str:
    """The path shown to users as a document's source: relative to the folder that was indexed."""
    for root in roots:
        if root.is_dir() and path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    return path.name


def index_paths(paths: list[Path], settings: Settings, pipeline: Pipeline | None = None) -> IndexReport:
    """Run the indexing graph over every supported file under `paths`."""
    started = time.perf_counter()
    roots = [p.resolve() for p in paths]
    files = collect_files(roots)
    if pipeline is None:
        pipeline = build_pipeline("indexing", settings)
    pipeline.warm_up()
    report = IndexReport()
    for start in range(0, len(files), BATCH_FILES):
        batch = files[start : start + BATCH_FILES]
        readable = []
        for path in batch:
            try:
                path.read_text(encoding="utf-8")
                readable.append(path)
            except (OSError, UnicodeDecodeError) as e:
                report.failed[str(path)] = str(e)
        if not readable:
            continue
        result = pipeline.run(
            {
                "converter": {
                    "sources": readable,
                    "meta": [{"source": _source_name(p, roots)} for p in readable],
                }
            },
            include_outputs_from={"vector_writer"},
        )
        report.files += len(readable)
        report.chunks += result["vector_writer"]["documents_written"]
    report.seconds = time.perf_counter() - started
    return report
