"""
The embedded vector store alone: Qdrant Edge (`QdrantEdgeDocumentStore`) against qdrant-client's local mode
(`QdrantDocumentStore(path=...)`, the embedded store before it), on synthetic unit vectors.

    .venv/bin/python bench/vector_store.py --sizes 10000 100000
    .venv/bin/python bench/vector_store.py --sizes 10000 --stores edge-dot edge-cosine local-dot

For each store and size, in fresh child processes (so that RSS and open time are each process's own): write `size`
chunks (384-dimension unit vectors given, a 600-character text, a `file_path` and a `theme`) in batches of 1,000
through `write_documents`; then in a new process open the store (its first `count_documents`), run the queries
(top_k 50, as `retrieval.dense_top_k`; unfiltered, then filtered on `meta.theme`, a third of the chunks) and read the
process's peak RSS and the folder's size. The stores are measured in turn, size after size, on /dev/shm by default.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

DIMENSION = 384
TOP_K = 50
THEMES = ("voirie", "assainissement", "batiment")
STORES = ("edge-dot", "edge-cosine", "local-dot")
THEME_INDEX = [{"field_name": "meta.theme", "field_schema": "keyword"}]


def make_store(kind: str, folder: Path) -> Any:
    """The store (imported beforehand by `import_stores`, so that the open time is the store's own)."""
    from haystack_integrations.document_stores.qdrant import QdrantDocumentStore  # noqa: PLC0415

    from components.document_stores.qdrant_edge import QdrantEdgeDocumentStore  # noqa: PLC0415

    if kind.startswith("edge"):
        similarity = "cosine" if kind.startswith("edge-cosine") else "dot_product"
        indexes = THEME_INDEX if kind.endswith("-idx") else None
        return QdrantEdgeDocumentStore(
            path=str(folder),
            index="bench",
            embedding_dim=DIMENSION,
            similarity=similarity,
            payload_fields_to_index=indexes,
        )
    return QdrantDocumentStore(
        path=str(folder), index="bench", embedding_dim=DIMENSION, similarity="dot_product", progress_bar=False
    )


def unit_vectors(rng: Any, count: int) -> Any:
    vectors = rng.normal(size=(count, DIMENSION)).astype("float32")
    return vectors / (vectors**2).sum(axis=1, keepdims=True) ** 0.5


def write(kind: str, folder: Path, size: int) -> float:
    import numpy as np  # noqa: PLC0415
    from haystack import Document  # noqa: PLC0415

    rng = np.random.default_rng(0)
    store = make_store(kind, folder)
    seconds = 0.0
    for start in range(0, size, 1000):
        count = min(1000, size - start)
        vectors = unit_vectors(rng, count).tolist()
        batch = [
            Document(
                id=f"chunk-{start + n}",
                content=f"Passage {start + n} " + "texte du chantier " * 33,
                meta={"file_path": f"/docs/{(start + n) // 20}.pdf", "theme": THEMES[(start + n) % 3]},
                embedding=vectors[n],
            )
            for n in range(count)
        ]
        started = time.perf_counter()
        store.write_documents(batch)
        seconds += time.perf_counter() - started
    return size / seconds


def query(kind: str, folder: Path, queries: int) -> dict[str, Any]:
    import numpy as np  # noqa: PLC0415

    make_store(kind, folder.with_name("unused"))  # imports only: a store opens its folder at its first use
    started = time.perf_counter()
    store = make_store(kind, folder)
    count = store.count_documents()
    opened = time.perf_counter() - started
    vectors = unit_vectors(np.random.default_rng(1), queries).tolist()
    theme = {"field": "meta.theme", "operator": "==", "value": "voirie"}
    result: dict[str, Any] = {"count": count, "open_ms": 1000 * opened}
    for label, filters in (("query", None), ("filtered", theme)):
        times = []
        for vector in vectors:
            started = time.perf_counter()
            store._query_by_embedding(vector, filters=filters, top_k=TOP_K)
            times.append(time.perf_counter() - started)
        result[label] = times
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def folder_mb(folder: Path) -> float:
    """The space the folder's files take (allocated blocks, as `du`: Qdrant Edge's WAL files are sparse)."""
    return sum(f.stat().st_blocks * 512 for f in folder.rglob("*") if f.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--stores", nargs="+", default=list(STORES), help=f"of {STORES} (and edge-*-idx)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--root", type=Path, default=Path("/dev/shm/rag-bench-vector-store"))  # noqa: S108
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    print(
        "| store | chunks | write chunks/s | open ms | query p50 / p95 ms | filtered p50 / p95 ms | disk MB | RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        for kind in args.stores:
            folder = args.root / f"{kind}-{size}"
            shutil.rmtree(folder, ignore_errors=True)
            with context.Pool(1) as pool:
                rate = pool.apply(write, (kind, folder, size))
            with context.Pool(1) as pool:
                r = pool.apply(query, (kind, folder, args.queries))
            assert r["count"] == size, r["count"]
            q, f = r["query"], r["filtered"]
            print(
                f"| {kind} | {size:,} | {rate:,.0f} | {r['open_ms']:,.0f} "
                f"| {1000 * percentile(q, 50):.2f} / {1000 * percentile(q, 95):.2f} "
                f"| {1000 * percentile(f, 50):.2f} / {1000 * percentile(f, 95):.2f} "
                f"| {folder_mb(folder):,.0f} | {r['rss_mb']:,.0f} |",
                flush=True,
            )
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
