"""
Files received over HTTP: kept in `indexing.upload_dir`, one folder per uploader, and indexed like any other file.

An uploaded file belongs to its uploader: it lands in the uploader's own folder (the same name from two users is two
documents), and a sidecar `<file>.meta.yml` written here, which outranks the file's own front matter, holds the
metadata that decides who may see it (`service.gateway.access.upload_access_meta`).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from components.preprocessors.document_metadata_resolver import FOLDER_META_NAMES, SIDECAR_SUFFIXES

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")


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
    if name.lower().endswith(SIDECAR_SUFFIXES) or name.lower() in FOLDER_META_NAMES:
        raise UploadError(f"'{name}': metadata files cannot be uploaded")
    if Path(name).suffix.lower() not in supported:
        listed = ", ".join(sorted(supported))
        raise UploadError(f"'{name}': unsupported file type (supported: {listed})")
    return name


def owner_folder(upload_dir: Path, owner: str) -> Path:
    """The uploader's own folder under `upload_dir` (its name made safe: no separators, no leading dot)."""
    safe = _UNSAFE.sub("_", owner).lstrip(".") or "_"
    return upload_dir / safe[:100]


def check_batch(filenames: list[str | None], supported: set[str]) -> list[str]:
    """
    The names a batch of files is kept under, checked all before any is written: a refused file refuses the batch.

    :raises UploadError: naming every refused file.
    """
    names, problems = [], []
    for filename in filenames:
        try:
            names.append(upload_name(filename, supported))
        except UploadError as e:
            problems.append(str(e))
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"sent twice in one upload: {', '.join(duplicates)}")
    if problems:
        raise UploadError("Nothing was saved: " + "; ".join(problems))
    return names


def _write_atomically(target: Path, content: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload.", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(content)
    os.replace(tmp, target)


def save_upload(folder: Path, name: str, content: bytes, access_meta: dict[str, Any] | None = None) -> Path:
    """
    Write an uploaded file into `folder` atomically (a file of the same name is replaced: a new version), with its
    access metadata as a sidecar.

    :param folder: The uploader's folder (`owner_folder`).
    :param name: The checked name (`check_batch`).
    :param content: The file's bytes.
    :param access_meta: The fields the file may not set itself (`upload_access_meta`).
    :returns: The path of the saved file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if access_meta is not None:
        sidecar = yaml.safe_dump(access_meta, allow_unicode=True, sort_keys=True).encode("utf-8")
        _write_atomically(folder / f"{name}{SIDECAR_SUFFIXES[0]}", sidecar)
    _write_atomically(target, content)
    return target
