"""Files received over HTTP, kept in `indexing.upload_dir` and indexed like any other file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class UploadError(ValueError):
    """An upload that cannot be accepted, worded for the client (a 400)."""


def upload_name(filename: str | None, supported: set[str]) -> str:
    """
    The name an uploaded file is kept under: its base name, checked for a supported type.

    :param filename: The client's file name.
    :param supported: The suffixes the indexing graph reads (`Indexer.supported_suffixes()`).
    """
    name = Path((filename or "").replace("\\", "/")).name.strip()
    if not name or name.startswith("."):
        raise UploadError(f"'{filename}' is not a usable file name")
    if Path(name).suffix.lower() not in supported:
        listed = ", ".join(sorted(supported))
        raise UploadError(f"'{name}': unsupported file type (supported: {listed})")
    return name


def save_upload(folder: Path, filename: str | None, content: bytes, supported: set[str]) -> Path:
    """
    Write an uploaded file into `folder` atomically (a file of the same name is replaced: a new version).

    :param folder: The upload folder.
    :param filename: The client's file name.
    :param content: The file's bytes.
    :param supported: The suffixes the indexing graph reads.
    :returns: The path of the saved file.
    """
    target = folder / upload_name(filename, supported)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload.", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(content)
    os.replace(tmp, target)
    return target
