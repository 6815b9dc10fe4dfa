"""
The embedder alone, outside the product: plain sentence-transformers and numpy on a BEIR folder.

For comparing the product's dense retrieval (bench/retrieval.py) with published or reference figures measured the
same plain way: each document is embedded whole (truncated at each `--whole` length) or cut into windows of
`--window` tokens (overlap `--overlap`), a document's score is its best window's, nDCG@10 over the judged queries.

    OMP_NUM_THREADS=2 .venv/bin/python bench/dense_alone.py ../shared/bench/spf-qr --window 200:40 320:48
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from retrieval import mean_scores, read_jsonl, read_qrels  # noqa: E402  (bench/, the folder of this script)

from service.settings import load_settings  # noqa: E402


def ndcg_at_10(scores: np.ndarray, doc_ids: list[str], queries: list[dict], qrels: dict[str, set[str]]) -> float:
    """`scores`: queries x passages; a document ranks by its best passage."""
    rankings = []
    for row in scores:
        ranking: dict[str, None] = {}
        for j in np.argsort(-row):
            ranking.setdefault(doc_ids[j], None)
            if len(ranking) == 10:
                break
        rankings.append(list(ranking))
    return mean_scores(rankings, queries, qrels)["nDCG@10"]


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
