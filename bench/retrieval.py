"""
Retrieval benchmark on a BEIR-format folder, through the product's own indexing and `rag` graph.

    .venv/bin/python bench/retrieval.py ../shared/bench/cnil-faq --split paraphrase --max-queries 100

The corpus is written as Markdown files (`title` front matter) and indexed by `indexing.index_paths` (the product's
chunking and embedding) into a data folder on /dev/shm; the queries then run through the retrieval half of
`pipelines/rag/rag.yml` (every node the `ranker` depends on, built from the same YAML and `hayhooks.yml`). One run
prints, side by side: BM25 alone, dense alone, the fused list, fused + metadata/numeric components (the default
graph), and the graph with the cross-encoder on; plus any `--variant` (configuration overrides). A document's
rank is its best chunk's. Latency is per query: the graph without query embedding and cross-encoder, the
cross-encoder alone, and the query embedding.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import os
import shutil
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from component_timer import ComponentTimer  # noqa: E402  (bench/, the folder of this script)
from haystack import Pipeline, tracing  # noqa: E402

from components.retrievers.access_scope import trust_callers_outside_requests  # noqa: E402
from indexing import index_paths  # noqa: E402
from service.answering import retrieval_inputs  # noqa: E402
from service.pipelines import ALLOWED_MODULES, bound_definition  # noqa: E402
from service.settings import Settings, config_path, read_config  # noqa: E402
from service.store_registry import share_document_stores  # noqa: E402

trust_callers_outside_requests()  # a benchmark runs the graphs itself, outside any request: trusted

RETRIEVAL_END = "ranker"  # the retrieval half is this node and everything it depends on
DEPTH = 100  # documents kept per query for Recall@100
COLUMNS = [
    ("bm25", "bm25_retriever"),
    ("dense", "dense_retriever"),
    ("fused", "joiner"),
    ("fused+meta/num", "numeric_prioritizer"),
]


# ----------------------------------------------------------------------------------------------- data and index
def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_qrels(path: Path) -> dict[str, set[str]]:
    qrels: dict[str, set[str]] = defaultdict(set)
    with path.open(encoding="utf-8") as f:
        next(f)
        for line in f:
            query_id, doc_id, score = line.rstrip("\n").split("\t")
            if float(score) > 0:
                qrels[query_id].add(doc_id)
    return qrels


def write_corpus(corpus: list[dict[str, Any]], folder: Path) -> dict[str, str]:
    """Each document as `<n>.md` with its title as front matter; returns file name -> BEIR id."""
    folder.mkdir(parents=True, exist_ok=True)
    names = {}
    for n, doc in enumerate(corpus):
        name = f"{n:06d}.md"
        front = yaml.safe_dump({"title": doc["title"]}, allow_unicode=True) if doc.get("title") else ""
        text = f"---\n{front}---\n{doc['text']}\n" if front else f"{doc['text']}\n"
        (folder / name).write_text(text, encoding="utf-8")
        names[name] = doc["_id"]
    return names


def config_with(overrides: dict[str, Any]) -> dict[str, Any]:
    """`hayhooks.yml` as a mapping, with dotted-key overrides."""
    data = read_config(config_path())
    for dotted, value in overrides.items():
        node, parts = data, dotted.split(".")
        while len(parts) > 1:
            # a key may hold dots itself (a backend named `qwen2.5-coder-0.5b-instruct`): the longest existing one
            width = next((n for n in range(len(parts) - 1, 1, -1) if ".".join(parts[:n]) in node), 1)
            node = node.setdefault(".".join(parts[:width]), {})
            parts = parts[width:]
        node[parts[0]] = value
    return data


def settings_with(overrides: dict[str, Any]) -> Settings:
    """`hayhooks.yml` (and the RAG_* environment) with dotted-key overrides."""
    return Settings(**config_with(overrides))


def build_index(  # noqa: PLR0917
    dataset: Path,
    corpus: list[dict[str, Any]],
    data_dir: Path,
    base: dict[str, Any],
    pad_chunks: int = 0,
    pad_text: str = "words",
) -> dict[str, str]:
    """Index the corpus through the product's indexing path, unless the same corpus is already indexed there.

    The marker file `bench-index.json` keeps, besides the file names, the seconds each writer spent on the distractors
    (`pad_write_seconds`: store -> seconds; `pad_written`: how many), for `bench/scale.py`."""
    marker = data_dir / "bench-index.json"
    settings = settings_with(base)
    key = hashlib.sha256(
        json.dumps(
            [str(dataset), len(corpus), pad_chunks, pad_text, bound_definition("indexing", settings)], sort_keys=True
        ).encode()
        + (dataset / "corpus.jsonl").read_bytes()
    ).hexdigest()
    if marker.is_file() and json.loads(marker.read_text())["key"] == key:
        print(f"index: reusing {data_dir}", flush=True)
        return json.loads(marker.read_text())["names"]
    shutil.rmtree(data_dir, ignore_errors=True)
    files = data_dir / "corpus"
    unpadded = data_dir.with_name(data_dir.name.removesuffix(pad_suffix(pad_chunks, pad_text)))
    if pad_chunks and unpadded != data_dir and (unpadded / "bench-index.json").is_file():
        shutil.copytree(unpadded, data_dir)  # the corpus as indexed before; only the distractors are added
        chunks = json.loads((data_dir / "bench-index.json").read_text())["chunks"]
        (data_dir / "bench-index.json").unlink()
        for lock in data_dir.rglob("*.lock"):
            lock.unlink()
        for manifest in data_dir.glob("manifest-*.json"):  # files are known by absolute path
            manifest.write_text(manifest.read_text().replace(str(unpadded) + "/", str(data_dir) + "/"))
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            written = pool.apply(_pad, (settings_with(base), pad_chunks - chunks, files, pad_text, dataset))
        names = write_corpus(corpus, files)
        marker.write_text(json.dumps({"key": key, "names": names, "chunks": pad_chunks, **written}))
        return names
    names = write_corpus(corpus, files)
    # In a child process: the embedded Qdrant (Qdrant Edge) locks its folder until the process that opened it ends.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        summary, chunks, written = pool.apply(_index, (files, base, pad_chunks, pad_text, dataset))
    print(f"index: {summary}", flush=True)
    marker.write_text(json.dumps({"key": key, "names": names, "chunks": chunks, **written}))
    return names


def pad_suffix(pad_chunks: int, pad_text: str) -> str:
    """The data folder's suffix for a padded index."""
    if not pad_chunks:
        return ""
    return f"-pad{pad_chunks}" + ("" if pad_text == "words" else f"-{pad_text}")


