"""
BM25 alone: French analysis against Haystack's default tokenisation, quality and latency.

    .venv/bin/python bench/bm25_analysis.py                 # both parts
    .venv/bin/python bench/bm25_analysis.py --part quality  # nDCG@10 on cnil-faq (paraphrase) and piaf (1000 q)
    .venv/bin/python bench/bm25_analysis.py --part latency  # p50/p95 per query at 10k chunks
    .venv/bin/python bench/bm25_analysis.py --part quality --elasticsearch http://127.0.0.1:9200  # and Elasticsearch

Quality: each BEIR corpus (title + text) goes into Haystack's `InMemoryDocumentStore` (its default regex tokeniser,
BM25L: what the embedded store was before) and into `LocalBM25DocumentStore` (French analysis, tantivy); every query
is run once, nDCG@10 / Recall@10 are printed per store. Latency: 10k chunks of 180 words (spf-qr pages split as the
indexing graph splits them, then piaf and cnil paragraphs), queries from piaf, top_k 20, with and without a filter;
the store's file is on a temporary disk folder. Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import atexit
import copy
import json
import math
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from elasticsearch import Elasticsearch
from haystack import Document
from haystack.document_stores.in_memory import InMemoryDocumentStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from components.document_stores.elasticsearch_french import FrenchElasticsearchDocumentStore
from components.document_stores.local_bm25 import LocalBM25DocumentStore
from components.french_analysis import ELASTICSEARCH_ANALYSIS

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"
SETS = [("cnil-faq", "paraphrase", None), ("piaf-v1.1", "test", 1000)]


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_qrels(path: Path) -> dict[str, set[str]]:
    qrels: dict[str, set[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        query_id, doc_id, score = line.split("\t")
        if int(score) > 0:
            qrels.setdefault(query_id, set()).add(doc_id)
    return qrels


def ndcg_at_10(ranked: list[str], relevant: set[str]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
    return dcg / ideal


def stores(
    folder: Path, elasticsearch: str | None
) -> dict[str, Callable[[list[Document]], Callable[[str, int], list[Document]]]]:
    """name -> (documents -> search function)."""

    def haystack_default(docs: list[Document]) -> Callable[[str, int], list[Document]]:
        store = InMemoryDocumentStore()  # BM25L, lower case, regex tokens: the embedded store before
        store.write_documents([Document(id=d.id, content=f"{d.meta['title']}\n{d.content}") for d in docs])
        return lambda q, k: store.bm25_retrieval(q, top_k=k)

    def french(stemmer: str) -> Callable[[list[Document]], Callable[[str, int], list[Document]]]:
        def build(docs: list[Document]) -> Callable[[str, int], list[Document]]:
            store = LocalBM25DocumentStore(
                path=str(folder / f"bm25-{stemmer}-{time.monotonic_ns()}.json"), stemmer=stemmer
            )
            store.write_documents(docs)
            return lambda q, k: store.bm25_retrieval(q, top_k=k)

        return build

    def french_elasticsearch(stemmer: str) -> Callable[[list[Document]], Callable[[str, int], list[Document]]]:
        def build(docs: list[Document]) -> Callable[[str, int], list[Document]]:
            analysis = copy.deepcopy(ELASTICSEARCH_ANALYSIS)
            analysis["filter"]["french_stemmer"]["language"] = stemmer
            index = f"bench_bm25_{uuid.uuid4().hex[:8]}"
            store = FrenchElasticsearchDocumentStore(
                hosts=elasticsearch, index=index, analysis=analysis, number_of_replicas=0
            )
            store.write_documents(docs, refresh=True)
            atexit.register(lambda: Elasticsearch(elasticsearch).indices.delete(index=index))
            return lambda q, k: store._bm25_retrieval(q, top_k=k, fuzziness="0")

        return build

    found = {
        "haystack default (BM25L, regex)": haystack_default,
        "french analysis, no stemming": french("none"),
        "french analysis (LocalBM25DocumentStore)": french("french"),
    }
    if elasticsearch:
        found["Elasticsearch, light_french stemmer (FrenchElasticsearchDocumentStore)"] = french_elasticsearch(
            "light_french"
        )
        found["Elasticsearch, Snowball french stemmer"] = french_elasticsearch("french")
    return found


def quality(folder: Path, elasticsearch: str | None) -> None:
    print("\n## nDCG@10 / Recall@10, BM25 alone (title + text)\n")
    print("| set | store | nDCG@10 | Recall@10 | queries |")
    print("|---|---|---|---|---|")
    for name, split, limit in SETS:
        root = BENCH / name
        docs = [
            Document(id=d["_id"], content=d["text"], meta={"title": d["title"]})
            for d in read_jsonl(root / "corpus.jsonl")
        ]
        queries = {q["_id"]: q["text"] for q in read_jsonl(root / "queries.jsonl")}
        qrels = read_qrels(root / "qrels" / f"{split}.tsv")
        query_ids = [q for q in qrels if q in queries][:limit]
        for store_name, build in stores(folder, elasticsearch).items():
            search = build(docs)
            ndcg, recall = [], []
            for query_id in query_ids:
                ranked = [d.id for d in search(queries[query_id], 10)]
                ndcg.append(ndcg_at_10(ranked, qrels[query_id]))
                recall.append(len(set(ranked) & qrels[query_id]) / len(qrels[query_id]))
            label = f"{name} {split}" + (f" (first {limit} q)" if limit else "")
            print(
                f"| {label} | {store_name} | {statistics.mean(ndcg):.3f} | {statistics.mean(recall):.3f} "
                f"| {len(query_ids)} |"
            )


def chunks_10k() -> list[Document]:
    """
    10,000 chunks of at most 180 words (30 overlapping), as the indexing graph splits documents: the three corpora
    give about 5,200; later passes start the windows further in (other chunks of the same texts).
    """
    chunks: list[Document] = []
    themes = ["voirie", "assainissement", "batiment", "eclairage"]
    for offset in (0, 75, 35, 110):
        for name in ("spf-qr", "piaf-v1.1", "cnil-faq"):
            for d in read_jsonl(BENCH / name / "corpus.jsonl"):
                words = d["text"].split()[offset:]
                for start in range(0, max(len(words) - 30, 1), 150):
                    n = len(chunks)
                    meta = {"title": d["title"], "theme": themes[n % 4], "publish_date": f"202{n % 6}-0{1 + n % 9}-15"}
                    content = " ".join(words[start : start + 180])
                    chunks.append(Document(id=f"{d['_id']}-{offset + start}", content=content, meta=meta))
                    if len(chunks) == 10_000:
                        return chunks
    return chunks


def percentiles(times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    return f"p50 {statistics.median(ms):.1f} ms, p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms"


def latency(folder: Path) -> None:
    docs = chunks_10k()
    queries = [q["text"] for q in read_jsonl(BENCH / "piaf-v1.1" / "queries.jsonl")[:200]]
    theme = {"field": "meta.theme", "operator": "==", "value": "voirie"}
    recent = {
        "operator": "AND",
        "conditions": [theme, {"field": "meta.publish_date", "operator": ">=", "value": "2023-01-01"}],
    }
    print(f"\n## BM25 latency per query, {len(docs)} chunks, top_k 20 ({len(queries)} piaf queries)\n")

    start = time.perf_counter()
    before = InMemoryDocumentStore()
    before.write_documents([Document(id=d.id, content=d.content, meta=d.meta) for d in docs])
    print(f"- InMemoryDocumentStore (before): write {time.perf_counter() - start:.1f} s")
    for label, filters in (("no filter", None), ("theme filter", theme)):
        times = []
        for q in queries[:40]:  # slow: 40 queries are enough for its percentiles
            t = time.perf_counter()
            before.bm25_retrieval(q, filters=filters, top_k=20)
            times.append(time.perf_counter() - t)
        print(f"  - {label}: {percentiles(times)} (40 queries)")

    path = str(folder / "bm25-latency")
    start = time.perf_counter()
    writer = LocalBM25DocumentStore(path=path)
    writer.write_documents(docs)
    print(f"- LocalBM25DocumentStore (after): write + save {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    store = LocalBM25DocumentStore(path=path)  # another process's view: load the file, analyse, index
    store.bm25_retrieval("chaussée", top_k=1)
    print(f"  - open in another instance + first query (load, analyse, index): {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    writer.write_documents([Document(id="new", content="Nouveau document A2458 ajouté par l'indexeur")])
    store.bm25_retrieval("A2458", top_k=1)
    print(
        "  - one document written by another instance, then a query (reload + re-index): "
        f"{time.perf_counter() - start:.2f} s"
    )
    for label, filters in (("no filter", None), ("theme filter", theme), ("theme + date range", recent)):
        store.bm25_retrieval("premier", filters=filters, top_k=20)  # the filter's mask is computed once per filter
        times = []
        for q in queries:
            t = time.perf_counter()
            store.bm25_retrieval(q, filters=filters, top_k=20)
            times.append(time.perf_counter() - t)
        print(f"  - {label}: {percentiles(times)}")
    times = []
    for i, q in enumerate(queries[:50]):
        fresh = {"field": "meta.publish_date", "operator": ">=", "value": f"2020-01-{1 + i % 28:02d}"}
        t = time.perf_counter()
        store.bm25_retrieval(q, filters=fresh, top_k=20)
        times.append(time.perf_counter() - t)
    print(f"  - a filter never seen before (mask computed in the query): {percentiles(times)} (50 queries)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["quality", "latency", "all"], default="all")
    parser.add_argument("--elasticsearch", metavar="URL", help="also measure Elasticsearch at URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.part in ("quality", "all"):
            quality(Path(tmp), args.elasticsearch)
        if args.part in ("latency", "all"):
            latency(Path(tmp))


if __name__ == "__main__":
    main()
