"""
Indexing throughput benchmark, through the product's own `indexing` graph and indexer.

    .venv/bin/python bench/indexing.py                       # spf-qr + piaf-v1.1, stores on /dev/shm
    .venv/bin/python bench/indexing.py --limit 200           # the first 200 documents of each set
    .venv/bin/python bench/indexing.py --data-dir var/bench  # stores on disk

Every document of the BEIR sets is written as a Markdown file (`# title`, then the text) into a temporary folder,
then indexed by `indexing.Indexer` into fresh embedded stores (Qdrant Edge and the BM25 store). It prints
files/s and chunks/s end to end (models already loaded), the embedder's own throughput on the same chunks in the
same run (the graph's embedder component run again on each batch's chunks right after the graph, so that load
drift affects both alike; that extra time is taken out of the end-to-end time), their ratio (target >= 0.85), the
time per component, and the time of a second run over the unchanged corpus as a share of the first (target < 5%).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from component_timer import ComponentTimer  # noqa: E402  (bench/, the folder of this script)
from haystack import tracing  # noqa: E402

from indexing import Indexer  # noqa: E402
from service.settings import load_settings  # noqa: E402

DEFAULT_SETS = ["spf-qr", "piaf-v1.1"]
SHARED_BENCH = PROJECT_ROOT.parent / "shared" / "bench"


class EmbedderAlone:
    """
    Times the graph's embedder alone on each batch's chunks, right after the graph ran that batch: the two
    throughputs are measured on the same chunks, interleaved, so that the machine's load affects both alike.
    """

    def __init__(self, indexer: Indexer) -> None:
        self.embedder = indexer.pipeline.get_component("document_embedder")
        self.chunks = 0
        self.seconds = 0.0
        self._run = indexer.pipeline.run
        indexer.pipeline.run = self.run  # type: ignore[method-assign]

    def run(self, data: dict[str, Any], include_outputs_from: set[str] | None = None) -> dict[str, Any]:
        result = self._run(data, include_outputs_from=(include_outputs_from or set()) | {"figure_detector"})
        documents = result["figure_detector"]["documents"]
        started = time.perf_counter()
        self.embedder.run(documents=documents)  # called directly: not a graph component run for the timer
        self.seconds += time.perf_counter() - started
        self.chunks += len(documents)
        return result


def write_corpus(sets: list[Path], folder: Path, limit: int | None) -> int:
    """Each document of each BEIR set as `<folder>/<set>/<id>.md`; returns the number of files."""
    count = 0
    for dataset in sets:
        target = folder / dataset.name
        target.mkdir(parents=True, exist_ok=True)
        with (dataset / "corpus.jsonl").open(encoding="utf-8") as f:
            for i, line in enumerate(f):
                if limit is not None and i >= limit:
                    break
                doc = json.loads(line)
                name = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(doc["_id"]))
                title = (doc.get("title") or "").strip()
                text = f"# {title}\n\n{doc['text']}\n" if title else f"{doc['text']}\n"
                (target / f"{name}.md").write_text(text, encoding="utf-8")
                count += 1
    return count


def print_figures(first: Any, second: Any, chunks: int, embed_seconds: float, batch_files: int) -> None:
    """The benchmark's figures: end to end, embedder alone, their ratio, and the re-run."""
    e2e_rate = first.chunks / first.seconds
    embed_rate = chunks / embed_seconds
    print()
    files_rate = first.files / first.seconds
    print(f"files          {first.files}   chunks {first.chunks}   batch_files {batch_files}")
    print(f"end to end     {first.seconds:8.1f} s   {files_rate:7.2f} files/s   {e2e_rate:7.2f} chunks/s")
    print(f"embedder alone {embed_seconds:8.1f} s   {'':>13}   {embed_rate:7.2f} chunks/s  ({chunks} chunks)")
    print(f"ratio          {e2e_rate / embed_rate:8.3f}   (end to end / embedder alone, chunks/s; target >= 0.85)")
    print(
        f"re-run         {second.seconds:8.2f} s   {100 * second.seconds / first.seconds:6.2f}% of the first run"
        f"   ({second.unchanged} unchanged, {second.chunks} chunks written; target < 5%)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="*", help=f"BEIR folders (default: {', '.join(DEFAULT_SETS)} in ../shared/bench)")
    parser.add_argument("--limit", type=int, default=None, help="documents per set (default: all)")
    parser.add_argument("--data-dir", type=Path, default=None, help="stores folder (default: a fresh one on /dev/shm)")
    parser.add_argument("--batch-files", type=int, default=None, help="files per graph run (default: hayhooks.yml)")
    args = parser.parse_args()

    sets = [Path(s) for s in args.sets] or [SHARED_BENCH / name for name in DEFAULT_SETS]
    shm = Path("/dev/shm")  # noqa: S108 - tmpfs: the embedded Qdrant commits every point (see --data-dir)
    scratch = Path(tempfile.mkdtemp(prefix="btp-rag-indexing-bench-", dir=shm if shm.is_dir() else None))
    data_dir = args.data_dir or scratch / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    try:
        files = write_corpus(sets, scratch / "corpus", args.limit)
        settings = load_settings()
        indexing = settings.indexing
        if args.batch_files:
            indexing = indexing.model_copy(update={"batch_files": args.batch_files})
        stores = settings.stores.model_copy(update={"mode": "embedded", "data_dir": str(data_dir.resolve())})
        settings = settings.model_copy(update={"stores": stores, "indexing": indexing})
        print(f"corpus: {files} files from {', '.join(s.name for s in sets)}; stores in {data_dir}", flush=True)

        indexer = Indexer(settings)
        started = time.perf_counter()
        indexer.warm_up()
        print(f"models loaded in {time.perf_counter() - started:.1f} s", flush=True)
        timer = ComponentTimer()
        alone = EmbedderAlone(indexer)
        tracing.enable_tracing(timer)
        first = indexer.index([scratch / "corpus"], progress=True)
        tracing.disable_tracing()
        first.seconds -= alone.seconds  # the run without the extra embedding done for the comparison
        print(first.summary().splitlines()[0], flush=True)
        parts = sorted(timer.seconds.items(), key=lambda kv: -kv[1])
        print("time per component: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in parts), flush=True)
        if first.failed:
            print(f"  {len(first.failed)} failed, e.g. {next(iter(first.failed.items()))}")
        chunks, embed_seconds = alone.chunks, alone.seconds
        share = timer.seconds.get("document_embedder", 0.0) / first.seconds
        print(f"the graph's embedder ran {100 * share:.1f}% of the end-to-end time (everything else: the rest)")
        second = indexer.index([scratch / "corpus"])
        print_figures(first, second, chunks, embed_seconds, settings.indexing.batch_files)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