def _index(
    files: Path, overrides: dict[str, Any], pad_chunks: int, pad_text: str, dataset: Path
) -> tuple[str, int, dict[str, Any]]:
    settings = settings_with(overrides)
    report = index_paths([files], settings)
    written: dict[str, Any] = {}
    if pad_chunks > report.chunks:
        written = _pad(settings, pad_chunks - report.chunks, files, pad_text, dataset)
    return report.summary(), max(report.chunks, pad_chunks), written


PAD_BATCH = 1000


def _pad(settings: Settings, count: int, files: Path, pad_text: str, dataset: Path) -> dict[str, Any]:
    """
    Distractor chunks written by the indexing graph's own writers, in batches of 1,000, each writer timed alone.

    `pad_text="words"`: text of shuffled corpus words and random unit embeddings (latency only: no relevant
    document among them, and such text drags BM25 down). `pad_text="french"`: real French sentences of the other
    shared corpora, with embeddings near real ones (`bench/distractors.py`), for quality at scale.
    """
    import numpy as np  # noqa: PLC0415
    from distractors import french_distractors  # noqa: PLC0415  (bench/)
    from haystack import Document  # noqa: PLC0415

    from service.pipelines import build_pipeline  # noqa: PLC0415

    pipeline = build_pipeline("indexing", settings)
    if pad_text == "french":
        pipeline.warm_up()
        documents = french_distractors(count, dataset, pipeline.get_component("document_embedder"))
    else:
        rng = np.random.default_rng(0)
        words = " ".join(p.read_text(encoding="utf-8") for p in sorted(files.glob("*.md"))[:200]).split()
        dimension = settings.models.embedder.dimension

        def word_salad() -> Any:
            for n in range(count):
                vector = rng.normal(size=dimension)
                text = " ".join(rng.choice(words, size=150))
                meta = {"source": f"distractor-{n}.md", "title": f"Distracteur {n}", "has_key_metadata": False}
                yield Document(content=text, meta=meta, embedding=(vector / np.linalg.norm(vector)).tolist())

        documents = word_salad()
    seconds = {"vector_writer": 0.0, "bm25_writer": 0.0}
    written, started = 0, time.monotonic()
    while batch := [d for _, d in zip(range(PAD_BATCH), documents, strict=False)]:
        for writer in seconds:
            began = time.perf_counter()
            pipeline.get_component(writer).run(documents=batch)
            seconds[writer] += time.perf_counter() - began
        written += len(batch)
        if written % (PAD_BATCH * 20) == 0:
            print(f"pad: {written}/{count} in {time.monotonic() - started:.0f} s", flush=True)
    return {"pad_written": written, "pad_write_seconds": seconds}


