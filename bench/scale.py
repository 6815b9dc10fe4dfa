"""
The embedded default at scale: one table row per index size (e.g. 10k, 100k, 1M chunks).

    .venv/bin/python bench/scale.py ../shared/bench/cnil-faq --split paraphrase --max-queries 100 \
        --sizes 10000 100000 1000000

Each index is a shared set indexed by the product's own indexing path (`bench/retrieval.py`), filled up to the size
with distractors of real French text (`bench/distractors.py`; `--pad-text words` for the old word salad) written
by the indexing graph's own writers, each writer timed alone. For each size:
- write throughput of each store alone (distractor chunks per second, vectors given, nothing embedded);
- disk of each store (the data folder's entries);
- retrieval quality of the default graph without the cross-encoder (nDCG@10 of the benchmarked set, which the
  distractors cannot answer) and latency per query without the query embedding (p50 / p95), with the dense and
  BM25 nodes alone;
- memory: the resident size of the measuring process (one per size) after the graph answered every query (the
  stores and models the service holds), and of `rag serve --no-llm` once it answers;
- start-up: seconds from `rag serve --no-llm` to its first `/health` answer (models loaded, stores opened).
Indexes are kept under `--data-root` (default var/bench/scale, on disk as a deployment's would be) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

import retrieval as bench  # noqa: E402  (bench/, the folder of this script)
from component_timer import ComponentTimer  # noqa: E402
from haystack import tracing  # noqa: E402
from served import free_port, rag_serve  # noqa: E402

from service.settings import config_path  # noqa: E402
from service.store_registry import forget_document_stores  # noqa: E402

SERVE_TIMEOUT = 600.0


def folder_bytes(path: Path) -> int:
    """Bytes on disk (allocated blocks, as `du`: Qdrant preallocates sparse files far larger than what they hold)."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_blocks * 512 for p in files)


def store_sizes(data_dir: Path) -> dict[str, int]:
    """Bytes of each store in the data folder (what is not the benchmark's own files)."""
    skip = {"corpus", "bench-index.json"}
    return {
        p.name: folder_bytes(p)
        for p in sorted(data_dir.iterdir())
        if p.name not in skip and not p.name.startswith("manifest")
    }


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of a process and its children, in MB (`field`: `VmRSS` now, `VmHWM` its peak so far)."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith(f"{field}:"))
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (OSError, StopIteration):
            continue
        pids += [int(c) for c in children]
    return total / 1024


def serve_startup(data_dir: Path) -> tuple[float, float, float]:
    """(seconds until `rag serve --no-llm` answers /health, its resident MB then, its peak MB until then)."""
    port = free_port()
    env = {
        "RAG_STORES__MODE": "embedded",
        "RAG_STORES__DATA_DIR": str(data_dir),
        "RAG_SERVER__PORT": str(port),
        "RAG_SERVER__WORKERS": "1",
    }
    log = data_dir.parent / f"{data_dir.name}-serve.log"
    server = rag_serve(config_path(), log, f"http://127.0.0.1:{port}", SERVE_TIMEOUT, env=env, poll=0.2)
    try:
        return server.ready_after, rss_mb(server.process.pid), rss_mb(server.process.pid, "VmHWM")
    finally:
        server.stop()


