"""Index files and folders through the `indexing` graph, incrementally.

A file is identified by its path and a fingerprint of its content (plus the metadata files and indexing settings
that shape its chunks). Unchanged files are skipped without converting or embedding anything. A new or changed
file goes through the graph, whose writers replace the file's previous chunks in both stores. With `prune`, the
chunks of files that disappeared from the indexed folders are deleted. The manifest (`Manifest`) is saved
atomically after every batch and marks files in flight as pending, so a run killed at any point and run again ends
with exactly the chunks of an uninterrupted run. One run at a time writes a data folder's stores and manifest: a
run waits for another one (`rag index`, an upload, a run handed to the service) to end.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import mimetypes
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from haystack import Document, Pipeline
from haystack.dataclasses import ByteStream
from haystack.utils.misc import CUSTOM_MIMETYPES, _guess_mime_type
from tqdm import tqdm

from components.preprocessors.document_metadata_resolver import FOLDER_META_NAMES, SIDECAR_SUFFIXES, metadata_files
from indexing.manifest import FileEntry, Manifest
from service.gateway.cache import bump_index_generation
from service.pipelines import build_pipeline
from service.settings import Settings

PIPELINE_NAME = "indexing"
ROUTER = "router"  # the graph's node that sends each file to its converter by type
WRITERS = ("vector_writer", "bm25_writer")


@dataclass
class IndexReport:
    """What a run did, file by file: every file found is indexed, unchanged, skipped, without text or failed."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    deleted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # gone from disk, kept because `prune` was off
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # not read: an unsupported type, a link out of the folder
    no_text: dict[str, str] = field(default_factory=dict)  # read, but no text came out (a scan with OCR off...)
    file_chunks: dict[str, int] = field(default_factory=dict)  # chunks of each added or updated file
    notes: dict[str, list[str]] = field(default_factory=dict)  # per file: OCR pages, attachments left out...
    stopped: int = 0  # files left to index when the run was stopped
    chunks: int = 0
    seconds: float = 0.0

    @property
    def files(self) -> int:
        """Files whose chunks are in the stores after the run."""
        return len(self.added) + len(self.updated) + self.unchanged

    def file_lines(self) -> list[str]:
        """A line per file not unchanged: `indexed (n chunks)`, `skipped: ...`, `no text (...)`, `failed: ...`."""
        lines = []
        for name in [*self.added, *self.updated]:
            count = self.file_chunks.get(name, 0)
            notes = "".join(f"; {note}" for note in self.notes.get(name, []))
            lines.append(f"  indexed: {name} ({count} chunk{'s' if count != 1 else ''}{notes})")
        lines += [f"  skipped: {name}: {reason}" for name, reason in self.skipped.items()]
        lines += [f"  no text: {name} ({reason})" for name, reason in self.no_text.items()]
        lines += [f"  failed: {name}: {reason}" for name, reason in self.failed.items()]
        return lines

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (the upload endpoint's answer)."""
        return {
            "files": self.files,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "missing": self.missing,
            "failed": self.failed,
            "skipped": self.skipped,
            "no_text": self.no_text,
            "file_chunks": self.file_chunks,
            "notes": self.notes,
            "stopped": self.stopped,
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "summary": self.summary(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexReport:
        """The report `to_dict` gave (a run the service did for `rag index`)."""
        return cls(
            added=list(data.get("added", [])),
            updated=list(data.get("updated", [])),
            unchanged=int(data.get("unchanged", 0)),
            deleted=list(data.get("deleted", [])),
            missing=list(data.get("missing", [])),
            failed=dict(data.get("failed", {})),
            skipped=dict(data.get("skipped", {})),
            no_text=dict(data.get("no_text", {})),
            file_chunks={str(k): int(v) for k, v in data.get("file_chunks", {}).items()},
            notes={str(k): list(v) for k, v in data.get("notes", {}).items()},
            stopped=int(data.get("stopped", 0)),
            chunks=int(data.get("chunks", 0)),
            seconds=float(data.get("seconds", 0.0)),
        )

    def summary(self) -> str:
        text = (
            f"{self.files} files indexed ({len(self.added)} added, {len(self.updated)} updated, "
            f"{self.unchanged} unchanged), {len(self.skipped)} skipped, {len(self.no_text)} without text, "
            f"{len(self.failed)} failed, {len(self.deleted)} deleted; "
            f"{self.chunks} chunks written in {self.seconds:.1f} s"
        )
        lines = self.file_lines()
        if lines:
            text += "\n" + "\n".join(lines)
        if self.stopped:
            text += f"\n  stopped: {self.stopped} files not indexed (run again to index them)"
        if self.missing:
            text += f"\n  {len(self.missing)} indexed files no longer exist (run with --prune to delete their chunks)"
        return text


def _is_metadata_file(path: Path) -> bool:
    return path.name in FOLDER_META_NAMES or path.name.endswith(SIDECAR_SUFFIXES)


def _is_candidate(path: Path) -> bool:
    return not _is_metadata_file(path) and not path.name.startswith(".")


def collect_files(paths: Iterable[Path]) -> list[Path]:
    """
    Every file under the given files and folders, in a stable order, metadata files and hidden files excluded:
    the files a type cannot be read for are reported as skipped, never left out in silence.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file() and _is_candidate(p.relative_to(path)))
        elif path.is_file() and _is_candidate(path):
            found.append(path)
        elif not path.exists():
            raise FileNotFoundError(f"No such file or folder: {path}")
    return found


def supported_suffixes(router: Any) -> set[str]:
    """The file name suffixes the indexing graph's router sends to a converter (the upload route's gate)."""
    candidates = set(mimetypes.types_map) | set(CUSTOM_MIMETYPES) | set(router_suffixes(router))
    return {suffix for suffix in candidates if _routed(router, Path("file" + suffix))}


def router_suffixes(router: Any) -> list[str]:
    """The suffixes the router's `additional_mimetypes` adds."""
    return list((getattr(router, "_additional_mimetypes", None) or {}).values())


def _routed(router: Any, path: Path) -> bool:
    mime_type = _guess_mime_type(path)
    return bool(mime_type) and any(
        mime_type == key or pattern.fullmatch(mime_type)
        for key, pattern in zip(router.mime_types, router.mime_type_patterns, strict=True)
    )


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
    shaping = {"indexing": settings.indexing.model_dump(exclude={"batch_files", "upload_dir", "limits"})}
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


@contextmanager
def one_run_at_a_time(manifest: Path, on_wait: Callable[[], None]) -> Iterator[None]:
    """
    Hold the manifest's lock file for a run: another run on the same manifest, in this process or another, waits.

    :param manifest: The manifest file (its lock is `<manifest>.lock`).
    :param on_wait: Called once when another run holds the lock, before waiting for it.
    """
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with open(manifest.with_name(manifest.name + ".lock"), "a+b") as lock:  # an open file of its own: threads wait too
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


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


# The converters' "Could not read <path>. Skipping it. Error: <error>" (Haystack's) and "Could not read <path>: ..."
_READ_FAILURE = re.compile(r"^Could not (?:read|convert) .*?(?:\. Skipping it\. Error: |: )", re.DOTALL)


class _ConversionWarnings(logging.Handler):
    """Keeps the converters' warnings during a run, to say why a file could not be read."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def about(self, path: str) -> list[str]:
        """The warnings that name a file, its path left out (the report names the file)."""
        found = []
        for message in self.messages:
            if path in message:
                text = _READ_FAILURE.sub("", message).replace(path, Path(path).name).strip()
                if text and text not in found:
                    found.append(text)
        return found

    def reason(self, path: str) -> str:
        """Why a file gave no document: the first warning that names it."""
        found = self.about(path)
        return found[0] if found else "no text could be extracted from it"


@contextmanager
def _capture_warnings() -> Iterator[_ConversionWarnings]:
    handler = _ConversionWarnings()
    loggers = [logging.getLogger(name) for name in ("haystack", "haystack_integrations", "components")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


@dataclass(frozen=True)
class IndexProgress:
    """Where a run is: waiting for another run, or `files` of `total` files to index done, `chunks` written."""

    waiting: bool = False
    files: int = 0
    total: int = 0
    chunks: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"waiting": self.waiting, "files": self.files, "total": self.total, "chunks": self.chunks}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexProgress:
        return cls(
            waiting=bool(data.get("waiting")),
            files=int(data.get("files", 0)),
            total=int(data.get("total", 0)),
            chunks=int(data.get("chunks", 0)),
        )


class ProgressBar:
    """Shows a run's progress on stderr: a bar of files, with chunks, rate and ETA (fed `IndexProgress` events)."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None
        self.started = time.perf_counter()

    def __call__(self, progress: IndexProgress) -> None:
        if progress.waiting:
            print("Waiting for another indexing run on these stores to end...", file=sys.stderr, flush=True)
            return
        if self.bar is None:
            if not progress.total:
                return
            self.started = time.perf_counter()
            self.bar = tqdm(total=progress.total, unit="file", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)
        rate = progress.chunks / max(time.perf_counter() - self.started, 1e-9)
        self.bar.set_postfix_str(f"{progress.chunks} chunks, {rate:.1f} chunks/s", refresh=False)
        self.bar.update(progress.files - self.bar.n)

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

    def index(
        self,
        paths: list[Path],
        prune: bool = False,
        progress: bool = False,
        *,
        on_progress: Callable[[IndexProgress], None] | None = None,
        stop: threading.Event | None = None,
        source_root: Path | None = None,
        force: bool = False,
    ) -> IndexReport:
        """
        Index every supported file under `paths`.

        :param paths: Files and folders.
        :param prune: Delete the chunks of previously indexed files under `paths` that no longer exist.
        :param progress: Show a progress bar on stderr.
        :param on_progress: Called when the run waits for another one, once the files to index are known, and after
            every batch.
        :param stop: When set, the run ends after the batch in progress (the files left are counted in `stopped`).
        :param source_root: The folder the files' sources are named from and `_meta.yml` files read from (default:
            each of `paths`); files gone from it are looked for under `paths` only.
        :param force: Convert and embed the files again even when unchanged (`POST /documents/{id}/reindex`).
        :returns: The report of the run.
        """
        bar = ProgressBar() if progress else None
        listeners = [listener for listener in (bar, on_progress) if listener is not None]

        def tell(event: IndexProgress) -> None:
            for listener in listeners:
                listener(event)

        try:
            with one_run_at_a_time(manifest_path(self.settings), lambda: tell(IndexProgress(waiting=True))):
                return self._index(paths, prune, tell, stop, source_root, force=force)
        finally:
            if bar is not None:
                bar.close()

    def _index(
        self,
        paths: list[Path],
        prune: bool,
        tell: Callable[[IndexProgress], None],
        stop: threading.Event | None,
        source_root: Path | None = None,
        *,
        force: bool = False,
    ) -> IndexReport:
        started = time.perf_counter()
        scanned = [p.resolve() for p in paths]
        roots = [source_root.resolve()] if source_root is not None else scanned
        files = collect_files(scanned)
        manifest = Manifest.load(manifest_path(self.settings))
        report = IndexReport()
        self._recover_pending(manifest)
        todo = self._classify(files, roots, manifest, report, force)
        data_dir = self.settings.resolve_path(self.settings.stores.data_dir)
        try:
            self._handle_missing(manifest, scanned, prune, report)
        finally:
            if report.deleted:
                bump_index_generation(data_dir)  # cached answers from before a change must not be served again
        done = 0
        tell(IndexProgress(total=len(todo)))
        batch_size = self.settings.indexing.batch_files
        for start in range(0, len(todo), batch_size):
            if stop is not None and stop.is_set():
                report.stopped = len(todo) - start
                break
            batch = todo[start : start + batch_size]
            try:
                self._index_batch(batch, roots, manifest, report)
            finally:  # each batch's chunks are answered from at once, even when a later batch fails
                bump_index_generation(data_dir)
            done += len(batch)
            tell(IndexProgress(files=done, total=len(todo), chunks=report.chunks))
        report.seconds = time.perf_counter() - started
        return report

    def _classify(
        self, files: list[Path], roots: list[Path], manifest: Manifest, report: IndexReport, force: bool = False
    ) -> list[tuple[Path, str]]:
        """Report the files refused or unchanged; returns the files to convert, with their fingerprints."""
        todo: list[tuple[Path, str]] = []
        for path in files:
            source = _source_name(path, roots)
            refused = self._refusal(path, roots)
            if refused is not None:
                kind, reason = refused
                {"skipped": report.skipped, "failed": report.failed, "no_text": report.no_text}[kind][source] = reason
                self._record_refusal(manifest, path, kind, reason, source)
                continue
            try:
                fingerprint = file_fingerprint(path, _root_of(path, roots), self.shaping)
            except OSError as e:
                report.failed[source] = e.strerror or str(e)
                continue
            entry = manifest.entries.get(str(path))
            same = entry is not None and not entry.pending and entry.fingerprint == fingerprint and not force
            if same and entry.status == "no_text":
                report.no_text[source] = entry.reason  # never counted as indexed: it holds no chunk
            elif same and entry.status == "indexed":
                report.unchanged += 1
            else:
                todo.append((path, fingerprint))
        if report.skipped or report.failed or report.no_text:
            manifest.save()
        return todo

    def supported_suffixes(self) -> set[str]:
        """The file name suffixes this graph reads."""
        return supported_suffixes(self.pipeline.get_component(ROUTER))

    def _refusal(self, path: Path, roots: list[Path]) -> tuple[str, str] | None:
        """Why a file is not converted at all: ("skipped" or "failed", reason), or None when it is to be read."""
        root = _root_of(path, roots)
        if path.is_symlink() and root is not None and not path.resolve().is_relative_to(root):
            return "skipped", "a link to a file outside the indexed folder"
        if not _routed(self.pipeline.get_component(ROUTER), path):
            return "skipped", f"unsupported type {path.suffix.lower() or '(no extension)'}"
        limit = self.settings.indexing.limits.max_file_mb
        try:
            size = path.stat().st_size
        except OSError as e:
            return "failed", e.strerror or str(e)
        if size > limit * 1024 * 1024:
            return "failed", f"too large: {size / 1024 / 1024:,.0f} MB (the limit is {limit} MB)"
        if size == 0:
            return "no_text", "empty file"
        return None

    def _record_refusal(self, manifest: Manifest, path: Path, kind: str, reason: str, source: str = "") -> None:
        """
        Keep a refused file in the manifest with its status. The chunks of a version indexed before are deleted:
        a file emptied, grown past the limit or turned into a link out of the folder no longer answers.
        """
        entry = manifest.entries.get(str(path))
        if entry is not None and (entry.chunk_ids or entry.pending):
            self._retire(str(path), entry)
        manifest.entries[str(path)] = FileEntry(status=kind, reason=reason, source=source)

    def _retire(self, name: str, entry: FileEntry) -> None:
        """Delete a file's chunks from both stores (those the manifest lists, and any a killed run left)."""
        for store in _writer_stores(self.pipeline):
            if entry.chunk_ids:
                store.delete_documents(entry.chunk_ids)
            if entry.pending:
                store.delete_by_filter(_file_filter(name))
        bump_index_generation(self.settings.resolve_path(self.settings.stores.data_dir))

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
        held_nothing = [n for n in gone if not manifest.entries[n].chunk_ids and not manifest.entries[n].pending]
        for name in held_nothing:
            del manifest.entries[name]  # a skipped or textless file that is gone held nothing: forgotten quietly
            gone.remove(name)
        if held_nothing:
            manifest.save()
        if not prune:
            report.missing = gone
            return
        for name in gone:
            entry = manifest.entries[name]
            self._retire(name, entry)
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
                result = self.pipeline.run(  # fed by input name: `sources` goes to the graph's head, whatever it is
                    {"sources": names, "roots": [str(r) for r in roots if r.is_dir()], "replaced_ids": replaced},
                    include_outputs_from={"metadata_resolver", "splitter"},
                )
        except Exception as e:
            if len(batch) > 1:  # find the file that breaks the batch
                return sum(self._index_batch([item], roots, manifest, report) for item in batch)
            reason = f"{type(e).__name__}: {e}"
            report.failed[_source_name(batch[0][0], roots)] = reason
            entry = manifest.entries[names[0]]  # stays pending: the next run tries it again
            entry.status, entry.reason, entry.source = "failed", reason, _source_name(batch[0][0], roots)
            manifest.save()
            return 0
        converted: dict[str, list[Document]] = {}
        for doc in result.get("metadata_resolver", {}).get("documents", []):
            converted.setdefault(str(doc.meta.get("file_path")), []).append(doc)
        chunk_ids: dict[str, list[str]] = {name: [] for name in names}
        for doc in result.get("splitter", {}).get("documents", []):
            chunk_ids.setdefault(str(doc.meta.get("file_path")), []).append(doc.id)
        left_out = _unrouted_attachments(result.get(ROUTER, {}))
        written = 0
        for (path, fingerprint), name in zip(batch, names, strict=True):
            source = _source_name(path, roots)
            if not any(not d.meta.get("attachment") for d in converted.get(name, [])):  # the file itself failed
                reason = warnings.reason(name)
                report.failed[source] = reason
                entry = manifest.entries[name]  # stays pending: the next run tries it again and cleans up
                entry.status, entry.reason, entry.source = "failed", reason, source
                continue
            documents = converted[name]
            ocr = any(doc.meta.get("ocr") for doc in documents)
            notes = _conversion_notes(documents, left_out.get(name, []), warnings.about(name))
            if not chunk_ids[name]:
                reason = next((str(d.meta["no_text_reason"]) for d in documents if d.meta.get("no_text_reason")), "")
                report.no_text[source] = reason or "no text found in it"
                manifest.entries[name] = FileEntry(
                    fingerprint=fingerprint, status="no_text", reason=report.no_text[source], ocr=ocr, source=source
                )
                continue
            manifest.entries[name] = FileEntry(
                fingerprint=fingerprint, chunk_ids=chunk_ids[name], ocr=ocr, source=source, indexed_at=time.time()
            )
            written += len(chunk_ids[name])
            report.file_chunks[source] = len(chunk_ids[name])
            if notes:
                report.notes[source] = notes
            (report.updated if previous[name] is not None and previous[name].fingerprint else report.added).append(
                source
            )
        manifest.save()
        report.chunks += written
        return written


def _unrouted_attachments(router_output: dict[str, Any]) -> dict[str, list[str]]:
    """Attachments of a mail that no converter reads, by the mail's file path."""
    found: dict[str, list[str]] = {}
    for source in router_output.get("unclassified", []):
        if isinstance(source, ByteStream) and source.meta.get("attachment"):
            found.setdefault(str(source.meta.get("file_path")), []).append(str(source.meta["attachment"]))
    return found


def _conversion_notes(documents: list[Document], unrouted: list[str], warnings: list[str]) -> list[str]:
    """What a person should know about a file that was indexed: pages read by OCR, attachments, what was left out."""
    notes = []
    ocr_pages = sorted({int(p) for d in documents for p in d.meta.get("ocr_pages") or []})
    if ocr_pages:
        notes.append(f"OCR on page{'s' if len(ocr_pages) > 1 else ''} {', '.join(map(str, ocr_pages))}")
    attachments = [str(d.meta["attachment"]) for d in documents if d.meta.get("attachment")]
    if attachments:
        notes.append(f"attachments indexed: {', '.join(attachments)}")
    notes += [f"attachment {name} skipped: unsupported type" for name in unrouted]
    notes += warnings
    return notes


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


_SHARED_INDEXERS: dict[Path, Indexer] = {}
_SHARED_LOCK = threading.Lock()


def shared_indexer(settings: Settings) -> Indexer:
    """
    The process's one `Indexer` for this configuration's manifest: the service's routes that index (uploads, runs
    handed over by `rag index`) share its graph, so its embedder loads once.
    """
    with _SHARED_LOCK:
        key = manifest_path(settings)
        if key not in _SHARED_INDEXERS:
            _SHARED_INDEXERS[key] = Indexer(settings)
        return _SHARED_INDEXERS[key]