# --------------------------------------------------------------------------------------------- graph and timing
def retrieval_pipeline(settings: Settings) -> Pipeline:
    """The `rag` graph cut to the `ranker` and every node it depends on."""
    data = bound_definition("rag", settings)
    needed, frontier = {RETRIEVAL_END}, [RETRIEVAL_END]
    while frontier:
        node = frontier.pop()
        for edge in data["connections"]:
            sender = edge["sender"].split(".")[0]
            if edge["receiver"].split(".")[0] == node and sender not in needed:
                needed.add(sender)
                frontier.append(sender)
    data["components"] = {k: v for k, v in data["components"].items() if k in needed}
    data["connections"] = [
        e for e in data["connections"] if {e["sender"].split(".")[0], e["receiver"].split(".")[0]} <= needed
    ]
    # One store instance per store, as in the server: the embedded Qdrant refuses a second instance on its folder.
    return share_document_stores(Pipeline.from_dict(data, allowed_modules=ALLOWED_MODULES))


def run_queries(
    pipeline: Pipeline, queries: list[dict[str, Any]], nodes: list[str], timer: ComponentTimer
) -> tuple[dict[str, list[list[Any]]], list[dict[str, float]]]:
    """Every query through the graph: each node's documents and each query's component times."""
    outputs: dict[str, list[list[Any]]] = {node: [] for node in nodes}
    times = []
    for query in queries:
        inputs = retrieval_inputs(query["text"])
        timer.seconds.clear()
        started = time.perf_counter()
        result = pipeline.run(inputs, include_outputs_from=set(nodes))
        total = time.perf_counter() - started
        times.append({"total": total, **timer.seconds})
        for node in nodes:
            outputs[node].append(result[node]["documents"])
    return outputs, times


# ----------------------------------------------------------------------------------------------------- metrics
def ranked_ids(chunks: list[Any], names: dict[str, str]) -> list[str]:
    """BEIR document ids, best first, each at the rank of its best chunk."""
    seen: dict[str, None] = {}
    for chunk in chunks:
        doc_id = names.get(Path(str(chunk.meta.get("source", ""))).name)
        if doc_id is not None:
            seen.setdefault(doc_id, None)
    return list(seen)[:DEPTH]


def scores(ranking: list[str], relevant: set[str]) -> dict[str, float]:
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranking[:10]) if d in relevant)
    idcg = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
    first = next((i for i, d in enumerate(ranking[:10]) if d in relevant), None)
    return {
        "nDCG@10": dcg / idcg,
        "R@10": len(relevant & set(ranking[:10])) / len(relevant),
        "R@100": len(relevant & set(ranking[:100])) / len(relevant),
        "MRR@10": 0.0 if first is None else 1 / (first + 1),
    }