def measure(args: argparse.Namespace, size: int) -> dict[str, Any]:
    dataset = args.dataset.resolve()
    corpus = bench.read_jsonl(dataset / "corpus.jsonl")
    qrels = bench.read_qrels(dataset / "qrels" / f"{args.split}.tsv")
    queries = [q for q in bench.read_jsonl(dataset / "queries.jsonl") if q["_id"] in qrels][: args.max_queries]
    data_dir = args.data_root.resolve() / f"{dataset.name}{bench.pad_suffix(size, args.pad_text)}"
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    base = {"stores.mode": "embedded", "stores.data_dir": str(data_dir)}
    names = bench.build_index(dataset, corpus, data_dir, base, size, args.pad_text)
    build_peak = rss_mb(os.getpid(), "VmHWM")  # this process wrote the index (distractors, writers) when it was missing
    marker = json.loads((data_dir / "bench-index.json").read_text())
    written, seconds = marker.get("pad_written", 0), marker.get("pad_write_seconds", {})

    settings = bench.settings_with({**base, "retrieval.top_k": bench.DEPTH, "retrieval.rerank.enabled": False})
    timer = ComponentTimer()
    tracing.enable_tracing(timer)
    began = time.monotonic()
    pipeline = bench.retrieval_pipeline(settings)
    pipeline.warm_up()
    opened = time.monotonic() - began
    outputs, times = bench.run_queries(pipeline, queries, [bench.RETRIEVAL_END], timer)
    tracing.disable_tracing()
    rankings = [bench.ranked_ids(docs, names) for docs in outputs[bench.RETRIEVAL_END]]
    row = {
        "size": size,
        "chunks": marker.get("chunks"),
        "writes": {w: written / s if s else None for w, s in seconds.items()},
        "disk": store_sizes(data_dir),
        "nDCG@10": bench.mean_scores(rankings, queries, qrels)["nDCG@10"],
        "graph": bench.ms([t["total"] - t.get("query_embedder", 0) - t.get(bench.RETRIEVAL_END, 0) for t in times]),
        "dense": bench.ms([t.get("dense_retriever", 0) for t in times]),
        "bm25": bench.ms([t.get("bm25_retriever", 0) for t in times]),
        "opened": opened,
        "bench_rss": rss_mb(os.getpid()),
        "build_peak": build_peak,
    }
    del pipeline
    forget_document_stores()  # the folder's locks go with the stores, before `rag serve` opens it
    row["startup"], row["serve_rss"], row["serve_peak"] = (
        serve_startup(data_dir) if not args.no_serve else (None, None, None)
    )
    print(f"measured {size}: {row}", flush=True)
    return row


def human_bytes(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return ""


def print_table(rows: list[dict[str, Any]], title: str) -> None:
    print(f"\n{title}")
    print(
        "| chunks | writes/s vector / BM25 | disk per store | nDCG@10 | graph p50 / p95 ms | dense p50 / p95 ms "
        "| BM25 p50 / p95 ms | RSS MB bench (peak while indexing) / serve (peak) | start-up s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        writes = " / ".join(f"{v:,.0f}" if v else "-" for v in r["writes"].values()) or "-"
        disk = ", ".join(f"{k} {human_bytes(v)}" for k, v in r["disk"].items())
        serve = f"{r['serve_rss']:,.0f} ({r['serve_peak']:,.0f})" if r["serve_rss"] else "-"
        startup = f"{r['startup']:.1f}" if r["startup"] else "-"
        print(
            f"| {r['chunks']:,} | {writes} | {disk} | {r['nDCG@10']:.3f} | {r['graph']} | {r['dense']} | {r['bm25']} "
            f"| {r['bench_rss']:,.0f} ({r['build_peak']:,.0f}) / {serve} | {startup} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default="test")
    parser.add_argument("--max-queries", type=int, default=100)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--pad-text", choices=["words", "french"], default="french")
    parser.add_argument("--data-root", type=Path, default=PROJECT_ROOT / "var" / "bench" / "scale")
    parser.add_argument("--no-serve", action="store_true", help="skip the `rag serve` start-up and memory")
    parser.add_argument("--row-out", type=Path, help=argparse.SUPPRESS)  # one size, measured by a child process
    args = parser.parse_args()
    if args.row_out:
        args.row_out.write_text(json.dumps(measure(args, args.sizes[0])))
        return
    rows = []
    for size in args.sizes:  # each size in its own process: its memory is not the previous size's
        row_file = args.data_root / f"row-{size}.json"
        args.data_root.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            __file__,
            str(args.dataset),
            "--split",
            args.split,
            "--max-queries",
            str(args.max_queries),
            "--sizes",
            str(size),
            "--pad-text",
            args.pad_text,
            "--data-root",
            str(args.data_root),
            "--row-out",
            str(row_file),
            *(["--no-serve"] if args.no_serve else []),
        ]
        subprocess.run(command, check=True)
        rows.append(json.loads(row_file.read_text()))
    print_table(
        rows,
        f"{args.dataset.name} / {args.split}: {args.max_queries} queries, distractors: {args.pad_text}; "
        f"load {os.getloadavg()[0]:.2f} (1 min)",
    )


if __name__ == "__main__":
    main()
