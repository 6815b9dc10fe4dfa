"""Any converter, run file by file in a child process bounded in memory and time."""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import multiprocessing.forkserver
import os
import resource
import signal
import threading
import zipfile
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict, logging
from haystack.components.converters.utils import normalize_metadata
from haystack.core.serialization import component_from_dict, component_to_dict, import_class_by_name
from haystack.core.serialization_security import allow_deserialization_module
from haystack.dataclasses import ByteStream

logger = logging.getLogger(__name__)

# Imported once by the fork server, so that each child starts with the converters loaded (tens of ms, not seconds).
_PRELOAD = ["haystack", "components.converters"]
_CONTEXT_LOCK = threading.Lock()
_CONTEXT: multiprocessing.context.ForkServerContext | None = None
_MB = 1024 * 1024


class ConversionRefusedError(Exception):
    """A file the bounds refuse, worded for the person who indexed it."""


def _context() -> multiprocessing.context.ForkServerContext:
    """The fork server context: children fork from a clean process, never from the threads of the service."""
    global _CONTEXT  # noqa: PLW0603 (one fork server per process)
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            _CONTEXT = context
        return _CONTEXT


def check_inflated_size(source: str | Path | ByteStream, max_inflated_mb: int) -> None:
    """
    Refuse a zip container (DOCX, XLSX, PPTX, ODS...) whose parts inflate beyond `max_inflated_mb`, before anything
    inflates them: a few kilobytes can hold gigabytes of repeated XML.

    :raises ConversionRefusedError: When the inflated size is over the bound.
    """
    try:
        if isinstance(source, ByteStream):
            archive = zipfile.ZipFile(io.BytesIO(source.data))
        else:
            archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # not a zip container: nothing to inflate
    with archive:
        inflated = sum(info.file_size for info in archive.infolist())
    if inflated > max_inflated_mb * _MB:
        raise ConversionRefusedError(
            f"too large: its parts inflate to {inflated / _MB:,.0f} MB (the limit is {max_inflated_mb} MB)"
        )


