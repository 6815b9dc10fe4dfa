"""
Engines for the embedded BM25 store, compared on real French text: write throughput, query latency, disk, memory,
open time, and nDCG@10 on the shared sets.

    .venv/bin/python bench/bm25_stores.py --chunks 10000 100000

Candidates, all fed the same `FrenchAnalyzer` terms: `store`, the project's `LocalBM25DocumentStore` as checked
out (run it on an older commit to measure the version before), and `fts5`, SQLite's full-text index (documents in a
table, the terms in a contentless FTS5 table, WAL) scored by its `bm25()`. Chunks are ~150 words of the corpora of
`../shared/bench` (piaf, cnil-faq, spf-qr), each made of two halves drawn at random so that none repeats; they are
written in batches of 1,000, as the indexer's writers do. Each measure runs in a fresh process (its peak RSS): one
writes, another opens the store and queries it (100 real questions of piaf and cnil-faq).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import re
import resource
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from haystack import Document

from components.document_stores.local_bm25 import LocalBM25DocumentStore
from components.french_analysis import FrenchAnalyzer

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"
BATCH = 1000
WORDS = 150


# ------------------------------------------------------------------------------------------------------ the data
def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def passages() -> list[str]:
    """The corpora cut into pieces of about `WORDS` words."""
    pieces = []
    for name in ("piaf-v1.1", "cnil-faq", "spf-qr"):
        for doc in read_jsonl(BENCH / name / "corpus.jsonl"):
            words = f"{doc.get('title', '')} {doc['text']}".split()
            pieces.extend(" ".join(words[i : i + WORDS]) for i in range(0, len(words), WORDS))
    return pieces


def chunks(count: int) -> list[Document]:
    rng = random.Random(0)  # noqa: S311 (a sample, not a secret)
    pool = passages()
    documents = []
    for n in range(count):
        a, b = rng.choice(pool).split(), rng.choice(pool).split()
        text = " ".join(a[: len(a) // 2] + b[len(b) // 2 :])
        documents.append(Document(id=f"c{n}", content=text, meta={"title": f"Pièce {n}", "lot": str(n % 7)}))
    return documents


def questions() -> list[str]:
    found = [q["text"] for q in read_jsonl(BENCH / "piaf-v1.1" / "queries.jsonl")[:50]]
    return found + [q["text"] for q in read_jsonl(BENCH / "cnil-faq" / "queries.jsonl")[:50]]


# ------------------------------------------------------------------------------------------------------ engines
class Fts5Store:
    """SQLite FTS5: the documents in a table, their terms (one FTS token each) in a contentless FTS5 table."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(folder / "bm25.sqlite3", check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS docs (n INTEGER PRIMARY KEY, id TEXT UNIQUE, doc TEXT)")
        self.db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS terms USING fts5(t, content='', tokenize=\"unicode61 tokenchars '_'\")"
        )
        self.analyzer = FrenchAnalyzer()

    @staticmethod
    def _term(token: str) -> str:
        return re.sub(r"[^a-z0-9]", lambda m: f"_{ord(m.group()):x}_", token)

    def write_documents(self, documents: list[Document]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            for doc in documents:
                text = " ".join(
                    self._term(t)
                    for part in (doc.content, doc.meta.get("title", ""))
                    for t in self.analyzer.tokens(part)
                )
                cursor = self.db.execute(
                    "INSERT INTO docs (id, doc) VALUES (?, ?)",
                    (doc.id, json.dumps(doc.to_dict(flatten=False), ensure_ascii=False)),
                )
                self.db.execute("INSERT INTO terms (rowid, t) VALUES (?, ?)", (cursor.lastrowid, text))

    def bm25_retrieval(self, query: str, top_k: int = 10) -> list[Document]:
        terms = dict.fromkeys(f'"{self._term(t)}"' for t in self.analyzer.tokens(query))
        if not terms:
            return []
        rows = self.db.execute(
            "SELECT docs.doc, -bm25(terms) FROM terms JOIN docs ON docs.n = terms.rowid WHERE terms MATCH ? "
            "ORDER BY bm25(terms) LIMIT ?",
            (" OR ".join(terms), top_k),
        ).fetchall()
        return [Document.from_dict({**json.loads(doc), "score": score}) for doc, score in rows]

    def count_documents(self) -> int:
        return self.db.execute("SELECT count(*) FROM docs").fetchone()[0]


def open_store(engine: str, folder: Path) -> Any:
    if engine == "fts5":
        return Fts5Store(folder)
    return LocalBM25DocumentStore(path=str(folder / "bm25"))


# ------------------------------------------------------------------------------------------------------ measures
def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_write(engine: str, folder: Path, count: int) -> dict[str, float]:
    documents = chunks(count)
    base_rss = peak_rss_mb()
    store = open_store(engine, folder)
    started = time.perf_counter()
    batch_seconds = []
    for start in range(0, count, BATCH):
        t = time.perf_counter()
        store.write_documents(documents[start : start + BATCH])
        batch_seconds.append(time.perf_counter() - t)
    seconds = time.perf_counter() - started
    return {
        "write_s": seconds,
        "chunks_per_s": count / seconds,
        "last_batch_s": batch_seconds[-1],
        "writer_rss_mb": peak_rss_mb(),
        "writer_rss_above_data_mb": peak_rss_mb() - base_rss,
    }


def measure_read(engine: str, folder: Path, count: int) -> dict[str, float]:
    queries = questions()
    started = time.perf_counter()
    store = open_store(engine, folder)
    assert store.count_documents() == count
    store.bm25_retrieval("chantier", top_k=1)
    opened = time.perf_counter() - started
    times = []
    for query in queries:
        t = time.perf_counter()
        store.bm25_retrieval(query, top_k=10)
        times.append(time.perf_counter() - t)
    times.sort()
    disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return {
        "open_s": opened,
        "query_p50_ms": 1000 * statistics.median(times),
        "query_p95_ms": 1000 * times[int(0.95 * (len(times) - 1))],
        "disk_mb": disk / 1e6,
        "reader_rss_mb": peak_rss_mb(),
    }


def ndcg10(ranked: list[str], relevant: set[str]) -> float:
    import math  # noqa: PLC0415

    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in relevant)
    return dcg / sum(1 / math.log2(i + 2) for i in range(min(len(relevant), 10)))


