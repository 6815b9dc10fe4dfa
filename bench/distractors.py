"""
Distractor chunks of real French text, to measure retrieval quality and speed at 10k–1M chunks.

Word salad (shuffled words, random vectors) measures latency only: it is unlike any document, so it drags BM25's
statistics away from real text and never competes with the relevant chunk in the vector space. Here, each distractor
is made of real sentences and sits near a real embedding:
- the pool is the paragraphs of the *other* shared sets (`../shared/bench/*` but the benchmarked one), so no
  distractor is relevant to a benchmarked query;
- the pool's paragraphs are embedded once by the indexing graph's own document embedder (cached under /dev/shm);
- distractor n takes the sentences of a pool paragraph in a shuffled order, with one to three sentences of another,
  and the unit vector of (its paragraph's embedding + 0.3 × the other's + a little noise): a near-duplicate, as the
  versions and copies of an enterprise's documents are.
At 1M chunks each pool paragraph has hundreds of near-duplicates: BM25 statistics and the vector space are crowded
around real French text, which is the hard case for both retrievers.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from haystack import Document

POOL_SIZE = 2000  # paragraphs embedded once (minutes on 2 CPU cores with e5-small)
POOL_CACHE = Path("/dev/shm")  # noqa: S108
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
MAX_WORDS = 180  # a distractor is a chunk: about the size of the indexing graph's chunks


def pool_paragraphs(dataset: Path, size: int = POOL_SIZE, seed: int = 0) -> list[str]:
    """Up to `size` paragraphs of the shared sets beside `dataset`, none of `dataset` itself, in a fixed order."""
    paragraphs: list[str] = []
    for other in sorted(p for p in dataset.parent.iterdir() if p.is_dir() and p.resolve() != dataset.resolve()):
        corpus = other / "corpus.jsonl"
        if not corpus.is_file():
            continue
        with corpus.open(encoding="utf-8") as f:
            for line in f:
                text = json.loads(line).get("text", "")
                words = text.split()
                for start in range(0, len(words), MAX_WORDS):  # long pages give several paragraphs
                    piece = " ".join(words[start : start + MAX_WORDS])
                    if len(piece.split()) >= 20:
                        paragraphs.append(piece)
    if not paragraphs:
        raise SystemExit(f"no other shared set beside {dataset} to draw French distractors from")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(paragraphs))[:size]
    return [paragraphs[i] for i in order]


def pool_embeddings(paragraphs: list[str], embedder: Any) -> np.ndarray:
    """The paragraphs' unit embeddings by the indexing graph's document embedder, cached on /dev/shm."""
    digest = hashlib.sha256(json.dumps([paragraphs, repr(embedder.to_dict())]).encode()).hexdigest()[:16]
    cache = POOL_CACHE / f"rag-bench-pool-{digest}.npy"
    if cache.is_file():
        return np.load(cache)
    print(f"distractors: embedding {len(paragraphs)} pool paragraphs (once, cached in {cache})", flush=True)
    embedded = embedder.run(documents=[Document(content=p) for p in paragraphs])["documents"]
    vectors = np.array([d.embedding for d in embedded], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    np.save(cache, vectors)
    return vectors


def french_distractors(count: int, dataset: Path, embedder: Any, seed: int = 0) -> Iterator[Document]:
    """`count` distractor chunks (see the module's docstring), generated lazily."""
    paragraphs = pool_paragraphs(dataset)
    vectors = pool_embeddings(paragraphs, embedder)
    sentences = [_SENTENCE_END.split(p) for p in paragraphs]
    rng = np.random.default_rng(seed)
    dimension = vectors.shape[1]
    for n in range(count):
        own, other = rng.integers(len(paragraphs), size=2)
        picked = list(sentences[own])
        rng.shuffle(picked)
        extra = rng.choice(sentences[other], size=min(len(sentences[other]), int(rng.integers(1, 4))), replace=False)
        text = " ".join([*picked, *extra])
        vector = vectors[own] + 0.3 * vectors[other] + rng.normal(scale=0.02, size=dimension)
        meta = {"source": f"distractor-{n}.md", "title": f"Document {n}", "has_key_metadata": False}
        yield Document(content=text, meta=meta, embedding=(vector / np.linalg.norm(vector)).tolist())