def _address_space() -> int:
    """This process's address space now, in bytes (Linux: /proc/self/statm)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def convert_one(converter: Any, source: Any, meta: dict[str, Any]) -> list[Document]:
    """
    One file through the converter; a stream's metadata (a mail attachment's `attachment`, `parent`...) is kept on
    its documents even by converters that keep only `file_path` of it (MarkItDown).
    """
    documents = converter.run(sources=[source], meta=[meta])["documents"]
    if not isinstance(source, ByteStream):
        return documents
    return [replace(d, meta={**source.meta, **meta, **d.meta}) for d in documents]


def _child(
    connection: Connection, definition: dict[str, Any], items: list[tuple[Any, dict[str, Any]]], memory_mb: int
) -> None:
    """
    Runs in the child: build the converter from its definition (a converter may hold what
    cannot be pickled: MarkItDown's ONNX session), then convert the files one by one, sending after each one
    `(status, documents or error, warnings)`, its address space bounded: the parent knows which file a silence or a
    death belongs to.
    """
    import logging as std_logging  # noqa: PLC0415

    warnings: list[str] = []

    class Collect(std_logging.Handler):
        def emit(self, record: std_logging.LogRecord) -> None:
            warnings.append(record.getMessage())

    std_logging.getLogger().addHandler(Collect(std_logging.WARNING))
    try:
        module = definition["type"].rsplit(".", 1)[0]
        allow_deserialization_module(module)  # the parent built it from a graph it was allowed to load
        converter = component_from_dict(import_class_by_name(definition["type"]), definition, "converter")
        if hasattr(converter, "warm_up"):
            converter.warm_up()
        os.setpgrp()  # a group of its own: a timeout kills the programs it started (tesseract) with it
        limit = _address_space() + memory_mb * _MB  # the bound is on converting, not on the imports and the sources
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except Exception as e:
        for _ in items:
            connection.send(("error", f"the converter could not start: {type(e).__name__}: {e}", []))
        connection.close()
        return
    try:
        for source, meta in items:
            warnings.clear()
            try:
                documents = convert_one(converter, source, meta)
                connection.send(("ok", documents, list(warnings)))
            except MemoryError:
                connection.send(("memory", [], list(warnings)))
            except Exception as e:  # reported to the parent, which logs it with the file's name
                connection.send(("error", f"{type(e).__name__}: {e}", list(warnings)))
    finally:
        connection.close()


@component
class IsolatedConverter:
    """
    Runs another converter on one file at a time in a child process with a memory bound (`RLIMIT_AS`) and a time
    bound, after refusing zip containers whose parts inflate beyond a size: a crafted or broken file fails alone,
    with a reason a person understands, and neither the service nor the rest of the batch goes down with it.

    ### Usage example
    ```python
    from components.converters import IsolatedConverter, SpreadsheetToDocument

    converter = IsolatedConverter(SpreadsheetToDocument(), timeout_s=120, memory_mb=2048)
    documents = converter.run(sources=["DQE.xlsx"])["documents"]
    ```

    A file refused or killed is logged as a warning naming its path (`Could not read <path>: <reason>`), which the
    indexer reports as the file's failure. Children fork from a fork server that has the converters imported.
    """

    def __init__(
        self,
        converter: Any,
        timeout_s: float = 120.0,
        memory_mb: int = 2048,
        max_inflated_mb: int = 512,
        isolate: bool = True,
    ) -> None:
        """
        :param converter: The converter component (its `run` takes `sources` and `meta`, returns `documents`).
        :param timeout_s: Seconds one file may take to convert.
        :param memory_mb: Address space the child may add to what it holds once started, in MiB.
        :param max_inflated_mb: Largest total inflated size of a zip container's parts, in MiB.
        :param isolate: Run the converter in a child process; off, it runs in this process with only the zip check
            (for debugging).
        """
        if timeout_s <= 0 or memory_mb <= 0 or max_inflated_mb <= 0:
            raise ValueError("timeout_s, memory_mb and max_inflated_mb must be positive")
        self.converter = converter
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.max_inflated_mb = max_inflated_mb
        self.isolate = isolate
        self._definition = component_to_dict(converter, "converter")

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self,
            converter=self._definition,
            timeout_s=self.timeout_s,
            memory_mb=self.memory_mb,
            max_inflated_mb=self.max_inflated_mb,
            isolate=self.isolate,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IsolatedConverter:
        params = data.get("init_parameters", {})
        inner = params.get("converter")
        if isinstance(inner, dict):
            params["converter"] = component_from_dict(import_class_by_name(inner["type"]), inner, "converter")
        return default_from_dict(cls, data)

    def warm_up(self) -> None:
        """Start the fork server (once per process), so the first file does not wait for it."""
        if self.isolate:
            _context()
            multiprocessing.forkserver.ensure_running()
        elif hasattr(self.converter, "warm_up"):
            self.converter.warm_up()

    @component.output_types(documents=list[Document])
    def run(
        self, sources: list[str | Path | ByteStream], meta: dict[str, Any] | list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """
        :param sources: File paths or ByteStreams.
        :param meta: Metadata for every document, or one dict per source.
        :returns: `documents`: what the converter made of every file it could read within the bounds.
        """
        items: list[tuple[Any, dict[str, Any]]] = []
        for source, metadata in zip(sources, normalize_metadata(meta, sources_count=len(sources)), strict=True):
            try:
                check_inflated_size(source, self.max_inflated_mb)
                items.append((source, metadata))
            except ConversionRefusedError as e:
                self._refused(source, str(e))
        if not self.isolate:
            documents = []
            for source, metadata in items:
                documents.extend(convert_one(self.converter, source, metadata))
            return {"documents": documents}
        return {"documents": self._convert_in_children(items)}

    @staticmethod
    def _refused(source: Any, reason: str) -> None:
        name = source.meta.get("file_path", "a stream") if isinstance(source, ByteStream) else str(source)
        logger.warning("Could not read {source}: {reason}", source=name, reason=reason)

    def _convert_in_children(self, items: list[tuple[Any, dict[str, Any]]]) -> list[Document]:
        """
        Convert the files in one child; a file that takes too long or kills the child fails alone, and a new child
        goes on with the files after it.
        """
        documents: list[Document] = []
        context = _context()
        position = 0
        while position < len(items):
            receiver, sender = context.Pipe(duplex=False)
            child = context.Process(  # the converter's definition and the sources travel pickled
                target=_child, args=(sender, self._definition, items[position:], self.memory_mb), daemon=True
            )
            child.start()
            sender.close()
            try:
                while position < len(items):
                    source = items[position][0]
                    if not receiver.poll(self.timeout_s):
                        self._refused(
                            source,
                            f"too slow: converting it took over {self.timeout_s:g} s (indexing.limits.timeout_s)",
                        )
                        position += 1
                        break
                    try:
                        status, payload, warnings = receiver.recv()
                    except (EOFError, OSError):  # the child died, before or while sending: memory, native crash
                        child.join(5)
                        self._refused(source, self._death(child.exitcode))
                        position += 1
                        break
                    position += 1
                    for warning in warnings:
                        logger.warning("{text}", text=warning)
                    if status == "ok":
                        documents.extend(payload)
                    elif status == "memory":
                        self._refused(
                            source,
                            f"too large: converting it needed more than {self.memory_mb} MB "
                            "(indexing.limits.memory_mb)",
                        )
                    else:
                        self._refused(source, str(payload))
            finally:
                if child.is_alive():
                    with contextlib.suppress(ProcessLookupError):  # its group: tesseract and any other helper
                        os.killpg(child.pid, signal.SIGKILL)
                    child.kill()
                child.join(5)
                receiver.close()
        return documents

    def _death(self, exitcode: int | None) -> str:
        if exitcode is not None and exitcode < 0:
            return (
                f"too large or broken: the conversion was killed (signal {-exitcode}) within its "
                f"{self.memory_mb} MB memory limit"
            )
        return f"the conversion stopped unexpectedly (exit code {exitcode})"
