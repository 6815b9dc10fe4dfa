"""Index files and folders through the `indexing` graph, incrementally.

A file is identified by its path and a fingerprint of its content (plus the metadata files and indexing settings
that shape its chunks). Unchanged files are skipped without converting or embedding anything. A new or changed
file goes through the graph, whose writers replace the file's previous chunks in both stores. With `prune`, the
chunks of files that disappeared from the indexed folders are deleted. The manifest (`Manifest`) is saved
atomically after every batch and marks files in flight as pending, so a run killed at any point and run again ends
with exactly the chunks of an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from haystack import Pipeline
from tqdm import tqdm

from components.preprocessors.document_metadata_resolver import FOLDER_META_NAMES, SIDECAR_SUFFIXES, metadata_files
from indexing.manifest import FileEntry, Manifest
from service.gateway.cache import bump_index_generation
from service.pipelines import build_pipeline
from service.settings import Settings

SUPPORTED_SUFFIXES = {".md", ".markdown", ".txt", ".pdf", ".docx", ".html", ".htm", ".csv"}
PIPELINE_NAME = "indexing"
WRITERS = ("vector_writer", "bm25_writer")


@dataclass
class IndexReport:
    """What a run did, file by file."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    deleted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # gone from disk, kept because `prune` was off
    failed: dict[str, str] = field(default_factory=dict)
    chunks: int = 0
    seconds: float = 0.0

    @property
    def files(self) -> int:
        """Files whose chunks are in the stores after the run."""
        return len(self.added) + len(self.updated) + self.unchanged

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (the upload endpoint's answer)."""
        return {
            "files": self.files,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "failed": self.failed,
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "summary": self.summary(),
        }

    def summary(self) -> str:
        text = (
            f"{self.files} files indexed ({len(self.added)} added, {len(self.updated)} updated, "
            f"{self.unchanged} unchanged), {len(self.deleted)} deleted, {len(self.failed)} failed; "
            f"{self.chunks} chunks written in {self.seconds:.1f} s"
        )
        if self.missing:
            text += f"\n  {len(self.missing)} indexed files no longer exist (run with --prune to delete their chunks)"
        for path, reason in self.failed.items():
            text += f"\n  failed: {path}: {reason}"
        return text


def _is_metadata_file(path: Path) -> bool:
    return path.name in FOLDER_META_NAMES or path.name.endswith(SIDECAR_SUFFIXES)


def _is_indexable(path: Path) -> bool:
    return (
        path.suffix.lower() in SUPPORTED_SUFFIXES and not _is_metadata_file(path) and not path.name.startswith(".")
    )


def collect_files(paths: Iterable[Path]) -> list[Path]:
    """The supported files under the given files and folders, in a stable order (metadata files excluded)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file() and _is_indexable(p.relative_to(path)))
        elif path.is_file() and _is_indexable(path):
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


def _root_of(path: Path, roots: list[Path]) -> Path | None:
    folders = [r for r in roots if r.is_dir() and path.is_relative_to(r)]
    return max(folders, key=lambda r: len(r.parts)) if folders else None


def settings_fingerprint(settings: Settings) -> str:
    """The settings that shape chunks: changing one of them re-indexes every file."""
    shaping = {"indexing": settings.indexing.model_dump(exclude={"batch_files", "upload_dir"})}
    shaping["embedder"] = settings.models.embedder.model_dump(exclude={"batch_size"})
    return hashlib.sha256(json.dumps(shaping, sort_keys=True, default=str).encode()).hexdigest()


def file_fingerprint(path: Path, root: Path | None, shaping: str) -> str:
    """SHA-256 of the file's bytes, of the metadata files that apply to it, and of the shaping settings."""
    digest = hashlib.sha256(shaping.encode())
    digest.update(hashlib.sha256(path.read_bytes()).digest())
    for meta_file in metadata_files(path, root):
        if meta_file.is_file():
            digest.update(str(meta_file.name).encode() + b"\0" + meta_file.read_bytes())
    return digest.hexdigest()


def manifest_path(settings: Settings) -> Path:
    return settings.resolve_path(settings.stores.data_dir) / f"manifest-{settings.stores.qdrant.index}.json"


def _writer_stores(pipeline: Any) -> list[Any]:
    stores = []
    for name in WRITERS:
        try:
            stores.append(pipeline.get_component(name).document_store)
        except (AttributeError, ValueError):
            continue
    return stores


def _file_filter(path: str) -> dict[str, Any]:
    return {"field": "meta.file_path", "operator": "==", "value": path}


class _ConversionWarnings(logging.Handler):
    """Keeps the converters' warnings during a run, to say why a file could not be read."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def reason(self, path: str) -> str:
        for message in self.messages:
            if path in message:
                return message.replace(path, Path(path).name)
        return "no text could be extracted from it"


@contextmanager
def _capture_warnings() -> Iterator[_ConversionWarnings]:
    handler = _ConversionWarnings()
    loggers = [logging.getLogger("haystack"), logging.getLogger("haystack_integrations")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


class _Progress:
    """A progress bar on stderr: files, chunks, rate and ETA."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = None
        if enabled and total:
            self.bar = tqdm(total=total, unit="file", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)
        self.started = time.perf_counter()
        self.chunks = 0

    def advance(self, files: int, chunks: int) -> None:
        self.chunks += chunks
        if self.bar is not None:
            rate = self.chunks / max(time.perf_counter() - self.started, 1e-9)
            self.bar.set_postfix_str(f"{self.chunks} chunks, {rate:.1f} chunks/s", refresh=False)
            self.bar.update(files)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Indexer:
    """Runs the `indexing` graph over files and keeps the manifest in step with the stores."""

    def __init__(self, settings: Settings, pipeline: Pipeline | None = None) -> None:
        """
        :param settings: The configuration (`indexing`, `stores`).
        :param pipeline: The indexing graph, built from `pipelines/indexing/indexing.yml` when not given.
        """
        self.settings = settings
        self.pipeline = pipeline if pipeline is not None else build_pipeline(PIPELINE_NAME, settings)
        self._warmed_up = False  # models load on the first file to index: an unchanged corpus loads none
        self.shaping = settings_fingerprint(settings)

    def warm_up(self) -> None:
        """Load the graph's models (done on the first file to index otherwise)."""
        if not self._warmed_up:
            self.pipeline.warm_up()
            self._warmed_up = True

    def index(self, paths: list[Path], prune: bool = False, progress: bool = False) -> IndexReport:
        """
        Index every supported file under `paths`.

        :param paths: Files and folders.
        :param prune: Delete the chunks of previously indexed files under `paths` that no longer exist.
        :param progress: Show a progress bar on stderr.
        :returns: The report of the run.
        """
        started = time.perf_counter()
        roots = [p.resolve() for p in paths]
        files = collect_files(roots)
        manifest = Manifest.load(manifest_path(self.settings))
        report = IndexReport()
        self._recover_pending(manifest)
        todo: list[tuple[Path, str]] = []
        for path in files:
            try:
                fingerprint = file_fingerprint(path, _root_of(path, roots), self.shaping)
            except OSError as e:
                report.failed[_source_name(path, roots)] = e.strerror or str(e)
                continue
            entry = manifest.entries.get(str(path))
            if entry is not None and not entry.pending and entry.fingerprint == fingerprint:
                report.unchanged += 1
            else:
                todo.append((path, fingerprint))
        self._handle_missing(manifest, roots, prune, report)
        bar = _Progress(len(todo), progress)
        try:
            batch_size = self.settings.indexing.batch_files
            for start in range(0, len(todo), batch_size):
                batch = todo[start : start + batch_size]
                written = self._index_batch(batch, roots, manifest, report)
                bar.advance(len(batch), written)
        finally:
            bar.close()
            if todo or report.deleted:  # cached answers from before this run must not be served again
                bump_index_generation(self.settings.resolve_path(self.settings.stores.data_dir))
        report.seconds = time.perf_counter() - started
        return report

    def _recover_pending(self, manifest: Manifest) -> None:
        """Files a killed run left pending: add whatever the stores hold for them to the chunks they replace."""
        pending = [name for name, entry in manifest.entries.items() if entry.pending]
        if not pending:
            return
        for name in pending:
            entry = manifest.entries[name]
            stores = _writer_stores(self.pipeline)
            found = {doc.id for store in stores for doc in store.filter_documents(_file_filter(name))}
            entry.chunk_ids = sorted(set(entry.chunk_ids) | found)
        manifest.save()

    def _handle_missing(self, manifest: Manifest, roots: list[Path], prune: bool, report: IndexReport) -> None:
        gone = [
            name
            for name in manifest.entries
            if any(Path(name) == r or Path(name).is_relative_to(r) for r in roots) and not Path(name).exists()
        ]
        if not prune:
            report.missing = gone
            return
        for name in gone:
            entry = manifest.entries[name]
            for store in _writer_stores(self.pipeline):
                if entry.chunk_ids:
                    store.delete_documents(entry.chunk_ids)
                if entry.pending:
                    store.delete_by_filter(_file_filter(name))
            del manifest.entries[name]
            manifest.save()
            report.deleted.append(_source_name(Path(name), roots))

    def _index_batch(
        self, batch: list[tuple[Path, str]], roots: list[Path], manifest: Manifest, report: IndexReport
    ) -> int:
        """Run the graph over a batch of new or changed files; returns the number of chunks written."""
        self.warm_up()
        names = [str(path) for path, _ in batch]
        previous = {name: manifest.entries.get(name) for name in names}
        for name in names:
            entry = manifest.entries.setdefault(name, FileEntry())
            entry.pending = True
        manifest.save()
        replaced = sorted({i for name in names for i in manifest.entries[name].chunk_ids})
        try:
            with _capture_warnings() as warnings:
                result = self.pipeline.run(
                    {
                        "router": {"sources": names},
                        "metadata_resolver": {"roots": [str(r) for r in roots if r.is_dir()]},
                        **{writer: {"replaced_ids": replaced} for writer in WRITERS},
                    },
                    include_outputs_from={"metadata_resolver", "splitter"},
                )
        except Exception as e:
            if len(batch) > 1:  # find the file that breaks the batch
                return sum(self._index_batch([item], roots, manifest, report) for item in batch)
            report.failed[_source_name(batch[0][0], roots)] = f"{type(e).__name__}: {e}"
            return 0
        converted = {doc.meta.get("file_path") for doc in result.get("metadata_resolver", {}).get("documents", [])}
        chunk_ids: dict[str, list[str]] = {name: [] for name in names}
        for doc in result.get("splitter", {}).get("documents", []):
            chunk_ids.setdefault(str(doc.meta.get("file_path")), []).append(doc.id)
        written = 0
        for (path, fingerprint), name in zip(batch, names, strict=True):
            if name not in converted:
                report.failed[_source_name(path, roots)] = warnings.reason(name)
                continue  # stays pending: the next run tries it again and cleans up what it replaced
            manifest.entries[name] = FileEntry(fingerprint=fingerprint, chunk_ids=chunk_ids[name])
            written += len(chunk_ids[name])
            (report.updated if previous[name] is not None and previous[name].fingerprint else report.added).append(
                _source_name(path, roots)
            )
        manifest.save()
        report.chunks += written
        return written


def index_paths(
    paths: list[Path],
    settings: Settings,
    pipeline: Pipeline | None = None,
    prune: bool = False,
    progress: bool = False,
) -> IndexReport:
    """
    Index every supported file under `paths` through the `indexing` graph (see `Indexer`).

    :param paths: Files and folders.
    :param settings: The configuration.
    :param pipeline: The indexing graph, built when not given.
    :param prune: Delete the chunks of indexed files under `paths` that no longer exist.
    :param progress: Show a progress bar on stderr.
    :returns: The report of the run.
    """
    return Indexer(settings, pipeline).index(paths, prune=prune, progress=progress)