def measure_quality(engine: str, folder: Path) -> dict[str, float]:
    """nDCG@10 of whole documents (title searched with the text) on the shared sets."""
    scores = {}
    for name, split, limit in (("cnil-faq", "paraphrase", 0), ("cnil-faq", "title", 0), ("piaf-v1.1", "test", 1000)):
        dataset = BENCH / name
        store = open_store(engine, folder / f"{name}-{split}")
        documents = [
            Document(id=d["_id"], content=d["text"], meta={"title": d.get("title", "")})
            for d in read_jsonl(dataset / "corpus.jsonl")
        ]
        for start in range(0, len(documents), BATCH):
            store.write_documents(documents[start : start + BATCH])
        qrels: dict[str, set[str]] = {}
        for line in (dataset / "qrels" / f"{split}.tsv").read_text().splitlines()[1:]:
            query_id, doc_id, _ = line.split("\t")
            qrels.setdefault(query_id, set()).add(doc_id)
        queries = [q for q in read_jsonl(dataset / "queries.jsonl") if q["_id"] in qrels]
        queries = queries[:limit] if limit else queries
        values = [ndcg10([d.id for d in store.bm25_retrieval(q["text"], top_k=10)], qrels[q["_id"]]) for q in queries]
        scores[f"{name}/{split}"] = sum(values) / len(values)
    return scores


def in_child(function: Callable[..., dict[str, float]], *args: Any) -> dict[str, float]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", nargs="+", default=["store", "fts5"], choices=["store", "fts5"])
    parser.add_argument("--chunks", nargs="+", type=int, default=[10000, 100000])
    parser.add_argument("--folder", type=Path, default=Path("/dev/shm/bm25-stores-bench"))  # noqa: S108
    parser.add_argument("--no-quality", action="store_true", help="skip the nDCG@10 rows")
    args = parser.parse_args(argv)

    rows = []
    for count in args.chunks:
        for engine in args.engines:
            folder = args.folder / f"{engine}-{count}"
            shutil.rmtree(folder, ignore_errors=True)
            result = {"engine": engine, "chunks": count}
            result.update(in_child(measure_write, engine, folder, count))
            result.update(in_child(measure_read, engine, folder, count))
            print(json.dumps(result), flush=True)
            rows.append(result)
            shutil.rmtree(folder, ignore_errors=True)
    print(
        "\n| engine | chunks | write chunks/s | last batch s | open + 1st query s | query p50 / p95 ms | disk MB "
        "| RSS writer / reader MB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['engine']} | {r['chunks']:,} | {r['chunks_per_s']:.0f} | {r['last_batch_s']:.2f} "
            f"| {r['open_s']:.2f} | {r['query_p50_ms']:.1f} / {r['query_p95_ms']:.1f} | {r['disk_mb']:.0f} "
            f"| {r['writer_rss_mb']:.0f} / {r['reader_rss_mb']:.0f} |"
        )
    if not args.no_quality:
        print("\n| engine | nDCG@10 cnil-faq/paraphrase | cnil-faq/title | piaf-v1.1/test (1000 q) |")
        print("|---|---|---|---|")
        for engine in args.engines:
            folder = args.folder / f"{engine}-quality"
            shutil.rmtree(folder, ignore_errors=True)
            q = in_child(measure_quality, engine, folder)
            print(f"| {engine} | {' | '.join(f'{v:.4f}' for v in q.values())} |", flush=True)
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
