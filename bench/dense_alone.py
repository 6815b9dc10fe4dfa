"""
The embedder alone, outside the product: plain sentence-transformers and numpy on a BEIR folder.

For comparing the product's dense retrieval (bench/retrieval.py) with published or reference figures measured the
same plain way: each document is embedded whole (truncated at each `--whole` length) or cut into windows of
`--window` tokens (overlap `--overlap`), a document's score is its best window's, nDCG@10 over the judged queries.

    OMP_NUM_THREADS=2 .venv/bin/python bench/dense_alone.py ../shared/bench/spf-qr --window 200:40 320:48
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from service.settings import load_settings  # noqa: E402


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_qrels(path: Path) -> dict[str, set[str]]:
    qrels: dict[str, set[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        query_id, doc_id, _ = line.split("\t")
        qrels.setdefault(query_id, set()).add(doc_id)
    return qrels


def ndcg_at_10(scores: np.ndarray, doc_ids: list[str], queries: list[dict], qrels: dict[str, set[str]]) -> float:
    """`scores`: queries x passages; a document ranks by its best passage."""
    total = 0.0
    for row, query in zip(scores, queries, strict=True):
        ranking: list[str] = []
        for j in np.argsort(-row):
            if doc_ids[j] not in ranking:
                ranking.append(doc_ids[j])
                if len(ranking) == 10:
                    break
        relevant = qrels[query["_id"]]
        dcg = sum(1 / math.log2(rank + 2) for rank, doc in enumerate(ranking) if doc in relevant)
        ideal = sum(1 / math.log2(rank + 2) for rank in range(min(len(relevant), 10)))
        total += dcg / ideal
    return total / len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default="test")
    parser.add_argument("--max-queries", type=int, default=None)
    parser.add_argument("--whole", type=int, nargs="*", default=[256, 512], help="max_seq_length values")
    parser.add_argument("--window", nargs="*", default=["200:40"], help="TOKENS:OVERLAP windows")
    args = parser.parse_args()

    from sentence_transformers import SentenceTransformer  # noqa: PLC0415

    settings = load_settings()
    embedder = settings.models.embedder
    model = SentenceTransformer(str(settings.resolve_path(embedder.model)), device="cpu")
    corpus = read_jsonl(args.dataset / "corpus.jsonl")
    qrels = read_qrels(args.dataset / "qrels" / f"{args.split}.tsv")
    queries = [q for q in read_jsonl(args.dataset / "queries.jsonl") if q["_id"] in qrels][: args.max_queries]
    query_vectors = model.encode(
        [embedder.query_prefix + q["text"] for q in queries], normalize_embeddings=True, batch_size=64
    )
    print(f"{args.dataset.name} / {args.split}: {len(corpus)} documents, {len(queries)} queries, {embedder.model}")
    for length in args.whole:
        model.max_seq_length = length
        texts = [embedder.document_prefix + " ".join(filter(None, [d.get("title"), d["text"]])) for d in corpus]
        vectors = model.encode(texts, normalize_embeddings=True, batch_size=16)
        ndcg = ndcg_at_10(query_vectors @ vectors.T, [d["_id"] for d in corpus], queries, qrels)
        print(f"whole document, truncated at {length} tokens: nDCG@10 {ndcg:.3f}", flush=True)
    model.max_seq_length = 512
    tokenizer = model.tokenizer
    for spec in args.window:
        size, overlap = map(int, spec.split(":"))
        texts, doc_ids = [], []
        for doc in corpus:
            ids = tokenizer(" ".join(filter(None, [doc.get("title"), doc["text"]])), add_special_tokens=False)[
                "input_ids"
            ]
            start = 0
            while True:
                texts.append(embedder.document_prefix + tokenizer.decode(ids[start : start + size]))
                doc_ids.append(doc["_id"])
                if start + size >= len(ids):
                    break
                start += size - overlap
        vectors = model.encode(texts, normalize_embeddings=True, batch_size=32)
        ndcg = ndcg_at_10(query_vectors @ vectors.T, doc_ids, queries, qrels)
        print(f"windows of {size} tokens (overlap {overlap}), best window: nDCG@10 {ndcg:.3f}", flush=True)


if __name__ == "__main__":
    main()
