"""
Dense search at size: the embedded vector store's search (Qdrant Edge, HNSW past its indexing threshold) against
exact search on the same vectors, on real French text.

    .venv/bin/python bench/dense_recall.py --sizes 20000 --queries 300

The texts are the shared sets' passages (`../shared/bench`: cnil-faq, piaf-v1.1, spf-qr) cut into sentences, then
their questions, in that order, without repeats, up to each size; they are embedded as the indexing graph embeds
chunks (its `document_embedder`: the configured encoder, `passage:` prefix, normalised) and written to a fresh store
in batches of 1,000, as an indexing run writes them (the engine builds HNSW for a segment past ~6,600 vectors). The
queries are the sets' questions (a sample), embedded by the `rag` graph's query embedder. For each search width
(`hnsw_ef`; `default` is the store's, Qdrant's own) and for `exact=True`, recall@10 and recall@50 of the store's top 50
against the exact top 50 by dot product over the same normalised vectors, and the search time p50 / p95.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from haystack import Document  # noqa: E402

from components.document_stores.qdrant_edge.document_store import QdrantEdgeDocumentStore  # noqa: E402
from components.retrievers.access_scope import trust_callers_outside_requests  # noqa: E402
from service.pipelines import build_pipeline  # noqa: E402
from service.settings import load_settings  # noqa: E402

SHARED = ROOT.parent / "shared" / "bench"
SETS = ("cnil-faq", "piaf-v1.1", "spf-qr")
TOP_K = 50
WIDTHS = (None, 64, 128, 256, 512)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-ZÀ-Ý«])")


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def texts_and_questions() -> tuple[list[str], list[str]]:
    """Every sentence of the sets' passages (at least 40 characters), then their questions, without repeats."""
    sentences: list[str] = []
    questions: list[str] = []
    for name in SETS:
        for row in _rows(SHARED / name / "corpus.jsonl"):
            text = f"{row.get('title') or ''}. {row.get('text') or ''}".strip(". ")
            sentences += [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) >= 40]
        questions += [row["text"] for row in _rows(SHARED / name / "queries.jsonl")]
    return list(dict.fromkeys(sentences)), list(dict.fromkeys(questions))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    trust_callers_outside_requests()
    settings = load_settings()
    sentences, questions = texts_and_questions()
    asked = random.Random(args.seed).sample(questions, args.queries)  # noqa: S311 (a sample, not a secret)
    texts = [t for t in dict.fromkeys(sentences + questions) if t not in set(asked)]  # a query is not its own hit
    largest = max(args.sizes)
    if len(texts) < largest:
        raise SystemExit(f"only {len(texts)} texts in the shared sets: ask for at most that many")
    texts = texts[:largest]

    embedder = build_pipeline("indexing", settings).get_component("document_embedder")
    embedder.warm_up()
    started = time.perf_counter()
    documents = embedder.run(documents=[Document(id=f"t{i}", content=t) for i, t in enumerate(texts)])["documents"]
    embed_seconds = time.perf_counter() - started
    query_embedder = build_pipeline("rag", settings).get_component("query_embedder")
    query_embedder.warm_up()
    query_vectors = np.array([query_embedder.run(text=q)["embedding"] for q in asked], dtype=np.float32)
    print(f"{len(texts)} texts embedded in {embed_seconds:.0f} s; {len(asked)} queries", flush=True)

    print("| vectors | search | recall@10 | recall@50 | search p50 / p95 (ms) |")
    print("|---|---|---|---|---|")
    for size in sorted(args.sizes):
        vectors = np.array([d.embedding for d in documents[:size]], dtype=np.float32)
        exact_top = np.argsort(-(query_vectors @ vectors.T), axis=1)[:, :TOP_K]
        with tempfile.TemporaryDirectory(prefix="rag-recall-", dir="/dev/shm") as folder:
            store = QdrantEdgeDocumentStore(folder, index="recall", embedding_dim=vectors.shape[1], similarity="cosine")
            for start in range(0, size, 1000):
                store.write_documents(documents[start : min(size, start + 1000)])
            for width in (*WIDTHS, "exact"):
                store.hnsw_ef = None if width == "exact" else width
                exact = width == "exact"
                recalls10, recalls50, times = [], [], []
                for i, vector in enumerate(query_vectors):
                    began = time.perf_counter()
                    found = _search(store, vector, exact)
                    times.append((time.perf_counter() - began) * 1000)
                    ids = [int(d.id[1:]) for d in found]
                    truth = exact_top[i]
                    recalls10.append(len(set(ids[:10]) & set(truth[:10])) / 10)
                    recalls50.append(len(set(ids) & set(truth)) / TOP_K)
                label = "exact=True" if exact else f"hnsw_ef {width or 'default'}"
                p95 = statistics.quantiles(times, n=20)[-1]
                print(
                    f"| {size} | {label} | {statistics.mean(recalls10):.4f} | {statistics.mean(recalls50):.4f} "
                    f"| {statistics.median(times):.1f} / {p95:.1f} |",
                    flush=True,
                )
            store.close()


def _search(store: QdrantEdgeDocumentStore, vector: np.ndarray, exact: bool) -> list[Document]:
    if not exact:
        return store._query_by_embedding(vector.tolist(), top_k=TOP_K)
    import qdrant_edge as edge  # noqa: PLC0415

    request = edge.QueryRequest(
        limit=TOP_K,
        query=edge.Query.Nearest([float(x) for x in vector]),
        with_payload=True,
        with_vector=False,
        params=edge.SearchParams(exact=True),
    )
    from components.document_stores.qdrant_edge.document_store import _to_document  # noqa: PLC0415

    return [_to_document(point) for point in store._open().query(request)]


if __name__ == "__main__":
    main()