def mean_scores(rankings: list[list[str]], queries: list[dict[str, Any]], qrels: dict[str, set[str]]) -> dict:
    rows = [scores(r, qrels[q["_id"]]) for r, q in zip(rankings, queries, strict=True)]
    return {k: statistics.fmean(row[k] for row in rows) for k in rows[0]}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def ms(values: list[float]) -> str:
    return f"{1000 * percentile(values, 50):.1f} / {1000 * percentile(values, 95):.1f}" if values else "-"


def print_table(title: str, rows: list[tuple[str, dict[str, float], str]]) -> None:
    print(f"\n{title}")
    header = f"| {'system':<28} | nDCG@10 | R@10  | R@100 | MRR@10 | latency p50 / p95 ms |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for name, m, latency in rows:
        print(
            f"| {name:<28} | {m['nDCG@10']:.3f}   | {m['R@10']:.3f} | {m['R@100']:.3f} | {m['MRR@10']:.3f}  "
            f"| {latency:<20} |"
        )


# -------------------------------------------------------------------------------------------------------- main
def parse_value(text: str) -> Any:
    return yaml.safe_load(text)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    overrides = {}
    for item in items:
        key, _, value = item.partition("=")
        if not key or not _:
            raise SystemExit(f"--set expects key=value, got {item!r}")
        overrides[key.strip()] = parse_value(value)
    return overrides


def split_settings(spec: str) -> list[str]:
    """`a=1,b=[x, y],c={k: v}` -> its `key=value` items: commas inside brackets or braces belong to the value."""
    items, depth, start = [], 0, 0
    for i, char in enumerate(spec):
        depth += (char in "[{") - (char in "]}")
        if char == "," and depth == 0:
            items.append(spec[start:i])
            start = i + 1
    items.append(spec[start:])
    return [item for item in items if item.strip()]


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """`NAME:key=value,key=value` (dotted keys of hayhooks.yml; values in YAML, lists as `[a,b]`)."""
    name, _, spec = text.partition(":")
    if not spec:
        raise SystemExit(f"--variant expects NAME:key=value,key=value, got {text!r}")
    return name, parse_overrides(split_settings(spec))


def main(argv: list[str] | None = None) -> None:  # noqa: PLR0915
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path, help="a BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv")
    parser.add_argument("--split", default="test", help="the qrels file (default: test)")
    parser.add_argument("--max-queries", type=int, default=None, help="the first N judged queries only")
    parser.add_argument("--rerank-queries", type=int, default=None, help="queries run with the cross-encoder")
    parser.add_argument("--data-dir", type=Path, default=None, help="default: /dev/shm/rag-bench-<dataset>")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override hayhooks.yml")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE,...",
        help="another configuration as an extra row (run with the cross-encoder queries if it enables it)",
    )
    parser.add_argument("--no-rerank", action="store_true", help="skip the cross-encoder row")
    parser.add_argument(
        "--pad-chunks",
        type=int,
        default=0,
        help="fill the stores up to this many chunks with distractors, for latency at scale (e.g. 10000)",
    )
    parser.add_argument(
        "--pad-text",
        choices=["words", "french"],
        default="words",
        help="distractors: shuffled corpus words (latency only) or real French sentences of the other shared sets",
    )
    args = parser.parse_args(argv)

    dataset = args.dataset.resolve()
    corpus = read_jsonl(dataset / "corpus.jsonl")
    qrels = read_qrels(dataset / "qrels" / f"{args.split}.tsv")
    queries = [q for q in read_jsonl(dataset / "queries.jsonl") if q["_id"] in qrels]
    queries = queries[: args.max_queries] if args.max_queries else queries
    rerank_queries = queries[: args.rerank_queries] if args.rerank_queries else queries
    suffix = pad_suffix(args.pad_chunks, args.pad_text)
    data_dir = args.data_dir or Path("/dev/shm") / f"rag-bench-{dataset.name}{suffix}"  # noqa: S108 (tmpfs: the stores write to disk as they go)

    base = {"stores.mode": "embedded", "stores.data_dir": str(data_dir), **parse_overrides(args.set)}
    names = build_index(dataset, corpus, data_dir, base, args.pad_chunks, args.pad_text)
    chunks = json.loads((data_dir / "bench-index.json").read_text()).get("chunks")
    default = settings_with({**base, "retrieval.top_k": DEPTH, "retrieval.rerank.enabled": False})
    cross = settings_with({**base, "retrieval.top_k": DEPTH, "retrieval.rerank.enabled": True})
    print(
        f"{dataset.name} split={args.split}: {len(corpus)} documents, {chunks} chunks, {len(queries)} queries "
        f"({len(rerank_queries)} with the cross-encoder); fusion={default.retrieval.fusion.model_dump()}; "
        f"rerank top_n={cross.retrieval.rerank.top_n} blend_weight={cross.retrieval.rerank.blend_weight}",
        flush=True,
    )

    timer = ComponentTimer()
    tracing.enable_tracing(timer)
    runs: list[tuple[str, Settings, list[dict[str, Any]]]] = [("default graph", default, queries)]
    if not args.no_rerank:
        runs.append(("default + cross-encoder", cross, rerank_queries))
    for name, overrides in map(parse_variant, args.variant):
        settings = settings_with({**base, "retrieval.top_k": DEPTH, **overrides})
        runs.append((name, settings, rerank_queries if settings.retrieval.rerank.enabled else queries))

    rows: list[tuple[str, dict[str, float], str]] = []
    rerank_rows: list[tuple[str, dict[str, float], str]] = []
    embed_times: list[float] = []
    for name, settings, subset in runs:
        pipeline = retrieval_pipeline(settings)
        pipeline.warm_up()
        nodes = [RETRIEVAL_END] + ([n for _, n in COLUMNS] if name == "default graph" else [])
        started = time.perf_counter()
        outputs, times = run_queries(pipeline, subset, nodes, timer)
        print(f"ran {name}: {len(subset)} queries in {time.perf_counter() - started:.1f} s", flush=True)
        empty = {node: sum(not docs for docs in outputs[node]) for node in nodes if node != RETRIEVAL_END}
        for node, count in empty.items():
            if count > len(subset) // 2:
                print(f"WARNING: {node} returned no documents for {count}/{len(subset)} queries", flush=True)
        if not any(outputs[RETRIEVAL_END]):
            raise SystemExit(f"{name}: the graph returned no documents at all (is a store unavailable?)")
        retrieval = [t["total"] - t.get("query_embedder", 0) - t.get(RETRIEVAL_END, 0) for t in times]
        with_ce = [t["total"] - t.get("query_embedder", 0) for t in times]
        cross_encoder = settings.retrieval.rerank.enabled
        if name == "default graph":
            embed_times = [t.get("query_embedder", 0) for t in times]
            for label, node in COLUMNS:
                rankings = [ranked_ids(docs, names) for docs in outputs[node]]
                component = [t.get(node, 0) for t in times]
                rows.append((label, mean_scores(rankings, subset, qrels), f"{ms(component)} (node)"))
        rankings = [ranked_ids(docs, names) for docs in outputs[RETRIEVAL_END]]
        row = (name, mean_scores(rankings, subset, qrels), ms(with_ce if cross_encoder else retrieval))
        (rerank_rows if cross_encoder and subset is not queries else rows).append(row)
        if name == "default graph" and len(rerank_queries) < len(queries):
            subset_rank = rankings[: len(rerank_queries)]
            rerank_rows.append((name, mean_scores(subset_rank, rerank_queries, qrels), ms(retrieval)))
    tracing.disable_tracing()

    print_table(f"{dataset.name} / {args.split}: {len(queries)} queries (latency excludes query embedding)", rows)
    if rerank_rows:
        print_table(f"cross-encoder runs: first {len(rerank_queries)} queries", rerank_rows)
    print(f"\nquery embedding p50 / p95 ms: {ms(embed_times)}; load: {os.getloadavg()[0]:.2f} (1 min)")
    kept = default.retrieval.fusion.top_k
    if kept < DEPTH:
        print(f"R@100 of the fused rows counts the {kept} candidates the graph keeps (retrieval.fusion.top_k)")


if __name__ == "__main__":
    main()
